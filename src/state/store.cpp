#include <twinbox/state/store.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <unordered_map>
#include <utility>

#include <sqlite3.h>

#include <twinbox/base/crash_point.hpp>
#include <twinbox/state/schema.hpp>

#include "schema_impl.hpp"

namespace twinbox::state {
namespace {

std::string side_prefix(Side s) { return s == Side::Local ? "local_" : "remote_"; }

// What to tell the user for each class of SQLite failure.
std::string advice(int rc) {
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return "the disk is full: free some space and run twinbox again (the step that failed was "
             "not recorded and will be repeated; no mail is lost)";
    case SQLITE_IOERR:
      return "an I/O error occurred: check the disk and the file system, then run again";
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return "the file is not a twinbox state database or is damaged: move it away to start "
             "over (the next run re-pairs messages by content instead of copying them again)";
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return "the database cannot be written: check the permissions of the file and its "
             "directory";
    case SQLITE_CANTOPEN:
      return "the database cannot be opened: check that the directory exists and is writable";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return "the database is busy: another process is writing it";
    default:
      return "";
  }
}

class Stmt;

}  // namespace

struct StateStore::Impl {
  sqlite3* db = nullptr;
  int lock_fd = -1;
  std::string path;
  int version = 0;
  bool in_tx = false;
  std::unordered_map<std::string, sqlite3_stmt*> cache;

  ~Impl() {
    for (auto& [sql, stmt] : cache) sqlite3_finalize(stmt);
    if (db != nullptr) sqlite3_close_v2(db);
    if (lock_fd >= 0) ::close(lock_fd);  // releases the flock
  }

  Error error(int rc, std::string_view what) const {
    std::string msg = "state database " + path + ": " + std::string(what) + " failed: ";
    msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    if (auto a = advice(rc); !a.empty()) msg += "; " + a;
    return fail(Errc::Storage, Scope::Fatal, std::move(msg));
  }

  Status exec(const char* sql, std::string_view what) {
    int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return error(rc, what);
    return {};
  }

  Result<sqlite3_stmt*> prepare(const std::string& sql) {
    if (auto it = cache.find(sql); it != cache.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return error(rc, "preparing a query");
    cache.emplace(sql, stmt);
    return stmt;
  }

  Status begin_tx() {
    if (in_tx) {
      return fail(Errc::Internal, Scope::Fatal,
                  "state database " + path + ": a transaction is already open");
    }
    if (auto s = exec("BEGIN IMMEDIATE", "starting a transaction"); !s) return s;
    in_tx = true;
    return {};
  }

  Status commit_tx() {
    crash_point("state commit");
    int rc = sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      Error e = error(rc, "committing");
      rollback_tx();
      return e;
    }
    in_tx = false;
    return {};
  }

  void rollback_tx() {
    // ROLLBACK fails harmlessly when SQLite already rolled back (e.g. after SQLITE_FULL).
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    in_tx = false;
  }

  /// Runs `f` inside the open transaction, or in a transaction of its own.
  template <class F>
  auto write(F&& f) -> decltype(f()) {
    if (in_tx) return f();
    if (auto s = begin_tx(); !s) return s.error();
    auto r = f();
    if (!r) {
      rollback_tx();
      return r;
    }
    if (auto s = commit_tx(); !s) return s.error();
    return r;
  }
};

namespace {

/// A cached statement in use: bind, step, read; reset on destruction.
class Stmt {
 public:
  Stmt(StateStore::Impl& impl, sqlite3_stmt* s) : impl_(impl), s_(s) {}
  ~Stmt() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, std::int64_t v) {
    note(sqlite3_bind_int64(s_, i, v));
    return *this;
  }
  Stmt& bind(int i, std::string_view v) {
    note(sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    return *this;
  }
  Stmt& bind_uid(int i, Uid uid) {
    if (uid.valid()) return bind(i, static_cast<std::int64_t>(uid.value));
    note(sqlite3_bind_null(s_, i));
    return *this;
  }

  /// true: a row is ready; false: done. Errors become Error.
  Result<bool> step(std::string_view what) {
    if (bind_rc_ != SQLITE_OK) return impl_.error(bind_rc_, what);
    int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return impl_.error(rc, what);
  }
  Status run(std::string_view what) {
    auto r = step(what);
    if (!r) return r.error();
    return {};
  }

  [[nodiscard]] std::int64_t i64(int col) const { return sqlite3_column_int64(s_, col); }
  [[nodiscard]] std::string text(int col) const {
    const auto* p = sqlite3_column_text(s_, col);
    int n = sqlite3_column_bytes(s_, col);
    return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
  }
  [[nodiscard]] Uid uid(int col) const {
    if (sqlite3_column_type(s_, col) == SQLITE_NULL) return Uid{};
    return Uid(static_cast<std::uint32_t>(i64(col)));
  }
  [[nodiscard]] ModSeq modseq(int col) const { return ModSeq::from_storage(i64(col)); }

 private:
  void note(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }
  StateStore::Impl& impl_;
  sqlite3_stmt* s_;
  int bind_rc_ = SQLITE_OK;
};

std::int64_t size_to_storage(std::uint64_t size) {
  constexpr auto kMax = static_cast<std::uint64_t>(INT64_MAX);
  return static_cast<std::int64_t>(size > kMax ? kMax : size);
}

Error os_error(std::string_view what, const std::string& path, int err) {
  return fail(Errc::Storage, Scope::Fatal,
              "state database: cannot " + std::string(what) + " " + path + ": " +
                  std::strerror(err));
}

// Takes the run lock: flock() on <path>.lock, non-blocking. The OS drops it with the process.
Result<int> take_lock(const std::string& path) {
  const std::string lock_path = path + ".lock";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return os_error("create the lock file", lock_path, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return fail(Errc::Conflict, Scope::Fatal,
                  "another twinbox run holds " + lock_path + " (state database " + path +
                      "); wait for it to finish. If none is running, check with `fuser " +
                      lock_path + "`: the lock is released when its process ends");
    }
    return os_error("lock", lock_path, err);
  }
  return fd;
}

// Creates the database file with mode 0600 before SQLite sees it (SQLite would use 0644 minus
// umask, and gives its -wal/-shm files the mode of the database).
Status create_private_file(const std::string& path, bool create) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) return {};
  if (errno != ENOENT) return os_error("examine", path, errno);
  if (!create) {
    return fail(Errc::NotFound, Scope::Fatal,
                "state database " + path + " does not exist; run a sync first to create it");
  }
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno != EEXIST) return os_error("create", path, errno);
  if (fd >= 0) ::close(fd);
  return {};
}

Result<int> read_user_version(StateStore::Impl& im) {
  auto st = im.prepare("PRAGMA user_version");
  if (!st) return st.error();
  Stmt q(im, *st);
  auto row = q.step("reading the schema version");
  if (!row) return row.error();
  return *row ? static_cast<int>(q.i64(0)) : 0;
}

Status migrate(StateStore::Impl& im) {
  auto v = read_user_version(im);
  if (!v) return v.error();
  if (*v > kSchemaVersion) {
    return fail(Errc::Storage, Scope::Fatal,
                "state database " + im.path + " has schema version " + std::to_string(*v) +
                    ", newer than this twinbox understands (" + std::to_string(kSchemaVersion) +
                    "); it was written by a newer twinbox: upgrade twinbox, or use another "
                    "state file");
  }
  im.version = *v;
  for (const Migration& m : migrations()) {
    if (m.to <= im.version) continue;
    auto s = im.write([&]() -> Status {
      if (auto e = im.exec(m.sql, "migrating the schema"); !e) return e;
      std::string set = "PRAGMA user_version = " + std::to_string(m.to);
      return im.exec(set.c_str(), "migrating the schema");
    });
    if (!s) return s;
    im.version = m.to;
  }
  return {};
}

MailboxPair read_mailbox(const Stmt& q) {
  MailboxPair m;
  m.id = q.i64(0);
  m.name[Side::Local] = q.text(1);
  m.name[Side::Remote] = q.text(2);
  m.subscribed = q.i64(3) != 0;
  m.special_use = q.text(4);
  int col = 5;
  for (Side s : kBothSides) {
    SideState& st = m.side[s];
    st.uidvalidity = UidValidity(static_cast<std::uint32_t>(q.i64(col++)));
    st.uidnext = Uid(static_cast<std::uint32_t>(q.i64(col++)));
    st.highestmodseq = q.modseq(col++);
    st.mailbox_id = q.text(col++);
    st.last_sync = q.i64(col++);
    st.problem = q.text(col++);
  }
  // Version 3 columns, after the version 1 ones (kMailboxColumns).
  for (Side s : kBothSides) m.side[s].announced_modseq = q.modseq(col++);
  return m;
}

constexpr const char* kMailboxColumns =
    "id, local_name, remote_name, subscribed, special_use, "
    "local_uidvalidity, local_uidnext, local_highestmodseq, local_mailboxid, local_last_sync, "
    "local_problem, remote_uidvalidity, remote_uidnext, remote_highestmodseq, remote_mailboxid, "
    "remote_last_sync, remote_problem, local_announced_modseq, remote_announced_modseq";

constexpr const char* kPairColumns =
    "local_uid, remote_uid, base_flags, local_modseq, remote_modseq, message_id, size, "
    "internaldate, sha256, local_emailid, remote_emailid";

MessagePair read_pair(const Stmt& q) {
  MessagePair p;
  p.uid[Side::Local] = q.uid(0);
  p.uid[Side::Remote] = q.uid(1);
  p.base_flags = q.text(2);
  p.modseq[Side::Local] = q.modseq(3);
  p.modseq[Side::Remote] = q.modseq(4);
  p.identity.message_id = q.text(5);
  p.identity.size = static_cast<std::uint64_t>(q.i64(6));
  p.identity.internaldate = q.i64(7);
  p.identity.sha256 = q.text(8);
  p.identity.email_id[Side::Local] = q.text(9);
  p.identity.email_id[Side::Remote] = q.text(10);
  return p;
}

}  // namespace

// ---- lifetime ----

StateStore::StateStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StateStore::StateStore(StateStore&&) noexcept = default;
StateStore& StateStore::operator=(StateStore&&) noexcept = default;
StateStore::~StateStore() {
  if (impl_ && impl_->in_tx) impl_->rollback_tx();
}

Result<StateStore> StateStore::open(const std::string& path, const OpenOptions& options) {
  if (path.empty()) {
    return fail(Errc::Config, Scope::Fatal, "no state database path given");
  }
  auto im = std::make_unique<Impl>();
  im->path = path;
  auto fd = take_lock(path);
  if (!fd) return fd.error();
  im->lock_fd = *fd;
  if (auto s = create_private_file(path, options.create); !s) return s.error();

  int rc = sqlite3_open_v2(path.c_str(), &im->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) return im->error(rc, "opening");
  sqlite3_extended_result_codes(im->db, 1);
  sqlite3_busy_timeout(im->db, options.busy_timeout_ms);

  // journal_mode is the first statement that reads the file: a non-database fails here.
  if (auto s = im->exec("PRAGMA journal_mode = WAL", "opening"); !s) return s.error();
  const char* sync = options.durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";
  if (auto s = im->exec(sync, "configuring"); !s) return s.error();
  if (auto s = im->exec("PRAGMA foreign_keys = ON", "configuring"); !s) return s.error();
  // Page cache bounded at 512 KiB (SQLite's default is 2 MiB): a sync's lookups are by
  // mailbox and UID through indexes, its pair reads are sequential scans, and the OS caches
  // the file anyway; keeps the peak memory of a sync from growing with the stored pairs.
  if (auto s = im->exec("PRAGMA cache_size = -512", "configuring"); !s) return s.error();
  if (auto s = migrate(*im); !s) return s.error();
  return StateStore(std::move(im));
}

const std::string& StateStore::path() const { return impl_->path; }
int StateStore::schema_version() const { return impl_->version; }

// ---- transactions ----

Result<Transaction> StateStore::begin() {
  if (auto s = impl_->begin_tx(); !s) return s.error();
  return Transaction(impl_.get());
}

Transaction::Transaction(Transaction&& other) noexcept : impl_(std::exchange(other.impl_, nullptr)) {}

Transaction::~Transaction() {
  if (impl_ != nullptr && impl_->in_tx) impl_->rollback_tx();
}

Status Transaction::commit() {
  if (impl_ == nullptr || !impl_->in_tx) {
    return fail(Errc::Internal, Scope::Fatal, "state database: commit without a transaction");
  }
  auto* im = std::exchange(impl_, nullptr);
  return im->commit_tx();
}

// ---- mailbox pairs ----

Result<std::vector<MailboxPair>> StateStore::mailboxes() {
  auto st = impl_->prepare(std::string("SELECT ") + kMailboxColumns +
                           " FROM mailbox_pairs ORDER BY id");
  if (!st) return st.error();
  Stmt q(*impl_, *st);
  std::vector<MailboxPair> out;
  for (;;) {
    auto row = q.step("listing mailboxes");
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(read_mailbox(q));
  }
  return out;
}

Result<std::optional<MailboxPair>> StateStore::mailbox(MailboxPairId id) {
  auto st = impl_->prepare(std::string("SELECT ") + kMailboxColumns +
                           " FROM mailbox_pairs WHERE id = ?1");
  if (!st) return st.error();
  Stmt q(*impl_, *st);
  q.bind(1, id);
  auto row = q.step("reading a mailbox");
  if (!row) return row.error();
  if (!*row) return std::optional<MailboxPair>{};
  return std::optional<MailboxPair>(read_mailbox(q));
}

Result<MailboxPairId> StateStore::upsert_mailbox(const MailboxPair& m) {
  return impl_->write([&]() -> Result<MailboxPairId> {
    const bool insert = m.id == 0;
    std::string sql = insert ? "INSERT INTO mailbox_pairs (" + std::string(kMailboxColumns) +
                                   ") VALUES (NULL, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
                                   "?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
                             : "UPDATE mailbox_pairs SET local_name = ?2, remote_name = ?3, "
                               "subscribed = ?4, special_use = ?5, local_uidvalidity = ?6, "
                               "local_uidnext = ?7, local_highestmodseq = ?8, local_mailboxid = "
                               "?9, local_last_sync = ?10, local_problem = ?11, "
                               "remote_uidvalidity = ?12, remote_uidnext = ?13, "
                               "remote_highestmodseq = ?14, remote_mailboxid = ?15, "
                               "remote_last_sync = ?16, remote_problem = ?17, "
                               "local_announced_modseq = ?18, remote_announced_modseq = ?19 "
                               "WHERE id = ?1";
    auto st = impl_->prepare(sql);
    if (!st) return st.error();
    Stmt q(*impl_, *st);
    if (!insert) q.bind(1, m.id);
    q.bind(2, m.name[Side::Local]).bind(3, m.name[Side::Remote]);
    q.bind(4, std::int64_t{m.subscribed ? 1 : 0}).bind(5, m.special_use);
    int col = 6;
    for (Side s : kBothSides) {
      const SideState& ss = m.side[s];
      q.bind(col++, static_cast<std::int64_t>(ss.uidvalidity.value));
      q.bind(col++, static_cast<std::int64_t>(ss.uidnext.value));
      q.bind(col++, ss.highestmodseq.to_storage());
      q.bind(col++, ss.mailbox_id);
      q.bind(col++, ss.last_sync);
      q.bind(col++, ss.problem);
    }
    for (Side s : kBothSides) q.bind(col++, m.side[s].announced_modseq.to_storage());
    if (auto s = q.run(insert ? "adding a mailbox pair" : "updating a mailbox pair"); !s) {
      return s.error();
    }
    if (insert) return static_cast<MailboxPairId>(sqlite3_last_insert_rowid(impl_->db));
    if (sqlite3_changes(impl_->db) == 0) {
      return fail(Errc::NotFound, Scope::Mailbox,
                  "state database: no mailbox pair with id " + std::to_string(m.id));
    }
    return m.id;
  });
}

Status StateStore::remove_mailbox(MailboxPairId id) {
  return impl_->write([&]() -> Status {
    auto st = impl_->prepare("DELETE FROM mailbox_pairs WHERE id = ?1");
    if (!st) return st.error();
    Stmt q(*impl_, *st);
    q.bind(1, id);
    return q.run("removing a mailbox pair");
  });
}

Status StateStore::set_side_state(MailboxPairId id, Side side, const SideState& ss) {
  return impl_->write([&]() -> Status {
    const std::string p = side_prefix(side);
    auto st = impl_->prepare("UPDATE mailbox_pairs SET " + p + "uidvalidity = ?2, " + p +
                             "uidnext = ?3, " + p + "highestmodseq = ?4, " + p +
                             "mailboxid = ?5, " + p + "last_sync = ?6, " + p +
                             "problem = ?7, " + p + "announced_modseq = ?8 WHERE id = ?1");
    if (!st) return st.error();
    Stmt q(*impl_, *st);
    q.bind(1, id)
        .bind(2, static_cast<std::int64_t>(ss.uidvalidity.value))
        .bind(3, static_cast<std::int64_t>(ss.uidnext.value))
        .bind(4, ss.highestmodseq.to_storage())
        .bind(5, ss.mailbox_id)
        .bind(6, ss.last_sync)
        .bind(7, ss.problem)
        .bind(8, ss.announced_modseq.to_storage());
    if (auto s = q.run("updating a mailbox state"); !s) return s;
    if (sqlite3_changes(impl_->db) == 0) {
      return fail(Errc::NotFound, Scope::Mailbox,
                  "state database: no mailbox pair with id " + std::to_string(id));
    }
    return {};
  });
}

Status StateStore::set_problem(MailboxPairId id, Side side, std::string_view problem) {
  return impl_->write([&]() -> Status {
    auto st = impl_->prepare("UPDATE mailbox_pairs SET " + side_prefix(side) +
                             "problem = ?2 WHERE id = ?1");
    if (!st) return st.error();
    Stmt q(*impl_, *st);
    q.bind(1, id).bind(2, problem);
    return q.run("recording a mailbox problem");
  });
}

Status StateStore::set_subscribed(MailboxPairId id, bool subscribed) {
  return impl_->write([&]() -> Status {
    auto st = impl_->prepare("UPDATE mailbox_pairs SET subscribed = ?2 WHERE id = ?1");
    if (!st) return st.error();
    Stmt q(*impl_, *st);
    q.bind(1, id).bind(2, std::int64_t{subscribed ? 1 : 0});
    return q.run("recording a subscription");
  });
}

// ---- message pairs ----

Status StateStore::for_each_pair(MailboxPairId id,
                                 const std::function<Status(const MessagePair&)>& fn) {
  return for_each_pair_if(id, [](const PerSide<Uid>&) { return true; }, fn);
}

Status StateStore::for_each_pair_if(MailboxPairId id,
                                    const std::function<bool(const PerSide<Uid>&)>& want,
                                    const std::function<Status(const MessagePair&)>& fn) {
  auto st = impl_->prepare(std::string("SELECT ") + kPairColumns +
                           " FROM message_pairs WHERE mailbox_id = ?1 ORDER BY local_uid");
  if (!st) return st.error();
  Stmt q(*impl_, *st);
  q.bind(1, id);
  for (;;) {
    auto row = q.step("reading message pairs");
    if (!row) return row.error();
    if (!*row) return {};
    if (!want(PerSide<Uid>{{q.uid(0), q.uid(1)}})) continue;
    if (auto s = fn(read_pair(q)); !s) return s;
  }
}

Result<PerSide<std::vector<Uid>>> StateStore::pair_uids(MailboxPairId id) {
  PerSide<std::vector<Uid>> out;
  for (Side side : kBothSides) {
    auto st = impl_->prepare(side == Side::Local
                                 ? "SELECT local_uid FROM message_pairs WHERE mailbox_id = ?1 AND "
                                   "local_uid > 0 ORDER BY local_uid"
                                 : "SELECT remote_uid FROM message_pairs WHERE mailbox_id = ?1 AND "
                                   "remote_uid > 0 ORDER BY remote_uid");
    if (!st) return st.error();
    Stmt q(*impl_, *st);
    q.bind(1, id);
    for (;;) {
      auto row = q.step("reading message pair UIDs");
      if (!row) return row.error();
      if (!*row) break;
      out[side].push_back(q.uid(0));
    }
  }
  return out;
}

Result<std::vector<MessagePair>> StateStore::pairs(MailboxPairId id) {
  std::vector<MessagePair> out;
  auto s = for_each_pair(id, [&](const MessagePair& p) -> Status {
    out.push_back(p);
    return {};
  });
  if (!s) return s.error();
  return out;
}

Result<std::optional<MessagePair>> StateStore::find_pair(MailboxPairId id, Side side, Uid uid) {
  auto st = impl_->prepare(std::string("SELECT ") + kPairColumns +
                           " FROM message_pairs WHERE mailbox_id = ?1 AND " + side_prefix(side) +
                           "uid = ?2");
  if (!st) return st.error();
  Stmt q(*impl_, *st);
  q.bind(1, id).bind_uid(2, uid);
  auto row = q.step("reading a message pair");
  if (!row) return row.error();
  if (!*row) return std::optional<MessagePair>{};
  return std::optional<MessagePair>(read_pair(q));
}

Result<std::size_t> StateStore::count_pairs(MailboxPairId id) {
  auto st = impl_->prepare("SELECT count(*) FROM message_pairs WHERE mailbox_id = ?1");
  if (!st) return st.error();
  Stmt q(*impl_, *st);
  q.bind(1, id);
  auto row = q.step("counting message pairs");
  if (!row) return row.error();
  return static_cast<std::size_t>(q.i64(0));
}

Result<bool> StateStore::any_pairs() {
  auto st = impl_->prepare("SELECT EXISTS (SELECT 1 FROM message_pairs)");
  if (!st) return st.error();
  Stmt q(*impl_, *st);
  auto row = q.step("looking for message pairs");
  if (!row) return row.error();
  return q.i64(0) != 0;
}

Result<std::size_t> StateStore::count_side_below(MailboxPairId id, Side side, Uid below) {
  auto st = impl_->prepare(side == Side::Local
                               ? "SELECT count(*) FROM message_pairs WHERE mailbox_id = ?1 AND "
                                 "local_uid > 0 AND local_uid < ?2"
                               : "SELECT count(*) FROM message_pairs WHERE mailbox_id = ?1 AND "
                                 "remote_uid > 0 AND remote_uid < ?2");
  if (!st) return st.error();
  Stmt q(*impl_, *st);
  q.bind(1, id);
  q.bind(2, static_cast<std::int64_t>(below.value));
  auto row = q.step("counting message pairs");
  if (!row) return row.error();
  return static_cast<std::size_t>(q.i64(0));
}

Status StateStore::upsert_pairs(MailboxPairId id, std::span<const MessagePair> pairs) {
  return impl_->write([&]() -> Status {
    auto del = impl_->prepare(
        "DELETE FROM message_pairs WHERE mailbox_id = ?1 AND (local_uid = ?2 OR remote_uid = ?3)");
    if (!del) return del.error();
    auto ins = impl_->prepare(std::string("INSERT INTO message_pairs (mailbox_id, ") +
                              kPairColumns +
                              ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
    if (!ins) return ins.error();
    for (const MessagePair& p : pairs) {
      if (!p.uid[Side::Local].valid() && !p.uid[Side::Remote].valid()) {
        return fail(Errc::Internal, Scope::Fatal,
                    "state database: a message pair needs at least one UID");
      }
      {
        Stmt d(*impl_, *del);
        d.bind(1, id).bind_uid(2, p.uid[Side::Local]).bind_uid(3, p.uid[Side::Remote]);
        if (auto s = d.run("replacing a message pair"); !s) return s;
      }
      Stmt q(*impl_, *ins);
      q.bind(1, id)
          .bind_uid(2, p.uid[Side::Local])
          .bind_uid(3, p.uid[Side::Remote])
          .bind(4, p.base_flags)
          .bind(5, p.modseq[Side::Local].to_storage())
          .bind(6, p.modseq[Side::Remote].to_storage())
          .bind(7, p.identity.message_id)
          .bind(8, size_to_storage(p.identity.size))
          .bind(9, p.identity.internaldate)
          .bind(10, p.identity.sha256)
          .bind(11, p.identity.email_id[Side::Local])
          .bind(12, p.identity.email_id[Side::Remote]);
      if (auto s = q.run("recording a message pair"); !s) return s;
    }
    return {};
  });
}

Status StateStore::set_email_ids(MailboxPairId id, Side side,
                                 std::span<const std::pair<Uid, std::string>> ids) {
  return impl_->write([&]() -> Status {
    const std::string p = side_prefix(side);
    auto st = impl_->prepare("UPDATE message_pairs SET " + p + "emailid = ?3 WHERE mailbox_id = ?1 AND " +
                             p + "uid = ?2");
    if (!st) return st.error();
    for (const auto& [uid, email_id] : ids) {
      if (!uid.valid()) continue;
      Stmt q(*impl_, *st);
      q.bind(1, id).bind_uid(2, uid).bind(3, email_id);
      if (auto s = q.run("recording a message's EMAILID"); !s) return s;
    }
    return {};
  });
}

Status StateStore::remove_pairs(MailboxPairId id, Side side, std::span<const Uid> uids) {
  return impl_->write([&]() -> Status {
    auto st = impl_->prepare("DELETE FROM message_pairs WHERE mailbox_id = ?1 AND " +
                             side_prefix(side) + "uid = ?2");
    if (!st) return st.error();
    for (Uid uid : uids) {
      if (!uid.valid()) continue;
      Stmt q(*impl_, *st);
      q.bind(1, id).bind_uid(2, uid);
      if (auto s = q.run("removing a message pair"); !s) return s;
    }
    return {};
  });
}

Status StateStore::set_base_flags(MailboxPairId id, std::span<const BaseFlagsUpdate> updates) {
  return impl_->write([&]() -> Status {
    for (const BaseFlagsUpdate& u : updates) {
      auto st = impl_->prepare(
          "UPDATE message_pairs SET base_flags = ?3, "
          "local_modseq = CASE WHEN ?4 = 0 THEN local_modseq ELSE ?4 END, "
          "remote_modseq = CASE WHEN ?5 = 0 THEN remote_modseq ELSE ?5 END "
          "WHERE mailbox_id = ?1 AND " + side_prefix(u.side) + "uid = ?2");
      if (!st) return st.error();
      Stmt q(*impl_, *st);
      q.bind(1, id)
          .bind_uid(2, u.uid)
          .bind(3, u.base_flags)
          .bind(4, u.modseq[Side::Local].to_storage())
          .bind(5, u.modseq[Side::Remote].to_storage());
      if (auto s = q.run("updating base flags"); !s) return s;
    }
    return {};
  });
}

Status StateStore::void_side(MailboxPairId id, Side side) {
  return impl_->write([&]() -> Status {
    const std::string p = side_prefix(side);
    const std::string o = side_prefix(other(side));
    const std::string steps[] = {
        "DELETE FROM message_pairs WHERE mailbox_id = ?1 AND " + o + "uid IS NULL",
        "UPDATE message_pairs SET " + p + "uid = NULL, " + p + "modseq = 0 WHERE mailbox_id = ?1",
        "UPDATE mailbox_pairs SET " + p + "uidnext = 0, " + p + "highestmodseq = 0, " + p +
            "announced_modseq = 0 WHERE id = ?1",
    };
    for (const std::string& sql : steps) {
      auto st = impl_->prepare(sql);
      if (!st) return st.error();
      Stmt q(*impl_, *st);
      q.bind(1, id);
      if (auto s = q.run("voiding the UIDs of one side"); !s) return s;
    }
    return {};
  });
}

// ---- append intents ----

Result<std::int64_t> StateStore::record_intent(const AppendIntent& in) {
  return impl_->write([&]() -> Result<std::int64_t> {
    auto st = impl_->prepare(
        "INSERT INTO append_intents (mailbox_id, source_side, source_uid, target_uidvalidity, "
        "target_uidnext, flags, message_id, size, internaldate, sha256) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    if (!st) return st.error();
    Stmt q(*impl_, *st);
    q.bind(1, in.mailbox)
        .bind(2, static_cast<std::int64_t>(in.source_side))
        .bind(3, static_cast<std::int64_t>(in.source_uid.value))
        .bind(4, static_cast<std::int64_t>(in.target_uidvalidity.value))
        .bind(5, static_cast<std::int64_t>(in.target_uidnext.value))
        .bind(6, in.flags)
        .bind(7, in.identity.message_id)
        .bind(8, size_to_storage(in.identity.size))
        .bind(9, in.identity.internaldate)
        .bind(10, in.identity.sha256);
    if (auto s = q.run("recording an append intent"); !s) return s.error();
    return static_cast<std::int64_t>(sqlite3_last_insert_rowid(impl_->db));
  });
}

Status StateStore::drop_intent(std::int64_t intent_id) {
  return impl_->write([&]() -> Status {
    auto st = impl_->prepare("DELETE FROM append_intents WHERE id = ?1");
    if (!st) return st.error();
    Stmt q(*impl_, *st);
    q.bind(1, intent_id);
    return q.run("dropping an append intent");
  });
}

Result<std::vector<AppendIntent>> StateStore::intents(MailboxPairId id) {
  auto st = impl_->prepare(
      "SELECT id, mailbox_id, source_side, source_uid, target_uidvalidity, target_uidnext, "
      "flags, message_id, size, internaldate, sha256 FROM append_intents WHERE mailbox_id = ?1 "
      "ORDER BY id");
  if (!st) return st.error();
  Stmt q(*impl_, *st);
  q.bind(1, id);
  std::vector<AppendIntent> out;
  for (;;) {
    auto row = q.step("reading append intents");
    if (!row) return row.error();
    if (!*row) break;
    AppendIntent a;
    a.id = q.i64(0);
    a.mailbox = q.i64(1);
    a.source_side = q.i64(2) == 0 ? Side::Local : Side::Remote;
    a.source_uid = Uid(static_cast<std::uint32_t>(q.i64(3)));
    a.target_uidvalidity = UidValidity(static_cast<std::uint32_t>(q.i64(4)));
    a.target_uidnext = Uid(static_cast<std::uint32_t>(q.i64(5)));
    a.flags = q.text(6);
    a.identity.message_id = q.text(7);
    a.identity.size = static_cast<std::uint64_t>(q.i64(8));
    a.identity.internaldate = q.i64(9);
    a.identity.sha256 = q.text(10);
    out.push_back(std::move(a));
  }
  return out;
}

// ---- meta ----

Result<std::optional<std::string>> StateStore::meta(std::string_view key) {
  auto st = impl_->prepare("SELECT value FROM meta WHERE key = ?1");
  if (!st) return st.error();
  Stmt q(*impl_, *st);
  q.bind(1, key);
  auto row = q.step("reading a meta value");
  if (!row) return row.error();
  if (!*row) return std::optional<std::string>{};
  return std::optional<std::string>(q.text(0));
}

Status StateStore::set_meta(std::string_view key, std::string_view value) {
  return impl_->write([&]() -> Status {
    auto st = impl_->prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)");
    if (!st) return st.error();
    Stmt q(*impl_, *st);
    q.bind(1, key).bind(2, value);
    return q.run("writing a meta value");
  });
}

}  // namespace twinbox::state
