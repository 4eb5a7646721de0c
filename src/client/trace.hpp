#pragma once
/// Protocol trace helpers (--debug): server bytes split into lines with literal payloads
/// summarised as "{n bytes}", long lines shortened.

#include <cstdint>
#include <string>
#include <string_view>

#include <twinbox/client/types.hpp>

namespace twinbox::client::detail {

/// Longest traced line; longer ones end with "… (n bytes)".
inline constexpr std::size_t kMaxTraceLine = 2048;

class InputTracer {
 public:
  /// Feeds raw bytes read from the server; calls fn("S: …") per complete line.
  void feed(std::string_view bytes, const TraceFn& fn);
  void reset();

 private:
  void end_line(const TraceFn& fn);
  std::string line_;
  std::uint64_t line_bytes_ = 0;
  std::uint64_t literal_left_ = 0;
};

/// Shortens `line` to kMaxTraceLine.
std::string shorten(std::string_view line);

}  // namespace twinbox::client::detail
