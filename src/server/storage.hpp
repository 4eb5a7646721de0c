#pragma once
/// The embedded server's mail store in SQLite (a file, or ":memory:").
///
/// Contract:
/// - Every mutating call runs in its own transaction unless the caller holds a Txn; with a
///   Txn, changes become durable at Txn::commit(). Sessions answer a tagged OK only after the
///   commit returned, so a crash of the server loses nothing it acknowledged (WAL mode; with
///   Options::durable the WAL is synced on every commit, else at checkpoints).
/// - Every change to a mailbox's messages (append, flag change, expunge) takes a new
///   mod-sequence from the mailbox (HIGHESTMODSEQ + 1; one per operation, shared by all
///   messages it touches, RFC 7162 §3.1.1). Expunged UIDs are remembered with the modseq of
///   their expunge so QRESYNC can answer VANISHED (EARLIER) (RFC 7162 §3.2.5).
/// - generation() grows on every committed change; the session loop compares it to wake
///   IDLE/NOTIFY sessions.
/// Not thread-safe: the Server serialises access.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <twinbox/base/result.hpp>
#include <twinbox/server/mail.hpp>

struct sqlite3;
struct sqlite3_stmt;

namespace twinbox::server {

class Stmt;

/// Status counters of one mailbox (STATUS, SELECT).
struct MailboxCounts {
  std::uint32_t messages = 0;
  std::uint32_t recent = 0;
  std::uint32_t unseen = 0;
  std::uint64_t size = 0;
  std::uint32_t deleted = 0;
};

class Storage {
 public:
  /// Opens or creates the store. `durable` = synchronous=FULL (fsync per commit).
  static Result<std::unique_ptr<Storage>> open(const std::string& path, bool durable = false);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  /// Groups calls into one transaction; rolls back unless commit() succeeded.
  class Txn {
   public:
    explicit Txn(Storage& s);
    ~Txn();
    Txn(const Txn&) = delete;
    Txn& operator=(const Txn&) = delete;
    Status commit();

   private:
    Storage& s_;
    bool done_ = false;
    bool owner_ = false;
  };

  /// One transaction around a batch of reads (a FETCH step): SQLite then takes its locks
  /// once instead of around every statement. Writes made inside are committed by end(),
  /// which also moves generation() when they changed anything; inside a Txn it does nothing.
  class Batch {
   public:
    explicit Batch(Storage& s);
    ~Batch();
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;
    /// Commits; the caller answers OK only after this succeeded.
    Status end();

   private:
    Storage& s_;
    bool active_ = false;
    std::int64_t changes_ = 0;
  };

  // --- mailboxes -------------------------------------------------------------------------
  Result<std::optional<MailboxInfo>> find_mailbox(std::string_view user, std::string_view name);
  Result<std::optional<MailboxInfo>> mailbox_by_id(std::int64_t id);
  /// All mailboxes of `user`, sorted by name.
  Result<std::vector<MailboxInfo>> mailboxes(std::string_view user);
  /// Creates a mailbox (fresh UIDVALIDITY, UIDNEXT 1, HIGHESTMODSEQ 1, new MAILBOXID).
  /// Errc::Conflict when it exists.
  Result<MailboxInfo> create_mailbox(std::string_view user, std::string_view name,
                                     const std::vector<std::string>& special_use = {});
  /// Deletes a mailbox and its messages (its children stay).
  Status delete_mailbox(std::int64_t id);
  /// Renames `id` and every mailbox below it ("old/…" -> "new/…"); keeps UIDVALIDITY and
  /// MAILBOXID (RFC 8474 §4).
  Status rename_mailbox(std::string_view user, std::string_view old_name, std::string_view new_name);
  Status set_special_use(std::int64_t id, const std::vector<std::string>& special_use);
  /// Test control: new UIDVALIDITY; messages are renumbered 1..n and the expunge log is
  /// cleared, as after a server-side rebuild.
  Status reset_uidvalidity(std::int64_t id, UidValidity v);
  Result<MailboxCounts> counts(std::int64_t id);

  // --- subscriptions (may name mailboxes that do not exist, RFC 3501 §6.3.6) --------------
  Status subscribe(std::string_view user, std::string_view name);
  Status unsubscribe(std::string_view user, std::string_view name);
  Result<std::vector<std::string>> subscriptions(std::string_view user);

  // --- messages --------------------------------------------------------------------------
  /// All messages of a mailbox, ascending UID, without bodies.
  Result<std::vector<MessageInfo>> messages(std::int64_t mailbox);
  Result<std::vector<Uid>> uids(std::int64_t mailbox);
  Result<std::optional<MessageInfo>> message(std::int64_t mailbox, Uid uid);
  Result<std::string> body(std::int64_t body_id);
  /// Copies a body into `out` (replacing its content; its capacity is reused).
  Status body_into(std::int64_t body_id, std::string& out);
  /// Appends a message; `flags` must be canonical (see canonical_flags). Returns its UID.
  /// Uses the modseq `modseq` when valid (several appends of one command), else bumps.
  Result<Uid> append(std::int64_t mailbox, std::string_view body,
                     const std::vector<std::string>& flags, std::int64_t internaldate,
                     int zone_minutes, ModSeq modseq = ModSeq{});
  /// Copies `uid` of `src` into `dst` (same body row, flags, internaldate, EMAILID).
  Result<Uid> copy(std::int64_t src, Uid uid, std::int64_t dst, ModSeq modseq);
  /// Takes the next modseq of a mailbox (HIGHESTMODSEQ + 1) and records it.
  Result<ModSeq> bump_modseq(std::int64_t mailbox);
  /// Replaces the flags of one message with modseq `modseq` (from bump_modseq).
  Status set_flags(std::int64_t mailbox, Uid uid, const std::vector<std::string>& flags,
                   ModSeq modseq);
  /// Expunges messages (those absent are ignored), logging them with a new modseq.
  Status expunge(std::int64_t mailbox, const std::vector<Uid>& uids);
  /// Clears the recent mark of messages (claimed by a session).
  Status clear_recent(std::int64_t mailbox, const std::vector<Uid>& uids);
  /// Messages whose modseq > since: (uid, modseq), ascending UID.
  Result<std::vector<std::pair<Uid, ModSeq>>> changed_since(std::int64_t mailbox, ModSeq since);
  /// UIDs expunged with modseq > since, ascending.
  Result<std::vector<Uid>> expunged_since(std::int64_t mailbox, ModSeq since);

  [[nodiscard]] std::uint64_t generation() const { return generation_; }
  /// Marks the store as changed (for changes made outside a Txn-aware path).
  void touch() { ++generation_; }

 private:
  Storage() = default;
  Status exec(const char* sql);
  Result<Stmt> prepare(const char* sql);
  Status init_schema();
  Result<std::string> new_object_id(char prefix);
  Status begin_nested(bool& owner);
  Status end_nested(bool owner, bool commit);

  sqlite3* db_ = nullptr;
  /// Prepared statements by SQL text address (all SQL passed to prepare() is static).
  std::map<const char*, sqlite3_stmt*> cache_;
  int txn_depth_ = 0;
  bool txn_failed_ = false;
  std::uint64_t generation_ = 0;
};

/// Canonical form of a flag list: system flags (\Seen \Answered \Flagged \Deleted \Draft)
/// in canonical case, keywords as given, duplicates (case-insensitive) removed, \Recent
/// dropped, sorted. RFC 3501 §2.3.2.
std::vector<std::string> canonical_flags(const std::vector<std::string>& flags);
bool has_flag(const std::vector<std::string>& flags, std::string_view flag);
std::string join_flags(const std::vector<std::string>& flags);

}  // namespace twinbox::server
