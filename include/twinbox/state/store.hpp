#pragma once
/// The state database: what both sides agreed on at the last sync (DESIGN.md "Data flow" 7).
/// SQLite through its C API, hidden behind a pimpl (no sqlite3.h here). The state layer knows
/// no IMAP: flags are text (the sync layer's format_flags()), UIDs and mod-sequences are the
/// base strong types.
///
/// Durability and safety:
/// - WAL journal, synchronous=FULL: a committed step survives a power cut, not only a process
///   crash. The cost is one fsync per commit, small next to the IMAP round trip each commit
///   follows; NORMAL could roll back the last commits on power loss and so re-open the
///   duplicate window that append intents close. OpenOptions::durable=false selects NORMAL
///   (tests, benchmarks).
/// - foreign keys on, busy timeout (OpenOptions::busy_timeout_ms).
/// - The file (and its -wal/-shm, which SQLite creates with the database's mode) is created
///   with mode 0600: it names mailboxes and Message-IDs.
/// - One run at a time: open() takes flock(LOCK_EX|LOCK_NB) on `<path>.lock` (created 0600)
///   and holds it until the StateStore is destroyed. A second open, from another process or
///   from the same process (flock locks belong to the open file description), fails at once
///   with Errc::Conflict. The OS drops the lock when the process dies, so a crash leaves no
///   stale lock.
/// - Every SQLite failure becomes Errc::Storage, Scope::Fatal, with the path and what to do
///   (disk full says so).
///
/// Crash points: every commit, explicit (Transaction::commit) or implicit (a mutating call made
/// outside a transaction runs in its own), calls twinbox::crash_point("state commit") right
/// before COMMIT (base/crash_point.hpp).
///
/// Threading: a StateStore is used from one thread at a time.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <twinbox/base/ids.hpp>
#include <twinbox/base/result.hpp>

namespace twinbox::state {

using MailboxPairId = std::int64_t;

/// What is stored about one side of a mailbox pair.
struct SideState {
  UidValidity uidvalidity;  ///< 0 = never selected
  Uid uidnext;              ///< everything below was examined; 0 = nothing yet
  ModSeq highestmodseq;     ///< 0 = none (no CONDSTORE, or never synced)
  std::string mailbox_id;   ///< RFC 8474 MAILBOXID, "" if none
  std::int64_t last_sync = 0;  ///< Unix seconds of the last completed pass, 0 = never
  std::string problem;      ///< "" = fine; else why the last pass stopped this side
  /// The HIGHESTMODSEQ the server announced at the read that stored `highestmodseq` below it
  /// (CONDSTORE-only path: nothing up to the announced value was fetchable); 0 = none. The
  /// next read that sees the same announced value and receives nothing newer stores it
  /// (sync/reader.hpp; schema version 3).
  ModSeq announced_modseq;

  bool operator==(const SideState&) const = default;
};

struct MailboxPair {
  MailboxPairId id = 0;        ///< 0 before insertion
  PerSide<std::string> name;   ///< as each server spells it; both non-empty, each unique
  bool subscribed = false;     ///< subscription base state
  std::string special_use;     ///< e.g. "\Sent"; "" if none
  PerSide<SideState> side;

  bool operator==(const MailboxPair&) const = default;
};

/// Content identity of a message (mirrors sync::MessageIdentity; kept here so that the state
/// layer does not depend on sync).
struct ContentIdentity {
  std::string message_id;         ///< "" if none
  std::uint64_t size = 0;         ///< RFC822.SIZE (stored as int64; sizes above 2^63 clamp)
  std::int64_t internaldate = 0;  ///< Unix seconds
  std::string sha256;             ///< hex, "" if unknown
  /// Per-server message id on each side ("" = unknown; schema.hpp version 2). Stored for
  /// message pairs only: append intents keep none.
  PerSide<std::string> email_id;

  bool operator==(const ContentIdentity&) const = default;
};

struct MessagePair {
  PerSide<Uid> uid;        ///< 0 = void on that side (never both)
  std::string base_flags;  ///< normalised, sorted, space-separated
  PerSide<ModSeq> modseq;  ///< last known MODSEQ per side, 0 = unknown
  ContentIdentity identity;

  bool operator==(const MessagePair&) const = default;
};

/// An APPEND about to be sent (PROTOCOL.md §4.7). The target side is other(source_side).
struct AppendIntent {
  std::int64_t id = 0;  ///< assigned by record_intent
  MailboxPairId mailbox = 0;
  Side source_side = Side::Local;
  Uid source_uid;
  UidValidity target_uidvalidity;
  Uid target_uidnext;  ///< the target's UIDNEXT before the APPEND
  std::string flags;
  ContentIdentity identity;

  bool operator==(const AppendIntent&) const = default;
};

/// New base flags (and optionally modseqs) for the pair whose uid[side] is `uid`.
struct BaseFlagsUpdate {
  Side side = Side::Local;
  Uid uid;
  std::string base_flags;
  PerSide<ModSeq> modseq;  ///< a 0 entry keeps the stored value
};

struct OpenOptions {
  bool create = true;       ///< create the file if missing (else Errc::NotFound)
  bool durable = true;      ///< synchronous=FULL (true) or NORMAL (false); see above
  int busy_timeout_ms = 5000;
};

class Transaction;

class StateStore {
 public:
  /// Opens (creating if allowed) and migrates the database at `path`, and takes the run lock.
  /// Errors: Errc::Conflict when another run holds the lock; Errc::NotFound when the file is
  /// missing and !create; Errc::Storage otherwise (newer schema, corrupt file, unwritable
  /// directory, …), each message naming the path and what to do.
  static Result<StateStore> open(const std::string& path, const OpenOptions& options = {});

  StateStore(StateStore&&) noexcept;
  StateStore& operator=(StateStore&&) noexcept;
  ~StateStore();

  [[nodiscard]] const std::string& path() const;
  [[nodiscard]] int schema_version() const;

  /// Starts a write transaction. Errc::Internal if one is already open.
  Result<Transaction> begin();

  // ---- mailbox pairs ----
  Result<std::vector<MailboxPair>> mailboxes();
  Result<std::optional<MailboxPair>> mailbox(MailboxPairId id);
  /// Inserts (id == 0) or updates (names, subscribed, special_use, side states) a mailbox
  /// pair; returns its id. A name clash with another pair is Errc::Storage.
  Result<MailboxPairId> upsert_mailbox(const MailboxPair& mailbox);
  /// Deletes a mailbox pair with its message pairs and intents.
  Status remove_mailbox(MailboxPairId id);
  /// Writes one side's UIDVALIDITY/UIDNEXT/HIGHESTMODSEQ/MAILBOXID/last_sync/problem. Call it
  /// LAST in a mailbox pass, after the pairs, so that a crash re-examines the range
  /// (PROTOCOL.md §4.3).
  Status set_side_state(MailboxPairId id, Side side, const SideState& state);
  Status set_problem(MailboxPairId id, Side side, std::string_view problem);
  Status set_subscribed(MailboxPairId id, bool subscribed);

  // ---- message pairs ----
  Result<std::vector<MessagePair>> pairs(MailboxPairId id);
  /// Streams the pairs of a mailbox in local-UID order (void local UIDs first), stopping at the
  /// first error the callback returns.
  Status for_each_pair(MailboxPairId id, const std::function<Status(const MessagePair&)>& fn);
  /// Like for_each_pair(), for the pairs whose UIDs `want` accepts only: the other columns of
  /// a refused row are never read (a sync pass loads the few pairs its deltas name, issue 8).
  Status for_each_pair_if(MailboxPairId id, const std::function<bool(const PerSide<Uid>&)>& want,
                          const std::function<Status(const MessagePair&)>& fn);
  /// The set UIDs of each side's pairs, ascending (what a delta reader compares with).
  Result<PerSide<std::vector<Uid>>> pair_uids(MailboxPairId id);
  Result<std::optional<MessagePair>> find_pair(MailboxPairId id, Side side, Uid uid);
  Result<std::size_t> count_pairs(MailboxPairId id);
  /// Whether any mailbox has a message pair (one index probe, not a count).
  Result<bool> any_pairs();
  /// Pairs whose UID on `side` is set and below `below` (an index range scan).
  Result<std::size_t> count_side_below(MailboxPairId id, Side side, Uid below);
  /// Inserts pairs; each replaces any stored pair of the mailbox sharing its local or its
  /// remote UID (so re-pairing a half pair, or recording a Copy over one, is one call).
  Status upsert_pairs(MailboxPairId id, std::span<const MessagePair> pairs);
  /// Sets the email_id[side] of the pairs whose uid[side] is the given UID (absent UIDs are
  /// fine): ids learnt after the pair was recorded (the target of a copy or a move).
  Status set_email_ids(MailboxPairId id, Side side,
                       std::span<const std::pair<Uid, std::string>> ids);
  /// Deletes the pairs whose uid[side] is in `uids` (absent UIDs are fine).
  Status remove_pairs(MailboxPairId id, Side side, std::span<const Uid> uids);
  Status set_base_flags(MailboxPairId id, std::span<const BaseFlagsUpdate> updates);
  /// After a UIDVALIDITY change on `side`: voids uid[side] and modseq[side] of every pair of
  /// the mailbox, keeping the content identity for re-pairing; pairs void on the other side
  /// too are deleted. Also resets that side's uidnext and highestmodseq to 0 (uidvalidity is
  /// left for set_side_state).
  Status void_side(MailboxPairId id, Side side);

  // ---- append intents ----
  /// Records an intent; returns its id.
  Result<std::int64_t> record_intent(const AppendIntent& intent);
  Status drop_intent(std::int64_t intent_id);
  /// Intents of one mailbox pair, oldest first.
  Result<std::vector<AppendIntent>> intents(MailboxPairId id);

  // ---- meta ----
  Result<std::optional<std::string>> meta(std::string_view key);
  Status set_meta(std::string_view key, std::string_view value);

  struct Impl;

 private:
  friend class Transaction;
  explicit StateStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// An open write transaction (BEGIN IMMEDIATE). Commit explicitly; destruction without commit
/// rolls back. At most one per StateStore at a time; the StateStore must outlive it (moving the
/// StateStore is fine). Mutating StateStore calls made while it is open join it.
class Transaction {
 public:
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();

  /// Commits (calls crash_point("state commit") first). After a failed commit the transaction
  /// is rolled back.
  Status commit();

 private:
  friend class StateStore;
  explicit Transaction(StateStore::Impl* impl) : impl_(impl) {}
  StateStore::Impl* impl_;
};

}  // namespace twinbox::state

// ---- Read-only summary for `twinbox status` (src/state/store_admin.cpp) ----

namespace twinbox::state {

/// One mailbox pair with the counts `twinbox status` shows.
struct MailboxSummary {
  MailboxPair pair;
  std::size_t messages = 0;    ///< message pairs with both UIDs
  std::size_t half_pairs = 0;  ///< pairs void on one side (awaiting re-pairing or a copy)
  std::size_t intents = 0;     ///< pending append intents (an interrupted copy)
};

struct StateSummary {
  std::string path;
  int schema_version = 0;
  std::vector<MailboxSummary> mailboxes;  ///< by pair id
};

/// Reads the state database at `path` read-only and WITHOUT the run lock: a sync running at
/// the same time is fine (WAL: this reader sees its last commit) and is not disturbed. Never
/// creates or migrates anything. Errors: Errc::NotFound when the file does not exist (the
/// message says to run a sync first); Errc::Storage when it cannot be read, is not a state
/// database, or has a schema newer than this twinbox.
Result<StateSummary> read_summary(const std::string& path);

}  // namespace twinbox::state
