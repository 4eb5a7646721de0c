// Credentials never leak: not into the protocol trace (--debug), not into error messages or
// the log, not into the state database; the state file and its lock are private (0600).
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <thread>

#include <twinbox/client/connect.hpp>
#include <twinbox/server/server.hpp>

#include "support/hostile_server.hpp"
#include "support/sync_fixture.hpp"

using namespace twinbox;
using namespace twinbox::test;

namespace {

const std::string kPassword = "Pw-7f3c9e1d-unique";
const std::string kToken = "ya29.Tok-91ab44f0-unique";

std::string b64decode(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  int acc = 0, bits = 0;
  for (char c : in) {
    int v = val(c);
    if (v < 0) continue;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

/// True when `text` holds `secret` as such, inside a quoted string, or base64-encoded in any
/// word (SASL payloads).
bool leaks(std::string_view text, const std::string& secret) {
  if (text.find(secret) != std::string_view::npos) return true;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t j = text.find_first_of(" \r\n\"()", i);
    if (j == std::string_view::npos) j = text.size();
    if (j - i >= 8 && b64decode(text.substr(i, j - i)).find(secret) != std::string::npos) {
      return true;
    }
    i = j + 1;
  }
  return false;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "\n";
  return s;
}

struct Captured {
  std::mutex mu;
  std::string text;
  client::TraceFn fn() {
    return [this](std::string_view line) {
      std::lock_guard<std::mutex> lock(mu);
      text += line;
      text += '\n';
    };
  }
};

client::EndpointOptions hostile_endpoint(const HostileServer& srv, Captured& trace) {
  client::EndpointOptions o;
  o.transport = client::Transport::Plain;
  o.host = "127.0.0.1";
  o.port = srv.port();
  o.send_id = false;
  o.credentials.username = "alice";
  o.connect_timeout = std::chrono::seconds(5);
  o.command_timeout = std::chrono::seconds(5);
  o.session.trace = trace.fn();
  return o;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

/// An embedded server whose only user has the password kPassword.
struct SecretServer {
  std::unique_ptr<server::Server> srv;
  std::thread thread;
  std::uint16_t port = 0;
  SecretServer() {
    server::Options o;
    o.port = 0;
    o.users = {{"alice", kPassword}};
    o.limits.auth_fail_delay_ms = 0;
    auto s = server::Server::create(o);
    REQUIRE_MESSAGE(s.has_value(), s.error().message);
    srv = std::move(*s);
    auto p = srv->start();
    REQUIRE(p.has_value());
    port = *p;
    thread = std::thread([this] { (void)srv->run(); });
  }
  ~SecretServer() {
    srv->stop();
    thread.join();
  }
  client::EndpointOptions endpoint(const std::string& password) const {
    client::EndpointOptions o;
    o.transport = client::Transport::Plain;
    o.host = "127.0.0.1";
    o.port = port;
    o.credentials.username = "alice";
    o.credentials.password = password;
    o.send_id = false;
    o.connect_timeout = std::chrono::seconds(10);
    o.command_timeout = std::chrono::seconds(10);
    return o;
  }
};

}  // namespace

TEST_CASE("the protocol trace never shows a password or token, whatever the mechanism") {
  struct Case {
    const char* name;
    std::string caps;
    client::AuthMechanism mech;
    bool oauth;
  };
  const Case cases[] = {
      {"LOGIN", "IMAP4rev1", client::AuthMechanism::Login, false},
      {"PLAIN with SASL-IR", "IMAP4rev1 AUTH=PLAIN SASL-IR", client::AuthMechanism::Plain, false},
      {"PLAIN without SASL-IR", "IMAP4rev1 AUTH=PLAIN", client::AuthMechanism::Plain, false},
      {"OAUTHBEARER", "IMAP4rev1 AUTH=OAUTHBEARER SASL-IR", client::AuthMechanism::OAuthBearer, true},
      {"XOAUTH2", "IMAP4rev1 AUTH=XOAUTH2 SASL-IR", client::AuthMechanism::XOAuth2, true},
      {"XOAUTH2 without SASL-IR", "IMAP4rev1 AUTH=XOAUTH2", client::AuthMechanism::XOAuth2, true},
  };
  for (const auto& c : cases) {
    for (bool accept : {true, false}) {
      CAPTURE(c.name);
      CAPTURE(accept);
      const std::string secret = c.oauth ? kToken : kPassword;
      HostileServer srv([&](HostileConnection& conn) {
        conn.capabilities = c.caps;
        conn.auth_answer = accept ? "OK logged in" : "NO [AUTHENTICATIONFAILED] Invalid credentials";
        conn.serve([](HostileConnection& h, const HostileCommand& cmd) {
          h.ok(cmd);
          return true;
        });
      });
      Captured trace;
      auto ep = hostile_endpoint(srv, trace);
      ep.credentials.mechanism = c.mech;
      if (c.oauth) {
        ep.credentials.oauth_token = [] { return Result<std::string>(kToken); };
      } else {
        ep.credentials.password = kPassword;
      }
      auto s = client::connect(ep);
      CHECK(s.has_value() == accept);
      if (s) {
        (void)(*s)->wait((*s)->noop(), net::deadline_in(std::chrono::seconds(5)));
      } else {
        CHECK_FALSE(leaks(s.error().message, secret));
      }
      // The secret did go to the server (the test is not vacuous) …
      auto sent = join(srv.received());
      CHECK_MESSAGE(leaks(sent, secret), "client sent:\n" << sent);
      // … but never into the trace.
      std::lock_guard<std::mutex> lock(trace.mu);
      CHECK(trace.text.find("C: ") != std::string::npos);
      CHECK_MESSAGE(!leaks(trace.text, secret), "trace:\n" << trace.text);
    }
  }
}

TEST_CASE("a whole sync keeps the password out of trace, log, errors and state; files are 0600") {
  SecretServer a, b;
  TempDir dir;
  const std::string state = dir.file("state.db");
  sync::EngineOptions o;
  o.endpoints[Side::Local] = a.endpoint(kPassword);
  o.endpoints[Side::Remote] = b.endpoint(kPassword);
  o.state_path = state;
  o.timeout = std::chrono::seconds(20);
  Captured trace;
  for (Side s : kBothSides) o.endpoints[s].session.trace = trace.fn();
  for (int i = 0; i < 3; ++i) {
    // No final CRLF: see the APPEND framing workaround in fault_sync_test.cpp.
    REQUIRE(a.srv->append_message("alice", "INBOX", make_message("sec" + std::to_string(i)) + "--"));
  }
  // A permissive umask must not make the state readable by others.
  mode_t old = ::umask(0);
  std::string log;
  auto r = run(o, &log);
  ::umask(old);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  REQUIRE(b.srv->messages("alice", "INBOX")->size() == 3);

  {
    std::lock_guard<std::mutex> lock(trace.mu);
    // Authentication was traced (redacted).
    CHECK((trace.text.find("C: a1 LOGIN") != std::string::npos ||
           trace.text.find("AUTHENTICATE") != std::string::npos));
    CHECK_MESSAGE(!leaks(trace.text, kPassword), trace.text);
  }
  CHECK_FALSE(leaks(log, kPassword));
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    const std::string p = e.path().string();
    CAPTURE(p);
    CHECK_FALSE(leaks(file_bytes(p), kPassword));
    CHECK(mode_of(p) == 0600);
  }
  CHECK(mode_of(state) == 0600);
  CHECK(mode_of(state + ".lock") == 0600);

  // A wrong password: the error names the problem, never the password tried.
  const std::string wrong = "Wrong-5b2e8a77-guess";
  auto bad = o;
  bad.endpoints[Side::Remote] = b.endpoint(wrong);
  bad.endpoints[Side::Remote].session.trace = trace.fn();
  std::string log2;
  auto r2 = run(bad, &log2);
  REQUIRE_FALSE(r2.has_value());
  MESSAGE("wrong password: " << r2.error().message);
  CHECK_FALSE(leaks(r2.error().message, wrong));
  CHECK_FALSE(leaks(log2, wrong));
  std::lock_guard<std::mutex> lock(trace.mu);
  CHECK_FALSE(leaks(trace.text, wrong));
}
