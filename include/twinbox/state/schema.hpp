#pragma once
/// The state database schema (SQLite), version by version. Documentation of record for the
/// tables; the SQL itself lives in src/state/schema.cpp as a migration table.
///
/// Versioning: `PRAGMA user_version` holds the schema version. Opening runs every migration
/// step from the stored version up to kSchemaVersion, each in its own transaction that also
/// sets user_version, so a crash mid-upgrade leaves a consistent older version. A database
/// with a version above kSchemaVersion is refused ("written by a newer twinbox").
///
/// Version 1:
///
/// `meta(key TEXT PRIMARY KEY, value TEXT)` — small key/value facts (e.g. "created",
/// endpoint fingerprints chosen by higher layers).
///
/// `mailbox_pairs` — one row per synchronised mailbox pair.
///   id INTEGER PRIMARY KEY
///   local_name, remote_name TEXT NOT NULL, each UNIQUE — mailbox names as the servers spell
///     them (modified UTF-7 decoding is the upper layers' business)
///   subscribed INTEGER — subscription state both sides agreed on (base for a 3-way merge)
///   special_use TEXT — role such as "\Sent", "" if none
///   per side (`local_` / `remote_` prefix):
///     uidvalidity INTEGER, uidnext INTEGER, highestmodseq INTEGER (ModSeq bit-cast to int64),
///     mailboxid TEXT (RFC 8474, "" if none), last_sync INTEGER (Unix seconds, 0 = never),
///     problem TEXT ("" = fine; else why the last pass stopped this side)
///
/// `message_pairs` — one row per message pair; deleted with its mailbox pair (ON DELETE
///   CASCADE).
///   mailbox_id INTEGER NOT NULL REFERENCES mailbox_pairs(id)
///   local_uid, remote_uid INTEGER NULL — NULL = void (after a UIDVALIDITY change on that
///     side; never both NULL); UNIQUE (mailbox_id, local_uid) and (mailbox_id, remote_uid)
///     (SQLite lets several NULLs coexist in a UNIQUE index)
///   base_flags TEXT — flags both sides agreed on, normalised, sorted, space-separated
///   local_modseq, remote_modseq INTEGER — last known MODSEQ per side (0 = unknown)
///   message_id TEXT, size INTEGER, internaldate INTEGER (Unix seconds), sha256 TEXT ("" =
///     unknown) — content identity, kept when a side is voided, for re-pairing
///   index on (mailbox_id, message_id) for content look-ups
///
/// `append_intents` — an APPEND about to be sent (PROTOCOL.md §4.7). Recorded and committed
///   before the APPEND; dropped in the same transaction that records the resulting pair.
///   id INTEGER PRIMARY KEY
///   mailbox_id INTEGER NOT NULL REFERENCES mailbox_pairs(id) — the target mailbox pair
///   source_side INTEGER (0 local, 1 remote), source_uid INTEGER — the message being copied;
///     the target side is the other one
///   target_uidvalidity, target_uidnext INTEGER — the target's values before the APPEND: on
///     restart, candidates are the target's UIDs at or above target_uidnext
///   flags TEXT, message_id TEXT, size INTEGER, internaldate INTEGER, sha256 TEXT
///   index on (mailbox_id)
///
/// Version 2 (issue 5, moves recognised by the servers' own message ids):
///
/// `message_pairs` gains local_emailid, remote_emailid TEXT NOT NULL DEFAULT '' — the
///   message's EMAILID (RFC 8474) or "X-GM-MSGID:<n>" on that side, "" = unknown (pairs
///   recorded by version 1, servers without OBJECTID / X-GM-EXT-1). Stored because a message
///   that vanished can no longer be asked for its id, and that id is what pairs it with the
///   message that appeared in another mailbox. Each side's id is only ever compared with ids
///   of the same side. Append intents do not store them (their target has no id yet).

///
/// Version 3 (issue 6, CONDSTORE-only servers that announce changes before they can be fetched):
///
/// `mailbox_pairs` gains local_announced_modseq, remote_announced_modseq INTEGER NOT NULL
///   DEFAULT 0 (ModSeq bit-cast to int64) — the HIGHESTMODSEQ the server announced at the read
///   that stored a lower highestmodseq (nothing up to it was fetchable), 0 = none
///   (sync/reader.hpp states the rule). Additive with a default: a version 2 database is
///   upgraded in place and its mailboxes read as before (0 = nothing pending).

namespace twinbox::state {

/// The schema version this code writes and understands.
inline constexpr int kSchemaVersion = 3;

}  // namespace twinbox::state
