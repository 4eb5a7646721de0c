#pragma once
// Private to the sync layer: the pure and state-only steps of one sync run (engine.cpp).

#include <optional>
#include <string>
#include <vector>

#include <twinbox/client/types.hpp>
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

}  // namespace twinbox::sync
