#pragma once
/// Sequence sets and UID sets (RFC 3501 §9 sequence-set): parse any legal form (`*`,
/// reversed ranges `4:2`, overlaps, unordered), hold them normalised (ascending, merged,
/// disjoint closed ranges), and emit them compacted. `*` is resolved by the caller: parse()
/// maps it to `star_value` (e.g. the highest UID or EXISTS). Sets that must never hold `*`
/// (APPENDUID, COPYUID, QRESYNC, VANISHED) are parsed with allow_star = false.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <twinbox/base/result.hpp>

namespace twinbox::imap {

struct Range {
  std::uint32_t lo = 0;  ///< inclusive, >= 1
  std::uint32_t hi = 0;  ///< inclusive, >= lo
  bool operator==(const Range&) const = default;
};

class SeqSet {
 public:
  SeqSet() = default;
  /// Adds one number / a closed range (either order); keeps the set normalised.
  void add(std::uint32_t n) { add(n, n); }
  void add(std::uint32_t a, std::uint32_t b);
  void add(const SeqSet& other);
  /// Removes the numbers of `other`.
  void remove(const SeqSet& other);
  [[nodiscard]] bool contains(std::uint32_t n) const;
  [[nodiscard]] bool empty() const { return ranges_.empty(); }
  /// Number of members (64-bit: 1:4294967295 has 2^32-1 members).
  [[nodiscard]] std::uint64_t size() const;
  [[nodiscard]] const std::vector<Range>& ranges() const { return ranges_; }
  [[nodiscard]] std::optional<std::uint32_t> min() const;
  [[nodiscard]] std::optional<std::uint32_t> max() const;
  /// Every member in ascending order. Callers must bound size() first.
  [[nodiscard]] std::vector<std::uint32_t> to_vector() const;
  /// Ascending compacted text, e.g. "1:3,7,9:12". Empty set gives "".
  [[nodiscard]] std::string to_string() const;
  /// Splits into pieces whose to_string() is at most max_chars long (for command lines
  /// kept under a limit, PROTOCOL.md §3 "Line length"). A single range always fits.
  [[nodiscard]] std::vector<SeqSet> split(std::size_t max_chars) const;

  /// Parses sequence-set text. `*` becomes star_value when allow_star, else it is an error.
  /// Errors name the byte offset and an excerpt. Never throws, never allocates more than
  /// O(input length).
  static Result<SeqSet> parse(std::string_view text, bool allow_star = true,
                              std::uint32_t star_value = 4294967295U);

  static SeqSet from_vector(const std::vector<std::uint32_t>& v);

  bool operator==(const SeqSet&) const = default;

 private:
  std::vector<Range> ranges_;
};

}  // namespace twinbox::imap
