#include "wire.hpp"

#include <cctype>

namespace twinbox::server {
namespace {

std::string excerpt_at(std::string_view s, std::size_t offset) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = " at offset " + std::to_string(offset) + " near '";
  std::size_t end = offset + 24 < s.size() ? offset + 24 : s.size();
  for (std::size_t i = offset < s.size() ? offset : s.size(); i < end; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (end < s.size()) out += "...";
  out += "'";
  return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

bool is_atom_char(unsigned char c) {
  if (c >= 0x80 || c < 0x20 || c == 0x7f) return false;
  switch (c) {
    case '(': case ')': case '{': case ' ': case '%': case '*': case '"': case '\\': case ']':
      return false;
    default:
      return true;
  }
}

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::optional<LiteralMarker> trailing_literal(std::string_view line) {
  if (line.empty() || line.back() != '}') return std::nullopt;
  std::size_t open = line.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  std::string_view inner = line.substr(open + 1, line.size() - open - 2);
  LiteralMarker m;
  if (!inner.empty() && inner.back() == '+') {
    m.plus = true;
    inner.remove_suffix(1);
  }
  if (inner.empty() || inner.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : inner) {
    if (!is_digit(c)) return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  m.size = v;
  return m;
}

void CommandFramer::reset() {
  scan_pos_ = 0;
  literal_end_ = 0;
  continuation_sent_ = false;
  consumed_ = 0;
  literal_size_ = 0;
  literal_plus_ = false;
  nonsync_refused_ = false;
}

CommandFramer::State CommandFramer::scan(std::string_view buf) {
  for (;;) {
    if (literal_end_ > 0) {
      if (buf.size() < literal_end_) return State::NeedMore;
      scan_pos_ = literal_end_;
      literal_end_ = 0;
      continuation_sent_ = false;
    }
    std::size_t nl = buf.find('\n', scan_pos_);
    if (nl == std::string_view::npos) {
      if (buf.size() - scan_pos_ > limits_.max_line) return State::LineTooLong;
      return State::NeedMore;
    }
    if (nl - scan_pos_ > limits_.max_line) return State::LineTooLong;
    std::string_view line = buf.substr(scan_pos_, nl - scan_pos_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto lit = trailing_literal(line);
    if (!lit) {
      consumed_ = nl + 1;
      return State::Complete;
    }
    if (lit->size > limits_.max_literal) {
      literal_size_ = lit->size;
      literal_plus_ = lit->plus;
      consumed_ = nl + 1;
      return State::LiteralTooBig;
    }
    if (lit->plus && !limits_.non_sync_literals) nonsync_refused_ = true;
    literal_end_ = nl + 1 + static_cast<std::size_t>(lit->size);
    if (!lit->plus && !continuation_sent_ && buf.size() < literal_end_) {
      continuation_sent_ = true;
      return State::Continuation;
    }
  }
}

bool Cursor::fail(std::string_view what) {
  if (error_.empty()) error_ = std::string(what) + excerpt_at(s_, i_);
  return false;
}

bool Cursor::eat(char c) {
  if (!at_end() && s_[i_] == c) {
    ++i_;
    return true;
  }
  return false;
}

bool Cursor::eat_word(std::string_view word) {
  if (s_.size() - i_ < word.size()) return false;
  if (!iequals(s_.substr(i_, word.size()), word)) return false;
  std::size_t after = i_ + word.size();
  if (after < s_.size() && is_atom_char(static_cast<unsigned char>(s_[after])) &&
      is_atom_char(static_cast<unsigned char>(word.back())))
    return false;
  i_ = after;
  return true;
}

bool Cursor::sp() {
  if (eat(' ')) return true;
  return fail("expected a space");
}

std::optional<std::string_view> Cursor::atom(bool allow_bracket) {
  std::size_t start = i_;
  while (!at_end()) {
    auto c = static_cast<unsigned char>(s_[i_]);
    if (is_atom_char(c) || (allow_bracket && c == ']')) {
      ++i_;
    } else {
      break;
    }
  }
  if (i_ == start) {
    fail("expected an atom");
    return std::nullopt;
  }
  return s_.substr(start, i_ - start);
}

std::optional<std::string_view> Cursor::tag() {
  std::size_t start = i_;
  while (!at_end()) {
    auto c = static_cast<unsigned char>(s_[i_]);
    if ((is_atom_char(c) || c == ']') && c != '+') {
      ++i_;
    } else {
      break;
    }
  }
  if (i_ == start) {
    fail("expected a tag");
    return std::nullopt;
  }
  return s_.substr(start, i_ - start);
}

std::optional<std::string> Cursor::quoted() {
  std::size_t start = i_;
  ++i_;  // opening quote
  std::string out;
  while (!at_end()) {
    char c = s_[i_];
    if (c == '"') {
      ++i_;
      return out;
    }
    if (c == '\r' || c == '\n') break;
    if (c == '\\') {
      ++i_;
      if (at_end() || (s_[i_] != '"' && s_[i_] != '\\')) {
        fail("invalid escape in quoted string (only \\\" and \\\\ are allowed)");
        return std::nullopt;
      }
      c = s_[i_];
    }
    out += c;
    ++i_;
  }
  i_ = start;
  fail("unterminated quoted string");
  return std::nullopt;
}

std::optional<std::string> Cursor::literal() {
  std::size_t start = i_;
  ++i_;  // '{'
  std::uint64_t n = 0;
  std::size_t digits = 0;
  while (!at_end() && is_digit(s_[i_]) && digits < 19) {
    n = n * 10 + static_cast<std::uint64_t>(s_[i_] - '0');
    ++i_;
    ++digits;
  }
  eat('+');
  if (digits == 0 || !eat('}') || !eat('\r') || !eat('\n')) {
    i_ = start;
    fail("malformed literal (expected {n}CRLF)");
    return std::nullopt;
  }
  if (n > s_.size() - i_) {
    i_ = start;
    fail("literal is longer than the data sent");
    return std::nullopt;
  }
  std::string out(s_.substr(i_, static_cast<std::size_t>(n)));
  i_ += static_cast<std::size_t>(n);
  return out;
}

std::optional<std::string> Cursor::string() {
  if (peek() == '"') return quoted();
  if (peek() == '{') return literal();
  fail("expected a string");
  return std::nullopt;
}

std::optional<std::string> Cursor::astring() {
  if (peek() == '"' || peek() == '{') return string();
  auto a = atom(true);
  if (!a) return std::nullopt;
  return std::string(*a);
}

std::optional<std::string> Cursor::list_mailbox() {
  if (peek() == '"' || peek() == '{') return string();
  std::size_t start = i_;
  while (!at_end()) {
    auto c = static_cast<unsigned char>(s_[i_]);
    if (is_atom_char(c) || c == ']' || c == '%' || c == '*') {
      ++i_;
    } else {
      break;
    }
  }
  if (i_ == start) {
    fail("expected a mailbox pattern");
    return std::nullopt;
  }
  return std::string(s_.substr(start, i_ - start));
}

std::optional<std::optional<std::string>> Cursor::nstring() {
  if (eat_word("NIL")) return std::optional<std::string>();
  auto s = string();
  if (!s) return std::nullopt;
  return std::optional<std::string>(std::move(*s));
}

std::optional<std::uint64_t> Cursor::number64() {
  std::size_t start = i_;
  std::uint64_t v = 0;
  while (!at_end() && is_digit(s_[i_])) {
    auto d = static_cast<std::uint64_t>(s_[i_] - '0');
    if (v > (UINT64_MAX - d) / 10) {
      fail("number too large");
      return std::nullopt;
    }
    v = v * 10 + d;
    ++i_;
  }
  if (i_ == start) {
    fail("expected a number");
    return std::nullopt;
  }
  return v;
}

std::optional<std::uint32_t> Cursor::number() {
  std::size_t start = i_;
  auto v = number64();
  if (!v) return std::nullopt;
  if (*v > 4294967295ULL) {
    i_ = start;
    fail("number too large");
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(*v);
}

std::optional<std::uint32_t> Cursor::nz_number() {
  std::size_t start = i_;
  auto v = number();
  if (!v) return std::nullopt;
  if (*v == 0) {
    i_ = start;
    fail("expected a non-zero number");
    return std::nullopt;
  }
  return v;
}

std::optional<std::string_view> Cursor::seqset_text() {
  std::size_t start = i_;
  while (!at_end()) {
    char c = s_[i_];
    if (is_digit(c) || c == ':' || c == ',' || c == '*' || c == '$') {
      ++i_;
    } else {
      break;
    }
  }
  if (i_ == start) {
    fail("expected a sequence set");
    return std::nullopt;
  }
  return s_.substr(start, i_ - start);
}

std::optional<std::string> Cursor::flag(bool allow_star) {
  if (eat('\\')) {
    if (allow_star && eat('*')) return std::string("\\*");
    auto a = atom();
    if (!a) return std::nullopt;
    return "\\" + std::string(*a);
  }
  auto a = atom();
  if (!a) return std::nullopt;
  return std::string(*a);
}

bool Cursor::end() {
  if (at_end()) return true;
  return fail("unexpected text after the command");
}

void write_literal(std::string& out, std::string_view s) {
  out += '{';
  out += std::to_string(s.size());
  out += "}\r\n";
  out += s;
}

void write_string(std::string& out, std::string_view s) {
  bool quotable = s.size() < 1024;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7f) {
      quotable = false;
      break;
    }
  }
  if (!quotable) {
    write_literal(out, s);
    return;
  }
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

void write_astring(std::string& out, std::string_view s) {
  bool atom = !s.empty() && !iequals(s, "NIL");
  for (char c : s) {
    if (!is_atom_char(static_cast<unsigned char>(c)) && c != ']') {
      atom = false;
      break;
    }
  }
  if (atom) {
    out += s;
  } else {
    write_string(out, s);
  }
}

void write_mailbox(std::string& out, std::string_view s) { write_astring(out, s); }

void write_nstring(std::string& out, const std::optional<std::string>& s) {
  if (!s) {
    out += "NIL";
  } else {
    write_string(out, *s);
  }
}

}  // namespace twinbox::server
