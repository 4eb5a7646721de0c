// The server's timers over real TCP: the autologout timer (Limits::idle_timeout_ms, RFC 3501
// §5.4; IDLE is not exempt, RFC 2177 §3) and the delayed NO of a failed login
// (Limits::auth_fail_delay_ms), which must not hold up other sessions. Every wait is bounded;
// the checks are lower bounds on deliberate delays and the order of events, not speed.

#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include <twinbox/net/io.hpp>
#include <twinbox/net/tcp.hpp>
#include <twinbox/server/server.hpp>

#include "support/line_client.hpp"
#include "support/running_server.hpp"

using namespace twinbox;
using namespace twinbox::server;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr auto kBound = 10s;  // far above every timer below: only a hang reaches it

struct Client : twinbox::test::LineClient {
  explicit Client(std::uint16_t port) : LineClient(port, kBound) {}
  /// Expects `* BYE …` and then the end of the stream; returns the time the BYE arrived.
  SteadyClock::time_point expect_bye_and_eof(const std::string& bye) {
    CHECK(line() == bye);
    const auto at = SteadyClock::now();
    auto eof = next();
    REQUIRE_FALSE(eof);
    CHECK(eof.error().code == Errc::Closed);
    return at;
  }
};


Options options(int idle_timeout_ms, int auth_fail_delay_ms) {
  Options opt;
  opt.port = 0;
  opt.users = {{"alice", "secret"}};
  opt.limits.idle_timeout_ms = idle_timeout_ms;
  opt.limits.auth_fail_delay_ms = auth_fail_delay_ms;
  return opt;
}

}  // namespace

TEST_CASE("idle timeout: a silent session gets BYE and is closed after the configured time") {
  constexpr auto kTimeout = 1000ms;
  test::RunningServer r(options(static_cast<int>(kTimeout.count()), 0));
  Client c(r.port);
  CHECK(c.line().rfind("* OK [CAPABILITY ", 0) == 0);
  c.send("a LOGIN alice secret");
  CHECK(c.tagged("a").rfind("a OK ", 0) == 0);
  // The server's timer starts when it reads SELECT, after this point.
  const auto last_input = SteadyClock::now();
  c.send("b SELECT INBOX");
  CHECK(c.tagged("b") == "b OK [READ-WRITE] Select completed.");
  const auto bye_at = c.expect_bye_and_eof("* BYE Disconnected for inactivity.");
  CHECK(bye_at - last_input >= kTimeout);
  CHECK(r.server->connection_count() == 0);
}

TEST_CASE("idle timeout: a session in IDLE is logged off too (RFC 2177 §3)") {
  constexpr auto kTimeout = 1000ms;
  test::RunningServer r(options(static_cast<int>(kTimeout.count()), 0));
  Client c(r.port);
  c.line();
  c.send("a LOGIN alice secret");
  c.tagged("a");
  c.send("b SELECT INBOX");
  c.tagged("b");
  const auto last_input = SteadyClock::now();
  c.send("c IDLE");
  CHECK(c.line() == "+ idling");
  // A change pushed to the idling client (output, not client activity) does not save it.
  REQUIRE(r.server->append_message("alice", "INBOX", "Subject: pushed\r\n\r\nhi\r\n"));
  CHECK(c.line() == "* 1 EXISTS");
  CHECK(c.line() == "* 1 RECENT");
  const auto bye_at = c.expect_bye_and_eof("* BYE Disconnected for inactivity.");
  CHECK(bye_at - last_input >= kTimeout);
}

TEST_CASE("idle timeout: a session that is not logged in is cut as well") {
  constexpr auto kTimeout = 1000ms;
  test::RunningServer r(options(static_cast<int>(kTimeout.count()), 0));
  const auto connected = SteadyClock::now();
  Client c(r.port);
  c.line();
  const auto bye_at = c.expect_bye_and_eof("* BYE Disconnected for inactivity.");
  CHECK(bye_at - connected >= kTimeout);
}

TEST_CASE("failed login: the NO comes after the delay and other sessions are served meanwhile") {
  constexpr auto kDelay = 3000ms;
  test::RunningServer r(options(60 * 1000, static_cast<int>(kDelay.count())));
  Client bad(r.port);
  Client good(r.port);
  bad.line();
  good.line();
  const auto sent = SteadyClock::now();
  bad.send("a LOGIN alice wrong");
  // While `bad` waits for its NO, `good` logs in and works.
  good.send("g1 LOGIN alice secret");
  CHECK(good.tagged("g1").rfind("g1 OK ", 0) == 0);
  good.send("g2 SELECT INBOX");
  CHECK(good.tagged("g2") == "g2 OK [READ-WRITE] Select completed.");
  // `good` was answered while `bad`'s NO is still held back: nothing has reached `bad`
  // yet. A loop that slept through the delay would have sent that NO before serving `good`.
  auto early = net::read_line(*bad.s, bad.pending, net::deadline_in(0ms));
  REQUIRE_FALSE(early);
  CHECK(early.error().code == Errc::Timeout);
  CHECK(bad.line() == "a NO [AUTHENTICATIONFAILED] Authentication failed.");
  CHECK(SteadyClock::now() - sent >= kDelay);
  // The session goes on after the NO.
  bad.send("b LOGIN alice secret");
  CHECK(bad.tagged("b").rfind("b OK ", 0) == 0);
}
