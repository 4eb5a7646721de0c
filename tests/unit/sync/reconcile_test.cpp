// Table-driven reconciler tests in isync's spirit: one row per message state combination.
// Every row is also checked mirrored (swap the sides -> the mirrored plan) and for idempotence
// (apply the plan to the model, read fresh deltas, reconcile again -> empty plan, both sides
// equal).

#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <string_view>

#include "sync_model.hpp"

using namespace twinbox;
using namespace twinbox::sync;
using namespace twinbox::sync::test;

namespace {

// Flag letters: A \Answered, D \Deleted, T \Draft, F \Flagged, S \Seen, R \Recent, k $Junk.
Flags letters(std::string_view s) {
  std::vector<std::string> v;
  for (char c : s) {
    switch (c) {
      case 'A': v.emplace_back("\\Answered"); break;
      case 'D': v.emplace_back("\\Deleted"); break;
      case 'T': v.emplace_back("\\Draft"); break;
      case 'F': v.emplace_back("\\Flagged"); break;
      case 'S': v.emplace_back("\\Seen"); break;
      case 'R': v.emplace_back("\\Recent"); break;
      case 'k': v.emplace_back("$Junk"); break;
      default: FAIL("unknown flag letter " << c);
    }
  }
  return normalize_flags(std::move(v));
}

std::string to_letters(const Flags& f) {
  std::string out;
  for (const auto& x : f) {
    if (x == "\\Answered") out += 'A';
    else if (x == "\\Deleted") out += 'D';
    else if (x == "\\Draft") out += 'T';
    else if (x == "\\Flagged") out += 'F';
    else if (x == "\\Seen") out += 'S';
    else if (x == "$Junk") out += 'k';
    else out += "?" + x;
  }
  return out;
}

std::string delta_letters(const FlagDelta& d) {
  std::string out;
  if (!d.add.empty()) out += " +" + to_letters(d.add);
  if (!d.remove.empty()) out += " -" + to_letters(d.remove);
  return out;
}

/// Compact, UID-free rendering of a plan for the tables.
std::string brief(const Plan& plan) {
  std::ostringstream os;
  bool first = true;
  for (const Action& a : plan.actions) {
    if (!first) os << "; ";
    first = false;
    if (const auto* c = std::get_if<Copy>(&a)) {
      os << "copy from " << c->from << " [" << to_letters(c->flags) << "]";
    } else if (const auto* r = std::get_if<RecordPair>(&a)) {
      os << "pair [" << to_letters(r->base) << "]";
    } else if (const auto* s = std::get_if<StoreFlags>(&a)) {
      os << "store " << s->side << delta_letters(s->change);
    } else if (const auto* u = std::get_if<UpdateBase>(&a)) {
      os << "base [" << to_letters(u->base) << "]";
    } else if (const auto* e = std::get_if<Expunge>(&a)) {
      os << (e->mark_only ? "mark " : "expunge ") << e->side;
    } else if (std::holds_alternative<ForgetPair>(a)) {
      os << "forget";
    } else if (const auto* m = std::get_if<Move>(&a)) {
      os << "move " << m->side << " [" << to_letters(m->base) << "]"
         << delta_letters(m->store[Side::Local]) << " /" << delta_letters(m->store[Side::Remote]);
    } else if (std::holds_alternative<SkipMailbox>(a)) {
      os << "skip";
    }
  }
  return os.str();
}

struct Row {
  const char* name;
  const char* base;    // flags of the stored pair, or "none" for no pair
  const char* local;   // what happened on the local side (see apply_op)
  const char* remote;  // … and on the remote side
  const char* expect;  // brief(plan)
  bool distinct = false;       // new messages on both sides have different content
  bool no_mid = false;         // messages have no Message-ID (and no hash)
  bool no_uidplus = false;     // neither side has UIDPLUS
  bool no_deleted_sync = false;
};

MessageIdentity base_identity(bool no_mid) {
  return {no_mid ? "" : "<base@example.org>", 1000, 1700000000, "", {}};
}
MessageIdentity new_identity(Side s, const Row& row) {
  std::string mid = row.no_mid ? "" : "<new@example.org>";
  if (row.distinct && s == Side::Remote) mid = "<other@example.org>";
  return {mid, 2000, 1700000100, "", {}};
}

/// Side operations: "=" nothing, "none" no message, "x" expunge, "+F-S" flag edits,
/// "new:SF" a new message, "uv:SF" UIDVALIDITY change with the message now having flags SF,
/// "uv:" UIDVALIDITY change and the message is gone, "rn:SF" the message renumbered without a
/// UIDVALIDITY change (expunged and back under a new UID, same content) with flags SF.
void apply_op(SideBox& sb, Side s, std::string_view op, const Row& row) {
  if (op == "=" || op == "none") return;
  if (op == "x") {
    sb.msgs.erase(1);
  } else if (op.substr(0, 4) == "new:") {
    sb.append({letters(op.substr(4)), new_identity(s, row)});
  } else if (op.substr(0, 3) == "rn:") {
    sb.msgs.erase(1);
    sb.append({letters(op.substr(3)), base_identity(row.no_mid)});
  } else if (op.substr(0, 3) == "uv:") {
    sb.msgs.clear();
    if (op.size() > 3) sb.msgs[1] = {letters(op.substr(3)), base_identity(row.no_mid)};
    sb.uidnext = 2;
    sb.reset_uidvalidity();
  } else {
    Flags& f = sb.msgs.at(1).flags;
    for (std::size_t i = 0; i + 1 < op.size(); i += 2) {
      Flags one = letters(op.substr(i + 1, 1));
      f = op[i] == '+' ? flags_union(f, one) : flags_difference(f, one);
    }
  }
}

World world_of(const Row& row) {
  World w;
  Box& b = w.boxes[1];
  if (std::string_view(row.base) != "none") {
    Flags base = letters(row.base);
    for (Side s : kBothSides) {
      b.side[s].append({base, base_identity(row.no_mid)});
      b.side[s].stored_uidnext = b.side[s].uidnext;
    }
    b.pairs.push_back({PerSide<Uid>{{Uid(1), Uid(1)}}, base, base_identity(row.no_mid)});
  }
  apply_op(b.side[Side::Local], Side::Local, row.local, row);
  apply_op(b.side[Side::Remote], Side::Remote, row.remote, row);
  for (Side s : kBothSides) {
    w.caps[s].uidplus = !row.no_uidplus;
    w.caps[s].condstore = false;
  }
  w.policy.sync_deleted_flag = !row.no_deleted_sync;
  return w;
}

// clang-format off
const Row kRows[] = {
  // base present: {unchanged, flags, expunged} x {unchanged, flags, expunged}
  {"unchanged both",                "S",  "=",     "=",     ""},
  {"unchanged, no flags",           "",   "=",     "=",     ""},
  {"remote adds a flag",            "S",  "=",     "+F",    "store local +F; base [FS]"},
  {"remote removes a flag",         "S",  "=",     "-S",    "store local -S; base []"},
  {"both add the same flag",        "S",  "+F",    "+F",    "base [FS]"},
  {"both add different flags",      "S",  "+F",    "+A",    "store local +A; store remote +F; base [AFS]"},
  {"add here, remove there",        "S",  "+F",    "-S",    "store local -S; store remote +F; base [F]"},
  {"both remove different flags",   "FS", "-S",    "-F",    "store local -F; store remote -S; base []"},
  {"both remove the same flag",     "FS", "-S",    "-S",    "base [F]"},
  {"remove and swap",               "S",  "-S",    "-S+F",  "store local +F; base [F]"},
  {"keyword removed",               "kS", "-k",    "=",     "store remote -k; base [S]"},
  {"keyword added from nothing",    "",   "+k",    "=",     "store remote +k; base [k]"},
  {"\\Recent is never synced",      "S",  "+R",    "=",     ""},
  {"\\Deleted flag is synced",      "S",  "+D",    "=",     "store remote +D; base [DS]"},
  {"\\Deleted flag not synced",     "S",  "+D",    "=",     "", false, false, false, true},
  {"expunged remote",               "S",  "=",     "x",     "expunge local"},
  {"expunge beats flag change",     "S",  "+F",    "x",     "expunge local"},
  {"expunge beats flag removal",    "FS", "x",     "-F",    "expunge remote"},
  {"expunged on both sides",        "S",  "x",     "x",     "forget"},
  {"expunge without UIDPLUS marks", "S",  "=",     "x",     "mark local", false, false, true},
  // no stored pair: {new} x {absent, new}
  {"new local",                     "none", "new:S",  "none",   "copy from local [S]"},
  {"new remote, no flags",          "none", "none",   "new:",   "copy from remote []"},
  {"new local strips \\Recent",     "none", "new:RS", "none",   "copy from local [S]"},
  {"new both, same content",        "none", "new:S",  "new:F",  "pair [FS]; store local +F; store remote +S"},
  {"new both, same content+flags",  "none", "new:S",  "new:S",  "pair [S]"},
  {"new both, different content",   "none", "new:S",  "new:F",  "copy from local [S]; copy from remote [F]", true},
  {"new both, no Message-ID",       "none", "new:S",  "new:S",  "copy from local [S]; copy from remote [S]", false, true},
  {"new with \\Deleted not synced", "none", "new:DS", "none",   "copy from local [S]", false, false, false, true},
  // base present plus a new message on the other side
  {"unchanged + new remote",        "S",  "=",     "new:F", "copy from remote [F]"},
  {"flags + new remote",            "S",  "+A",    "new:",  "copy from remote []; store remote +A; base [AS]"},
  {"expunged + new remote",         "S",  "x",     "new:",  "copy from remote []; expunge remote"},
  // UIDVALIDITY changes: re-pair by content, never delete on the other side
  {"uidvalidity: same flags",       "S",  "uv:S",  "=",     "pair [S]"},
  {"uidvalidity: flags differ",     "S",  "uv:F",  "=",     "pair [FS]; store local +S; store remote +F"},
  {"uidvalidity + flag change",     "S",  "uv:S",  "+F",    "pair [FS]; store local +F"},
  {"uidvalidity: message lost",     "S",  "uv:",   "=",     "copy from remote [S]"},
  {"uidvalidity: lost + expunged",  "S",  "uv:",   "x",     "forget"},
  {"uidvalidity + expunge there",   "S",  "uv:S",  "x",     "copy from local [S]; forget"},
  {"uidvalidity on both sides",     "S",  "uv:S",  "uv:F",  "pair [FS]; store local +F; store remote +S"},
  {"uidvalidity, no Message-ID",    "S",  "uv:S",  "=",     "copy from local [S]; copy from remote [S]", false, true},
  // UIDs renumbered, UIDVALIDITY unchanged (rule 10): re-pair by content, never expunge
  {"renumbered: same flags",        "S",  "rn:S",  "=",     "pair [S]"},
  {"renumbered: flags differ",      "S",  "rn:F",  "=",     "pair [FS]; store local +S; store remote +F"},
  {"renumbered + flag added there", "S",  "rn:S",  "+F",    "pair [FS]; store local +F"},
  {"renumbered, flag lost: kept",   "FS", "rn:S",  "=",     "pair [FS]; store local +F"},
  {"renumbered + expunged there",   "S",  "rn:S",  "x",     "copy from local [S]; forget"},
  {"renumbered on both sides",      "S",  "rn:S",  "rn:F",  "pair [FS]; store local +F; store remote +S; forget"},
  {"renumbered, no Message-ID",     "S",  "rn:S",  "=",     "copy from local [S]; expunge remote", false, true},
};
// clang-format on

Plan plan_of(const World& w) { return reconcile(input_of(w, 1)); }

}  // namespace

TEST_CASE("reconcile: one message, every state combination, mirrored and idempotent") {
  for (const Row& row : kRows) {
    CAPTURE(row.name);
    World w = world_of(row);
    const ReconcileInput in = input_of(w, 1);
    const Plan plan = reconcile(in);
    INFO("plan:\n" << plan);
    CHECK(brief(plan) == row.expect);

    // Mirror: the same world with the sides swapped gives the mirrored plan.
    const Plan swapped = plan_of(w.swapped());
    CHECK(swapped == mirror(plan));

    // Idempotence: apply, re-read, reconcile again -> nothing left to do; both sides agree.
    apply(w.boxes.at(1), in, plan);
    const Plan again = plan_of(w);
    INFO("second plan:\n" << again);
    CHECK(again.empty());
    if (!row.no_uidplus) {
      const Box& b = w.boxes.at(1);
      CHECK(contents(b, Side::Local, row.no_deleted_sync) ==
            contents(b, Side::Remote, row.no_deleted_sync));
    }
  }
}

TEST_CASE("reconcile: several messages at once, converging in one pass") {
  World w;
  Box& b = w.boxes[1];
  for (Side s : kBothSides) w.caps[s].uidplus = true;
  for (std::uint32_t i = 1; i <= 6; ++i) {
    MessageIdentity id{"<m" + std::to_string(i) + "@x>", 100 + i, 1000 + i, "", {}};
    for (Side s : kBothSides) b.side[s].append({letters("S"), id});
    b.pairs.push_back({PerSide<Uid>{{Uid(i), Uid(i)}}, letters("S"), id});
  }
  for (Side s : kBothSides) b.side[s].stored_uidnext = b.side[s].uidnext;
  b.side[Side::Local].msgs.erase(2);
  b.side[Side::Remote].msgs.erase(3);
  b.side[Side::Local].msgs.at(4).flags = letters("FS");
  b.side[Side::Remote].msgs.at(5).flags = letters("");
  b.side[Side::Local].append({letters("A"), {"<n1@x>", 5, 5, "", {}}});
  b.side[Side::Remote].append({letters(""), {"<n2@x>", 6, 6, "", {}}});

  auto plans = sync_pass(w);
  REQUIRE(plans.count(1) == 1);
  CHECK(brief(plans[1]) ==
        "copy from local [A]; copy from remote []; store local -S; store remote +F; "
        "base [FS]; base []; expunge local; expunge remote");
  CHECK(sync_pass(w).empty());
  CHECK(contents(b, Side::Local, false) == contents(b, Side::Remote, false));
}

TEST_CASE("reconcile: a whole mailbox renumbered is re-paired, expunges nothing, no guard") {
  World w;
  Box& b = w.boxes[1];
  for (Side s : kBothSides) w.caps[s].uidplus = true;
  constexpr std::uint32_t kCount = 12;  // above the deletion guard's minimum
  for (std::uint32_t i = 1; i <= kCount; ++i) {
    MessageIdentity id{"<r" + std::to_string(i) + "@x>", 100 + i, 1000 + i, "", {}};
    for (Side s : kBothSides) b.side[s].append({letters(i % 2 ? "S" : ""), id});
    b.pairs.push_back({PerSide<Uid>{{Uid(i), Uid(i)}}, letters(i % 2 ? "S" : ""), id});
  }
  for (Side s : kBothSides) b.side[s].stored_uidnext = b.side[s].uidnext;
  // The remote renumbers everything: same content and flags under UIDs 13..24.
  SideBox& r = b.side[Side::Remote];
  std::vector<Msg> keep;
  for (auto& [uid, m] : r.msgs) keep.push_back(m);
  r.msgs.clear();
  for (auto& m : keep) r.append(m);
  // And one flag change on the local side meanwhile.
  b.side[Side::Local].msgs.at(2).flags = letters("F");

  const ReconcileInput in = input_of(w, 1);
  const Plan plan = reconcile(in);
  INFO(plan);
  std::size_t records = 0;
  for (const Action& a : plan.actions) {
    CHECK_FALSE(std::holds_alternative<Expunge>(a));
    CHECK_FALSE(std::holds_alternative<Copy>(a));
    CHECK_FALSE(std::holds_alternative<SkipMailbox>(a));
    records += std::holds_alternative<RecordPair>(a) ? 1 : 0;
  }
  CHECK(records == kCount);
  CHECK(plan_of(w.swapped()) == mirror(plan));
  apply(b, in, plan);
  CHECK(plan_of(w).empty());
  CHECK(contents(b, Side::Local, false) == contents(b, Side::Remote, false));
  CHECK(b.side[Side::Remote].msgs.at(14).flags == letters("F"));
}

TEST_CASE("reconcile: renumbered duplicates pair only by hash, else expunge + copy") {
  // Two messages with the same Message-ID, size and date, renumbered on the local side.
  auto make = [](bool hashed) {
    World w;
    Box& b = w.boxes[1];
    for (Side s : kBothSides) w.caps[s].uidplus = true;
    const char* hashes[] = {"aa", "bb"};
    for (std::uint32_t i = 1; i <= 2; ++i) {
      MessageIdentity id{"<dup@x>", 500, 1000, hashed ? hashes[i - 1] : "", {}};
      Flags f = letters(i == 1 ? "S" : "F");
      for (Side s : kBothSides) b.side[s].append({f, id});
      b.pairs.push_back({PerSide<Uid>{{Uid(i), Uid(i)}}, f, id});
    }
    for (Side s : kBothSides) b.side[s].stored_uidnext = b.side[s].uidnext;
    SideBox& l = b.side[Side::Local];
    Msg first = l.msgs.at(1);
    Msg second = l.msgs.at(2);
    l.msgs.clear();
    l.append(second);  // back in the other order: UID order alone would mis-pair them
    l.append(first);
    return w;
  };
  SUBCASE("without hashes: no pairing by UID order") {
    World w = make(false);
    const Plan plan = plan_of(w);
    CHECK(brief(plan) == "copy from local [F]; copy from local [S]; expunge remote; expunge remote");
    CHECK(sync_pass(w).size() == 1);
    CHECK(sync_pass(w).empty());
    CHECK(contents(w.boxes.at(1), Side::Local, false) ==
          contents(w.boxes.at(1), Side::Remote, false));
  }
  SUBCASE("with hashes: each pairs with its own twin") {
    World w = make(true);
    const ReconcileInput in = input_of(w, 1);
    const Plan plan = reconcile(in);
    CHECK(brief(plan) == "pair [F]; pair [S]");
    for (const Action& a : plan.actions) {
      const auto& r = std::get<RecordPair>(a);
      CHECK(r.uid[Side::Local] == Uid(r.uid[Side::Remote].value == 1 ? 4 : 3));
    }
    apply(w.boxes.at(1), in, plan);
    CHECK(plan_of(w).empty());
  }
}

TEST_CASE("reconcile: the deletion guard stops a mass expunge unless allowed") {
  auto make = [](std::uint32_t pairs, std::uint32_t expunged) {
    World w;
    Box& b = w.boxes[1];
    for (Side s : kBothSides) w.caps[s].uidplus = true;
    for (std::uint32_t i = 1; i <= pairs; ++i) {
      MessageIdentity id{"<m" + std::to_string(i) + "@x>", i, i, "", {}};
      for (Side s : kBothSides) b.side[s].append({{}, id});
      b.pairs.push_back({PerSide<Uid>{{Uid(i), Uid(i)}}, {}, id});
    }
    for (Side s : kBothSides) b.side[s].stored_uidnext = b.side[s].uidnext;
    for (std::uint32_t i = 1; i <= expunged; ++i) b.side[Side::Remote].msgs.erase(i);
    return w;
  };
  auto count_expunges = [](const Plan& p) {
    return std::count_if(p.actions.begin(), p.actions.end(),
                         [](const Action& a) { return std::holds_alternative<Expunge>(a); });
  };

  SUBCASE("15 of 20 is refused, naming the way out") {
    World w = make(20, 15);
    Plan p = plan_of(w);
    REQUIRE(p.actions.size() == 1);
    const auto* skip = std::get_if<SkipMailbox>(&p.actions[0]);
    REQUIRE(skip != nullptr);
    CHECK(skip->reason.find("--allow-mass-delete") != std::string::npos);
    CHECK(skip->reason.find("15 of 20") != std::string::npos);
    CHECK(skips_mailbox(plan_of(w.swapped())));  // the reason names the sides, so no ==
    w.policy.allow_mass_delete = true;
    CHECK(count_expunges(plan_of(w)) == 15);
  }
  SUBCASE("9 of 10 is below the minimum count") { CHECK(count_expunges(plan_of(make(10, 9))) == 9); }
  SUBCASE("10 of 20 is not more than half") { CHECK(count_expunges(plan_of(make(20, 10))) == 10); }
  SUBCASE("11 of 20 is") { CHECK(skips_mailbox(plan_of(make(20, 11)))); }
}

TEST_CASE("reconcile: CONDSTORE sides get UNCHANGEDSINCE from the snapshot") {
  World w;
  Box& b = w.boxes[1];
  MessageIdentity id{"<m@x>", 1, 1, "", {}};
  for (Side s : kBothSides) {
    b.side[s].append({letters("S"), id});
    b.side[s].stored_uidnext = 2;
  }
  b.pairs.push_back({PerSide<Uid>{{Uid(1), Uid(1)}}, letters("S"), id});
  b.side[Side::Local].msgs.at(1).flags = letters("FS");
  w.caps[Side::Remote].condstore = true;
  ReconcileInput in = input_of(w, 1);
  in.delta[Side::Remote].snapshot.highestmodseq = ModSeq(std::uint64_t{1} << 63);
  Plan p = reconcile(in);
  REQUIRE(p.actions.size() == 2);
  const auto* st = std::get_if<StoreFlags>(&p.actions[0]);
  REQUIRE(st != nullptr);
  CHECK(st->unchanged_since == ModSeq(std::uint64_t{1} << 63));
  CHECK(to_string(p.actions[0]) ==
        "store remote:1 +\\Flagged (unchangedsince 9223372036854775808)");
}

TEST_CASE("reconcile: reports for unknown UIDs are ignored, paired 'new' UIDs are flag reports") {
  ReconcileInput in;
  MessageIdentity id{"<m@x>", 1, 1, "", {}};
  in.stored.pairs.push_back({PerSide<Uid>{{Uid(5), Uid(7)}}, letters("S"), id});
  in.delta[Side::Local].vanished = {Uid(99)};
  in.delta[Side::Local].changed = {{Uid(98), letters("F"), ModSeq{}}};
  in.delta[Side::Remote].added = {{Uid(7), letters("FS"), id}};
  Plan p = reconcile(in);
  CHECK(brief(p) == "store local +F; base [FS]");
}

namespace {

World two_mailboxes() {
  World w;
  for (Side s : kBothSides) w.caps[s].uidplus = true;
  MessageIdentity id{"<moved@x>", 42, 4242, "", {}};
  Box& x = w.boxes[10];
  for (Side s : kBothSides) {
    x.side[s].append({letters("S"), id});
    x.side[s].stored_uidnext = 2;
  }
  x.pairs.push_back({PerSide<Uid>{{Uid(1), Uid(1)}}, letters("S"), id});
  w.boxes[20];  // empty mailbox Y
  return w;
}

void move_local(World& w, Flags flags) {
  Msg m = w.boxes.at(10).side[Side::Local].msgs.at(1);
  w.boxes.at(10).side[Side::Local].msgs.erase(1);
  m.flags = std::move(flags);
  w.boxes.at(20).side[Side::Local].append(m);
}

}  // namespace

TEST_CASE("match_moves: a move on one side becomes a move on the other, mirrored, idempotent") {
  struct MoveRow {
    const char* name;
    const char* moved_flags;   // flags of the moved message on local
    const char* remote_op;     // what remote did to the original in X
    const char* expect;        // brief() of the moves
  };
  const MoveRow rows[] = {
      {"plain move", "S", "=", "move remote [S] /"},
      {"move with a flag change", "FS", "=", "move remote [FS] / +F"},
      {"move while remote changed flags", "S", "+A", "move remote [AS] +A /"},
  };
  for (const MoveRow& row : rows) {
    CAPTURE(row.name);
    World w = two_mailboxes();
    move_local(w, letters(row.moved_flags));
    if (std::string_view(row.remote_op) == "+A") {
      w.boxes.at(10).side[Side::Remote].msgs.at(1).flags = letters("AS");
    }
    World mirrored = w.swapped();
    auto plans = sync_pass(w);
    REQUIRE(plans.count(-1) == 1);
    CHECK(brief(plans[-1]) == row.expect);
    // X and Y need nothing else: no expunge, no copy.
    CHECK(plans.size() == 1);
    auto mplans = sync_pass(mirrored);
    CHECK(mplans[-1] == mirror(plans[-1]));
    CHECK(sync_pass(w).empty());
    for (MailboxKey k : {10, 20}) {
      CHECK(contents(w.boxes.at(k), Side::Local, false) ==
            contents(w.boxes.at(k), Side::Remote, false));
    }
  }
}

TEST_CASE("match_moves: ambiguous or concurrent cases fall back to copy and expunge") {
  SUBCASE("moved on both sides: forget in X, pair in Y") {
    World w = two_mailboxes();
    move_local(w, letters("S"));
    Msg m = w.boxes.at(10).side[Side::Remote].msgs.at(1);
    w.boxes.at(10).side[Side::Remote].msgs.erase(1);
    w.boxes.at(20).side[Side::Remote].append(m);
    auto plans = sync_pass(w);
    CHECK(plans.count(-1) == 0);
    CHECK(brief(plans[10]) == "forget");
    CHECK(brief(plans[20]) == "pair [S]");
    CHECK(sync_pass(w).empty());
  }
  SUBCASE("two identical messages moved: no guessing") {
    World w = two_mailboxes();
    Box& x = w.boxes.at(10);
    MessageIdentity id = x.pairs[0].identity;
    for (Side s : kBothSides) {
      x.side[s].append({letters("S"), id});
      x.side[s].stored_uidnext = 3;
    }
    x.pairs.push_back({PerSide<Uid>{{Uid(2), Uid(2)}}, letters("S"), id});
    move_local(w, letters("S"));
    Msg second = x.side[Side::Local].msgs.at(2);
    x.side[Side::Local].msgs.erase(2);
    w.boxes.at(20).side[Side::Local].append(second);
    auto plans = sync_pass(w);
    CHECK(plans.count(-1) == 0);
    CHECK(brief(plans[10]) == "expunge remote; expunge remote");
    CHECK(brief(plans[20]) == "copy from local [S]; copy from local [S]");
    CHECK(sync_pass(w).empty());
  }
}

TEST_CASE("flags: normalisation, text form, merge") {
  CHECK(make_flags({"\\seen", "\\RECENT", "$Junk", "\\Seen", "$junk", "", "\\*"}) ==
        Flags{"$Junk", "\\Seen"});
  CHECK(parse_flags("  \\Flagged   \\seen ") == make_flags({"\\Seen", "\\Flagged"}));
  const Flags f = make_flags({"\\Answered", "$Forwarded", "\\Draft"});
  CHECK(parse_flags(format_flags(f)) == f);
  CHECK(same_flags(make_flags({"$Foo"}), make_flags({"$FOO"})));
  CHECK(flags_contain(f, "\\draft"));
  // result = (base - removed_a - removed_b) | added_a | added_b
  CHECK(merge_flags(letters("SF"), letters("S"), letters("FSA")) == letters("AS"));
  CHECK(merge_flags(letters("S"), letters("S"), letters("S")) == letters("S"));
  CHECK(merge_flags(letters(""), letters("k"), letters("T")) == letters("kT"));
}

TEST_CASE("sort_plan: one order for any input order, ties broken by the action's text") {
  // Two StoreFlags on the same (side, uid) tie on the key; the text decides between them.
  Copy c1{Side::Local, Uid(3), letters("S"), {}};
  Copy c2{Side::Remote, Uid(3), letters(""), {}};
  StoreFlags s1{Side::Local, Uid(3), {letters("S"), {}}, {}};
  StoreFlags s2{Side::Local, Uid(3), {{}, letters("F")}, {}};
  StoreFlags s3{Side::Remote, Uid(1), {letters("A"), {}}, {}};
  Expunge e{Side::Remote, Uid(7), {{Uid(2), Uid(7)}}, false};
  std::vector<Action> acts{c1, c2, s1, s2, s3, e};
  std::vector<std::size_t> idx{0, 1, 2, 3, 4, 5};
  std::string first;
  int perms = 0;
  do {
    Plan p;
    for (auto i : idx) p.actions.push_back(acts[i]);
    sort_plan(p);
    REQUIRE(p.actions.size() == acts.size());
    std::string text = to_string(p);
    if (first.empty()) first = text;
    CHECK(text == first);
    // The tied pair keeps text order wherever it lands.
    auto pos = [&](const Action& a) {
      return std::find(p.actions.begin(), p.actions.end(), a) - p.actions.begin();
    };
    bool s1_first = to_string(Action{s1}) < to_string(Action{s2});
    CHECK((pos(s1) < pos(s2)) == s1_first);
    ++perms;
  } while (std::next_permutation(idx.begin(), idx.end()));
  CHECK(perms == 720);
}
