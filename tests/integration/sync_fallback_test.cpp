// Whole syncs against servers that lack extensions (issue 6): the embedded server with
// QRESYNC, CONDSTORE, UIDPLUS, MOVE, LIST-STATUS, ESEARCH, LITERAL+ switched off, alone and in
// combinations, on one side or both; mixed pairs (QRESYNC on one side, plain on the other,
// Dovecot against a plain embedded server); the plain path's flag writes on the wire (deltas,
// never a replace) and a synchronizing literal that must not stall the other side (both
// through the protocol trace, tests/support/wire_trace.hpp). The path-selection rules that
// need server answers the embedded server never gives are in sync_path_selection_test.cpp.
//
// The other mail client's changes go through the server's direct store API (DirectMail), so
// they do not depend on the extensions switched off.
#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <regex>
#include <set>
#include <utility>

#include <twinbox/sync/events.hpp>

#include "support/fault_proxy.hpp"
#include "support/sync_fixture.hpp"
#include "support/wire_trace.hpp"

using namespace twinbox;
using namespace twinbox::test;

namespace {

using Off = std::set<std::string>;

const Off kQresyncOff{"QRESYNC"};
const Off kPlain{"QRESYNC", "CONDSTORE"};
const Off kPlainNoUidplus{"QRESYNC", "CONDSTORE", "UIDPLUS"};
const Off kPlainNoUidplusNoMove{"QRESYNC", "CONDSTORE", "UIDPLUS", "MOVE"};
/// Roughly what Courier, Yahoo or an old Exchange offer.
const Off kBare{"QRESYNC",     "CONDSTORE",     "UIDPLUS", "MOVE",     "LIST-STATUS",
                "LIST-EXTENDED", "ESEARCH",     "LITERAL+", "MULTIAPPEND", "SPECIAL-USE",
                "OBJECTID",    "ENABLE",        "NAMESPACE", "UNSELECT", "NOTIFY"};

std::unique_ptr<TestServer> server_without(const Off& off) {
  server::Options o;
  o.disabled = off;
  return TestServer::embedded(o);
}

bool has_uidplus(const Off& off) { return off.count("UIDPLUS") == 0; }

bool problem_mentions(const sync::SyncReport& r, const std::string& what) {
  for (const auto& p : r.problems) {
    if (p.message.find(what) != std::string::npos) return true;
  }
  return false;
}

/// One whole scenario: first sync with pairing by content and copies both ways, then flag
/// merges, expunges, a move, new mail both sides, then a no-op. Where a side lacks UIDPLUS,
/// expunges there can only set \Deleted (never a plain EXPUNGE): the test checks that and that
/// the report says so, then lets the "user" expunge and checks convergence.
void scenario(const Off& local_off, const Off& remote_off) {
  auto local = server_without(local_off);
  auto remote = server_without(remote_off);
  TempDir dir;
  auto o = engine_options(*local, *remote, dir.file("state.db"));
  DirectMail L(*local), R(*remote);
  L.add("INBOX", "x1", {"\\Seen"});
  L.add("INBOX", "x2");
  L.create("Archive");
  L.add("Archive", "a1", {"$Work"}, 1777000000, 5000);
  R.add("INBOX", "x1", {"$Later"});
  R.add("INBOX", "r1", {"\\Answered"});
  auto r = run_ok(o);
  INFO(describe(r));
  CHECK(total_copied(r) == 3);
  Account LA(*local), RA(*remote);
  CHECK(same_mail(LA, RA));
  CHECK(L.flags("INBOX", "x1") == "$Later \\Seen");

  L.add_flag("INBOX", "x1", "\\Flagged");
  R.remove_flag("INBOX", "x1", "\\Seen");
  R.expunge("INBOX", "x2");
  L.move("Archive", "a1", "INBOX");
  R.add("Archive", "r2", {"\\Answered"});
  L.add("INBOX", "l3", {}, 1777000100, 20000);
  r = run_ok(o);
  INFO(describe(r));
  CHECK(R.flags("INBOX", "x1") == "$Later \\Flagged");
  CHECK(L.flags("INBOX", "x1") == "$Later \\Flagged");
  CHECK(R.find("INBOX", "a1"));
  CHECK(L.find("Archive", "r2"));
  CHECK(R.find("INBOX", "l3"));
  bool lu = has_uidplus(local_off), ru = has_uidplus(remote_off);
  // A move is recognised only when both sides report COPYUID (UIDPLUS); without MOVE it is
  // UID COPY + STORE \Deleted + UID EXPUNGE. Otherwise it is a copy plus an expunge.
  CHECK(total_moved(r) == (lu && ru ? 1u : 0u));
  if (lu) {
    CHECK(!L.find("INBOX", "x2"));
  } else {
    // No UID EXPUNGE on the local side: x2 is only marked, and the run says so.
    CHECK(L.flags("INBOX", "x2") == "\\Deleted");
    CHECK(problem_mentions(r, "only marked \\Deleted on the local side"));
    L.expunge("INBOX", "x2");  // the user's client expunges it
  }
  if (ru) {
    CHECK(!R.find("Archive", "a1"));
  } else {
    CHECK(R.flags("Archive", "a1") == "$Work \\Deleted");
    CHECK(problem_mentions(r, "only marked \\Deleted on the remote side"));
    R.expunge("Archive", "a1");
  }
  if (!lu || !ru) {
    r = run_ok(o);
    INFO(describe(r));
  }
  CHECK(same_mail(LA, RA));
  CHECK(L.ids("INBOX") == std::vector<std::string>{"a1", "l3", "r1", "x1"});
  auto n = run_ok(o);
  CHECK_MESSAGE(!n.changed(), describe(n));
  CHECK(!n.partial());
}

}  // namespace

TEST_CASE("whole syncs with extensions switched off on both sides") {
  SUBCASE("QRESYNC off (CONDSTORE only)") { scenario(kQresyncOff, kQresyncOff); }
  SUBCASE("CONDSTORE and QRESYNC off (plain)") { scenario(kPlain, kPlain); }
  SUBCASE("plain, UIDPLUS off") { scenario(kPlainNoUidplus, kPlainNoUidplus); }
  SUBCASE("plain, UIDPLUS and MOVE off") { scenario(kPlainNoUidplusNoMove, kPlainNoUidplusNoMove); }
  SUBCASE("MOVE off") { scenario({"MOVE"}, {"MOVE"}); }
  SUBCASE("LIST-STATUS off") { scenario({"LIST-STATUS"}, {"LIST-STATUS"}); }
  SUBCASE("ESEARCH off, CONDSTORE only") { scenario({"QRESYNC", "ESEARCH"}, {"QRESYNC", "ESEARCH"}); }
  SUBCASE("LITERAL+ off") { scenario({"LITERAL+"}, {"LITERAL+"}); }
  SUBCASE("almost everything off") { scenario(kBare, kBare); }
}

TEST_CASE("mixed pairs: each side on the best path its server allows") {
  SUBCASE("QRESYNC local, plain remote") { scenario({}, kPlain); }
  SUBCASE("plain local, QRESYNC remote") { scenario(kPlain, {}); }
  SUBCASE("CONDSTORE-only local, plain remote without UIDPLUS") { scenario(kQresyncOff, kPlainNoUidplus); }
  SUBCASE("everything local, almost nothing remote") { scenario({}, kBare); }
}

TEST_CASE("Dovecot (QRESYNC) against a plain embedded server, both ways") {
  using client::StoreMode;
  const std::string kDate = "24-Apr-2026 03:06:40 +0000";  // DirectMail's default date
  for (bool dovecot_local : {true, false}) {
    CAPTURE(dovecot_local);
    auto dove = TestServer::dovecot();
    auto plain = server_without(kPlain);
    TempDir dir;
    auto o = dovecot_local ? engine_options(*dove, *plain, dir.file("state.db"))
                           : engine_options(*plain, *dove, dir.file("state.db"));
    Account D(*dove), P(*plain);
    DirectMail E(*plain);
    D.append("INBOX", make_message("x1"), {"\\Seen"}, kDate);
    D.append("INBOX", make_message("x2"), {}, kDate);
    D.create("Archive");
    E.add("INBOX", "x1", {"$Later"});
    E.add("INBOX", "e1");
    auto r = run_ok(o);
    INFO(describe(r));
    CHECK(total_copied(r) == 2);
    CHECK(same_mail(D, P));

    D.store("INBOX", *D.find("INBOX", "x1"), StoreMode::Add, {"\\Flagged"});
    D.expunge("INBOX", {*D.find("INBOX", "x2")});
    D.move("INBOX", *D.find("INBOX", "e1"), "Archive");
    E.remove_flag("INBOX", "x1", "\\Seen");
    E.add("INBOX", "e2", {"\\Answered"});
    r = run_ok(o);
    INFO(describe(r));
    CHECK(total_moved(r) == 1);
    CHECK(same_mail(D, P));
    CHECK(E.flags("INBOX", "x1") == "$Later \\Flagged");
    CHECK(E.ids("INBOX") == std::vector<std::string>{"e2", "x1"});
    auto n = run_ok(o);
    CHECK_MESSAGE(!n.changed(), describe(n));
  }
}

namespace {

/// Runs `fn` when a mailbox's plan is made, before it is executed: between the sync's read
/// and its writes (SyncObserver::mailbox_started).
struct BetweenReadAndWrite : sync::SyncObserver {
  std::function<void()> fn;
  [[nodiscard]] bool wants_run_totals() const override { return false; }
  void mailbox_started(std::string_view /*mailbox*/, const sync::PlanTotals& /*plan*/) override {
    if (fn) std::exchange(fn, nullptr)();
  }
};

}  // namespace

TEST_CASE("plain path: flags are written as +FLAGS.SILENT/-FLAGS.SILENT deltas; a third client's flag survives") {
  // A side without CONDSTORE has no compare-and-set: a full FLAGS replace would undo whatever
  // another client set since our read. Deltas touch only the flags that changed.
  auto local = TestServer::embedded();
  auto remote = server_without(kPlain);
  TempDir dir;
  auto o = engine_options(*local, *remote, dir.file("state.db"));
  WireTrace trace;
  trace.attach(o);
  DirectMail L(*local), R(*remote);
  L.add("INBOX", "m1", {"\\Seen"});
  L.add("INBOX", "m2");
  run_ok(o);
  REQUIRE(R.ids("INBOX") == std::vector<std::string>{"m1", "m2"});

  L.add_flag("INBOX", "m1", "\\Flagged");
  L.remove_flag("INBOX", "m1", "\\Seen");
  L.add_flag("INBOX", "m2", "$Work");
  BetweenReadAndWrite third;
  third.fn = [&] { R.add_flag("INBOX", "m1", "$Third"); };
  o.observer = &third;
  trace.clear();
  auto r = run_ok(o);
  INFO(describe(r));
  CHECK(!third.fn);  // it ran
  const auto stores = trace.sent_starting(Side::Remote, "UID STORE ");
  CHECK(stores.size() >= 2);
  std::size_t add = 0, remove = 0;
  for (const auto& c : stores) {
    INFO(c);
    CHECK(c.find("UNCHANGEDSINCE") == std::string::npos);
    if (c.find(" +FLAGS.SILENT (") != std::string::npos) {
      ++add;
    } else if (c.find(" -FLAGS.SILENT (") != std::string::npos) {
      ++remove;
    } else {
      FAIL_CHECK("not a +/- delta: " << c);
    }
  }
  CHECK(add >= 1);
  CHECK(remove == 1);
  CHECK(R.flags("INBOX", "m1") == "$Third \\Flagged");
  CHECK(R.flags("INBOX", "m2") == "$Work");
  o.observer = nullptr;
  r = run_ok(o);  // the third client's flag goes to the other side
  CHECK(L.flags("INBOX", "m1") == "$Third \\Flagged");
  CHECK_FALSE(run_ok(o).changed());
}

TEST_CASE("without LITERAL+, a synchronizing literal on one side does not stall the other") {
  // The remote has no LITERAL+: each APPEND literal waits for the server's "+" continuation,
  // which the proxy delays. Meanwhile the local side's FETCH of the next bodies must go on:
  // the trace (one sequence for both sides) shows local lines between a remote APPEND and its
  // continuation. Only the order of trace lines is asserted, never a duration.
  auto local = TestServer::embedded();
  auto remote = server_without({"LITERAL+"});
  Faults slow;
  slow.delay = std::chrono::milliseconds(20);
  FaultProxy proxy(remote->endpoint().port, slow);
  TempDir dir;
  auto o = engine_options(*local, *remote, dir.file("state.db"));
  o.endpoints[Side::Remote].port = proxy.port();
  o.copy_window = 64u << 10;  // two messages per batch: the local side fetches as appends go out
  WireTrace trace;
  trace.attach(o);
  DirectMail L(*local), R(*remote);
  for (int i = 0; i < 24; ++i) L.add("INBOX", "big" + std::to_string(i), {}, 1777000000, 30000);
  auto r = run_ok(o);
  INFO(describe(r));
  CHECK(total_copied(r) == 24);
  CHECK(R.ids("INBOX").size() == 24);

  const auto lines = trace.lines();
  std::size_t appends = 0, continued = 0, overlapped = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& l = lines[i];
    if (l.side != Side::Remote || l.text.rfind("C: ", 0) != 0 || l.text.find(" APPEND ") == std::string::npos) continue;
    ++appends;
    bool local_seen = false;
    for (std::size_t j = i + 1; j < lines.size(); ++j) {
      if (lines[j].side == Side::Local) local_seen = true;
      if (lines[j].side == Side::Remote && lines[j].text.rfind("S: +", 0) == 0) {
        ++continued;  // a synchronizing literal, answered
        if (local_seen) ++overlapped;
        break;
      }
    }
  }
  std::string order;  // on failure: which side traced what, in order
  for (const auto& l : lines) order += std::string(to_string(l.side)) + " " + l.text.substr(0, 60) + "\n";
  INFO(order);
  CHECK(appends > 0);
  CHECK(continued == appends);
  CHECK(overlapped > 0);
  CHECK_FALSE(run_ok(o).changed());
}
