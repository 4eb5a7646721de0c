// Crash at every step (isync's harness, issue 5 "Tests and measurements"): a forked child runs
// the sync with set_crash_after(N) and dies with _exit(77) before its N-th mutating step (an
// IMAP command that changes a server, or a state commit). A clean run then resumes; both
// Dovecot accounts must hold exactly the messages a crash-free sync gives (none lost, none
// twice, same flags and mailboxes), and one more run must be a no-op. N goes 1, 2, … until
// the child completes without reaching its crash point.
#include <doctest/doctest.h>

#include <twinbox/base/crash_point.hpp>

#include "support/sync_fixture.hpp"

using namespace twinbox;
using namespace twinbox::test;
using client::StoreMode;

namespace {

const std::string kDate = "12-Jan-2026 07:30:00 +0100";

struct Scenario : SyncPair {
  static constexpr bool kMoves = true;

  /// A synced base, then changes on both sides: copies both ways, flag changes, expunges and
  /// a move.
  Scenario() : SyncPair(TestServer::dovecot(), TestServer::dovecot()) {
    for (int i = 0; i < 6; ++i) L.append("INBOX", make_message("a" + std::to_string(i)), {}, kDate);
    R.append("Sent", make_message("s0"), {"\\Seen"}, kDate);
    run_ok(options);
    L.append("INBOX", make_message("new-l1"), {"\\Seen", "$Todo"}, kDate);
    L.append("INBOX", make_message("new-l2", 4000), {}, kDate);
    R.append("INBOX", make_message("new-r1"), {"\\Flagged"}, kDate);
    R.append("Sent", make_message("new-r2"), {}, kDate);
    L.store("INBOX", *L.find("INBOX", "a0"), StoreMode::Add, {"\\Seen"});
    R.store("INBOX", *R.find("INBOX", "a1"), StoreMode::Add, {"\\Flagged", "$Work"});
    R.store("Sent", *R.find("Sent", "s0"), StoreMode::Remove, {"\\Seen"});
    L.expunge("INBOX", {*L.find("INBOX", "a2")});
    R.expunge("INBOX", {*R.find("INBOX", "a3")});
    L.move("INBOX", *L.find("INBOX", "a4"), "Archive");
  }
};

bool same_views(const std::vector<MessageView>& a, const std::vector<MessageView>& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(),
                    [](const MessageView& x, const MessageView& y) { return x.same(y); });
}

std::string dump(const std::vector<MessageView>& v) {
  std::string s;
  for (const auto& m : v) s += "  " + m.describe() + "\n";
  return s;
}

/// Look-alikes (issue 5): messages with the same Message-ID, size and INTERNALDATE but
/// different bodies. A synced base of two in INBOX; then the local side moves both to Archive
/// and gets three more new look-alikes in INBOX. The moves are told apart by body hashes, the
/// three copies leave three pending intents with the same content key: a crash between an
/// APPEND and its record must not make the next run adopt the wrong one, copy one twice, or
/// lose one.
struct LookAlikes : SyncPair {
  static constexpr bool kMoves = true;

  static std::string body(int k) {
    std::string m = make_message("dup", 700);
    m[m.find("Body line 0")] = static_cast<char>('A' + k);
    return m;
  }

  LookAlikes() : SyncPair(TestServer::dovecot(), TestServer::dovecot()) {
    L.create("Archive");
    L.append("INBOX", body(0), {"\\Seen"}, kDate);
    L.append("INBOX", body(1), {}, kDate);
    run_ok(options);
    for (const auto& m : L.messages("INBOX")) L.move("INBOX", m.uid, "Archive");
    for (int k = 2; k < 5; ++k) L.append("INBOX", body(k), {}, kDate);
  }
};

/// Windows (issue 8): a first sync that reads and copies a mailbox in UID windows of 3 new
/// messages, one pass each, on embedded servers. A crash inside a window leaves its copies
/// recorded or pending and the stored snapshot at the window before: the resume must neither
/// copy again nor skip any message.
struct Windows : SyncPair {
  static constexpr bool kMoves = false;

  Windows() : SyncPair(TestServer::embedded(), TestServer::embedded()) {
    options.new_per_pass = 3;
    for (int i = 0; i < 11; ++i) {
      L.append("INBOX", make_message("w" + std::to_string(i)), i % 2 ? std::vector<std::string>{"\\Seen"} : std::vector<std::string>{}, kDate);
    }
    R.create("Sent");
    R.append("Sent", make_message("s0"), {}, kDate);
  }
};

/// Crash at every step of the first sync after S() was set up (N = 1, 2, … until the child
/// completes), resume, and compare with a crash-free reference.
template <class S>
void crash_at_every_step(int min_crashes) {
  std::vector<MessageView> expected;
  {
    S ref;
    auto r = run_ok(ref.options);
    INFO(describe(r));
    if constexpr (S::kMoves) REQUIRE(total_moved(r) >= 1);
    REQUIRE(same_mail(ref.L, ref.R));
    expected = ref.L.all();
  }
  int crashes = 0;
  bool completed = false;
  for (std::uint64_t n = 1; n <= 80 && !completed; ++n) {
    CAPTURE(n);
    S sc;
    int status = run_in_child(sc.options, n);
    REQUIRE_MESSAGE((status == kTestCrashExitCode || status == 0),
                    "child exit status " << status << " at crash step " << n);
    if (status == 0) {
      completed = true;  // the whole run has fewer than n steps
    } else {
      ++crashes;
    }
    // Resume: a clean run, then one more that must have nothing to do.
    auto r = run_ok(sc.options);
    INFO("resume: " << describe(r));
    auto l = sc.L.all();
    auto rr = sc.R.all();
    CHECK_MESSAGE(same_views(l, expected),
                  "after a crash at step " << n << ", local holds\n" << dump(l) << "expected\n"
                                           << dump(expected));
    CHECK_MESSAGE(same_views(rr, expected),
                  "after a crash at step " << n << ", remote holds\n" << dump(rr) << "expected\n"
                                           << dump(expected));
    auto again = run_ok(sc.options);
    CHECK_MESSAGE(!again.changed(), "run after the resume was not a no-op (crash step " << n
                                                                                 << "): " << describe(again));
  }
  CHECK(completed);
  MESSAGE("crash steps exercised: " << crashes);
  CHECK(crashes >= min_crashes);
}

}  // namespace

TEST_CASE("killed at any step, the next run loses nothing and duplicates nothing") {
  crash_at_every_step<Scenario>(10);
}

TEST_CASE("look-alikes: killed at any step, pending intents and moves resume without loss or duplicate") {
  crash_at_every_step<LookAlikes>(5);
}

TEST_CASE("windows: killed at any step of a windowed first sync, the next run copies each message once") {
  crash_at_every_step<Windows>(10);
}
