// Whole syncs with the embedded server (in-process, real TCP on 127.0.0.1): embedded to
// embedded and mixed with Dovecot; the rules that need the embedded server's controls
// (special-use names that differ, UIDVALIDITY reset).
#include <doctest/doctest.h>

#include <algorithm>

#include "support/sync_fixture.hpp"

using namespace twinbox;
using namespace twinbox::test;
using client::StoreMode;

namespace {

const std::string kDate = "20-Apr-2026 18:00:00 +0000";

void check_noop(const sync::EngineOptions& o) {
  auto r = run_ok(o);
  CHECK_MESSAGE(!r.changed(), describe(r));
  CHECK(r.mailboxes_skipped_unchanged == r.mailboxes_checked);
  for (Side s : kBothSides) CHECK_MESSAGE(r.commands[s] == 1, describe(r));  // one LIST
}

bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

void exercise(TestServer& local, TestServer& remote) {
  TempDir dir;
  auto o = engine_options(local, remote, dir.file("state.db"));
  Account L(local);
  Account R(remote);
  L.append("INBOX", make_message("x1"), {"\\Seen"}, kDate);
  L.append("INBOX", make_message("x2"), {}, kDate);
  R.append("INBOX", make_message("x1"), {"$Later"}, kDate);
  R.create("Folder/Sub");
  R.append("Folder/Sub", make_message("y1", 20000), {"\\Answered", "$Kw"}, kDate);
  auto r = run_ok(o);
  INFO(describe(r));
  CHECK(total_copied(r) == 2);
  CHECK(same_mail(L, R));

  L.store("INBOX", *L.find("INBOX", "x1"), StoreMode::Add, {"\\Flagged"});
  R.store("INBOX", *R.find("INBOX", "x1"), StoreMode::Remove, {"\\Seen"});
  R.expunge("INBOX", {*R.find("INBOX", "x2")});
  L.move("Folder/Sub", *L.find("Folder/Sub", "y1"), "INBOX");
  r = run_ok(o);
  INFO(describe(r));
  CHECK(total_moved(r) == 1);
  CHECK(total_copied(r) == 0);
  CHECK(same_mail(L, R));
  check_noop(o);
}

/// Subscriptions merged three-way over whole syncs (mailboxes.hpp "Subscriptions").
void exercise_subscriptions(TestServer& local, TestServer& remote) {
  TempDir dir;
  auto o = engine_options(local, remote, dir.file("state.db"));
  Account L(local);
  Account R(remote);
  L.create("News");
  L.create("Quiet");
  L.create("Both");
  R.create("Both");
  L.subscribe("News", true);  // created on the remote side subscribed, like its source
  R.subscribe("Both", true);  // no base and the sides differ: subscribed wins
  run_ok(o);
  auto ls = L.subscriptions();
  CHECK(ls.count("News") == 1);
  CHECK(ls.count("Both") == 1);
  CHECK(ls.count("Quiet") == 0);
  CHECK(R.subscriptions() == ls);

  // One side changes each: the change goes to the other side.
  R.subscribe("News", false);
  L.subscribe("Quiet", true);
  std::string log;
  auto r = run(o, &log);
  REQUIRE_MESSAGE(r.has_value(), log);
  INFO(log);
  ls = L.subscriptions();
  CHECK(ls.count("News") == 0);
  CHECK(ls.count("Quiet") == 1);
  CHECK(R.subscriptions() == ls);

  // The same change on both sides: nothing to send, but it becomes the new base, so a later
  // subscribe on one side is taken for a change of that side (and not undone).
  L.subscribe("Both", false);
  R.subscribe("Both", false);
  r = run(o, &log);
  REQUIRE(r.has_value());
  L.subscribe("Both", true);
  run_ok(o);
  CHECK(R.subscriptions().count("Both") == 1);
  CHECK(L.subscriptions() == R.subscriptions());
  check_noop(o);
}

}  // namespace

TEST_CASE("subscriptions merge three-way: embedded to embedded, Dovecot to embedded") {
  SUBCASE("embedded both sides") {
    auto a = TestServer::embedded();
    auto b = TestServer::embedded();
    exercise_subscriptions(*a, *b);
  }
  SUBCASE("Dovecot local, embedded remote") {
    auto d = TestServer::dovecot();
    auto e = TestServer::embedded();
    exercise_subscriptions(*d, *e);
  }
}

TEST_CASE("embedded to embedded: pairing, copies, flags, expunge, move, no-op") {
  auto a = TestServer::embedded();
  auto b = TestServer::embedded();
  exercise(*a, *b);
}

TEST_CASE("Dovecot to embedded and back") {
  auto d = TestServer::dovecot();
  auto e = TestServer::embedded();
  SUBCASE("dovecot local") { exercise(*d, *e); }
  SUBCASE("embedded local") {
    auto d2 = TestServer::dovecot();
    auto e2 = TestServer::embedded();
    exercise(*e2, *d2);
  }
}

TEST_CASE("special-use mailboxes with different names pair by role") {
  auto a = TestServer::embedded();
  auto b = TestServer::embedded();
  REQUIRE(a->embedded_server()->create_mailbox("alice", "Sent Items", {"\\Sent"}));
  REQUIRE(b->embedded_server()->create_mailbox("alice", "Gesendet", {"\\Sent"}));
  TempDir dir;
  auto o = engine_options(*a, *b, dir.file("state.db"));
  Account L(*a);
  Account R(*b);
  L.append("Sent Items", make_message("sent1"), {"\\Seen"}, kDate);
  R.append("Gesendet", make_message("sent2"), {"\\Seen"}, kDate);
  auto r = run_ok(o);
  INFO(describe(r));
  CHECK(total_copied(r) == 2);
  CHECK(!has(R.mailboxes(), "Sent Items"));
  CHECK(!has(L.mailboxes(), "Gesendet"));
  CHECK(R.find("Gesendet", "sent1"));
  CHECK(L.find("Sent Items", "sent2"));
  check_noop(o);
}

TEST_CASE("UIDVALIDITY change on one side: re-paired by content, nothing deleted, no duplicates") {
  auto a = TestServer::embedded();
  auto b = TestServer::embedded();
  TempDir dir;
  auto o = engine_options(*a, *b, dir.file("state.db"));
  Account L(*a);
  Account R(*b);
  for (int i = 0; i < 5; ++i) L.append("INBOX", make_message("u" + std::to_string(i)), {"\\Seen"}, kDate);
  L.create("Other");
  L.append("Other", make_message("o1"), {}, kDate);
  run_ok(o);
  REQUIRE(same_mail(L, R));

  REQUIRE(b->embedded_server()->reset_uidvalidity("alice", "INBOX", UidValidity(777)));
  L.append("INBOX", make_message("after"), {}, kDate);
  L.append("Other", make_message("o2"), {}, kDate);
  std::string log;
  auto r = run(o, &log);
  REQUIRE_MESSAGE(r.has_value(), log);
  INFO(describe(*r) << log);
  CHECK(r->total[Side::Local].expunged == 0);
  CHECK(r->total[Side::Remote].expunged == 0);
  CHECK(total_copied(*r) == 2);  // "after" and "o2" only
  CHECK(same_mail(L, R));
  CHECK(R.status("INBOX").uid_validity == UidValidity(777));
  check_noop(o);
}

// With new-message windows as small as 2 (issue 8), a side whose UIDVALIDITY changed is still
// read whole and with full identities: its messages re-pair by content, none is copied twice.
TEST_CASE("UIDVALIDITY change with new-message windows: read whole, re-paired, no duplicates") {
  auto a = TestServer::embedded();
  auto b = TestServer::embedded();
  TempDir dir;
  auto o = engine_options(*a, *b, dir.file("state.db"));
  o.new_per_pass = 2;
  Account L(*a);
  Account R(*b);
  for (int i = 0; i < 7; ++i) L.append("INBOX", make_message("v" + std::to_string(i)), {"\\Seen"}, kDate);
  run_ok(o);
  REQUIRE(same_mail(L, R));

  REQUIRE(b->embedded_server()->reset_uidvalidity("alice", "INBOX", UidValidity(778)));
  std::string log;
  auto r = run(o, &log);
  REQUIRE_MESSAGE(r.has_value(), log);
  INFO(describe(*r) << log);
  for (Side s : kBothSides) {
    CHECK(r->total[s].expunged == 0);
    CHECK(r->total[s].copied == 0);
  }
  CHECK(L.messages("INBOX").size() == 7);
  CHECK(R.messages("INBOX").size() == 7);
  CHECK(same_mail(L, R));
  check_noop(o);
}
