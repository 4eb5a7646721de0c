#pragma once
// Private to the sync layer: pieces of the reconciler (reconcile.cpp) that the cross-mailbox
// move pass (moves.cpp) applies with the same rules.

#include <cstddef>
#include <utility>
#include <vector>

#include <twinbox/sync/delta.hpp>
#include <twinbox/sync/plan.hpp>
#include <twinbox/sync/reconcile.hpp>

namespace twinbox::sync::detail {

/// Drops \Deleted when the policy says not to sync it (reconcile.hpp rule 9).
inline Flags clean(const Policy& policy, const Flags& f) {
  return policy.sync_deleted_flag ? f : flags_without(f, "\\Deleted");
}

/// The +/- change that turns `current` into `target`.
inline FlagDelta flag_delta(const Flags& current, const Flags& target) {
  return FlagDelta{flags_difference(target, current), flags_difference(current, target)};
}

/// Rule 10's matcher, stricter than rule 5's: per content key (Message-ID + size +
/// INTERNALDATE), a group pairs when it holds exactly one member on each side (and their hashes,
/// when both known, agree), or when every member on both sides has a hash: then members pair by
/// hash, each hash appearing once on each side. Anything else (look-alikes without hashes)
/// stays unpaired: the caller falls back to expunge + copy, which is slower but never
/// mis-pairs. Returns (index in a, index in b), sorted.
std::vector<std::pair<std::size_t, std::size_t>> match_exactly(
    const std::vector<const MessageIdentity*>& a, const std::vector<const MessageIdentity*>& b);

}  // namespace twinbox::sync::detail
