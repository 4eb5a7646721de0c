#include <array>

#include <twinbox/state/schema.hpp>

#include "schema_impl.hpp"

namespace twinbox::state {
namespace {

// Version 1 (documented column by column in schema.hpp). Never edit a shipped step: add one.
constexpr const char* kV1 = R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE mailbox_pairs (
  id                    INTEGER PRIMARY KEY,
  local_name            TEXT NOT NULL UNIQUE,
  remote_name           TEXT NOT NULL UNIQUE,
  subscribed            INTEGER NOT NULL DEFAULT 0,
  special_use           TEXT NOT NULL DEFAULT '',
  local_uidvalidity     INTEGER NOT NULL DEFAULT 0,
  local_uidnext         INTEGER NOT NULL DEFAULT 0,
  local_highestmodseq   INTEGER NOT NULL DEFAULT 0,
  local_mailboxid       TEXT NOT NULL DEFAULT '',
  local_last_sync       INTEGER NOT NULL DEFAULT 0,
  local_problem         TEXT NOT NULL DEFAULT '',
  remote_uidvalidity    INTEGER NOT NULL DEFAULT 0,
  remote_uidnext        INTEGER NOT NULL DEFAULT 0,
  remote_highestmodseq  INTEGER NOT NULL DEFAULT 0,
  remote_mailboxid      TEXT NOT NULL DEFAULT '',
  remote_last_sync      INTEGER NOT NULL DEFAULT 0,
  remote_problem        TEXT NOT NULL DEFAULT ''
);

CREATE TABLE message_pairs (
  mailbox_id     INTEGER NOT NULL REFERENCES mailbox_pairs(id) ON DELETE CASCADE,
  local_uid      INTEGER,
  remote_uid     INTEGER,
  base_flags     TEXT NOT NULL DEFAULT '',
  local_modseq   INTEGER NOT NULL DEFAULT 0,
  remote_modseq  INTEGER NOT NULL DEFAULT 0,
  message_id     TEXT NOT NULL DEFAULT '',
  size           INTEGER NOT NULL DEFAULT 0,
  internaldate   INTEGER NOT NULL DEFAULT 0,
  sha256         TEXT NOT NULL DEFAULT '',
  CHECK (local_uid IS NOT NULL OR remote_uid IS NOT NULL)
);
CREATE UNIQUE INDEX message_pairs_local ON message_pairs(mailbox_id, local_uid);
CREATE UNIQUE INDEX message_pairs_remote ON message_pairs(mailbox_id, remote_uid);
CREATE INDEX message_pairs_message_id ON message_pairs(mailbox_id, message_id);

CREATE TABLE append_intents (
  id                  INTEGER PRIMARY KEY,
  mailbox_id          INTEGER NOT NULL REFERENCES mailbox_pairs(id) ON DELETE CASCADE,
  source_side         INTEGER NOT NULL CHECK (source_side IN (0, 1)),
  source_uid          INTEGER NOT NULL,
  target_uidvalidity  INTEGER NOT NULL,
  target_uidnext      INTEGER NOT NULL,
  flags               TEXT NOT NULL DEFAULT '',
  message_id          TEXT NOT NULL DEFAULT '',
  size                INTEGER NOT NULL DEFAULT 0,
  internaldate        INTEGER NOT NULL DEFAULT 0,
  sha256              TEXT NOT NULL DEFAULT ''
);
CREATE INDEX append_intents_mailbox ON append_intents(mailbox_id);
)sql";

// Version 2: per-side EMAILID / X-GM-MSGID of message pairs (schema.hpp).
constexpr const char* kV2 = R"sql(
ALTER TABLE message_pairs ADD COLUMN local_emailid TEXT NOT NULL DEFAULT '';
ALTER TABLE message_pairs ADD COLUMN remote_emailid TEXT NOT NULL DEFAULT '';
)sql";

// Version 3: per-side announced HIGHESTMODSEQ not yet stored (schema.hpp).
constexpr const char* kV3 = R"sql(
ALTER TABLE mailbox_pairs ADD COLUMN local_announced_modseq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE mailbox_pairs ADD COLUMN remote_announced_modseq INTEGER NOT NULL DEFAULT 0;
)sql";

constexpr std::array<Migration, 3> kMigrations{{{1, kV1}, {2, kV2}, {3, kV3}}};
static_assert(kMigrations.back().to == kSchemaVersion, "the migration table ends at kSchemaVersion");

}  // namespace

std::span<const Migration> migrations() { return kMigrations; }

}  // namespace twinbox::state
