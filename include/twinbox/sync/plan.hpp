#pragma once
/// The output of the reconciler: a list of actions for the executor (STYLE.md "The reconciler
/// is a pure function"; ninja's Plan/Builder split). A Plan says *what* to do to the servers
/// and the state database; the executor decides *how* (pipelining, batching stores by identical
/// flag sets, MULTIAPPEND, fallbacks for missing capabilities) and records every completed step.
///
/// Determinism: actions are sorted by (kind, side, uid) — kind is the variant index, side and
/// uid are given per action below as its "key". sort_plan() establishes the order and
/// reconcile() returns sorted plans, so two plans compare with ==.

#include <cstdint>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include <twinbox/base/ids.hpp>
#include <twinbox/sync/delta.hpp>

namespace twinbox::sync {

/// Identifies a mailbox pair across the sync layer: the state database's mailbox pair id
/// (state::MailboxPairId). Used only by cross-mailbox actions (Move).
using MailboxKey = std::int64_t;

/// A flag change sent as deltas: `+FLAGS.SILENT (add)` then `-FLAGS.SILENT (remove)`, never a
/// full FLAGS replace, so concurrent changes to other flags survive on servers without
/// CONDSTORE (RFC 4549 §4.2.3, PROTOCOL.md §4.5).
struct FlagDelta {
  Flags add;
  Flags remove;

  [[nodiscard]] bool empty() const { return add.empty() && remove.empty(); }
  bool operator==(const FlagDelta&) const = default;
};

/// Copy message `uid` from side `from` to the other side of the same mailbox pair, with `flags`
/// and identity.internaldate (APPEND, RFC 3501 §6.3.11). Record an append intent before the
/// APPEND (PROTOCOL.md §4.7); afterwards record the pair (uid[from] = uid, uid[other] from
/// APPENDUID or located by content) with base = `flags`, replacing any stored pair whose
/// uid[from] is `uid` (a half pair left by a UIDVALIDITY change on the other side).
/// Key: (from, uid).
struct Copy {
  Side from = Side::Local;
  Uid uid;
  Flags flags;
  MessageIdentity identity;

  bool operator==(const Copy&) const = default;
};

/// Pair two existing messages recognised by content (first sync of two non-empty accounts,
/// lost state, or re-pairing after a UIDVALIDITY change). No transfer. Replaces any stored pair
/// that shares either UID. Base = `base`; the StoreFlags in the same plan bring both sides to
/// it. Key: (Local, uid[Local]).
struct RecordPair {
  PerSide<Uid> uid;
  Flags base;
  MessageIdentity identity;

  bool operator==(const RecordPair&) const = default;
};

/// Change the flags of `uid` on `side` by deltas (see FlagDelta). `unchanged_since` is the
/// UNCHANGEDSINCE to send (RFC 7162 §3.1.3: the snapshot HIGHESTMODSEQ of the read that the
/// merge was based on), 0 when the side has no CONDSTORE. A `[MODIFIED]` answer means "re-read
/// and re-merge on the next pass", not an error. Key: (side, uid).
struct StoreFlags {
  Side side = Side::Local;
  Uid uid;
  FlagDelta change;
  ModSeq unchanged_since;

  bool operator==(const StoreFlags&) const = default;
};

/// Set the stored base flags of the pair `uid` to `base`. Present whenever the merged result
/// differs from the stored base. The executor applies it only after every StoreFlags of that
/// pair succeeded: were it lost, the next run merges the same values again and gets the same
/// result (idempotent). Key: (Local, uid[Local]).
struct UpdateBase {
  PerSide<Uid> uid;
  Flags base;

  bool operator==(const UpdateBase&) const = default;
};

/// Expunge `uid` on `side` because its twin was expunged on the other side, then forget the
/// pair (`pair`). With `mark_only` (the side lacks UIDPLUS, so UID EXPUNGE is unavailable and a
/// plain EXPUNGE would remove other clients' \Deleted messages, RFC 4549 §4.2.4) only
/// `+FLAGS.SILENT (\Deleted)` is stored. Key: (side, uid).
struct Expunge {
  Side side = Side::Local;
  Uid uid;
  PerSide<Uid> pair;
  bool mark_only = false;

  bool operator==(const Expunge&) const = default;
};

/// Forget the stored pair `uid`; nothing happens on the servers (both twins are gone, or one is
/// gone and the other was never known after a UIDVALIDITY change; then the voided UID is 0,
/// as StateStore::void_side leaves it).
/// Key: (Local, uid[Local]), or (Remote, uid[Remote]) when the local UID is void.
struct ForgetPair {
  PerSide<Uid> uid;

  bool operator==(const ForgetPair&) const = default;
};

/// A message moved between mailboxes on one side, replayed as a move on the other
/// (PROTOCOL.md §4.8). Produced by match_moves(), not by reconcile().
/// On `side`, move `from_pair[side]` from mailbox `from` to mailbox `to` (UID MOVE, RFC 6851;
/// without MOVE the executor falls back to COPY + UID EXPUNGE, or to copying `twin`). `twin`
/// is the message that appeared in `to` on the other side. Afterwards: forget `from_pair` in
/// `from`, record the pair (twin, new UID from COPYUID) in `to` with base `base`, and store
/// `store[side]` on the moved message and `store[other(side)]` on `twin`.
/// Key: (side, from_pair[side]).
struct Move {
  Side side = Side::Local;
  MailboxKey from = 0;
  MailboxKey to = 0;
  PerSide<Uid> from_pair;
  Uid twin;
  Flags base;
  PerSide<FlagDelta> store;
  MessageIdentity identity;

  bool operator==(const Move&) const = default;
};

/// Do nothing in this mailbox pair this time, and tell the user why (the deletion guard, a
/// mailbox that makes no sense). A plan with SkipMailbox holds nothing else; the stored state
/// of the mailbox must not advance. Key: none (always sorts last).
struct SkipMailbox {
  std::string reason;

  bool operator==(const SkipMailbox&) const = default;
};

/// Variant order is the "kind" order of the sort.
using Action =
    std::variant<Copy, RecordPair, StoreFlags, UpdateBase, Expunge, ForgetPair, Move, SkipMailbox>;

struct Plan {
  std::vector<Action> actions;

  [[nodiscard]] bool empty() const { return actions.empty(); }
  bool operator==(const Plan&) const = default;
};

/// Sorts by (kind, side, uid), then by the remaining fields, so equal plans are equal vectors.
void sort_plan(Plan& plan);
/// The same plan with Local and Remote swapped everywhere, sorted (for mirror tests).
[[nodiscard]] Action mirror(const Action& action);
[[nodiscard]] Plan mirror(const Plan& plan);
/// True when the plan holds a SkipMailbox.
[[nodiscard]] bool skips_mailbox(const Plan& plan);

/// Readable one-line forms for doctest diffs and logs, e.g. `copy local:7 -> remote
/// [\Seen]`, `store remote:4 +\Flagged -\Seen`, `expunge local:3`.
std::ostream& operator<<(std::ostream& os, const FlagDelta& d);
std::ostream& operator<<(std::ostream& os, const Copy& a);
std::ostream& operator<<(std::ostream& os, const RecordPair& a);
std::ostream& operator<<(std::ostream& os, const StoreFlags& a);
std::ostream& operator<<(std::ostream& os, const UpdateBase& a);
std::ostream& operator<<(std::ostream& os, const Expunge& a);
std::ostream& operator<<(std::ostream& os, const ForgetPair& a);
std::ostream& operator<<(std::ostream& os, const Move& a);
std::ostream& operator<<(std::ostream& os, const SkipMailbox& a);
std::ostream& operator<<(std::ostream& os, const Action& a);
/// One action per line.
std::ostream& operator<<(std::ostream& os, const Plan& plan);
[[nodiscard]] std::string to_string(const Action& a);
[[nodiscard]] std::string to_string(const Plan& plan);

}  // namespace twinbox::sync
