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
//
// The same is done across mailboxes for the move pass (move_hash_uids(), fill_move_hashes():
// look-alikes moved between mailboxes) and for pending append intents with several look-alike
// candidates (resolve_intents(), engine_steps.hpp). Hashing reads bodies (download only); a
// recognised move then sends no body at all.

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

/// Selects `mailbox` on side `s` through `exec` and hashes the bodies of `uids` with one
/// streamed UID FETCH BODY.PEEK[], into `out`. A UID the server does not return has no entry.
Status fetch_body_hashes(Executor& exec, client::Session& session, Side s,
                         const std::string& mailbox, const std::vector<Uid>& uids,
                         net::Deadline deadline, std::unordered_map<std::uint32_t, std::string>& out);

/// fetch_body_hashes() on both sides of one mailbox pair (wire names `names`).
Result<BodyHashes> fetch_pair_hashes(Executor& exec, PerSide<client::Session*> sessions,
                                     const PerSide<std::string>& names,
                                     const PerSide<std::vector<Uid>>& uids, net::Deadline deadline);

/// ambiguous_uids(), then fetch_body_hashes() per side that has any, then apply_hashes(). A
/// UID without hash leaves the reconciler to its safe rules.
Status fill_ambiguous_hashes(Executor& exec, PerSide<client::Session*> sessions,
                             net::Deadline deadline, MailboxWork& work);

/// For match_moves() (reconcile.hpp): per entry of `boxes`, the UIDs (sorted, per side) whose
/// hash it needs. On side S, after the id matches (moves.hpp), the content groups of the
/// candidates left that hold vanished pairs and new messages, at least three together, or
/// in which both a vanished pair and a new message carry ids of S (different ones, or the id
/// pass would have matched them: only equal bodies make them a move). A new message is hashed
/// on S in its mailbox; a vanished pair through its live twin on the other side, in its own
/// mailbox.
[[nodiscard]] std::vector<PerSide<std::vector<Uid>>> move_hash_uids(
    const std::vector<MailboxInput>& boxes);

/// move_hash_uids(), fetch_body_hashes() and apply_hashes() for every mailbox that needs it;
/// `names[i]` are the wire names of boxes[i]. A mailbox-scope failure (e.g. a SELECT refused)
/// leaves that mailbox unhashed (its look-alikes are then copied and expunged, never mis-moved);
/// connection and fatal errors are returned.
Status fill_move_hashes(Executor& exec, PerSide<client::Session*> sessions, net::Deadline deadline,
                        std::vector<MailboxInput>& boxes,
                        const std::vector<PerSide<std::string>>& names);

}  // namespace twinbox::sync
