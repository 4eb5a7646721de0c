// Dates (RFC 5322 §3.3/§4.3, RFC 3501 §9), addresses (RFC 5322 §3.4), ENVELOPE and
// BODY/BODYSTRUCTURE serialization (RFC 3501 §7.4.2).
#include <array>
#include <charconv>
#include <cstdio>

#include "message.hpp"
#include "mime.hpp"

namespace twinbox::server {

// ---------------------------------------------------------------------------------------------
// Dates.

namespace {

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int month_index(std::string_view s) {
  if (s.size() < 3) return 0;
  for (std::size_t m = 0; m < 12; ++m) {
    if (iequals(s.substr(0, 3), kMonths[m])) return static_cast<int>(m) + 1;
  }
  return 0;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::optional<int> to_int(std::string_view s) {
  if (!all_digits(s) || s.size() > 9) return std::nullopt;
  int v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

bool valid_date(const CivilDate& d) {
  return d.year >= 1 && d.year <= 9999 && d.month >= 1 && d.month <= 12 && d.day >= 1 &&
         d.day <= days_in_month(d.year, d.month);
}

std::optional<int> zone_name(std::string_view z) {
  struct Named { std::string_view name; int minutes; };
  static constexpr Named kZones[] = {{"UT", 0},         {"UTC", 0},        {"GMT", 0},
                                     {"Z", 0},          {"EST", -5 * 60},  {"EDT", -4 * 60},
                                     {"CST", -6 * 60},  {"CDT", -5 * 60},  {"MST", -7 * 60},
                                     {"MDT", -6 * 60},  {"PST", -8 * 60},  {"PDT", -7 * 60}};
  for (const Named& n : kZones) {
    if (iequals(z, n.name)) return n.minutes;
  }
  // RFC 5322 §4.3: military zones are to be treated as "-0000".
  if (z.size() == 1 && ((z[0] >= 'A' && z[0] <= 'Z') || (z[0] >= 'a' && z[0] <= 'z'))) return 0;
  return std::nullopt;
}

std::optional<int> numeric_zone(std::string_view z) {
  if (z.size() != 5 || (z[0] != '+' && z[0] != '-') || !all_digits(z.substr(1))) return std::nullopt;
  int hh = (z[1] - '0') * 10 + (z[2] - '0');
  int mm = (z[3] - '0') * 10 + (z[4] - '0');
  if (mm > 59) return std::nullopt;
  int v = hh * 60 + mm;
  return z[0] == '-' ? -v : v;
}

bool parse_time(std::string_view t, int& h, int& mi, int& s) {
  std::size_t c1 = t.find(':');
  std::size_t c2 = t.find(':', c1 + 1);
  auto hh = to_int(t.substr(0, c1));
  auto mm = to_int(t.substr(c1 + 1, c2 == std::string_view::npos ? t.npos : c2 - c1 - 1));
  std::optional<int> ss = 0;
  if (c2 != std::string_view::npos) ss = to_int(t.substr(c2 + 1));
  if (!hh || !mm || !ss || *hh > 23 || *mm > 59 || *ss > 60) return false;
  h = *hh;
  mi = *mm;
  s = *ss;
  return true;
}

DateTime make_datetime(const CivilDate& d, int h, int mi, int s, int zone) {
  DateTime t;
  t.zone_minutes = zone;
  t.utc_seconds = days_from_civil(d) * 86400 + h * 3600 + mi * 60 + s - zone * 60;
  return t;
}

}  // namespace

std::int64_t days_from_civil(const CivilDate& d) {
  // Howard Hinnant's algorithm.
  std::int64_t y = d.year - (d.month <= 2 ? 1 : 0);
  std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  std::int64_t yoe = y - era * 400;
  std::int64_t m = d.month;
  std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d.day - 1;
  std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

CivilDate civil_from_days(std::int64_t z) {
  z += 719468;
  std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  std::int64_t doe = z - era * 146097;
  std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = yoe + era * 400;
  std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  std::int64_t mp = (5 * doy + 2) / 153;
  std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
  std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
  return CivilDate{static_cast<int>(y + (m <= 2 ? 1 : 0)), static_cast<int>(m), static_cast<int>(d)};
}

CivilDate DateTime::local_date() const {
  std::int64_t local = utc_seconds + std::int64_t{zone_minutes} * 60;
  std::int64_t days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
  return civil_from_days(days);
}

std::optional<DateTime> parse_rfc5322_date(std::string_view text) {
  // Drop comments, then split at white space and commas.
  std::string clean;
  int depth = 0;
  for (char c : text) {
    if (c == '(') ++depth;
    else if (c == ')' && depth > 0) --depth;
    else if (depth == 0) clean += (c == ',' || c == '\t' || c == '\r' || c == '\n') ? ' ' : c;
  }
  std::optional<int> day, year, zone;
  int month = 0, h = 0, mi = 0, s = 0;
  bool have_time = false;
  std::size_t pos = 0, words = 0;
  while (pos < clean.size() && words < 16) {
    while (pos < clean.size() && clean[pos] == ' ') ++pos;
    std::size_t end = clean.find(' ', pos);
    if (end == std::string::npos) end = clean.size();
    std::string_view w = std::string_view(clean).substr(pos, end - pos);
    pos = end;
    if (w.empty()) continue;
    ++words;
    if (all_digits(w)) {
      if (!day && w.size() <= 2) day = to_int(w);
      else if (!year) year = to_int(w);
    } else if (w.find(':') != std::string_view::npos) {
      have_time = parse_time(w, h, mi, s);
      if (!have_time) return std::nullopt;
    } else if (numeric_zone(w)) {
      zone = numeric_zone(w);
    } else if (month == 0 && month_index(w) != 0) {
      month = month_index(w);
    } else if (have_time && !zone) {
      zone = zone_name(w);
    }
  }
  if (!day || !year || month == 0) return std::nullopt;
  int y = *year;
  if (y < 50) y += 2000;           // RFC 5322 §4.3: 00-49 -> 2000-2049
  else if (y < 1000) y += 1900;    // 50-999 -> 1950-2899
  CivilDate d{y, month, *day};
  if (!valid_date(d)) return std::nullopt;
  return make_datetime(d, h, mi, s, zone.value_or(0));
}

std::optional<CivilDate> parse_imap_date(std::string_view t) {
  std::size_t d1 = t.find('-');
  if (d1 == std::string_view::npos) return std::nullopt;
  std::size_t d2 = t.find('-', d1 + 1);
  if (d2 == std::string_view::npos || d2 - d1 != 4) return std::nullopt;
  auto day = to_int(t.substr(0, d1));
  int month = month_index(t.substr(d1 + 1, 3));
  auto year = t.size() - d2 - 1 == 4 ? to_int(t.substr(d2 + 1)) : std::nullopt;
  if (!day || d1 > 2 || month == 0 || !year) return std::nullopt;
  CivilDate d{*year, month, *day};
  if (!valid_date(d)) return std::nullopt;
  return d;
}

std::optional<DateTime> parse_imap_datetime(std::string_view t) {
  if (!t.empty() && t.front() == ' ') t.remove_prefix(1);  // date-day-fixed = SP DIGIT
  std::size_t sp1 = t.find(' ');
  if (sp1 == std::string_view::npos) return std::nullopt;
  auto date = parse_imap_date(t.substr(0, sp1));
  std::size_t sp2 = t.find(' ', sp1 + 1);
  if (!date || sp2 == std::string_view::npos || sp2 - sp1 != 9) return std::nullopt;
  int h = 0, mi = 0, s = 0;
  std::string_view time = t.substr(sp1 + 1, 8);
  if (time[2] != ':' || time[5] != ':' || !parse_time(time, h, mi, s)) return std::nullopt;
  auto zone = numeric_zone(t.substr(sp2 + 1));
  if (!zone) return std::nullopt;
  return make_datetime(*date, h, mi, s, *zone);
}

std::string format_imap_datetime(const DateTime& t) {
  CivilDate d = t.local_date();
  std::int64_t local = t.utc_seconds + std::int64_t{t.zone_minutes} * 60;
  std::int64_t secs = ((local % 86400) + 86400) % 86400;
  int z = t.zone_minutes < 0 ? -t.zone_minutes : t.zone_minutes;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%02d-%s-%04d %02d:%02d:%02d %c%02d%02d", d.day,
                kMonths[static_cast<std::size_t>(d.month - 1)].data(), d.year,
                static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
                static_cast<int>(secs % 60), t.zone_minutes < 0 ? '-' : '+', z / 60 % 100, z % 60);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Addresses (RFC 5322 §3.4, obsolete forms of §4.4 tolerated).

namespace {

struct AddrToken {
  enum Kind { Word, Quoted, Special, Comment } kind;
  std::string text;
  char special = 0;
};

bool addr_special(char c) {
  switch (c) {
    case '(': case ')': case '<': case '>': case '@': case ',': case ';': case ':': case '\\':
    case '"':
      return true;
    default:
      return false;
  }
}

std::vector<AddrToken> lex_addresses(std::string_view s) {
  std::vector<AddrToken> out;
  std::size_t i = 0;
  while (i < s.size() && out.size() < 100000) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++i;
    } else if (c == '"') {
      std::string q;
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        if (s[i] != '\r' && s[i] != '\n') q += s[i];
        ++i;
      }
      ++i;
      out.push_back({AddrToken::Quoted, std::move(q)});
    } else if (c == '(') {
      std::string text;
      int depth = 0;
      while (i < s.size()) {
        char d = s[i++];
        if (d == '\\' && i < s.size()) {
          text += s[i++];
          continue;
        }
        if (d == '(' && depth++ == 0) continue;
        if (d == ')' && --depth == 0) break;
        text += d;
      }
      out.push_back({AddrToken::Comment, std::move(text)});
    } else if (c == '[') {  // domain literal
      std::size_t e = s.find(']', i);
      e = e == std::string_view::npos ? s.size() : e + 1;
      out.push_back({AddrToken::Word, std::string(s.substr(i, e - i))});
      i = e;
    } else if (addr_special(c)) {
      out.push_back({AddrToken::Special, std::string(1, c), c});
      ++i;
    } else {
      std::size_t b = i;
      while (i < s.size() && !addr_special(s[i]) && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' &&
             s[i] != '\n' && s[i] != '"' && s[i] != '[') {
        ++i;
      }
      out.push_back({AddrToken::Word, std::string(s.substr(b, i - b))});
    }
  }
  return out;
}

class AddressParser {
 public:
  explicit AddressParser(std::vector<AddrToken> t) : t_(std::move(t)) {}

  std::vector<Address> run() {
    bool in_group = false;
    while (i_ < t_.size() && out_.size() < 10000) {
      if (is(',')) {
        ++i_;
        continue;
      }
      if (is(';')) {
        if (in_group) out_.push_back(Address{});
        in_group = false;
        ++i_;
        continue;
      }
      std::string phrase, local, comment;
      bool any_word = false;
      while (i_ < t_.size() && !is('<') && !is(':') && !is(',') && !is(';') && !is('@')) {
        const AddrToken& k = t_[i_++];
        if (k.kind == AddrToken::Word || k.kind == AddrToken::Quoted) {
          if (any_word) phrase += ' ';
          phrase += k.text;
          local += k.text;
          any_word = true;
        } else if (k.kind == AddrToken::Comment) {
          comment = k.text;
        }
      }
      if (is(':')) {
        ++i_;
        if (!in_group) {
          out_.push_back(Address{std::nullopt, std::nullopt, phrase, std::nullopt});
          in_group = true;
        }
      } else if (is('<')) {
        ++i_;
        Address a = angle_addr();
        if (!phrase.empty()) a.name = phrase;
        else if (auto c = trailing_comment(); !c.empty()) a.name = c;
        out_.push_back(std::move(a));
      } else if (is('@')) {
        ++i_;
        std::string host = domain();
        std::string c = trailing_comment();
        if (c.empty()) c = comment;
        out_.push_back(Address{c.empty() ? std::nullopt : std::optional<std::string>(c),
                               std::nullopt, local,
                               host.empty() ? std::string("MISSING_DOMAIN") : host});
      } else if (any_word) {
        out_.push_back(Address{std::nullopt, std::nullopt, local, std::string("MISSING_DOMAIN")});
      }
    }
    if (in_group) out_.push_back(Address{});
    return std::move(out_);
  }

 private:
  [[nodiscard]] bool is(char c) const {
    return i_ < t_.size() && t_[i_].kind == AddrToken::Special && t_[i_].special == c;
  }

  std::string domain() {
    std::string host;
    while (i_ < t_.size() && !is(',') && !is(';') && !is('<') && !is('>')) {
      const AddrToken& k = t_[i_];
      if (k.kind == AddrToken::Word) host += k.text;
      else if (k.kind != AddrToken::Comment) break;
      else if (!host.empty()) break;  // a comment after the domain: leave it for the name
      ++i_;
    }
    return host;
  }

  std::string trailing_comment() {
    std::string c;
    while (i_ < t_.size() && t_[i_].kind == AddrToken::Comment) c = t_[i_++].text;
    return c;
  }

  // After '<': [obs-route] local "@" domain ">"
  Address angle_addr() {
    Address a;
    std::string adl;
    if (is('@')) {
      while (i_ < t_.size() && !is(':') && !is('>')) {
        if (t_[i_].kind != AddrToken::Comment) adl += t_[i_].text;
        ++i_;
      }
      if (is(':')) ++i_;
      if (!adl.empty()) a.adl = adl;
    }
    std::string local;
    while (i_ < t_.size() && !is('@') && !is('>') && !is(',') && !is(';') && !is('<')) {
      if (t_[i_].kind == AddrToken::Word || t_[i_].kind == AddrToken::Quoted) local += t_[i_].text;
      ++i_;
    }
    std::string host;
    if (is('@')) {
      ++i_;
      host = domain();
    }
    while (i_ < t_.size() && !is('>') && !is(',') && !is(';')) ++i_;
    if (is('>')) ++i_;
    a.mailbox = local;
    if (local.empty() && host.empty()) a.host = "";  // "<>": null reverse path
    else a.host = host.empty() ? std::string("MISSING_DOMAIN") : host;
    return a;
  }

  std::vector<AddrToken> t_;
  std::size_t i_ = 0;
  std::vector<Address> out_;
};

}  // namespace

std::vector<Address> parse_address_list(std::string_view text) {
  return AddressParser(lex_addresses(text)).run();
}

// ---------------------------------------------------------------------------------------------
// ENVELOPE.

Envelope Message::envelope(const BodyPart* part) const {
  const BodyPart* p = part ? part : root_.get();
  auto get = [&](std::string_view name) -> std::optional<std::string> {
    auto v = header(name, p);
    if (!v) return std::nullopt;
    return unfold(*v);
  };
  auto addrs = [&](std::string_view name) {
    auto v = header(name, p);
    return v ? parse_address_list(unfold(*v)) : std::vector<Address>{};
  };
  Envelope e;
  e.date = get("Date");
  e.subject = get("Subject");
  e.from = addrs("From");
  e.sender = addrs("Sender");
  e.reply_to = addrs("Reply-To");
  e.to = addrs("To");
  e.cc = addrs("Cc");
  e.bcc = addrs("Bcc");
  e.in_reply_to = get("In-Reply-To");
  e.message_id = get("Message-ID");
  // RFC 3501 §7.4.2: absent or empty Sender / Reply-To default to From.
  if (e.sender.empty()) e.sender = e.from;
  if (e.reply_to.empty()) e.reply_to = e.from;
  return e;
}

std::optional<DateTime> Message::sent_date() const {
  auto v = header("Date");
  if (!v) return std::nullopt;
  return parse_rfc5322_date(unfold(*v));
}

// ---------------------------------------------------------------------------------------------
// Wire serialization.

void append_string(std::string& out, std::string_view s) {
  bool quotable = s.size() <= 1024;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) {
      quotable = false;
      break;
    }
  }
  if (!quotable) {
    out += '{';
    out += std::to_string(s.size());
    out += "}\r\n";
    out += s;
    return;
  }
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

void append_nstring(std::string& out, const std::optional<std::string_view>& s) {
  if (!s) {
    out += "NIL";
    return;
  }
  append_string(out, *s);
}

namespace {

std::optional<std::string_view> opt_view(const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  return std::string_view(*s);
}

void append_addresses(std::string& out, const std::vector<Address>& list) {
  if (list.empty()) {
    out += "NIL";
    return;
  }
  out += '(';
  for (const Address& a : list) {
    out += '(';
    append_nstring(out, opt_view(a.name));
    out += ' ';
    append_nstring(out, opt_view(a.adl));
    out += ' ';
    append_nstring(out, opt_view(a.mailbox));
    out += ' ';
    append_nstring(out, opt_view(a.host));
    out += ')';
  }
  out += ')';
}

void append_params(std::string& out, const std::vector<MimeParam>& params) {
  if (params.empty()) {
    out += "NIL";
    return;
  }
  out += '(';
  bool first = true;
  for (const MimeParam& p : params) {
    if (!first) out += ' ';
    first = false;
    append_string(out, p.name);
    out += ' ';
    append_string(out, p.value);
  }
  out += ')';
}

void append_extension(std::string& out, const BodyPart& p) {
  // body-fld-dsp SP body-fld-lang SP body-fld-loc
  out += ' ';
  if (p.disposition) {
    out += '(';
    append_string(out, p.disposition->type);
    out += ' ';
    append_params(out, p.disposition->params);
    out += ')';
  } else {
    out += "NIL";
  }
  out += ' ';
  if (p.language.empty()) {
    out += "NIL";
  } else if (p.language.size() == 1) {
    append_string(out, p.language.front());
  } else {
    out += '(';
    for (std::size_t i = 0; i < p.language.size(); ++i) {
      if (i) out += ' ';
      append_string(out, p.language[i]);
    }
    out += ')';
  }
  out += ' ';
  append_nstring(out, opt_view(p.location));
}

void append_body(std::string& out, const Message& msg, const BodyPart& p, bool ext) {
  out += '(';
  if (p.is_multipart()) {
    for (const BodyPart& c : p.children) append_body(out, msg, c, ext);
    out += ' ';
    append_string(out, p.subtype);
    if (ext) {
      out += ' ';
      append_params(out, p.params);
      append_extension(out, p);
    }
    out += ')';
    return;
  }
  append_string(out, p.type);
  out += ' ';
  append_string(out, p.subtype);
  out += ' ';
  append_params(out, p.params);
  out += ' ';
  append_nstring(out, opt_view(p.id));
  out += ' ';
  append_nstring(out, opt_view(p.description));
  out += ' ';
  append_string(out, p.encoding);
  out += ' ';
  out += std::to_string(p.body.length);
  if (p.is_message_rfc822()) {
    out += ' ';
    out += serialize_envelope(msg.envelope(&p.children.front()));
    out += ' ';
    append_body(out, msg, p.children.front(), ext);
    out += ' ';
    out += std::to_string(p.lines);
  } else if (p.is_text()) {
    out += ' ';
    out += std::to_string(p.lines);
  }
  if (ext) {
    out += ' ';
    append_nstring(out, opt_view(p.md5));
    append_extension(out, p);
  }
  out += ')';
}

}  // namespace

std::string serialize_envelope(const Envelope& e) {
  std::string out = "(";
  append_nstring(out, opt_view(e.date));
  out += ' ';
  append_nstring(out, opt_view(e.subject));
  for (const auto* list : {&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc}) {
    out += ' ';
    append_addresses(out, *list);
  }
  out += ' ';
  append_nstring(out, opt_view(e.in_reply_to));
  out += ' ';
  append_nstring(out, opt_view(e.message_id));
  out += ')';
  return out;
}

std::string serialize_body_structure(const Message& msg, bool extensible, const BodyPart* part) {
  std::string out;
  append_body(out, msg, part ? *part : msg.root(), extensible);
  return out;
}

}  // namespace twinbox::server
