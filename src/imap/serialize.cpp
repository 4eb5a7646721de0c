#include <twinbox/imap/serialize.hpp>

#include "command_impl.hpp"

namespace twinbox::imap {
namespace {

bool is_nil(std::string_view s) {
  return s.size() == 3 && (s[0] == 'N' || s[0] == 'n') && (s[1] == 'I' || s[1] == 'i') &&
         (s[2] == 'L' || s[2] == 'l');
}

bool all_atom_chars(std::string_view s) {
  for (char c : s) {
    if (!detail::is_atom_char(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

std::string_view Segment::bytes() const {
  if (const auto* s = std::get_if<std::string>(&data)) return *s;
  if (const auto* p = std::get_if<std::shared_ptr<const std::string>>(&data)) {
    return *p ? std::string_view(**p) : std::string_view();
  }
  return std::get<std::string_view>(data);
}

bool WireCommand::needs_continuation() const {
  for (const auto& s : segments) {
    if (s.await_continuation) return true;
  }
  return false;
}

std::string WireCommand::flatten() const {
  std::string out;
  out.reserve(size());
  for (const auto& s : segments) out += s.bytes();
  return out;
}

std::size_t WireCommand::size() const {
  std::size_t n = 0;
  for (const auto& s : segments) n += s.bytes().size();
  return n;
}

CommandBuilder::CommandBuilder(std::string_view tag, std::string_view name, BuilderOptions options)
    : options_(options) {
  cmd_.tag = std::string(tag);
  if (tag.empty() || name.empty()) set_error("a command needs a tag and a name");
  for (char c : tag) {
    if (!detail::is_astring_char(static_cast<unsigned char>(c)) || c == '+') {
      set_error("tag '" + std::string(tag) + "' holds a character not allowed in a tag");
    }
  }
  text_ = cmd_.tag;
  text_ += ' ';
  text_ += name;
  need_space_ = true;
}

void CommandBuilder::set_error(std::string message) {
  if (!error_) error_ = std::move(message);
}

void CommandBuilder::separate() {
  if (need_space_) text_ += ' ';
  need_space_ = true;
}

CommandBuilder& CommandBuilder::atom(std::string_view a) {
  if (a.empty() || !all_atom_chars(a)) set_error("'" + std::string(a) + "' is not an IMAP atom");
  separate();
  text_ += a;
  return *this;
}

CommandBuilder& CommandBuilder::astring(std::string_view s) {
  if (!s.empty() && all_atom_chars(s) && !is_nil(s) && s.find('[') == std::string_view::npos) {
    separate();
    text_ += s;
    return *this;
  }
  string_or_literal(s);
  return *this;
}

CommandBuilder& CommandBuilder::string(std::string_view s) {
  string_or_literal(s);
  return *this;
}

void CommandBuilder::string_or_literal(std::string_view s) {
  bool quotable = s.size() <= kMaxQuotedLength;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (!(detail::is_quotable(u) || (options_.utf8_quoted && u >= 0x80))) {
      quotable = false;
      break;
    }
  }
  if (quotable) {
    quoted(s);
  } else {
    literal(s);
  }
}

// quoted = DQUOTE *QUOTED-CHAR DQUOTE; only '"' and '\' are escaped (RFC 3501 §9).
void CommandBuilder::quoted(std::string_view s) {
  separate();
  text_ += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') text_ += '\\';
    text_ += c;
  }
  text_ += '"';
}

CommandBuilder& CommandBuilder::nstring(const std::optional<std::string_view>& s) {
  if (!s) return nil();
  return string(*s);
}

CommandBuilder& CommandBuilder::nil() {
  separate();
  text_ += "NIL";
  return *this;
}

CommandBuilder& CommandBuilder::number(std::uint64_t n) {
  separate();
  text_ += std::to_string(n);
  return *this;
}

CommandBuilder& CommandBuilder::seqset(const SeqSet& set) {
  if (set.empty()) set_error("an empty sequence set cannot be sent; skip the command instead");
  separate();
  text_ += set.to_string();
  return *this;
}

// flag = "\Answered" / ... / flag-keyword / flag-extension; flag-keyword = atom (RFC 3501 §9)
CommandBuilder& CommandBuilder::flag(std::string_view f) {
  std::string_view word = (!f.empty() && f[0] == '\\') ? f.substr(1) : f;
  if (word.empty() || !all_atom_chars(word)) {
    set_error("'" + std::string(f) + "' is not a valid IMAP flag or keyword");
  }
  separate();
  text_ += f;
  return *this;
}

CommandBuilder& CommandBuilder::flags(const std::vector<std::string>& fs) {
  begin_list();
  for (const auto& f : fs) flag(f);
  return end_list();
}

CommandBuilder& CommandBuilder::begin_list() {
  separate();
  text_ += '(';
  need_space_ = false;
  ++depth_;
  return *this;
}

CommandBuilder& CommandBuilder::end_list() {
  if (depth_ == 0) set_error("end_list() without begin_list()");
  --depth_;
  text_ += ')';
  need_space_ = true;
  return *this;
}

CommandBuilder& CommandBuilder::raw(std::string_view text) {
  separate();
  return glue(text);
}

CommandBuilder& CommandBuilder::glue(std::string_view text) {
  if (text.find_first_of("\r\n") != std::string_view::npos) set_error("raw text holds CR or LF");
  text_ += text;
  need_space_ = true;
  return *this;
}

// literal = "{" number ["+"] "}" CRLF *CHAR8 (RFC 3501 §9, RFC 7888 §3);
// literal8 = "~{" number ["+"] "}" CRLF *OCTET (RFC 4466 §2.1, RFC 3516).
void CommandBuilder::put_literal(std::size_t n, bool literal8, Segment body) {
  bool sync = options_.literals == LiteralMode::Sync ||
              (options_.literals == LiteralMode::Minus && n > kLiteralMinusMax);
  separate();
  if (literal8) text_ += '~';
  text_ += '{';
  text_ += std::to_string(n);
  if (!sync) text_ += '+';
  text_ += "}\r\n";
  cmd_.segments.push_back(Segment{std::move(text_), sync});
  text_.clear();
  if (n > 0) cmd_.segments.push_back(std::move(body));
}

CommandBuilder& CommandBuilder::literal(std::string_view body) {
  if (body.find('\0') != std::string_view::npos) set_error("NUL byte in a string: use literal8 (BINARY)");
  put_literal(body.size(), false, Segment{std::string(body), false});
  return *this;
}

CommandBuilder& CommandBuilder::literal(std::shared_ptr<const std::string> body) {
  std::size_t n = body ? body->size() : 0;
  if (body && body->find('\0') != std::string::npos) set_error("NUL byte in a literal: use literal8 (BINARY)");
  put_literal(n, false, Segment{std::move(body), false});
  return *this;
}

CommandBuilder& CommandBuilder::literal_ref(std::string_view body) {
  if (body.find('\0') != std::string_view::npos) set_error("NUL byte in a literal: use literal8 (BINARY)");
  put_literal(body.size(), false, Segment{body, false});
  return *this;
}

CommandBuilder& CommandBuilder::literal8(std::shared_ptr<const std::string> body) {
  std::size_t n = body ? body->size() : 0;
  put_literal(n, true, Segment{std::move(body), false});
  return *this;
}

CommandBuilder& CommandBuilder::literal8_ref(std::string_view body) {
  put_literal(body.size(), true, Segment{body, false});
  return *this;
}

Result<WireCommand> CommandBuilder::build() {
  if (depth_ != 0) set_error("unbalanced parentheses in the command");
  if (error_) return fail(Errc::Internal, Scope::Message, "cannot serialize command: " + *error_);
  text_ += "\r\n";
  cmd_.segments.push_back(Segment{std::move(text_), false});
  text_.clear();
  return std::move(cmd_);
}

std::vector<SeqSet> split_uid_set(const SeqSet& set, std::size_t line_limit, std::size_t reserved) {
  std::size_t budget = line_limit > reserved + 1 ? line_limit - reserved : 1;
  return set.split(budget);
}

}  // namespace twinbox::imap
