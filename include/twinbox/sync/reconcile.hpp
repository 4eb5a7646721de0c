#pragma once
/// The reconciler: `(stored pairs, local Delta, remote Delta) -> Plan` (DESIGN.md "Sync
/// rules", STYLE.md "The reconciler is a pure function"). No I/O, no clock, no logging, no
/// SQLite: everything it needs comes in ReconcileInput, everything it decides goes out in the
/// Plan. Every rule is written once for a Side.
///
/// Rules, per stored pair P = (uid[L], uid[R], base) and side S with other side T:
///  1. P vanished on S and on T                -> ForgetPair.
///  2. P vanished on S only                    -> Expunge uid[T] on T (expunge beats any
///     concurrent flag change on T). mark_only when T lacks UIDPLUS. Unless rule 10 applies.
///  3. P alive on both                         -> cur[S] = reported flags or base;
///     result = merge_flags(base, cur[L], cur[R]); StoreFlags(S, +(result−cur[S]),
///     −(cur[S]−result)) for each side that differs; UpdateBase when result ≠ base.
///     Never a full replace. \Recent never appears (Flags strips it).
///  4. New message on S, no content twin       -> Copy S -> T with its flags and INTERNALDATE.
///  5. New on both sides with the same content key (first sync of two non-empty accounts, or
///     lost state) -> RecordPair, base = union of both sides' flags (there is no base, so no
///     flag can have been "removed"), plus StoreFlags for the side(s) missing some.
///     Ambiguity: messages are grouped by content key (Message-ID + size + INTERNALDATE, and
///     hash when both have one). A group in which every member on both sides has a body hash
///     pairs by hash, each hash appearing once per side; otherwise it is paired, in UID
///     order, only when both sides have the same number of messages in it. Everything else
///     in the group is copied: a duplicate is recoverable, a wrong pairing can later delete
///     the wrong mail. (The engine fetches and hashes the bodies of look-alike groups before
///     reconciling, src/sync/body_hashes.hpp, so same-count groups are normally hashed.)
///     Messages without Message-ID and hash are never paired by content.
///  6. UIDVALIDITY changed on S (or a pair whose uid[S] is void, i.e. 0, as left by
///     StateStore::void_side): uid[S] of every pair is void. Such a half pair is re-paired
///     with a new message on S of the same content (same grouping rule as 5) -> RecordPair
///     with the old uid[T]; its flags merge with S's removals ignored (S has no trustworthy
///     base: result = merge(base, base, cur[T]) ∪ cur[S]), so no flag is lost. A half pair
///     with no match on S is never a reason to delete on T: its twin on T is copied to S
///     again (Copy T -> S, which replaces the half pair). If T's twin vanished too, ForgetPair.
///  7. A vanished or changed UID that is in no pair is ignored (e.g. a message that arrived
///     and was expunged between two runs, or our own Copy target seen before it was recorded).
///     A "new" message whose UID is already paired on S is treated as a flag report.
///  8. Deletion guard: if the plan would expunge on one side at least `mass_delete_min`
///     messages and more than `mass_delete_percent` % of the stored pairs, and
///     allow_mass_delete is off, the plan is only SkipMailbox with a reason naming the counts
///     and --allow-mass-delete. UIDVALIDITY changes never expunge (rule 6), so they never
///     trip it.
///  9. `sync_deleted_flag` off: `\Deleted` is removed from every flag set before merging, so it
///     is neither propagated nor part of the base (PROTOCOL.md §4.6: Gmail auto-expunges on
///     \Deleted). Expunges are still propagated.
/// 10. UIDs renumbered without a UIDVALIDITY change (a server that rebuilt its index, a
///     mailbox restored from backup, issue 10): P vanished on S only while a new message on S
///     has P's content -> RecordPair(new uid on S, uid[T]) with flags as in rule 6 (S's
///     removals ignored, so no flag is lost), instead of Expunge on T + Copy S -> T. Nothing is
///     deleted and the deletion guard is not involved. Matched before rule 2, stricter than
///     rule 5 because the fallback is safe: per content key exactly one vanished pair and one
///     new message, or, when several share the key, only by hashes known on every member
///     (each hash once per side). Anything else is left to rules 2 and 4 (expunge + copy: the
///     end state is right, never a wrong pairing). A pair vanished on both sides is not
///     matched (rule 1, then the new message is copied to T: that undoes T's expunge, but
///     never loses mail).
///
/// Moves across mailboxes (PROTOCOL.md §4.8) are found one level up by match_moves(), which
/// sees every mailbox pair's input of one pass before any is reconciled.

#include <cstddef>
#include <cstdint>
#include <vector>

#include <twinbox/base/ids.hpp>
#include <twinbox/sync/delta.hpp>
#include <twinbox/sync/plan.hpp>

namespace twinbox::sync {

/// A stored message pair, as read from the state database (the sync layer converts
/// state::MessagePair: base flags via parse_flags()). uid[S] is 0 when void (after a
/// UIDVALIDITY change on S).
struct StoredPair {
  PerSide<Uid> uid;
  Flags base;
  MessageIdentity identity;

  bool operator==(const StoredPair&) const = default;
};

/// The stored pairs of a mailbox that one reconcile() needs. A sync pass loads only the pairs
/// its deltas name (a UID in vanished, changed or added on its side), the pairs with a void
/// side, and every pair when a side's UIDVALIDITY changed (load_stored in engine_steps.hpp):
/// no rule acts on a pair that no delta names, since unchanged flags on both sides merge to
/// the base (rule 3). `unloaded` counts the rest, for the deletion guard's share (rule 8).
struct StoredMailbox {
  std::vector<StoredPair> pairs;  ///< any order
  std::size_t unloaded = 0;       ///< pairs in the state that are not in `pairs`

  bool operator==(const StoredMailbox&) const = default;
};

/// Which stored pairs a reconcile() (and match_moves()) with these deltas needs: a pair one of
/// whose UIDs a delta names on its side (vanished, changed, added: rule 7) or `extra` names,
/// a pair with a void side (rule 6), and every pair when a side's UIDVALIDITY changed. The
/// plan over these pairs, with the others counted in StoredMailbox::unloaded, equals the plan
/// over all of them (tests/unit/sync/partial_stored_test.cpp).
class NeededPairs {
 public:
  explicit NeededPairs(const PerSide<Delta>& delta, const PerSide<std::vector<Uid>>& extra = {});
  /// Every pair is needed (a UIDVALIDITY change).
  [[nodiscard]] bool all() const { return all_; }
  [[nodiscard]] bool operator()(const PerSide<Uid>& uid) const;

 private:
  bool all_ = false;
  PerSide<std::vector<std::uint32_t>> named_;  ///< sorted, unique
};

/// The capabilities of one side that change the plan.
struct Caps {
  bool condstore = false;  ///< StoreFlags carries UNCHANGEDSINCE (RFC 7162)
  bool uidplus = false;    ///< UID EXPUNGE available (RFC 4315); else Expunge is mark_only

  bool operator==(const Caps&) const = default;
};

/// User policy. Defaults are the safe ones.
struct Policy {
  unsigned mass_delete_percent = 50;  ///< guard trips above this share of the stored pairs …
  std::size_t mass_delete_min = 10;   ///< … and at or above this many expunges on one side
  bool allow_mass_delete = false;     ///< --allow-mass-delete
  bool sync_deleted_flag = true;      ///< propagate the \Deleted flag (rule 9)

  bool operator==(const Policy&) const = default;
};

struct ReconcileInput {
  StoredMailbox stored;
  PerSide<Delta> delta;
  PerSide<Caps> caps;
  Policy policy;
};

/// Computes the plan for one mailbox pair. Total: any input gives a plan (never asserts on
/// peer data). Sorted (sort_plan()). Deterministic.
[[nodiscard]] Plan reconcile(const ReconcileInput& in);

/// One mailbox pair's input, for the cross-mailbox move pass.
struct MailboxInput {
  MailboxKey mailbox = 0;
  ReconcileInput input;
};

/// Finds messages moved between mailboxes on one side within one pass (PROTOCOL.md §4.8): a
/// stored pair P of mailbox X vanished on side S (and its twin on T is still alive), while a
/// new message with the same content appeared on S in another mailbox Y. Each such match
/// becomes a Move on T of P's twin from X to Y (flags merged as in rule 3, with the new message's
/// flags as S's current flags), and is removed from the inputs: P from X's stored pairs, its
/// UID from X's delta[S].vanished, the new message from Y's delta[S].added. Reconciling the
/// mutated inputs afterwards gives the rest of the work, without expunge or copy for the moved
/// messages.
///
/// Identity (issue 5), per side S, in this order (src/sync/moves.cpp):
///  1. The server's own id, identity.email_id[S] (EMAILID, RFC 8474, or X-GM-MSGID): a vanished
///     pair whose stored id equals a new message's id in another mailbox is that message. Ids
///     are per server, never compared across sides; equal ids mean the same message, so no
///     Message-ID, size or date is needed (a message without Message-ID is recognised too).
///  2. For what is left, the content key with rule 10's strict ambiguity rule: per content key
///     exactly one vanished pair and one new message (counting every candidate of every
///     mailbox), or, for look-alikes (same Message-ID, size and INTERNALDATE, different
///     bodies), pairing by body hashes known on every member, each hash once per part. The
///     engine hashes such groups before matching (body_hashes.hpp, move_hash_uids()). A
///     vanished pair and a new message that both carry ids of S, different ones, are different
///     objects to that server (a client that moves by APPEND + EXPUNGE, or another look-alike):
///     they are matched only when both bodies were hashed and agree.
///  Anything else is left to copy + expunge (a duplicate at worst, never a loss). A new message
///  whose content also matches a new message on T in its own mailbox is left to rule 5. A match
///  within one mailbox is left to rule 10. Mailboxes whose delta on either side has
///  uidvalidity_changed take no part.
/// The Move's identity carries the pair's stored identity with email_id[S] of the new message.
/// Returns the moves sorted by (side, from, uid).
[[nodiscard]] std::vector<Move> match_moves(std::vector<MailboxInput>& mailboxes);

}  // namespace twinbox::sync
