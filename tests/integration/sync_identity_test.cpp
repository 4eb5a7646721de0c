// Issue 5, message identity, end to end over real TCP: a move between mailboxes on one side
// becomes UID MOVE on the other without sending a body again, recognised by EMAILID on the
// embedded server (OBJECTID, even without Message-ID) and by Message-ID + size + INTERNALDATE
// confirmed by body hashes for look-alikes (same Message-ID, size and date, different bodies)
// on Dovecot 2.3, which has no OBJECTID, and on the embedded server with OBJECTID off.
#include <doctest/doctest.h>

#include <algorithm>

#include "support/fault_proxy.hpp"
#include "support/sync_fixture.hpp"

using namespace twinbox;
using namespace twinbox::test;

namespace {

const std::string kDate = "20-Apr-2026 18:00:00 +0000";

/// Look-alike number k: the same Message-ID <dup@twinbox.test>, size and date as every other
/// look-alike; one byte of the body differs.
std::string lookalike(int k, std::size_t size = 600) {
  std::string m = make_message("dup", size);
  auto p = m.find("Body line 0");
  REQUIRE(p != std::string::npos);
  m[p] = static_cast<char>('A' + k);
  return m;
}

/// A message without Message-ID (k makes it unique).
std::string anonymous(int k) {
  std::string m = make_message("anon" + std::to_string(k), 500);
  auto p = m.find("Message-ID:");
  auto e = m.find("\r\n", p);
  m.erase(p, e + 2 - p);
  return m;
}

std::uint64_t bytes_sent(const sync::SyncReport& r) {
  return r.total[Side::Local].bytes + r.total[Side::Remote].bytes;
}

/// The UIDs of a mailbox on one account, in UID order.
std::vector<Uid> uids(Account& a, const std::string& mailbox) {
  std::vector<Uid> out;
  for (const auto& m : a.messages(mailbox)) out.push_back(m.uid);
  return out;
}

/// Seeds `bodies` into INBOX on `from`, syncs, then moves them all to Archive on `mover`
/// (`from` or its peer), in reverse UID order (so UID order says nothing about which is which),
/// and syncs again: every one must arrive as a move, no body sent, same mail on both sides.
void move_and_check(TestServer& local, TestServer& remote, const std::vector<std::string>& bodies,
                    bool move_on_remote) {
  TempDir dir;
  auto o = engine_options(local, remote, dir.file("state.db"));
  Account L(local);
  Account R(remote);
  L.create("Archive");
  for (const auto& b : bodies) L.append("INBOX", b, {"\\Seen"}, kDate);
  auto first = run_ok(o);
  INFO("first sync: " << describe(first));
  REQUIRE(total_copied(first) == bodies.size());
  REQUIRE(same_mail(L, R));
  // A second run: the confirming pass has learnt the ids of the copies by now, it is a no-op.
  auto noop = run_ok(o);
  CHECK_MESSAGE(!noop.changed(), describe(noop));

  Account& mover = move_on_remote ? R : L;
  auto in_inbox = uids(mover, "INBOX");
  std::reverse(in_inbox.begin(), in_inbox.end());
  for (Uid u : in_inbox) mover.move("INBOX", u, "Archive");
  auto r = run_ok(o);
  INFO("after the moves: " << describe(r));
  CHECK(total_moved(r) == bodies.size());
  CHECK(total_copied(r) == 0);
  CHECK(total_expunged(r) == 0);
  CHECK(bytes_sent(r) == 0);
  CHECK(same_mail(L, R));  // bodies compared message by message, per mailbox
  CHECK(L.messages("INBOX").empty());
  CHECK(R.messages("Archive").size() == bodies.size());
  auto again = run_ok(o);
  CHECK_MESSAGE(!again.changed(), describe(again));
}

}  // namespace

TEST_CASE("embedded (OBJECTID): moves without Message-ID are recognised by EMAILID") {
  auto local = TestServer::embedded();
  auto remote = TestServer::embedded();
  const std::vector<std::string> bodies{anonymous(1), anonymous(2), anonymous(3)};
  SUBCASE("moved on the local side (ids read with the new messages)") {
    move_and_check(*local, *remote, bodies, false);
  }
  SUBCASE("moved on the remote side (ids learnt for the copies twinbox made)") {
    move_and_check(*local, *remote, bodies, true);
  }
}

TEST_CASE("embedded (OBJECTID): look-alikes moved are told apart by EMAILID") {
  auto local = TestServer::embedded();
  auto remote = TestServer::embedded();
  move_and_check(*local, *remote, {lookalike(0), lookalike(1), lookalike(2)}, false);
}

TEST_CASE("embedded without OBJECTID: look-alikes moved are told apart by body hashes") {
  server::Options no_ids;
  no_ids.disabled.insert("OBJECTID");
  auto local = TestServer::embedded(no_ids);
  auto remote = TestServer::embedded(no_ids);
  SUBCASE("local") { move_and_check(*local, *remote, {lookalike(0), lookalike(1)}, false); }
  SUBCASE("remote") { move_and_check(*local, *remote, {lookalike(0), lookalike(1)}, true); }
}

TEST_CASE("Dovecot (no OBJECTID): look-alikes moved are told apart by body hashes") {
  auto local = TestServer::dovecot();
  auto remote = TestServer::dovecot();
  move_and_check(*local, *remote, {lookalike(0), lookalike(1), lookalike(2)}, false);
}

TEST_CASE("Dovecot (no OBJECTID): a message without Message-ID moved is copied and expunged") {
  // Nothing identifies it across mailboxes: the safe fallback, never a guess.
  auto local = TestServer::dovecot();
  auto remote = TestServer::dovecot();
  TempDir dir;
  auto o = engine_options(*local, *remote, dir.file("state.db"));
  Account L(*local);
  Account R(*remote);
  L.create("Archive");
  L.append("INBOX", anonymous(1), {}, kDate);
  run_ok(o);
  L.move("INBOX", uids(L, "INBOX").front(), "Archive");
  auto r = run_ok(o);
  INFO(describe(r));
  CHECK(total_moved(r) == 0);
  CHECK(total_copied(r) == 1);
  CHECK(total_expunged(r) == 1);
  CHECK(same_mail(L, R));
}

TEST_CASE("Dovecot: bytes on the wire of a look-alike move (measured through a proxy)") {
  // Three 20 kB look-alikes moved on the local side. The remote side, where the UID MOVE runs,
  // receives commands only: far less than one body. The bodies are read once for hashing (from
  // the local side's new messages and the remote twins).
  constexpr std::size_t kSize = 20000;
  auto local = TestServer::dovecot();
  auto remote = TestServer::dovecot();
  FaultProxy proxy(remote->endpoint().port);
  TempDir dir;
  auto o = engine_options(*local, *remote, dir.file("state.db"));
  o.endpoints[Side::Remote].port = proxy.port();
  Account L(*local);
  Account R(*remote);
  L.create("Archive");
  for (int k = 0; k < 3; ++k) L.append("INBOX", lookalike(k, kSize), {}, kDate);
  run_ok(o);
  for (Uid u : uids(L, "INBOX")) L.move("INBOX", u, "Archive");
  const std::uint64_t up0 = proxy.bytes_up();
  const std::uint64_t down0 = proxy.bytes_down();
  auto r = run_ok(o);
  const std::uint64_t up = proxy.bytes_up() - up0;
  const std::uint64_t down = proxy.bytes_down() - down0;
  MESSAGE("look-alike move of 3 x " << kSize << " B: to the remote server " << up
                                    << " B, from it " << down << " B; APPEND bytes "
                                    << bytes_sent(r));
  CHECK(total_moved(r) == 3);
  CHECK(total_copied(r) == 0);
  CHECK(bytes_sent(r) == 0);
  CHECK(up < kSize);
  CHECK(same_mail(L, R));
}
