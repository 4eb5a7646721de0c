#pragma once
// Private to the sync layer: the pure and state-only steps of one sync run (engine.cpp).

#include <functional>
#include <memory>
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

#include "body_hashes.hpp"

namespace twinbox::sync {

MessageIdentity from_state(const state::ContentIdentity& c);
/// The stored pairs of a mailbox in the reconciler's form, read straight from the state (no
/// intermediate vector of state rows: a mailbox's pairs are held once, not twice).
Result<StoredMailbox> load_stored(state::StateStore& store, state::MailboxPairId id);
/// The pairs a pass with these deltas needs (NeededPairs, reconcile.hpp; `extra`: the sources
/// of pending intents, which resolve_intents() looks up), the others counted in `unloaded`.
/// Their other columns are never read. Memory follows the deltas, not the mailbox.
Result<StoredMailbox> load_stored(state::StateStore& store, state::MailboxPairId id,
                                  const PerSide<Delta>& delta, const PerSide<std::vector<Uid>>& extra = {});
/// '/'-joined canonical name of a wire name (the wire name itself when it cannot be mapped).
std::string canonical_of(const std::string& wire, const Namespace& ns);
/// A LIST (+ LIST-STATUS) answer as the mailbox-list sync sees it.
MailboxEntry to_entry(const client::ListEntry& e);
/// True when neither side moved since the stored state (PROTOCOL.md §1.5 skip rule). A side
/// without HIGHESTMODSEQ can have changed flags unseen: never skipped.
bool unchanged(const state::MailboxPair& stored, const PerSide<std::optional<MailboxEntry>>& e);

/// What LIST-STATUS tells about one side of a changed pair before it is read (issue 8).
/// UIDs only grow: with `stored_below` pairs below the stored UIDNEXT, MESSAGES - stored_below
/// == UIDNEXT - stored UIDNEXT means no message vanished (and every new UID is present).
/// Unknown figures count as "may". Only an optimisation rests on it: a move that is not
/// recognised is synced as an expunge plus a copy, the same end state with the body copied.
struct SideChange {
  bool may_vanish = true;
  bool may_add = true;
};
SideChange side_change(const state::SideState& stored, const std::optional<MailboxEntry>& e,
                       std::size_t stored_below);
/// Whether a move is possible among pairs whose sides changed as `changes` say: on one side,
/// a pair that may have lost messages and another that may have gained some.
bool moves_possible(const std::vector<PerSide<SideChange>>& changes);
/// Fetches body hashes of the given UIDs of one mailbox, per side (body_hashes.hpp).
using HashFetch = std::function<Result<BodyHashes>(const PerSide<std::vector<Uid>>&)>;

/// Matches pending append intents of a mailbox against the new messages of their target side
/// (PROTOCOL.md §4.7). Candidates of an intent: unclaimed new messages on the target at or
/// above its pre-append UIDNEXT with the same content key. An intent with exactly one
/// candidate that no other intent shares -> the pair is recorded; none -> the APPEND never
/// happened, the intent is dropped (the copy is planned again).
/// Look-alikes (issue 5): an intent with several candidates, or sharing one with another
/// intent (several look-alikes were being copied), is decided by body hashes, all fetched with
/// one call of `hashes`: the source's hash against the candidates'; the lowest-UID unclaimed
/// candidate with the source's hash is adopted; none with it and none unhashed -> dropped. A
/// source that is gone (not new on its side any more) cannot be hashed: its intent is dropped
/// (its appended copy, if any, is then new mail and is copied back: nothing lost). Still
/// ambiguous (the source or a candidate could not be hashed) -> the mailbox stops, never a
/// second copy. Without `hashes`, such intents stop the mailbox. True when there were intents
/// (the stored pairs may have changed).
Result<bool> resolve_intents(state::StateStore& store, state::MailboxPairId id,
                             const PerSide<Delta>& delta, const StoredMailbox& stored,
                             const HashFetch& hashes = {});

/// Records the server ids (identity.email_id) that a side reported for messages it already
/// pairs (the targets of copies and moves, read again by the confirming pass; reader.hpp) when
/// the stored pair has none or another one. A vanished message's id is only known from here.
/// True when some id was recorded.
Result<bool> learn_email_ids(state::StateStore& store, state::MailboxPairId id,
                             const PerSide<Delta>& delta, const StoredMailbox& stored);

/// Connects the sides whose session is still null, both at once (connect() blocks on DNS,
/// TCP, TLS and login), for a sync run and for the admin operations. Errors name the side and
/// its host ("tunnel" for a tunnel); sessions already connected are kept. With `pipelined`,
/// ID and ENABLE are only queued (client::connect with PendingSetup): the caller awaits them
/// with its first commands.
Status connect_endpoints(const PerSide<client::EndpointOptions>& endpoints,
                         PerSide<std::unique_ptr<client::Session>>& sessions,
                         PerSide<client::PendingSetup>* pipelined = nullptr);

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
