// Whole syncs between two private Dovecot instances over real TCP, real SQLite state:
// every sync rule of DESIGN.md "Sync rules" that Dovecot can exercise.
#include <doctest/doctest.h>

#include <filesystem>

#include "support/sync_fixture.hpp"

using namespace twinbox;
using namespace twinbox::test;
using client::StoreMode;

namespace {

struct Pair {
  std::unique_ptr<TestServer> local = TestServer::dovecot();
  std::unique_ptr<TestServer> remote = TestServer::dovecot();
  TempDir dir;
  sync::EngineOptions options = engine_options(*local, *remote, dir.file("state.db"));
  Account L{*local};
  Account R{*remote};
};

/// A second run right after a sync: nothing to do, and after login only LIST (+ NAMESPACE)
/// per side.
void check_noop(const sync::EngineOptions& o) {
  auto r = run_ok(o);
  CHECK_MESSAGE(!r.changed(), describe(r));
  CHECK(r.mailboxes_skipped_unchanged == r.mailboxes_checked);
  for (Side s : kBothSides) CHECK_MESSAGE(r.commands[s] <= 2, describe(r));  // LIST, NAMESPACE
}

}  // namespace

TEST_CASE("first sync with mail on both sides pairs identical messages and copies the rest") {
  Pair p;
  const std::string date = "02-Mar-2026 10:00:00 +0100";
  p.L.append("INBOX", make_message("both"), {"\\Seen"}, date);
  p.R.append("INBOX", make_message("both"), {"\\Flagged"}, date);
  p.L.append("INBOX", make_message("only-local"), {"\\Seen", "$Label1"}, "03-Mar-2026 11:12:13 -0500");
  p.R.append("Sent", make_message("only-remote", 5000), {"\\Answered"}, date);
  p.L.create("Projects/2026");
  p.L.append("Projects/2026", make_message("nested"), {}, date);

  auto r = run_ok(p.options);
  INFO(describe(r));
  CHECK(r.total[Side::Remote].copied == 2);  // only-local, nested
  CHECK(r.total[Side::Local].copied == 1);   // only-remote
  CHECK(same_mail(p.L, p.R));
  // The paired message has the union of both sides' flags.
  auto both = p.L.find("INBOX", "both");
  REQUIRE(both);
  auto msgs = p.L.messages("INBOX");
  for (const auto& m : msgs) {
    if (m.uid == *both) CHECK(m.flags == "\\Flagged \\Seen");
  }
  // Bodies byte-identical, INTERNALDATE kept.
  auto ru = p.R.find("INBOX", "only-local");
  REQUIRE(ru);
  CHECK(p.R.body("INBOX", *ru) == make_message("only-local"));
  check_noop(p.options);
}

TEST_CASE("new messages, flag merges, expunges both ways") {
  Pair p;
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    ids.push_back("m" + std::to_string(i));
    p.L.append("INBOX", make_message(ids.back()), {}, "01-Feb-2026 08:00:00 +0000");
  }
  run_ok(p.options);
  REQUIRE(same_mail(p.L, p.R));

  auto lu = [&](const std::string& id) { return *p.L.find("INBOX", id); };
  auto ru = [&](const std::string& id) { return *p.R.find("INBOX", id); };
  // Concurrent flag changes on the same message: per-flag three-way merge.
  p.L.store("INBOX", lu("m0"), StoreMode::Add, {"\\Seen", "$Work"});
  p.R.store("INBOX", ru("m0"), StoreMode::Add, {"\\Flagged"});
  // Removal on one side, addition of another flag on the other.
  p.L.store("INBOX", lu("m1"), StoreMode::Add, {"\\Seen"});
  run_ok(p.options);
  p.R.store("INBOX", ru("m1"), StoreMode::Remove, {"\\Seen"});
  p.L.store("INBOX", lu("m1"), StoreMode::Add, {"\\Answered"});
  // Expunge on each side.
  p.L.expunge("INBOX", {lu("m2")});
  p.R.expunge("INBOX", {ru("m3")});
  // Expunge beats a concurrent flag change.
  p.L.store("INBOX", lu("m4"), StoreMode::Add, {"\\Flagged"});
  p.R.expunge("INBOX", {ru("m4")});
  // New messages both ways with keywords.
  p.R.append("INBOX", make_message("new-remote"), {"$Important", "\\Draft"}, "05-Feb-2026 09:30:00 +0200");
  p.L.append("INBOX", make_message("new-local"), {"\\Seen"}, "06-Feb-2026 23:59:59 -0800");

  auto r = run_ok(p.options);
  INFO(describe(r));
  CHECK(same_mail(p.L, p.R));
  CHECK(total_expunged(r) == 3);
  CHECK(total_copied(r) == 2);
  auto flags_of = [&](Account& a, const std::string& id) {
    auto u = a.find("INBOX", id);
    REQUIRE(u);
    for (const auto& m : a.messages("INBOX")) {
      if (m.uid == *u) return m.flags;
    }
    return std::string("?");
  };
  CHECK(flags_of(p.L, "m0") == "$Work \\Flagged \\Seen");
  CHECK(flags_of(p.R, "m1") == "\\Answered");
  CHECK(!p.L.find("INBOX", "m4"));
  CHECK(!p.R.find("INBOX", "m2"));
  CHECK(!p.L.find("INBOX", "m3"));
  check_noop(p.options);
}

TEST_CASE("a move between mailboxes becomes a move on the other side") {
  Pair p;
  for (int i = 0; i < 3; ++i) p.L.append("INBOX", make_message("mv" + std::to_string(i)));
  p.L.create("Archive/2026");
  run_ok(p.options);
  REQUIRE(same_mail(p.L, p.R));

  p.L.move("INBOX", *p.L.find("INBOX", "mv0"), "Archive/2026");
  p.R.move("INBOX", *p.R.find("INBOX", "mv1"), "Trash");
  auto r = run_ok(p.options);
  INFO(describe(r));
  CHECK(total_moved(r) == 2);
  CHECK(total_copied(r) == 0);
  CHECK(total_expunged(r) == 0);
  CHECK(same_mail(p.L, p.R));
  CHECK(p.R.find("Archive/2026", "mv0"));
  CHECK(p.L.find("Trash", "mv1"));
  check_noop(p.options);
}

TEST_CASE("mailbox creation both ways and rename") {
  Pair p;
  p.L.create("Lists/dev");
  p.R.create("Receipts");
  p.L.append("Lists/dev", make_message("dev1"));
  auto r = run_ok(p.options);
  INFO(describe(r));
  CHECK(same_mail(p.L, p.R));
  auto lm = p.L.mailboxes();
  CHECK(std::find(lm.begin(), lm.end(), "Receipts") != lm.end());

  // Renamed on the remote side: no MAILBOXID on Dovecot 2.3, so detection by UIDVALIDITY.
  p.R.rename("Lists/dev", "Lists/development");
  r = run_ok(p.options);
  INFO(describe(r));
  CHECK(total_copied(r) == 0);
  lm = p.L.mailboxes();
  CHECK(std::find(lm.begin(), lm.end(), "Lists/development") != lm.end());
  CHECK(std::find(lm.begin(), lm.end(), "Lists/dev") == lm.end());
  CHECK(same_mail(p.L, p.R));
  check_noop(p.options);
}

TEST_CASE("deleted mailbox: reported, kept, then propagated when allowed") {
  Pair p;
  p.L.create("Old");
  run_ok(p.options);
  p.R.remove("Old");
  auto r = run(p.options);
  REQUIRE(r);
  CHECK(!r->problems.empty());
  auto lm = p.L.mailboxes();
  CHECK(std::find(lm.begin(), lm.end(), "Old") != lm.end());

  p.options.list.delete_mailboxes = true;
  r = run(p.options);
  REQUIRE(r);
  INFO(describe(*r));
  lm = p.L.mailboxes();
  CHECK(std::find(lm.begin(), lm.end(), "Old") == lm.end());
  CHECK(same_mail(p.L, p.R));
}

TEST_CASE("deletion guard stops a mass expunge until allowed") {
  Pair p;
  for (int i = 0; i < 12; ++i) p.L.append("INBOX", make_message("g" + std::to_string(i)));
  run_ok(p.options);
  std::vector<Uid> all;
  for (const auto& m : p.R.messages("INBOX")) all.push_back(m.uid);
  p.R.expunge("INBOX", all);
  auto r = run(p.options);
  REQUIRE(r);
  INFO(describe(*r));
  CHECK(r->partial());
  CHECK(p.L.messages("INBOX").size() == 12);

  p.options.policy.allow_mass_delete = true;
  auto r2 = run_ok(p.options);
  CHECK(total_expunged(r2) == 12);
  CHECK(p.L.messages("INBOX").empty());
  check_noop(p.options);
}

TEST_CASE("dry run changes nothing and writes no state") {
  Pair p;
  p.L.append("INBOX", make_message("d1"), {"\\Seen"});
  p.R.create("OnlyRemote");
  auto before_l = p.L.all();
  auto before_r = p.R.all();
  p.options.dry_run = true;
  auto r = run(p.options);
  REQUIRE(r);
  INFO(describe(*r));
  CHECK(!std::filesystem::exists(p.options.state_path));
  bool planned = false;
  for (const auto& m : r->mailboxes) planned = planned || !m.plan.empty();
  CHECK(planned);
  auto after_l = p.L.all();
  auto after_r = p.R.all();
  CHECK(after_l.size() == before_l.size());
  CHECK(after_r.size() == before_r.size());
  auto lm = p.L.mailboxes();
  CHECK(std::find(lm.begin(), lm.end(), "OnlyRemote") == lm.end());
}
