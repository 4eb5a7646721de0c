#pragma once
// Private to the sync layer: the candidates of the cross-mailbox move pass (match_moves(),
// reconcile.hpp), shared by moves.cpp and by the hashing of ambiguous move candidates
// (body_hashes.hpp), so that both see the same candidates.

#include <cstddef>
#include <utility>
#include <vector>

#include <twinbox/sync/reconcile.hpp>

namespace twinbox::sync::detail {

/// A stored pair (index `pair` of boxes[box].input.stored.pairs) that vanished on the side S
/// looked at while its twin on the other side is alive and unchanged in place.
struct GoneRef {
  std::size_t box;
  std::size_t pair;
};
/// A new message on S (index `added` of boxes[box].input.delta[S].added), in no pair.
struct FreshRef {
  std::size_t box;
  std::size_t added;
};
struct MoveCandidates {
  std::vector<GoneRef> gone;
  std::vector<FreshRef> fresh;
};

/// The candidates of side `s` in mailboxes that take part (no UIDVALIDITY change on either
/// side). A new message whose content also appeared new on the other side of its own mailbox
/// is left to reconcile rule 5 and is no candidate.
MoveCandidates move_candidates(const std::vector<MailboxInput>& boxes, Side s);

/// Matches by the server's message id (identity.email_id[s], EMAILID or X-GM-MSGID): a gone
/// pair and a new message in another mailbox with the same non-empty id on the same side. Equal
/// ids name the same message on that server, so any pairing among equal ids is right; each
/// candidate is used once (in list order). Returns (index in gone, index in fresh).
std::vector<std::pair<std::size_t, std::size_t>> match_by_email_id(
    const std::vector<MailboxInput>& boxes, Side s, const MoveCandidates& c);

/// `c` without the candidates used by `matched` (as returned by match_by_email_id()).
MoveCandidates remaining(const MoveCandidates& c,
                         const std::vector<std::pair<std::size_t, std::size_t>>& matched);

}  // namespace twinbox::sync::detail
