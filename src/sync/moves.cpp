// Cross-mailbox moves (match_moves(), reconcile.hpp; PROTOCOL.md §4.8). Pure, like the
// reconciler whose rules it shares (content_match.hpp).

#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_set>
#include <utility>
#include <vector>

#include <twinbox/sync/reconcile.hpp>

#include "content_match.hpp"
#include "moves.hpp"

namespace twinbox::sync {
namespace detail {
namespace {

using UidSet = std::unordered_set<std::uint32_t>;
using Pairs = std::vector<std::pair<std::size_t, std::size_t>>;

bool takes_part(const MailboxInput& b) {
  return !b.input.delta[Side::Local].uidvalidity_changed &&
         !b.input.delta[Side::Remote].uidvalidity_changed;
}

}  // namespace

MoveCandidates move_candidates(const std::vector<MailboxInput>& boxes, Side s) {
  const Side t = other(s);
  MoveCandidates c;
  for (std::size_t b = 0; b < boxes.size(); ++b) {
    if (!takes_part(boxes[b])) continue;
    const ReconcileInput& in = boxes[b].input;
    PerSide<UidSet> vanished;
    PerSide<UidSet> paired;
    for (Side x : kBothSides) {
      for (Uid u : in.delta[x].vanished) vanished[x].insert(u.value);
    }
    for (std::size_t i = 0; i < in.stored.pairs.size(); ++i) {
      const StoredPair& p = in.stored.pairs[i];
      for (Side x : kBothSides) paired[x].insert(p.uid[x].value);
      if (p.uid[s].valid() && p.uid[t].valid() && vanished[s].count(p.uid[s].value) != 0 &&
          vanished[t].count(p.uid[t].value) == 0) {
        c.gone.push_back({b, i});
      }
    }
    const auto& other_new = in.delta[t].added;
    for (std::size_t i = 0; i < in.delta[s].added.size(); ++i) {
      const NewMessage& m = in.delta[s].added[i];
      if (!m.uid.valid() || paired[s].count(m.uid.value) != 0) continue;
      if (std::any_of(other_new.begin(), other_new.end(), [&](const NewMessage& n) {
            return same_content(n.identity, m.identity);
          })) {
        continue;  // left to rule 5
      }
      c.fresh.push_back({b, i});
    }
  }
  return c;
}

Pairs match_by_email_id(const std::vector<MailboxInput>& boxes, Side s, const MoveCandidates& c) {
  std::map<std::string_view, std::vector<std::size_t>> fresh_by_id;
  for (std::size_t i = 0; i < c.fresh.size(); ++i) {
    const auto& id = boxes[c.fresh[i].box].input.delta[s].added[c.fresh[i].added].identity;
    if (!id.email_id[s].empty()) fresh_by_id[id.email_id[s]].push_back(i);
  }
  Pairs out;
  std::vector<bool> used(c.fresh.size(), false);
  for (std::size_t g = 0; g < c.gone.size(); ++g) {
    const auto& id = boxes[c.gone[g].box].input.stored.pairs[c.gone[g].pair].identity;
    if (id.email_id[s].empty()) continue;
    auto it = fresh_by_id.find(id.email_id[s]);
    if (it == fresh_by_id.end()) continue;
    for (std::size_t f : it->second) {
      // The same id again in the same mailbox is a renumbering (rule 10), not a move.
      if (used[f] || c.fresh[f].box == c.gone[g].box) continue;
      used[f] = true;
      out.emplace_back(g, f);
      break;
    }
  }
  return out;
}

MoveCandidates remaining(const MoveCandidates& c, const Pairs& matched) {
  std::vector<bool> gone_used(c.gone.size(), false);
  std::vector<bool> fresh_used(c.fresh.size(), false);
  for (auto [g, f] : matched) {
    gone_used[g] = true;
    fresh_used[f] = true;
  }
  MoveCandidates out;
  for (std::size_t i = 0; i < c.gone.size(); ++i) {
    if (!gone_used[i]) out.gone.push_back(c.gone[i]);
  }
  for (std::size_t i = 0; i < c.fresh.size(); ++i) {
    if (!fresh_used[i]) out.fresh.push_back(c.fresh[i]);
  }
  return out;
}

}  // namespace detail

namespace {

using detail::clean;
using detail::flag_delta;

/// The Move on other(s) of gone pair `g`'s twin, to where new message `f` appeared on s.
Move make_move(const std::vector<MailboxInput>& boxes, Side s, const detail::GoneRef& g,
               const detail::FreshRef& f) {
  const Side t = other(s);
  const ReconcileInput& from = boxes[g.box].input;
  const StoredPair& p = from.stored.pairs[g.pair];
  const NewMessage& m = boxes[f.box].input.delta[s].added[f.added];
  const Policy& pol = from.policy;
  const Flags base = clean(pol, p.base);
  PerSide<Flags> cur;
  cur[s] = clean(pol, m.flags);
  cur[t] = base;
  for (const FlagChange& c : from.delta[t].changed) {
    if (c.uid == p.uid[t]) cur[t] = clean(pol, c.flags);
  }
  Move mv;
  mv.side = t;
  mv.from = boxes[g.box].mailbox;
  mv.to = boxes[f.box].mailbox;
  mv.from_pair = p.uid;
  mv.twin = m.uid;
  mv.base = merge_flags(base, cur[s], cur[t]);
  for (Side x : kBothSides) mv.store[x] = flag_delta(cur[x], mv.base);
  mv.identity = p.identity;
  mv.identity.email_id[s] = m.identity.email_id[s];  // the message's id where it is now
  if (mv.identity.sha256.empty()) mv.identity.sha256 = m.identity.sha256;
  return mv;
}

/// Content matches among the candidates left after the id matches (rule 10's strict matcher:
/// look-alikes only by body hashes). Two messages that both carry an id of that server, and
/// different ones, are different objects to it (a move by APPEND + EXPUNGE, or another
/// look-alike): they match only when both bodies were hashed and agree.
detail::MoveCandidates content_matches(const std::vector<MailboxInput>& boxes, Side s,
                                       const detail::MoveCandidates& c) {
  std::vector<const MessageIdentity*> gi;
  std::vector<const MessageIdentity*> fi;
  for (const auto& g : c.gone) gi.push_back(&boxes[g.box].input.stored.pairs[g.pair].identity);
  for (const auto& f : c.fresh) fi.push_back(&boxes[f.box].input.delta[s].added[f.added].identity);
  detail::MoveCandidates out;
  for (auto [a, b] : detail::match_exactly(gi, fi)) {
    if (c.gone[a].box == c.fresh[b].box) continue;  // same mailbox: rule 10, not a move
    const bool both_ids = !gi[a]->email_id[s].empty() && !fi[b]->email_id[s].empty();
    if (both_ids && (gi[a]->sha256.empty() || fi[b]->sha256.empty())) continue;
    out.gone.push_back(c.gone[a]);
    out.fresh.push_back(c.fresh[b]);
  }
  return out;
}

}  // namespace

std::vector<Move> match_moves(std::vector<MailboxInput>& boxes) {
  std::vector<Move> moves;
  // Removals, applied after both sides were matched so indices stay valid.
  std::vector<std::unordered_set<std::size_t>> drop_pairs(boxes.size());
  std::vector<PerSide<std::unordered_set<std::size_t>>> drop_added(boxes.size());
  std::vector<PerSide<detail::UidSet>> drop_vanished(boxes.size());
  auto take = [&](Side s, const detail::GoneRef& g, const detail::FreshRef& f) {
    moves.push_back(make_move(boxes, s, g, f));
    drop_pairs[g.box].insert(g.pair);
    drop_vanished[g.box][s].insert(boxes[g.box].input.stored.pairs[g.pair].uid[s].value);
    drop_added[f.box][s].insert(f.added);
  };
  for (Side s : kBothSides) {
    const detail::MoveCandidates c = detail::move_candidates(boxes, s);
    const auto by_id = detail::match_by_email_id(boxes, s, c);
    for (auto [g, f] : by_id) take(s, c.gone[g], c.fresh[f]);
    const detail::MoveCandidates by_content = content_matches(boxes, s, detail::remaining(c, by_id));
    for (std::size_t i = 0; i < by_content.gone.size(); ++i) {
      take(s, by_content.gone[i], by_content.fresh[i]);
    }
  }

  for (std::size_t b = 0; b < boxes.size(); ++b) {
    ReconcileInput& in = boxes[b].input;
    if (!drop_pairs[b].empty()) {
      std::vector<StoredPair> kept;
      for (std::size_t i = 0; i < in.stored.pairs.size(); ++i) {
        if (drop_pairs[b].count(i) == 0) kept.push_back(std::move(in.stored.pairs[i]));
      }
      in.stored.pairs = std::move(kept);
    }
    for (Side s : kBothSides) {
      auto& v = in.delta[s].vanished;
      std::erase_if(v, [&](Uid u) { return drop_vanished[b][s].count(u.value) != 0; });
      if (drop_added[b][s].empty()) continue;
      std::vector<NewMessage> kept;
      for (std::size_t i = 0; i < in.delta[s].added.size(); ++i) {
        if (drop_added[b][s].count(i) == 0) kept.push_back(std::move(in.delta[s].added[i]));
      }
      in.delta[s].added = std::move(kept);
    }
  }
  std::sort(moves.begin(), moves.end(), [](const Move& a, const Move& b) {
    return std::tuple(a.side, a.from, a.from_pair[a.side]) <
           std::tuple(b.side, b.from, b.from_pair[b.side]);
  });
  return moves;
}

}  // namespace twinbox::sync
