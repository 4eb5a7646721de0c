#pragma once
// Private to the sync layer: the pure and state-only steps of one sync run (engine.cpp).

#include <optional>
#include <string>
#include <vector>

#include <twinbox/client/connect.hpp>
#include <twinbox/client/types.hpp>
#include <twinbox/imap/capability.hpp>
#include <twinbox/state/store.hpp>
#include <twinbox/sync/delta.hpp>
#include <twinbox/sync/mailboxes.hpp>
#include <twinbox/sync/reconcile.hpp>

namespace twinbox::sync {

MessageIdentity from_state(const state::ContentIdentity& c);
/// The stored pairs of a mailbox in the reconciler's form.
StoredMailbox load_stored(const std::vector<state::MessagePair>& pairs);
/// '/'-joined canonical name of a wire name (the wire name itself when it cannot be mapped).
std::string canonical_of(const std::string& wire, const Namespace& ns);
/// A LIST (+ LIST-STATUS) answer as the mailbox-list sync sees it.
MailboxEntry to_entry(const client::ListEntry& e);
/// True when neither side moved since the stored state (PROTOCOL.md §1.5 skip rule). A side
/// without HIGHESTMODSEQ can have changed flags unseen: never skipped.
bool unchanged(const state::MailboxPair& stored, const PerSide<std::optional<MailboxEntry>>& e);
/// Matches pending append intents of a mailbox against the new messages of their target side
/// (PROTOCOL.md §4.7): exactly one unclaimed content match above the pre-append UIDNEXT ->
/// the pair is recorded; none -> the APPEND never happened, the intent is dropped (the copy is
/// planned again); several -> ambiguous, the mailbox stops (never a second copy).
Status resolve_intents(state::StateStore& store, state::MailboxPairId id,
                       const PerSide<Delta>& delta, const StoredMailbox& stored);

/// The personal namespace of a side: the first personal NAMESPACE entry when the server
/// answered one, else no prefix and the delimiter of the LIST answer ('/' when none).
Namespace namespace_of(const std::vector<client::ListEntry>& list,
                       const std::optional<client::NamespaceInfo>& asked);
/// The personal namespace cached in the state's meta table (PROTOCOL.md §1.5: a no-op sync
/// sends one LIST per side and nothing else). The cache entry is valid for one endpoint
/// (transport, host, port, user) with one capability list; `key` is the meta key, `tag` that
/// identity, `value` tag + the namespace.
struct NamespaceCache {
  std::string key;
  std::string tag;
};
NamespaceCache namespace_cache(Side side, const client::EndpointOptions& ep,
                               const imap::CapabilitySet& caps);
/// The cached namespace when the stored value was written for `cache.tag`.
std::optional<Namespace> parse_cached_namespace(const NamespaceCache& cache, std::string_view value);
std::string format_cached_namespace(const NamespaceCache& cache, const Namespace& ns);
/// False when the LIST answer contradicts a cached namespace, so it must be asked again: a
/// hierarchy delimiter other than the cached one, a name outside a cached prefix, or, with no
/// cached prefix, every name under "INBOX<delimiter>" (a prefix that appeared).
bool namespace_fits(const Namespace& ns, const std::vector<client::ListEntry>& entries);

}  // namespace twinbox::sync
