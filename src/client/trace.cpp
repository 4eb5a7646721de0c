#include "trace.hpp"

#include <optional>

#include <twinbox/base/ids.hpp>

namespace twinbox::client::detail {

namespace {

/// If `line` ends with "{n}" or "{n+}" / "~{n}", the literal size n.
std::optional<std::uint64_t> trailing_literal(std::string_view line) {
  if (line.empty() || line.back() != '}') return std::nullopt;
  std::size_t open = line.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  std::string_view digits = line.substr(open + 1, line.size() - open - 2);
  if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
  return parse_number64(digits);
}

}  // namespace

std::string shorten(std::string_view line) {
  if (line.size() <= kMaxTraceLine) return std::string(line);
  std::string s(line.substr(0, kMaxTraceLine));
  s += "… (" + std::to_string(line.size()) + " bytes)";
  return s;
}

void InputTracer::reset() {
  line_.clear();
  line_bytes_ = 0;
  literal_left_ = 0;
}

void InputTracer::end_line(const TraceFn& fn) {
  std::string out = "S: " + line_;
  if (line_bytes_ > kMaxTraceLine) out += "… (" + std::to_string(line_bytes_) + " bytes)";
  fn(out);
  line_.clear();
  line_bytes_ = 0;
}

void InputTracer::feed(std::string_view bytes, const TraceFn& fn) {
  if (!fn) return;
  std::size_t i = 0;
  while (i < bytes.size()) {
    if (literal_left_ > 0) {
      std::uint64_t take = std::min<std::uint64_t>(literal_left_, bytes.size() - i);
      literal_left_ -= take;
      i += static_cast<std::size_t>(take);
      continue;
    }
    char c = bytes[i++];
    if (c == '\n') {
      if (!line_.empty() && line_.back() == '\r') line_.pop_back();
      if (auto n = trailing_literal(line_); n && *n > 0) {
        line_ += " {" + std::to_string(*n) + " bytes} ";
        literal_left_ = *n;
        continue;
      }
      end_line(fn);
      continue;
    }
    ++line_bytes_;
    if (line_.size() < kMaxTraceLine) line_ += c;
  }
}

}  // namespace twinbox::client::detail
