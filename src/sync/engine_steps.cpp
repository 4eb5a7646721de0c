#include <set>

#include "engine_steps.hpp"

namespace twinbox::sync {

MessageIdentity from_state(const state::ContentIdentity& c) {
  return {c.message_id, c.size, c.internaldate, c.sha256};
}

StoredMailbox load_stored(const std::vector<state::MessagePair>& pairs) {
  StoredMailbox m;
  m.pairs.reserve(pairs.size());
  for (const auto& p : pairs) {
    m.pairs.push_back({p.uid, parse_flags(p.base_flags), from_state(p.identity)});
  }
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

/// Matches pending append intents of a mailbox against the new messages of their target side
/// (PROTOCOL.md §4.7): exactly one unclaimed content match above the pre-append UIDNEXT ->
/// the pair is recorded; none -> the APPEND never happened, the intent is dropped (the copy is
/// planned again); several -> ambiguous, the mailbox stops (never a second copy).
Status resolve_intents(state::StateStore& store, state::MailboxPairId id,
                       const PerSide<Delta>& delta, const StoredMailbox& stored) {
  auto intents = store.intents(id);
  if (!intents) return intents.error();
  if (intents->empty()) return {};
  PerSide<std::set<std::uint32_t>> claimed;
  for (const auto& p : stored.pairs) {
    for (Side s : kBothSides) {
      if (p.uid[s].valid()) claimed[s].insert(p.uid[s].value);
    }
  }
  std::vector<state::MessagePair> adopt;
  std::vector<std::int64_t> drop;
  for (const auto& in : *intents) {
    Side to = other(in.source_side);
    const Delta& d = delta[to];
    if (d.snapshot.uidvalidity != in.target_uidvalidity) {
      drop.push_back(in.id);  // target renumbered: content re-pairing takes over
      continue;
    }
    MessageIdentity want = from_state(in.identity);
    std::vector<const NewMessage*> found;
    for (const auto& m : d.added) {
      if (m.uid.value < in.target_uidnext.value || claimed[to].count(m.uid.value)) continue;
      if (same_content(m.identity, want)) found.push_back(&m);
    }
    if (found.size() > 1) {
      return fail(Errc::Conflict, Scope::Mailbox,
                  "an interrupted copy left " + std::to_string(found.size()) +
                      " candidate messages on the " + std::string(to_string(to)) +
                      " side and twinbox cannot tell which one it appended; remove the "
                      "duplicates there (or run 'twinbox repair'), then sync again");
    }
    if (found.empty()) {
      drop.push_back(in.id);
      continue;
    }
    state::MessagePair p;
    p.uid[in.source_side] = in.source_uid;
    p.uid[to] = found.front()->uid;
    p.base_flags = in.flags;
    p.identity = in.identity;
    claimed[to].insert(found.front()->uid.value);
    adopt.push_back(std::move(p));
    drop.push_back(in.id);
  }
  auto txn = store.begin();
  if (!txn) return txn.error();
  if (!adopt.empty()) {
    if (auto st = store.upsert_pairs(id, adopt); !st) return st;
  }
  for (auto i : drop) {
    if (auto st = store.drop_intent(i); !st) return st;
  }
  return txn->commit();
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
