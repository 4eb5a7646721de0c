// twinbox watch through the fault proxy (tests/support/fault_proxy.hpp): the local side's
// connections go through a proxy that cuts one of them (the watcher connection or the sync
// connection) after a given number of bytes, either way, while changes are made on both
// sides. Watch must reconnect and converge: every message exactly once on both sides, flags
// and expunges carried over, nothing lost, nothing duplicated.
//
// Accept order at the proxy: connection 0 is the local watcher (NOTIFY) connection, 1 the
// local sync connection of the first round, kept for the rounds after it.

#include <algorithm>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "support/fault_proxy.hpp"
#include "watch_fixture.hpp"

namespace twinbox::test {
namespace {

struct Cut {
  std::string name;
  Faults faults;
};

Cut cut(const std::string& name, int connection, bool down, std::uint64_t after) {
  Cut c{name, {}};
  c.faults.only_connection = connection;
  (down ? c.faults.drop_down_after : c.faults.drop_up_after) = after;
  return c;
}

/// The server's bytes stop coming after `after`; the socket stays open (a dead peer).
Cut stall(const std::string& name, int connection, std::uint64_t after) {
  Cut c{name, {}};
  c.faults.only_connection = connection;
  c.faults.stall_down_after = after;
  return c;
}

/// How many messages of `mailbox` carry Message-ID <id@twinbox.test>: one EXAMINE and one
/// UID SEARCH (watch may expunge concurrently); no REQUIRE on the count, the caller judges.
std::size_t count(Account& a, const std::string& mailbox, const std::string& id) {
  client::Session& s = a.session();
  auto deadline = net::deadline_in(std::chrono::seconds(10));
  client::SelectOptions so;
  so.read_only = true;
  auto sel = s.wait(s.select(mailbox, so), deadline);
  REQUIRE_MESSAGE(sel.has_value(), (sel ? std::string() : sel.error().message));
  auto r = s.wait(s.uid_search("HEADER Message-ID \"<" + id + "@twinbox.test>\""), deadline);
  REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message));
  return r->uids.size();
}

/// The expected end state: `present` once on each side, `gone` on neither.
bool converged(Account& la, Account& ra, const std::vector<std::string>& present,
               const std::vector<std::string>& gone) {
  for (const auto& id : present) {
    if (count(la, "INBOX", id) != 1 || count(ra, "INBOX", id) != 1) return false;
  }
  for (const auto& id : gone) {
    if (count(la, "INBOX", id) != 0 || count(ra, "INBOX", id) != 0) return false;
  }
  return same_mail(la, ra);
}

void run_cut(const Cut& c, std::uint64_t* up = nullptr, std::uint64_t* down = nullptr) {
  INFO("cut: " << c.name);
  TempDir dir;
  auto local = TestServer::embedded();
  auto remote = TestServer::embedded();
  Account la(*local), ra(*remote);
  auto& ls = *local->embedded_server();
  auto& rs = *remote->embedded_server();
  auto deliver = [](server::Server& s, const std::string& id) {
    REQUIRE(s.append_message("alice", "INBOX", make_message(id)).has_value());
  };
  deliver(ls, "seed-l");
  deliver(rs, "seed-r");
  FaultProxy proxy(local->endpoint().port, c.faults);
  auto engine = engine_options(*local, *remote, dir.file("state.db"));
  engine.endpoints[Side::Local].port = proxy.port();
  WatchRun w(test_watch_options(engine));
  REQUIRE_MESSAGE(w.wait_ready(), w.log_text());

  std::vector<std::string> present{"seed-l", "seed-r"}, gone;
  auto settle = [&](const char* phase) {
    auto d = w.wait_arrival([&] { return converged(la, ra, present, gone); }, WatchClock::now(),
                            milliseconds(30'000));
    REQUIRE_MESSAGE(d.has_value(), phase << " did not converge\n" << w.log_text());
  };
  // Phase 1: new mail on both sides.
  for (int i = 0; i < 3; ++i) {
    for (auto [s, tag] : {std::pair<server::Server*, const char*>{&ls, "l"}, {&rs, "r"}}) {
      std::string id = std::string(tag) + "-" + std::to_string(i);
      deliver(*s, id);
      present.push_back(id);
    }
  }
  settle("new mail");
  // Phase 2: flags both ways, an expunge on each side.
  la.store("INBOX", *la.find("INBOX", "r-0"), client::StoreMode::Add, {"\\Flagged"});
  ra.store("INBOX", *ra.find("INBOX", "l-0"), client::StoreMode::Add, {"\\Seen"});
  la.expunge("INBOX", {*la.find("INBOX", "l-1")});
  ra.expunge("INBOX", {*ra.find("INBOX", "r-1")});
  for (const char* id : {"l-1", "r-1"}) {
    present.erase(std::find(present.begin(), present.end(), id));
    gone.emplace_back(id);
  }
  settle("flags and expunges");
  CHECK(has_flag(ra, "INBOX", "r-0", "\\Flagged"));
  CHECK(has_flag(la, "INBOX", "l-0", "\\Seen"));
  // Phase 3: more mail after whatever reconnecting happened.
  for (int i = 3; i < 5; ++i) {
    for (auto [s, tag] : {std::pair<server::Server*, const char*>{&ls, "l"}, {&rs, "r"}}) {
      std::string id = std::string(tag) + "-" + std::to_string(i);
      deliver(*s, id);
      present.push_back(id);
    }
  }
  settle("new mail after the cut");
  auto st = w.stop();
  CHECK_MESSAGE(st.has_value(), (st ? std::string() : st.error().message));
  if (up) *up = proxy.bytes_up();
  if (down) *down = proxy.bytes_down();
  if (c.faults.only_connection >= 0) {
    CHECK_MESSAGE(proxy.fault_fired(), "the cut never happened: move it below the traffic\n"
                                           << w.log_text());
    CHECK_MESSAGE(proxy.connections() > c.faults.only_connection + 1,
                  "no reconnection through the proxy\n" << w.log_text());
  }
}

}  // namespace

TEST_CASE("watch through the fault proxy, no fault: the traffic the cut points are chosen from") {
  std::uint64_t up = 0, down = 0;
  run_cut(Cut{"none", {}}, &up, &down);
  MESSAGE("local side through the proxy: " << up << " bytes up, " << down << " bytes down");
}

TEST_CASE("watch: the watcher connection cut at several byte positions; watch converges") {
  // 0 = the local watcher connection: during login, during the first LIST-STATUS / NOTIFY,
  // and later, among events and watchdog NOOPs; a stall is found by the watchdog.
  for (const auto& c : {cut("watcher down 60", 0, true, 60), cut("watcher down 900", 0, true, 900),
                        cut("watcher down 1500", 0, true, 1500), cut("watcher up 40", 0, false, 40),
                        cut("watcher up 200", 0, false, 200), stall("watcher stalled 1200", 0, 1200)}) {
    run_cut(c);
  }
}

TEST_CASE("watch: the kept sync connection cut at several byte positions; watch converges") {
  // 1 = the local sync connection: during the first round, and in later rounds on the kept
  // connection; a stall is found by the round's timeout (engine) or the keepalive NOOP.
  for (const auto& c : {cut("sync down 100", 1, true, 100), cut("sync down 1500", 1, true, 1500),
                        cut("sync down 5000", 1, true, 5000), cut("sync up 150", 1, false, 150),
                        cut("sync up 900", 1, false, 900), cut("sync up 2500", 1, false, 2500),
                        stall("sync stalled 3000", 1, 3000)}) {
    run_cut(c);
  }
}

}  // namespace twinbox::test
