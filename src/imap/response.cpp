// Grammar of server responses (RFC 3501 §9, RFC 9051 §9 and extensions), one function per
// production, over one complete response handed over by the framer (parser.cpp).
#include <algorithm>
#include <sstream>

#include <twinbox/imap/response.hpp>
#include <twinbox/imap/token.hpp>

#include "parser_impl.hpp"

namespace twinbox::imap {

std::string_view to_string(Cond c) {
  switch (c) {
    case Cond::Ok: return "OK";
    case Cond::No: return "NO";
    case Cond::Bad: return "BAD";
    case Cond::Bye: return "BYE";
    case Cond::Preauth: return "PREAUTH";
  }
  return "?";
}

void FetchData::clear() {
  seq = SeqNum{};
  uid.reset();
  has_flags = false;
  flags.clear();
  modseq.reset();
  internal_date.reset();
  rfc822_size.reset();
  bodies.clear();
  envelope.reset();
  bodystructure.reset();
  email_id.reset();
  thread_id.reset();
  gm_msgid.reset();
  gm_thrid.reset();
  gm_labels.reset();
  other.clear();
}

bool ListData::has_attribute(std::string_view attr) const {
  return std::any_of(attributes.begin(), attributes.end(),
                     [&](const std::string& a) { return iequals(a, attr); });
}

Result<std::vector<std::pair<Uid, Uid>>> copyuid_pairs(const ResponseCode& code,
                                                        std::uint64_t max_pairs) {
  auto count = [](const std::vector<UidRun>& runs) {
    std::uint64_t n = 0;
    for (const auto& r : runs) {
      n += (r.first <= r.last ? r.last - r.first : r.first - r.last) + std::uint64_t{1};
    }
    return n;
  };
  const std::uint64_t ns = count(code.src_runs);
  const std::uint64_t nd = count(code.dst_runs);
  if (ns != nd) {
    return fail(Errc::Protocol, Scope::Mailbox,
                "COPYUID source and destination sets differ in size (" + std::to_string(ns) +
                    " vs " + std::to_string(nd) + "); locate the copies by searching instead");
  }
  if (ns > max_pairs) {
    return fail(Errc::Limit, Scope::Mailbox,
                "COPYUID names " + std::to_string(ns) + " messages, more than the limit " +
                    std::to_string(max_pairs));
  }
  auto expand = [](const std::vector<UidRun>& runs) {
    std::vector<std::uint32_t> v;
    for (const auto& r : runs) {
      if (r.first <= r.last) {
        for (std::uint64_t u = r.first; u <= r.last; ++u) v.push_back(static_cast<std::uint32_t>(u));
      } else {
        for (std::uint64_t u = r.first; u >= r.last; --u) v.push_back(static_cast<std::uint32_t>(u));
      }
    }
    return v;
  };
  const auto s = expand(code.src_runs);
  const auto d = expand(code.dst_runs);
  std::vector<std::pair<Uid, Uid>> out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) out.emplace_back(Uid(s[i]), Uid(d[i]));
  return out;
}

namespace detail {

std::string excerpt(std::string_view text, std::size_t pos) {
  const std::size_t from = pos > 24 ? pos - 24 : 0;
  const std::size_t to = std::min(text.size(), pos + 40);
  std::string out;
  for (std::size_t i = from; i < to; ++i) {
    if (i == pos) out += "\u2038";  // caret marking the offending byte
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (pos >= to) out += "\u2038";
  return out;
}

namespace {

bool is_name_char(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || chars::is_digit(c) || c == '.' ||
         c == '-' || c == '_';
}

/// Lenient mailbox-name byte for unquoted names: Exchange sends control characters
/// unquoted (MailKit #945), some servers 8-bit. Everything but SP ( ) " CR LF NUL.
bool is_lenient_name_char(unsigned char c) {
  return c != 0 && c != ' ' && c != '(' && c != ')' && c != '"' && c != '\r' && c != '\n';
}

class Grammar {
 public:
  Grammar(std::string_view text, const std::vector<StreamedLiteral>& streamed,
          const ParserLimits& limits, GrammarScratch& scratch)
      : lx_(text), streamed_(streamed), limits_(limits), scratch_(scratch) {}

  bool parse(Response& out);
  [[nodiscard]] const Lexer& lexer() const { return lx_; }
  [[nodiscard]] const std::string& detail() const { return detail_; }

 private:
  template <class T>
  T& fresh(Response& out) {
    if (auto* p = std::get_if<T>(&out)) {
      *p = T{};
      return *p;
    }
    return out.emplace<T>();
  }

  bool fail(const char* what) { return lx_.fail(what); }
  bool end_of_response() {
    if (!lx_.eol()) return false;
    return lx_.at_end() || fail("unexpected data after the end of the response");
  }
  /// Everything up to the final line end (text, unknown responses).
  std::string_view rest_of_response() {
    std::string_view t = lx_.text();
    std::size_t end = t.size();
    if (end > lx_.pos() && t[end - 1] == '\n') --end;
    if (end > lx_.pos() && t[end - 1] == '\r') --end;
    std::string_view r = t.substr(lx_.pos(), end - lx_.pos());
    lx_.set_pos(t.size());
    return r;
  }
  bool count_item(std::size_t& n) {
    if (++n > limits_.max_items) return fail("too many items in a list (limit max_items)");
    return true;
  }

  // Strings.
  bool literal(std::string& out, bool allow_streamed, bool* streamed, std::uint64_t* size);
  bool string(std::string& out);
  bool nstring(std::optional<std::string>& out);
  bool astring(std::string& out);
  bool mailbox(std::string& out);
  bool skip_value();
  bool raw_value(std::string& out);

  // Responses.
  bool tagged(Response& out);
  bool untagged(Response& out);
  bool numbered(std::uint32_t n, Response& out);
  bool resp_text(ResponseCode& code, std::string& text);
  bool resp_code(ResponseCode& code);
  bool atom_list(std::vector<std::string>& out);
  bool flag_list(FlagSet& out, bool allow_star);
  bool flag(std::string_view& out, bool allow_star);
  bool uid_set(SeqSet& out, std::vector<UidRun>* runs);
  bool fetch(std::uint32_t seq, Response& out);
  bool fetch_item(FetchData& f);
  bool fetch_body(FetchData& f, std::string_view name, std::string_view section,
                  std::optional<std::uint32_t> origin);
  bool envelope(Envelope& e);
  bool address_list(std::vector<Address>& out);
  bool list(ListData::Kind kind, Response& out);
  bool list_extended(ListData& l);
  bool status(Response& out);
  bool search(Response& out);
  bool esearch(Response& out);
  bool namespace_data(Response& out);
  bool namespace_list(std::vector<NamespaceDesc>& out);
  bool id(Response& out);
  bool vanished(Response& out);
  bool delimiter(std::optional<char>& out);

  Lexer lx_;
  const std::vector<StreamedLiteral>& streamed_;
  std::size_t next_streamed_ = 0;
  const ParserLimits& limits_;
  GrammarScratch& scratch_;
  std::string detail_;
};

bool Grammar::parse(Response& out) {
  const char c = lx_.peek();
  if (c == '+') {
    lx_.eat('+');
    lx_.eat(' ');
    auto& k = fresh<Continuation>(out);
    k.text = rest_of_response();
    return true;
  }
  if (c == '*') {
    lx_.eat('*');
    if (!lx_.sp()) return false;
    return untagged(out);
  }
  return tagged(out);
}

// response-tagged = tag SP resp-cond-state CRLF
bool Grammar::tagged(Response& out) {
  const std::size_t start = lx_.pos();
  const std::string_view t = lx_.text();
  std::size_t p = start;
  while (p < t.size() && chars::is_tag_char(static_cast<unsigned char>(t[p]))) ++p;
  if (p == start) return fail("expected '*', '+' or a tag at the start of a response");
  lx_.set_pos(p);
  if (!lx_.sp()) return false;
  const std::size_t cond_pos = lx_.pos();
  Cond cond;
  if (lx_.eat_word("OK")) {
    cond = Cond::Ok;
  } else if (lx_.eat_word("NO")) {
    cond = Cond::No;
  } else if (lx_.eat_word("BAD")) {
    cond = Cond::Bad;
  } else {
    lx_.set_pos(cond_pos);
    return fail("expected OK, NO or BAD after the tag");
  }
  auto& r = fresh<Tagged>(out);
  r.tag.assign(t.substr(start, p - start));
  r.cond = cond;
  return resp_text(r.code, r.text);
}

// resp-text = ["[" resp-text-code "]" SP] text; text may be missing (Gmail, PROTOCOL.md §3).
bool Grammar::resp_text(ResponseCode& code, std::string& text) {
  if (lx_.at_eol() || lx_.at_end()) {
    text.clear();
    return end_of_response();
  }
  if (!lx_.sp()) return false;
  if (lx_.peek() == '[') {
    if (!resp_code(code)) return false;
    lx_.eat(' ');
  }
  text.assign(rest_of_response());
  // Trailing spaces are noise (Office 365).
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return true;
}

bool Grammar::atom_list(std::vector<std::string>& out) {
  std::size_t n = 0;
  for (;;) {
    while (lx_.eat(' ')) {
    }
    if (lx_.at_eol() || lx_.at_end() || lx_.peek() == ']') return true;
    std::string_view a = lx_.atom();
    if (a.empty()) return false;
    if (!count_item(n)) return false;
    out.emplace_back(a);
  }
}

// flag = "\Answered" / … / keyword / flag-extension; "\*" only in PERMANENTFLAGS.
bool Grammar::flag(std::string_view& out, bool allow_star) {
  const std::size_t start = lx_.pos();
  if (lx_.eat('\\')) {
    if (lx_.eat('*')) {
      if (!allow_star) {
        lx_.set_pos(start);
        return fail("\\* is only allowed in PERMANENTFLAGS");
      }
    } else if (lx_.atom().empty()) {
      return false;
    }
  } else if (lx_.atom().empty()) {
    return false;
  }
  out = lx_.text().substr(start, lx_.pos() - start);
  return true;
}

// flag-list = "(" [flag *(SP flag)] ")"; spaces are optional between `\`-flags (seen in LIST
// attributes) and tolerated in excess.
bool Grammar::flag_list(FlagSet& out, bool allow_star) {
  if (!lx_.expect('(', "expected '(' before a flag list")) return false;
  std::size_t n = 0;
  for (;;) {
    while (lx_.eat(' ')) {
    }
    if (lx_.eat(')')) return true;
    std::string_view f;
    if (!flag(f, allow_star)) return false;
    if (!count_item(n)) return false;
    out.insert(f);
  }
}

// sequence-set without `*` (uid-set, RFC 4315 §4; known-uids). Runs are collected, sorted
// and added in ascending order so hostile descending input stays O(n log n).
bool Grammar::uid_set(SeqSet& out, std::vector<UidRun>* runs) {
  auto& ranges = scratch_.ranges;
  ranges.clear();
  std::size_t n = 0;
  for (;;) {
    if (lx_.peek() == '*') return fail("'*' is not allowed in this set");
    auto a = lx_.nz_number();
    if (!a) return false;
    std::uint32_t b = *a;
    if (lx_.eat(':')) {
      if (lx_.peek() == '*') return fail("'*' is not allowed in this set");
      auto bb = lx_.nz_number();
      if (!bb) return false;
      b = *bb;
    }
    if (!count_item(n)) return false;
    if (runs != nullptr) runs->push_back(UidRun{*a, b});
    ranges.push_back(Range{std::min(*a, b), std::max(*a, b)});
    if (!lx_.eat(',')) break;
  }
  std::sort(ranges.begin(), ranges.end(), [](const Range& x, const Range& y) { return x.lo < y.lo; });
  for (const auto& r : ranges) out.add(r.lo, r.hi);
  return true;
}

bool Grammar::resp_code(ResponseCode& code) {
  lx_.eat('[');
  const std::string_view t = lx_.text();
  // The code ends at the first `]` on this line.
  std::size_t close = lx_.pos();
  while (close < t.size() && t[close] != ']' && t[close] != '\r' && t[close] != '\n') ++close;
  if (close >= t.size() || t[close] != ']') return fail("response code without closing ']'");
  const std::size_t atom_pos = lx_.pos();
  std::size_t p = atom_pos;
  while (p < close && chars::is_atom_char(static_cast<unsigned char>(t[p]))) ++p;
  if (p == atom_pos) return fail("expected a response code name after '['");
  const std::string_view name = t.substr(atom_pos, p - atom_pos);
  code.atom.assign(name);
  std::size_t args = p;
  if (args < close && t[args] == ' ') ++args;
  code.raw.assign(t.substr(args, close - args));

  using K = ResponseCode::Kind;
  static constexpr std::pair<std::string_view, K> kSimple[] = {
      {"ALERT", K::Alert}, {"PARSE", K::Parse}, {"READ-ONLY", K::ReadOnly},
      {"READ-WRITE", K::ReadWrite}, {"TRYCREATE", K::TryCreate}, {"NOMODSEQ", K::NoModSeq},
      {"CLOSED", K::Closed}, {"UIDNOTSTICKY", K::UidNotSticky},
      {"ALREADYEXISTS", K::AlreadyExists}, {"NONEXISTENT", K::NonExistent},
      {"OVERQUOTA", K::OverQuota}, {"LIMIT", K::Limit}, {"INUSE", K::InUse},
      {"EXPUNGEISSUED", K::ExpungeIssued}, {"COMPRESSIONACTIVE", K::CompressionActive},
      {"NOTIFICATIONOVERFLOW", K::NotificationOverflow}, {"BADEVENT", K::BadEvent},
      {"AUTHENTICATIONFAILED", K::AuthenticationFailed}, {"UNAVAILABLE", K::Unavailable},
      {"EXPIRED", K::Expired}, {"PRIVACYREQUIRED", K::PrivacyRequired},
      {"CONTACTADMIN", K::ContactAdmin}};
  code.kind = K::Other;
  for (const auto& [n, k] : kSimple) {
    if (iequals(name, n)) code.kind = k;
  }
  // Structured arguments are parsed with a lexer that ends at `]`.
  Lexer outer = lx_;
  lx_ = Lexer(t.substr(0, close), p);
  bool ok = true;
  auto arg = [&]() { return lx_.sp(); };
  if (iequals(name, "CAPABILITY")) {
    code.kind = K::Capability;
    ok = atom_list(code.capabilities);
  } else if (iequals(name, "BADCHARSET")) {
    code.kind = K::BadCharset;
    if (lx_.eat(' ') && lx_.eat('(')) {
      std::size_t n = 0;
      while (ok && !lx_.eat(')')) {
        while (lx_.eat(' ')) {
        }
        if (lx_.eat(')')) break;
        std::string s;
        ok = astring(s) && count_item(n);
        if (ok) code.charsets.push_back(std::move(s));
      }
    }
  } else if (iequals(name, "PERMANENTFLAGS")) {
    code.kind = K::PermanentFlags;
    ok = arg() && flag_list(code.flags, true);
  } else if (iequals(name, "UIDNEXT") || iequals(name, "UIDVALIDITY") || iequals(name, "UNSEEN")) {
    code.kind = iequals(name, "UIDNEXT") ? K::UidNext
                : iequals(name, "UNSEEN") ? K::Unseen
                                          : K::UidValidity;
    std::optional<std::uint32_t> n;
    ok = arg() && (n = lx_.nz_number()).has_value();
    if (ok) code.number = *n;
  } else if (iequals(name, "HIGHESTMODSEQ")) {
    code.kind = K::HighestModSeq;
    std::optional<std::uint64_t> n;
    ok = arg() && (n = lx_.number64()).has_value();
    if (ok) code.modseq = ModSeq(*n);
  } else if (iequals(name, "MODIFIED")) {
    code.kind = K::Modified;
    ok = arg() && uid_set(code.set, nullptr);
  } else if (iequals(name, "APPENDUID") || iequals(name, "COPYUID")) {
    const bool copy = iequals(name, "COPYUID");
    code.kind = copy ? K::CopyUid : K::AppendUid;
    std::optional<std::uint32_t> v;
    ok = arg() && (v = lx_.nz_number()).has_value() && arg();
    if (ok) code.uidvalidity = UidValidity(*v);
    if (ok && copy) ok = uid_set(code.src_uids, &code.src_runs) && arg();
    if (ok) ok = uid_set(code.dst_uids, &code.dst_runs);
  } else if (iequals(name, "MAILBOXID")) {
    code.kind = K::MailboxId;
    ok = arg() && lx_.expect('(', "expected '(' after MAILBOXID");
    if (ok) {
      std::string_view id = lx_.atom();
      ok = !id.empty() && lx_.expect(')', "expected ')' after the mailbox id");
      if (ok) code.mailbox_id.assign(id);
    }
  } else {
    lx_.set_pos(close);  // simple or unknown code: arguments kept in `raw`
  }
  if (ok) {
    while (lx_.eat(' ')) {
    }
    if (!lx_.at_end()) ok = fail("unexpected text in response code");
  }
  if (!ok) {
    outer.fail_at(lx_.error_pos(), lx_.error_what() != nullptr ? lx_.error_what() : "bad response code");
    lx_ = outer;
    return false;
  }
  lx_ = outer;
  lx_.set_pos(close + 1);
  return true;
}

bool Grammar::untagged(Response& out) {
  if (chars::is_digit(static_cast<unsigned char>(lx_.peek()))) {
    auto n = lx_.number();
    if (!n || !lx_.sp()) return false;
    return numbered(*n, out);
  }
  const std::size_t kw_pos = lx_.pos();
  const std::string_view kw = lx_.atom();
  if (kw.empty()) return false;
  struct CondName {
    std::string_view name;
    Cond cond;
  };
  static constexpr CondName kConds[] = {{"OK", Cond::Ok}, {"NO", Cond::No}, {"BAD", Cond::Bad},
                                        {"BYE", Cond::Bye}, {"PREAUTH", Cond::Preauth}};
  for (const auto& c : kConds) {
    if (iequals(kw, c.name)) {
      auto& r = fresh<Condition>(out);
      r.cond = c.cond;
      return resp_text(r.code, r.text);
    }
  }
  if (iequals(kw, "CAPABILITY") || iequals(kw, "ENABLED")) {
    std::vector<std::string>* caps = nullptr;
    if (iequals(kw, "CAPABILITY")) {
      caps = &fresh<CapabilityData>(out).capabilities;
    } else {
      caps = &fresh<EnabledData>(out).capabilities;
    }
    return atom_list(*caps) && end_of_response();
  }
  if (iequals(kw, "FLAGS")) {
    return lx_.sp() && flag_list(fresh<FlagsData>(out).flags, false) && end_of_response();
  }
  if (iequals(kw, "LIST")) return list(ListData::Kind::List, out);
  if (iequals(kw, "LSUB")) return list(ListData::Kind::Lsub, out);
  if (iequals(kw, "XLIST")) return list(ListData::Kind::Xlist, out);
  if (iequals(kw, "STATUS")) return status(out);
  if (iequals(kw, "SEARCH")) return search(out);
  if (iequals(kw, "ESEARCH")) return esearch(out);
  if (iequals(kw, "NAMESPACE")) return namespace_data(out);
  if (iequals(kw, "ID")) return id(out);
  if (iequals(kw, "VANISHED")) return vanished(out);
  (void)kw_pos;
  auto& u = fresh<UnknownData>(out);
  u.name.assign(kw);
  lx_.eat(' ');
  u.raw.assign(rest_of_response());
  return true;
}

bool Grammar::numbered(std::uint32_t n, Response& out) {
  const std::size_t kw_pos = lx_.pos();
  const std::string_view kw = lx_.atom();
  if (kw.empty()) return false;
  if (iequals(kw, "FETCH")) {
    if (n == 0) {
      lx_.set_pos(kw_pos);
      return fail("FETCH with sequence number 0");
    }
    return fetch(n, out);
  }
  if (iequals(kw, "EXISTS")) {
    fresh<ExistsData>(out).count = n;
    return end_of_response();
  }
  if (iequals(kw, "RECENT")) {
    fresh<RecentData>(out).count = n;
    return end_of_response();
  }
  if (iequals(kw, "EXPUNGE")) {
    if (n == 0) {
      lx_.set_pos(kw_pos);
      return fail("EXPUNGE with sequence number 0");
    }
    fresh<ExpungeData>(out).seq = SeqNum(n);
    return end_of_response();
  }
  auto& u = fresh<UnknownData>(out);
  u.name.assign(kw);
  u.number = n;
  lx_.eat(' ');
  u.raw.assign(rest_of_response());
  return true;
}

// literal = "{" number64 "}" CRLF *CHAR8 ; literal8 = "~{" number64 "}" CRLF *OCTET
bool Grammar::literal(std::string& out, bool allow_streamed, bool* streamed, std::uint64_t* size) {
  const std::size_t start = lx_.pos();
  auto n = lx_.literal_header();
  if (!n) return false;
  const std::size_t payload = lx_.pos();
  if (size != nullptr) *size = *n;
  if (next_streamed_ < streamed_.size() && streamed_[next_streamed_].payload_pos == payload) {
    ++next_streamed_;
    if (!allow_streamed) {
      lx_.set_pos(start);
      return fail("a streamed literal where no message body is allowed");
    }
    if (streamed != nullptr) *streamed = true;
    out.clear();
    return true;
  }
  const std::size_t avail = lx_.text().size() - payload;
  if (*n > avail) {
    lx_.set_pos(start);
    return fail("literal longer than the response");  // the framer guarantees otherwise
  }
  out.assign(lx_.text().substr(payload, static_cast<std::size_t>(*n)));
  lx_.set_pos(payload + static_cast<std::size_t>(*n));
  return true;
}

bool Grammar::string(std::string& out) {
  const char c = lx_.peek();
  if (c == '"') return lx_.quoted(out);
  if (c == '{' || c == '~') return literal(out, false, nullptr, nullptr);
  return fail("expected a string");
}

bool Grammar::nstring(std::optional<std::string>& out) {
  if (lx_.eat_word("NIL")) {
    out.reset();
    return true;
  }
  out.emplace();
  return string(*out);
}

bool Grammar::astring(std::string& out) {
  const char c = lx_.peek();
  if (c == '"' || c == '{' || c == '~') return string(out);
  std::string_view a = lx_.astring_atom();
  if (a.empty()) return false;
  out.assign(a);
  return true;
}

bool Grammar::mailbox(std::string& out) {
  const char c = lx_.peek();
  if (c == '"' || c == '{' || c == '~') return string(out);
  const std::string_view t = lx_.text();
  std::size_t p = lx_.pos();
  const std::size_t start = p;
  while (p < t.size() && is_lenient_name_char(static_cast<unsigned char>(t[p]))) ++p;
  if (p == start) return fail("expected a mailbox name");
  out.assign(t.substr(start, p - start));
  lx_.set_pos(p);
  return true;
}

// Skips one value of any shape (atom, number, NIL, string, literal, nested list) with an
// explicit depth counter: no recursion, bounded by max_depth.
bool Grammar::skip_value() {
  std::uint32_t depth = 0;
  const std::string_view t = lx_.text();
  for (;;) {
    const char c = lx_.peek();
    if (c == '(') {
      if (++depth > limits_.max_depth) return fail("lists nested too deeply (limit max_depth)");
      lx_.eat('(');
      continue;
    }
    if (c == ')') {
      if (depth == 0) return fail("unexpected ')'");
      lx_.eat(')');
      if (--depth == 0) return true;
      continue;
    }
    if (c == ' ' && depth > 0) {
      lx_.eat(' ');
      continue;
    }
    if (c == '"') {
      if (!lx_.quoted(scratch_.str)) return false;
    } else if (c == '{' || (c == '~' && lx_.peek_at(1) == '{')) {
      if (!literal(scratch_.str, false, nullptr, nullptr)) return false;
    } else {
      std::size_t p = lx_.pos();
      const std::size_t start = p;
      while (p < t.size()) {
        const char d = t[p];
        if (d == ' ' || d == '(' || d == ')' || d == '\r' || d == '\n' || d == '"' || d == '{') break;
        if (d == '[') {  // section text such as BODY[HEADER.FIELDS (A B)]
          while (p < t.size() && t[p] != ']' && t[p] != '\r' && t[p] != '\n') ++p;
          if (p < t.size() && t[p] == ']') ++p;
          continue;
        }
        ++p;
      }
      if (p == start) return fail("expected a value");
      lx_.set_pos(p);
    }
    if (depth == 0) return true;
  }
}

bool Grammar::raw_value(std::string& out) {
  const std::size_t start = lx_.pos();
  if (!skip_value()) return false;
  out.assign(lx_.text().substr(start, lx_.pos() - start));
  return true;
}

// msg-att = "(" (msg-att-dynamic / msg-att-static) *(SP …) ")"
bool Grammar::fetch(std::uint32_t seq, Response& out) {
  FetchData* fp = std::get_if<FetchData>(&out);
  if (fp == nullptr) {
    fp = &out.emplace<FetchData>();
  } else {
    fp->clear();
  }
  FetchData& f = *fp;
  f.seq = SeqNum(seq);
  if (!lx_.sp() || !lx_.expect('(', "expected '(' after FETCH")) return false;
  std::size_t n = 0;
  for (;;) {
    while (lx_.eat(' ')) {
    }
    if (lx_.eat(')')) break;
    if (!count_item(n) || !fetch_item(f)) return false;
    if (lx_.peek() != ' ' && lx_.peek() != ')') return fail("expected ' ' or ')' after a FETCH item");
  }
  return end_of_response();
}

bool Grammar::fetch_item(FetchData& f) {
  const std::string_view t = lx_.text();
  const std::size_t name_pos = lx_.pos();
  std::size_t p = name_pos;
  while (p < t.size() && is_name_char(static_cast<unsigned char>(t[p]))) ++p;
  if (p == name_pos) return fail("expected a FETCH item name");
  const std::string_view name = t.substr(name_pos, p - name_pos);
  lx_.set_pos(p);
  std::optional<std::string_view> section;
  std::optional<std::uint32_t> origin;
  if (lx_.peek() == '[') {
    // section = "[" [section-spec] "]"; header names may be quoted strings.
    std::size_t q = p + 1;
    bool in_quote = false;
    while (q < t.size() && (in_quote || t[q] != ']') && t[q] != '\r' && t[q] != '\n') {
      if (t[q] == '"') in_quote = !in_quote;
      if (in_quote && t[q] == '\\') ++q;
      ++q;
    }
    if (q >= t.size() || t[q] != ']') return fail("FETCH section without closing ']'");
    section = t.substr(p + 1, q - p - 1);
    lx_.set_pos(q + 1);
    if (lx_.eat('<')) {
      origin = lx_.number();
      if (!origin || !lx_.expect('>', "expected '>' after the partial origin")) return false;
    }
  }
  if (!lx_.sp()) return false;
  const std::size_t value_pos = lx_.pos();
  if (section) {
    if (iequals(name, "BODY") || iequals(name, "BINARY")) return fetch_body(f, name, *section, origin);
    if (iequals(name, "BINARY.SIZE")) {
      f.other.emplace_back();
      f.other.back().name.assign(t.substr(name_pos, value_pos - 1 - name_pos));
      return raw_value(f.other.back().raw);
    }
  } else if (iequals(name, "UID")) {
    auto u = lx_.nz_number();
    if (!u) return false;
    f.uid = Uid(*u);
    return true;
  } else if (iequals(name, "FLAGS")) {
    f.has_flags = true;
    return flag_list(f.flags, false);
  } else if (iequals(name, "MODSEQ")) {
    // permsg-modsequence: "(" mod-sequence-value ")"; parsed as uint64 (PROTOCOL.md §3).
    if (!lx_.expect('(', "expected '(' after MODSEQ")) return false;
    auto m = lx_.number64();
    if (!m || !lx_.expect(')', "expected ')' after the mod-sequence")) return false;
    f.modseq = ModSeq(*m);
    return true;
  } else if (iequals(name, "INTERNALDATE")) {
    return nstring(f.internal_date);
  } else if (iequals(name, "RFC822.SIZE")) {
    auto s = lx_.number64();
    if (!s) return false;
    f.rfc822_size = *s;
    return true;
  } else if (iequals(name, "RFC822") || iequals(name, "RFC822.HEADER") ||
             iequals(name, "RFC822.TEXT")) {
    return fetch_body(f, name, "", std::nullopt);
  } else if (iequals(name, "ENVELOPE")) {
    f.envelope.emplace();
    return envelope(*f.envelope);
  } else if (iequals(name, "BODYSTRUCTURE") || iequals(name, "BODY")) {
    f.bodystructure.emplace();
    return raw_value(*f.bodystructure);
  } else if (iequals(name, "EMAILID") || iequals(name, "THREADID")) {
    auto& dst = iequals(name, "EMAILID") ? f.email_id : f.thread_id;
    if (lx_.eat_word("NIL")) {
      dst.reset();
      return true;
    }
    if (!lx_.expect('(', "expected '(' before an object id")) return false;
    std::string_view id = lx_.atom();
    if (id.empty() || !lx_.expect(')', "expected ')' after an object id")) return false;
    dst.emplace(id);
    return true;
  } else if (iequals(name, "X-GM-MSGID") || iequals(name, "X-GM-THRID")) {
    auto v = lx_.number64();
    if (!v) return false;
    (iequals(name, "X-GM-MSGID") ? f.gm_msgid : f.gm_thrid) = *v;
    return true;
  } else if (iequals(name, "X-GM-LABELS")) {
    f.gm_labels.emplace();
    if (!lx_.expect('(', "expected '(' after X-GM-LABELS")) return false;
    std::size_t n = 0;
    for (;;) {
      while (lx_.eat(' ')) {
      }
      if (lx_.eat(')')) return true;
      std::string label;
      if (lx_.peek() == '\\') {
        std::string_view fl;
        if (!flag(fl, false)) return false;
        label.assign(fl);
      } else if (!astring(label)) {
        return false;
      }
      if (!count_item(n)) return false;
      f.gm_labels->push_back(std::move(label));
    }
  }
  f.other.emplace_back();
  f.other.back().name.assign(t.substr(name_pos, value_pos - 1 - name_pos));
  return raw_value(f.other.back().raw);
}

bool Grammar::fetch_body(FetchData& f, std::string_view name, std::string_view section,
                         std::optional<std::uint32_t> origin) {
  f.bodies.emplace_back();
  FetchBody& b = f.bodies.back();
  b.item.assign(name);
  for (char& ch : b.item) ch = chars::to_upper(ch);
  b.section.assign(section);
  b.origin = origin;
  const char c = lx_.peek();
  if (c == '{' || c == '~') {
    std::string data;
    if (!literal(data, true, &b.streamed, &b.size)) return false;
    if (!b.streamed) b.data = std::move(data);
    return true;
  }
  // Yahoo sends small sections as quoted strings (PROTOCOL.md §5); NIL for missing parts.
  if (!nstring(b.data)) return false;
  b.size = b.data ? b.data->size() : 0;
  return true;
}

// envelope = "(" env-date SP env-subject SP env-from SP env-sender SP env-reply-to SP env-to
//            SP env-cc SP env-bcc SP env-in-reply-to SP env-message-id ")"
bool Grammar::envelope(Envelope& e) {
  if (!lx_.expect('(', "expected '(' to start ENVELOPE")) return false;
  if (!nstring(e.date) || !lx_.sp() || !nstring(e.subject)) return false;
  for (auto* list : {&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc}) {
    if (!lx_.sp() || !address_list(*list)) return false;
  }
  if (!lx_.sp() || !nstring(e.in_reply_to) || !lx_.sp() || !nstring(e.message_id)) return false;
  return lx_.expect(')', "expected ')' to end ENVELOPE");
}

// env-from = "(" 1*address ")" / nil ; address = "(" addr-name SP addr-adl SP addr-mailbox SP
// addr-host ")". Spaces between addresses are tolerated.
bool Grammar::address_list(std::vector<Address>& out) {
  if (lx_.eat_word("NIL")) return true;
  if (!lx_.expect('(', "expected '(' or NIL for an address list")) return false;
  std::size_t n = 0;
  for (;;) {
    while (lx_.eat(' ')) {
    }
    if (lx_.eat(')')) return true;
    if (!lx_.expect('(', "expected '(' to start an address") || !count_item(n)) return false;
    Address a;
    if (!nstring(a.name) || !lx_.sp() || !nstring(a.adl) || !lx_.sp() || !nstring(a.mailbox) ||
        !lx_.sp() || !nstring(a.host) || !lx_.expect(')', "expected ')' to end an address")) {
      return false;
    }
    out.push_back(std::move(a));
  }
}

bool Grammar::delimiter(std::optional<char>& out) {
  if (lx_.eat_word("NIL")) {
    out.reset();
    return true;
  }
  const std::size_t start = lx_.pos();
  if (!lx_.quoted(scratch_.str)) return false;
  if (scratch_.str.size() != 1) {
    lx_.set_pos(start);
    return fail("hierarchy delimiter must be one character or NIL");
  }
  out = scratch_.str[0];
  return true;
}

// mailbox-list = "(" [mbx-list-flags] ")" SP (DQUOTE QUOTED-CHAR DQUOTE / nil) SP mailbox
//                [SP mbox-list-extended]
bool Grammar::list(ListData::Kind kind, Response& out) {
  auto& l = fresh<ListData>(out);
  l.kind = kind;
  if (!lx_.sp() || !lx_.expect('(', "expected '(' before LIST attributes")) return false;
  std::size_t n = 0;
  for (;;) {
    while (lx_.eat(' ')) {
    }
    if (lx_.eat(')')) break;
    std::string_view f;
    if (!flag(f, false) || !count_item(n)) return false;
    l.attributes.emplace_back(f);
  }
  if (!lx_.sp() || !delimiter(l.delimiter) || !lx_.sp() || !mailbox(l.mailbox)) return false;
  if (lx_.peek() == ' ' && lx_.peek_at(1) == '(') {
    lx_.eat(' ');
    if (!list_extended(l)) return false;
  }
  return end_of_response();
}

// mbox-list-extended = "(" [mbox-list-extended-item *(SP mbox-list-extended-item)] ")"
// mbox-list-extended-item = mbox-list-extended-item-tag SP tagged-ext-val (RFC 5258 §9)
bool Grammar::list_extended(ListData& l) {
  lx_.eat('(');
  std::size_t n = 0;
  for (;;) {
    while (lx_.eat(' ')) {
    }
    if (lx_.eat(')')) return true;
    std::string tag;
    if (!astring(tag) || !lx_.sp() || !count_item(n)) return false;
    if (iequals(tag, "CHILDINFO") || iequals(tag, "OLDNAME")) {
      const bool oldname = iequals(tag, "OLDNAME");
      if (!lx_.expect('(', "expected '(' after CHILDINFO/OLDNAME")) return false;
      for (;;) {
        while (lx_.eat(' ')) {
        }
        if (lx_.eat(')')) break;
        std::string v;
        if (!(oldname ? mailbox(v) : astring(v)) || !count_item(n)) return false;
        if (oldname) {
          l.old_name = std::move(v);
        } else {
          l.child_info.push_back(std::move(v));
        }
      }
    } else {
      ListExtended x;
      x.tag = std::move(tag);
      if (!raw_value(x.raw)) return false;
      l.extended.push_back(std::move(x));
    }
  }
}

// mailbox-data =/ "STATUS" SP mailbox SP "(" [status-att-list] ")"
bool Grammar::status(Response& out) {
  auto& s = fresh<StatusData>(out);
  if (!lx_.sp() || !mailbox(s.mailbox)) return false;
  while (lx_.eat(' ')) {
  }
  if (!lx_.expect('(', "expected '(' before STATUS items")) return false;
  std::size_t n = 0;
  for (;;) {
    while (lx_.eat(' ')) {
    }
    if (lx_.eat(')')) break;
    const std::string_view name = lx_.atom();
    if (name.empty() || !lx_.sp() || !count_item(n)) return false;
    const std::size_t vpos = lx_.pos();
    auto num32 = [&](std::optional<std::uint32_t>& dst) {
      auto v = lx_.number();
      if (v) dst = *v;
      return v.has_value();
    };
    bool ok = true;
    if (iequals(name, "MESSAGES")) {
      ok = num32(s.messages);
    } else if (iequals(name, "RECENT")) {
      ok = num32(s.recent);
    } else if (iequals(name, "UNSEEN")) {
      ok = num32(s.unseen);
    } else if (iequals(name, "DELETED")) {
      ok = num32(s.deleted);
    } else if (iequals(name, "UIDNEXT") || iequals(name, "UIDVALIDITY")) {
      auto v = lx_.nz_number();
      ok = v.has_value();
      if (ok && iequals(name, "UIDNEXT")) s.uid_next = Uid(*v);
      if (ok && !iequals(name, "UIDNEXT")) s.uid_validity = UidValidity(*v);
    } else if (iequals(name, "HIGHESTMODSEQ") || iequals(name, "SIZE")) {
      auto v = lx_.number64();
      ok = v.has_value();
      if (ok && iequals(name, "SIZE")) s.size = *v;
      if (ok && !iequals(name, "SIZE")) s.highest_modseq = ModSeq(*v);
    } else if (iequals(name, "MAILBOXID")) {
      ok = lx_.expect('(', "expected '(' after MAILBOXID");
      std::string_view id;
      if (ok) ok = !(id = lx_.atom()).empty() && lx_.expect(')', "expected ')' after MAILBOXID");
      if (ok) s.mailbox_id.emplace(id);
    } else {
      s.other.emplace_back();
      s.other.back().name.assign(name);
      ok = raw_value(s.other.back().raw);
    }
    if (!ok) return false;
    (void)vpos;
  }
  return end_of_response();
}

// mailbox-data =/ "SEARCH" *(SP nz-number) [SP "(" "MODSEQ" SP mod-sequence-value ")"]
bool Grammar::search(Response& out) {
  auto& s = fresh<SearchData>(out);
  auto& ranges = scratch_.ranges;
  ranges.clear();
  std::size_t n = 0;
  while (lx_.eat(' ')) {
    if (lx_.at_eol() || lx_.peek() == ' ') continue;
    if (lx_.eat('(')) {
      if (!lx_.eat_word("MODSEQ")) return fail("expected MODSEQ in a SEARCH result");
      std::optional<std::uint64_t> m;
      if (!lx_.sp() || !(m = lx_.number64()) || !lx_.expect(')', "expected ')' after MODSEQ")) {
        return false;
      }
      s.modseq = ModSeq(*m);
      continue;
    }
    auto v = lx_.nz_number();
    if (!v || !count_item(n)) return false;
    if (!ranges.empty() && ranges.back().hi + std::uint64_t{1} == *v) {
      ranges.back().hi = *v;
    } else {
      ranges.push_back(Range{*v, *v});
    }
  }
  std::sort(ranges.begin(), ranges.end(), [](const Range& x, const Range& y) { return x.lo < y.lo; });
  for (const auto& r : ranges) s.ids.add(r.lo, r.hi);
  return end_of_response();
}

// esearch-response = "ESEARCH" [search-correlator] [SP "UID"] *(SP search-return-data)
bool Grammar::esearch(Response& out) {
  auto& e = fresh<ESearchData>(out);
  std::size_t n = 0;
  while (lx_.eat(' ')) {
    if (lx_.at_eol()) break;
    if (lx_.eat('(')) {
      if (!lx_.eat_word("TAG") || !lx_.sp()) return fail("expected (TAG \"tag\") in ESEARCH");
      e.tag.emplace();
      if (!astring(*e.tag) || !lx_.expect(')', "expected ')' after the ESEARCH tag")) return false;
      continue;
    }
    const std::string_view name = lx_.atom();
    if (name.empty() || !count_item(n)) return false;
    if (iequals(name, "UID")) {
      e.uid = true;
      continue;
    }
    if (!lx_.sp()) return false;
    if (iequals(name, "MIN") || iequals(name, "MAX") || iequals(name, "COUNT")) {
      auto v = iequals(name, "COUNT") ? lx_.number() : lx_.nz_number();
      if (!v) return false;
      (iequals(name, "MIN") ? e.min : iequals(name, "MAX") ? e.max : e.count) = *v;
    } else if (iequals(name, "ALL")) {
      e.all.emplace();
      if (!uid_set(*e.all, nullptr)) return false;
    } else if (iequals(name, "MODSEQ")) {
      auto v = lx_.number64();
      if (!v) return false;
      e.modseq = ModSeq(*v);
    } else {
      e.other.emplace_back();
      e.other.back().name.assign(name);
      if (!raw_value(e.other.back().raw)) return false;
    }
  }
  return end_of_response();
}

// Namespace = nil / "(" 1*Namespace-Descr ")" ;
// Namespace-Descr = "(" string SP (DQUOTE QUOTED-CHAR DQUOTE / nil) *(Namespace-Response-Extension) ")"
bool Grammar::namespace_list(std::vector<NamespaceDesc>& out) {
  if (lx_.eat_word("NIL")) return true;
  if (!lx_.expect('(', "expected '(' or NIL in NAMESPACE")) return false;
  std::size_t n = 0;
  for (;;) {
    while (lx_.eat(' ')) {
    }
    if (lx_.eat(')')) return true;
    if (!lx_.expect('(', "expected '(' to start a namespace") || !count_item(n)) return false;
    NamespaceDesc d;
    if (!string(d.prefix) || !lx_.sp() || !delimiter(d.delimiter)) return false;
    const std::size_t ext = lx_.pos();
    while (lx_.peek() == ' ') {
      lx_.eat(' ');
      if (!skip_value()) return false;
    }
    d.extensions_raw.assign(lx_.text().substr(ext, lx_.pos() - ext));
    if (!d.extensions_raw.empty()) d.extensions_raw.erase(0, 1);
    if (!lx_.expect(')', "expected ')' to end a namespace")) return false;
    out.push_back(std::move(d));
  }
}

bool Grammar::namespace_data(Response& out) {
  auto& ns = fresh<NamespaceData>(out);
  return lx_.sp() && namespace_list(ns.personal) && lx_.sp() && namespace_list(ns.other_users) &&
         lx_.sp() && namespace_list(ns.shared) && end_of_response();
}

// id-response = "ID" SP id-params-list ;
// id-params-list = "(" *(string SP nstring) ")" / nil   (RFC 2971 §4)
bool Grammar::id(Response& out) {
  auto& d = fresh<IdData>(out);
  if (!lx_.sp()) return false;
  if (lx_.eat_word("NIL")) return end_of_response();
  if (!lx_.expect('(', "expected '(' or NIL after ID")) return false;
  std::size_t n = 0;
  for (;;) {
    while (lx_.eat(' ')) {
    }
    if (lx_.eat(')')) break;
    std::pair<std::string, std::optional<std::string>> kv;
    if (!string(kv.first) || !lx_.sp() || !nstring(kv.second) || !count_item(n)) return false;
    d.params.push_back(std::move(kv));
  }
  return end_of_response();
}

// expunged-resp = "VANISHED" [SP "(EARLIER)"] SP known-uids   (RFC 7162 §7)
bool Grammar::vanished(Response& out) {
  auto& v = fresh<VanishedData>(out);
  if (!lx_.sp()) return false;
  if (lx_.eat('(')) {
    if (!lx_.eat_word("EARLIER") || !lx_.expect(')', "expected ')' after EARLIER")) {
      return fail("expected (EARLIER) in VANISHED");
    }
    v.earlier = true;
    if (!lx_.sp()) return false;
  }
  return uid_set(v.uids, nullptr) && end_of_response();
}

}  // namespace

bool parse_response_text(std::string_view text, const std::vector<StreamedLiteral>& streamed,
                         const ParserLimits& limits, GrammarScratch& scratch, Response& out,
                         GrammarError& err) {
  Grammar g(text, streamed, limits, scratch);
  if (g.parse(out) && !g.lexer().failed()) return true;
  err.pos = g.lexer().error_pos();
  err.what = g.lexer().error_what() != nullptr ? g.lexer().error_what() : "malformed response";
  return false;
}

}  // namespace detail

namespace {

struct Describer {
  std::ostringstream os;
  void code(const ResponseCode& c) {
    if (c.kind != ResponseCode::Kind::None) os << " [" << c.atom << (c.raw.empty() ? "" : " ") << c.raw << "]";
  }
  void operator()(const Tagged& r) {
    os << r.tag << ' ' << to_string(r.cond);
    code(r.code);
    os << ' ' << r.text;
  }
  void operator()(const Condition& r) {
    os << "* " << to_string(r.cond);
    code(r.code);
    os << ' ' << r.text;
  }
  void operator()(const Continuation& r) { os << "+ " << r.text; }
  void operator()(const CapabilityData& r) {
    os << "* CAPABILITY";
    for (const auto& c : r.capabilities) os << ' ' << c;
  }
  void operator()(const EnabledData& r) {
    os << "* ENABLED";
    for (const auto& c : r.capabilities) os << ' ' << c;
  }
  void operator()(const ExistsData& r) { os << "* " << r.count << " EXISTS"; }
  void operator()(const RecentData& r) { os << "* " << r.count << " RECENT"; }
  void operator()(const ExpungeData& r) { os << "* " << r.seq << " EXPUNGE"; }
  void operator()(const VanishedData& r) {
    os << "* VANISHED " << (r.earlier ? "(EARLIER) " : "") << r.uids.to_string();
  }
  void operator()(const FetchData& r) {
    os << "* " << r.seq << " FETCH (";
    if (r.uid) os << "UID " << *r.uid << ' ';
    if (r.has_flags) os << "FLAGS " << r.flags << ' ';
    if (r.modseq) os << "MODSEQ (" << *r.modseq << ") ";
    if (r.rfc822_size) os << "RFC822.SIZE " << *r.rfc822_size << ' ';
    for (const auto& b : r.bodies) {
      os << b.item << '[' << b.section << "] " << (b.streamed ? "streamed " : "") << b.size << " octets ";
    }
    for (const auto& o : r.other) os << o.name << ' ' << o.raw << ' ';
    os << ')';
  }
  void operator()(const ListData& r) {
    os << "* LIST (";
    for (const auto& a : r.attributes) os << a << ' ';
    os << ") " << (r.delimiter ? std::string(1, *r.delimiter) : "NIL") << ' ' << r.mailbox;
  }
  void operator()(const StatusData& r) { os << "* STATUS " << r.mailbox; }
  void operator()(const SearchData& r) { os << "* SEARCH " << r.ids.to_string(); }
  void operator()(const ESearchData& r) {
    os << "* ESEARCH" << (r.uid ? " UID" : "");
    if (r.all) os << " ALL " << r.all->to_string();
  }
  void operator()(const NamespaceData&) { os << "* NAMESPACE"; }
  void operator()(const IdData& r) { os << "* ID (" << r.params.size() << " params)"; }
  void operator()(const FlagsData& r) { os << "* FLAGS " << r.flags; }
  void operator()(const UnknownData& r) { os << "* " << r.name << ' ' << r.raw; }
};

}  // namespace

std::string describe(const Response& r) {
  Describer d;
  std::visit(d, r);
  return d.os.str();
}

}  // namespace twinbox::imap
