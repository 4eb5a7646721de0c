#pragma once
/// Private helpers shared by the command side of the imap layer (seqset, utf7, serialize,
/// command): RFC 3501 §9 character classes and error excerpts.

#include <cstddef>
#include <string>
#include <string_view>

namespace twinbox::imap::detail {

/// CTL = %x00-1F / %x7F (RFC 3501 §9, via RFC 2234).
constexpr bool is_ctl(unsigned char c) { return c < 0x20 || c == 0x7f; }

/// ATOM-CHAR = <any CHAR except atom-specials>; atom-specials = "(" / ")" / "{" / SP / CTL /
/// list-wildcards ("%" / "*") / quoted-specials ('"' / "\") / resp-specials ("]"). CHAR is
/// 7-bit, so 8-bit bytes are not ATOM-CHARs (RFC 3501 §9).
constexpr bool is_atom_char(unsigned char c) {
  if (c >= 0x80 || is_ctl(c)) return false;
  switch (c) {
    case '(': case ')': case '{': case ' ': case '%': case '*': case '"': case '\\': case ']':
      return false;
    default:
      return true;
  }
}

/// ASTRING-CHAR = ATOM-CHAR / resp-specials (RFC 3501 §9).
constexpr bool is_astring_char(unsigned char c) { return c == ']' || is_atom_char(c); }

/// TEXT-CHAR-like printable 7-bit byte allowed inside a quoted string (no CR, LF, NUL or
/// other CTL; RFC 3501 §4.3 forbids CR/LF, and we keep other controls out of quoted form).
constexpr bool is_quotable(unsigned char c) { return c >= 0x20 && c < 0x7f; }

constexpr bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/// " at offset N near '<excerpt>'" for parse errors: up to 24 bytes from the offset, with
/// control and 8-bit bytes shown as \xNN so the message stays printable.
inline std::string at_offset(std::string_view text, std::size_t offset) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = " at offset " + std::to_string(offset) + " near '";
  std::size_t end = offset + 24 < text.size() ? offset + 24 : text.size();
  for (std::size_t i = offset < text.size() ? offset : text.size(); i < end; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (end < text.size()) out += "...";
  out += "'";
  return out;
}

}  // namespace twinbox::imap::detail
