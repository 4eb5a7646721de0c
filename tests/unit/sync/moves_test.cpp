// Issue 5, message identity: moves matched by the servers' own ids (EMAILID / X-GM-MSGID)
// before content, look-alike moves told apart by body hashes (match_moves(), moves.cpp,
// move_hash_uids()), pending append intents of look-alikes resolved by hashes
// (resolve_intents(), engine_steps.hpp) and ids learnt for pairs (learn_email_ids()).

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <unistd.h>

#include <twinbox/sync/reconcile.hpp>

#include "../../../src/sync/body_hashes.hpp"
#include "../../../src/sync/engine_steps.hpp"

using namespace twinbox;
using namespace twinbox::sync;

namespace {

constexpr MailboxKey kX = 10;
constexpr MailboxKey kY = 20;

MessageIdentity ident(std::string mid, std::string hash = "", std::string local_id = "") {
  MessageIdentity id{std::move(mid), 500, 1700000000, std::move(hash), {}};
  id.email_id[Side::Local] = std::move(local_id);
  return id;
}

/// Mailboxes X and Y; X holds the stored pairs (local uid i, remote uid 100 + i) of `in_x`, all
/// vanished on the local side; Y has `in_y` new on the local side (UIDs 1, 2, ...).
std::vector<MailboxInput> moved_locally(const std::vector<MessageIdentity>& in_x,
                                        const std::vector<MessageIdentity>& in_y) {
  std::vector<MailboxInput> boxes(2);
  boxes[0].mailbox = kX;
  boxes[1].mailbox = kY;
  for (std::uint32_t i = 1; i <= in_x.size(); ++i) {
    boxes[0].input.stored.pairs.push_back(
        {PerSide<Uid>{{Uid(i), Uid(100 + i)}}, Flags{"\\Seen"}, in_x[i - 1]});
    boxes[0].input.delta[Side::Local].vanished.push_back(Uid(i));
  }
  for (std::uint32_t i = 1; i <= in_y.size(); ++i) {
    boxes[1].input.delta[Side::Local].added.push_back({Uid(i), Flags{"\\Seen"}, in_y[i - 1]});
  }
  return boxes;
}

/// "remote:101->1 remote:102->2": the moved remote UID and the local twin in Y, per move.
std::string brief(const std::vector<Move>& moves) {
  std::string s;
  for (const Move& m : moves) {
    if (!s.empty()) s += ' ';
    s += std::string(to_string(m.side)) + ":" + std::to_string(m.from_pair[m.side].value) + "->" +
         std::to_string(m.twin.value);
  }
  return s;
}

}  // namespace

TEST_CASE("match_moves: the server's message id identifies a move, even without Message-ID") {
  auto boxes = moved_locally({ident("", "", "E1")}, {ident("", "", "E1")});
  auto moves = match_moves(boxes);
  CHECK(brief(moves) == "remote:101->1");
  REQUIRE(moves.size() == 1);
  CHECK(moves[0].from == kX);
  CHECK(moves[0].to == kY);
  CHECK(moves[0].identity.email_id[Side::Local] == "E1");
  CHECK(boxes[0].input.stored.pairs.empty());
  CHECK(boxes[0].input.delta[Side::Local].vanished.empty());
  CHECK(boxes[1].input.delta[Side::Local].added.empty());

  SUBCASE("without ids a message without Message-ID is not recognised") {
    auto plain = moved_locally({ident("")}, {ident("")});
    CHECK(match_moves(plain).empty());
  }
  SUBCASE("ids are per side: a remote id equal to the local one means nothing") {
    MessageIdentity gone = ident("");
    gone.email_id[Side::Remote] = "E1";
    auto b = moved_locally({gone}, {ident("", "", "E1")});
    CHECK(match_moves(b).empty());
  }
  SUBCASE("the same id in the same mailbox is no move") {
    auto b = moved_locally({ident("", "", "E1")}, {});
    b[0].input.delta[Side::Local].added.push_back({Uid(7), {}, ident("", "", "E1")});
    CHECK(match_moves(b).empty());
  }
}

TEST_CASE("match_moves: look-alikes pair by id, then by body hash, never by guess") {
  SUBCASE("ids pick the right twin whatever the UID order") {
    auto boxes = moved_locally({ident("<dup@x>", "", "E1"), ident("<dup@x>", "", "E2")},
                               {ident("<dup@x>", "", "E2"), ident("<dup@x>", "", "E1")});
    CHECK(brief(match_moves(boxes)) == "remote:101->2 remote:102->1");
  }
  SUBCASE("hashes pick the right twin whatever the UID order") {
    auto boxes = moved_locally({ident("<dup@x>", "hA"), ident("<dup@x>", "hB")},
                               {ident("<dup@x>", "hB"), ident("<dup@x>", "hA")});
    CHECK(brief(match_moves(boxes)) == "remote:101->2 remote:102->1");
  }
  SUBCASE("without hashes or ids: copy and expunge") {
    auto boxes = moved_locally({ident("<dup@x>"), ident("<dup@x>")},
                               {ident("<dup@x>"), ident("<dup@x>")});
    CHECK(match_moves(boxes).empty());
    CHECK(boxes[0].input.stored.pairs.size() == 2);
    CHECK(boxes[1].input.delta[Side::Local].added.size() == 2);
  }
  SUBCASE("a hash missing on one member: no move") {
    auto boxes = moved_locally({ident("<dup@x>", "hA"), ident("<dup@x>", "hB")},
                               {ident("<dup@x>", "hB"), ident("<dup@x>")});
    CHECK(match_moves(boxes).empty());
  }
  SUBCASE("different ids of the same server: a move by APPEND + EXPUNGE, only with equal hashes") {
    auto boxes = moved_locally({ident("<one@x>", "", "E1")}, {ident("<one@x>", "", "E9")});
    CHECK(match_moves(boxes).empty());
    boxes = moved_locally({ident("<one@x>", "hA", "E1")}, {ident("<one@x>", "hA", "E9")});
    CHECK(brief(match_moves(boxes)) == "remote:101->1");
    boxes = moved_locally({ident("<one@x>", "hA", "E1")}, {ident("<one@x>", "hB", "E9")});
    CHECK(match_moves(boxes).empty());
  }
  SUBCASE("a pair stored without id still moves by content (state from before ids)") {
    auto boxes = moved_locally({ident("<one@x>")}, {ident("<one@x>", "", "E9")});
    auto moves = match_moves(boxes);
    CHECK(brief(moves) == "remote:101->1");
    REQUIRE(moves.size() == 1);
    CHECK(moves[0].identity.email_id[Side::Local] == "E9");
  }
}

TEST_CASE("move_hash_uids: look-alike move candidates are hashed where they are") {
  auto boxes = moved_locally({ident("<dup@x>"), ident("<dup@x>")},
                             {ident("<dup@x>"), ident("<dup@x>")});
  auto want = move_hash_uids(boxes);
  REQUIRE(want.size() == 2);
  // Vanished pairs through their live twins on the remote side of X; new ones on the local side
  // of Y.
  CHECK(want[0][Side::Remote] == std::vector<Uid>{Uid(101), Uid(102)});
  CHECK(want[0][Side::Local].empty());
  CHECK(want[1][Side::Local] == std::vector<Uid>{Uid(1), Uid(2)});
  CHECK(want[1][Side::Remote].empty());

  SUBCASE("a single candidate each is no look-alike group: nothing to fetch") {
    auto one = moved_locally({ident("<dup@x>")}, {ident("<dup@x>")});
    for (const auto& w : move_hash_uids(one)) {
      CHECK(w[Side::Local].empty());
      CHECK(w[Side::Remote].empty());
    }
  }
  SUBCASE("ids that all match: nothing to fetch") {
    auto ids = moved_locally({ident("<dup@x>", "", "E1"), ident("<dup@x>", "", "E2")},
                             {ident("<dup@x>", "", "E2"), ident("<dup@x>", "", "E1")});
    for (const auto& w : move_hash_uids(ids)) {
      CHECK(w[Side::Local].empty());
      CHECK(w[Side::Remote].empty());
    }
  }
  SUBCASE("different ids, one candidate each (a move by APPEND + EXPUNGE): hashed") {
    auto ids = moved_locally({ident("<one@x>", "", "E1")}, {ident("<one@x>", "", "E9")});
    auto w = move_hash_uids(ids);
    CHECK(w[0][Side::Remote] == std::vector<Uid>{Uid(101)});
    CHECK(w[1][Side::Local] == std::vector<Uid>{Uid(1)});
  }
}

namespace {

/// A state database in a fresh temporary directory, removed afterwards.
struct TempState {
  std::filesystem::path dir;
  std::optional<state::StateStore> store;
  state::MailboxPairId box = 0;
  TempState() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "twinbox-moves-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
    state::OpenOptions o;
    o.durable = false;
    auto s = state::StateStore::open((dir / "state.db").string(), o);
    REQUIRE(s.has_value());
    store.emplace(std::move(*s));
    state::MailboxPair m;
    m.name[Side::Local] = "INBOX";
    m.name[Side::Remote] = "INBOX";
    auto id = store->upsert_mailbox(m);
    REQUIRE(id.has_value());
    box = *id;
  }
  ~TempState() {
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  /// An intent to copy local `source` (a look-alike) to the remote side, whose UIDNEXT was 10.
  void intend(std::uint32_t source) {
    state::AppendIntent in;
    in.mailbox = box;
    in.source_side = Side::Local;
    in.source_uid = Uid(source);
    in.target_uidvalidity = UidValidity(7);
    in.target_uidnext = Uid(10);
    in.identity = {"<dup@x>", 500, 1700000000, "", {}};
    REQUIRE(store->record_intent(in).has_value());
  }
};

/// Local has look-alikes 1 and 2 new; the remote side has `remote_new` new (from UID 10).
PerSide<Delta> crashed_deltas(const std::vector<std::uint32_t>& remote_new) {
  PerSide<Delta> d;
  for (std::uint32_t u : {1u, 2u}) d[Side::Local].added.push_back({Uid(u), {}, ident("<dup@x>")});
  d[Side::Remote].snapshot.uidvalidity = UidValidity(7);
  for (std::uint32_t u : remote_new) {
    d[Side::Remote].added.push_back({Uid(u), {}, ident("<dup@x>")});
    d[Side::Remote].added.back().identity.email_id = {};
    d[Side::Remote].added.back().identity.email_id[Side::Remote] = "R" + std::to_string(u);
  }
  return d;
}

}  // namespace

TEST_CASE("resolve_intents: look-alike intents are told apart by body hashes") {
  // Local 1 has body A, local 2 body B; remote 10 holds B (only the second APPEND happened).
  const BodyHashes bodies{{std::unordered_map<std::uint32_t, std::string>{{1, "hA"}, {2, "hB"}},
                           std::unordered_map<std::uint32_t, std::string>{{10, "hB"}, {11, "hA"}}}};
  int calls = 0;
  HashFetch fetch = [&](const PerSide<std::vector<Uid>>& want) -> Result<BodyHashes> {
    ++calls;
    BodyHashes out;
    for (Side s : kBothSides) {
      for (Uid u : want[s]) {
        if (auto it = bodies[s].find(u.value); it != bodies[s].end()) out[s][u.value] = it->second;
      }
    }
    return out;
  };
  TempState st;
  st.intend(1);
  st.intend(2);

  SUBCASE("one of two APPENDs happened: the right intent adopts it (was: the first intent)") {
    REQUIRE(resolve_intents(*st.store, st.box, crashed_deltas({10}), {}, fetch));
    CHECK(calls == 1);
    auto pairs = st.store->pairs(st.box);
    REQUIRE(pairs.has_value());
    REQUIRE(pairs->size() == 1);
    CHECK(pairs->front().uid[Side::Local] == Uid(2));
    CHECK(pairs->front().uid[Side::Remote] == Uid(10));
    CHECK(pairs->front().identity.email_id[Side::Remote] == "R10");
    CHECK(st.store->intents(st.box)->empty());
  }
  SUBCASE("both happened, in the other order: each finds its own") {
    REQUIRE(resolve_intents(*st.store, st.box, crashed_deltas({10, 11}), {}, fetch));
    auto pairs = st.store->pairs(st.box);
    REQUIRE(pairs.has_value());
    REQUIRE(pairs->size() == 2);
    for (const auto& p : *pairs) {
      CHECK(p.uid[Side::Remote] == Uid(p.uid[Side::Local] == Uid(1) ? 11 : 10));
    }
  }
  SUBCASE("without hashes the mailbox stops instead of guessing") {
    auto r = resolve_intents(*st.store, st.box, crashed_deltas({10}), {}, {});
    REQUIRE(!r);
    CHECK(r.error().scope == Scope::Mailbox);
    CHECK(st.store->pairs(st.box)->empty());
    CHECK(st.store->intents(st.box)->size() == 2);
  }
  SUBCASE("a candidate that cannot be hashed: still ambiguous, the mailbox stops") {
    auto d = crashed_deltas({10, 12});  // 12 is not in `bodies`
    auto r = resolve_intents(*st.store, st.box, d, {}, [&](const PerSide<std::vector<Uid>>& w) {
      auto h = fetch(w);
      (*h)[Side::Remote].erase(10);  // and neither is 10 now
      return h;
    });
    CHECK(!r);
  }
}

TEST_CASE("learn_email_ids: ids reported for paired messages are stored") {
  TempState st;
  state::MessagePair p;
  p.uid = {{Uid(1), Uid(10)}};
  p.identity.email_id[Side::Local] = "L1";
  REQUIRE(st.store->upsert_pairs(st.box, std::vector<state::MessagePair>{p}));
  StoredMailbox stored = *load_stored(*st.store, st.box);
  PerSide<Delta> d;
  NewMessage again{Uid(10), {}, {}};
  again.identity.email_id[Side::Remote] = "R10";
  d[Side::Remote].added.push_back(again);
  NewMessage unpaired{Uid(11), {}, {}};
  unpaired.identity.email_id[Side::Remote] = "R11";
  d[Side::Remote].added.push_back(unpaired);
  REQUIRE(learn_email_ids(*st.store, st.box, d, stored));
  auto pairs = st.store->pairs(st.box);
  REQUIRE(pairs->size() == 1);
  CHECK(pairs->front().identity.email_id[Side::Local] == "L1");
  CHECK(pairs->front().identity.email_id[Side::Remote] == "R10");
}

TEST_CASE("reconcile: recorded pairs carry each side's id, stale ids are not copied") {
  MessageIdentity both = ident("<m@x>", "", "EL");
  both.email_id[Side::Remote] = "ER";
  SUBCASE("rule 5: a pair of two new messages takes the id of each side") {
    ReconcileInput in;
    MessageIdentity l = ident("<m@x>", "", "EL");
    MessageIdentity r = ident("<m@x>");
    r.email_id[Side::Remote] = "ER";
    in.delta[Side::Local].added.push_back({Uid(1), {}, l});
    in.delta[Side::Remote].added.push_back({Uid(5), {}, r});
    Plan p = reconcile(in);
    REQUIRE(p.actions.size() == 1);
    const auto* rec = std::get_if<RecordPair>(&p.actions[0]);
    REQUIRE(rec != nullptr);
    CHECK(rec->identity.email_id == both.email_id);
  }
  SUBCASE("rule 6: a copy back to the side that lost its UIDs forgets that side's old id") {
    ReconcileInput in;
    in.stored.pairs.push_back({PerSide<Uid>{{Uid(1), Uid(1)}}, {}, both});
    in.delta[Side::Local].uidvalidity_changed = true;
    Plan p = reconcile(in);
    REQUIRE(p.actions.size() == 1);
    const auto* c = std::get_if<Copy>(&p.actions[0]);
    REQUIRE(c != nullptr);
    CHECK(c->from == Side::Remote);
    CHECK(c->identity.email_id[Side::Local].empty());
    CHECK(c->identity.email_id[Side::Remote] == "ER");
  }
  SUBCASE("rule 10: a renumbered message is re-paired with its new id") {
    ReconcileInput in;
    in.stored.pairs.push_back({PerSide<Uid>{{Uid(1), Uid(1)}}, {}, both});
    in.delta[Side::Local].vanished.push_back(Uid(1));
    in.delta[Side::Local].added.push_back({Uid(9), {}, ident("<m@x>", "", "EL2")});
    Plan p = reconcile(in);
    REQUIRE(!p.actions.empty());
    const auto* rec = std::get_if<RecordPair>(&p.actions[0]);
    REQUIRE(rec != nullptr);
    CHECK(rec->identity.email_id[Side::Local] == "EL2");
    CHECK(rec->identity.email_id[Side::Remote] == "ER");
  }
}

// Issue 8: deltas are read up front only when LIST-STATUS leaves a move possible.
TEST_CASE("side_change: LIST-STATUS tells whether a side lost or gained messages") {
  state::SideState stored;
  stored.uidvalidity = UidValidity(7);
  stored.uidnext = Uid(101);
  auto entry = [](std::uint32_t uv, std::uint32_t next, std::optional<std::uint32_t> messages) {
    MailboxEntry e;
    e.uidvalidity = UidValidity(uv);
    e.uidnext = Uid(next);
    e.messages = messages;
    return e;
  };
  // 100 stored below UIDNEXT 101; 3 new UIDs and 3 more messages: nothing vanished.
  SideChange grew = side_change(stored, entry(7, 104, 103), 100);
  CHECK(grew.may_add);
  CHECK_FALSE(grew.may_vanish);
  // Flags only: same UIDNEXT, same count.
  SideChange flags = side_change(stored, entry(7, 101, 100), 100);
  CHECK_FALSE(flags.may_add);
  CHECK_FALSE(flags.may_vanish);
  // One expunged: one message fewer.
  CHECK(side_change(stored, entry(7, 101, 99), 100).may_vanish);
  // Appended 2 and expunged 1 (old or new): the count is one short of the UIDs.
  SideChange both = side_change(stored, entry(7, 103, 101), 100);
  CHECK(both.may_add);
  CHECK(both.may_vanish);
  // Unknown figures, another UIDVALIDITY, UIDNEXT going backwards: anything may have happened.
  for (const auto& e : {entry(7, 104, std::nullopt), entry(8, 104, 103), entry(7, 90, 89)}) {
    SideChange c = side_change(stored, e, 100);
    CHECK(c.may_add);
    CHECK(c.may_vanish);
  }
  CHECK(side_change(stored, std::nullopt, 100).may_vanish);
}

TEST_CASE("moves_possible: a side must lose messages in one mailbox and gain in another") {
  auto pc = [](SideChange local, SideChange remote) {
    PerSide<SideChange> p;
    p[Side::Local] = local;
    p[Side::Remote] = remote;
    return p;
  };
  const SideChange none{false, false}, lost{true, false}, gained{false, true}, any{true, true};
  // The bench's incremental workload: new mail on one side, expunges on the other.
  CHECK_FALSE(moves_possible({pc(gained, lost), pc(gained, lost), pc(gained, none)}));
  // Lost in X and gained in Y on the same side: a move may have happened.
  CHECK(moves_possible({pc(lost, none), pc(gained, none)}));
  CHECK(moves_possible({pc(none, lost), pc(none, any)}));
  // Within one mailbox it is not a move.
  CHECK_FALSE(moves_possible({pc(any, none)}));
  CHECK_FALSE(moves_possible({pc(any, none), pc(none, gained)}));
  CHECK_FALSE(moves_possible({}));
}
