#pragma once
// Private to the sync layer: body hashes for groups of look-alike messages (issue 5: identity
// by Message-ID + RFC822.SIZE + INTERNALDATE, "confirmed by a body hash when ambiguous").
//
// The reconciler pairs a content group of several members only by hashes known on every
// member (reconcile.hpp rules 5, 6 and 10). Before reconciling, the engine asks
// ambiguous_uids() which messages are in such a group, fetches exactly their bodies
// (BODY.PEEK[], streamed and hashed chunk by chunk, never buffered) and writes the hashes
// into the identities with apply_hashes(). When no group is ambiguous nothing is fetched, so
// ordinary and no-op syncs send exactly what they sent before.

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <twinbox/base/ids.hpp>
#include <twinbox/sync/delta.hpp>
#include <twinbox/sync/executor.hpp>
#include <twinbox/sync/reconcile.hpp>

namespace twinbox::sync {

/// Hex SHA-256 of message bodies, by UID, per side.
using BodyHashes = PerSide<std::unordered_map<std::uint32_t, std::string>>;

/// The UIDs (sorted, per side) whose body hash the reconciler needs: the members, without a
/// known hash, of every content group (messages with a Message-ID; same Message-ID + size +
/// INTERNALDATE) that the reconciler would have to pair with more than one candidate on a
/// side: new messages on both sides (rule 5), or stored pairs missing on side S (vanished on S
/// only, or S's UIDs void) against new messages on S (rules 6 and 10). A pair missing on S is
/// hashed through its live twin on the other side. A group counts as ambiguous when both
/// parts are non-empty and hold at least three members together.
[[nodiscard]] PerSide<std::vector<Uid>> ambiguous_uids(const StoredMailbox& stored,
                                                       const PerSide<Delta>& delta);

/// Writes known hashes into the new messages' identities and into the identities of stored
/// pairs whose message on that side is live (so the hash is of that pair's content).
void apply_hashes(StoredMailbox& stored, PerSide<Delta>& delta, const BodyHashes& hashes);

/// ambiguous_uids(), then one streamed UID FETCH BODY.PEEK[] per side that has any (after
/// selecting the mailbox through `exec`), then apply_hashes(). A UID the server does not
/// return stays without hash (the reconciler then falls back to its safe rules).
Status fill_ambiguous_hashes(Executor& exec, PerSide<client::Session*> sessions,
                             net::Deadline deadline, MailboxWork& work);

}  // namespace twinbox::sync
