// Body hashes for ambiguous content groups (body_hashes.hpp).

#include "body_hashes.hpp"
#include "hash_sink.hpp"
#include "moves.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <string_view>
#include <tuple>
#include <unordered_set>

#include <twinbox/client/session.hpp>

namespace twinbox::sync {
namespace {

using Key = std::tuple<std::string_view, std::uint64_t, std::int64_t>;

/// One content group's candidates: new messages on each side, and the twins (UIDs on the
/// other side) of stored pairs missing on each side.
struct Group {
  PerSide<std::vector<Uid>> fresh;
  PerSide<std::vector<Uid>> missing_twin;  ///< [s]: pairs missing on s, their UIDs on other(s)
};

bool ambiguous(std::size_t a, std::size_t b) { return a > 0 && b > 0 && a + b >= 3; }

}  // namespace

PerSide<std::vector<Uid>> ambiguous_uids(const StoredMailbox& stored, const PerSide<Delta>& delta) {
  PerSide<std::unordered_set<std::uint32_t>> vanished;
  PerSide<std::unordered_set<std::uint32_t>> paired;
  PerSide<bool> void_side;
  for (Side s : kBothSides) {
    for (Uid u : delta[s].vanished) vanished[s].insert(u.value);
    void_side[s] = delta[s].uidvalidity_changed;
  }
  std::map<Key, Group> groups;
  auto keyed = [](const MessageIdentity& id) { return !id.message_id.empty() && id.sha256.empty(); };
  for (const StoredPair& p : stored.pairs) {
    PerSide<bool> live;
    for (Side s : kBothSides) {
      live[s] = p.uid[s].valid() && !void_side[s];
      if (live[s]) paired[s].insert(p.uid[s].value);
    }
    if (!keyed(p.identity)) continue;
    for (Side s : kBothSides) {
      const Side t = other(s);
      const bool missing_s = !live[s] || vanished[s].count(p.uid[s].value) != 0;
      const bool alive_t = live[t] && vanished[t].count(p.uid[t].value) == 0;
      if (missing_s && alive_t) {
        const auto& id = p.identity;
        groups[Key{id.message_id, id.size, id.internaldate}].missing_twin[s].push_back(p.uid[t]);
      }
    }
  }
  for (Side s : kBothSides) {
    for (const NewMessage& m : delta[s].added) {
      if (!m.uid.valid() || paired[s].count(m.uid.value) != 0 || !keyed(m.identity)) continue;
      const auto& id = m.identity;
      groups[Key{id.message_id, id.size, id.internaldate}].fresh[s].push_back(m.uid);
    }
  }
  PerSide<std::vector<Uid>> out;
  for (const auto& [key, g] : groups) {
    const bool amb = ambiguous(g.fresh[Side::Local].size(), g.fresh[Side::Remote].size()) ||
                     ambiguous(g.missing_twin[Side::Local].size(), g.fresh[Side::Local].size()) ||
                     ambiguous(g.missing_twin[Side::Remote].size(), g.fresh[Side::Remote].size());
    if (!amb) continue;
    for (Side s : kBothSides) {
      out[s].insert(out[s].end(), g.fresh[s].begin(), g.fresh[s].end());
      const auto& twins = g.missing_twin[other(s)];
      out[s].insert(out[s].end(), twins.begin(), twins.end());
    }
  }
  for (Side s : kBothSides) {
    std::sort(out[s].begin(), out[s].end());
    out[s].erase(std::unique(out[s].begin(), out[s].end()), out[s].end());
  }
  return out;
}

void apply_hashes(StoredMailbox& stored, PerSide<Delta>& delta, const BodyHashes& hashes) {
  auto fill = [](MessageIdentity& id, const std::unordered_map<std::uint32_t, std::string>& h,
                 Uid uid) {
    if (!id.sha256.empty()) return;
    if (auto it = h.find(uid.value); it != h.end()) id.sha256 = it->second;
  };
  for (Side s : kBothSides) {
    for (NewMessage& m : delta[s].added) fill(m.identity, hashes[s], m.uid);
    if (delta[s].uidvalidity_changed) continue;  // stored UIDs of s name other messages now
    for (StoredPair& p : stored.pairs) {
      if (p.uid[s].valid()) fill(p.identity, hashes[s], p.uid[s]);
    }
  }
}

Status fetch_body_hashes(Executor& exec, client::Session& session, Side s,
                         const std::string& mailbox, const std::vector<Uid>& uids,
                         net::Deadline deadline, std::unordered_map<std::uint32_t, std::string>& out) {
  if (uids.empty()) return {};
  if (auto st = exec.ensure_selected(s, mailbox); !st) return st;
  imap::SeqSet set;
  for (Uid u : uids) set.add(u.value);
  client::FetchItems items;
  items.flags = false;
  items.body = true;
  BodyHashSink sink;
  auto fetched = session.wait(session.uid_fetch_stream(set, items, sink), deadline);
  if (!fetched) {
    return fetched.error().with_context("hashing look-alike messages in " + mailbox + " on the " +
                                        std::string(to_string(s)) + " side");
  }
  out = std::move(sink.hashes());
  return {};
}

Result<BodyHashes> fetch_pair_hashes(Executor& exec, PerSide<client::Session*> sessions,
                                     const PerSide<std::string>& names,
                                     const PerSide<std::vector<Uid>>& uids, net::Deadline deadline) {
  BodyHashes hashes;
  for (Side s : kBothSides) {
    if (auto st = fetch_body_hashes(exec, *sessions[s], s, names[s], uids[s], deadline, hashes[s]);
        !st) {
      return st.error();
    }
  }
  return hashes;
}

Status fill_ambiguous_hashes(Executor& exec, PerSide<client::Session*> sessions,
                             net::Deadline deadline, MailboxWork& work) {
  auto hashes = fetch_pair_hashes(exec, sessions, work.name, ambiguous_uids(work.stored, work.delta),
                                  deadline);
  if (!hashes) return hashes.error();
  apply_hashes(work.stored, work.delta, *hashes);
  return {};
}

std::vector<PerSide<std::vector<Uid>>> move_hash_uids(const std::vector<MailboxInput>& boxes) {
  std::vector<PerSide<std::vector<Uid>>> out(boxes.size());
  for (Side s : kBothSides) {
    const Side t = other(s);
    const auto all = detail::move_candidates(boxes, s);
    const auto c = detail::remaining(all, detail::match_by_email_id(boxes, s, all));
    struct Members {
      std::vector<const detail::GoneRef*> gone;
      std::vector<const detail::FreshRef*> fresh;
      bool gone_id = false;   ///< some vanished pair carries an id of s
      bool fresh_id = false;  ///< some new message does
    };
    std::map<Key, Members> groups;
    auto key = [](const MessageIdentity& id) { return Key{id.message_id, id.size, id.internaldate}; };
    for (const auto& g : c.gone) {
      const auto& id = boxes[g.box].input.stored.pairs[g.pair].identity;
      if (id.message_id.empty()) continue;
      Members& m = groups[key(id)];
      m.gone.push_back(&g);
      m.gone_id = m.gone_id || !id.email_id[s].empty();
    }
    for (const auto& f : c.fresh) {
      const auto& id = boxes[f.box].input.delta[s].added[f.added].identity;
      if (id.message_id.empty()) continue;
      Members& m = groups[key(id)];
      m.fresh.push_back(&f);
      m.fresh_id = m.fresh_id || !id.email_id[s].empty();
    }
    for (const auto& [k, m] : groups) {
      const bool ids_differ = !m.gone.empty() && !m.fresh.empty() && m.gone_id && m.fresh_id;
      if (!ambiguous(m.gone.size(), m.fresh.size()) && !ids_differ) continue;
      for (const auto* g : m.gone) {
        const StoredPair& p = boxes[g->box].input.stored.pairs[g->pair];
        if (p.identity.sha256.empty()) out[g->box][t].push_back(p.uid[t]);
      }
      for (const auto* f : m.fresh) {
        const NewMessage& n = boxes[f->box].input.delta[s].added[f->added];
        if (n.identity.sha256.empty()) out[f->box][s].push_back(n.uid);
      }
    }
  }
  for (auto& per : out) {
    for (Side s : kBothSides) {
      std::sort(per[s].begin(), per[s].end());
      per[s].erase(std::unique(per[s].begin(), per[s].end()), per[s].end());
    }
  }
  return out;
}

Status fill_move_hashes(Executor& exec, PerSide<client::Session*> sessions, net::Deadline deadline,
                        std::vector<MailboxInput>& boxes,
                        const std::vector<PerSide<std::string>>& names) {
  const auto want = move_hash_uids(boxes);
  for (std::size_t b = 0; b < boxes.size() && b < names.size(); ++b) {
    if (want[b][Side::Local].empty() && want[b][Side::Remote].empty()) continue;
    auto hashes = fetch_pair_hashes(exec, sessions, names[b], want[b], deadline);
    if (hashes) {
      apply_hashes(boxes[b].input.stored, boxes[b].input.delta, *hashes);
    } else if (hashes.error().scope != Scope::Mailbox && hashes.error().scope != Scope::Message) {
      return hashes.error();
    }
  }
  return {};
}

}  // namespace twinbox::sync
