// Runs every tests/scenario/**/*.imap script against an in-process embedded server on
// 127.0.0.1, port 0. Format: tests/scenario/README.md (STYLE.md "Scenario tests").
// TWINBOX_SCENARIO=<substring> runs only the scripts whose path contains it.

#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <twinbox/net/deflate.hpp>
#include <twinbox/net/io.hpp>
#include <twinbox/net/tls.hpp>
#include <twinbox/net/tcp.hpp>
#include <twinbox/server/server.hpp>

namespace fs = std::filesystem;
using namespace twinbox;

namespace {

constexpr auto kLineTimeout = std::chrono::milliseconds(2000);

struct Expect {
  bool regex = false;
  std::string text;
  int line_no = 0;
  [[nodiscard]] bool untagged() const {
    if (regex) return text.rfind("^\\*", 0) == 0 || text.rfind("\\*", 0) == 0;
    return text.rfind("* ", 0) == 0;
  }
  [[nodiscard]] bool matches(const std::string& line) const {
    if (regex) return std::regex_search(line, std::regex(text));
    if (text.size() >= 3 && text.compare(text.size() - 3, 3, "...") == 0) {
      return line.compare(0, text.size() - 3, text, 0, text.size() - 3) == 0;
    }
    return line == text;
  }
};

/// The sample message `seed=Box:N` puts in a mailbox as number k (1-based).
std::string seed_message(const std::string& box, int k) {
  return "From: Sender " + std::to_string(k) + " <sender" + std::to_string(k) +
         "@example.org>\r\nTo: alice@example.org\r\nSubject: Message " + std::to_string(k) +
         "\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <seed-" + box + "-" +
         std::to_string(k) + "@twinbox.test>\r\n\r\nBody of message " + std::to_string(k) + ".\r\n";
}

std::string escape_literal(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

/// `* 3 EXISTS` -> EXISTS, `* OK [UIDNEXT 4] x` -> UIDNEXT, `* FLAGS (...)` -> FLAGS.
std::string kind_of(const std::string& line) {
  if (line.rfind("* ", 0) != 0) return {};
  std::istringstream in(line.substr(2));
  std::string w1, w2;
  in >> w1 >> w2;
  if ((w1 == "OK" || w1 == "NO" || w1 == "BAD") && !w2.empty() && w2[0] == '[') {
    std::string code = w2.substr(1);
    auto end = code.find(']');
    if (end != std::string::npos) code.resize(end);
    return code;
  }
  if (!w1.empty() && std::isdigit(static_cast<unsigned char>(w1[0]))) return w2;
  return w1;
}

/// Test certificates from scripts/make-test-ca.sh, made once per run.
std::string test_cert_dir() {
  static std::string dir = [] {
    std::string d = (fs::temp_directory_path() / ("twinbox-scenario-ca-" + std::to_string(::getpid()))).string();
    std::string cmd = std::string(TWINBOX_SOURCE_DIR) + "/scripts/make-test-ca.sh " + d + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) return std::string();
    return d;
  }();
  return dir;
}

class Conn {
 public:
  explicit Conn(net::StreamPtr s) : s_(std::move(s)) {}
  Status starttls() {
    auto t = net::tls_upgrade(std::move(s_), net::TlsOptions{.host = "localhost", .verify = false},
                              net::deadline_in(kLineTimeout));
    if (!t) return t.error();
    s_ = std::move(*t);
    return {};
  }
  Status compress() {
    auto z = net::wrap_deflate(std::move(s_));
    if (!z) return z.error();
    s_ = std::move(*z);
    return {};
  }
  Status send(const std::string& line) {
    return net::write_all(*s_, line + "\r\n", net::deadline_in(kLineTimeout));
  }
  /// One logical response line; literals are inlined with CR/LF escaped as \r \n.
  Result<std::string> read() {
    auto deadline = net::deadline_in(kLineTimeout);
    auto line = net::read_line(*s_, pending_, deadline, 1 << 24);
    if (!line) return line.error();
    std::string out = *line;
    while (!out.empty() && out.back() == '}') {
      auto open = out.rfind('{');
      if (open == std::string::npos) break;
      std::size_t n = std::strtoull(out.c_str() + open + 1, nullptr, 10);
      auto lit = net::read_exact(*s_, pending_, n, deadline);
      if (!lit) return lit.error();
      auto rest = net::read_line(*s_, pending_, deadline, 1 << 24);
      if (!rest) return rest.error();
      out += escape_literal(*lit) + *rest;
    }
    return out;
  }

 private:
  net::StreamPtr s_;
  std::string pending_;
};

struct Script {
  std::map<std::string, std::string> server;  // @server key -> value
  std::vector<std::string> ignore;
  struct Step {
    char kind;  // 'C' send, 'S' expect block, 'X' close, '@' switch
    std::string text;
    std::vector<Expect> expects;
    int conn = 1;
    int line_no = 0;
  };
  std::vector<Step> steps;
};

Script parse_script(const fs::path& path) {
  Script sc;
  std::ifstream in(path);
  std::string line;
  int no = 0;
  while (std::getline(in, line)) {
    ++no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("@server", 0) == 0) {
      std::istringstream ws(line.substr(7));
      std::string kv;
      while (ws >> kv) {
        auto eq = kv.find('=');
        std::string k = kv.substr(0, eq);
        std::string v = eq == std::string::npos ? "" : kv.substr(eq + 1);
        if (sc.server.count(k)) {
          sc.server[k] += "," + v;
        } else {
          sc.server[k] = v;
        }
      }
    } else if (line.rfind("@ignore", 0) == 0) {
      std::istringstream ws(line.substr(7));
      std::string k;
      while (ws >> k) sc.ignore.push_back(k);
    } else if (line == "@starttls" || line == "@compress") {
      sc.steps.push_back({line == "@starttls" ? 'T' : 'Z', {}, {}, 0, no});
    } else if (line[0] == '@') {
      sc.steps.push_back({'@', {}, {}, std::atoi(line.c_str() + 1), no});
    } else if (line.rfind("C:", 0) == 0) {
      std::string text = line.size() > 3 ? line.substr(3) : std::string();
      sc.steps.push_back({'C', text, {}, 0, no});
    } else if (line.rfind("S:", 0) == 0 || line.rfind("S~", 0) == 0) {
      Expect e{line[1] == '~', line.size() > 3 ? line.substr(3) : std::string(), no};
      if (sc.steps.empty() || sc.steps.back().kind != 'S') sc.steps.push_back({'S', {}, {}, 0, no});
      sc.steps.back().expects.push_back(e);
    } else if (line == "X") {
      sc.steps.push_back({'X', {}, {}, 0, no});
    } else {
      sc.steps.push_back({'?', line, {}, 0, no});
    }
  }
  return sc;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

/// Runs one script; returns "" on success, else a report (transcript, expected, actual).
std::string run_script(const fs::path& path) {
  Script sc = parse_script(path);
  server::Options opt;
  opt.port = 0;
  opt.users = {{"alice", "secret"}, {"bob", "hunter2"}};
  opt.limits.auth_fail_delay_ms = 50;
  opt.test.enabled = true;
  for (const auto& cap : split(sc.server["caps"], ',')) {
    if (cap[0] == '-') opt.disabled.insert(cap.substr(1));
  }
  if (sc.server.count("uidvalidity")) {
    for (const auto& v : split(sc.server["uidvalidity"], ',')) {
      auto colon = v.find(':');
      if (colon == std::string::npos) {
        opt.test.uidvalidity["INBOX"] = static_cast<std::uint32_t>(std::stoul(v));
      } else {
        opt.test.uidvalidity[v.substr(0, colon)] = static_cast<std::uint32_t>(std::stoul(v.substr(colon + 1)));
      }
    }
  }
  for (const auto& t : split(sc.server["test"], ',')) {
    if (t == "drop_after_append") opt.test.drop_after_append = true;
    if (t == "copyuid_tagged") opt.test.copyuid_tagged = true;
    if (t == "unchanged_modified") opt.test.unchangedsince_always_modified = true;
    if (t.rfind("drop_after_bytes:", 0) == 0) opt.test.drop_after_bytes = std::stoull(t.substr(17));
  }
  bool implicit_tls = sc.server["tls"] == "implicit";
  if (!sc.server["tls"].empty()) {
    std::string dir = test_cert_dir();
    if (dir.empty()) return "scripts/make-test-ca.sh failed";
    opt.tls_cert = dir + "/server.pem";
    opt.tls_key = dir + "/server.key";
    opt.tls_listen = implicit_tls;
    opt.tls_port = 0;
  }
  if (sc.server.count("maxconn")) opt.limits.max_connections = std::stoul(sc.server["maxconn"]);
  if (sc.server.count("maxline")) opt.limits.max_line = std::stoul(sc.server["maxline"]);
  if (sc.server.count("maxliteral")) opt.limits.max_literal = std::stoull(sc.server["maxliteral"]);
  auto srv = server::Server::create(opt);
  if (!srv) return "server create failed: " + srv.error().message;
  auto& server = **srv;
  for (const auto& box : split(sc.server["mailbox"], ',')) {
    auto slash = box.find('!');  // mailbox=Sent!\Sent
    std::vector<std::string> use;
    if (slash != std::string::npos) use.push_back(box.substr(slash + 1));
    if (auto r = server.create_mailbox("alice", box.substr(0, slash), use); !r) return r.error().message;
  }
  for (const auto& s : split(sc.server["seed"], ',')) {
    auto colon = s.rfind(':');
    std::string box = s.substr(0, colon);
    int n = std::stoi(s.substr(colon + 1));
    if (!server.mailbox("alice", box)) (void)server.create_mailbox("alice", box);
    for (int k = 1; k <= n; ++k) {
      if (auto r = server.append_message("alice", box, seed_message(box, k), {}, 1704103200 + k * 60); !r) {
        return "seed failed: " + r.error().message;
      }
    }
  }
  for (const auto& s : split(sc.server["flags"], ',')) {  // flags=INBOX:2:\Seen+\Flagged
    auto parts = split(s, ':');
    if (parts.size() != 3) return "bad flags= spec " + s;
    if (auto r = server.set_flags("alice", parts[0], Uid(static_cast<std::uint32_t>(std::stoul(parts[1]))), split(parts[2], '+')); !r) {
      return "flags failed: " + r.error().message;
    }
  }
  for (const auto& s : split(sc.server["expunge"], ',')) {
    auto colon = s.rfind(':');
    if (auto r = server.expunge("alice", s.substr(0, colon), {Uid(static_cast<std::uint32_t>(std::stoul(s.substr(colon + 1))))}); !r) {
      return "expunge failed: " + r.error().message;
    }
  }
  auto port = server.start();
  if (!port) return "server start failed: " + port.error().message;
  std::thread loop([&] { (void)server.run(); });
  struct Stopper {
    server::Server& s;
    std::thread& t;
    ~Stopper() {
      s.stop();
      t.join();
    }
  } stopper{server, loop};

  bool auto_login = sc.server["login"] != "no";
  std::map<int, std::unique_ptr<Conn>> conns;
  std::string transcript;
  int cur = 1;
  auto connect = [&](int n) -> std::string {
    auto s = implicit_tls ? net::connect_tls("127.0.0.1", server.tls_port(), {},
                                             net::TlsOptions{.host = "localhost", .verify = false})
                          : net::connect_tcp("127.0.0.1", *port);
    if (!s) return "connect failed: " + s.error().message;
    conns[n] = std::make_unique<Conn>(std::move(*s));
    if (!auto_login) return {};
    auto greet = conns[n]->read();
    if (!greet) return "no greeting: " + greet.error().message;
    if (auto st = conns[n]->send("tb0 LOGIN alice secret"); !st) return st.error().message;
    for (;;) {
      auto l = conns[n]->read();
      if (!l) return "login failed: " + l.error().message;
      if (l->rfind("tb0 ", 0) == 0) {
        if (l->rfind("tb0 OK", 0) != 0) return "login refused: " + *l;
        break;
      }
    }
    return {};
  };
  auto ignored = [&](const std::string& line) {
    std::string k = kind_of(line);
    return !k.empty() && std::find(sc.ignore.begin(), sc.ignore.end(), k) != sc.ignore.end();
  };
  auto failure = [&](int line_no, const std::string& what, const std::string& expected,
                     const std::string& actual) {
    return path.string() + ":" + std::to_string(line_no) + ": " + what + "\n--- transcript ---\n" +
           transcript + "--- expected ---\n" + expected + "\n--- actual ---\n" + actual + "\n";
  };
  if (auto err = connect(1); !err.empty()) return err;

  for (const auto& step : sc.steps) {
    switch (step.kind) {
      case '@':
        cur = step.conn;
        transcript += "@" + std::to_string(cur) + "\n";
        if (!conns.count(cur)) {
          if (auto err = connect(cur); !err.empty()) return failure(step.line_no, err, "", "");
        }
        break;
      case 'C':
        transcript += "C: " + step.text + "\n";
        if (auto st = conns[cur]->send(step.text); !st) {
          return failure(step.line_no, "send failed", "", st.error().message);
        }
        break;
      case 'S': {
        std::vector<bool> done(step.expects.size(), false);
        std::size_t left = step.expects.size();
        while (left > 0) {
          auto line = conns[cur]->read();
          std::string first;
          for (std::size_t i = 0; i < done.size(); ++i) {
            if (!done[i]) {
              first = (step.expects[i].regex ? "S~ " : "S: ") + step.expects[i].text;
              break;
            }
          }
          if (!line) return failure(step.line_no, "no line within 2 s", first, line.error().message);
          transcript += "S: " + *line + "\n";
          bool matched = false;
          bool blocked = false;  // an unmatched tagged/continuation line comes first
          for (std::size_t i = 0; i < done.size() && !matched; ++i) {
            if (done[i]) continue;
            const auto& e = step.expects[i];
            bool eligible = e.untagged() ? !blocked : (i == 0 || std::all_of(done.begin(), done.begin() + static_cast<long>(i), [](bool b) { return b; }));
            if (!e.untagged()) blocked = true;
            if (eligible && e.matches(*line)) {
              done[i] = true;
              --left;
              matched = true;
            }
          }
          if (!matched && !ignored(*line)) {
            return failure(step.expects[0].line_no, "unexpected line", first, *line);
          }
        }
        break;
      }
      case 'X': {
        for (;;) {
          auto line = conns[cur]->read();
          if (!line) {
            if (line.error().code == Errc::Closed || line.error().code == Errc::Network) break;
            return failure(step.line_no, "expected the server to close", "X", line.error().message);
          }
          transcript += "S: " + *line + "\n";
          if (!ignored(*line)) return failure(step.line_no, "expected the server to close", "X", *line);
        }
        transcript += "X\n";
        break;
      }
      case 'T':
      case 'Z': {
        transcript += step.kind == 'T' ? "@starttls\n" : "@compress\n";
        auto st = step.kind == 'T' ? conns[cur]->starttls() : conns[cur]->compress();
        if (!st) return failure(step.line_no, "TLS/COMPRESS on the client side failed", "", st.error().message);
        break;
      }
      default:
        return failure(step.line_no, "cannot parse script line", "C:/S:/S~/X/@n/@server/@ignore", step.text);
    }
  }
  return {};
}

}  // namespace

TEST_CASE("scenario scripts") {
  const char* filter = std::getenv("TWINBOX_SCENARIO");
  std::vector<fs::path> scripts;
  for (const auto& e : fs::recursive_directory_iterator(TWINBOX_SCENARIO_DIR)) {
    if (e.path().extension() == ".imap") scripts.push_back(e.path());
  }
  std::sort(scripts.begin(), scripts.end());
  REQUIRE(!scripts.empty());
  int run = 0;
  for (const auto& p : scripts) {
    if (filter && p.string().find(filter) == std::string::npos) continue;
    ++run;
    CAPTURE(p.string());
    std::string report = run_script(p);
    if (!report.empty()) FAIL_CHECK(report);
  }
  CHECK(run > 0);
}
