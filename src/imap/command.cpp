#include <algorithm>

#include <twinbox/base/ids.hpp>
#include <twinbox/imap/command.hpp>

#include "command_impl.hpp"

namespace twinbox::imap {
namespace {

/// One stretch of command text up to CRLF; when has_literal, the text stopped at a literal
/// announcement whose octets are in `literal` and the command goes on in the next piece.
struct Piece {
  std::string text;
  std::size_t raw_offset = 0;  // offset of text[0] in the command's raw bytes
  bool has_literal = false;
  bool literal8 = false;
  std::string literal;
};

/// Bytes of an Atom arg: ATOM-CHARs plus list-wildcards "%" "*" (sequence sets, LIST
/// patterns) and "]" outside a section (ASTRING-CHAR).
bool is_arg_atom_char(int c, bool in_section) {
  if (c < 0) return false;
  if (c == '*' || c == '%') return true;
  if (c == ']') return !in_section;
  return detail::is_atom_char(static_cast<unsigned char>(c));
}

constexpr int kEnd = -1;      // end of the command
constexpr int kLiteral = -2;  // a literal stands here

char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = upper(c);
  return out;
}

bool is_section_name(std::string_view atom) {
  std::string u = to_upper(atom);
  return u == "BODY" || u == "BODY.PEEK" || u == "BINARY" || u == "BINARY.PEEK" || u == "BINARY.SIZE";
}

/// The tag at the start of `line`, if it is a well-formed one followed by SP.
std::string tag_of(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && i < 256 && line[i] != '+' &&
         detail::is_astring_char(static_cast<unsigned char>(line[i]))) {
    ++i;
  }
  if (i == 0 || i >= line.size() || line[i] != ' ') return {};
  return std::string(line.substr(0, i));
}

/// Recursive-descent reader over the pieces of one complete command.
class Reader {
 public:
  Reader(const std::vector<Piece>& pieces, const CommandLimits& limits)
      : pieces_(pieces), limits_(limits) {}

  // command = tag SP name *(SP arg) CRLF                         (RFC 3501 §9, generic form)
  CommandStep parse() {
    Command cmd;
    while (peek() >= 0 && peek() != '+' && detail::is_astring_char(static_cast<unsigned char>(peek()))) {
      cmd.tag += static_cast<char>(peek());
      advance();
    }
    if (cmd.tag.empty()) return bad({}, "expected a command tag");
    if (peek() != ' ') return bad({}, "expected SP after the tag (tags are ASTRING-CHARs except '+')");
    tag_ = cmd.tag;
    advance();
    while (peek() >= 0 && detail::is_atom_char(static_cast<unsigned char>(peek()))) {
      cmd.name += upper(static_cast<char>(peek()));
      advance();
    }
    if (cmd.name.empty()) return bad(tag_, "expected a command name");
    while (peek() != kEnd) {
      if (!skip_spaces()) return bad(tag_, "expected SP between arguments");
      if (peek() == kEnd) break;
      if (!parse_arg(0, false, cmd.args)) return failure_;
    }
    return cmd;
  }

 private:
  [[nodiscard]] int peek() const {
    const Piece& pc = pieces_[p_];
    if (o_ < pc.text.size()) return static_cast<unsigned char>(pc.text[o_]);
    return pc.has_literal ? kLiteral : kEnd;
  }
  void advance() { ++o_; }

  bool skip_spaces() {
    bool any = false;
    while (peek() == ' ') {
      advance();
      any = true;
    }
    return any;
  }

  CommandBad bad(std::string tag, std::string_view what) const {
    return with_offset(CommandBad{std::move(tag), std::string(what), BadKind::Syntax, false});
  }
  CommandBad with_offset(CommandBad b) const {
    const Piece& pc = pieces_[p_];
    std::size_t local = std::min(o_, pc.text.size());
    std::string where = detail::at_offset(pc.text, local);
    // at_offset() counts within this piece; report the offset in the whole command.
    b.reason += " at offset " + std::to_string(pc.raw_offset + local) + where.substr(where.find(" near"));
    return b;
  }
  bool fail_here(std::string_view what, BadKind kind = BadKind::Syntax) {
    failure_ = with_offset(CommandBad{tag_, std::string(what), kind, false});
    return false;
  }

  bool count_node() {
    if (++nodes_ > limits_.max_args) {
      return fail_here("too many arguments (limit " + std::to_string(limits_.max_args) + ")",
                       BadKind::TooManyArgs);
    }
    return true;
  }

  // arg = list / quoted / literal / atom [section [partial]]  (see command.hpp)
  bool parse_arg(std::size_t depth, bool in_section, std::vector<Arg>& out) {
    if (!count_node()) return false;
    int c = peek();
    if (c == kLiteral) {
      const Piece& pc = pieces_[p_];
      out.push_back(Arg::literal(pc.literal, pc.literal8));
      ++p_;
      o_ = 0;
      return true;
    }
    if (c == '(') return parse_group(depth, in_section, ')', out);
    if (c == '"') return parse_quoted(out);
    if (c == '\\' || is_arg_atom_char(c, in_section)) return parse_atom(depth, in_section, out);
    if (c == '{') return fail_here("a literal announcement {n} must end the line");
    if (c == kEnd) return fail_here("unexpected end of command");
    return fail_here("unexpected character");
  }

  // list = "(" [arg *(SP arg)] ")";  section = "[" [arg *(SP arg)] "]"
  bool parse_group(std::size_t depth, bool in_section, char close, std::vector<Arg>& out) {
    if (depth + 1 > limits_.max_depth) {
      return fail_here("nesting deeper than " + std::to_string(limits_.max_depth), BadKind::TooDeep);
    }
    bool section = close == ']';
    advance();
    std::vector<Arg> items;
    while (true) {
      if (peek() == close) break;
      if (!parse_arg(depth + 1, in_section || section, items)) return false;
      if (peek() == close) break;
      if (!skip_spaces()) {
        if (peek() == kEnd) return fail_here(section ? "missing ']'" : "missing ')'");
        return fail_here(section ? "expected SP or ']'" : "expected SP or ')'");
      }
    }
    advance();
    if (!section) {
      out.push_back(Arg::list(std::move(items)));
      return true;
    }
    Arg s = Arg::section(std::move(items));
    if (peek() == '<') {
      advance();
      Partial part;
      if (!parse_number(part.offset)) return false;
      if (peek() == '.') {
        advance();
        std::uint64_t len = 0;
        if (!parse_number(len)) return false;
        part.length = len;
      }
      if (peek() != '>') return fail_here("expected '>' closing the partial <offset.length>");
      advance();
      s.partial = part;
    }
    out.push_back(std::move(s));
    return true;
  }

  bool parse_number(std::uint64_t& v) {
    std::string digits;
    while (peek() >= 0 && detail::is_digit(static_cast<unsigned char>(peek())) && digits.size() <= 20) {
      digits += static_cast<char>(peek());
      advance();
    }
    auto n = parse_number64(digits);
    if (!n) return fail_here("expected a number that fits in 64 bits");
    v = *n;
    return true;
  }

  // quoted = DQUOTE *QUOTED-CHAR DQUOTE; QUOTED-CHAR = TEXT-CHAR except quoted-specials /
  // "\" quoted-specials (RFC 3501 §9; 8-bit allowed as in RFC 9051 / RFC 6855)
  bool parse_quoted(std::vector<Arg>& out) {
    advance();
    std::string s;
    while (true) {
      int c = peek();
      if (c < 0) return fail_here("unterminated quoted string");
      if (c == '"') break;
      if (c == 0) return fail_here("NUL byte in a quoted string");
      if (c == '\\') {
        advance();
        c = peek();
        if (c != '"' && c != '\\') return fail_here("only \\\" and \\\\ may be escaped in a quoted string");
      }
      s += static_cast<char>(c);
      advance();
    }
    advance();
    out.push_back(Arg::quoted(std::move(s)));
    return true;
  }

  bool parse_atom(std::size_t depth, bool in_section, std::vector<Arg>& out) {
    std::string text;
    while (true) {
      int c = peek();
      if (c < 0) break;
      if (c == '[' && is_section_name(text)) break;
      // A flag is "\" atom (RFC 3501 §9 flag, flag-extension): "\" only leads.
      if (!(is_arg_atom_char(c, in_section) || (c == '\\' && text.empty()))) break;
      text += static_cast<char>(c);
      advance();
    }
    bool digits = text.size() <= 20 &&
                  std::all_of(text.begin(), text.end(), [](char c) { return detail::is_digit(static_cast<unsigned char>(c)); });
    std::optional<std::uint64_t> n = digits ? parse_number64(text) : std::nullopt;
    if (to_upper(text) == "NIL") {
      out.push_back(Arg::nil(std::move(text)));
    } else if (n) {
      Arg a = Arg::num(*n);
      a.text = std::move(text);
      out.push_back(std::move(a));
    } else {
      out.push_back(Arg::atom(std::move(text)));
    }
    if (peek() == '[') {
      if (!count_node()) return false;
      return parse_group(depth, in_section, ']', out);
    }
    return true;
  }

  const std::vector<Piece>& pieces_;
  const CommandLimits& limits_;
  std::size_t p_ = 0;
  std::size_t o_ = 0;
  std::size_t nodes_ = 0;
  std::string tag_;
  CommandBad failure_;
};

}  // namespace

// ---- Arg -----------------------------------------------------------------------------------

std::optional<std::string_view> Arg::as_astring() const {
  switch (kind) {
    case Kind::Atom:
    case Kind::Number:
    case Kind::Nil:
    case Kind::Quoted:
    case Kind::Literal:
      return std::string_view(text);
    case Kind::List:
    case Kind::Section:
      break;
  }
  return std::nullopt;
}

std::optional<std::string_view> Arg::as_string() const {
  if (kind == Kind::Quoted || kind == Kind::Literal) return std::string_view(text);
  return std::nullopt;
}

bool Arg::is_atom(std::string_view upper_text) const {
  return kind == Kind::Atom && to_upper(text) == upper_text;
}

Arg Arg::atom(std::string text) {
  Arg a;
  a.text = std::move(text);
  return a;
}
Arg Arg::num(std::uint64_t n) {
  Arg a;
  a.kind = Kind::Number;
  a.number = n;
  a.text = std::to_string(n);
  return a;
}
Arg Arg::quoted(std::string text) {
  Arg a;
  a.kind = Kind::Quoted;
  a.text = std::move(text);
  return a;
}
Arg Arg::literal(std::string bytes, bool literal8) {
  Arg a;
  a.kind = Kind::Literal;
  a.text = std::move(bytes);
  a.literal8 = literal8;
  return a;
}
Arg Arg::nil(std::string text) {
  Arg a;
  a.kind = Kind::Nil;
  a.text = std::move(text);
  return a;
}
Arg Arg::list(std::vector<Arg> items) {
  Arg a;
  a.kind = Kind::List;
  a.children = std::move(items);
  return a;
}
Arg Arg::section(std::vector<Arg> items, std::optional<Partial> partial) {
  Arg a;
  a.kind = Kind::Section;
  a.children = std::move(items);
  a.partial = partial;
  return a;
}

namespace {
void print_escaped(std::ostream& os, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  os << '"';
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      os << '\\' << ch;
    } else if (c < 0x20 || c >= 0x7f) {
      os << "\\x" << kHex[c >> 4] << kHex[c & 0xf];
    } else {
      os << ch;
    }
  }
  os << '"';
}

void print_items(std::ostream& os, const std::vector<Arg>& items) {
  for (std::size_t i = 0; i < items.size(); ++i) os << (i ? " " : "") << items[i];
}
}  // namespace

std::ostream& operator<<(std::ostream& os, const Arg& a) {
  switch (a.kind) {
    case Arg::Kind::Atom: return os << "atom:" << a.text;
    case Arg::Kind::Number: return os << "num:" << a.text;
    case Arg::Kind::Nil: return os << "nil:" << a.text;
    case Arg::Kind::Quoted:
      os << "quoted:";
      print_escaped(os, a.text);
      return os;
    case Arg::Kind::Literal:
      os << (a.literal8 ? "~{" : "{") << a.text.size() << "}";
      print_escaped(os, a.text);
      return os;
    case Arg::Kind::List:
      os << '(';
      print_items(os, a.children);
      return os << ')';
    case Arg::Kind::Section:
      os << '[';
      print_items(os, a.children);
      os << ']';
      if (a.partial) {
        os << '<' << a.partial->offset;
        if (a.partial->length) os << '.' << *a.partial->length;
        os << '>';
      }
      return os;
  }
  return os;
}

std::ostream& operator<<(std::ostream& os, const Command& c) {
  os << c.tag << ' ' << c.name << " [";
  print_items(os, c.args);
  return os << ']';
}

// ---- CommandParser -------------------------------------------------------------------------

struct CommandParser::Impl {
  enum class Phase { Line, Literal, Dead };

  CommandLimits limits;
  std::string buf;
  std::size_t pos = 0;   // bytes of buf before pos are consumed
  std::size_t scan = 0;  // the current line is scanned up to here (absolute index into buf)
  bool in_quote = false;
  bool escape = false;
  Phase phase = Phase::Line;
  std::vector<Piece> pieces;  // finished pieces of the command being read
  std::size_t text_total = 0;  // text bytes in pieces
  std::size_t raw_total = 0;   // raw bytes in pieces (text, announcements, CRLFs, literals)
  std::uint64_t literal_need = 0;
  bool owe = false;
  CommandBad dead;

  void compact() {
    if (pos > 4096 && pos * 2 > buf.size()) {
      buf.erase(0, pos);
      scan -= pos;
      pos = 0;
    }
  }

  void reset_command() {
    pieces.clear();
    text_total = 0;
    raw_total = 0;
  }

  std::string current_tag() const {
    if (!pieces.empty()) return tag_of(pieces.front().text);
    return tag_of(std::string_view(buf).substr(pos, std::min<std::size_t>(buf.size() - pos, 300)));
  }

  CommandStep die(std::string reason, BadKind kind, std::optional<std::string> tag = std::nullopt) {
    dead = CommandBad{tag ? *tag : current_tag(), std::move(reason), kind, true};
    phase = Phase::Dead;
    buf.clear();
    pos = scan = 0;
    reset_command();
    return dead;
  }

  CommandStep step();
  CommandStep end_of_line(std::size_t lf);
};

CommandStep CommandParser::Impl::step() {
  while (true) {
    if (phase == Phase::Dead) return dead;
    if (phase == Phase::Literal) {
      std::size_t avail = buf.size() - pos;
      if (avail == 0) return NeedMore{};
      std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(literal_need, avail));
      pieces.back().literal.append(buf, pos, take);
      pos += take;
      raw_total += take;
      literal_need -= take;
      owe = false;
      if (literal_need > 0) return NeedMore{};
      phase = Phase::Line;
      scan = pos;
      continue;
    }
    // Phase::Line: scan for LF, tracking quotes so "{5}" inside a quoted string at the end
    // of a (malformed) line is not taken for a literal.
    for (; scan < buf.size(); ++scan) {
      char c = buf[scan];
      if (c == '\n') break;
      if (in_quote) {
        if (escape) {
          escape = false;
        } else if (c == '\\') {
          escape = true;
        } else if (c == '"') {
          in_quote = false;
        }
      } else if (c == '"') {
        in_quote = true;
      }
    }
    if (text_total + (scan - pos) > limits.max_line) {
      return die("command line longer than " + std::to_string(limits.max_line) + " octets",
                 BadKind::LineTooLong);
    }
    if (scan == buf.size()) {
      compact();
      return NeedMore{};
    }
    return end_of_line(scan);
  }
}

// A line ends a command unless it ends with a literal announcement (RFC 3501 §9 literal,
// RFC 7888 §3 "{n+}", RFC 4466 literal8 "~{n}").
CommandStep CommandParser::Impl::end_of_line(std::size_t lf) {
  std::string_view line(buf.data() + pos, lf - pos);
  std::size_t raw_len = line.size() + 1;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  bool quoted_open = in_quote;
  in_quote = escape = false;

  Piece piece;
  piece.raw_offset = raw_total;
  std::size_t marker = line.size();
  bool nonsync = false;
  std::uint64_t n = 0;
  bool overflow = false;
  if (!quoted_open && line.size() >= 3 && line.back() == '}') {
    std::size_t i = line.size() - 1;
    if (i > 0 && line[i - 1] == '+') {
      nonsync = true;
      --i;
    }
    std::size_t digits_end = i;
    while (i > 0 && detail::is_digit(static_cast<unsigned char>(line[i - 1]))) --i;
    if (i < digits_end && i > 0 && line[i - 1] == '{') {
      auto v = parse_number64(line.substr(i, digits_end - i));
      overflow = !v;
      n = v.value_or(0);
      marker = i - 1;
      if (marker > 0 && line[marker - 1] == '~') {
        piece.literal8 = true;
        --marker;
      }
    }
  }
  piece.text = std::string(line.substr(0, marker));
  piece.has_literal = marker != line.size();
  pos = lf + 1;
  scan = pos;
  raw_total += raw_len;
  text_total += piece.text.size();

  if (piece.has_literal) {
    bool too_big = overflow || n > limits.max_literal;
    if (nonsync && (too_big || n > limits.max_nonsync_literal)) {
      // The client sends the octets without waiting: we cannot find the next command.
      return die("non-synchronizing literal of " + std::string(line.substr(marker)) + " octets over the limit of " +
                     std::to_string(std::min(limits.max_literal, limits.max_nonsync_literal)),
                 BadKind::LiteralTooBig, tag_of(pieces.empty() ? piece.text : pieces.front().text));
    }
    if (too_big) {
      // The client waits for "+" and will not send the octets: refuse and resume.
      pieces.push_back(std::move(piece));
      CommandBad b{current_tag(),
                   "literal " + std::string(line.substr(marker)) + " is over the limit of " +
                       std::to_string(limits.max_literal) + " octets",
                   BadKind::LiteralTooBig, false};
      reset_command();
      compact();
      return b;
    }
    pieces.push_back(std::move(piece));
    literal_need = n;
    phase = Phase::Literal;
    compact();
    if (!nonsync) {
      owe = true;
      return ContinuationOwed{n};
    }
    return step();
  }

  pieces.push_back(std::move(piece));
  Reader reader(pieces, limits);
  CommandStep result = reader.parse();
  reset_command();
  compact();
  return result;
}

CommandParser::CommandParser(CommandLimits limits) : impl_(std::make_unique<Impl>()) {
  impl_->limits = limits;
}
CommandParser::~CommandParser() = default;
CommandParser::CommandParser(CommandParser&&) noexcept = default;
CommandParser& CommandParser::operator=(CommandParser&&) noexcept = default;

void CommandParser::feed(std::string_view bytes) {
  if (impl_->phase == Impl::Phase::Dead) return;
  impl_->buf.append(bytes);
}

CommandStep CommandParser::next() { return impl_->step(); }

bool CommandParser::continuation_owed() const { return impl_->owe; }

std::size_t CommandParser::buffered() const { return impl_->buf.size() - impl_->pos; }

Result<std::optional<std::string>> CommandParser::next_line() {
  Impl& m = *impl_;
  if (m.phase == Impl::Phase::Dead) return fail(Errc::Limit, Scope::Connection, m.dead.reason);
  TWINBOX_ASSERT(m.phase == Impl::Phase::Line && m.pieces.empty(),
                 "CommandParser::next_line() called while a command is half read");
  std::size_t lf = m.buf.find('\n', m.pos);
  if (lf == std::string::npos) {
    if (m.buf.size() - m.pos > m.limits.max_line) {
      return fail(Errc::Limit, Scope::Connection,
                  "line longer than " + std::to_string(m.limits.max_line) + " octets; close the connection");
    }
    return std::optional<std::string>();
  }
  std::string line = m.buf.substr(m.pos, lf - m.pos);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.size() > m.limits.max_line) {
    return fail(Errc::Limit, Scope::Connection,
                "line longer than " + std::to_string(m.limits.max_line) + " octets; close the connection");
  }
  m.pos = lf + 1;
  m.scan = m.pos;
  m.in_quote = m.escape = false;
  m.compact();
  return std::optional<std::string>(std::move(line));
}

}  // namespace twinbox::imap
