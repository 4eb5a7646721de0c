#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <twinbox/base/crash_point.hpp>
#include <twinbox/state/schema.hpp>
#include <twinbox/state/store.hpp>

#include "state_fixture.hpp"

using namespace twinbox;
using namespace twinbox::state;

namespace {

using test::TempDir;

OpenOptions fast() {
  OpenOptions o;
  o.durable = false;
  return o;
}

StateStore open_ok(const std::string& path, OpenOptions o = fast()) {
  auto s = StateStore::open(path, o);
  REQUIRE_MESSAGE(s.has_value(), (s ? std::string() : s.error().message));
  return std::move(s).value();
}

MailboxPair inbox() { return test::inbox_pair(); }

MessagePair pair(std::uint32_t l, std::uint32_t r, std::string flags = "") {
  MessagePair p;
  p.uid[Side::Local] = Uid(l);
  p.uid[Side::Remote] = Uid(r);
  p.base_flags = std::move(flags);
  p.identity.message_id = "<" + std::to_string(l) + "." + std::to_string(r) + "@example.org>";
  p.identity.size = 1000 + l;
  p.identity.internaldate = 1700000000 + l;
  return p;
}

int sqlite_user_version(const std::string& path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  int v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

void set_user_version(const std::string& path, int v) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  std::string sql = "PRAGMA user_version = " + std::to_string(v);
  REQUIRE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
}

}  // namespace

TEST_CASE("open creates the schema from version 0, with mode 0600, and reopens") {
  TempDir t;
  MailboxPairId id = 0;
  {
    auto s = open_ok(t.db());
    CHECK(s.schema_version() == kSchemaVersion);
    auto id_or = s.upsert_mailbox(inbox());
    REQUIRE(id_or);
    id = *id_or;
    REQUIRE(s.set_meta("created", "now"));
  }
  CHECK(sqlite_user_version(t.db()) == kSchemaVersion);
  struct stat st {};
  REQUIRE(::stat(t.db().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat((t.db() + ".lock").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  auto s = open_ok(t.db());
  auto boxes = s.mailboxes();
  REQUIRE(boxes);
  REQUIRE(boxes->size() == 1);
  CHECK(boxes->front().id == id);
  CHECK(boxes->front().name[Side::Remote] == "INBOX");
  auto m = s.meta("created");
  REQUIRE(m);
  CHECK(*m == std::optional<std::string>("now"));
  auto missing = s.meta("nothing");
  REQUIRE(missing);
  CHECK_FALSE(missing->has_value());
}

TEST_CASE("a database from a newer twinbox is refused with a clear message") {
  TempDir t;
  { auto s = open_ok(t.db()); }
  set_user_version(t.db(), kSchemaVersion + 1);
  auto s = StateStore::open(t.db());
  REQUIRE_FALSE(s);
  CHECK(s.error().code == Errc::Storage);
  CHECK(s.error().message.find("newer") != std::string::npos);
  CHECK(s.error().message.find(t.db()) != std::string::npos);
}

TEST_CASE("a file that is not a database gives a storage error naming it") {
  TempDir t;
  {
    FILE* f = std::fopen(t.db().c_str(), "w");
    REQUIRE(f != nullptr);
    std::fputs("this is not an SQLite database, it is a text file of some length........", f);
    std::fclose(f);
  }
  auto s = StateStore::open(t.db());
  REQUIRE_FALSE(s);
  CHECK(s.error().code == Errc::Storage);
  CHECK(s.error().message.find("not a twinbox state database") != std::string::npos);
}

TEST_CASE("create=false on a missing file is NotFound") {
  TempDir t;
  OpenOptions o;
  o.create = false;
  auto s = StateStore::open(t.db(), o);
  REQUIRE_FALSE(s);
  CHECK(s.error().code == Errc::NotFound);
}

TEST_CASE("a second open is refused while the first holds the lock, and allowed after") {
  TempDir t;
  {
    auto first = open_ok(t.db());
    auto second = StateStore::open(t.db());
    REQUIRE_FALSE(second);
    CHECK(second.error().code == Errc::Conflict);
    CHECK(second.error().message.find("another twinbox run holds") != std::string::npos);

    // Another process is refused too.
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      auto r = StateStore::open(t.db());
      ::_exit(!r && r.error().code == Errc::Conflict ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  // A lock held by a process that died is gone: the child takes it and exits without closing.
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    auto r = StateStore::open(t.db());
    ::_exit(r ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WEXITSTATUS(status) == 0);
  auto again = StateStore::open(t.db());
  CHECK(again.has_value());
}

TEST_CASE("transactions: rollback on destruction, commit keeps, moved store keeps working") {
  TempDir t;
  auto s = open_ok(t.db());
  auto id = s.upsert_mailbox(inbox());
  REQUIRE(id);
  {
    auto tx = s.begin();
    REQUIRE(tx);
    std::vector<MessagePair> ps{pair(1, 11), pair(2, 12)};
    REQUIRE(s.upsert_pairs(*id, ps));
    auto nested = s.begin();
    CHECK_FALSE(nested);
  }  // rolled back
  auto n = s.count_pairs(*id);
  REQUIRE(n);
  CHECK(*n == 0);

  {
    auto tx = s.begin();
    REQUIRE(tx);
    std::vector<MessagePair> ps{pair(1, 11)};
    REQUIRE(s.upsert_pairs(*id, ps));
    StateStore moved = std::move(s);
    REQUIRE(tx->commit());
    s = std::move(moved);
  }
  n = s.count_pairs(*id);
  REQUIRE(n);
  CHECK(*n == 1);
}

TEST_CASE("message pairs: upsert replaces pairs sharing a UID, remove, base flags, void side") {
  TempDir t;
  auto s = open_ok(t.db());
  auto id = s.upsert_mailbox(inbox());
  REQUIRE(id);
  std::vector<MessagePair> ps{pair(1, 11, "\\Seen"), pair(2, 12), pair(3, 13)};
  REQUIRE(s.upsert_pairs(*id, ps));

  // (2, 20) replaces (2, 12).
  std::vector<MessagePair> repl{pair(2, 20, "\\Flagged")};
  REQUIRE(s.upsert_pairs(*id, repl));
  auto p = s.find_pair(*id, Side::Remote, Uid(12));
  REQUIRE(p);
  CHECK_FALSE(p->has_value());
  p = s.find_pair(*id, Side::Local, Uid(2));
  REQUIRE(p);
  REQUIRE(p->has_value());
  CHECK((*p)->uid[Side::Remote] == Uid(20));
  CHECK((*p)->base_flags == "\\Flagged");

  std::vector<BaseFlagsUpdate> up(1);
  up[0].side = Side::Remote;
  up[0].uid = Uid(11);
  up[0].base_flags = "\\Answered";
  up[0].modseq[Side::Local] = ModSeq(77);
  REQUIRE(s.set_base_flags(*id, up));
  p = s.find_pair(*id, Side::Local, Uid(1));
  REQUIRE(p);
  REQUIRE(p->has_value());
  CHECK((*p)->base_flags == "\\Answered");
  CHECK((*p)->modseq[Side::Local] == ModSeq(77));

  std::vector<Uid> gone{Uid(3), Uid(99)};
  REQUIRE(s.remove_pairs(*id, Side::Local, gone));
  auto all = s.pairs(*id);
  REQUIRE(all);
  CHECK(all->size() == 2);

  // Void the remote side: UIDs gone, identity kept, side state reset.
  auto mb = s.mailbox(*id);
  REQUIRE(mb);
  REQUIRE(mb->has_value());
  SideState remote;
  remote.uidvalidity = UidValidity(5);
  remote.uidnext = Uid(21);
  remote.highestmodseq = ModSeq(9);
  REQUIRE(s.set_side_state(*id, Side::Remote, remote));
  REQUIRE(s.void_side(*id, Side::Remote));
  all = s.pairs(*id);
  REQUIRE(all);
  REQUIRE(all->size() == 2);
  for (const auto& q : *all) {
    CHECK_FALSE(q.uid[Side::Remote].valid());
    CHECK(q.uid[Side::Local].valid());
    CHECK_FALSE(q.identity.message_id.empty());
  }
  mb = s.mailbox(*id);
  REQUIRE(mb);
  CHECK((*mb)->side[Side::Remote].uidvalidity == UidValidity(5));
  CHECK((*mb)->side[Side::Remote].uidnext == Uid{});

  // Re-pair a half pair by its local UID; voiding the other side drops pairs void on both.
  std::vector<MessagePair> re{pair(1, 40, "\\Seen")};
  REQUIRE(s.upsert_pairs(*id, re));
  REQUIRE(s.void_side(*id, Side::Local));
  all = s.pairs(*id);
  REQUIRE(all);
  REQUIRE(all->size() == 1);
  CHECK(all->front().uid[Side::Remote] == Uid(40));
}

TEST_CASE("mailbox pairs: side state round trip, modseq at and above 2^63, names unique") {
  TempDir t;
  auto s = open_ok(t.db());
  MailboxPair m = inbox();
  m.name[Side::Remote] = "Inbox";
  m.subscribed = true;
  m.special_use = "\\Inbox";
  m.side[Side::Local] = {.uidvalidity = UidValidity(kMaxUid),
                         .uidnext = Uid(kMaxUid),
                         .highestmodseq = ModSeq(std::uint64_t{1} << 63),
                         .mailbox_id = "F123",
                         .last_sync = 1700000000,
                         .problem = "",
                         .announced_modseq = ModSeq(std::uint64_t{1} << 63)};
  m.side[Side::Remote].highestmodseq = ModSeq(UINT64_MAX);
  m.side[Side::Remote].problem = "NO [UIDNOTSTICKY]";
  auto id = s.upsert_mailbox(m);
  REQUIRE(id);
  m.id = *id;
  auto back = s.mailbox(*id);
  REQUIRE(back);
  REQUIRE(back->has_value());
  CHECK(**back == m);

  std::vector<MessagePair> ps{pair(1, 2)};
  ps[0].modseq[Side::Remote] = ModSeq(UINT64_MAX - 1);
  ps[0].modseq[Side::Local] = ModSeq((std::uint64_t{1} << 63) + 5);
  REQUIRE(s.upsert_pairs(*id, ps));
  auto all = s.pairs(*id);
  REQUIRE(all);
  REQUIRE(all->size() == 1);
  CHECK(all->front() == ps[0]);

  MailboxPair clash = inbox();
  clash.name[Side::Remote] = "Other";
  auto c = s.upsert_mailbox(clash);
  REQUIRE_FALSE(c);
  CHECK(c.error().code == Errc::Storage);

  REQUIRE(s.set_problem(*id, Side::Remote, ""));
  REQUIRE(s.set_subscribed(*id, false));
  back = s.mailbox(*id);
  REQUIRE(back);
  CHECK((*back)->side[Side::Remote].problem.empty());
  CHECK_FALSE((*back)->subscribed);

  // Removing the mailbox cascades to its pairs and intents.
  AppendIntent in;
  in.mailbox = *id;
  in.source_uid = Uid(1);
  REQUIRE(s.record_intent(in));
  REQUIRE(s.remove_mailbox(*id));
  auto n = s.count_pairs(*id);
  REQUIRE(n);
  CHECK(*n == 0);
  auto is = s.intents(*id);
  REQUIRE(is);
  CHECK(is->empty());
}

TEST_CASE("append intents: record, list in order, drop") {
  TempDir t;
  auto s = open_ok(t.db());
  auto id = s.upsert_mailbox(inbox());
  REQUIRE(id);
  AppendIntent a{.mailbox = *id,
                 .source_side = Side::Remote,
                 .source_uid = Uid(7),
                 .target_uidvalidity = UidValidity(3),
                 .target_uidnext = Uid(100),
                 .flags = "\\Seen",
                 .identity = {.message_id = "<a@x>", .size = 1234, .internaldate = -5,
                              .sha256 = "ab", .email_id = {}}};
  AppendIntent b = a;
  b.source_uid = Uid(8);
  auto ia = s.record_intent(a);
  auto ib = s.record_intent(b);
  REQUIRE(ia);
  REQUIRE(ib);
  auto list = s.intents(*id);
  REQUIRE(list);
  REQUIRE(list->size() == 2);
  a.id = *ia;
  CHECK(list->at(0) == a);
  CHECK(list->at(1).source_uid == Uid(8));
  REQUIRE(s.drop_intent(*ia));
  list = s.intents(*id);
  REQUIRE(list);
  REQUIRE(list->size() == 1);
  CHECK(list->front().id == *ib);
}

TEST_CASE("bulk: 10k pairs in one transaction, streamed back in UID order") {
  TempDir t;
  auto s = open_ok(t.db(), OpenOptions{});
  auto id = s.upsert_mailbox(inbox());
  REQUIRE(id);
  constexpr std::uint32_t kN = 10000;
  std::vector<MessagePair> ps;
  ps.reserve(kN);
  for (std::uint32_t i = 1; i <= kN; ++i) ps.push_back(pair(i, i + 5, "\\Seen"));
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(s.upsert_pairs(*id, ps));
  std::uint32_t expect = 1;
  bool ordered = true;
  REQUIRE(s.for_each_pair(*id, [&](const MessagePair& p) -> Status {
    ordered = ordered && p.uid[Side::Local] == Uid(expect) && p == ps[expect - 1];
    ++expect;
    return {};
  }));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t0)
                .count();
  CHECK(ordered);
  CHECK(expect == kN + 1);
  MESSAGE("10k pairs written and read back in " << ms << " ms");
  CHECK(ms < 5000);  // generous bound for a loaded 2-core CI machine; typically tens of ms

  // A callback error stops the stream and is returned.
  int seen = 0;
  auto st = s.for_each_pair(*id, [&](const MessagePair&) -> Status {
    if (++seen == 3) return fail(Errc::Internal, Scope::Fatal, "stop");
    return {};
  });
  CHECK_FALSE(st);
  CHECK(seen == 3);
}

TEST_CASE("pairs by UID filter, and each side's UIDs alone (what a sync pass reads)") {
  TempDir t;
  auto s = open_ok(t.db());
  auto id = s.upsert_mailbox(inbox());
  REQUIRE(id);
  std::vector<MessagePair> ps = {pair(4, 40, "\\Seen"), pair(1, 30), pair(9, 20, "$Junk"), pair(7, 0)};
  REQUIRE(s.upsert_pairs(*id, ps));
  // The filter sees each row's UIDs; only accepted rows reach the callback, whole.
  std::vector<PerSide<Uid>> offered;
  std::vector<MessagePair> got;
  REQUIRE(s.for_each_pair_if(
      *id,
      [&](const PerSide<Uid>& u) {
        offered.push_back(u);
        return u[Side::Remote] == Uid(20) || !u[Side::Remote].valid();
      },
      [&](const MessagePair& p) -> Status {
        got.push_back(p);
        return {};
      }));
  CHECK(offered.size() == 4);
  REQUIRE(got.size() == 2);
  CHECK(got[0] == ps[3]);  // local UID order
  CHECK(got[1] == ps[2]);
  auto uids = s.pair_uids(*id);
  REQUIRE(uids);
  CHECK((*uids)[Side::Local] == std::vector<Uid>{Uid(1), Uid(4), Uid(7), Uid(9)});
  CHECK((*uids)[Side::Remote] == std::vector<Uid>{Uid(20), Uid(30), Uid(40)});  // no void UID
}

TEST_CASE("every commit is a crash point") {
  TempDir t;
  auto s = open_ok(t.db());
  auto before = crash_points_passed();
  auto id = s.upsert_mailbox(inbox());  // implicit transaction: one commit
  REQUIRE(id);
  {
    auto tx = s.begin();
    REQUIRE(tx);
    std::vector<MessagePair> ps{pair(1, 1)};
    REQUIRE(s.upsert_pairs(*id, ps));  // joins tx: no commit of its own
    REQUIRE(s.set_meta("k", "v"));
    REQUIRE(tx->commit());
  }
  CHECK(crash_points_passed() - before == 2);

  // TWINBOX_TEST_CRASH_AFTER=1 in a child: the first commit never happens.
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    set_crash_after(crash_points_passed() + 1);
    (void)s.set_meta("child", "was here");
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == kTestCrashExitCode);
  auto m = s.meta("child");
  REQUIRE(m);
  CHECK_FALSE(m->has_value());
}
