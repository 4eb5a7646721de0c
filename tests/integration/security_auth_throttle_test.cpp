// Per-address login rate limiting of `twinbox serve` over real TCP (issue 10): failures from
// one address, spread over several connections and accounts, lock that address out (NO
// [UNAVAILABLE], even for the right password) while another loopback address (127.0.0.2)
// logs in; the lockout ends, a success resets the count; the CLI option switches it off.

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include <twinbox/net/io.hpp>
#include <twinbox/net/tcp.hpp>
#include <twinbox/server/server.hpp>

#include "support/running_server.hpp"

using namespace twinbox;
using namespace twinbox::server;
using namespace std::chrono_literals;

namespace {

using Running = twinbox::test::RunningServer;

/// A client connected to 127.0.0.1:port from the loopback address `from`.
struct Client {
  net::StreamPtr s;
  std::string pending;
  Client(std::uint16_t port, const char* from = "127.0.0.1") {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    REQUIRE(::inet_pton(AF_INET, from, &src.sin_addr) == 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) == 0);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(port);
    REQUIRE(::inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr) == 1);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) == 0);
    s = net::adopt_socket(fd, std::string(from));
    CHECK(line().rfind("* OK [CAPABILITY", 0) == 0);
  }
  std::string line() {
    auto l = net::read_line(*s, pending, net::deadline_in(10s));
    REQUIRE(l);
    return *l;
  }
  /// Sends `tag command` and returns the tagged answer line.
  std::string ask(const std::string& tag, const std::string& command) {
    REQUIRE(net::write_all(*s, tag + " " + command + "\r\n", net::deadline_in(10s)));
    for (int i = 0; i < 100; ++i) {
      std::string l = line();
      if (l.rfind(tag + " ", 0) == 0) return l;
    }
    FAIL("no tagged answer to " << command);
    return {};
  }
};

Options throttled(std::size_t after, int lockout_ms) {
  Options opt;
  opt.port = 0;
  opt.users = {{"alice", "secret"}, {"bob", "hunter2"}};
  opt.limits.auth_fail_delay_ms = 0;
  opt.limits.auth_lockout_after = after;
  opt.limits.auth_lockout_ms = lockout_ms;
  return opt;
}

bool starts(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// base64("\0bob\0hunter2")
constexpr const char* kBobPlain = "AGJvYgBodW50ZXIy";

}  // namespace

TEST_CASE("serve: failures over several connections lock the address out for every account") {
  Running r(throttled(3, 60 * 1000));
  {
    // Three connections, one wrong password each, two different accounts: below the
    // per-session limit (5) every time, so only the per-address count can stop them.
    Client a(r.port), b(r.port), c(r.port);
    CHECK(starts(a.ask("a1", "LOGIN alice wrong1"), "a1 NO [AUTHENTICATIONFAILED]"));
    CHECK(starts(b.ask("b1", "LOGIN bob wrong2"), "b1 NO [AUTHENTICATIONFAILED]"));
    CHECK(r.server->auth_locked_for("127.0.0.1") == 0ms);
    CHECK(starts(c.ask("c1", "LOGIN nobody wrong3"), "c1 NO [AUTHENTICATIONFAILED]"));
    // The third failure locked the address: already-open connections are refused too.
    std::string refused = a.ask("a2", "LOGIN alice secret");
    CHECK(starts(refused, "a2 NO [UNAVAILABLE] Too many failed logins from 127.0.0.1; try again in "));
  }
  auto left = r.server->auth_locked_for("127.0.0.1");
  CHECK(left > 50s);
  CHECK(left <= 60s);
  // A new connection, the other account, the right password, by LOGIN or AUTHENTICATE: refused.
  Client d(r.port);
  CHECK(starts(d.ask("d1", "LOGIN bob hunter2"), "d1 NO [UNAVAILABLE]"));
  CHECK(starts(d.ask("d2", std::string("AUTHENTICATE PLAIN ") + kBobPlain), "d2 NO [UNAVAILABLE]"));
  // Refused attempts still count against the session: BYE at the per-session limit.
  CHECK(starts(d.ask("d3", "LOGIN bob hunter2"), "d3 NO [UNAVAILABLE]"));
  CHECK(starts(d.ask("d4", "LOGIN bob hunter2"), "d4 NO [UNAVAILABLE]"));
  REQUIRE(net::write_all(*d.s, "d5 LOGIN bob hunter2\r\n", net::deadline_in(10s)));
  CHECK(starts(d.line(), "d5 NO [UNAVAILABLE]"));
  CHECK(d.line() == "* BYE Too many failed logins.");
  // Refusals did not extend the lockout.
  CHECK(r.server->auth_locked_for("127.0.0.1") <= left);
  // Another address is not affected.
  Client e(r.port, "127.0.0.2");
  CHECK(starts(e.ask("e1", "LOGIN alice secret"), "e1 OK"));
  CHECK(r.server->auth_locked_for("127.0.0.2") == 0ms);
}

TEST_CASE("serve: the lockout ends, doubles on the next failure, and a success resets the count") {
  Running r(throttled(2, 300));
  Client a(r.port);
  CHECK(starts(a.ask("a1", "LOGIN alice x"), "a1 NO [AUTHENTICATIONFAILED]"));
  CHECK(starts(a.ask("a2", "LOGIN alice y"), "a2 NO [AUTHENTICATIONFAILED]"));
  CHECK(r.server->auth_locked_for("127.0.0.1") > 0ms);
  // Wait for the server to report the lockout over (bounded by the clock, not a sleep).
  auto limit = std::chrono::steady_clock::now() + 10s;
  while (r.server->auth_locked_for("127.0.0.1") > 0ms) {
    REQUIRE(std::chrono::steady_clock::now() < limit);
    std::this_thread::sleep_for(20ms);
  }
  // One more failure is enough to lock again, for twice as long.
  Client b(r.port);
  CHECK(starts(b.ask("b1", "LOGIN alice z"), "b1 NO [AUTHENTICATIONFAILED]"));
  auto again = r.server->auth_locked_for("127.0.0.1");
  CHECK(again > 300ms);
  CHECK(again <= 600ms);
  CHECK(starts(b.ask("b2", "LOGIN alice secret"), "b2 NO [UNAVAILABLE]"));
  limit = std::chrono::steady_clock::now() + 10s;
  while (r.server->auth_locked_for("127.0.0.1") > 0ms) {
    REQUIRE(std::chrono::steady_clock::now() < limit);
    std::this_thread::sleep_for(20ms);
  }
  // The right password now succeeds and forgets the address: one failure no longer locks.
  CHECK(starts(b.ask("b3", "LOGIN alice secret"), "b3 OK"));
  Client c(r.port);
  CHECK(starts(c.ask("c1", "LOGIN alice nope"), "c1 NO [AUTHENTICATIONFAILED]"));
  CHECK(r.server->auth_locked_for("127.0.0.1") == 0ms);
  CHECK(starts(c.ask("c2", "LOGIN bob hunter2"), "c2 OK"));
}

TEST_CASE("serve: auth_lockout_after 0 switches the per-address lockout off") {
  Running r(throttled(0, 60 * 1000));
  for (int i = 0; i < 4; ++i) {
    Client a(r.port);
    for (int j = 0; j < 4; ++j) {
      const std::string tag = "a" + std::to_string(j);
      CHECK(starts(a.ask(tag, "LOGIN alice bad"), tag + " NO [AUTHENTICATIONFAILED]"));
    }
  }
  Client b(r.port);
  CHECK(starts(b.ask("b1", "LOGIN alice secret"), "b1 OK"));
}
