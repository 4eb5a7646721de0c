// MIME parsing (RFC 2045/2046/2231) and the text helpers of mime.hpp.
#include "mime.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>

namespace twinbox::server {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool is_wsp(char c) { return c == ' ' || c == '\t'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

/// End of the line starting at `pos` (index of '\n' or `limit`), and the start of the next.
std::pair<std::size_t, std::size_t> line_at(std::string_view b, std::size_t pos, std::size_t limit) {
  // Search only up to `limit`: an unterminated last line must not scan the rest of the
  // message once per part (that would make nesting quadratic).
  std::size_t nl = b.substr(0, limit).find('\n', pos);
  if (nl == std::string_view::npos) return {limit, limit};
  return {nl, nl + 1};
}

/// Length of the content of a line [pos, le) without its trailing CR.
std::size_t content_end(std::string_view b, std::size_t pos, std::size_t le) {
  if (le > pos && b[le - 1] == '\r') return le - 1;
  return le;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

Span scan_header(std::string_view b, std::size_t start, std::size_t limit,
                 std::vector<HeaderField>& out, std::size_t max_fields) {
  limit = std::min(limit, b.size());
  start = std::min(start, limit);
  std::size_t pos = start;
  bool in_field = false;  // the last line extended a field that may be continued
  while (pos < limit) {
    auto [le, next] = line_at(b, pos, limit);
    std::size_t ce = content_end(b, pos, le);
    if (ce == pos) return Span{start, next - start};  // the empty line ends the header
    if (is_wsp(b[pos])) {
      if (in_field) {
        HeaderField& f = out.back();
        f.value.length = next - f.value.offset;
        f.whole.length = next - f.whole.offset;
      }
      pos = next;
      continue;
    }
    in_field = false;
    std::size_t colon = b.substr(0, ce).find(':', pos);  // within this line only
    if (colon != std::string_view::npos) {
      std::size_t name_end = colon;
      while (name_end > pos && is_wsp(b[name_end - 1])) --name_end;
      bool ok = name_end > pos;
      for (std::size_t i = pos; ok && i < name_end; ++i) {
        auto c = static_cast<unsigned char>(b[i]);
        ok = c > 32 && c < 127;
      }
      if (ok && out.size() < max_fields) {
        out.push_back(HeaderField{Span{pos, name_end - pos}, Span{colon + 1, next - colon - 1},
                                  Span{pos, next - pos}});
        in_field = true;
      }
    }
    pos = next;
  }
  return Span{start, limit - start};
}

std::string unfold(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\r' && i + 1 < value.size() && value[i + 1] == '\n') continue;
    if (c == '\n') continue;
    out += c;
  }
  return std::string(trim(out));
}

// ---------------------------------------------------------------------------------------------
// Content-Type style values (RFC 2045 §5.1) with RFC 2231 continuations.

namespace {

bool is_tspecial(char c) {
  switch (c) {
    case '(': case ')': case '<': case '>': case '@': case ',': case ';': case ':': case '\\':
    case '"': case '/': case '[': case ']': case '?': case '=':
      return true;
    default:
      return false;
  }
}

struct ValueLexer {
  std::string_view s;
  std::size_t i = 0;

  // CFWS: white space and (nested) comments; nesting is a counter, not recursion.
  void skip_cfws() {
    while (i < s.size()) {
      if (is_space(s[i])) {
        ++i;
      } else if (s[i] == '(') {
        int depth = 0;
        while (i < s.size()) {
          char c = s[i++];
          if (c == '\\' && i < s.size()) {
            ++i;
          } else if (c == '(') {
            ++depth;
          } else if (c == ')' && --depth == 0) {
            break;
          }
        }
      } else {
        return;
      }
    }
  }
  std::string token() {
    std::size_t b = i;
    while (i < s.size() && !is_space(s[i]) && !is_tspecial(s[i]) &&
           static_cast<unsigned char>(s[i]) >= 32) {
      ++i;
    }
    return std::string(s.substr(b, i - b));
  }
  std::string quoted() {  // at '"'
    std::string out;
    ++i;
    while (i < s.size() && s[i] != '"') {
      if (s[i] == '\\' && i + 1 < s.size()) ++i;
      out += s[i++];
    }
    if (i < s.size()) ++i;
    return out;
  }
  bool eat(char c) {
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
};

struct RawParam {
  std::string base;
  int section = -1;  // -1: no continuation number
  bool extended = false;
  std::string value;
};

RawParam split_param_name(std::string name, std::string value) {
  RawParam p;
  p.value = std::move(value);
  std::size_t star = name.find('*');
  if (star == std::string::npos) {
    p.base = std::move(name);
    return p;
  }
  p.base = name.substr(0, star);
  std::string_view rest = std::string_view(name).substr(star + 1);
  if (!rest.empty() && rest.back() == '*') {
    p.extended = true;
    rest.remove_suffix(1);
  } else if (rest.empty()) {
    p.extended = true;  // "name*"
  }
  if (!rest.empty()) {
    int n = 0;
    bool digits = rest.size() <= 4;
    for (char c : rest) {  // at most 4 digits: no overflow
      if (!digits) break;
      if (c < '0' || c > '9') digits = false;
      else n = n * 10 + (c - '0');
    }
    if (!digits) {  // not a 2231 name after all: keep it whole
      p.base = name;
      p.extended = false;
      return p;
    }
    p.section = n;
  }
  return p;
}

std::vector<MimeParam> join_continuations(std::vector<RawParam> raw) {
  std::vector<MimeParam> out;
  std::vector<bool> used(raw.size(), false);
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (used[i]) continue;
    if (raw[i].section < 0 && !raw[i].extended) {
      out.push_back({raw[i].base, raw[i].value});
      used[i] = true;
      continue;
    }
    std::vector<std::size_t> group;
    for (std::size_t j = i; j < raw.size(); ++j) {
      if (!used[j] && (raw[j].section >= 0 || raw[j].extended) && iequals(raw[j].base, raw[i].base)) {
        group.push_back(j);
        used[j] = true;
      }
    }
    std::stable_sort(group.begin(), group.end(),
                     [&](std::size_t a, std::size_t b) { return raw[a].section < raw[b].section; });
    bool extended = false;  // any extended section makes the joined value `name*`
    std::string value;
    for (std::size_t j : group) {
      value += raw[j].value;
      extended = extended || raw[j].extended;
    }
    out.push_back({extended ? raw[i].base + "*" : raw[i].base, std::move(value)});
  }
  return out;
}

}  // namespace

ParsedContentValue parse_content_value(std::string_view value, bool has_subtype) {
  ParsedContentValue out;
  ValueLexer lx{value};
  lx.skip_cfws();
  out.type = lx.token();
  lx.skip_cfws();
  if (has_subtype && lx.eat('/')) {
    lx.skip_cfws();
    out.subtype = lx.token();
  }
  std::vector<RawParam> raw;
  while (lx.i < value.size() && raw.size() < 256) {
    // Skip to the next ';' (tolerates junk between parameters).
    while (lx.i < value.size() && value[lx.i] != ';') {
      if (value[lx.i] == '"') {
        lx.quoted();
      } else {
        ++lx.i;
      }
    }
    if (!lx.eat(';')) break;
    lx.skip_cfws();
    std::string name = lx.token();
    lx.skip_cfws();
    if (name.empty() || !lx.eat('=')) continue;
    lx.skip_cfws();
    std::string v;
    if (lx.i < value.size() && value[lx.i] == '"') {
      v = lx.quoted();
    } else {
      std::size_t b = lx.i;
      while (lx.i < value.size() && value[lx.i] != ';') ++lx.i;
      v = std::string(trim(value.substr(b, lx.i - b)));
    }
    raw.push_back(split_param_name(std::move(name), std::move(v)));
  }
  out.params = join_continuations(std::move(raw));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Transfer encodings.

namespace {
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}
int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
}  // namespace

std::string decode_base64(std::string_view in) {
  std::string out;
  out.reserve(in.size() / 4 * 3);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    int v = b64_value(c);
    if (v < 0) continue;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string decode_quoted_printable(std::string_view in, bool q_encoding) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (q_encoding && c == '_') {
      out += ' ';
    } else if (c == '=') {
      if (i + 2 < in.size() && hex_value(in[i + 1]) >= 0 && hex_value(in[i + 2]) >= 0) {
        out += static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2]));
        i += 2;
        continue;
      }
      // Soft line break: "=" followed by optional white space and a line end.
      std::size_t j = i + 1;
      while (j < in.size() && is_wsp(in[j])) ++j;
      if (j < in.size() && in[j] == '\r' && j + 1 < in.size() && in[j + 1] == '\n') {
        i = j + 1;
      } else if (j < in.size() && in[j] == '\n') {
        i = j;
      } else if (j == in.size()) {
        i = j;
      } else {
        out += c;
      }
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> decode_transfer(std::string_view body, std::string_view encoding) {
  std::string_view e = trim(encoding);
  if (e.empty() || iequals(e, "7bit") || iequals(e, "8bit") || iequals(e, "binary")) {
    return std::string(body);
  }
  if (iequals(e, "base64")) return decode_base64(body);
  if (iequals(e, "quoted-printable")) return decode_quoted_printable(body);
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Charsets and case folding.

namespace {

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// windows-1252 0x80-0x9F (0 = undefined, kept as the C1 control).
constexpr std::array<std::uint16_t, 32> kCp1252 = {
    0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0, 0x017D, 0, 0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178};

std::uint32_t latin9(std::uint8_t c) {
  switch (c) {
    case 0xA4: return 0x20AC;
    case 0xA6: return 0x0160;
    case 0xA8: return 0x0161;
    case 0xB4: return 0x017D;
    case 0xB8: return 0x017E;
    case 0xBC: return 0x0152;
    case 0xBD: return 0x0153;
    case 0xBE: return 0x0178;
    default: return c;
  }
}

/// Decodes one UTF-8 sequence at s[i]; returns the code point and advances i, or returns
/// 0xFFFFFFFF and advances by one byte for an invalid sequence.
std::uint32_t next_cp(std::string_view s, std::size_t& i) {
  auto c = static_cast<std::uint8_t>(s[i]);
  int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
  if (n == 0) {
    ++i;
    return c;
  }
  if (n < 0 || i + static_cast<std::size_t>(n) >= s.size()) {
    ++i;
    return 0xFFFFFFFF;
  }
  std::uint32_t cp = n == 1 ? (c & 0x1Fu) : n == 2 ? (c & 0x0Fu) : (c & 0x07u);
  for (int k = 1; k <= n; ++k) {
    auto cc = static_cast<std::uint8_t>(s[i + static_cast<std::size_t>(k)]);
    if ((cc & 0xC0) != 0x80) {
      ++i;
      return 0xFFFFFFFF;
    }
    cp = (cp << 6) | (cc & 0x3Fu);
  }
  i += static_cast<std::size_t>(n) + 1;
  return cp;
}

std::uint32_t fold_cp(std::uint32_t cp) {
  if (cp >= 'A' && cp <= 'Z') return cp + 32;
  if (cp < 0xC0) return cp;
  if (cp <= 0xDE) return cp == 0xD7 ? cp : cp + 32;
  if (cp >= 0x100 && cp <= 0x137) return cp | 1;
  if (cp >= 0x139 && cp <= 0x148) return (cp & 1) ? cp + 1 : cp;
  if (cp >= 0x14A && cp <= 0x177) return cp | 1;
  if (cp == 0x178) return 0xFF;
  if (cp >= 0x179 && cp <= 0x17E) return (cp & 1) ? cp + 1 : cp;
  if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2) return cp + 32;
  if (cp >= 0x410 && cp <= 0x42F) return cp + 32;
  if (cp >= 0x400 && cp <= 0x40F) return cp + 80;
  return cp;
}

}  // namespace

std::string to_utf8(std::string_view text, std::string_view charset) {
  std::string_view cs = trim(charset);
  bool latin1 = iequals(cs, "iso-8859-1") || iequals(cs, "iso8859-1") || iequals(cs, "latin1") ||
                iequals(cs, "iso_8859-1") || iequals(cs, "l1");
  bool cp1252 = iequals(cs, "windows-1252") || iequals(cs, "cp1252");
  bool l9 = iequals(cs, "iso-8859-15") || iequals(cs, "latin-9") || iequals(cs, "latin9");
  if (!latin1 && !cp1252 && !l9) return std::string(text);
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  for (char ch : text) {
    auto c = static_cast<std::uint8_t>(ch);
    std::uint32_t cp = c;
    if (cp1252 && c >= 0x80 && c < 0xA0 && kCp1252[c - 0x80] != 0) cp = kCp1252[c - 0x80];
    if (l9) cp = latin9(c);
    append_utf8(out, cp);
  }
  return out;
}

std::string fold_case(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t start = i;
    std::uint32_t cp = next_cp(s, i);
    if (cp == 0xFFFFFFFF) {
      out += s[start];
    } else if (cp < 0x80) {
      out += lower(static_cast<char>(cp));
    } else {
      append_utf8(out, fold_cp(cp));
    }
  }
  return out;
}

std::string decode_rfc2047(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  std::size_t i = 0;
  std::size_t pending_ws = std::string_view::npos;  // start of white space after an encoded word
  while (i < v.size()) {
    if (v[i] == '=' && i + 1 < v.size() && v[i + 1] == '?') {
      // =?charset?X?text?= ; RFC 2047 §2 limits a word to 75 octets. Looking no further
      // than kMaxWord keeps a value full of "=?" linear.
      constexpr std::size_t kMaxWord = 256;
      std::string_view w = v.substr(0, std::min(v.size(), i + kMaxWord));
      std::size_t q1 = w.find('?', i + 2);
      std::size_t q2 = q1 == std::string_view::npos ? q1 : w.find('?', q1 + 1);
      std::size_t end = q2 == std::string_view::npos ? q2 : w.find("?=", q2 + 1);
      if (end != std::string_view::npos && q2 == q1 + 2) {
        std::string_view charset = v.substr(i + 2, q1 - i - 2);
        charset = charset.substr(0, charset.find('*'));  // RFC 2231 §5 language suffix
        char enc = lower(v[q1 + 1]);
        std::string_view text = v.substr(q2 + 1, end - q2 - 1);
        bool clean = text.find(' ') == std::string_view::npos && !charset.empty();
        if (clean && (enc == 'b' || enc == 'q')) {
          std::string raw = enc == 'b' ? decode_base64(text) : decode_quoted_printable(text, true);
          pending_ws = std::string_view::npos;  // drop white space between encoded words
          out += to_utf8(raw, charset);
          i = end + 2;
          std::size_t j = i;
          while (j < v.size() && is_space(v[j])) ++j;
          if (j > i && j + 1 < v.size() && v[j] == '=' && v[j + 1] == '?') {
            pending_ws = i;
            i = j;
          }
          continue;
        }
      }
    }
    if (pending_ws != std::string_view::npos) {
      // The white space was not followed by a valid encoded word after all: keep it.
      out += v.substr(pending_ws, i - pending_ws);
      pending_ws = std::string_view::npos;
    }
    out += v[i++];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The MIME tree.

bool BodyPart::is_multipart() const { return iequals(type, "multipart"); }
bool BodyPart::is_message_rfc822() const {
  return iequals(type, "message") && iequals(subtype, "rfc822") && children.size() == 1;
}
bool BodyPart::is_text() const { return iequals(type, "text"); }

std::optional<std::string_view> BodyPart::param(std::string_view name) const {
  for (const MimeParam& p : params) {
    if (iequals(p.name, name)) return std::string_view(p.value);
  }
  return std::nullopt;
}

namespace {

std::uint64_t count_lines(std::string_view body) {
  auto n = static_cast<std::uint64_t>(std::count(body.begin(), body.end(), '\n'));
  if (!body.empty() && body.back() != '\n') ++n;
  return n;
}

void set_default_type(BodyPart& p, bool digest) {
  if (digest) {
    p.type = "MESSAGE";
    p.subtype = "RFC822";
    p.params.clear();
  } else {
    p.type = "TEXT";
    p.subtype = "PLAIN";
    p.params = {{"CHARSET", "US-ASCII"}};
  }
}

class TreeParser {
 public:
  TreeParser(std::string_view b, const MimeLimits& lim) : b_(b), lim_(lim) {}

  void parse_part(BodyPart& p, std::size_t start, std::size_t end, std::size_t depth, bool digest) {
    ++parts_;
    p.header = scan_header(b_, start, end, p.fields, lim_.max_headers);
    p.body = Span{p.header.end(), end - p.header.end()};
    apply_headers(p, digest);
    std::string_view body = b_.substr(p.body.offset, p.body.length);
    bool room = depth + 1 < lim_.max_depth && parts_ < lim_.max_parts;
    if (p.is_multipart()) {
      if (room) split_multipart(p, depth);
      if (p.children.empty()) p.children.push_back(synthesized(p.body));
    } else if (iequals(p.type, "message") && iequals(p.subtype, "rfc822")) {
      p.lines = count_lines(body);
      bool identity = iequals(p.encoding, "7bit") || iequals(p.encoding, "8bit") ||
                      iequals(p.encoding, "binary");
      if (room && identity) {
        p.children.emplace_back();
        parse_part(p.children.back(), p.body.offset, p.body.end(), depth + 1, false);
      } else {
        // Encoded or too deep: an opaque message without header, so the part keeps the
        // message/rfc822 shape that clients expect (envelope, body, lines).
        p.children.push_back(synthesized(p.body));
      }
    } else if (p.is_text()) {
      p.lines = count_lines(body);
    }
  }

 private:
  BodyPart synthesized(Span body) {
    ++parts_;
    BodyPart c;
    c.header = Span{body.offset, 0};
    c.body = body;
    set_default_type(c, false);
    c.lines = count_lines(b_.substr(body.offset, body.length));
    return c;
  }

  void apply_headers(BodyPart& p, bool digest) {
    bool have_type = false;
    bool have[8] = {};
    for (const HeaderField& f : p.fields) {
      std::string_view name = b_.substr(f.name.offset, f.name.length);
      if (name.size() < 8 || !iequals(name.substr(0, 8), "content-")) continue;
      name.remove_prefix(8);
      std::string value = unfold(b_.substr(f.value.offset, f.value.length));
      static constexpr std::string_view kNames[] = {"type", "id", "description",
                                                    "transfer-encoding", "md5", "disposition",
                                                    "language", "location"};
      std::size_t k = 0;
      while (k < 8 && !iequals(name, kNames[k])) ++k;
      if (k == 8 || have[k]) continue;
      have[k] = true;
      switch (k) {
        case 0: {
          ParsedContentValue v = parse_content_value(value, true);
          if (!v.type.empty() && !v.subtype.empty()) {
            p.type = std::move(v.type);
            p.subtype = std::move(v.subtype);
            p.params = std::move(v.params);
            have_type = true;
          }
          break;
        }
        case 1: p.id = std::move(value); break;
        case 2: p.description = std::move(value); break;
        case 3: {
          std::string_view t = trim(value);
          std::size_t cut = t.find_first_of(" \t(;");
          if (!t.empty()) p.encoding = std::string(t.substr(0, cut));
          break;
        }
        case 4: p.md5 = std::move(value); break;
        case 5: {
          ParsedContentValue v = parse_content_value(value, false);
          if (!v.type.empty()) p.disposition = Disposition{std::move(v.type), std::move(v.params)};
          break;
        }
        case 6: {
          std::size_t s = 0;
          while (s < value.size() && p.language.size() < 64) {
            std::size_t c = value.find(',', s);
            if (c == std::string::npos) c = value.size();
            std::string_view tag = trim(std::string_view(value).substr(s, c - s));
            if (!tag.empty()) p.language.emplace_back(tag);
            s = c + 1;
          }
          break;
        }
        case 7: p.location = std::move(value); break;
        default: break;
      }
    }
    if (!have_type) set_default_type(p, digest);
  }

  /// Splits a multipart body at its delimiter lines (RFC 2046 §5.1.1): "--" boundary, an
  /// optional "--" for the close delimiter, then only white space. The line end before a
  /// delimiter belongs to the delimiter. Preamble and epilogue are skipped; a missing close
  /// delimiter ends the last part at the end of the body.
  void split_multipart(BodyPart& p, std::size_t depth) {
    auto boundary = p.param("boundary");
    if (!boundary || boundary->empty()) return;
    std::string delim = "--" + std::string(*boundary);
    bool digest = iequals(p.subtype, "digest");
    std::size_t end = p.body.end();
    std::size_t pos = p.body.offset;
    std::size_t part_start = std::string_view::npos;
    std::vector<Span> spans;
    while (pos < end) {
      auto [le, next] = line_at(b_, pos, end);
      std::size_t ce = content_end(b_, pos, le);
      if (ce - pos >= delim.size() && b_.compare(pos, delim.size(), delim) == 0) {
        std::size_t k = pos + delim.size();
        bool close = ce - k >= 2 && b_[k] == '-' && b_[k + 1] == '-';
        if (close) k += 2;
        while (k < ce && is_wsp(b_[k])) ++k;
        if (k == ce) {
          if (part_start != std::string_view::npos) {
            std::size_t stop = pos;
            if (stop > part_start && b_[stop - 1] == '\n') --stop;
            if (stop > part_start && b_[stop - 1] == '\r') --stop;
            spans.push_back(Span{part_start, stop - part_start});
          }
          part_start = next;
          if (close) {
            part_start = std::string_view::npos;
            break;
          }
        }
      }
      pos = next;
    }
    if (part_start != std::string_view::npos) spans.push_back(Span{part_start, end - part_start});
    for (const Span& s : spans) {
      if (parts_ >= lim_.max_parts) break;
      p.children.emplace_back();
      parse_part(p.children.back(), s.offset, s.end(), depth + 1, digest);
    }
  }

  std::string_view b_;
  const MimeLimits& lim_;
  std::size_t parts_ = 0;
};

}  // namespace

Message Message::parse(std::string bytes, const MimeLimits& limits) {
  Message m;
  m.owned_ = std::make_unique<std::string>(std::move(bytes));
  m.view_ = *m.owned_;
  m.build(limits);
  return m;
}

Message Message::parse_view(std::string_view bytes, const MimeLimits& limits) {
  Message m;
  m.view_ = bytes;
  m.build(limits);
  return m;
}

void Message::build(const MimeLimits& limits) {
  root_ = std::make_unique<BodyPart>();
  TreeParser parser(view_, limits);
  parser.parse_part(*root_, 0, view_.size(), 0, false);
}

std::string_view Message::slice(Span s) const {
  if (s.offset >= view_.size()) return {};
  return view_.substr(s.offset, s.length);
}

std::optional<std::string_view> Message::header(std::string_view name, const BodyPart* part) const {
  const BodyPart& p = part ? *part : *root_;
  for (const HeaderField& f : p.fields) {
    if (iequals(slice(f.name), name)) return slice(f.value);
  }
  return std::nullopt;
}

}  // namespace twinbox::server
