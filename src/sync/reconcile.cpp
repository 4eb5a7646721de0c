// The reconciler: rules 1–10 of reconcile.hpp. Pure: no I/O, no clock, no logging.

#include <twinbox/sync/reconcile.hpp>

#include "content_match.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <tuple>
#include <unordered_set>
#include <utility>

namespace twinbox::sync {
namespace {

using UidSet = std::unordered_set<std::uint32_t>;

using detail::clean;

using Pairs = std::vector<std::pair<std::size_t, std::size_t>>;

/// True when every identity of `v` named in `idx` has a body hash.
bool all_hashed(const std::vector<const MessageIdentity*>& v, const std::vector<std::size_t>& idx) {
  return std::all_of(idx.begin(), idx.end(), [&v](std::size_t i) { return !v[i]->sha256.empty(); });
}

/// Pairs the members ga of `a` with the members gb of `b` of one content group, all hashed,
/// by hash: a hash pairs only when it appears exactly once on each side (two byte-identical
/// look-alikes on one side stay unpaired: either could be the twin).
void pair_by_hash(const std::vector<const MessageIdentity*>& a, const std::vector<std::size_t>& ga,
                  const std::vector<const MessageIdentity*>& b, const std::vector<std::size_t>& gb,
                  Pairs& out) {
  auto count = [](const std::vector<const MessageIdentity*>& v, const std::vector<std::size_t>& idx,
                  const std::string& h) {
    return std::count_if(idx.begin(), idx.end(), [&](std::size_t i) { return v[i]->sha256 == h; });
  };
  for (std::size_t i : ga) {
    const std::string& h = a[i]->sha256;
    if (count(a, ga, h) != 1 || count(b, gb, h) != 1) continue;
    for (std::size_t j : gb) {
      if (b[j]->sha256 == h) out.emplace_back(i, j);
    }
  }
}

/// Pairs up two lists of identities by content (rule 5's ambiguity rule): per content key,
/// when every member on both sides has a body hash, members pair by hash (pair_by_hash());
/// otherwise the members are zipped in list order only when both lists hold the same number
/// of them and every zipped couple is same_content(). Returns (index in a, index in b).
std::vector<std::pair<std::size_t, std::size_t>> match_by_content(
    const std::vector<const MessageIdentity*>& a, const std::vector<const MessageIdentity*>& b) {
  auto keyed = [](const std::vector<const MessageIdentity*>& v) {
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (has_content_key(*v[i])) idx.push_back(i);
    }
    std::stable_sort(idx.begin(), idx.end(), [&v](std::size_t x, std::size_t y) {
      return content_key_less(*v[x], *v[y]);
    });
    return idx;
  };
  const auto ia = keyed(a);
  const auto ib = keyed(b);
  std::vector<std::pair<std::size_t, std::size_t>> out;
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < ia.size() && j < ib.size()) {
    const MessageIdentity& ka = *a[ia[i]];
    const MessageIdentity& kb = *b[ib[j]];
    if (content_key_less(ka, kb)) {
      ++i;
      continue;
    }
    if (content_key_less(kb, ka)) {
      ++j;
      continue;
    }
    std::size_t ei = i;
    std::size_t ej = j;
    while (ei < ia.size() && !content_key_less(ka, *a[ia[ei]])) ++ei;
    while (ej < ib.size() && !content_key_less(kb, *b[ib[ej]])) ++ej;
    const std::vector<std::size_t> ga(ia.begin() + static_cast<std::ptrdiff_t>(i),
                                      ia.begin() + static_cast<std::ptrdiff_t>(ei));
    const std::vector<std::size_t> gb(ib.begin() + static_cast<std::ptrdiff_t>(j),
                                      ib.begin() + static_cast<std::ptrdiff_t>(ej));
    if ((ga.size() > 1 || gb.size() > 1) && all_hashed(a, ga) && all_hashed(b, gb)) {
      pair_by_hash(a, ga, b, gb, out);
    } else if (ei - i == ej - j) {
      bool all_same = true;
      for (std::size_t k = 0; k < ei - i; ++k) {
        all_same = all_same && same_content(*a[ia[i + k]], *b[ib[j + k]]);
      }
      if (all_same) {
        for (std::size_t k = 0; k < ei - i; ++k) out.emplace_back(ia[i + k], ib[j + k]);
      }
    }
    i = ei;
    j = ej;
  }
  return out;
}

}  // namespace

// Rule 10's matcher (content_match.hpp).
std::vector<std::pair<std::size_t, std::size_t>> detail::match_exactly(
    const std::vector<const MessageIdentity*>& a, const std::vector<const MessageIdentity*>& b) {
  using Key = std::tuple<std::string_view, std::uint64_t, std::int64_t>;
  std::map<Key, PerSide<std::vector<std::size_t>>> groups;
  auto add = [&groups](const std::vector<const MessageIdentity*>& v, Side s) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!has_content_key(*v[i])) continue;
      groups[Key{v[i]->message_id, v[i]->size, v[i]->internaldate}][s].push_back(i);
    }
  };
  add(a, Side::Local);
  add(b, Side::Remote);
  std::vector<std::pair<std::size_t, std::size_t>> out;
  for (const auto& [key, g] : groups) {
    const auto& ga = g[Side::Local];
    const auto& gb = g[Side::Remote];
    if (ga.empty() || gb.empty()) continue;
    if (ga.size() == 1 && gb.size() == 1) {
      if (same_content(*a[ga[0]], *b[gb[0]])) out.emplace_back(ga[0], gb[0]);
      continue;
    }
    if (all_hashed(a, ga) && all_hashed(b, gb)) pair_by_hash(a, ga, b, gb, out);
  }
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

using detail::flag_delta;
using detail::match_exactly;

class Reconciler {
 public:
  explicit Reconciler(const ReconcileInput& in) : in_(in) {}

  Plan run() {
    index_deltas();
    for (Side s : kBothSides) repair_renumbered(s);
    std::vector<const StoredPair*> halves_local;
    std::vector<const StoredPair*> halves_remote;
    PerSide<std::vector<const StoredPair*>*> halves{{&halves_local, &halves_remote}};
    for (const StoredPair& p : in_.stored.pairs) {
      if (renumbered_.count(&p) != 0) continue;
      const bool live_l = live(p, Side::Local);
      const bool live_r = live(p, Side::Remote);
      if (live_l && live_r) {
        full_pair(p);
      } else if (live_l || live_r) {
        const Side t = live_l ? Side::Local : Side::Remote;
        if (vanished_[t].count(p.uid[t].value) != 0) {
          // Rule 6, last sentence. The voided UID is reported as 0, as the state holds it
          // after StateStore::void_side.
          PerSide<Uid> uid;
          uid[t] = p.uid[t];
          plan_.actions.emplace_back(ForgetPair{uid});
        } else {
          halves[other(t)]->push_back(&p);
        }
      }
      // Void on both sides: nothing to say; the caller voided both sides in the state.
    }
    for (Side s : kBothSides) repair_halves(s, *halves[s]);
    pair_or_copy_new();
    deletion_guard();
    sort_plan(plan_);
    return std::move(plan_);
  }

 private:
  [[nodiscard]] bool live(const StoredPair& p, Side s) const {
    return p.uid[s].valid() && !in_.delta[s].uidvalidity_changed;
  }

  void index_deltas() {
    PerSide<UidSet> paired;
    for (const StoredPair& p : in_.stored.pairs) {
      for (Side s : kBothSides) {
        if (live(p, s)) paired[s].insert(p.uid[s].value);
      }
    }
    for (Side s : kBothSides) {
      const Delta& d = in_.delta[s];
      for (Uid u : d.vanished) vanished_[s].insert(u.value);
      for (const FlagChange& c : d.changed) current_[s][c.uid.value] = &c.flags;
      for (const NewMessage& m : d.added) {
        if (paired[s].count(m.uid.value) != 0) {
          current_[s][m.uid.value] = &m.flags;  // rule 7: a paired "new" UID is a flag report
        } else if (m.uid.valid()) {
          fresh_[s].push_back(&m);
        }
      }
      std::sort(fresh_[s].begin(), fresh_[s].end(),
                [](const NewMessage* a, const NewMessage* b) { return a->uid < b->uid; });
    }
  }

  /// Current flags of a stored pair's message on `s`: the reported ones, else the base.
  [[nodiscard]] Flags current(const StoredPair& p, Side s) const {
    auto it = current_[s].find(p.uid[s].value);
    return clean(in_.policy, it != current_[s].end() ? *it->second : p.base);
  }

  void store(Side s, Uid uid, const Flags& cur, const Flags& result) {
    if (same_flags(cur, result)) return;
    const Caps& caps = in_.caps[s];
    plan_.actions.emplace_back(
        StoreFlags{s, uid, flag_delta(cur, result),
                   caps.condstore ? in_.delta[s].snapshot.highestmodseq : ModSeq{}});
  }

  // Rules 1–3.
  void full_pair(const StoredPair& p) {
    PerSide<bool> gone;
    for (Side s : kBothSides) gone[s] = vanished_[s].count(p.uid[s].value) != 0;
    if (gone[Side::Local] && gone[Side::Remote]) {
      plan_.actions.emplace_back(ForgetPair{p.uid});
      return;
    }
    for (Side s : kBothSides) {
      if (gone[s]) {
        const Side t = other(s);
        plan_.actions.emplace_back(Expunge{t, p.uid[t], p.uid, !in_.caps[t].uidplus});
        return;
      }
    }
    const Flags base = clean(in_.policy, p.base);
    PerSide<Flags> cur;
    for (Side s : kBothSides) cur[s] = current(p, s);
    const Flags result = merge_flags(base, cur[Side::Local], cur[Side::Remote]);
    for (Side s : kBothSides) store(s, p.uid[s], cur[s], result);
    if (!same_flags(result, p.base)) plan_.actions.emplace_back(UpdateBase{p.uid, result});
  }

  /// Re-pairs a matched couple whose uid[s] is not trustworthy (rules 6 and 10): the pair
  /// (m on s, p's twin on t) replaces p. S's removals are ignored, its additions kept, so no
  /// flag is lost: result = cur[t] ∪ cur[s].
  void repair(Side s, const StoredPair& p, const NewMessage& m) {
    const Side t = other(s);
    PerSide<Uid> uid;
    uid[s] = m.uid;
    uid[t] = p.uid[t];
    PerSide<Flags> cur;
    cur[t] = current(p, t);
    cur[s] = clean(in_.policy, m.flags);
    const Flags result = flags_union(cur[t], cur[s]);
    MessageIdentity id = p.identity;
    id.email_id[s] = m.identity.email_id[s];  // the id of the message now paired on s
    plan_.actions.emplace_back(RecordPair{uid, result, std::move(id)});
    for (Side x : kBothSides) store(x, uid[x], cur[x], result);
  }

  /// Drops the new messages on `s` marked in `used` from fresh_[s].
  void drop_fresh(Side s, const std::vector<bool>& used) {
    std::vector<const NewMessage*> rest;
    for (std::size_t i = 0; i < fresh_[s].size(); ++i) {
      if (!used[i]) rest.push_back(fresh_[s][i]);
    }
    fresh_[s] = std::move(rest);
  }

  // Rule 10: pairs vanished on s only, against the new messages on s with the same content.
  void repair_renumbered(Side s) {
    const Side t = other(s);
    std::vector<const StoredPair*> gone;
    for (const StoredPair& p : in_.stored.pairs) {
      if (live(p, s) && live(p, t) && vanished_[s].count(p.uid[s].value) != 0 &&
          vanished_[t].count(p.uid[t].value) == 0) {
        gone.push_back(&p);
      }
    }
    if (gone.empty() || fresh_[s].empty()) return;
    std::vector<const MessageIdentity*> ga;
    std::vector<const MessageIdentity*> fb;
    for (const StoredPair* p : gone) ga.push_back(&p->identity);
    for (const NewMessage* m : fresh_[s]) fb.push_back(&m->identity);
    std::vector<bool> used(fresh_[s].size(), false);
    for (auto [gi, fi] : match_exactly(ga, fb)) {
      repair(s, *gone[gi], *fresh_[s][fi]);
      renumbered_.insert(gone[gi]);
      used[fi] = true;
    }
    drop_fresh(s, used);
  }

  // Rule 6: half pairs whose uid[s] is void, against the new messages on s.
  void repair_halves(Side s, const std::vector<const StoredPair*>& halves_in) {
    if (halves_in.empty()) return;
    const Side t = other(s);
    std::vector<const StoredPair*> halves = halves_in;
    std::sort(halves.begin(), halves.end(), [t](const StoredPair* a, const StoredPair* b) {
      return a->uid[t] < b->uid[t];
    });
    std::vector<const MessageIdentity*> ha;
    std::vector<const MessageIdentity*> fb;
    for (const StoredPair* p : halves) ha.push_back(&p->identity);
    for (const NewMessage* m : fresh_[s]) fb.push_back(&m->identity);
    std::vector<bool> half_done(halves.size(), false);
    std::vector<bool> fresh_used(fresh_[s].size(), false);
    for (auto [hi, fi] : match_by_content(ha, fb)) {
      half_done[hi] = true;
      fresh_used[fi] = true;
      repair(s, *halves[hi], *fresh_[s][fi]);  // S has no trustworthy base
    }
    for (std::size_t i = 0; i < halves.size(); ++i) {
      if (half_done[i]) continue;
      const StoredPair& p = *halves[i];
      // Never delete on T because S lost its UIDs: bring T's message back to S. The id S had
      // for the old message names nothing now; the copy's id is learnt when it is read again.
      MessageIdentity id = p.identity;
      id.email_id[s].clear();
      plan_.actions.emplace_back(Copy{t, p.uid[t], current(p, t), std::move(id)});
    }
    drop_fresh(s, fresh_used);
  }

  // Rules 4 and 5.
  void pair_or_copy_new() {
    PerSide<std::vector<const MessageIdentity*>> ids;
    for (Side s : kBothSides) {
      for (const NewMessage* m : fresh_[s]) ids[s].push_back(&m->identity);
    }
    PerSide<std::vector<bool>> used;
    for (Side s : kBothSides) used[s].assign(fresh_[s].size(), false);
    for (auto [li, ri] : match_by_content(ids[Side::Local], ids[Side::Remote])) {
      PerSide<const NewMessage*> m{{fresh_[Side::Local][li], fresh_[Side::Remote][ri]}};
      used[Side::Local][li] = true;
      used[Side::Remote][ri] = true;
      PerSide<Flags> cur;
      PerSide<Uid> uid;
      for (Side s : kBothSides) {
        cur[s] = clean(in_.policy, m[s]->flags);
        uid[s] = m[s]->uid;
      }
      // No base: nothing can have been removed, so the union is the merge.
      const Flags result = flags_union(cur[Side::Local], cur[Side::Remote]);
      MessageIdentity id = m[Side::Local]->identity;
      id.email_id[Side::Remote] = m[Side::Remote]->identity.email_id[Side::Remote];
      plan_.actions.emplace_back(RecordPair{uid, result, std::move(id)});
      for (Side s : kBothSides) store(s, uid[s], cur[s], result);
    }
    plan_.actions.reserve(plan_.actions.size() + fresh_[Side::Local].size() + fresh_[Side::Remote].size());
    for (Side s : kBothSides) {
      for (std::size_t i = 0; i < fresh_[s].size(); ++i) {
        if (used[s][i]) continue;
        const NewMessage& m = *fresh_[s][i];
        plan_.actions.emplace_back(Copy{s, m.uid, clean(in_.policy, m.flags), m.identity});
      }
    }
  }

  // Rule 8.
  void deletion_guard() {
    const Policy& pol = in_.policy;
    if (pol.allow_mass_delete) return;
    PerSide<std::size_t> count;
    for (const Action& a : plan_.actions) {
      if (const auto* e = std::get_if<Expunge>(&a)) ++count[e->side];
    }
    const std::size_t total = in_.stored.pairs.size() + in_.stored.unloaded;
    for (Side t : kBothSides) {
      const std::size_t n = count[t];
      if (n < pol.mass_delete_min || n * 100 <= std::size_t{pol.mass_delete_percent} * total) {
        continue;
      }
      std::string reason = "would expunge " + std::to_string(n) + " of " + std::to_string(total) +
                           " messages on the " + std::string(to_string(t)) +
                           " side because they vanished on the " +
                           std::string(to_string(other(t))) + " side (more than " +
                           std::to_string(pol.mass_delete_percent) +
                           "%); nothing was changed in this mailbox. If the deletion is "
                           "intended, run again with --allow-mass-delete";
      plan_.actions.clear();
      plan_.actions.emplace_back(SkipMailbox{std::move(reason)});
      return;
    }
  }

  const ReconcileInput& in_;
  Plan plan_;
  PerSide<UidSet> vanished_;
  PerSide<std::unordered_map<std::uint32_t, const Flags*>> current_;
  PerSide<std::vector<const NewMessage*>> fresh_;
  std::unordered_set<const StoredPair*> renumbered_;  ///< re-paired by rule 10
};

}  // namespace

Plan reconcile(const ReconcileInput& in) { return Reconciler(in).run(); }

NeededPairs::NeededPairs(const PerSide<Delta>& delta, const PerSide<std::vector<Uid>>& extra) {
  all_ = delta[Side::Local].uidvalidity_changed || delta[Side::Remote].uidvalidity_changed;
  if (all_) return;
  for (Side s : kBothSides) {
    auto& n = named_[s];
    n.reserve(delta[s].vanished.size() + delta[s].changed.size() + delta[s].added.size() + extra[s].size());
    for (Uid u : delta[s].vanished) n.push_back(u.value);
    for (const auto& c : delta[s].changed) n.push_back(c.uid.value);
    for (const auto& a : delta[s].added) n.push_back(a.uid.value);
    for (Uid u : extra[s]) n.push_back(u.value);
    std::sort(n.begin(), n.end());
    n.erase(std::unique(n.begin(), n.end()), n.end());
  }
}

bool NeededPairs::operator()(const PerSide<Uid>& uid) const {
  if (all_) return true;
  for (Side s : kBothSides) {
    if (!uid[s].valid() || std::binary_search(named_[s].begin(), named_[s].end(), uid[s].value)) return true;
  }
  return false;
}

}  // namespace twinbox::sync
