#include <twinbox/imap/token.hpp>

#include <twinbox/imap/flags.hpp>

namespace twinbox::imap {

bool Lexer::eol() {
  std::size_t p = pos_;
  while (p < text_.size() && text_[p] == ' ') ++p;
  if (p < text_.size() && text_[p] == '\r') ++p;
  if (p < text_.size() && text_[p] == '\n') {
    pos_ = p + 1;
    return true;
  }
  return fail("expected end of line");
}

bool Lexer::eat_word(std::string_view word) {
  if (text_.size() - pos_ < word.size()) return false;
  if (!iequals(text_.substr(pos_, word.size()), word)) return false;
  const std::size_t after = pos_ + word.size();
  if (after < text_.size() && chars::is_atom_char(static_cast<unsigned char>(text_[after]))) {
    return false;
  }
  pos_ = after;
  return true;
}

std::string_view Lexer::atom() {
  const std::size_t start = pos_;
  while (pos_ < text_.size() && chars::is_atom_char(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  if (pos_ == start) fail("expected an atom");
  return text_.substr(start, pos_ - start);
}

std::string_view Lexer::astring_atom() {
  const std::size_t start = pos_;
  while (pos_ < text_.size() && chars::is_astring_char(static_cast<unsigned char>(text_[pos_]))) {
    ++pos_;
  }
  if (pos_ == start) fail("expected an atom");
  return text_.substr(start, pos_ - start);
}

std::optional<std::uint64_t> Lexer::number64() {
  const std::size_t start = pos_;
  std::uint64_t n = 0;
  while (pos_ < text_.size() && chars::is_digit(static_cast<unsigned char>(text_[pos_]))) {
    const auto d = static_cast<std::uint64_t>(text_[pos_] - '0');
    if (n > (UINT64_MAX - d) / 10) {
      fail_at(start, "number too large");
      return std::nullopt;
    }
    n = n * 10 + d;
    ++pos_;
  }
  if (pos_ == start) {
    fail("expected a number");
    return std::nullopt;
  }
  return n;
}

std::optional<std::uint32_t> Lexer::number() {
  const std::size_t start = pos_;
  auto n = number64();
  if (!n) return std::nullopt;
  if (*n > UINT32_MAX) {
    fail_at(start, "number exceeds 4294967295");
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(*n);
}

std::optional<std::uint32_t> Lexer::nz_number() {
  const std::size_t start = pos_;
  auto n = number();
  if (n && *n == 0) {
    fail_at(start, "number must not be 0");
    return std::nullopt;
  }
  return n;
}

bool Lexer::quoted(std::string& out) {
  out.clear();
  if (!eat('"')) return fail("expected a quoted string");
  std::size_t run = pos_;
  while (pos_ < text_.size()) {
    const char c = text_[pos_];
    if (c == '"') {
      out.append(text_.data() + run, pos_ - run);
      ++pos_;
      return true;
    }
    if (c == '\\') {
      out.append(text_.data() + run, pos_ - run);
      const char e = peek_at(1);
      if (e != '"' && e != '\\') return fail("bad escape in quoted string (only \\\" and \\\\)");
      out += e;
      pos_ += 2;
      run = pos_;
      continue;
    }
    if (c == '\r' || c == '\n') return fail("line break inside quoted string");
    ++pos_;
  }
  return fail("unterminated quoted string");
}

std::optional<std::uint64_t> Lexer::literal_header(bool* is_literal8) {
  const std::size_t start = pos_;
  const bool l8 = eat('~');
  if (!eat('{')) {
    fail_at(start, "expected a literal");
    return std::nullopt;
  }
  auto n = number64();
  if (!n) return std::nullopt;
  eat('+');  // not legal from a server (RFC 7888 §3), tolerated
  if (!eat('}')) {
    fail("expected '}' after literal size");
    return std::nullopt;
  }
  eat('\r');
  if (!eat('\n')) {
    fail("expected CRLF after literal size");
    return std::nullopt;
  }
  if (is_literal8 != nullptr) *is_literal8 = l8;
  return n;
}

}  // namespace twinbox::imap
