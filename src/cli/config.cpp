#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include <twinbox/cli/config.hpp>

namespace twinbox::cli {

std::string_view to_string(EndpointType t) {
  switch (t) {
    case EndpointType::Imaps: return "imaps";
    case EndpointType::Imap: return "imap";
    case EndpointType::Tunnel: return "tunnel";
  }
  return "?";
}

std::string_view to_string(AuthMethod a) {
  switch (a) {
    case AuthMethod::Auto: return "auto";
    case AuthMethod::Plain: return "plain";
    case AuthMethod::Login: return "login";
    case AuthMethod::OAuthBearer: return "oauthbearer";
    case AuthMethod::XOAuth2: return "xoauth2";
  }
  return "?";
}

namespace {

bool is_loopback(std::string_view host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.starts_with("127.") ||
         host.ends_with(".localhost");
}

}  // namespace

bool EndpointConfig::want_compress() const {
  switch (compress) {
    case CompressMode::Yes: return true;
    case CompressMode::No: return false;
    case CompressMode::Auto: return type != EndpointType::Tunnel && !is_loopback(host);
  }
  return false;
}

namespace {

// ---------------------------------------------------------------------------------------------
// Lexing: lines into sections of entries.

struct Entry {
  std::string key;
  std::string value;
  bool quoted = false;
  int line = 0;
};

/// Ignored collects the entries of an unknown section (already reported).
enum class Section { Default, Local, Remote, Ignored };

struct Document {
  std::vector<Entry> sections[4];
  int section_line[4] = {0, 0, 0, 0};  ///< line of the [local]/[remote] header, 0 when absent
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

/// "quoted \"value\"" -> quoted "value"; nullopt + message on a bad escape or missing quote.
std::optional<std::string> unquote(std::string_view v, std::string& err) {
  std::string out;
  for (std::size_t i = 1; i < v.size(); ++i) {
    const char c = v[i];
    if (c == '"') {
      if (!trim(v.substr(i + 1)).empty()) {
        err = "unexpected text after the closing quote";
        return std::nullopt;
      }
      return out;
    }
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i == v.size()) {
      break;
    }
    switch (v[i]) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      default:
        err = std::string("unknown escape '\\") + v[i] + "' (allowed: \\\" \\\\ \\n \\t)";
        return std::nullopt;
    }
  }
  err = "missing closing quote";
  return std::nullopt;
}

class Errors {
 public:
  explicit Errors(std::string origin) : origin_(std::move(origin)) {}
  void add(int line, const std::string& msg) {
    std::string full = origin_ + (line > 0 ? ":" + std::to_string(line) : "") + ": " + msg;
    if (seen_.insert(full).second) {
      list_.push_back(std::move(full));
    }
  }
  [[nodiscard]] bool empty() const { return list_.empty(); }
  [[nodiscard]] Error error() const {
    std::string msg;
    for (const auto& m : list_) {
      msg += (msg.empty() ? "" : "\n") + m;
    }
    return fail(Errc::Config, Scope::Fatal, msg);
  }

 private:
  std::string origin_;
  std::vector<std::string> list_;
  std::set<std::string> seen_;
};

Document lex(std::string_view text, Errors& errors) {
  Document doc;
  Section current = Section::Default;
  int line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto nl = text.find('\n', pos);
    const std::string_view line =
        trim(text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    if (line.empty() || line.front() == '#' || line.front() == ';') {
      continue;
    }
    if (line.front() == '[') {
      if (line.back() != ']') {
        errors.add(line_no, "section header without closing ']'");
        current = Section::Ignored;
        continue;
      }
      const std::string name(trim(line.substr(1, line.size() - 2)));
      if (name == "local" || name == "remote") {
        current = name == "local" ? Section::Local : Section::Remote;
        auto& header = doc.section_line[static_cast<int>(current)];
        if (header != 0) {
          errors.add(line_no, "section [" + name + "] appears twice (first at line " +
                                  std::to_string(header) + "); merge them");
        }
        header = line_no;
      } else if (name == "general") {
        current = Section::Default;
      } else {
        errors.add(line_no,
                   "unknown section [" + name + "] (allowed: [general], [local], [remote])");
        current = Section::Ignored;
      }
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string_view::npos) {
      errors.add(line_no, "expected 'key = value', a [section] or a # comment, got '" +
                              std::string(line.substr(0, 40)) + "'");
      continue;
    }
    Entry e;
    e.line = line_no;
    e.key = std::string(trim(line.substr(0, eq)));
    std::transform(e.key.begin(), e.key.end(), e.key.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const std::string_view value = trim(line.substr(eq + 1));
    if (e.key.empty()) {
      errors.add(line_no, "missing key before '='");
      continue;
    }
    if (!value.empty() && value.front() == '"') {
      std::string err;
      auto v = unquote(value, err);
      if (!v) {
        errors.add(line_no, "bad quoted value of '" + e.key + "': " + err);
        continue;
      }
      e.value = std::move(*v);
      e.quoted = true;
    } else {
      e.value = std::string(value);
    }
    doc.sections[static_cast<int>(current)].push_back(std::move(e));
  }
  return doc;
}

// ---------------------------------------------------------------------------------------------
// Values.

std::optional<bool> parse_bool(std::string_view v) {
  static const std::pair<std::string_view, bool> kWords[] = {
      {"yes", true}, {"true", true}, {"on", true}, {"1", true},
      {"no", false}, {"false", false}, {"off", false}, {"0", false}};
  for (const auto& [word, b] : kWords) {
    if (v == word) {
      return b;
    }
  }
  return std::nullopt;
}

std::optional<unsigned> parse_uint(std::string_view v, unsigned lo, unsigned hi) {
  unsigned n = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc{} || p != v.data() + v.size() || n < lo || n > hi) {
    return std::nullopt;
  }
  return n;
}

std::vector<std::string> split_list(const Entry& e) {
  if (e.quoted) {
    return {e.value};
  }
  std::vector<std::string> items;
  std::string_view rest = e.value;
  while (true) {
    const auto comma = rest.find(',');
    const auto item = trim(rest.substr(0, comma));
    if (!item.empty()) {
      items.emplace_back(item);
    }
    if (comma == std::string_view::npos) {
      break;
    }
    rest = rest.substr(comma + 1);
  }
  return items;
}

/// [sha256:]64 hex digits, colons allowed; lower case without colons, or nullopt.
std::optional<std::string> normalize_fingerprint(std::string_view v) {
  if (v.size() > 7 && (v.substr(0, 7) == "sha256:" || v.substr(0, 7) == "SHA256:")) {
    v.remove_prefix(7);
  }
  std::string out;
  for (const char c : v) {
    if (c == ':') {
      continue;
    }
    if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return std::nullopt;
    }
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out.size() == 64 ? std::optional(out) : std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Keys. A setter stores the value or returns what is allowed.

using Problem = std::optional<std::string>;
using EndpointSetter = std::function<Problem(EndpointConfig&, const Entry&)>;
using SyncSetter = std::function<Problem(SyncConfig&, const Entry&)>;

template <class E>
EndpointSetter enum_key(E EndpointConfig::*field,
                        std::initializer_list<std::pair<std::string_view, E>> names) {
  std::vector<std::pair<std::string_view, E>> copy(names);
  return [field, copy](EndpointConfig& c, const Entry& e) -> Problem {
    for (const auto& [name, value] : copy) {
      if (e.value == name) {
        c.*field = value;
        return std::nullopt;
      }
    }
    std::string allowed;
    for (const auto& [name, value] : copy) {
      allowed += (allowed.empty() ? "" : " | ") + std::string(name);
    }
    return "allowed: " + allowed;
  };
}

EndpointSetter string_key(std::string EndpointConfig::*field) {
  return [field](EndpointConfig& c, const Entry& e) -> Problem {
    if (e.value.empty() && !e.quoted) {
      return std::string("needs a value");
    }
    c.*field = e.value;
    return std::nullopt;
  };
}

const std::map<std::string, EndpointSetter, std::less<>>& endpoint_keys() {
  static const std::map<std::string, EndpointSetter, std::less<>> keys = {
      {"type", enum_key(&EndpointConfig::type, {{"imaps", EndpointType::Imaps},
                                                {"imap", EndpointType::Imap},
                                                {"tunnel", EndpointType::Tunnel}})},
      {"tls", enum_key(&EndpointConfig::tls, {{"required", TlsPolicy::Required},
                                              {"none", TlsPolicy::None}})},
      {"host", string_key(&EndpointConfig::host)},
      {"port",
       [](EndpointConfig& c, const Entry& e) -> Problem {
         const auto p = parse_uint(e.value, 1, 65535);
         if (!p) {
           return std::string("allowed: a port number 1…65535");
         }
         c.port = static_cast<std::uint16_t>(*p);
         return std::nullopt;
       }},
      {"username", string_key(&EndpointConfig::username)},
      {"password",
       [](EndpointConfig& c, const Entry& e) -> Problem {
         c.password = e.value;
         return std::nullopt;
       }},
      {"password_command", string_key(&EndpointConfig::password_command)},
      {"auth", enum_key(&EndpointConfig::auth, {{"auto", AuthMethod::Auto},
                                                {"plain", AuthMethod::Plain},
                                                {"login", AuthMethod::Login},
                                                {"oauthbearer", AuthMethod::OAuthBearer},
                                                {"xoauth2", AuthMethod::XOAuth2}})},
      {"oauth2_token_command", string_key(&EndpointConfig::oauth2_token_command)},
      {"command", string_key(&EndpointConfig::command)},
      {"compress", enum_key(&EndpointConfig::compress, {{"auto", CompressMode::Auto},
                                                        {"yes", CompressMode::Yes},
                                                        {"no", CompressMode::No}})},
      {"tls_ca_file", string_key(&EndpointConfig::tls_ca_file)},
      {"tls_fingerprint",
       [](EndpointConfig& c, const Entry& e) -> Problem {
         for (const auto& item : split_list(e)) {
           auto fp = normalize_fingerprint(item);
           if (!fp) {
             return "'" + item +
                    "' is not a SHA-256 fingerprint: allowed: 64 hex digits (colons and a sha256: "
                    "prefix allowed), the "
                    "SPKI SHA-256 that twinbox prints when verification fails";
           }
           c.tls_fingerprints.push_back(std::move(*fp));
         }
         return std::nullopt;
       }},
      {"tls_min_version", enum_key(&EndpointConfig::tls_min_version,
                                   {{"1.2", TlsVersion::V1_2}, {"1.3", TlsVersion::V1_3}})},
      {"timeout",
       [](EndpointConfig& c, const Entry& e) -> Problem {
         const auto s = parse_uint(e.value, 1, 3600);
         if (!s) {
           return std::string("allowed: seconds, 1…3600");
         }
         c.timeout = std::chrono::seconds(*s);
         return std::nullopt;
       }},
      {"debug",
       [](EndpointConfig& c, const Entry& e) -> Problem {
         const auto b = parse_bool(e.value);
         if (!b) {
           return std::string("allowed: yes | no");
         }
         c.debug = *b;
         return std::nullopt;
       }},
  };
  return keys;
}

SyncSetter bool_key(bool SyncConfig::*field) {
  return [field](SyncConfig& c, const Entry& e) -> Problem {
    const auto b = parse_bool(e.value);
    if (!b) {
      return std::string("allowed: yes | no");
    }
    c.*field = *b;
    return std::nullopt;
  };
}

SyncSetter uint_key(unsigned SyncConfig::*field, unsigned lo, unsigned hi, std::string what) {
  return [field, lo, hi, what](SyncConfig& c, const Entry& e) -> Problem {
    const auto n = parse_uint(e.value, lo, hi);
    if (!n) {
      return "allowed: " + what + ", " + std::to_string(lo) + "…" + std::to_string(hi);
    }
    c.*field = *n;
    return std::nullopt;
  };
}

SyncSetter list_key(std::vector<std::string> SyncConfig::*field) {
  return [field](SyncConfig& c, const Entry& e) -> Problem {
    auto items = split_list(e);
    if (items.empty()) {
      return std::string("needs at least one pattern");
    }
    (c.*field).insert((c.*field).end(), items.begin(), items.end());
    return std::nullopt;
  };
}

const std::map<std::string, SyncSetter, std::less<>>& sync_keys() {
  static const std::map<std::string, SyncSetter, std::less<>> keys = {
      {"mailboxes", list_key(&SyncConfig::mailboxes)},
      {"exclude", list_key(&SyncConfig::exclude)},
      {"exclude_virtual", bool_key(&SyncConfig::exclude_virtual)},
      {"map_special_use", bool_key(&SyncConfig::map_special_use)},
      {"delete_mailboxes", bool_key(&SyncConfig::delete_mailboxes)},
      {"expunge", bool_key(&SyncConfig::expunge)},
      {"max_delete_percent", uint_key(&SyncConfig::max_delete_percent, 0, 100, "a percentage")},
      {"max_delete_min", uint_key(&SyncConfig::max_delete_min, 0, 1000000000, "a count")},
      {"sync_deleted_flag", bool_key(&SyncConfig::sync_deleted_flag)},
      {"state",
       [](SyncConfig& c, const Entry& e) -> Problem {
         if (e.value.empty()) {
           return std::string("needs a path");
         }
         c.state_path = e.value;
         return std::nullopt;
       }},
      {"poll_interval",
       [](SyncConfig& c, const Entry& e) -> Problem {
         const auto s = parse_uint(e.value, 1, 86400);
         if (!s) {
           return std::string("allowed: seconds, 1…86400");
         }
         c.poll_interval = std::chrono::seconds(*s);
         return std::nullopt;
       }},
      {"idle_connections", uint_key(&SyncConfig::idle_connections, 0, 64, "a count")},
  };
  return keys;
}

constexpr std::string_view kListKeys[] = {"mailboxes", "exclude", "tls_fingerprint"};

bool is_list_key(std::string_view key) {
  return std::find(std::begin(kListKeys), std::end(kListKeys), key) != std::end(kListKeys);
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string unknown_key_message(const std::string& key, std::string_view section) {
  std::string best;
  std::size_t best_d = 3;  // suggest only close matches
  auto consider = [&](const std::string& candidate) {
    const std::size_t d = edit_distance(key, candidate);
    if (d < best_d) {
      best_d = d;
      best = candidate;
    }
  };
  for (const auto& [k, s] : endpoint_keys()) {
    consider(k);
  }
  for (const auto& [k, s] : sync_keys()) {
    consider(k);
  }
  std::string msg = "unknown key '" + key + "' in " + std::string(section);
  if (!best.empty()) {
    return msg + "; did you mean '" + best + "'?";
  }
  std::string all;
  for (const auto& [k, s] : endpoint_keys()) {
    all += (all.empty() ? "" : ", ") + k;
  }
  return msg + " (endpoint keys: " + all + "; sync keys go in the default section)";
}

// ---------------------------------------------------------------------------------------------
// Assembly.

std::string section_name(Section s) {
  switch (s) {
    case Section::Default: return "the default section";
    case Section::Local: return "[local]";
    case Section::Remote: return "[remote]";
    case Section::Ignored: return "an unknown section";
  }
  return "?";
}

std::string dirname_of(std::string_view path) {
  const auto slash = path.rfind('/');
  if (slash == std::string_view::npos) {
    return "";
  }
  return std::string(path.substr(0, slash == 0 ? 1 : slash));
}

std::string base_name_without_extension(std::string_view path) {
  const auto slash = path.rfind('/');
  std::string base(slash == std::string_view::npos ? path : path.substr(slash + 1));
  const auto dot = base.rfind('.');
  if (dot != std::string::npos && dot > 0) {
    base.erase(dot);
  }
  return base.empty() ? "config" : base;
}

/// ~/x -> $HOME/x; relative -> config dir/x.
std::string resolve_path(const std::string& p, const std::string& config_dir) {
  if (p.starts_with("~/")) {
    const char* home = std::getenv("HOME");
    return std::string(home != nullptr ? home : "") + p.substr(1);
  }
  if (!p.empty() && p.front() != '/' && !config_dir.empty()) {
    return config_dir + "/" + p;
  }
  return p;
}

/// Where each endpoint key of one side was set: its line, and whether in the side's section.
struct KeyOrigin {
  int line = 0;
  bool own_section = false;
};

void check_endpoint(Side side, const EndpointConfig& ep, const std::map<std::string, KeyOrigin>& set,
                    int header_line, Errors& errors) {
  const std::string sec = "[" + std::string(to_string(side)) + "]";
  auto line_of = [&](const char* key) {
    const auto it = set.find(key);
    return it != set.end() ? it->second.line : header_line;
  };
  auto require = [&](const char* key, bool present, const std::string& why) {
    if (!present) {
      errors.add(header_line, sec + " needs '" + key + "' " + why);
    }
  };
  // A key that does not apply to the type is an error where the user wrote it in this
  // section; inherited from the default section it is simply unused.
  auto reject = [&](std::initializer_list<const char*> keys, const std::string& why) {
    for (const char* key : keys) {
      const auto it = set.find(key);
      if (it != set.end() && it->second.own_section) {
        errors.add(it->second.line, "'" + std::string(key) + "' in " + sec + " " + why);
      }
    }
  };
  if (ep.type == EndpointType::Tunnel) {
    require("command", !ep.command.empty(),
            "with type = tunnel (e.g. command = /usr/lib/dovecot/imap)");
    reject({"host", "port", "username", "password", "password_command", "auth",
            "oauth2_token_command", "tls", "tls_ca_file", "tls_fingerprint", "tls_min_version"},
           "does not apply to type = tunnel (a tunnel is pre-authenticated, without TLS); remove it");
    return;
  }
  reject({"command"}, "applies only to type = tunnel; remove it or set type = tunnel");
  if (ep.type == EndpointType::Imaps && ep.tls == TlsPolicy::None) {
    errors.add(line_of("tls"), "'tls = none' in " + sec +
                                   " contradicts type = imaps; use type = imap for plaintext");
  }
  require("host", !ep.host.empty(), "(the server's name) unless type = tunnel");
  require("username", !ep.username.empty(), "unless type = tunnel");
  const bool oauth = ep.auth == AuthMethod::OAuthBearer || ep.auth == AuthMethod::XOAuth2;
  if (oauth) {
    if (ep.oauth2_token_command.empty()) {
      errors.add(line_of("auth"), sec + " needs 'oauth2_token_command' with auth = " +
                                      std::string(to_string(ep.auth)));
    }
  } else if (ep.password && !ep.password_command.empty()) {
    errors.add(line_of("password_command"),
               sec + " sets both 'password' and 'password_command'; keep one");
  } else if (!ep.password && ep.password_command.empty() &&
             (ep.auth != AuthMethod::Auto || ep.oauth2_token_command.empty())) {
    errors.add(header_line, sec + " needs 'password' or 'password_command' (or, with auth = "
                                  "oauthbearer or xoauth2, 'oauth2_token_command')");
  }
}

EndpointConfig build_endpoint(Side side, const Document& doc, Errors& errors,
                              const std::string& config_dir) {
  EndpointConfig ep;
  std::map<std::string, KeyOrigin> set;
  const Section own = side == Side::Local ? Section::Local : Section::Remote;
  for (const Section s : {Section::Default, own}) {
    for (const Entry& e : doc.sections[static_cast<int>(s)]) {
      const auto it = endpoint_keys().find(e.key);
      if (it == endpoint_keys().end()) {
        continue;  // sync and unknown keys are reported by build_config
      }
      const auto prev = set.find(e.key);
      if (prev != set.end()) {
        const bool same_section = prev->second.own_section == (s == own);
        if (same_section && !is_list_key(e.key)) {
          errors.add(e.line, "'" + e.key + "' set twice in " + section_name(s) +
                                 " (first at line " + std::to_string(prev->second.line) + ")");
          continue;
        }
        if (!same_section && e.key == "tls_fingerprint") {
          ep.tls_fingerprints.clear();  // the section's list replaces the inherited one
        }
      }
      set[e.key] = KeyOrigin{e.line, s == own};
      if (auto problem = it->second(ep, e)) {
        errors.add(e.line, "bad value '" + e.value + "' for '" + e.key + "' in " +
                               section_name(s) + ": " + *problem);
      }
    }
  }
  if (ep.port == 0 && ep.type != EndpointType::Tunnel) {
    ep.port = ep.type == EndpointType::Imaps ? 993 : 143;
  }
  if (!ep.tls_ca_file.empty()) {
    ep.tls_ca_file = resolve_path(ep.tls_ca_file, config_dir);
  }
  const int header = doc.section_line[static_cast<int>(own)];
  if (header == 0) {
    errors.add(0, "no [" + std::string(to_string(side)) + "] section: add one with at least 'type' "
                  "and 'host' (or 'type = tunnel' and 'command')");
  } else {
    check_endpoint(side, ep, set, header, errors);
  }
  return ep;
}

SyncConfig build_sync(const Document& doc, Errors& errors) {
  SyncConfig sync;
  std::map<std::string, int> seen;
  bool mailboxes_set = false;
  for (const Entry& e : doc.sections[static_cast<int>(Section::Default)]) {
    const auto it = sync_keys().find(e.key);
    if (it == sync_keys().end()) {
      if (endpoint_keys().find(e.key) == endpoint_keys().end()) {
        errors.add(e.line, unknown_key_message(e.key, "the default section"));
      }
      continue;
    }
    if (auto [prev, inserted] = seen.emplace(e.key, e.line); !inserted && !is_list_key(e.key)) {
      errors.add(e.line, "'" + e.key + "' set twice (first at line " + std::to_string(prev->second) + ")");
      continue;
    }
    if (e.key == "mailboxes" && !mailboxes_set) {
      sync.mailboxes.clear();  // the default `*` gives way to the first explicit list
      mailboxes_set = true;
    }
    if (auto problem = it->second(sync, e)) {
      errors.add(e.line, "bad value '" + e.value + "' for '" + e.key + "': " + *problem);
    }
  }
  for (const Section s : {Section::Local, Section::Remote}) {
    for (const Entry& e : doc.sections[static_cast<int>(s)]) {
      if (sync_keys().count(e.key) != 0) {
        errors.add(e.line, "'" + e.key + "' is a sync key: put it before the first section (or in "
                           "[general]), not in " + section_name(s));
      } else if (endpoint_keys().count(e.key) == 0) {
        errors.add(e.line, unknown_key_message(e.key, section_name(s)));
      }
    }
  }
  return sync;
}

}  // namespace

Result<std::string> default_config_path() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  if (xdg != nullptr && *xdg == '/') {
    return std::string(xdg) + "/twinbox/config";
  }
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') {
    return fail(Errc::Config, Scope::Fatal,
                "neither XDG_CONFIG_HOME nor HOME is set: pass the config file with --config FILE");
  }
  return std::string(home) + "/.config/twinbox/config";
}

Result<std::string> default_state_path(std::string_view config_name) {
  const char* xdg = std::getenv("XDG_DATA_HOME");
  if (xdg != nullptr && *xdg == '/') {
    return std::string(xdg) + "/twinbox/" + std::string(config_name) + ".db";
  }
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') {
    return fail(Errc::Config, Scope::Fatal,
                "neither XDG_DATA_HOME nor HOME is set: set 'state' in the config file");
  }
  return std::string(home) + "/.local/share/twinbox/" + std::string(config_name) + ".db";
}

Result<Config> parse_config(std::string_view text, std::string_view origin) {
  Errors errors{std::string(origin)};
  const Document doc = lex(text, errors);
  Config config;
  config.origin = std::string(origin);
  config.name = base_name_without_extension(origin);
  const std::string dir = dirname_of(origin);
  config.sync = build_sync(doc, errors);
  for (const Side side : kBothSides) {
    config.endpoints[side] = build_endpoint(side, doc, errors, dir);
  }
  if (config.sync.state_path.empty()) {
    auto state = default_state_path(config.name);
    if (!state) {
      errors.add(0, state.error().message);
    } else {
      config.sync.state_path = std::move(*state);
    }
  } else {
    config.sync.state_path = resolve_path(config.sync.state_path, dir);
  }
  if (!errors.empty()) {
    return errors.error();
  }
  return config;
}

Result<Config> load_config(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return fail(Errc::Config, Scope::Fatal,
                "cannot read config file " + path + ": " + std::strerror(err) +
                    (err == ENOENT ? " (create it, or pass another one with --config FILE)" : ""));
  }
  struct stat st {};
  std::string text;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    char buf[8192];
    ssize_t n = 0;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) {
      text.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  if (!S_ISREG(st.st_mode)) {
    return fail(Errc::Config, Scope::Fatal, "config file " + path + " is not a regular file");
  }
  auto config = parse_config(text, path);
  if (!config) {
    return config;
  }
  const bool has_password = config->endpoints[Side::Local].password.has_value() ||
                            config->endpoints[Side::Remote].password.has_value();
  if (has_password && (st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return fail(Errc::Config, Scope::Fatal,
                path + " holds a password but other users may read or change it (mode " + mode +
                    "); run: chmod 600 " + path + " (or use password_command)");
  }
  return config;
}

Result<std::string> run_secret_command(const std::string& command, std::string_view what) {
  const std::string name(what);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return fail(Errc::Io, Scope::Fatal, name + ": pipe failed: " + std::strerror(errno));
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return fail(Errc::Io, Scope::Fatal, name + ": fork failed: " + std::strerror(errno));
  }
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string out;
  constexpr std::size_t kMaxKept = 64 * 1024;  // a secret is one line; drain the rest
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    if (out.size() < kMaxKept) {
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const std::string how = WIFEXITED(status)
                                ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                : "was killed by signal " + std::to_string(WTERMSIG(status));
    return fail(Errc::Config, Scope::Fatal,
                name + " '" + command + "' " + how +
                    (WIFEXITED(status) && WEXITSTATUS(status) == 127 ? " (command not found?)" : "") +
                    "; run it by hand to see why");
  }
  std::string line = out.substr(0, out.find('\n'));
  if (!line.empty() && line.back() == '\r') {
    line.pop_back();
  }
  if (line.empty()) {
    return fail(Errc::Config, Scope::Fatal,
                name + " '" + command + "' printed nothing on its first line of output; it must "
                "print the secret on its first line");
  }
  return line;
}

Result<std::string> resolve_password(const EndpointConfig& endpoint) {
  if (endpoint.password) {
    return *endpoint.password;
  }
  if (!endpoint.password_command.empty()) {
    return run_secret_command(endpoint.password_command, "password_command");
  }
  return fail(Errc::Config, Scope::Fatal,
              "no password for " + endpoint.username + "@" + endpoint.host +
                  ": set 'password' or 'password_command' in the config file");
}

}  // namespace twinbox::cli
