// The SQLite mail store: mailboxes, UIDs, modseqs, the expunge log, persistence.

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>

#include "../../../src/server/storage.hpp"

using namespace twinbox;
using namespace twinbox::server;

TEST_CASE("mailboxes: create, find, rename with children, delete") {
  auto s = Storage::open(":memory:");
  REQUIRE(s);
  auto& st = **s;
  auto a = st.create_mailbox("u", "A", {"\\Archive"});
  REQUIRE(a);
  CHECK(a->uidnext == Uid(1));
  CHECK(a->highestmodseq == ModSeq(1));
  CHECK(a->special_use == std::vector<std::string>{"\\Archive"});
  CHECK(a->mailboxid.rfind("M", 0) == 0);
  auto dup = st.create_mailbox("u", "A");
  REQUIRE_FALSE(dup);
  CHECK(dup.error().code == Errc::Conflict);
  auto child = st.create_mailbox("u", "A/B");
  REQUIRE(child);
  CHECK(child->uidvalidity > a->uidvalidity);
  REQUIRE(st.create_mailbox("u", "AB"));
  REQUIRE(st.create_mailbox("other", "A"));
  REQUIRE(st.rename_mailbox("u", "A", "Z"));
  auto names = st.mailboxes("u");
  REQUIRE(names);
  REQUIRE(names->size() == 3);
  CHECK((*names)[0].name == "AB");  // not a child of A
  CHECK((*names)[1].name == "Z");
  CHECK((*names)[1].mailboxid == a->mailboxid);  // MAILBOXID survives RENAME
  CHECK((*names)[1].uidvalidity == a->uidvalidity);
  CHECK((*names)[2].name == "Z/B");
  REQUIRE(st.delete_mailbox((*names)[1].id));
  auto gone = st.find_mailbox("u", "Z");
  REQUIRE(gone);
  CHECK_FALSE(gone->has_value());
  auto still = st.find_mailbox("other", "A");
  CHECK((still && still->has_value()));
}

TEST_CASE("messages: UIDs, modseqs, copies share body and EMAILID, expunge log") {
  auto s = Storage::open(":memory:");
  REQUIRE(s);
  auto& st = **s;
  auto box = st.create_mailbox("u", "INBOX");
  auto other = st.create_mailbox("u", "Other");
  REQUIRE((box && other));
  auto u1 = st.append(box->id, "one", canonical_flags({"\\seen", "$Kw", "\\Recent"}), 100, 60);
  auto u2 = st.append(box->id, "two", {}, 200, 0);
  REQUIRE((u1 && u2));
  CHECK(*u1 == Uid(1));
  CHECK(*u2 == Uid(2));
  auto m1 = st.message(box->id, *u1);
  REQUIRE((m1 && *m1));
  CHECK((*m1)->flags == std::vector<std::string>{"$Kw", "\\Seen"});
  CHECK((*m1)->internaldate_zone == 60);
  CHECK((*m1)->size == 3);
  auto mb = st.mailbox_by_id(box->id);
  ModSeq after_appends = (*mb)->highestmodseq;
  CHECK(after_appends == ModSeq(3));

  auto ms = st.bump_modseq(box->id);
  REQUIRE(ms);
  REQUIRE(st.set_flags(box->id, *u2, {"\\Flagged"}, *ms));
  auto changed = st.changed_since(box->id, after_appends);
  REQUIRE(changed);
  REQUIRE(changed->size() == 1);
  CHECK((*changed)[0].first == *u2);

  auto c = st.copy(box->id, *u1, other->id, ModSeq(2));
  REQUIRE(c);
  auto copy = st.message(other->id, *c);
  REQUIRE((copy && *copy));
  CHECK((*copy)->emailid == (*m1)->emailid);
  CHECK((*copy)->body_id == (*m1)->body_id);

  REQUIRE(st.expunge(box->id, {*u1, Uid(99)}));
  auto gone = st.expunged_since(box->id, *ms);
  REQUIRE(gone);
  CHECK(*gone == std::vector<Uid>{*u1});
  // The body stays while the copy references it.
  auto body = st.body((*copy)->body_id);
  REQUIRE(body);
  CHECK(*body == "one");
  auto counts = st.counts(box->id);
  REQUIRE(counts);
  CHECK(counts->messages == 1);
  CHECK(counts->unseen == 1);
}

TEST_CASE("reset_uidvalidity renumbers from 1 and clears the expunge log") {
  auto s = Storage::open(":memory:");
  REQUIRE(s);
  auto& st = **s;
  auto box = st.create_mailbox("u", "INBOX");
  REQUIRE(box);
  for (int i = 0; i < 4; ++i) REQUIRE(st.append(box->id, "m", {}, 1, 0));
  REQUIRE(st.expunge(box->id, {Uid(1), Uid(3)}));
  REQUIRE(st.reset_uidvalidity(box->id, UidValidity(77)));
  auto uids = st.uids(box->id);
  REQUIRE(uids);
  CHECK(*uids == std::vector<Uid>{Uid(1), Uid(2)});
  auto mb = st.mailbox_by_id(box->id);
  CHECK((*mb)->uidvalidity == UidValidity(77));
  CHECK((*mb)->uidnext == Uid(3));
  auto gone = st.expunged_since(box->id, ModSeq(0));
  CHECK(gone->empty());
}

TEST_CASE("a rolled-back transaction leaves nothing; committed data survives reopening") {
  auto path = std::filesystem::temp_directory_path() / "twinbox-storage-test.db";
  std::filesystem::remove(path);
  {
    auto s = Storage::open(path.string(), true);
    REQUIRE(s);
    auto box = (*s)->create_mailbox("u", "INBOX");
    REQUIRE(box);
    {
      Storage::Txn txn(**s);
      REQUIRE((*s)->append(box->id, "lost", {}, 1, 0));
      // no commit: rolled back
    }
    REQUIRE((*s)->append(box->id, "kept", {}, 1, 0));
  }
  auto s = Storage::open(path.string());
  REQUIRE(s);
  auto box = (*s)->find_mailbox("u", "INBOX");
  REQUIRE((box && *box));
  auto msgs = (*s)->messages((*box)->id);
  REQUIRE(msgs);
  REQUIRE(msgs->size() == 1);
  CHECK(*(*s)->body((*msgs)[0].body_id) == "kept");
  // The UID of the rolled-back append is not reused for a different message... but it was
  // never acknowledged either, so reusing it is allowed; it is simply the next one.
  CHECK((*msgs)[0].uid == Uid(1));
  s = Storage::open("/nonexistent-dir/x.db");
  CHECK_FALSE(s);
  std::filesystem::remove(path);
}

TEST_CASE("canonical_flags") {
  CHECK(canonical_flags({"\\SEEN", "\\seen", "$a", "$A", "\\recent", "\\Draft"}) ==
        std::vector<std::string>{"$a", "\\Draft", "\\Seen"});
  CHECK(has_flag({"\\Seen"}, "\\SEEN"));
}
