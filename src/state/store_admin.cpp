// Read-only access to the state database for `twinbox status` (store.hpp, "Read-only summary").
// Its own short-lived SQLite handle: no run lock, no migration, no write of any kind.

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include <sqlite3.h>

#include <twinbox/state/schema.hpp>
#include <twinbox/state/store.hpp>

namespace twinbox::state {
namespace {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;
using Query = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

Error storage_error(const std::string& path, sqlite3* db, int rc, std::string_view what) {
  std::string msg = "state database " + path + ": " + std::string(what) + " failed: ";
  msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if ((rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT) {
    msg += "; the file is not a twinbox state database or is damaged";
  }
  return fail(Errc::Storage, Scope::Fatal, std::move(msg));
}

class Reader {
 public:
  Reader(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}

  /// Runs `sql`, calling `row` for each result row.
  template <class F>
  Status each(const char* sql, std::string_view what, F&& row) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql, -1, &raw, nullptr);
    Query q(raw);
    if (rc != SQLITE_OK) return storage_error(path_, db_, rc, what);
    for (;;) {
      rc = sqlite3_step(q.get());
      if (rc == SQLITE_DONE) return {};
      if (rc != SQLITE_ROW) return storage_error(path_, db_, rc, what);
      row(q.get());
    }
  }

 private:
  std::string path_;
  sqlite3* db_;
};

std::int64_t i64(sqlite3_stmt* q, int col) { return sqlite3_column_int64(q, col); }
std::string text(sqlite3_stmt* q, int col) {
  const auto* p = sqlite3_column_text(q, col);
  return p == nullptr ? std::string()
                      : std::string(reinterpret_cast<const char*>(p),
                                    static_cast<std::size_t>(sqlite3_column_bytes(q, col)));
}

MailboxPair mailbox_row(sqlite3_stmt* q) {
  MailboxPair m;
  m.id = i64(q, 0);
  m.name[Side::Local] = text(q, 1);
  m.name[Side::Remote] = text(q, 2);
  m.subscribed = i64(q, 3) != 0;
  m.special_use = text(q, 4);
  int col = 5;
  for (Side s : kBothSides) {
    SideState& st = m.side[s];
    st.uidvalidity = UidValidity(static_cast<std::uint32_t>(i64(q, col++)));
    st.uidnext = Uid(static_cast<std::uint32_t>(i64(q, col++)));
    st.highestmodseq = ModSeq::from_storage(i64(q, col++));
    st.mailbox_id = text(q, col++);
    st.last_sync = i64(q, col++);
    st.problem = text(q, col++);
  }
  return m;
}

MailboxSummary* find(StateSummary& s, std::int64_t id) {
  for (auto& m : s.mailboxes) {
    if (m.pair.id == id) return &m;
  }
  return nullptr;
}

Status read_counts(Reader& r, StateSummary& out) {
  auto st = r.each(
      "SELECT mailbox_id, sum(local_uid IS NOT NULL AND remote_uid IS NOT NULL), "
      "sum(local_uid IS NULL OR remote_uid IS NULL) FROM message_pairs GROUP BY mailbox_id",
      "counting message pairs", [&](sqlite3_stmt* q) {
        if (auto* m = find(out, i64(q, 0))) {
          m->messages = static_cast<std::size_t>(i64(q, 1));
          m->half_pairs = static_cast<std::size_t>(i64(q, 2));
        }
      });
  if (!st) return st;
  return r.each("SELECT mailbox_id, count(*) FROM append_intents GROUP BY mailbox_id",
                "counting append intents", [&](sqlite3_stmt* q) {
                  if (auto* m = find(out, i64(q, 0))) m->intents = static_cast<std::size_t>(i64(q, 1));
                });
}

}  // namespace

Result<StateSummary> read_summary(const std::string& path) {
  struct stat sb {};
  if (::stat(path.c_str(), &sb) != 0) {
    if (errno == ENOENT) {
      return fail(Errc::NotFound, Scope::Fatal,
                  "state database " + path +
                      " does not exist: nothing has been synced with this config yet (run "
                      "'twinbox sync' to create it)");
    }
    return fail(Errc::Storage, Scope::Fatal,
                "state database: cannot examine " + path + ": " + std::strerror(errno));
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) return storage_error(path, raw, rc, "opening (read-only)");
  sqlite3_busy_timeout(raw, 5000);
  Reader r(path, raw);
  StateSummary out;
  out.path = path;
  auto st = r.each("PRAGMA user_version", "reading the schema version",
                   [&](sqlite3_stmt* q) { out.schema_version = static_cast<int>(i64(q, 0)); });
  if (!st) return st.error();
  if (out.schema_version == 0) {
    return fail(Errc::Storage, Scope::Fatal,
                "state database " + path + " is empty (a run was interrupted before it wrote "
                "anything); run 'twinbox sync'");
  }
  if (out.schema_version > kSchemaVersion) {
    return fail(Errc::Storage, Scope::Fatal,
                "state database " + path + " has schema version " +
                    std::to_string(out.schema_version) + ", newer than this twinbox understands (" +
                    std::to_string(kSchemaVersion) + "): upgrade twinbox");
  }
  // Columns as in store.cpp's kMailboxColumns (schema.hpp, version 1).
  st = r.each(
      "SELECT id, local_name, remote_name, subscribed, special_use, local_uidvalidity, "
      "local_uidnext, local_highestmodseq, local_mailboxid, local_last_sync, local_problem, "
      "remote_uidvalidity, remote_uidnext, remote_highestmodseq, remote_mailboxid, "
      "remote_last_sync, remote_problem FROM mailbox_pairs ORDER BY id",
      "listing mailboxes", [&](sqlite3_stmt* q) { out.mailboxes.push_back({mailbox_row(q), 0, 0, 0}); });
  if (!st) return st.error();
  if (auto c = read_counts(r, out); !c) return c.error();
  return out;
}

}  // namespace twinbox::state
