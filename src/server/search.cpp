// SEARCH keys: parser and evaluator (RFC 3501 §6.4.4, RFC 7162 §3.1.5).
#include "search.hpp"

#include <algorithm>

#include "mime.hpp"

namespace twinbox::server {

bool SearchSet::contains(std::uint32_t n, std::uint32_t star_value) const {
  for (auto [a, b] : ranges) {
    std::uint32_t lo = a == kStar ? star_value : a;
    std::uint32_t hi = b == kStar ? star_value : b;
    if (lo > hi) std::swap(lo, hi);
    if (n >= lo && n <= hi) return true;
  }
  return false;
}

namespace {

std::optional<SearchSet> parse_set(std::string_view t) {
  SearchSet set;
  std::size_t pos = 0;
  while (pos <= t.size()) {
    std::size_t comma = t.find(',', pos);
    if (comma == std::string_view::npos) comma = t.size();
    std::string_view item = t.substr(pos, comma - pos);
    std::size_t colon = item.find(':');
    auto bound = [](std::string_view s) -> std::optional<std::uint32_t> {
      if (s == "*") return SearchSet::kStar;
      return parse_nz_number(s);
    };
    auto a = bound(item.substr(0, colon));
    auto b = colon == std::string_view::npos ? a : bound(item.substr(colon + 1));
    if (!a || !b || set.ranges.size() >= 100000) return std::nullopt;
    set.ranges.emplace_back(*a, *b);
    pos = comma + 1;
  }
  return set;
}

struct KeywordInfo {
  std::string_view name;
  SearchOp op;
  enum Arg { None, Str, Date, Number, Flag, Header, Set, Not, Or } arg;
};

constexpr KeywordInfo kKeywords[] = {
    {"ALL", SearchOp::All, KeywordInfo::None},
    {"ANSWERED", SearchOp::Answered, KeywordInfo::None},
    {"BCC", SearchOp::Bcc, KeywordInfo::Str},
    {"BEFORE", SearchOp::Before, KeywordInfo::Date},
    {"BODY", SearchOp::Body, KeywordInfo::Str},
    {"CC", SearchOp::Cc, KeywordInfo::Str},
    {"DELETED", SearchOp::Deleted, KeywordInfo::None},
    {"DRAFT", SearchOp::Draft, KeywordInfo::None},
    {"FLAGGED", SearchOp::Flagged, KeywordInfo::None},
    {"FROM", SearchOp::From, KeywordInfo::Str},
    {"HEADER", SearchOp::Header, KeywordInfo::Header},
    {"KEYWORD", SearchOp::Keyword, KeywordInfo::Flag},
    {"LARGER", SearchOp::Larger, KeywordInfo::Number},
    {"NEW", SearchOp::New, KeywordInfo::None},
    {"NOT", SearchOp::Not, KeywordInfo::Not},
    {"OLD", SearchOp::Old, KeywordInfo::None},
    {"ON", SearchOp::On, KeywordInfo::Date},
    {"OR", SearchOp::Or, KeywordInfo::Or},
    {"RECENT", SearchOp::Recent, KeywordInfo::None},
    {"SEEN", SearchOp::Seen, KeywordInfo::None},
    {"SENTBEFORE", SearchOp::SentBefore, KeywordInfo::Date},
    {"SENTON", SearchOp::SentOn, KeywordInfo::Date},
    {"SENTSINCE", SearchOp::SentSince, KeywordInfo::Date},
    {"SINCE", SearchOp::Since, KeywordInfo::Date},
    {"SMALLER", SearchOp::Smaller, KeywordInfo::Number},
    {"SUBJECT", SearchOp::Subject, KeywordInfo::Str},
    {"TEXT", SearchOp::Text, KeywordInfo::Str},
    {"TO", SearchOp::To, KeywordInfo::Str},
    {"UID", SearchOp::Uid, KeywordInfo::Set},
    {"UNANSWERED", SearchOp::Unanswered, KeywordInfo::None},
    {"UNDELETED", SearchOp::Undeleted, KeywordInfo::None},
    {"UNDRAFT", SearchOp::Undraft, KeywordInfo::None},
    {"UNFLAGGED", SearchOp::Unflagged, KeywordInfo::None},
    {"UNKEYWORD", SearchOp::Unkeyword, KeywordInfo::Flag},
    {"UNSEEN", SearchOp::Unseen, KeywordInfo::None},
};

class SearchParser {
 public:
  SearchParser(std::span<const SearchToken> t, const SearchLimits& lim) : t_(t), lim_(lim) {}

  Result<SearchQuery> run() {
    SearchQuery q;
    q.root.op = SearchOp::And;
    if (i_ < t_.size() && is_atom("CHARSET")) {
      ++i_;
      auto cs = astring("charset name");
      if (!cs) return cs.error();
      if (!iequals(*cs, "US-ASCII") && !iequals(*cs, "UTF-8")) {
        return fail(Errc::Capability, Scope::Message,
                    "charset '" + *cs + "' is not supported; use US-ASCII or UTF-8");
      }
      q.charset = *cs;
    }
    if (i_ >= t_.size()) return error("expected a search key");
    while (i_ < t_.size()) {
      auto k = key(0);
      if (!k) return k.error();
      q.root.children.push_back(std::move(*k));
    }
    return q;
  }

 private:
  [[nodiscard]] bool is_atom(std::string_view upper_name) const {
    return t_[i_].kind == SearchToken::Kind::Atom && iequals(t_[i_].text, upper_name);
  }

  Error error(std::string what) const {
    std::string at = i_ < t_.size() ? "token " + std::to_string(i_ + 1) + " '" +
                                          t_[i_].text.substr(0, 24) + "'"
                                    : "the end of the search keys";
    return fail(Errc::Parse, Scope::Message, "SEARCH: " + what + " at " + at);
  }

  Result<std::string> astring(std::string_view what) {
    if (i_ >= t_.size() || (t_[i_].kind != SearchToken::Kind::Atom &&
                            t_[i_].kind != SearchToken::Kind::String)) {
      return error("expected " + std::string(what));
    }
    return t_[i_++].text;
  }

  Result<SearchKey> key(std::size_t depth) {
    if (depth >= lim_.max_depth) {
      return fail(Errc::Limit, Scope::Message,
                  "SEARCH: keys nested deeper than " + std::to_string(lim_.max_depth));
    }
    if (++keys_ > lim_.max_keys) {
      return fail(Errc::Limit, Scope::Message,
                  "SEARCH: more than " + std::to_string(lim_.max_keys) + " keys");
    }
    if (i_ >= t_.size()) return error("expected a search key");
    const SearchToken& tok = t_[i_];
    SearchKey k;
    if (tok.kind == SearchToken::Kind::ListOpen) {
      ++i_;
      k.op = SearchOp::And;
      while (i_ < t_.size() && t_[i_].kind != SearchToken::Kind::ListClose) {
        auto c = key(depth + 1);
        if (!c) return c.error();
        k.children.push_back(std::move(*c));
      }
      if (i_ >= t_.size()) return error("missing ')'");
      if (k.children.empty()) return error("empty parenthesised search key");
      ++i_;
      return k;
    }
    if (tok.kind != SearchToken::Kind::Atom) return error("expected a search key");
    if (tok.text == "$") {
      ++i_;
      k.op = SearchOp::Saved;
      return k;
    }
    if (!tok.text.empty() && (tok.text[0] == '*' || (tok.text[0] >= '0' && tok.text[0] <= '9'))) {
      auto set = parse_set(tok.text);
      if (!set) return error("bad sequence set");
      ++i_;
      k.op = SearchOp::SeqSet;
      k.set = std::move(*set);
      return k;
    }
    if (is_atom("MODSEQ")) {
      ++i_;
      return modseq();
    }
    const KeywordInfo* info = nullptr;
    for (const KeywordInfo& kw : kKeywords) {
      if (iequals(tok.text, kw.name)) info = &kw;
    }
    if (!info) return error("unknown search key");
    ++i_;
    k.op = info->op;
    return arguments(std::move(k), *info, depth);
  }

  Result<SearchKey> arguments(SearchKey k, const KeywordInfo& info, std::size_t depth) {
    switch (info.arg) {
      case KeywordInfo::None:
        break;
      case KeywordInfo::Str: {
        auto s = astring("a string");
        if (!s) return s.error();
        k.text = fold_case(*s);
        break;
      }
      case KeywordInfo::Header: {
        auto f = astring("a header field name");
        if (!f) return f.error();
        auto s = astring("a string");
        if (!s) return s.error();
        k.field = *f;
        k.text = fold_case(*s);
        break;
      }
      case KeywordInfo::Date: {
        auto s = astring("a date like 1-Feb-1994");
        if (!s) return s.error();
        auto d = parse_imap_date(*s);
        if (!d) {
          --i_;
          return error("bad date (expected d-Mon-yyyy, e.g. 1-Feb-1994)");
        }
        k.date = *d;
        break;
      }
      case KeywordInfo::Number: {
        auto s = astring("a number");
        if (!s) return s.error();
        auto n = parse_number64(*s);
        if (!n || s->empty() || (*s)[0] < '0' || (*s)[0] > '9') {
          --i_;
          return error("expected a number");
        }
        k.number = *n;
        break;
      }
      case KeywordInfo::Flag: {
        if (i_ >= t_.size() || t_[i_].kind != SearchToken::Kind::Atom || t_[i_].text.empty()) {
          return error("expected a keyword (flag atom)");
        }
        k.text = t_[i_++].text;
        break;
      }
      case KeywordInfo::Set: {
        if (i_ >= t_.size() || t_[i_].kind != SearchToken::Kind::Atom) {
          return error("expected a sequence set");
        }
        if (t_[i_].text == "$" && k.op == SearchOp::Uid) {  // UID $ is $ (RFC 5182 §2.3)
          ++i_;
          k.op = SearchOp::Saved;
          break;
        }
        auto set = parse_set(t_[i_].text);
        if (!set) return error("bad sequence set");
        ++i_;
        k.set = std::move(*set);
        break;
      }
      case KeywordInfo::Not:
      case KeywordInfo::Or: {
        int n = info.arg == KeywordInfo::Not ? 1 : 2;
        for (int c = 0; c < n; ++c) {
          auto child = key(depth + 1);
          if (!child) return child.error();
          k.children.push_back(std::move(*child));
        }
        break;
      }
    }
    return k;
  }

  // "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer (RFC 7162 §3.1.5)
  Result<SearchKey> modseq() {
    SearchKey k;
    k.op = SearchOp::ModSeq;
    if (i_ < t_.size() && (t_[i_].kind == SearchToken::Kind::String ||
                           (t_[i_].kind == SearchToken::Kind::Atom && !t_[i_].text.empty() &&
                            (t_[i_].text[0] < '0' || t_[i_].text[0] > '9')))) {
      k.text = t_[i_++].text;
      if (i_ >= t_.size() || t_[i_].kind != SearchToken::Kind::Atom ||
          !(iequals(t_[i_].text, "priv") || iequals(t_[i_].text, "shared") ||
            iequals(t_[i_].text, "all"))) {
        return error("expected the MODSEQ entry type priv, shared or all");
      }
      k.field = t_[i_++].text;
    }
    if (i_ >= t_.size() || t_[i_].kind != SearchToken::Kind::Atom) {
      return error("expected a mod-sequence value");
    }
    auto n = parse_number64(t_[i_].text);
    if (!n || *n > ModSeq::kMax63) return error("bad mod-sequence value");
    ++i_;
    k.number = *n;
    return k;
  }

  std::span<const SearchToken> t_;
  const SearchLimits& lim_;
  std::size_t i_ = 0;
  std::size_t keys_ = 0;
};

}  // namespace

Result<SearchQuery> parse_search(std::span<const SearchToken> tokens, const SearchLimits& limits) {
  return SearchParser(tokens, limits).run();
}

Result<std::vector<SearchToken>> tokenize_search(std::string_view s) {
  std::vector<SearchToken> out;
  std::size_t i = 0;
  auto bad = [&](std::string what) {
    return fail(Errc::Parse, Scope::Message,
                what + " at offset " + std::to_string(i) + " near '" +
                    std::string(s.substr(std::min(i, s.size()), 24)) + "'");
  };
  while (i < s.size()) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++i;
    } else if (c == '(') {
      out.push_back({SearchToken::Kind::ListOpen, ""});
      ++i;
    } else if (c == ')') {
      out.push_back({SearchToken::Kind::ListClose, ""});
      ++i;
    } else if (c == '"') {
      std::string q;
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        q += s[i++];
      }
      if (i >= s.size()) return bad("unterminated quoted string");
      ++i;
      out.push_back({SearchToken::Kind::String, std::move(q)});
    } else if (c == '{') {
      std::size_t close = s.find('}', i);
      if (close == std::string_view::npos) return bad("unterminated literal size");
      std::string_view digits = s.substr(i + 1, close - i - 1);
      if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
      auto n = parse_number64(digits);
      std::size_t data = close + 1;
      if (data + 1 < s.size() && s[data] == '\r' && s[data + 1] == '\n') data += 2;
      else if (data < s.size() && s[data] == '\n') data += 1;
      else return bad("literal size must be followed by CRLF");
      if (!n || *n > s.size() - data) return bad("literal longer than the input");
      out.push_back({SearchToken::Kind::String, std::string(s.substr(data, *n))});
      i = data + static_cast<std::size_t>(*n);
    } else {
      std::size_t b = i;
      while (i < s.size() && s[i] != ' ' && s[i] != '(' && s[i] != ')' && s[i] != '"' &&
             s[i] != '\t' && s[i] != '\r' && s[i] != '\n') {
        ++i;
      }
      out.push_back({SearchToken::Kind::Atom, std::string(s.substr(b, i - b))});
    }
  }
  return out;
}

bool uses_modseq(const SearchKey& key) {
  if (key.op == SearchOp::ModSeq) return true;
  return std::any_of(key.children.begin(), key.children.end(),
                     [](const SearchKey& c) { return uses_modseq(c); });
}

bool uses_saved(const SearchKey& key) {
  if (key.op == SearchOp::Saved) return true;
  return std::any_of(key.children.begin(), key.children.end(),
                     [](const SearchKey& c) { return uses_saved(c); });
}

// ---------------------------------------------------------------------------------------------
// Evaluation.

namespace {

class Evaluator {
 public:
  Evaluator(const MessageView& m, const SearchContext& ctx) : m_(m), ctx_(ctx) {}

  bool eval(const SearchKey& k) {
    switch (k.op) {
      case SearchOp::All: return true;
      case SearchOp::And:
        return std::all_of(k.children.begin(), k.children.end(),
                           [&](const SearchKey& c) { return eval(c); });
      case SearchOp::Or:
        return std::any_of(k.children.begin(), k.children.end(),
                           [&](const SearchKey& c) { return eval(c); });
      case SearchOp::Not: return k.children.empty() || !eval(k.children.front());
      case SearchOp::SeqSet: return k.set.contains(m_.seq.value, ctx_.max_seq);
      case SearchOp::Uid: return k.set.contains(m_.uid.value, ctx_.max_uid);
      case SearchOp::Saved:
        return ctx_.saved && std::binary_search(ctx_.saved->begin(), ctx_.saved->end(), m_.uid.value);
      case SearchOp::Answered: return flag("\\Answered");
      case SearchOp::Deleted: return flag("\\Deleted");
      case SearchOp::Draft: return flag("\\Draft");
      case SearchOp::Flagged: return flag("\\Flagged");
      case SearchOp::Seen: return flag("\\Seen");
      case SearchOp::Recent: return recent();
      case SearchOp::New: return recent() && !flag("\\Seen");
      case SearchOp::Old: return !recent();
      case SearchOp::Unanswered: return !flag("\\Answered");
      case SearchOp::Undeleted: return !flag("\\Deleted");
      case SearchOp::Undraft: return !flag("\\Draft");
      case SearchOp::Unflagged: return !flag("\\Flagged");
      case SearchOp::Unseen: return !flag("\\Seen");
      case SearchOp::Keyword: return flag(k.text);
      case SearchOp::Unkeyword: return !flag(k.text);
      case SearchOp::Bcc: return header_contains("Bcc", k.text);
      case SearchOp::Cc: return header_contains("Cc", k.text);
      case SearchOp::From: return header_contains("From", k.text);
      case SearchOp::Subject: return header_contains("Subject", k.text);
      case SearchOp::To: return header_contains("To", k.text);
      case SearchOp::Header: return header_contains(k.field, k.text);
      case SearchOp::Body: return body_text().find(k.text) != std::string::npos;
      case SearchOp::Text:
        return header_text().find(k.text) != std::string::npos ||
               body_text().find(k.text) != std::string::npos;
      case SearchOp::Before: return m_.internal_date.local_date() < k.date;
      case SearchOp::On: return m_.internal_date.local_date() == k.date;
      case SearchOp::Since: return m_.internal_date.local_date() >= k.date;
      case SearchOp::SentBefore: return sent_cmp(k.date, [](auto a, auto b) { return a < b; });
      case SearchOp::SentOn: return sent_cmp(k.date, [](auto a, auto b) { return a == b; });
      case SearchOp::SentSince: return sent_cmp(k.date, [](auto a, auto b) { return a >= b; });
      case SearchOp::Larger: return m_.size > k.number;
      case SearchOp::Smaller: return m_.size < k.number;
      case SearchOp::ModSeq: return m_.modseq.value >= k.number;
    }
    return false;
  }

 private:
  bool recent() { return m_.recent || flag("\\Recent"); }

  bool flag(std::string_view name) {
    return std::any_of(m_.flags.begin(), m_.flags.end(),
                       [&](const std::string& f) { return iequals(f, name); });
  }

  const Message* message() {
    if (!loaded_) {
      loaded_ = true;
      msg_ = m_.message ? m_.message() : nullptr;
    }
    return msg_;
  }

  template <class Cmp>
  bool sent_cmp(const CivilDate& d, Cmp cmp) {
    const Message* msg = message();
    if (!msg) return false;
    auto sent = msg->sent_date();
    return sent && cmp(sent->local_date(), d);
  }

  bool header_contains(std::string_view name, const std::string& needle) {
    const Message* msg = message();
    if (!msg) return false;
    for (const HeaderField& f : msg->root().fields) {
      if (!iequals(msg->slice(f.name), name)) continue;
      if (needle.empty()) return true;
      if (fold_case(decode_rfc2047(unfold(msg->slice(f.value)))).find(needle) != std::string::npos) {
        return true;
      }
    }
    return false;
  }

  const std::string& header_text() {
    if (!header_text_) {
      header_text_.emplace();
      if (const Message* msg = message()) {
        for (const HeaderField& f : msg->root().fields) {
          *header_text_ += msg->slice(f.name);
          *header_text_ += ": ";
          *header_text_ += decode_rfc2047(unfold(msg->slice(f.value)));
          *header_text_ += '\n';
        }
        *header_text_ = fold_case(*header_text_);
      }
    }
    return *header_text_;
  }

  const std::string& body_text() {
    if (!body_text_) {
      body_text_.emplace();
      if (const Message* msg = message()) {
        std::string text;
        collect_text(*msg, msg->root(), text, 0);
        *body_text_ = fold_case(text);
      }
    }
    return *body_text_;
  }

  // Text of the leaves: text/* parts decoded and converted to UTF-8; encapsulated messages
  // contribute their decoded header too. Depth is bounded by the parser's tree depth.
  void collect_text(const Message& msg, const BodyPart& p, std::string& out, std::size_t depth) {
    if (p.is_multipart()) {
      for (const BodyPart& c : p.children) collect_text(msg, c, out, depth + 1);
      return;
    }
    if (p.is_message_rfc822()) {
      const BodyPart& inner = p.children.front();
      for (const HeaderField& f : inner.fields) {
        out += decode_rfc2047(unfold(msg.slice(f.value)));
        out += '\n';
      }
      collect_text(msg, inner, out, depth + 1);
      return;
    }
    if (!p.is_text()) return;
    std::string_view body = msg.slice(p.body);
    auto dec = decode_transfer(body, p.encoding);
    std::string raw = dec ? std::move(*dec) : std::string(body);
    out += to_utf8(raw, p.param("charset").value_or("us-ascii"));
    out += '\n';
  }

  const MessageView& m_;
  const SearchContext& ctx_;
  bool loaded_ = false;
  const Message* msg_ = nullptr;
  std::optional<std::string> header_text_;
  std::optional<std::string> body_text_;
};

}  // namespace

bool matches(const SearchKey& key, const MessageView& msg, const SearchContext& ctx) {
  Evaluator ev(msg, ctx);
  return ev.eval(key);
}

}  // namespace twinbox::server
