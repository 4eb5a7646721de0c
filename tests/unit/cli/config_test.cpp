#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <doctest/doctest.h>

#include <twinbox/cli/config.hpp>

using namespace twinbox;
using namespace twinbox::cli;

namespace {

// A valid two-sided config to which tests append or prepend lines.
const std::string kRemote =
    "[remote]\n"
    "host = imap.example.org\n"
    "username = me@example.org\n"
    "password = hunter2\n";
const std::string kLocal =
    "[local]\n"
    "type = tunnel\n"
    "command = /usr/lib/dovecot/imap\n";

struct DataHome {
  DataHome() { ::setenv("XDG_DATA_HOME", "/data", 1); }
};

Result<Config> parse(const std::string& text) {
  static DataHome once;
  return parse_config(text, "/etc/twinbox/work.conf");
}

/// The error message of a config that must fail.
std::string error_of(const std::string& text) {
  auto c = parse(text);
  REQUIRE_FALSE(c.has_value());
  CHECK(c.error().code == Errc::Config);
  return c.error().message;
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

/// A private temp dir, removed with its files at scope end.
struct TempDir {
  std::string path;
  TempDir() {
    const char* tmp = std::getenv("TMPDIR");
    path = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/twinbox-config-XXXXXX";
    REQUIRE(::mkdtemp(path.data()) != nullptr);
  }
  ~TempDir() { (void)std::system(("rm -rf '" + path + "'").c_str()); }
  std::string write(const std::string& name, const std::string& text, mode_t mode) const {
    const std::string file = path + "/" + name;
    std::ofstream(file) << text;
    ::chmod(file.c_str(), mode);
    return file;
  }
};

}  // namespace

TEST_CASE("config: a minimal file gets every default") {
  auto c = parse(kLocal + kRemote);
  REQUIRE_MESSAGE(c.has_value(), c.error());
  const EndpointConfig& remote = c->endpoints[Side::Remote];
  CHECK(remote.type == EndpointType::Imaps);
  CHECK(remote.tls == TlsPolicy::Required);
  CHECK(remote.host == "imap.example.org");
  CHECK(remote.port == 993);
  CHECK(remote.username == "me@example.org");
  CHECK(remote.password == std::optional<std::string>("hunter2"));
  CHECK(remote.auth == AuthMethod::Auto);
  CHECK(remote.compress == CompressMode::Auto);
  CHECK(remote.want_compress());
  CHECK(remote.tls_min_version == TlsVersion::V1_2);
  CHECK(remote.timeout == std::chrono::seconds(60));
  CHECK_FALSE(remote.debug);
  CHECK(remote.tls_fingerprints.empty());

  const EndpointConfig& local = c->endpoints[Side::Local];
  CHECK(local.type == EndpointType::Tunnel);
  CHECK(local.command == "/usr/lib/dovecot/imap");
  CHECK(local.port == 0);
  CHECK_FALSE(local.want_compress());

  const SyncConfig& s = c->sync;
  CHECK(s.mailboxes == std::vector<std::string>{"*"});
  CHECK(s.exclude.empty());
  CHECK(s.exclude_virtual);
  CHECK(s.map_special_use);
  CHECK_FALSE(s.delete_mailboxes);
  CHECK(s.expunge);
  CHECK(s.max_delete_percent == 50);
  CHECK(s.max_delete_min == 10);
  CHECK_FALSE(s.sync_deleted_flag);
  CHECK(s.poll_interval == std::chrono::seconds(60));
  CHECK(s.idle_connections == 0);
  CHECK(c->name == "work");
  CHECK(s.state_path == "/data/twinbox/work.db");
}

TEST_CASE("config: every endpoint key") {
  auto c = parse(kLocal +
                 "[remote]\n"
                 "type = imap\n"
                 "tls = none\n"
                 "host = 127.0.0.1\n"
                 "port = 1143\n"
                 "username = \"user name\"\n"
                 "password_command = pass show mail\n"
                 "auth = login\n"
                 "oauth2_token_command = get-token\n"
                 "compress = yes\n"
                 "tls_ca_file = certs/ca.pem\n"
                 "tls_fingerprint = AB:cd:" + std::string(60, 'e') + "\n"
                 "tls_fingerprint = " + std::string(64, '1') + ", sha256:" + std::string(64, '2') + "\n"
                 "tls_min_version = 1.3\n"
                 "timeout = 15\n"
                 "debug = yes\n");
  REQUIRE_MESSAGE(c.has_value(), c.error());
  const EndpointConfig& r = c->endpoints[Side::Remote];
  CHECK(r.type == EndpointType::Imap);
  CHECK(r.tls == TlsPolicy::None);
  CHECK(r.host == "127.0.0.1");
  CHECK(r.port == 1143);
  CHECK(r.username == "user name");
  CHECK_FALSE(r.password.has_value());
  CHECK(r.password_command == "pass show mail");
  CHECK(r.auth == AuthMethod::Login);
  CHECK(r.oauth2_token_command == "get-token");
  CHECK(r.compress == CompressMode::Yes);
  CHECK(r.want_compress());  // explicit yes wins over the loopback default
  CHECK(r.tls_ca_file == "/etc/twinbox/certs/ca.pem");
  CHECK(r.tls_fingerprints == std::vector<std::string>{"abcd" + std::string(60, 'e'),
                                                       std::string(64, '1'), std::string(64, '2')});
  CHECK(r.tls_min_version == TlsVersion::V1_3);
  CHECK(r.timeout == std::chrono::seconds(15));
  CHECK(r.debug);
}

TEST_CASE("config: type = imap defaults to port 143, compress auto is off for loopback") {
  auto c = parse(kLocal + "[remote]\ntype = imap\nhost = localhost\nusername = u\npassword = p\n");
  REQUIRE_MESSAGE(c.has_value(), c.error());
  CHECK(c->endpoints[Side::Remote].port == 143);
  CHECK(c->endpoints[Side::Remote].tls == TlsPolicy::Required);
  CHECK_FALSE(c->endpoints[Side::Remote].want_compress());
}

TEST_CASE("config: every sync key") {
  auto c = parse(
      "mailboxes = INBOX, Archive/*\n"
      "mailboxes = \"Odd, name\"\n"
      "exclude = Spam, Lists/%\n"
      "exclude_virtual = no\n"
      "map_special_use = off\n"
      "delete_mailboxes = yes\n"
      "expunge = false\n"
      "max_delete_percent = 20\n"
      "max_delete_min = 3\n"
      "sync_deleted_flag = 1\n"
      "state = ~/twinbox/work.db\n"
      "poll_interval = 300\n"
      "idle_connections = 2\n" +
      kLocal + kRemote);
  REQUIRE_MESSAGE(c.has_value(), c.error());
  const SyncConfig& s = c->sync;
  CHECK(s.mailboxes == std::vector<std::string>{"INBOX", "Archive/*", "Odd, name"});
  CHECK(s.exclude == std::vector<std::string>{"Spam", "Lists/%"});
  CHECK_FALSE(s.exclude_virtual);
  CHECK_FALSE(s.map_special_use);
  CHECK(s.delete_mailboxes);
  CHECK_FALSE(s.expunge);
  CHECK(s.max_delete_percent == 20);
  CHECK(s.max_delete_min == 3);
  CHECK(s.sync_deleted_flag);
  CHECK(s.state_path == std::string(std::getenv("HOME")) + "/twinbox/work.db");
  CHECK(s.poll_interval == std::chrono::seconds(300));
  CHECK(s.idle_connections == 2);
}

TEST_CASE("config: endpoint keys in the default section are inherited, sections override") {
  const std::string fp1(64, 'a');
  const std::string fp2(64, 'b');
  auto c = parse(
      "# shared settings\n"
      "username = shared\n"
      "password = common\n"
      "timeout = 30\n"
      "tls_fingerprint = " + fp1 + "\n"
      "\n"
      "[local]\n"
      "host = local.example.org\n"
      "[remote]\n"
      "host = remote.example.org\n"
      "username = remote-user\n"
      "tls_fingerprint = " + fp2 + "\n"
      "[general]\n"
      "debug = yes\n");
  REQUIRE_MESSAGE(c.has_value(), c.error());
  const auto& l = c->endpoints[Side::Local];
  const auto& r = c->endpoints[Side::Remote];
  CHECK(l.username == "shared");
  CHECK(r.username == "remote-user");
  CHECK(l.password == r.password);
  CHECK(l.timeout == std::chrono::seconds(30));
  CHECK(r.timeout == std::chrono::seconds(30));
  CHECK(l.tls_fingerprints == std::vector<std::string>{fp1});
  CHECK(r.tls_fingerprints == std::vector<std::string>{fp2});  // replaced, not appended
  CHECK(l.debug);  // [general] is the default section too, wherever it appears
  CHECK(r.debug);
}

TEST_CASE("config: a tunnel ignores inherited keys that do not apply to it") {
  auto c = parse("host = shared.example.org\nusername = u\npassword = p\n" + kLocal +
                 "[remote]\n");
  REQUIRE_MESSAGE(c.has_value(), c.error());
  CHECK(c->endpoints[Side::Local].type == EndpointType::Tunnel);
  CHECK(c->endpoints[Side::Remote].host == "shared.example.org");
}

TEST_CASE("config: syntax: comments, blank lines, CRLF, spacing, quotes and escapes") {
  auto c = parse(
      "; semicolon comment\r\n"
      "   # indented comment\r\n"
      "\r\n" + kLocal +
      "[ remote ]\r\n"
      "host=imap.example.org\r\n"
      "  username   =   me   \r\n"
      "password = \"  a \\\"quoted\\\" \\\\ secret#1\\t\\n\"\r\n");
  REQUIRE_MESSAGE(c.has_value(), c.error());
  const auto& r = c->endpoints[Side::Remote];
  CHECK(r.host == "imap.example.org");
  CHECK(r.username == "me");
  CHECK(r.password == std::optional<std::string>("  a \"quoted\" \\ secret#1\t\n"));

  auto hash = parse(kLocal + "[remote]\nhost = h\nusername = u\npassword = pa#ss ;x\n");
  REQUIRE_MESSAGE(hash.has_value(), hash.error());
  CHECK(hash->endpoints[Side::Remote].password == std::optional<std::string>("pa#ss ;x"));
}

TEST_CASE("config: unknown keys name file, line and section and suggest the closest key") {
  const std::string msg = error_of(kLocal + "[remote]\nhost = h\nusername = u\npasword = x\n");
  CHECK(contains(msg, "/etc/twinbox/work.conf:7: unknown key 'pasword' in [remote]; did you mean "
                      "'password'?"));
  const std::string far = error_of("colour = blue\n" + kLocal + kRemote);
  CHECK(contains(far, "work.conf:1: unknown key 'colour' in the default section"));
  CHECK(contains(far, "endpoint keys: "));
  CHECK_FALSE(contains(far, "did you mean"));
}

TEST_CASE("config: bad values say what is allowed") {
  struct Row {
    std::string line;
    std::string expect;
  };
  const Row rows[] = {
      {"type = pop3", "bad value 'pop3' for 'type' in [remote]: allowed: imaps | imap | tunnel"},
      {"tls = maybe", "'tls' in [remote]: allowed: required | none"},
      {"port = 0", "'port' in [remote]: allowed: a port number 1…65535"},
      {"port = 70000", "allowed: a port number 1…65535"},
      {"port = 99x", "allowed: a port number 1…65535"},
      {"auth = cram-md5", "allowed: auto | plain | login | oauthbearer | xoauth2"},
      {"compress = maybe", "'compress' in [remote]: allowed: auto | yes | no"},
      {"tls_fingerprint = abcd", "'abcd' is not a SHA-256 fingerprint"},
      {"tls_fingerprint = " + std::string(63, 'a') + "g", "is not a SHA-256 fingerprint"},
      {"tls_min_version = 1.1", "allowed: 1.2 | 1.3"},
      {"timeout = 0", "'timeout' in [remote]: allowed: seconds, 1…3600"},
      {"debug = sure", "'debug' in [remote]: allowed: yes | no"},
      {"tls_ca_file =", "'tls_ca_file' in [remote]: needs a value"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.line);
    const std::string msg = error_of(kLocal + kRemote + row.line + "\n");
    CHECK(contains(msg, "work.conf:8: "));
    CHECK(contains(msg, row.expect));
  }
  const Row sync_rows[] = {
      {"expunge = perhaps", "bad value 'perhaps' for 'expunge': allowed: yes | no"},
      {"max_delete_percent = 101", "allowed: a percentage, 0…100"},
      {"max_delete_min = -1", "allowed: a count"},
      {"poll_interval = 0", "allowed: seconds, 1…86400"},
      {"idle_connections = 65", "allowed: a count, 0…64"},
      {"mailboxes = ,", "needs at least one pattern"},
      {"state =", "'state': needs a path"},
  };
  for (const auto& row : sync_rows) {
    CAPTURE(row.line);
    const std::string msg = error_of(row.line + "\n" + kLocal + kRemote);
    CHECK(contains(msg, "work.conf:1: "));
    CHECK(contains(msg, row.expect));
  }
}

TEST_CASE("config: missing required keys") {
  CHECK(contains(error_of(kLocal + "[remote]\nusername = u\npassword = p\n"),
                 "work.conf:4: [remote] needs 'host'"));
  CHECK(contains(error_of(kLocal + "[remote]\nhost = h\npassword = p\n"),
                 "work.conf:4: [remote] needs 'username' unless type = tunnel"));
  CHECK(contains(error_of(kLocal + "[remote]\nhost = h\nusername = u\n"),
                 "work.conf:4: [remote] needs 'password' or 'password_command'"));
  CHECK(contains(error_of(kLocal + "[remote]\nhost = h\nusername = u\nauth = xoauth2\n"),
                 "work.conf:7: [remote] needs 'oauth2_token_command' with auth = xoauth2"));
  CHECK(contains(error_of("[local]\ntype = tunnel\n" + kRemote),
                 "work.conf:1: [local] needs 'command' with type = tunnel"));
  CHECK(contains(error_of(kRemote), "work.conf: no [local] section"));
  CHECK(contains(error_of(kLocal), "work.conf: no [remote] section"));
  // auth = auto with only a token command is fine (the client picks the mechanism).
  auto oauth = parse(kLocal + "[remote]\nhost = h\nusername = u\noauth2_token_command = t\n");
  CHECK_MESSAGE(oauth.has_value(), (oauth ? "" : oauth.error().message));
}

TEST_CASE("config: contradictions and misplaced keys") {
  CHECK(contains(error_of(kLocal + kRemote + "password_command = x\n"),
                 "work.conf:8: [remote] sets both 'password' and 'password_command'"));
  CHECK(contains(error_of(kLocal + kRemote + "tls = none\n"),
                 "work.conf:8: 'tls = none' in [remote] contradicts type = imaps"));
  CHECK(contains(error_of(kLocal + kRemote + "command = ssh x\n"),
                 "work.conf:8: 'command' in [remote] applies only to type = tunnel"));
  CHECK(contains(error_of(kLocal + "host = h\n" + kRemote),
                 "work.conf:4: 'host' in [local] does not apply to type = tunnel"));
  CHECK(contains(error_of(kLocal + kRemote + "mailboxes = INBOX\n"),
                 "work.conf:8: 'mailboxes' is a sync key: put it before the first section"));
  CHECK(contains(error_of(kLocal + kRemote + "host = again\n"),
                 "work.conf:8: 'host' set twice in [remote] (first at line 5)"));
  CHECK(contains(error_of("expunge = no\nexpunge = yes\n" + kLocal + kRemote),
                 "work.conf:2: 'expunge' set twice (first at line 1)"));
  CHECK(contains(error_of(kLocal + kRemote + kRemote),
                 "work.conf:8: section [remote] appears twice (first at line 4)"));
}

TEST_CASE("config: syntax errors") {
  CHECK(contains(error_of("[sync]\nx = y\n" + kLocal + kRemote),
                 "work.conf:1: unknown section [sync] (allowed: [general], [local], [remote])"));
  CHECK(contains(error_of("[local\n" + kLocal + kRemote), "work.conf:1: section header without"));
  CHECK(contains(error_of("just words\n" + kLocal + kRemote),
                 "work.conf:1: expected 'key = value', a [section] or a # comment, got 'just words'"));
  CHECK(contains(error_of("= x\n" + kLocal + kRemote), "work.conf:1: missing key before '='"));
  CHECK(contains(error_of(kLocal + kRemote + "username = \"open\n"),
                 "work.conf:8: bad quoted value of 'username': missing closing quote"));
  CHECK(contains(error_of(kLocal + kRemote + "username = \"a\\qb\"\n"), "unknown escape '\\q'"));
  CHECK(contains(error_of(kLocal + kRemote + "username = \"a\" b\n"),
                 "unexpected text after the closing quote"));
}

TEST_CASE("config: all errors are reported at once, one per line") {
  const std::string msg = error_of("expunge = maybe\n" + kLocal + kRemote + "prot = 1\n");
  CHECK(contains(msg, "work.conf:1: bad value 'maybe' for 'expunge'"));
  CHECK(contains(msg, "\n/etc/twinbox/work.conf:9: unknown key 'prot' in [remote]; did you mean "
                      "'port'?"));
}

TEST_CASE("config: default paths follow XDG") {
  ::setenv("XDG_CONFIG_HOME", "/xdg/config", 1);
  auto p = default_config_path();
  REQUIRE(p.has_value());
  CHECK(*p == "/xdg/config/twinbox/config");
  ::unsetenv("XDG_CONFIG_HOME");
  const std::string home = std::getenv("HOME") != nullptr ? std::getenv("HOME") : "";
  if (!home.empty()) {
    CHECK(*default_config_path() == home + "/.config/twinbox/config");
  }
  ::unsetenv("XDG_DATA_HOME");
  if (!home.empty()) {
    CHECK(*default_state_path("gmail") == home + "/.local/share/twinbox/gmail.db");
  }
  ::setenv("XDG_DATA_HOME", "/data", 1);
  CHECK(*default_state_path("gmail") == "/data/twinbox/gmail.db");
}

TEST_CASE("config: load_config refuses a password readable by others, with the chmod") {
  TempDir dir;
  const std::string open_file = dir.write("acct.ini", kLocal + kRemote, 0644);
  auto refused = load_config(open_file);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == Errc::Config);
  CHECK(contains(refused.error().message, "(mode 0644); run: chmod 600 " + open_file));

  const std::string group_writable = dir.write("gw.ini", kLocal + kRemote, 0620);
  CHECK_FALSE(load_config(group_writable).has_value());

  const std::string private_file = dir.write("private.ini", kLocal + kRemote, 0600);
  auto ok = load_config(private_file);
  REQUIRE_MESSAGE(ok.has_value(), ok.error());
  CHECK(ok->name == "private");
  CHECK(ok->sync.state_path == "/data/twinbox/private.db");

  // Without a literal password the permissions do not matter.
  const std::string command_file = dir.write(
      "cmd.ini", kLocal + "[remote]\nhost = h\nusername = u\npassword_command = echo x\n", 0644);
  auto cmd = load_config(command_file);
  CHECK_MESSAGE(cmd.has_value(), (cmd ? "" : cmd.error().message));

  // Errors from the file name it.
  const std::string bad = dir.write("bad.ini", kLocal + kRemote + "nope = 1\n", 0600);
  auto bad_result = load_config(bad);
  REQUIRE_FALSE(bad_result.has_value());
  CHECK(contains(bad_result.error().message, bad + ":8: unknown key 'nope'"));
}

TEST_CASE("config: load_config on a missing file says how to fix it") {
  auto r = load_config("/nonexistent/twinbox/config");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::Config);
  CHECK(contains(r.error().message, "/nonexistent/twinbox/config"));
  CHECK(contains(r.error().message, "--config FILE"));
}

TEST_CASE("config: password_command and oauth2_token_command") {
  SUBCASE("first line of the output, without its line ending") {
    auto r = run_secret_command("printf 's3cret\\r\\nsecond line\\n'", "password_command");
    REQUIRE_MESSAGE(r.has_value(), r.error());
    CHECK(*r == "s3cret");
  }
  SUBCASE("a failing command is an error that does not show its output") {
    auto r = run_secret_command("printf 'leaked%s' -secret; exit 3",
                                "oauth2_token_command of [remote]");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Config);
    CHECK(contains(r.error().message, "oauth2_token_command of [remote]"));
    CHECK(contains(r.error().message, "exited with status 3"));
    CHECK_FALSE(contains(r.error().message, "leaked-secret"));
  }
  SUBCASE("a command that is not found") {
    auto r = run_secret_command("/nonexistent/pass-tool", "password_command");
    REQUIRE_FALSE(r.has_value());
    CHECK(contains(r.error().message, "status 127 (command not found?)"));
  }
  SUBCASE("empty output") {
    auto r = run_secret_command("printf '\\n%s\\n' 'second-line'", "password_command");
    REQUIRE_FALSE(r.has_value());
    CHECK(contains(r.error().message, "printed nothing"));
    CHECK_FALSE(contains(r.error().message, "second-line\n"));
  }
  SUBCASE("large output is drained without blocking the command") {
    auto r = run_secret_command("echo token; head -c 300000 /dev/zero", "oauth2_token_command");
    REQUIRE_MESSAGE(r.has_value(), r.error());
    CHECK(*r == "token");
  }
  SUBCASE("resolve_password prefers the literal password, then the command") {
    EndpointConfig ep;
    ep.password = "literal";
    ep.password_command = "echo from-command";
    CHECK(*resolve_password(ep) == "literal");
    ep.password.reset();
    CHECK(*resolve_password(ep) == "from-command");
    ep.password_command.clear();
    auto none = resolve_password(ep);
    REQUIRE_FALSE(none.has_value());
    CHECK(contains(none.error().message, "password_command"));
  }
}
