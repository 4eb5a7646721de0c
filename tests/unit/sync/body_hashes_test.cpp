// SHA-256 test vectors, the choice of look-alike messages to hash (body_hashes.hpp) and the
// reconciler's pairing of hashed look-alike groups (reconcile.hpp rules 5 and 10).

#include <doctest/doctest.h>

#include <string>
#include <variant>

#include "../../../src/sync/body_hashes.hpp"
#include "../../../src/sync/sha256.hpp"

using namespace twinbox;
using namespace twinbox::sync;

namespace {

std::string sha(std::string_view s, std::size_t piece = 1000) {
  Sha256 h;
  for (std::size_t i = 0; i < s.size(); i += piece) h.update(s.substr(i, piece));
  return h.hex();
}

MessageIdentity alike(std::string hash = "") {
  return MessageIdentity{"<twin@x>", 100, 1700000000, std::move(hash), {}};
}

NewMessage fresh(std::uint32_t uid, std::string hash = "") {
  return NewMessage{Uid{uid}, {}, alike(std::move(hash))};
}

StoredPair pair(std::uint32_t l, std::uint32_t r) {
  return StoredPair{{{Uid{l}, Uid{r}}}, {}, alike()};
}

std::size_t count_of(const Plan& plan, auto pred) {
  std::size_t n = 0;
  for (const Action& a : plan.actions) n += std::visit(pred, a) ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("SHA-256 matches the FIPS 180-4 vectors, for any split of the input") {
  CHECK(sha("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  for (std::size_t piece : {1u, 3u, 55u, 56u, 64u, 1000u}) {
    CHECK(sha(two_blocks, piece) ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  }
  CHECK(sha(std::string(1000000, 'a'), 4096) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("ambiguous_uids: nothing when no group has several candidates") {
  StoredMailbox stored{{pair(1, 1)}};
  PerSide<Delta> d;
  d[Side::Local].added = {fresh(5), fresh(6)};  // look-alikes on one side only: plain copies
  auto want = ambiguous_uids(stored, d);
  CHECK(want[Side::Local].empty());
  CHECK(want[Side::Remote].empty());
  d[Side::Remote].added = {fresh(7)};  // one on the other side: now ambiguous
  want = ambiguous_uids(stored, d);
  CHECK(want[Side::Local] == std::vector<Uid>{Uid{5}, Uid{6}});
  CHECK(want[Side::Remote] == std::vector<Uid>{Uid{7}});
}

TEST_CASE("ambiguous_uids: renumbered pairs are hashed through their live twins") {
  StoredMailbox stored{{pair(1, 11), pair(2, 12), pair(3, 13)}};
  PerSide<Delta> d;
  d[Side::Remote].vanished = {Uid{11}, Uid{12}};
  d[Side::Remote].added = {fresh(20), fresh(21)};
  auto want = ambiguous_uids(stored, d);
  CHECK(want[Side::Local] == std::vector<Uid>{Uid{1}, Uid{2}});
  CHECK(want[Side::Remote] == std::vector<Uid>{Uid{20}, Uid{21}});
  BodyHashes h;
  h[Side::Local] = {{1, "h1"}, {2, "h2"}};
  h[Side::Remote] = {{20, "h2"}, {21, "h1"}};
  apply_hashes(stored, d, h);
  CHECK(stored.pairs[0].identity.sha256 == "h1");
  CHECK(stored.pairs[2].identity.sha256.empty());
  CHECK(d[Side::Remote].added[0].identity.sha256 == "h2");
  // Rule 10 pairs by hash: pair (1,11) with 21, pair (2,12) with 20; nothing expunged.
  const Plan plan = reconcile(ReconcileInput{stored, d, {}, {}});
  CHECK(count_of(plan, [](const auto& a) { return std::is_same_v<std::decay_t<decltype(a)>, Expunge>; }) == 0);
  CHECK(count_of(plan, [](const auto& a) { return std::is_same_v<std::decay_t<decltype(a)>, Copy>; }) == 0);
  bool found = false;
  for (const Action& a : plan.actions) {
    if (const auto* rp = std::get_if<RecordPair>(&a); rp && rp->uid[Side::Local] == Uid{1}) {
      found = rp->uid[Side::Remote] == Uid{21};
    }
  }
  CHECK(found);
}

TEST_CASE("First sync: hashed look-alike groups pair by hash, whatever the counts and order") {
  PerSide<Delta> d;
  d[Side::Local].added = {fresh(1, "a"), fresh(2, "b"), fresh(3, "c")};
  d[Side::Remote].added = {fresh(1, "d"), fresh(2, "b"), fresh(3, "a")};
  Plan plan = reconcile(ReconcileInput{{}, d, {}, {}});
  CHECK(count_of(plan, [](const auto& a) { return std::is_same_v<std::decay_t<decltype(a)>, RecordPair>; }) == 2);
  CHECK(count_of(plan, [](const auto& a) { return std::is_same_v<std::decay_t<decltype(a)>, Copy>; }) == 2);
  // A hash twice on one side: either could be the twin, so both are copied (never mis-paired).
  d[Side::Local].added = {fresh(1, "a"), fresh(2, "a")};
  d[Side::Remote].added = {fresh(1, "a")};
  plan = reconcile(ReconcileInput{{}, d, {}, {}});
  CHECK(count_of(plan, [](const auto& a) { return std::is_same_v<std::decay_t<decltype(a)>, RecordPair>; }) == 0);
  CHECK(count_of(plan, [](const auto& a) { return std::is_same_v<std::decay_t<decltype(a)>, Copy>; }) == 3);
}
