// Mailbox name mapping and mailbox-list pairing (sync/mailboxes.hpp): pure functions.
#include <doctest/doctest.h>

#include <limits>

#include <algorithm>

#include <twinbox/sync/mailboxes.hpp>

using namespace twinbox;
using namespace twinbox::sync;

namespace {

const Namespace kSlash{"", '/'};
const Namespace kDot{"INBOX.", '.'};

std::vector<std::string> path(std::string_view wire, const Namespace& ns) {
  auto p = canonical_path(wire, ns);
  REQUIRE_MESSAGE(p.has_value(), (p ? std::string() : p.error().message));
  return *p;
}

MailboxEntry entry(std::string name, std::uint32_t uidvalidity = 1, std::string use = "") {
  MailboxEntry e;
  e.name = std::move(name);
  e.special_use = std::move(use);
  e.uidvalidity = UidValidity(uidvalidity);
  e.uidnext = Uid(1);
  e.highestmodseq = ModSeq(1);
  e.messages = 0;
  return e;
}

state::MailboxPair stored(state::MailboxPairId id, std::string local, std::string remote,
                          std::uint32_t uv_local = 1, std::uint32_t uv_remote = 1) {
  state::MailboxPair m;
  m.id = id;
  m.name[Side::Local] = std::move(local);
  m.name[Side::Remote] = std::move(remote);
  m.side[Side::Local].uidvalidity = UidValidity(uv_local);
  m.side[Side::Local].uidnext = Uid(1);
  m.side[Side::Remote].uidvalidity = UidValidity(uv_remote);
  m.side[Side::Remote].uidnext = Uid(1);
  return m;
}

ListInput input(std::vector<MailboxEntry> local, std::vector<MailboxEntry> remote) {
  ListInput in;
  in.entries[Side::Local] = std::move(local);
  in.entries[Side::Remote] = std::move(remote);
  in.ns[Side::Local] = kSlash;
  in.ns[Side::Remote] = kSlash;
  return in;
}

const PairToSync* find_pair(const MailboxListPlan& p, std::string_view local) {
  for (const auto& x : p.pairs) {
    if (x.name[Side::Local] == local) return &x;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("canonical_path splits on the side's delimiter and strips the namespace prefix") {
  CHECK(path("INBOX", kSlash) == std::vector<std::string>{"INBOX"});
  CHECK(path("inbox", kDot) == std::vector<std::string>{"INBOX"});
  CHECK(path("Lists/dev", kSlash) == std::vector<std::string>{"Lists", "dev"});
  CHECK(path("INBOX.Lists.dev", kDot) == std::vector<std::string>{"Lists", "dev"});
  CHECK(path("INBOX.Sent", kDot) == std::vector<std::string>{"Sent"});
  // A '.' inside a '/'-namespace component is an ordinary character.
  CHECK(path("v1.2/notes", kSlash) == std::vector<std::string>{"v1.2", "notes"});
  // Modified UTF-7 is decoded (RFC 3501 §5.1.3).
  CHECK(path("Entw&APw-rfe", kSlash) == std::vector<std::string>{"Entwürfe"});
  CHECK(path("INBOX.&AMk-t&AOk-", kDot) == std::vector<std::string>{"Été"});
  CHECK_FALSE(canonical_path("bad&-&", kSlash).has_value());
}

TEST_CASE("wire_name and map_name translate between '/' and 'INBOX.' + '.' namespaces") {
  CHECK(wire_name({"INBOX"}, kDot).value() == "INBOX");
  CHECK(wire_name({"Lists", "dev"}, kDot).value() == "INBOX.Lists.dev");
  CHECK(wire_name({"Lists", "dev"}, kSlash).value() == "Lists/dev");
  CHECK(wire_name({"Entwürfe"}, kSlash).value() == "Entw&APw-rfe");
  CHECK(map_name("Lists/dev", kSlash, kDot).value() == "INBOX.Lists.dev");
  CHECK(map_name("INBOX.Lists.dev", kDot, kSlash).value() == "Lists/dev");
  CHECK(map_name("INBOX", kDot, kSlash).value() == "INBOX");
  CHECK(map_name("Entw&APw-rfe/Alt", kSlash, kDot).value() == "INBOX.Entw&APw-rfe.Alt");
  // Round trips.
  for (std::string n : {"a/b/c", "Entw&APw-rfe", "Sent", "x y/z"}) {
    auto there = map_name(n, kSlash, kDot);
    REQUIRE(there);
    CHECK(map_name(*there, kDot, kSlash).value() == n);
  }
}

TEST_CASE("a component holding the other side's delimiter is refused with a clear error") {
  auto r = map_name("v1.2/notes", kSlash, kDot);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().scope == Scope::Mailbox);
  CHECK(r.error().message.find("v1.2") != std::string::npos);
  CHECK(r.error().message.find("exclude") != std::string::npos);
  // And in a whole plan: a problem, no create.
  ListInput in = input({entry("INBOX"), entry("v1.2")}, {entry("INBOX")});
  in.ns[Side::Remote] = kDot;
  auto plan = plan_mailboxes(in);
  CHECK(plan.creates.empty());
  REQUIRE(plan.problems.size() == 1);
  CHECK(plan.problems[0].mailbox == "v1.2");
}

TEST_CASE("pattern_match: '*' any, '%' one level") {
  CHECK(pattern_match("*", "a/b/c"));
  CHECK(pattern_match("Lists/*", "Lists/dev"));
  CHECK(pattern_match("Lists/*", "Lists/dev/old"));
  CHECK_FALSE(pattern_match("Lists/*", "Listsx"));
  CHECK(pattern_match("Lists/%", "Lists/dev"));
  CHECK_FALSE(pattern_match("Lists/%", "Lists/dev/old"));
  CHECK(pattern_match("%", "INBOX"));
  CHECK_FALSE(pattern_match("%", "a/b"));
  CHECK(pattern_match("*old", "Lists/dev/old"));
  CHECK(pattern_match("INBOX", "INBOX"));
  CHECK_FALSE(pattern_match("INBOX", "INBOX/x"));
  CHECK(pattern_match("a*b*c", "aXXbYYc"));
  CHECK_FALSE(pattern_match("a*b*c", "aXXbYY"));
}

TEST_CASE("plan_mailboxes pairs by name and creates missing mailboxes both ways") {
  auto in = input({entry("INBOX"), entry("Work"), entry("Lists/dev")},
                  {entry("INBOX"), entry("Home")});
  auto plan = plan_mailboxes(in);
  CHECK(plan.problems.empty());
  REQUIRE(plan.creates.size() == 3);
  auto has_create = [&](Side s, std::string_view n) {
    return std::any_of(plan.creates.begin(), plan.creates.end(),
                       [&](const CreateMailbox& c) { return c.side == s && c.name == n; });
  };
  CHECK(has_create(Side::Remote, "Work"));
  CHECK(has_create(Side::Remote, "Lists/dev"));
  CHECK(has_create(Side::Local, "Home"));
  CHECK(plan.pairs.size() == 4);
  const auto* inbox = find_pair(plan, "INBOX");
  REQUIRE(inbox);
  CHECK(inbox->entry[Side::Remote].has_value());
  const auto* work = find_pair(plan, "Work");
  REQUIRE(work);
  CHECK_FALSE(work->entry[Side::Remote].has_value());  // created this run
  CHECK(work->pair == 0);
}

TEST_CASE("creates across namespaces use the other side's names") {
  auto in = input({entry("INBOX"), entry("Lists/dev")}, {entry("INBOX"), entry("INBOX.Home")});
  in.ns[Side::Remote] = kDot;
  auto plan = plan_mailboxes(in);
  REQUIRE(plan.creates.size() == 2);
  for (const auto& c : plan.creates) {
    if (c.side == Side::Remote) CHECK(c.name == "INBOX.Lists.dev");
    if (c.side == Side::Local) CHECK(c.name == "Home");
  }
}

TEST_CASE("special-use mailboxes pair by role even when their names differ") {
  auto in = input({entry("INBOX"), entry("Sent", 1, "\\Sent"), entry("Trash", 1, "\\Trash")},
                  {entry("INBOX"), entry("Sent Items", 1, "\\Sent"),
                   entry("Deleted Items", 1, "\\Trash")});
  auto plan = plan_mailboxes(in);
  CHECK(plan.creates.empty());
  const auto* sent = find_pair(plan, "Sent");
  REQUIRE(sent);
  CHECK(sent->name[Side::Remote] == "Sent Items");
  CHECK(sent->special_use == "\\Sent");
  const auto* trash = find_pair(plan, "Trash");
  REQUIRE(trash);
  CHECK(trash->name[Side::Remote] == "Deleted Items");
}

TEST_CASE("virtual \\All and \\Flagged mailboxes are excluded unless named") {
  auto all = entry("All Mail", 1, "");
  all.is_virtual = true;
  auto in = input({entry("INBOX"), all}, {entry("INBOX")});
  auto plan = plan_mailboxes(in);
  CHECK(plan.creates.empty());
  CHECK_FALSE(find_pair(plan, "All Mail"));
  in.policy.include = {"*", "All Mail"};
  plan = plan_mailboxes(in);
  CHECK(plan.creates.size() == 1);
}

TEST_CASE("exclude patterns and include patterns") {
  auto in = input({entry("INBOX"), entry("Spam/x"), entry("Work")}, {entry("INBOX")});
  in.policy.exclude = {"Spam/*"};
  auto plan = plan_mailboxes(in);
  REQUIRE(plan.creates.size() == 1);
  CHECK(plan.creates[0].name == "Work");
  in.policy.exclude.clear();
  in.policy.include = {"INBOX"};
  plan = plan_mailboxes(in);
  CHECK(plan.creates.empty());
  CHECK(plan.pairs.size() == 1);
}

TEST_CASE("rename detected by MAILBOXID") {
  auto in = input({entry("INBOX"), entry("New name", 7)}, {entry("INBOX"), entry("Old name", 9)});
  in.entries[Side::Local][1].mailbox_id = "MBX-1";
  auto sp = stored(5, "Old name", "Old name", 7, 9);
  sp.side[Side::Local].mailbox_id = "MBX-1";
  in.stored = {sp};
  auto plan = plan_mailboxes(in);
  REQUIRE(plan.renames.size() == 1);
  CHECK(plan.renames[0].side == Side::Remote);
  CHECK(plan.renames[0].from == "Old name");
  CHECK(plan.renames[0].to == "New name");
  CHECK(plan.renames[0].new_other_name == "New name");
  CHECK(plan.creates.empty());
  const auto* p = find_pair(plan, "New name");
  REQUIRE(p);
  CHECK(p->pair == 5);
  CHECK(p->name[Side::Remote] == "New name");
}

TEST_CASE("rename detected by UIDVALIDITY when there is no MAILBOXID") {
  auto in = input({entry("INBOX"), entry("Projects", 3)},
                  {entry("INBOX"), entry("Projekte", 44)});
  in.stored = {stored(2, "Projects", "Projects", 3, 44)};
  auto plan = plan_mailboxes(in);
  REQUIRE(plan.renames.size() == 1);
  CHECK(plan.renames[0].side == Side::Local);
  CHECK(plan.renames[0].from == "Projects");
  CHECK(plan.renames[0].to == "Projekte");
  CHECK(plan.creates.empty());

  // Two candidates with that UIDVALIDITY: ambiguous, no rename.
  in.entries[Side::Remote].push_back(entry("Other", 44));
  plan = plan_mailboxes(in);
  CHECK(plan.renames.empty());
}

TEST_CASE("a mailbox deleted on one side is reported, not deleted, unless the policy says so") {
  auto in = input({entry("INBOX"), entry("Old", 3)}, {entry("INBOX")});
  in.stored = {stored(4, "Old", "Old", 3, 8)};
  in.entries[Side::Local][1].uidnext = Uid(1);
  in.entries[Side::Local][1].messages = 0;
  in.pair_counts = {{4, 0}};
  auto plan = plan_mailboxes(in);
  CHECK(plan.deletes.empty());
  CHECK(plan.creates.empty());
  REQUIRE(plan.problems.size() == 1);
  CHECK(plan.problems[0].message.find("delete_mailboxes") != std::string::npos);
  CHECK_FALSE(find_pair(plan, "Old"));

  in.policy.delete_mailboxes = true;
  plan = plan_mailboxes(in);
  REQUIRE(plan.deletes.size() == 1);
  CHECK(plan.deletes[0].side == Side::Local);
  CHECK(plan.deletes[0].name == "Old");
  CHECK(plan.deletes[0].pair == 4);

  // The kept side holds mail the deleted side never saw: not deleted even when allowed.
  in.entries[Side::Local][1].uidnext = Uid(3);
  in.entries[Side::Local][1].messages = 2;
  plan = plan_mailboxes(in);
  CHECK(plan.deletes.empty());
  REQUIRE(plan.problems.size() == 1);
  CHECK(plan.problems[0].message.find("has not seen") != std::string::npos);
}

TEST_CASE("stored pairs are counted only for a mailbox gone on one side, through count_pairs") {
  auto in = input({entry("INBOX"), entry("Old", 3), entry("Kept", 5)}, {entry("INBOX"), entry("Kept", 5)});
  in.stored = {stored(4, "Old", "Old", 3, 8), stored(5, "Kept", "Kept", 5, 9)};
  in.stored[0].side[Side::Local].uidnext = Uid(3);
  in.entries[Side::Local][1].uidnext = Uid(3);
  in.entries[Side::Local][1].messages = 2;
  in.policy.delete_mailboxes = true;
  std::vector<state::MailboxPairId> asked;
  std::size_t count = 2;
  in.count_pairs = [&](state::MailboxPairId id) {
    asked.push_back(id);
    return count;
  };
  auto plan = plan_mailboxes(in);
  CHECK(asked == std::vector<state::MailboxPairId>{4});  // never for "Kept"
  REQUIRE(plan.deletes.size() == 1);
  CHECK(plan.deletes[0].pair == 4);
  // An unknown count (the engine's answer to a state error) never lets it be deleted.
  count = std::numeric_limits<std::size_t>::max();
  plan = plan_mailboxes(in);
  CHECK(plan.deletes.empty());
}

TEST_CASE("a stored pair gone on both sides is forgotten") {
  auto in = input({entry("INBOX")}, {entry("INBOX")});
  in.stored = {stored(9, "Gone", "Gone")};
  auto plan = plan_mailboxes(in);
  CHECK(plan.forget == std::vector<state::MailboxPairId>{9});
  CHECK(plan.creates.empty());
}

TEST_CASE("stored pairs keep their names; non-selectable mailboxes are not synced") {
  auto in = input({entry("INBOX"), entry("Sent", 1, "\\Sent")},
                  {entry("INBOX"), entry("Gesendet", 1, "\\Sent")});
  in.stored = {stored(1, "Sent", "Gesendet")};
  auto parent = entry("Lists");
  parent.selectable = false;
  in.entries[Side::Local].push_back(parent);
  auto plan = plan_mailboxes(in);
  const auto* sent = find_pair(plan, "Sent");
  REQUIRE(sent);
  CHECK(sent->pair == 1);
  CHECK(std::none_of(plan.creates.begin(), plan.creates.end(),
                     [](const CreateMailbox& c) { return c.name == "Lists"; }));
}

TEST_CASE("plan_mailboxes is deterministic") {
  auto in = input({entry("INBOX"), entry("b"), entry("a")}, {entry("INBOX"), entry("c")});
  auto p1 = plan_mailboxes(in);
  auto p2 = plan_mailboxes(in);
  CHECK(p1.creates == p2.creates);
  CHECK(p1.pairs == p2.pairs);
}

TEST_CASE("merge_subscription: three-way like a flag; without a base subscribed wins") {
  struct Row {
    std::optional<bool> base;
    bool local, remote, expect;
  };
  // clang-format off
  const Row rows[] = {
    {false, false, false, false},  // unchanged
    {true,  true,  true,  true},   // unchanged
    {false, true,  false, true},   // subscribed on the local side
    {false, false, true,  true},   // subscribed on the remote side
    {true,  false, true,  false},  // unsubscribed on the local side
    {true,  true,  false, false},  // unsubscribed on the remote side
    {false, true,  true,  true},   // both subscribed: the same change
    {true,  false, false, false},  // both unsubscribed: the same change
    {std::nullopt, true,  false, true},   // no base, conflict: subscribed wins
    {std::nullopt, false, true,  true},
    {std::nullopt, false, false, false},
    {std::nullopt, true,  true,  true},
  };
  // clang-format on
  for (const Row& r : rows) {
    CAPTURE(r.base.has_value());
    CAPTURE(r.base.value_or(false));
    CAPTURE(r.local);
    CAPTURE(r.remote);
    CHECK(merge_subscription(r.base, r.local, r.remote) == r.expect);
    CHECK(merge_subscription(r.base, r.remote, r.local) == r.expect);  // symmetric
  }
}

namespace {

MailboxEntry sub(MailboxEntry e, bool subscribed = true) {
  e.subscribed = subscribed;
  return e;
}

}  // namespace

TEST_CASE("plan_mailboxes: a subscription change on one side goes to the other") {
  auto in = input({sub(entry("INBOX")), sub(entry("News")), sub(entry("Old"), false)},
                  {sub(entry("INBOX")), sub(entry("News"), false), sub(entry("Old"), false)});
  in.stored.push_back(stored(1, "INBOX", "INBOX"));
  in.stored.push_back(stored(2, "News", "News"));
  in.stored.push_back(stored(3, "Old", "Old"));
  in.stored[0].subscribed = true;   // INBOX: unchanged, subscribed on both
  in.stored[1].subscribed = false;  // News: subscribed on the local side since
  in.stored[2].subscribed = true;   // Old: unsubscribed on both sides since
  auto plan = plan_mailboxes(in);
  const PairToSync* inbox = find_pair(plan, "INBOX");
  const PairToSync* news = find_pair(plan, "News");
  const PairToSync* old = find_pair(plan, "Old");
  REQUIRE((inbox && news && old));
  CHECK(inbox->subscriptions.empty());
  CHECK_FALSE(inbox->subscription_base_changed);
  CHECK(news->subscribed);
  CHECK(news->subscriptions == std::vector<SubscriptionChange>{{Side::Remote, "News", true}});
  CHECK(news->subscription_base_changed);
  CHECK_FALSE(old->subscribed);
  CHECK(old->subscriptions.empty());
  CHECK(old->subscription_base_changed);  // both sides agree on a new value: record it

  // Unsubscribed on the remote side: UNSUBSCRIBE on the local side.
  auto in2 = input({sub(entry("News"))}, {sub(entry("News"), false)});
  in2.stored.push_back(stored(2, "News", "News"));
  in2.stored[0].subscribed = true;
  auto plan2 = plan_mailboxes(in2);
  REQUIRE(plan2.pairs.size() == 1);
  CHECK_FALSE(plan2.pairs[0].subscribed);
  CHECK(plan2.pairs[0].subscriptions ==
        std::vector<SubscriptionChange>{{Side::Local, "News", false}});
}

TEST_CASE("plan_mailboxes: new pairs take their source's subscription; conflicts subscribe") {
  auto in = input({sub(entry("Created")), sub(entry("Quiet"), false), sub(entry("Both"))},
                  {sub(entry("Both"), false)});
  in.ns[Side::Remote] = kDot;
  in.entries[Side::Remote][0].name = "INBOX.Both";
  auto plan = plan_mailboxes(in);
  const PairToSync* created = find_pair(plan, "Created");
  const PairToSync* quiet = find_pair(plan, "Quiet");
  const PairToSync* both = find_pair(plan, "Both");
  REQUIRE((created && quiet && both));
  // Created on the remote side (a '.' namespace) and subscribed there like its source.
  CHECK(created->subscribed);
  CHECK(created->subscriptions ==
        std::vector<SubscriptionChange>{{Side::Remote, "INBOX.Created", true}});
  CHECK_FALSE(quiet->subscribed);
  CHECK(quiet->subscriptions.empty());
  // Existing on both sides with no stored pair: no base, the sides differ, subscribed wins.
  CHECK(both->subscribed);
  CHECK(both->subscriptions == std::vector<SubscriptionChange>{{Side::Remote, "INBOX.Both", true}});
}

TEST_CASE("plan_mailboxes: a rename re-applies the subscription to the new name") {
  auto in = input({sub(entry("Projects", 5))}, {sub(entry("Work", 9))});
  auto sp = stored(1, "Projects", "Projects", 5, 9);
  sp.subscribed = true;
  in.stored.push_back(sp);
  auto plan = plan_mailboxes(in);
  REQUIRE(plan.renames.size() == 1);
  REQUIRE(plan.pairs.size() == 1);
  CHECK(plan.pairs[0].subscribed);
  CHECK(plan.pairs[0].subscriptions ==
        std::vector<SubscriptionChange>{{Side::Local, "Work", true}});
}
