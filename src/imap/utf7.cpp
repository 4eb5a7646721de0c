#include <cstdint>
#include <vector>

#include <twinbox/imap/utf7.hpp>

#include "command_impl.hpp"

namespace twinbox::imap {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Value of a modified-base64 character (RFC 3501 §5.1.3: "," replaces "/"), or -1.
int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == ',') return 63;
  return -1;
}

bool is_direct(std::uint32_t cp) { return cp >= 0x20 && cp <= 0x7e; }

Error utf7_error(std::string_view text, std::size_t pos, std::string_view what) {
  return fail(Errc::Parse, Scope::Mailbox,
              "invalid modified UTF-7 mailbox name: " + std::string(what) + detail::at_offset(text, pos));
}

Error utf8_error(std::string_view text, std::size_t pos, std::string_view what) {
  return fail(Errc::Parse, Scope::Mailbox,
              "mailbox name is not valid UTF-8: " + std::string(what) + detail::at_offset(text, pos));
}

/// Decodes one UTF-8 sequence at `pos` (advancing it); rejects every ill-formed sequence of
/// Unicode §3.9 table 3-7 (overlong, surrogates, > U+10FFFF, truncated).
Result<std::uint32_t> next_code_point(std::string_view s, std::size_t& pos) {
  const std::size_t start = pos;
  auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) {
    ++pos;
    return std::uint32_t{b0};
  }
  std::size_t len = 0;
  std::uint32_t cp = 0;
  std::uint32_t min = 0;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    len = 2, cp = b0 & 0x1fU, min = 0x80;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3, cp = b0 & 0x0fU, min = 0x800;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4, cp = b0 & 0x07U, min = 0x10000;
  } else {
    return utf8_error(s, start, "invalid lead byte");
  }
  if (s.size() - start < len) return utf8_error(s, start, "truncated sequence");
  for (std::size_t i = 1; i < len; ++i) {
    auto b = static_cast<unsigned char>(s[start + i]);
    if ((b & 0xc0) != 0x80) return utf8_error(s, start, "missing continuation byte");
    cp = (cp << 6) | (b & 0x3fU);
  }
  if (cp < min) return utf8_error(s, start, "overlong sequence");
  if (cp >= 0xd800 && cp <= 0xdfff) return utf8_error(s, start, "encoded UTF-16 surrogate");
  if (cp > 0x10ffff) return utf8_error(s, start, "code point above U+10FFFF");
  pos = start + len;
  return cp;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

/// Appends "&<base64 of the UTF-16BE units>-".
void flush_run(std::string& out, const std::vector<std::uint16_t>& units) {
  out += '&';
  std::uint32_t bits = 0;
  int nbits = 0;
  for (std::uint16_t u : units) {
    bits = (bits << 16) | u;
    nbits += 16;
    while (nbits >= 6) {
      nbits -= 6;
      out += kAlphabet[(bits >> nbits) & 0x3f];
    }
    bits &= (1U << nbits) - 1;
  }
  if (nbits > 0) out += kAlphabet[(bits << (6 - nbits)) & 0x3f];
  out += '-';
}

/// Decodes the base64 run text[begin, end) into UTF-8; `end` points at the closing "-".
Status decode_run(std::string_view text, std::size_t begin, std::size_t end, std::string& out) {
  std::uint32_t bits = 0;
  int nbits = 0;
  std::uint32_t high = 0;  // pending high surrogate, 0 if none
  std::size_t high_pos = 0;
  for (std::size_t i = begin; i < end; ++i) {
    int v = b64_value(static_cast<unsigned char>(text[i]));
    if (v < 0) return utf7_error(text, i, "character outside the modified base64 alphabet");
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    nbits += 6;
    if (nbits < 16) continue;
    nbits -= 16;
    std::uint32_t unit = (bits >> nbits) & 0xffff;
    bits &= (1U << nbits) - 1;
    if (high != 0) {
      if (unit < 0xdc00 || unit > 0xdfff) return utf7_error(text, high_pos, "unpaired high surrogate");
      append_utf8(out, 0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00));
      high = 0;
    } else if (unit >= 0xd800 && unit <= 0xdbff) {
      high = unit;
      high_pos = i;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      return utf7_error(text, i, "unpaired low surrogate");
    } else if (is_direct(unit)) {
      return utf7_error(text, i, "printable US-ASCII must not be base64-encoded");
    } else {
      append_utf8(out, unit);
    }
  }
  if (high != 0) return utf7_error(text, high_pos, "unpaired high surrogate at the end of the run");
  if (nbits >= 6) return utf7_error(text, end - 1, "stray base64 character (partial UTF-16 unit)");
  if (bits != 0) return utf7_error(text, end - 1, "non-zero padding bits");
  return {};
}

}  // namespace

Result<std::string> utf7_encode(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size() + 8);
  std::vector<std::uint16_t> run;
  std::size_t pos = 0;
  while (pos < utf8.size()) {
    auto cp = next_code_point(utf8, pos);
    if (!cp) return cp.error();
    if (is_direct(*cp)) {
      if (!run.empty()) {
        flush_run(out, run);
        run.clear();
      }
      out += static_cast<char>(*cp);
      if (*cp == '&') out += '-';
    } else if (*cp >= 0x10000) {
      std::uint32_t v = *cp - 0x10000;
      run.push_back(static_cast<std::uint16_t>(0xd800 + (v >> 10)));
      run.push_back(static_cast<std::uint16_t>(0xdc00 + (v & 0x3ff)));
    } else {
      run.push_back(static_cast<std::uint16_t>(*cp));
    }
  }
  if (!run.empty()) flush_run(out, run);
  return out;
}

Result<std::string> utf7_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool after_run = false;  // the previous token was a base64 run
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto c = static_cast<unsigned char>(text[pos]);
    if (!is_direct(c)) return utf7_error(text, pos, "byte outside printable US-ASCII");
    if (c != '&') {
      out += static_cast<char>(c);
      after_run = false;
      ++pos;
      continue;
    }
    std::size_t end = text.find('-', pos + 1);
    if (end == std::string_view::npos) return utf7_error(text, pos, "'&' shift without closing '-'");
    if (end == pos + 1) {
      out += '&';
      after_run = false;
      pos = end + 1;
      continue;
    }
    if (after_run) return utf7_error(text, pos, "redundant shift: adjacent base64 runs must be merged");
    if (auto st = decode_run(text, pos + 1, end, out); !st) return st.error();
    after_run = true;
    pos = end + 1;
  }
  return out;
}

bool is_valid_utf7(std::string_view mutf7) { return utf7_decode(mutf7).has_value(); }

}  // namespace twinbox::imap
