#include <algorithm>
#include <map>
#include <set>

#include <twinbox/imap/utf7.hpp>
#include <twinbox/sync/mailboxes.hpp>

namespace twinbox::sync {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

std::string join_canonical(const std::vector<std::string>& path) {
  std::string out;
  for (const auto& c : path) {
    if (!out.empty()) out += '/';
    out += c;
  }
  return out;
}

}  // namespace

Result<std::vector<std::string>> canonical_path(std::string_view wire, const Namespace& ns) {
  if (iequals(wire, "INBOX")) return std::vector<std::string>{"INBOX"};
  std::string_view rest = wire;
  if (!ns.prefix.empty() && rest.size() > ns.prefix.size() &&
      iequals(rest.substr(0, ns.prefix.size()), ns.prefix)) {
    rest.remove_prefix(ns.prefix.size());
  }
  auto decoded = imap::utf7_decode(rest);
  if (!decoded) {
    return fail(Errc::Parse, Scope::Mailbox,
                "mailbox name \"" + std::string(wire) + "\" is not valid modified UTF-7: " +
                    decoded.error().message);
  }
  std::vector<std::string> path;
  std::string cur;
  for (char c : *decoded) {
    if (c == ns.delimiter) {
      path.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  path.push_back(std::move(cur));
  if (path.size() == 1 && iequals(path[0], "INBOX")) path[0] = "INBOX";
  return path;
}

Result<std::string> wire_name(const std::vector<std::string>& path, const Namespace& ns) {
  if (path.size() == 1 && path[0] == "INBOX") return std::string("INBOX");
  std::string joined;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i].find(ns.delimiter) != std::string::npos) {
      return fail(Errc::Config, Scope::Mailbox,
                  "mailbox \"" + join_canonical(path) + "\" has a component \"" + path[i] +
                      "\" containing the other server's hierarchy delimiter '" +
                      std::string(1, ns.delimiter) +
                      "'; it cannot be created there. Rename it, or exclude it in the config");
    }
    if (i) joined += ns.delimiter;
    joined += path[i];
  }
  auto enc = imap::utf7_encode(joined);
  if (!enc) return enc.error().with_context("mailbox \"" + joined + "\"");
  return ns.prefix + *enc;
}

Result<std::string> map_name(std::string_view wire, const Namespace& from, const Namespace& to) {
  auto path = canonical_path(wire, from);
  if (!path) return path.error();
  return wire_name(*path, to);
}

bool pattern_match(std::string_view p, std::string_view n) {
  // Iterative wildcard match with backtracking on the last '*' (bounded: O(|p|·|n|)).
  std::size_t pi = 0, ni = 0, star_p = std::string_view::npos, star_n = 0;
  while (ni < n.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star_p = pi++;
      star_n = ni;
    } else if (pi < p.size() && p[pi] == '%') {
      // '%' matches within one level: treat as '*' restricted to no '/'.
      std::size_t end = n.find('/', ni);
      if (end == std::string_view::npos) end = n.size();
      for (std::size_t k = end + 1; k-- > ni;) {
        if (pattern_match(p.substr(pi + 1), n.substr(k))) return true;
      }
      return false;
    } else if (pi < p.size() && p[pi] == n[ni]) {
      ++pi;
      ++ni;
    } else if (star_p != std::string_view::npos) {
      pi = star_p + 1;
      ni = ++star_n;
    } else {
      return false;
    }
  }
  while (pi < p.size() && (p[pi] == '*' || p[pi] == '%')) ++pi;
  return pi == p.size();
}

namespace {

struct Candidate {
  const MailboxEntry* entry = nullptr;
  std::string canonical;
  bool taken = false;
};

bool included(const ListPolicy& pol, const std::string& canonical, const MailboxEntry& e) {
  bool inc = false;
  bool explicit_name = false;
  for (const auto& p : pol.include) {
    if (pattern_match(p, canonical)) inc = true;
    if (p == canonical) explicit_name = true;
  }
  if (!inc) return false;
  for (const auto& p : pol.exclude) {
    if (pattern_match(p, canonical)) return false;
  }
  if (pol.exclude_virtual && e.is_virtual && !explicit_name) return false;
  return true;
}

}  // namespace

bool merge_subscription(std::optional<bool> base, bool local, bool remote) {
  if (local == remote) return local;
  if (!base) return true;  // a conflict only exists without a base: subscribed wins
  return local != *base ? local : remote;
}

namespace {

/// Sets the merged subscription of every pair and the commands that carry it out.
void plan_subscriptions(const ListInput& in, MailboxListPlan& plan) {
  for (PairToSync& p : plan.pairs) {
    std::optional<bool> base;
    for (const auto& sp : in.stored) {
      if (p.pair != 0 && sp.id == p.pair) base = sp.subscribed;
    }
    const RenameMailbox* renamed = nullptr;
    for (const auto& r : plan.renames) {
      if (r.pair == p.pair && p.pair != 0) renamed = &r;
    }
    if (!p.entry[Side::Local] || !p.entry[Side::Remote]) {
      // Created this run on the side without an entry: it gets its source's subscription.
      const Side src = p.entry[Side::Local] ? Side::Local : Side::Remote;
      p.subscribed = p.entry[src] && p.entry[src]->subscribed;
      if (p.subscribed) p.subscriptions.push_back({other(src), p.name[other(src)], true});
    } else {
      const bool local = p.entry[Side::Local]->subscribed;
      const bool remote = p.entry[Side::Remote]->subscribed;
      p.subscribed = merge_subscription(base, local, remote);
      for (Side s : kBothSides) {
        // The side that did not rename lists the old name's subscription: set the new name's
        // whatever it shows (RENAME may or may not have carried it).
        const bool reapply = renamed && renamed->side == s && (p.subscribed || p.entry[s]->subscribed);
        if (p.entry[s]->subscribed != p.subscribed || reapply) {
          p.subscriptions.push_back({s, p.name[s], p.subscribed});
        }
      }
    }
    p.subscription_base_changed = !base || *base != p.subscribed;
  }
}

}  // namespace

MailboxListPlan plan_mailboxes(const ListInput& in) {
  MailboxListPlan plan;
  PerSide<std::vector<Candidate>> cands;
  for (Side s : kBothSides) {
    for (const auto& e : in.entries[s]) {
      auto path = canonical_path(e.name, in.ns[s]);
      if (!path) {
        plan.problems.push_back({e.name, path.error().message});
        continue;
      }
      cands[s].push_back({&e, join_canonical(*path), false});
    }
  }
  auto find_by_name = [&](Side s, std::string_view wire) -> Candidate* {
    for (auto& c : cands[s]) {
      if (c.entry->name == wire || (iequals(wire, "INBOX") && iequals(c.entry->name, "INBOX"))) {
        return &c;
      }
    }
    return nullptr;
  };
  auto count_of = [&](state::MailboxPairId id) -> std::size_t {
    for (const auto& [pid, n] : in.pair_counts) {
      if (pid == id) return n;
    }
    return in.count_pairs ? in.count_pairs(id) : 0;
  };

  // 1. Stored pairs.
  for (const auto& sp : in.stored) {
    PerSide<Candidate*> found;
    for (Side s : kBothSides) found[s] = find_by_name(s, sp.name[s]);
    if (found[Side::Local] && found[Side::Remote]) {
      for (Side s : kBothSides) found[s]->taken = true;
      PairToSync p;
      p.pair = sp.id;
      p.name = sp.name;
      p.special_use = sp.special_use;
      for (Side s : kBothSides) p.entry[s] = *found[s]->entry;
      plan.pairs.push_back(std::move(p));
      continue;
    }
    if (!found[Side::Local] && !found[Side::Remote]) {
      plan.forget.push_back(sp.id);
      continue;
    }
    Side gone = found[Side::Local] ? Side::Remote : Side::Local;
    Side kept = other(gone);
    found[kept]->taken = true;
    // Renamed on `gone`? Look for one unpaired, unstored entry with the same identity.
    std::vector<Candidate*> matches;
    for (auto& c : cands[gone]) {
      if (c.taken) continue;
      bool stored_elsewhere = false;
      for (const auto& other_sp : in.stored) {
        if (other_sp.name[gone] == c.entry->name) stored_elsewhere = true;
      }
      if (stored_elsewhere) continue;
      const auto& st = sp.side[gone];
      bool same_id = !st.mailbox_id.empty() && c.entry->mailbox_id == st.mailbox_id;
      bool same_uv = st.mailbox_id.empty() && st.uidvalidity.valid() && c.entry->uidvalidity &&
                     *c.entry->uidvalidity == st.uidvalidity;
      if (same_id || same_uv) matches.push_back(&c);
    }
    if (matches.size() == 1) {
      Candidate* m = matches.front();
      m->taken = true;
      auto target = map_name(m->entry->name, in.ns[gone], in.ns[kept]);
      if (!target) {
        plan.problems.push_back({m->canonical, target.error().message});
        continue;
      }
      plan.renames.push_back({sp.id, kept, sp.name[kept], *target, m->entry->name});
      PairToSync p;
      p.pair = sp.id;
      p.name[gone] = m->entry->name;
      p.name[kept] = *target;
      p.special_use = sp.special_use;
      p.entry[gone] = *m->entry;
      p.entry[kept] = *found[kept]->entry;
      p.entry[kept]->name = *target;
      plan.pairs.push_back(std::move(p));
      continue;
    }
    const MailboxEntry& ke = *found[kept]->entry;
    const auto& ks = sp.side[kept];
    bool unchanged = ke.uidnext && *ke.uidnext == ks.uidnext && ke.messages &&
                     *ke.messages == count_of(sp.id) && ke.uidvalidity &&
                     *ke.uidvalidity == ks.uidvalidity;
    std::string canonical = found[kept]->canonical;
    if (in.policy.delete_mailboxes && unchanged) {
      plan.deletes.push_back({sp.id, kept, sp.name[kept]});
    } else if (!in.policy.delete_mailboxes) {
      plan.problems.push_back(
          {canonical, "deleted on the " + std::string(to_string(gone)) +
                          " side; not deleting it on the " + std::string(to_string(kept)) +
                          " side (delete_mailboxes = no). Run 'twinbox delete " + canonical +
                          "' to delete it on both sides, or re-create it on the " +
                          std::string(to_string(gone)) + " side to sync it again"});
    } else {
      plan.problems.push_back(
          {canonical, "deleted on the " + std::string(to_string(gone)) + " side, but the " +
                          std::string(to_string(kept)) +
                          " side holds mail the other side has not seen; not deleting it. Run "
                          "'twinbox delete " +
                          canonical + "' to delete it anyway"});
    }
  }

  // 2. Unpaired mailboxes: special-use roles first, then names, else create on the other side.
  auto usable = [&](const Candidate& c) {
    return !c.taken && included(in.policy, c.canonical, *c.entry);
  };
  auto add_pair = [&](Candidate& l, Candidate& r, const std::string& use) {
    l.taken = r.taken = true;
    PairToSync p;
    p.name[Side::Local] = l.entry->name;
    p.name[Side::Remote] = r.entry->name;
    p.special_use = use;
    p.entry[Side::Local] = *l.entry;
    p.entry[Side::Remote] = *r.entry;
    plan.pairs.push_back(std::move(p));
  };
  for (auto& l : cands[Side::Local]) {
    if (!usable(l) || l.entry->special_use.empty()) continue;
    std::vector<Candidate*> same;
    for (auto& r : cands[Side::Remote]) {
      if (usable(r) && iequals(r.entry->special_use, l.entry->special_use)) same.push_back(&r);
    }
    std::size_t local_same = 0;
    for (auto& l2 : cands[Side::Local]) {
      if (usable(l2) && iequals(l2.entry->special_use, l.entry->special_use)) ++local_same;
    }
    if (same.size() == 1 && local_same == 1) add_pair(l, *same.front(), l.entry->special_use);
  }
  for (auto& l : cands[Side::Local]) {
    if (!usable(l)) continue;
    for (auto& r : cands[Side::Remote]) {
      if (usable(r) && r.canonical == l.canonical) {
        add_pair(l, r, !l.entry->special_use.empty() ? l.entry->special_use
                                                      : r.entry->special_use);
        break;
      }
    }
  }
  for (Side s : kBothSides) {
    Side t = other(s);
    for (auto& c : cands[s]) {
      if (!usable(c) || !c.entry->selectable) continue;
      auto target = map_name(c.entry->name, in.ns[s], in.ns[t]);
      if (!target) {
        plan.problems.push_back({c.canonical, target.error().message});
        c.taken = true;
        continue;
      }
      if (find_by_name(t, *target)) {
        plan.problems.push_back(
            {c.canonical, "cannot pair: the name \"" + *target + "\" on the " +
                              std::string(to_string(t)) +
                              " side is already paired with another mailbox (special-use "
                              "pairing); rename one of them"});
        c.taken = true;
        continue;
      }
      c.taken = true;
      plan.creates.push_back({t, *target, c.entry->special_use});
      PairToSync p;
      p.name[s] = c.entry->name;
      p.name[t] = *target;
      p.special_use = c.entry->special_use;
      p.entry[s] = *c.entry;
      plan.pairs.push_back(std::move(p));
    }
  }
  // Pairs where a side is not selectable are not synced.
  std::erase_if(plan.pairs, [&](const PairToSync& p) {
    for (Side s : kBothSides) {
      if (p.entry[s] && !p.entry[s]->selectable) return true;
    }
    return false;
  });
  plan_subscriptions(in, plan);
  return plan;
}

}  // namespace twinbox::sync
