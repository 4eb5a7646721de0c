// Per-address failed-login tracking (src/server/auth_throttle.hpp), time driven by the test:
// lockout after K failures, doubling to a cap, expiry after a quiet window, reset on success,
// bounded table, addresses independent.

#include <doctest/doctest.h>

#include <string>

#include "../../../src/server/auth_throttle.hpp"

using namespace twinbox::server;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

AuthThrottleLimits small_limits() {
  AuthThrottleLimits l;
  l.lockout_after = 3;
  l.lockout = seconds(10);
  l.max_lockout = seconds(35);
  l.window = seconds(100);
  l.max_addresses = 4;
  return l;
}

const Clock::time_point t0 = Clock::time_point{} + std::chrono::hours(1);

}  // namespace

TEST_CASE("auth throttle: K failures lock the address out; further failures double it up to the cap") {
  AuthThrottle th(small_limits());
  CHECK(th.failed("10.0.0.1", t0) == milliseconds(0));
  CHECK(th.failed("10.0.0.1", t0 + seconds(1)) == milliseconds(0));
  CHECK(th.locked_for("10.0.0.1", t0 + seconds(1)) == milliseconds(0));
  CHECK(th.failed("10.0.0.1", t0 + seconds(2)) == seconds(10));
  CHECK(th.locked_for("10.0.0.1", t0 + seconds(2)) == seconds(10));
  CHECK(th.locked_for("10.0.0.1", t0 + seconds(11)) == seconds(1));
  CHECK(th.locked_for("10.0.0.1", t0 + seconds(12)) == milliseconds(0));
  // Another address is not affected.
  CHECK(th.locked_for("10.0.0.2", t0 + seconds(2)) == milliseconds(0));
  // After the lockout each failure locks again, twice as long, capped.
  CHECK(th.failed("10.0.0.1", t0 + seconds(12)) == seconds(20));
  CHECK(th.locked_for("10.0.0.1", t0 + seconds(31)) == seconds(1));
  CHECK(th.failed("10.0.0.1", t0 + seconds(32)) == seconds(35));
  CHECK(th.failed("10.0.0.1", t0 + seconds(67)) == seconds(35));
  // A remaining fraction of a millisecond still reports as locked.
  CHECK(th.locked_for("10.0.0.1", t0 + seconds(102) - std::chrono::microseconds(1)) ==
        milliseconds(1));
}

TEST_CASE("auth throttle: an address is forgotten after a quiet window, or on success") {
  AuthThrottle th(small_limits());
  (void)th.failed("a", t0);
  (void)th.failed("a", t0 + seconds(1));
  // The window counts from the last failure: a third failure 99 s later still locks.
  CHECK(th.failed("a", t0 + seconds(100)) == seconds(10));
  // 100 s after the lockout ended the entry is gone: three fresh failures are needed again,
  // and the next lockout is the base one, not a doubled one.
  CHECK(th.locked_for("a", t0 + seconds(210)) == milliseconds(0));
  CHECK(th.size() == 0);
  (void)th.failed("a", t0 + seconds(211));
  (void)th.failed("a", t0 + seconds(212));
  th.succeeded("a");
  CHECK(th.size() == 0);
  CHECK(th.failed("a", t0 + seconds(213)) == milliseconds(0));
  CHECK(th.failed("a", t0 + seconds(214)) == milliseconds(0));
  CHECK(th.failed("a", t0 + seconds(215)) == seconds(10));
}

TEST_CASE("auth throttle: the table is bounded; expired entries go first, then the oldest") {
  AuthThrottle th(small_limits());
  for (int i = 0; i < 4; ++i) (void)th.failed("old" + std::to_string(i), t0 + seconds(i));
  CHECK(th.size() == 4);
  // A fifth address evicts the least recently active one ("old0").
  (void)th.failed("new", t0 + seconds(10));
  CHECK(th.size() == 4);
  for (int i = 0; i < 2; ++i) (void)th.failed("old1", t0 + seconds(11 + i));
  CHECK(th.locked_for("old1", t0 + seconds(12)) == seconds(10));
  // Much later every entry has expired: they are dropped, not just one of them.
  for (int i = 0; i < 4; ++i) (void)th.failed("late" + std::to_string(i), t0 + seconds(500 + i));
  CHECK(th.size() == 4);
  CHECK(th.locked_for("old1", t0 + seconds(504)) == milliseconds(0));
  // Tens of thousands of distinct addresses never grow the table past its cap.
  for (int i = 0; i < 20000; ++i) (void)th.failed("spray" + std::to_string(i), t0 + seconds(600));
  CHECK(th.size() == 4);
}

TEST_CASE("auth throttle: lockout_after 0 switches it off") {
  auto l = small_limits();
  l.lockout_after = 0;
  AuthThrottle th(l);
  for (int i = 0; i < 50; ++i) CHECK(th.failed("a", t0 + seconds(i)) == milliseconds(0));
  CHECK(th.locked_for("a", t0 + seconds(50)) == milliseconds(0));
  CHECK(th.size() == 0);
}
