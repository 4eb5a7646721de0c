#pragma once
/// Character classes and a cursor over one complete IMAP line with its literals inline
/// (RFC 3501 §9 formal syntax). Used by the response parser; usable by other parsers of
/// complete buffers. The Lexer never reads past its text, never throws, never allocates
/// except into the std::string the caller passes; on failure it records the position and a
/// short reason (error_pos(), error_what()) and returns false / nullopt.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace twinbox::imap {

namespace chars {
/// CTL = %x00-1F / %x7F.
constexpr bool is_ctl(unsigned char c) { return c < 0x20 || c == 0x7f; }
/// ATOM-CHAR: any CHAR except atom-specials `( ) { SP CTL % * " \ ]` (8-bit excluded).
constexpr bool is_atom_char(unsigned char c) {
  return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' && c != '%' && c != '*' &&
         c != '"' && c != '\\' && c != ']';
}
/// ASTRING-CHAR = ATOM-CHAR / resp-specials (`]`).
constexpr bool is_astring_char(unsigned char c) { return is_atom_char(c) || c == ']'; }
/// Tag characters: ASTRING-CHAR except `+`.
constexpr bool is_tag_char(unsigned char c) { return is_astring_char(c) && c != '+'; }
constexpr bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
constexpr char to_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }
}  // namespace chars

class Lexer {
 public:
  explicit Lexer(std::string_view text, std::size_t pos = 0) : text_(text), pos_(pos) {}

  [[nodiscard]] std::size_t pos() const { return pos_; }
  void set_pos(std::size_t p) { pos_ = p; }
  [[nodiscard]] std::string_view text() const { return text_; }
  [[nodiscard]] bool at_end() const { return pos_ >= text_.size(); }
  /// Current byte, or 0 at the end.
  [[nodiscard]] char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  [[nodiscard]] char peek_at(std::size_t ahead) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }
  bool eat(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  /// Consumes `c` or fails with `what`.
  bool expect(char c, const char* what) { return eat(c) || fail(what); }
  bool sp() { return eat(' ') || fail("expected a space"); }
  /// True at CRLF or LF (not consumed).
  [[nodiscard]] bool at_eol() const {
    char c = peek();
    return c == '\n' || (c == '\r' && peek_at(1) == '\n');
  }
  /// Skips trailing spaces (Office 365 sends one before CRLF) and consumes the line end.
  bool eol();
  /// True if the next word equals `word` (ASCII, ignoring case) and is followed by a
  /// non-atom byte; consumes it then.
  bool eat_word(std::string_view word);

  /// 1*ATOM-CHAR; empty view (and error) if none.
  std::string_view atom();
  /// 1*ASTRING-CHAR (atom that may contain `]`).
  std::string_view astring_atom();
  /// Digits as uint32 (0 … 4294967295); nullopt on no digits or overflow.
  std::optional<std::uint32_t> number();
  /// nz-number (1 … 4294967295).
  std::optional<std::uint32_t> nz_number();
  /// Digits as uint64 (0 … 2^64-1).
  std::optional<std::uint64_t> number64();

  /// quoted = DQUOTE *QUOTED-CHAR DQUOTE with `\"` and `\\` escapes; appends the unescaped
  /// content to `out` (cleared first). No CR/LF allowed.
  bool quoted(std::string& out);
  /// Parses a literal header `{n}` / `~{n}` plus CRLF; returns n and leaves pos at the first
  /// payload octet. Does not check the payload is present.
  std::optional<std::uint64_t> literal_header(bool* is_literal8 = nullptr);

  [[nodiscard]] std::size_t error_pos() const { return error_pos_; }
  [[nodiscard]] const char* error_what() const { return error_what_; }
  /// Records an error at the current position (first error wins) and returns false.
  bool fail(const char* what) { return fail_at(pos_, what); }
  bool fail_at(std::size_t pos, const char* what) {
    if (error_what_ == nullptr) {
      error_pos_ = pos;
      error_what_ = what;
    }
    return false;
  }
  [[nodiscard]] bool failed() const { return error_what_ != nullptr; }
  void clear_error() { error_what_ = nullptr; }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t error_pos_ = 0;
  const char* error_what_ = nullptr;
};

}  // namespace twinbox::imap
