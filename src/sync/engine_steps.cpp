#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "engine_steps.hpp"

namespace twinbox::sync {

MessageIdentity from_state(const state::ContentIdentity& c) {
  return {c.message_id, c.size, c.internaldate, c.sha256, c.email_id};
}

Result<StoredMailbox> load_stored(state::StateStore& store, state::MailboxPairId id) {
  StoredMailbox m;
  auto n = store.count_pairs(id);
  if (!n) return n.error();
  m.pairs.reserve(*n);
  auto st = store.for_each_pair(id, [&](const state::MessagePair& p) -> Status {
    m.pairs.push_back({p.uid, parse_flags(p.base_flags), from_state(p.identity)});
    return {};
  });
  if (!st) return st.error();
  return m;
}

Result<StoredMailbox> load_stored(state::StateStore& store, state::MailboxPairId id,
                                  const PerSide<Delta>& delta, const PerSide<std::vector<Uid>>& extra) {
  const NeededPairs needed(delta, extra);
  if (needed.all()) return load_stored(store, id);
  StoredMailbox m;
  auto want = [&](const PerSide<Uid>& uid) {
    if (needed(uid)) return true;
    ++m.unloaded;
    return false;
  };
  auto st = store.for_each_pair_if(id, want, [&](const state::MessagePair& p) -> Status {
    m.pairs.push_back({p.uid, parse_flags(p.base_flags), from_state(p.identity)});
    return {};
  });
  if (!st) return st.error();
  return m;
}

std::string canonical_of(const std::string& wire, const Namespace& ns) {
  auto p = canonical_path(wire, ns);
  if (!p) return wire;
  std::string out;
  for (const auto& c : *p) {
    if (!out.empty()) out += '/';
    out += c;
  }
  return out;
}

MailboxEntry to_entry(const client::ListEntry& e) {
  MailboxEntry m;
  m.name = e.name;
  m.special_use = e.special_use;
  m.selectable = e.selectable();
  m.subscribed = e.subscribed;
  m.is_virtual = e.has_attribute("\\All") || e.has_attribute("\\Flagged");
  if (m.special_use == "\\All" || m.special_use == "\\Flagged") m.special_use.clear();
  if (e.status) {
    if (e.status->uid_validity) m.uidvalidity = *e.status->uid_validity;
    if (e.status->uid_next) m.uidnext = *e.status->uid_next;
    if (e.status->highest_modseq) m.highestmodseq = *e.status->highest_modseq;
    if (e.status->messages) m.messages = *e.status->messages;
    if (e.status->mailbox_id) m.mailbox_id = *e.status->mailbox_id;
  }
  return m;
}

/// True when neither side moved since the stored state (PROTOCOL.md §1.5 skip rule). A side
/// without HIGHESTMODSEQ can have changed flags unseen: never skipped.
bool unchanged(const state::MailboxPair& stored, const PerSide<std::optional<MailboxEntry>>& e) {
  for (Side s : kBothSides) {
    if (!e[s]) return false;
    const auto& st = stored.side[s];
    const auto& en = *e[s];
    if (!st.uidvalidity.valid() || !en.uidvalidity || !en.uidnext || !en.highestmodseq) return false;
    if (*en.uidvalidity != st.uidvalidity || *en.uidnext != st.uidnext ||
        *en.highestmodseq != st.highestmodseq || en.highestmodseq->value == 0) {
      return false;
    }
  }
  return true;
}

SideChange side_change(const state::SideState& stored, const std::optional<MailboxEntry>& e,
                       std::size_t stored_below) {
  SideChange c;
  if (!e || !e->uidvalidity || !e->uidnext || !e->messages || !stored.uidvalidity.valid() ||
      *e->uidvalidity != stored.uidvalidity || e->uidnext->value < stored.uidnext.value) {
    return c;
  }
  std::uint64_t grown = e->uidnext->value - stored.uidnext.value;
  c.may_add = grown > 0;
  c.may_vanish = static_cast<std::uint64_t>(*e->messages) != stored_below + grown;
  return c;
}

bool moves_possible(const std::vector<PerSide<SideChange>>& changes) {
  for (Side s : kBothSides) {
    // One pass: the pairs that may have lost messages and those that may have gained some.
    // A move needs one of each that are not the same pair.
    std::size_t lost = 0, gained = 0, both = 0;
    for (const auto& c : changes) {
      lost += c[s].may_vanish ? 1 : 0;
      gained += c[s].may_add ? 1 : 0;
      both += c[s].may_vanish && c[s].may_add ? 1 : 0;
    }
    if (lost > 0 && gained > 0 && !(lost == 1 && gained == 1 && both == 1)) return true;
  }
  return false;
}

namespace {

/// One pending intent and its candidates (resolve_intents()).
struct IntentMatch {
  const state::AppendIntent* intent;
  Side to;
  std::vector<const NewMessage*> found;
  bool needs_hash = false;
};

/// The mailbox-scope stop when a crash left copies twinbox cannot tell apart.
Error ambiguous_intent(std::size_t n, Side to) {
  return fail(Errc::Conflict, Scope::Mailbox,
              "an interrupted copy left " + std::to_string(n) + " candidate messages on the " +
                  std::string(to_string(to)) +
                  " side and twinbox cannot tell which one it appended; remove the duplicates "
                  "there (or run 'twinbox repair'), then sync again");
}

/// True when `uid` on side `s` still exists as far as this run knows: new on s, or a stored
/// pair's UID that did not vanish (the source of a copy back to a side that lost its UIDs).
bool source_alive(const PerSide<Delta>& delta, const StoredMailbox& stored, Side s, Uid uid) {
  const Delta& d = delta[s];
  if (std::any_of(d.added.begin(), d.added.end(), [uid](const NewMessage& m) { return m.uid == uid; })) {
    return true;
  }
  if (d.uidvalidity_changed || std::binary_search(d.vanished.begin(), d.vanished.end(), uid)) {
    return false;
  }
  return std::any_of(stored.pairs.begin(), stored.pairs.end(),
                     [&](const StoredPair& p) { return p.uid[s] == uid; });
}

/// The intents still open (matched against the target's new messages) and the ones to drop
/// at once (target renumbered). Marks the intents whose candidates are ambiguous.
std::vector<IntentMatch> match_intents(const std::vector<state::AppendIntent>& intents,
                                       const PerSide<Delta>& delta,
                                       const PerSide<std::set<std::uint32_t>>& claimed,
                                       std::vector<std::int64_t>& drop) {
  std::vector<IntentMatch> open;
  PerSide<std::map<std::uint32_t, int>> shared;  ///< candidate UID -> number of intents
  for (const auto& in : intents) {
    const Side to = other(in.source_side);
    const Delta& d = delta[to];
    if (d.snapshot.uidvalidity != in.target_uidvalidity) {
      drop.push_back(in.id);  // target renumbered: content re-pairing takes over
      continue;
    }
    const MessageIdentity want = from_state(in.identity);
    IntentMatch im{&in, to, {}, false};
    for (const auto& m : d.added) {
      if (m.uid.value < in.target_uidnext.value || claimed[to].count(m.uid.value)) continue;
      if (same_content(m.identity, want)) {
        im.found.push_back(&m);
        ++shared[to][m.uid.value];
      }
    }
    open.push_back(std::move(im));
  }
  for (auto& im : open) {
    im.needs_hash = im.found.size() > 1 ||
                    std::any_of(im.found.begin(), im.found.end(), [&](const NewMessage* m) {
                      return shared[im.to][m->uid.value] > 1;
                    });
  }
  return open;
}

/// The bodies to hash for the ambiguous intents: their sources and their candidates.
PerSide<std::vector<Uid>> hash_requests(const std::vector<IntentMatch>& open) {
  PerSide<std::vector<Uid>> want;
  for (const auto& im : open) {
    if (!im.needs_hash) continue;
    if (im.intent->identity.sha256.empty()) want[im.intent->source_side].push_back(im.intent->source_uid);
    for (const NewMessage* m : im.found) {
      if (m->identity.sha256.empty()) want[im.to].push_back(m->uid);
    }
  }
  for (Side s : kBothSides) {
    std::sort(want[s].begin(), want[s].end());
    want[s].erase(std::unique(want[s].begin(), want[s].end()), want[s].end());
  }
  return want;
}

/// The candidate an intent adopts (nullptr: none, the intent is just dropped), or the
/// mailbox-scope error when it stays ambiguous.
Result<const NewMessage*> pick_candidate(const IntentMatch& im, const PerSide<Delta>& delta,
                                         const StoredMailbox& stored, const BodyHashes& known,
                                         const PerSide<std::set<std::uint32_t>>& claimed) {
  const state::AppendIntent& in = *im.intent;
  constexpr const NewMessage* kNone = nullptr;
  if (!im.needs_hash) return im.found.empty() ? kNone : im.found.front();
  auto hash_of = [&known](Side s, Uid uid, const std::string& stored_hash) -> std::string {
    if (!stored_hash.empty()) return stored_hash;
    auto it = known[s].find(uid.value);
    return it == known[s].end() ? std::string() : it->second;
  };
  const std::string src = hash_of(in.source_side, in.source_uid, in.identity.sha256);
  if (src.empty()) {
    if (!source_alive(delta, stored, in.source_side, in.source_uid)) return kNone;
    return ambiguous_intent(im.found.size(), im.to);
  }
  bool unhashed = false;
  for (const NewMessage* m : im.found) {  // in UID order: the lowest with the hash wins
    if (claimed[im.to].count(m->uid.value)) continue;
    const std::string h = hash_of(im.to, m->uid, m->identity.sha256);
    if (h == src) return m;
    unhashed = unhashed || h.empty();
  }
  if (unhashed) return ambiguous_intent(im.found.size(), im.to);
  return kNone;
}

}  // namespace

Result<bool> resolve_intents(state::StateStore& store, state::MailboxPairId id,
                             const PerSide<Delta>& delta, const StoredMailbox& stored,
                             const HashFetch& hashes) {
  auto intents = store.intents(id);
  if (!intents) return intents.error();
  if (intents->empty()) return false;
  PerSide<std::set<std::uint32_t>> claimed;
  for (const auto& p : stored.pairs) {
    for (Side s : kBothSides) {
      if (p.uid[s].valid()) claimed[s].insert(p.uid[s].value);
    }
  }
  std::vector<std::int64_t> drop;
  const std::vector<IntentMatch> open = match_intents(*intents, delta, claimed, drop);
  // Look-alikes: every source and candidate of an ambiguous intent hashed in one call.
  BodyHashes known;
  const PerSide<std::vector<Uid>> want = hash_requests(open);
  if ((!want[Side::Local].empty() || !want[Side::Remote].empty()) && hashes) {
    auto h = hashes(want);
    if (!h) return h.error();
    known = std::move(*h);
  }
  std::vector<state::MessagePair> adopt;
  for (const auto& im : open) {
    drop.push_back(im.intent->id);
    auto pick = pick_candidate(im, delta, stored, known, claimed);
    if (!pick) return pick.error();
    if (*pick == nullptr) continue;  // the APPEND never happened: planned again
    const state::AppendIntent& in = *im.intent;
    state::MessagePair p;
    p.uid[in.source_side] = in.source_uid;
    p.uid[im.to] = (*pick)->uid;
    p.base_flags = in.flags;
    p.identity = in.identity;
    p.identity.email_id[im.to] = (*pick)->identity.email_id[im.to];
    claimed[im.to].insert((*pick)->uid.value);
    adopt.push_back(std::move(p));
  }
  auto txn = store.begin();
  if (!txn) return txn.error();
  if (!adopt.empty()) {
    if (auto st = store.upsert_pairs(id, adopt); !st) return st.error();
  }
  for (auto i : drop) {
    if (auto st = store.drop_intent(i); !st) return st.error();
  }
  if (auto st = txn->commit(); !st) return st.error();
  return true;
}

Result<bool> learn_email_ids(state::StateStore& store, state::MailboxPairId id,
                             const PerSide<Delta>& delta, const StoredMailbox& stored) {
  bool changed = false;
  for (Side s : kBothSides) {
    if (delta[s].uidvalidity_changed) continue;
    std::map<std::uint32_t, const std::string*> known;
    for (const auto& p : stored.pairs) {
      if (p.uid[s].valid()) known[p.uid[s].value] = &p.identity.email_id[s];
    }
    std::vector<std::pair<Uid, std::string>> learnt;
    for (const auto& m : delta[s].added) {
      const std::string& e = m.identity.email_id[s];
      auto it = known.find(m.uid.value);
      if (e.empty() || it == known.end() || *it->second == e) continue;
      learnt.emplace_back(m.uid, e);
    }
    if (learnt.empty()) continue;
    if (auto st = store.set_email_ids(id, s, learnt); !st) return st.error();
    changed = true;
  }
  return changed;
}

Status connect_endpoints(const PerSide<client::EndpointOptions>& endpoints,
                         PerSide<std::unique_ptr<client::Session>>& sessions,
                         PerSide<client::PendingSetup>* pipelined) {
  using SessionResult = Result<std::unique_ptr<client::Session>>;
  PerSide<SessionResult> res{{SessionResult(Error()), SessionResult(Error())}};
  auto one = [&](Side s) {
    res[s] = pipelined ? client::connect(endpoints[s], (*pipelined)[s]) : client::connect(endpoints[s]);
  };
  std::thread remote;
  if (!sessions[Side::Remote]) remote = std::thread([&] { one(Side::Remote); });
  if (!sessions[Side::Local]) one(Side::Local);
  if (remote.joinable()) remote.join();
  for (Side s : kBothSides) {
    if (sessions[s]) continue;
    if (!res[s]) {
      const auto& ep = endpoints[s];
      std::string where = ep.transport == client::Transport::Tunnel ? "tunnel" : ep.host;
      return res[s].error().with_context(std::string(to_string(s)) + " (" + where + ")");
    }
    sessions[s] = std::move(*res[s]);
  }
  return {};
}

Namespace namespace_of(const std::vector<client::ListEntry>& list,
                       const std::optional<client::NamespaceInfo>& asked) {
  Namespace ns;
  for (const auto& e : list) {
    if (e.delimiter) {
      ns.delimiter = *e.delimiter;
      break;
    }
  }
  if (asked && !asked->personal.empty()) {
    ns.prefix = asked->personal.front().prefix;
    if (asked->personal.front().delimiter) ns.delimiter = *asked->personal.front().delimiter;
  }
  return ns;
}

NamespaceCache namespace_cache(Side side, const client::EndpointOptions& ep,
                               const imap::CapabilitySet& caps) {
  NamespaceCache c;
  c.key = "namespace." + std::string(to_string(side));
  c.tag = std::to_string(static_cast<int>(ep.transport)) + " " + ep.host + " " +
          std::to_string(ep.port) + " " + ep.tunnel_command + " " + ep.credentials.username + " |";
  for (const auto& cap : caps.items()) c.tag += " " + cap;
  return c;
}

std::optional<Namespace> parse_cached_namespace(const NamespaceCache& cache, std::string_view value) {
  // value = tag '\n' delimiter prefix
  if (value.size() < cache.tag.size() + 2 || value.substr(0, cache.tag.size()) != cache.tag ||
      value[cache.tag.size()] != '\n') {
    return std::nullopt;
  }
  Namespace ns;
  ns.delimiter = value[cache.tag.size() + 1];
  ns.prefix = std::string(value.substr(cache.tag.size() + 2));
  return ns;
}

std::string format_cached_namespace(const NamespaceCache& cache, const Namespace& ns) {
  return cache.tag + "\n" + std::string(1, ns.delimiter) + ns.prefix;
}

bool namespace_fits(const Namespace& ns, const std::vector<client::ListEntry>& entries) {
  auto is_inbox = [](const std::string& n) {
    return n.size() == 5 && (n[0] | 0x20) == 'i' && (n[1] | 0x20) == 'n' && (n[2] | 0x20) == 'b' &&
           (n[3] | 0x20) == 'o' && (n[4] | 0x20) == 'x';
  };
  const std::string inbox_child = "INBOX" + std::string(1, ns.delimiter);
  std::size_t others = 0;
  std::size_t under_inbox = 0;
  for (const auto& e : entries) {
    if (e.delimiter && *e.delimiter != ns.delimiter) return false;
    if (is_inbox(e.name)) continue;
    ++others;
    if (!ns.prefix.empty() && e.name.compare(0, ns.prefix.size(), ns.prefix) != 0) return false;
    if (e.name.compare(0, inbox_child.size(), inbox_child) == 0) ++under_inbox;
  }
  return !(ns.prefix.empty() && others > 0 && under_inbox == others);
}

}  // namespace twinbox::sync
