#pragma once
/// What one side of one mailbox pair did since the stored state: the output of a delta reader
/// (QRESYNC, CONDSTORE-only or plain UID diff, PROTOCOL.md §0 and §2) and the input of the
/// reconciler. The readers differ; the Delta they produce does not (DESIGN.md "Data flow" 4).
///
/// Also the flag vocabulary of the sync layer: `Flags`, a normalised flag list, and the
/// helpers that keep it normalised. The state database stores flags as text produced by
/// format_flags() and read back by parse_flags().

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <twinbox/base/ids.hpp>

namespace twinbox::sync {

/// A normalised flag list. Invariant (established by normalize_flags(), kept by every helper
/// below): system flags in canonical case (`\Seen \Answered \Flagged \Deleted \Draft`),
/// `\Recent` and `\*` absent (RFC 3501 §2.3.2: \Recent is per session and cannot be stored;
/// PROTOCOL.md §4.6), no empty strings, sorted by ASCII-case-folded name, unique ignoring case
/// (flags are case-insensitive, RFC 9051 §2.3.2; the first spelling seen wins). Equality of
/// two normalised lists is therefore plain vector equality up to keyword spelling: compare
/// with same_flags().
using Flags = std::vector<std::string>;

/// Normalises any list of flags as read from a server (see Flags).
[[nodiscard]] Flags normalize_flags(std::vector<std::string> raw);
/// Convenience for tests and literals: `flags({"\\seen", "$Junk"})`.
[[nodiscard]] Flags make_flags(std::initializer_list<std::string_view> raw);
/// Space-separated text form, for the state database and for logs: `\Flagged \Seen $Junk`.
/// Flags are atoms (no spaces), so the form is unambiguous.
[[nodiscard]] std::string format_flags(const Flags& flags);
/// Inverse of format_flags(); normalises, so any spacing or order is accepted.
[[nodiscard]] Flags parse_flags(std::string_view text);

/// a ∪ b, a − b, a ∩ b, membership and equality, all ignoring case. Inputs must be normalised.
[[nodiscard]] Flags flags_union(const Flags& a, const Flags& b);
[[nodiscard]] Flags flags_difference(const Flags& a, const Flags& b);
[[nodiscard]] Flags flags_intersection(const Flags& a, const Flags& b);
[[nodiscard]] bool flags_contain(const Flags& set, std::string_view flag);
[[nodiscard]] bool same_flags(const Flags& a, const Flags& b);
/// Returns `flags` without `flag` (ignoring case).
[[nodiscard]] Flags flags_without(const Flags& flags, std::string_view flag);

/// Three-way merge per flag (DESIGN.md "Sync rules"):
/// `result = (base − removed_a − removed_b) ∪ added_a ∪ added_b`, with added/removed taken
/// against `base`. Symmetric in a and b.
[[nodiscard]] Flags merge_flags(const Flags& base, const Flags& a, const Flags& b);

/// What identifies a message's content independently of its UID, for re-pairing after a
/// UIDVALIDITY change, pairing on a first sync of two non-empty accounts, recognising moves and
/// matching pending append intents (PROTOCOL.md §4.1, §4.7, §4.8).
struct MessageIdentity {
  std::string message_id;         ///< Message-ID header value as sent (with <>), "" if none
  std::uint64_t size = 0;         ///< RFC822.SIZE
  std::int64_t internaldate = 0;  ///< INTERNALDATE as seconds since the Unix epoch (UTC)
  std::string sha256;             ///< hex SHA-256 of the bytes when known, else ""
  /// The server's own id of the message on each side, "" when unknown: EMAILID (RFC 8474
  /// OBJECTID) where offered, else "X-GM-MSGID:<decimal>" on Gmail (X-GM-EXT-1). Per server:
  /// email_id[L] and email_id[R] are never compared with each other, and no part of
  /// same_content(). A NewMessage carries the id of its own side only; a stored pair the ids
  /// learnt so far (issue 5: moves on one side are recognised by it first, match_moves()).
  PerSide<std::string> email_id;

  bool operator==(const MessageIdentity&) const = default;
};

/// The key used for content matching: Message-ID + size + INTERNALDATE (RFC 4549 §4.2.2.1
/// warns that Message-ID alone can be forged or duplicated, so size and date are required as
/// well). A message without a Message-ID and without a hash has no key and is never matched
/// by content: it is copied, which can duplicate but never loses or mis-pairs mail.
/// When both sides know a hash, the hashes must agree too.
[[nodiscard]] bool has_content_key(const MessageIdentity& id);
[[nodiscard]] bool same_content(const MessageIdentity& a, const MessageIdentity& b);
/// Strict weak order consistent with same_content() on the (message_id, size, internaldate)
/// part; used to group candidates.
[[nodiscard]] bool content_key_less(const MessageIdentity& a, const MessageIdentity& b);

/// A message that appeared on this side (UID at or above the stored UIDNEXT, or every message
/// after a UIDVALIDITY change).
struct NewMessage {
  Uid uid;
  Flags flags;  ///< normalised
  MessageIdentity identity;

  bool operator==(const NewMessage&) const = default;
};

/// A message whose flags may have changed: its complete current flag set (not a diff). Readers
/// may report unchanged messages too (plain path U re-reads all flags); the reconciler compares
/// with the base, so a report equal to the base, such as the echo of our own STORE, is a no-op.
struct FlagChange {
  Uid uid;
  Flags flags;  ///< normalised, complete
  ModSeq modseq;  ///< MODSEQ of the FETCH (RFC 7162 §3.1.4), 0 without CONDSTORE

  bool operator==(const FlagChange&) const = default;
};

/// The mailbox state a reader observed at SELECT time (PROTOCOL.md §4.3: process up to this
/// snapshot, then store it, never later values). Stored only after the plan was applied.
struct MailboxSnapshot {
  UidValidity uidvalidity;
  Uid uidnext;
  ModSeq highestmodseq;  ///< 0 without CONDSTORE or with NOMODSEQ
  /// The announced HIGHESTMODSEQ when `highestmodseq` stays below it (CONDSTORE-only path:
  /// nothing up to it was received; reader.hpp), else 0. Stored as SideState::announced_modseq.
  ModSeq announced;

  bool operator==(const MailboxSnapshot&) const = default;
};

/// One side's changes of one mailbox since the stored state.
///
/// Contract for readers:
/// - `vanished`: UIDs of stored pairs that are gone on this side, confirmed (VANISHED, EXPUNGE,
///   or a UID SEARCH/FETCH diff; PROTOCOL.md §4.4: a missing FETCH line is not proof). Sorted,
///   unique. UIDs not in any pair are ignored.
/// - `added`: messages at or above the stored UIDNEXT (or all of them when
///   uidvalidity_changed), sorted by UID.
/// - `changed`: current flags of known messages; sorted by UID; a UID listed in `vanished` is
///   treated as vanished. UIDs not in any pair are ignored.
/// - `uidvalidity_changed`: the stored UIDs of this side are void (RFC 3501 §2.3.1.1; also set
///   on UID reuse, UIDNEXT going backwards, or a changed MAILBOXID, PROTOCOL.md §4.2). `added`
///   then lists every message of the mailbox, `vanished` and `changed` are empty.
struct Delta {
  bool uidvalidity_changed = false;
  std::vector<Uid> vanished;
  std::vector<NewMessage> added;
  std::vector<FlagChange> changed;
  MailboxSnapshot snapshot;
  /// New messages at or above snapshot.uidnext exist and were left for another pass
  /// (DeltaReader::limit_new): the snapshot covers the messages below it only.
  bool more_new = false;

  bool operator==(const Delta&) const = default;
};

std::ostream& operator<<(std::ostream& os, const MessageIdentity& id);

}  // namespace twinbox::sync
