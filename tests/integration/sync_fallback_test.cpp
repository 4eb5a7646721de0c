// Whole syncs against servers that lack extensions (issue 6): the embedded server with
// QRESYNC, CONDSTORE, UIDPLUS, MOVE, LIST-STATUS, ESEARCH, LITERAL+ switched off, alone and in
// combinations, on one side or both; mixed pairs (QRESYNC on one side, plain on the other,
// Dovecot against a plain embedded server); and the path-selection rules that need a server
// answer the embedded server never gives (through a rewriting proxy): ENABLE not confirming
// QRESYNC, NOMODSEQ, SELECT without UIDNEXT, UIDNOTSTICKY.
//
// The other mail client's changes go through the server's direct store API (DirectMail), so
// they do not depend on the extensions switched off.
#include <doctest/doctest.h>

#include <regex>
#include <set>

#include "support/fault_proxy.hpp"
#include "support/sync_fixture.hpp"

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
