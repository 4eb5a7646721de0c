// Whole syncs between two private Dovecot instances over real TCP, real SQLite state:
// every sync rule of DESIGN.md "Sync rules" that Dovecot can exercise.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <tuple>

#include <twinbox/state/store.hpp>
#include <twinbox/sync/mailboxes.hpp>

#include "support/sync_fixture.hpp"

using namespace twinbox;
using namespace twinbox::test;
using client::StoreMode;

namespace {

struct Pair : SyncPair {
  Pair() : SyncPair(TestServer::dovecot(), TestServer::dovecot()) {}
};

/// A second run right after a sync: nothing to do, and after login exactly one LIST per side
/// (the namespace is cached in the state).
void check_noop(const sync::EngineOptions& o) {
  auto r = run_ok(o);
  CHECK_MESSAGE(!r.changed(), describe(r));
  CHECK(r.mailboxes_skipped_unchanged == r.mailboxes_checked);
  for (Side s : kBothSides) CHECK_MESSAGE(r.commands[s] == 1, describe(r));
}

const sync::Namespace kSlash{"", '/'};
const sync::Namespace kCourier{"INBOX.", '.'};

/// Every message of an account with its mailbox as a '/'-joined canonical name, sorted: the
/// two sides of a sync between different namespaces compare equal in this form.
std::vector<MessageView> canonical_all(Account& a, const sync::Namespace& ns) {
  auto all = a.all();
  for (auto& m : all) {
    auto mapped = sync::map_name(m.mailbox, ns, kSlash);
    REQUIRE_MESSAGE(mapped.has_value(), m.mailbox);
    m.mailbox = *mapped;
  }
  std::sort(all.begin(), all.end(), [](const MessageView& x, const MessageView& y) {
    return std::tie(x.mailbox, x.hash, x.flags, x.internaldate) <
           std::tie(y.mailbox, y.hash, y.flags, y.internaldate);
  });
  return all;
}

bool same_canonical_mail(Account& a, const sync::Namespace& na, Account& b,
                         const sync::Namespace& nb) {
  auto x = canonical_all(a, na);
  auto y = canonical_all(b, nb);
  bool equal = x.size() == y.size() &&
               std::equal(x.begin(), x.end(), y.begin(),
                          [](const MessageView& p, const MessageView& q) { return p.same(q); });
  std::string diff;
  for (const auto& m : x) diff += "  a: " + m.describe() + "\n";
  for (const auto& m : y) diff += "  b: " + m.describe() + "\n";
  CHECK_MESSAGE(equal, diff);
  return equal;
}

bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
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

// Issue 5 "translate names between different delimiters and namespace prefixes": Dovecot with
// '/' and no prefix against Dovecot with a Courier-style personal namespace ("INBOX." prefix,
// '.' separator), nested mailboxes both ways, special-use pairs, subscriptions across names.
TEST_CASE("different delimiters: '/' Dovecot and a Courier-style 'INBOX.' Dovecot") {
  auto slash = TestServer::dovecot();
  auto courier = TestServer::dovecot_courier();
  TempDir dir;
  auto o = engine_options(*slash, *courier, dir.file("state.db"));
  Account L(*slash);
  Account R(*courier);
  REQUIRE(has(R.mailboxes(), "INBOX.Sent"));  // the instance really is Courier-style
  L.create("Lists/dev");
  L.append("Lists/dev", make_message("dev1"), {"\\Seen"});
  L.append("Sent", make_message("sent-local"), {"\\Seen"});
  L.subscribe("Lists/dev", true);
  R.create("INBOX.Receipts");
  R.create("INBOX.Receipts.2026");
  R.append("INBOX.Receipts.2026", make_message("r1"), {"$Paid"});
  R.append("INBOX.Sent", make_message("sent-remote"));
  R.append("INBOX", make_message("in1"));

  std::string log;
  auto r = run(o, &log);
  REQUIRE_MESSAGE(r.has_value(), r.error().message << "\n" << log);
  INFO(log << describe(*r));
  CHECK_FALSE(r->partial());
  CHECK(total_copied(*r) == 5);
  auto rm = R.mailboxes();
  CHECK(has(rm, "INBOX.Lists.dev"));
  CHECK_FALSE(has(rm, "INBOX.Lists/dev"));
  CHECK_FALSE(has(rm, "Sent"));  // paired with INBOX.Sent, not created beside it
  auto lm = L.mailboxes();
  CHECK(has(lm, "Receipts/2026"));
  CHECK_FALSE(has(lm, "INBOX.Receipts.2026"));
  CHECK(R.find("INBOX.Sent", "sent-local"));
  CHECK(L.find("Sent", "sent-remote"));
  CHECK(same_canonical_mail(L, kSlash, R, kCourier));
  CHECK(R.subscriptions().count("INBOX.Lists.dev") == 1);

  // Changes inside the translated mailboxes go both ways; then a no-op.
  L.expunge("Lists/dev", {*L.find("Lists/dev", "dev1")});
  R.store("INBOX.Receipts.2026", *R.find("INBOX.Receipts.2026", "r1"), StoreMode::Add,
          {"\\Flagged"});
  auto r2 = run_ok(o);
  INFO(describe(r2));
  CHECK(total_expunged(r2) == 1);
  CHECK(same_canonical_mail(L, kSlash, R, kCourier));
  check_noop(o);
}

// The embedded server ('/', special-use "Sent Items") against the Courier-style Dovecot: the
// \Sent mailboxes pair by role across both a name and a namespace difference, and a name the
// '.' side cannot represent is refused with a clear error while everything else syncs.
TEST_CASE("different delimiters: unrepresentable names refused, special-use paired by role") {
  auto emb = TestServer::embedded();
  auto courier = TestServer::dovecot_courier();
  REQUIRE(emb->embedded_server()->create_mailbox("alice", "Sent Items", {"\\Sent"}));
  TempDir dir;
  auto o = engine_options(*emb, *courier, dir.file("state.db"));
  Account L(*emb);
  Account R(*courier);
  L.create("v1.2");  // a '.' inside a component: no name for it on the '.' side
  L.append("v1.2", make_message("unrepresentable"));
  L.create("Projects/2026");
  L.append("Projects/2026", make_message("p1"));
  L.append("Sent Items", make_message("sent-l"), {"\\Seen"});
  R.append("INBOX.Sent", make_message("sent-r"), {"\\Seen"});

  std::string log;
  auto r = run(o, &log);
  REQUIRE_MESSAGE(r.has_value(), r.error().message << "\n" << log);
  INFO(log << describe(*r));
  CHECK(r->partial());
  bool named = false;
  for (const auto& p : r->problems) {
    if (p.message.find("v1.2") != std::string::npos &&
        p.message.find("delimiter") != std::string::npos) {
      named = true;
    }
  }
  CHECK_MESSAGE(named, "no problem names the refused mailbox and why");
  auto rm = R.mailboxes();
  CHECK(has(rm, "INBOX.Projects.2026"));
  CHECK_FALSE(has(rm, "INBOX.Sent Items"));
  for (const auto& name : rm) CHECK(name.find("v1") == std::string::npos);
  CHECK(R.find("INBOX.Sent", "sent-l"));
  CHECK(L.find("Sent Items", "sent-r"));
  CHECK(R.find("INBOX.Projects.2026", "p1"));

  // The refusal repeats each run (the user must rename or exclude it); nothing else happens.
  auto again = run(o, &log);
  REQUIRE(again.has_value());
  CHECK_FALSE(again->changed());
  CHECK(again->partial());
  // Excluding it ends the complaint.
  o.list.exclude.push_back("v1.2");
  auto clean = run_ok(o);
  CHECK_FALSE(clean.partial());
}

// The personal namespace is cached in the state so that a no-op sends one LIST per side; a
// cached value that the LIST contradicts is asked again, and nothing is created from it.
TEST_CASE("a stale cached namespace is asked again, not trusted") {
  Pair p;
  p.L.create("Lists/dev");
  p.L.append("Lists/dev", make_message("n1"));
  run_ok(p.options);
  check_noop(p.options);
  {
    auto st = state::StateStore::open(p.options.state_path);
    REQUIRE_MESSAGE(st.has_value(), st.error().message);
    auto v = st->meta("namespace.local");
    REQUIRE(v.has_value());
    REQUIRE(v->has_value());
    std::string value = **v;
    auto nl = value.rfind('\n');
    REQUIRE(nl != std::string::npos);
    REQUIRE(st->set_meta("namespace.local", value.substr(0, nl + 1) + ".INBOX."));
  }
  auto r = run_ok(p.options);
  INFO(describe(r));
  CHECK_FALSE(r.changed());
  CHECK_FALSE(r.partial());
  CHECK(r.commands[Side::Local] == 2);  // LIST, then NAMESPACE
  CHECK(r.commands[Side::Remote] == 1);
  CHECK_FALSE(has(p.R.mailboxes(), "INBOX/Lists/dev"));
  CHECK(same_mail(p.L, p.R));
  check_noop(p.options);
}
