#pragma once
// An in-memory model of two IMAP accounts plus the stored pairs, for reconciler tests: it
// produces the Deltas a (plain, path U) reader would, applies Plans and Moves the way the
// executor would, and commits the snapshot as the engine does. Deliberately simple: no bodies,
// no modseqs.

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <vector>

#include <twinbox/sync/reconcile.hpp>

namespace twinbox::sync::test {

struct Msg {
  Flags flags;
  MessageIdentity id;
};

struct SideBox {
  std::map<std::uint32_t, Msg> msgs;
  std::uint32_t uidnext = 1;
  std::uint32_t uidvalidity = 1;
  std::uint32_t stored_uidnext = 1;
  std::uint32_t stored_uidvalidity = 1;

  std::uint32_t append(Msg m) {
    msgs[uidnext] = std::move(m);
    return uidnext++;
  }
  /// A UIDVALIDITY change: every message is renumbered from 1.
  void reset_uidvalidity() {
    std::vector<Msg> keep;
    for (auto& [uid, m] : msgs) keep.push_back(m);
    msgs.clear();
    ++uidvalidity;
    uidnext = 1;
    for (auto& m : keep) append(m);
  }
};

struct Box {
  PerSide<SideBox> side;
  std::vector<StoredPair> pairs;
};

struct World {
  std::map<MailboxKey, Box> boxes;
  PerSide<Caps> caps;
  Policy policy;

  [[nodiscard]] World swapped() const {
    World w = *this;
    for (auto& [k, b] : w.boxes) {
      b.side = b.side.swapped();
      for (auto& p : b.pairs) p.uid = p.uid.swapped();
    }
    w.caps = caps.swapped();
    return w;
  }
};

inline Delta delta_of(const Box& b, Side s) {
  const SideBox& sb = b.side[s];
  Delta d;
  d.snapshot = {UidValidity(sb.uidvalidity), Uid(sb.uidnext), ModSeq{}, ModSeq{}};
  if (sb.uidvalidity != sb.stored_uidvalidity) {
    d.uidvalidity_changed = true;
    for (const auto& [uid, m] : sb.msgs) d.added.push_back({Uid(uid), m.flags, m.id});
    return d;
  }
  for (const StoredPair& p : b.pairs) {
    if (p.uid[s].valid() && sb.msgs.count(p.uid[s].value) == 0) d.vanished.push_back(p.uid[s]);
  }
  std::sort(d.vanished.begin(), d.vanished.end());
  for (const auto& [uid, m] : sb.msgs) {
    if (uid >= sb.stored_uidnext) {
      d.added.push_back({Uid(uid), m.flags, m.id});
    } else {
      d.changed.push_back({Uid(uid), m.flags, ModSeq{}});
    }
  }
  return d;
}

inline ReconcileInput input_of(const World& w, MailboxKey key) {
  const Box& b = w.boxes.at(key);
  ReconcileInput in;
  in.stored.pairs = b.pairs;
  for (Side s : kBothSides) in.delta[s] = delta_of(b, s);
  in.caps = w.caps;
  in.policy = w.policy;
  return in;
}

inline void upsert_pair(Box& b, StoredPair p) {
  std::erase_if(b.pairs, [&](const StoredPair& q) {
    for (Side s : kBothSides) {
      if (p.uid[s].valid() && q.uid[s] == p.uid[s]) return true;
    }
    return false;
  });
  b.pairs.push_back(std::move(p));
}

inline void forget_pair(Box& b, const PerSide<Uid>& uid) {
  std::erase_if(b.pairs, [&](const StoredPair& q) { return q.uid == uid; });
}

inline Msg& msg_at(Box& b, Side s, Uid uid) {
  auto it = b.side[s].msgs.find(uid.value);
  REQUIRE_MESSAGE(it != b.side[s].msgs.end(), "plan names a missing message " << s << ":" << uid);
  return it->second;
}

inline void apply_flags(Flags& f, const FlagDelta& d) {
  f = flags_difference(flags_union(f, d.add), d.remove);
}

/// Applies one mailbox's plan like the executor, then commits the snapshot like the engine.
inline void apply(Box& b, const ReconcileInput& in, const Plan& plan) {
  if (skips_mailbox(plan)) return;
  for (Side s : kBothSides) {
    if (!in.delta[s].uidvalidity_changed) continue;  // StateStore::void_side
    for (auto& p : b.pairs) p.uid[s] = Uid{};
    std::erase_if(b.pairs, [](const StoredPair& p) {
      return !p.uid[Side::Local].valid() && !p.uid[Side::Remote].valid();
    });
  }
  for (const Action& a : plan.actions) {
    if (const auto* c = std::get_if<Copy>(&a)) {
      const Side t = other(c->from);
      Msg m = msg_at(b, c->from, c->uid);
      CHECK(m.id == c->identity);
      m.flags = c->flags;
      StoredPair p;
      p.uid[c->from] = c->uid;
      p.uid[t] = Uid(b.side[t].append(m));
      p.base = c->flags;
      p.identity = c->identity;
      upsert_pair(b, p);
    } else if (const auto* r = std::get_if<RecordPair>(&a)) {
      upsert_pair(b, {r->uid, r->base, r->identity});
    } else if (const auto* st = std::get_if<StoreFlags>(&a)) {
      apply_flags(msg_at(b, st->side, st->uid).flags, st->change);
    } else if (const auto* u = std::get_if<UpdateBase>(&a)) {
      for (auto& p : b.pairs) {
        if (p.uid == u->uid) p.base = u->base;
      }
    } else if (const auto* e = std::get_if<Expunge>(&a)) {
      if (e->mark_only) {
        apply_flags(msg_at(b, e->side, e->uid).flags, {make_flags({"\\Deleted"}), {}});
      } else {
        msg_at(b, e->side, e->uid);
        b.side[e->side].msgs.erase(e->uid.value);
      }
      forget_pair(b, e->pair);
    } else if (const auto* f = std::get_if<ForgetPair>(&a)) {
      forget_pair(b, f->uid);
    } else {
      FAIL("unexpected action in a mailbox plan: " << a);
    }
  }
  for (Side s : kBothSides) {
    b.side[s].stored_uidnext = in.delta[s].snapshot.uidnext.value;
    b.side[s].stored_uidvalidity = in.delta[s].snapshot.uidvalidity.value;
  }
}

inline void apply_move(World& w, const Move& mv) {
  const Side t = mv.side;
  const Side s = other(t);
  Box& x = w.boxes.at(mv.from);
  Box& y = w.boxes.at(mv.to);
  Msg m = msg_at(x, t, mv.from_pair[t]);
  x.side[t].msgs.erase(mv.from_pair[t].value);
  forget_pair(x, mv.from_pair);
  apply_flags(m.flags, mv.store[t]);
  PerSide<Uid> uid;
  uid[t] = Uid(y.side[t].append(m));
  uid[s] = mv.twin;
  apply_flags(msg_at(y, s, mv.twin).flags, mv.store[s]);
  upsert_pair(y, {uid, mv.base, mv.identity});
}

/// One sync pass over every mailbox: moves first, then each mailbox's plan. Returns the plans
/// (moves as a plan of their own under key -1).
inline std::map<MailboxKey, Plan> sync_pass(World& w) {
  std::vector<MailboxInput> inputs;
  for (const auto& [key, box] : w.boxes) inputs.push_back({key, input_of(w, key)});
  std::map<MailboxKey, Plan> plans;
  std::vector<Move> moves = match_moves(inputs);
  for (const Move& mv : moves) {
    plans[-1].actions.emplace_back(mv);
    apply_move(w, mv);
  }
  for (const MailboxInput& mi : inputs) {
    Plan p = reconcile(mi.input);
    apply(w.boxes.at(mi.mailbox), mi.input, p);
    if (!p.empty()) plans[mi.mailbox] = std::move(p);
  }
  return plans;
}

/// The messages of one side of one mailbox as sorted (Message-ID, flags) text, for
/// convergence checks.
inline std::vector<std::string> contents(const Box& b, Side s, bool ignore_deleted) {
  std::vector<std::string> out;
  for (const auto& [uid, m] : b.side[s].msgs) {
    Flags f = ignore_deleted ? flags_without(m.flags, "\\Deleted") : m.flags;
    out.push_back(m.id.message_id + " " + format_flags(f));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace twinbox::sync::test
