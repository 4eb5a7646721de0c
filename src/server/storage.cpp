#include "storage.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <random>

#include "sqlite_db.hpp"

namespace twinbox::server {
namespace {

constexpr const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS mailboxes(
  id INTEGER PRIMARY KEY,
  user TEXT NOT NULL,
  name TEXT NOT NULL,
  uidvalidity INTEGER NOT NULL,
  uidnext INTEGER NOT NULL,
  highestmodseq INTEGER NOT NULL,
  mailboxid TEXT NOT NULL,
  special_use TEXT NOT NULL DEFAULT '',
  UNIQUE(user, name));
CREATE TABLE IF NOT EXISTS subscriptions(user TEXT NOT NULL, name TEXT NOT NULL,
  PRIMARY KEY(user, name));
CREATE TABLE IF NOT EXISTS bodies(id INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS messages(
  mailbox INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  internaldate INTEGER NOT NULL,
  zone INTEGER NOT NULL,
  size INTEGER NOT NULL,
  flags TEXT NOT NULL,
  emailid TEXT NOT NULL,
  body INTEGER NOT NULL,
  recent INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY(mailbox, uid));
CREATE INDEX IF NOT EXISTS messages_modseq ON messages(mailbox, modseq);
CREATE INDEX IF NOT EXISTS messages_body ON messages(body);
CREATE TABLE IF NOT EXISTS expunged(mailbox INTEGER NOT NULL, uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL, PRIMARY KEY(mailbox, uid));
CREATE INDEX IF NOT EXISTS expunged_modseq ON expunged(mailbox, modseq);
)SQL";

constexpr std::string_view kSystemFlags[] = {"\\Answered", "\\Deleted", "\\Draft", "\\Flagged",
                                             "\\Seen"};

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

std::vector<std::string> split_words(const std::string& s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t j = s.find(' ', i);
    if (j == std::string::npos) j = s.size();
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

MailboxInfo read_mailbox(const Stmt& st) {
  MailboxInfo m;
  m.id = st.i64(0);
  m.name = st.text(1);
  m.uidvalidity = UidValidity(static_cast<std::uint32_t>(st.i64(2)));
  m.uidnext = Uid(static_cast<std::uint32_t>(st.i64(3)));
  m.highestmodseq = ModSeq::from_storage(st.i64(4));
  m.mailboxid = st.text(5);
  m.special_use = split_words(st.text(6));
  return m;
}

constexpr const char* kMailboxCols =
    "id, name, uidvalidity, uidnext, highestmodseq, mailboxid, special_use";
constexpr const char* kMessageCols =
    "uid, modseq, internaldate, zone, size, flags, emailid, body, recent";

MessageInfo read_message(const Stmt& st) {
  MessageInfo m;
  m.uid = Uid(static_cast<std::uint32_t>(st.i64(0)));
  m.modseq = ModSeq::from_storage(st.i64(1));
  m.internaldate = st.i64(2);
  m.internaldate_zone = static_cast<int>(st.i64(3));
  m.size = static_cast<std::uint64_t>(st.i64(4));
  m.flags = split_words(st.text(5));
  m.emailid = st.text(6);
  m.body_id = st.i64(7);
  m.recent = st.i64(8) != 0;
  return m;
}

}  // namespace

std::vector<std::string> canonical_flags(const std::vector<std::string>& flags) {
  std::vector<std::string> out;
  for (const auto& f : flags) {
    if (f.empty() || iequals(f, "\\Recent")) continue;
    std::string canon = f;
    for (auto sys : kSystemFlags) {
      if (iequals(f, sys)) canon = std::string(sys);
    }
    if (!has_flag(out, canon)) out.push_back(std::move(canon));
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool has_flag(const std::vector<std::string>& flags, std::string_view flag) {
  return std::any_of(flags.begin(), flags.end(), [&](const std::string& f) { return iequals(f, flag); });
}

std::string join_flags(const std::vector<std::string>& flags) {
  std::string out;
  for (const auto& f : flags) {
    if (!out.empty()) out += ' ';
    out += f;
  }
  return out;
}

Result<std::unique_ptr<Storage>> Storage::open(const std::string& path, bool durable) {
  std::unique_ptr<Storage> s(new Storage());
  int rc = sqlite3_open_v2(path.c_str(), &s->db_,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = s->db_ ? sqlite3_errmsg(s->db_) : "out of memory";
    return fail(Errc::Storage, Scope::Fatal,
                "cannot open the mail store '" + path + "': " + msg +
                    " (check the path and its permissions)");
  }
  sqlite3_busy_timeout(s->db_, 5000);
  if (path != ":memory:") {
    if (auto st = s->exec("PRAGMA journal_mode=WAL"); !st) return st.error();
  }
  if (auto st = s->exec(durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"); !st)
    return st.error();
  if (auto st = s->init_schema(); !st) return st.error();
  return s;
}

Storage::~Storage() {
  for (auto& [sql, st] : cache_) sqlite3_finalize(st);
  if (db_) sqlite3_close_v2(db_);
}

Status Storage::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return fail(Errc::Storage, Scope::Fatal, "mail store (SQLite): " + msg);
  }
  return {};
}

Result<Stmt> Storage::prepare(const char* sql) {
  // Statements are cached by the address of their (static) SQL text; one still running
  // (a nested use of the same query) gets a fresh, uncached statement.
  auto it = cache_.find(sql);
  if (it != cache_.end() && !sqlite3_stmt_busy(it->second)) return Stmt(db_, it->second, true);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK) {
    return fail(Errc::Storage, Scope::Fatal,
                std::string("mail store (SQLite): ") + sqlite3_errmsg(db_) + " in: " + sql);
  }
  if (it == cache_.end()) {
    cache_[sql] = st;
    return Stmt(db_, st, true);
  }
  return Stmt(db_, st);
}

Status Storage::init_schema() {
  if (auto st = exec(kSchema); !st) return st;
  auto st = prepare("INSERT OR IGNORE INTO meta(key, value) VALUES('next_uidvalidity', ?)");
  if (!st) return st.error();
  // Time-based start so a recreated store does not reuse old UIDVALIDITY values.
  st->bind(1, static_cast<std::int64_t>(std::time(nullptr) & 0x7fffffff) | 1);
  if (auto r = st->run(); !r) return r;
  auto st2 = prepare("INSERT OR IGNORE INTO meta(key, value) VALUES('next_object', ?)");
  if (!st2) return st2.error();
  std::random_device rd;
  st2->bind(1, static_cast<std::int64_t>((std::uint64_t{rd()} << 20) & 0xffffffffffULL));
  return st2->run();
}

Status Storage::begin_nested(bool& owner) {
  owner = txn_depth_ == 0;
  if (owner) {
    if (auto st = exec("BEGIN IMMEDIATE"); !st) return st;
    txn_failed_ = false;
  }
  ++txn_depth_;
  return {};
}

Status Storage::end_nested(bool owner, bool commit) {
  --txn_depth_;
  if (!commit) txn_failed_ = true;
  if (!owner) return {};
  if (commit && !txn_failed_) {
    if (auto st = exec("COMMIT"); !st) {
      (void)exec("ROLLBACK");
      return st;
    }
    ++generation_;
    return {};
  }
  (void)exec("ROLLBACK");
  return {};
}

Storage::Txn::Txn(Storage& s) : s_(s) {
  if (!s_.begin_nested(owner_)) done_ = true;
}
Storage::Txn::~Txn() {
  if (!done_) (void)s_.end_nested(owner_, false);
}
Status Storage::Txn::commit() {
  if (done_) return fail(Errc::Storage, Scope::Fatal, "mail store: transaction could not start");
  done_ = true;
  return s_.end_nested(owner_, true);
}

Storage::Batch::Batch(Storage& s) : s_(s) {
  if (s_.txn_depth_ != 0 || !s_.exec("BEGIN")) return;
  active_ = true;
  changes_ = sqlite3_total_changes64(s_.db_);
  ++s_.txn_depth_;
  s_.txn_failed_ = false;
}

Storage::Batch::~Batch() { (void)end(); }

Status Storage::Batch::end() {
  if (!active_) return {};
  active_ = false;
  --s_.txn_depth_;
  bool changed = sqlite3_total_changes64(s_.db_) != changes_;
  if (s_.txn_failed_) {
    (void)s_.exec("ROLLBACK");
    return fail(Errc::Storage, Scope::Fatal, "mail store: a change inside a read batch failed");
  }
  if (auto st = s_.exec("COMMIT"); !st) {
    (void)s_.exec("ROLLBACK");
    return st;
  }
  if (changed) ++s_.generation_;
  return {};
}

Result<std::string> Storage::new_object_id(char prefix) {
  auto st = prepare("UPDATE meta SET value = value + 1 WHERE key = 'next_object' RETURNING value");
  if (!st) return st.error();
  if (!st->step()) return st->error();
  auto v = static_cast<std::uint64_t>(st->i64(0));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(1, prefix);
  for (int shift = 44; shift >= 0; shift -= 4) id += kHex[(v >> shift) & 0xf];
  return id;
}

Result<std::optional<MailboxInfo>> Storage::find_mailbox(std::string_view user, std::string_view name) {
  static const std::string sql =
      std::string("SELECT ") + kMailboxCols + " FROM mailboxes WHERE user=? AND name=?";
  auto st = prepare(sql.c_str());
  if (!st) return st.error();
  st->bind(1, user).bind(2, name);
  if (st->step()) return std::optional<MailboxInfo>(read_mailbox(*st));
  if (!st->ok()) return st->error();
  return std::optional<MailboxInfo>();
}

Result<std::optional<MailboxInfo>> Storage::mailbox_by_id(std::int64_t id) {
  static const std::string sql = std::string("SELECT ") + kMailboxCols + " FROM mailboxes WHERE id=?";
  auto st = prepare(sql.c_str());
  if (!st) return st.error();
  st->bind(1, id);
  if (st->step()) return std::optional<MailboxInfo>(read_mailbox(*st));
  if (!st->ok()) return st->error();
  return std::optional<MailboxInfo>();
}

Result<std::vector<MailboxInfo>> Storage::mailboxes(std::string_view user) {
  static const std::string sql =
      std::string("SELECT ") + kMailboxCols + " FROM mailboxes WHERE user=? ORDER BY name";
  auto st = prepare(sql.c_str());
  if (!st) return st.error();
  st->bind(1, user);
  std::vector<MailboxInfo> out;
  while (st->step()) out.push_back(read_mailbox(*st));
  if (!st->ok()) return st->error();
  return out;
}

Result<MailboxInfo> Storage::create_mailbox(std::string_view user, std::string_view name,
                                            const std::vector<std::string>& special_use) {
  Txn txn(*this);
  auto existing = find_mailbox(user, name);
  if (!existing) return existing.error();
  if (*existing) {
    return fail(Errc::Conflict, Scope::Mailbox, "mailbox '" + std::string(name) + "' already exists");
  }
  auto uv = prepare(
      "UPDATE meta SET value = CASE WHEN value >= 4294967295 THEN 1 ELSE value + 1 END "
      "WHERE key='next_uidvalidity' RETURNING value - 1");
  if (!uv) return uv.error();
  if (!uv->step()) return uv->error();
  std::int64_t uidvalidity = uv->i64(0);
  if (uidvalidity <= 0) uidvalidity = 1;
  uv->reset();
  auto mid = new_object_id('M');
  if (!mid) return mid.error();
  auto st = prepare(
      "INSERT INTO mailboxes(user, name, uidvalidity, uidnext, highestmodseq, mailboxid, "
      "special_use) VALUES(?,?,?,1,1,?,?)");
  if (!st) return st.error();
  st->bind(1, user).bind(2, name).bind(3, uidvalidity).bind(4, *mid).bind(5, join_flags(special_use));
  if (auto r = st->run(); !r) return r.error();
  std::int64_t id = sqlite3_last_insert_rowid(db_);
  if (auto c = txn.commit(); !c) return c.error();
  auto m = mailbox_by_id(id);
  if (!m) return m.error();
  if (!*m) return fail(Errc::Internal, Scope::Fatal, "mail store: created mailbox vanished");
  return **m;
}

Status Storage::delete_mailbox(std::int64_t id) {
  Txn txn(*this);
  const char* sqls[] = {
      "DELETE FROM messages WHERE mailbox=?",
      "DELETE FROM expunged WHERE mailbox=?",
      "DELETE FROM mailboxes WHERE id=?",
  };
  for (const char* sql : sqls) {
    auto st = prepare(sql);
    if (!st) return st.error();
    st->bind(1, id);
    if (auto r = st->run(); !r) return r;
  }
  if (auto r = exec("DELETE FROM bodies WHERE id NOT IN (SELECT body FROM messages)"); !r) return r;
  return txn.commit();
}

Status Storage::rename_mailbox(std::string_view user, std::string_view old_name,
                               std::string_view new_name) {
  Txn txn(*this);
  auto st = prepare(
      "UPDATE mailboxes SET name = ?3 || substr(name, length(?2) + 1) "
      "WHERE user=?1 AND (name=?2 OR substr(name, 1, length(?2) + 1) = ?2 || '/')");
  if (!st) return st.error();
  st->bind(1, user).bind(2, old_name).bind(3, new_name);
  if (auto r = st->run(); !r) return r;
  return txn.commit();
}

Status Storage::set_special_use(std::int64_t id, const std::vector<std::string>& special_use) {
  auto st = prepare("UPDATE mailboxes SET special_use=? WHERE id=?");
  if (!st) return st.error();
  st->bind(1, join_flags(special_use)).bind(2, id);
  if (auto r = st->run(); !r) return r;
  ++generation_;
  return {};
}

Status Storage::reset_uidvalidity(std::int64_t id, UidValidity v) {
  Txn txn(*this);
  auto msgs = messages(id);
  if (!msgs) return msgs.error();
  // Renumber in two passes through negative UIDs to keep the primary key unique.
  auto neg = prepare("UPDATE messages SET uid = -uid WHERE mailbox=?");
  if (!neg) return neg.error();
  neg->bind(1, id);
  if (auto r = neg->run(); !r) return r;
  auto ren = prepare("UPDATE messages SET uid=? WHERE mailbox=? AND uid=?");
  if (!ren) return ren.error();
  std::int64_t next = 1;
  for (const auto& m : *msgs) {
    ren->reset();
    ren->bind(1, next++).bind(2, id).bind(3, -static_cast<std::int64_t>(m.uid.value));
    if (auto r = ren->run(); !r) return r;
  }
  auto ex = prepare("DELETE FROM expunged WHERE mailbox=?");
  if (!ex) return ex.error();
  ex->bind(1, id);
  if (auto r = ex->run(); !r) return r;
  auto mb = prepare("UPDATE mailboxes SET uidvalidity=?, uidnext=? WHERE id=?");
  if (!mb) return mb.error();
  mb->bind(1, static_cast<std::int64_t>(v.value)).bind(2, next).bind(3, id);
  if (auto r = mb->run(); !r) return r;
  return txn.commit();
}

Result<MailboxCounts> Storage::counts(std::int64_t id) {
  auto st = prepare(
      "SELECT count(*), coalesce(sum(recent),0), coalesce(sum(size),0), "
      "coalesce(sum(instr(' ' || flags || ' ', ' \\Seen ') = 0),0), "
      "coalesce(sum(instr(' ' || flags || ' ', ' \\Deleted ') > 0),0) "
      "FROM messages WHERE mailbox=?");
  if (!st) return st.error();
  st->bind(1, id);
  if (!st->step()) return st->error();
  MailboxCounts c;
  c.messages = static_cast<std::uint32_t>(st->i64(0));
  c.recent = static_cast<std::uint32_t>(st->i64(1));
  c.size = static_cast<std::uint64_t>(st->i64(2));
  c.unseen = static_cast<std::uint32_t>(st->i64(3));
  c.deleted = static_cast<std::uint32_t>(st->i64(4));
  return c;
}

Status Storage::subscribe(std::string_view user, std::string_view name) {
  auto st = prepare("INSERT OR IGNORE INTO subscriptions(user, name) VALUES(?,?)");
  if (!st) return st.error();
  st->bind(1, user).bind(2, name);
  if (auto r = st->run(); !r) return r;
  ++generation_;
  return {};
}

Status Storage::unsubscribe(std::string_view user, std::string_view name) {
  auto st = prepare("DELETE FROM subscriptions WHERE user=? AND name=?");
  if (!st) return st.error();
  st->bind(1, user).bind(2, name);
  if (auto r = st->run(); !r) return r;
  ++generation_;
  return {};
}

Result<std::vector<std::string>> Storage::subscriptions(std::string_view user) {
  auto st = prepare("SELECT name FROM subscriptions WHERE user=? ORDER BY name");
  if (!st) return st.error();
  st->bind(1, user);
  std::vector<std::string> out;
  while (st->step()) out.push_back(st->text(0));
  if (!st->ok()) return st->error();
  return out;
}

Result<std::vector<MessageInfo>> Storage::messages(std::int64_t mailbox) {
  static const std::string sql =
      std::string("SELECT ") + kMessageCols + " FROM messages WHERE mailbox=? ORDER BY uid";
  auto st = prepare(sql.c_str());
  if (!st) return st.error();
  st->bind(1, mailbox);
  std::vector<MessageInfo> out;
  while (st->step()) out.push_back(read_message(*st));
  if (!st->ok()) return st->error();
  return out;
}

Result<std::vector<Uid>> Storage::uids(std::int64_t mailbox) {
  auto st = prepare("SELECT uid FROM messages WHERE mailbox=? ORDER BY uid");
  if (!st) return st.error();
  st->bind(1, mailbox);
  std::vector<Uid> out;
  while (st->step()) out.emplace_back(static_cast<std::uint32_t>(st->i64(0)));
  if (!st->ok()) return st->error();
  return out;
}

Result<std::optional<MessageInfo>> Storage::message(std::int64_t mailbox, Uid uid) {
  static const std::string sql =
      std::string("SELECT ") + kMessageCols + " FROM messages WHERE mailbox=? AND uid=?";
  auto st = prepare(sql.c_str());
  if (!st) return st.error();
  st->bind(1, mailbox).bind(2, static_cast<std::int64_t>(uid.value));
  if (st->step()) return std::optional<MessageInfo>(read_message(*st));
  if (!st->ok()) return st->error();
  return std::optional<MessageInfo>();
}

Result<std::string> Storage::body(std::int64_t body_id) {
  auto st = prepare("SELECT data FROM bodies WHERE id=?");
  if (!st) return st.error();
  st->bind(1, body_id);
  if (st->step()) return std::string(st->blob(0));
  if (!st->ok()) return st->error();
  return fail(Errc::NotFound, Scope::Message, "message body no longer exists");
}

Status Storage::body_into(std::int64_t body_id, std::string& out) {
  auto st = prepare("SELECT data FROM bodies WHERE id=?");
  if (!st) return st.error();
  st->bind(1, body_id);
  if (st->step()) {
    out.assign(st->blob(0));
    return {};
  }
  if (!st->ok()) return st->error();
  return fail(Errc::NotFound, Scope::Message, "message body no longer exists");
}

Result<ModSeq> Storage::bump_modseq(std::int64_t mailbox) {
  auto st = prepare(
      "UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id=? RETURNING highestmodseq");
  if (!st) return st.error();
  st->bind(1, mailbox);
  if (!st->step()) {
    if (!st->ok()) return st->error();
    return fail(Errc::NotFound, Scope::Mailbox, "mailbox no longer exists");
  }
  return ModSeq::from_storage(st->i64(0));
}

Result<Uid> Storage::append(std::int64_t mailbox, std::string_view body,
                            const std::vector<std::string>& flags, std::int64_t internaldate,
                            int zone_minutes, ModSeq modseq) {
  Txn txn(*this);
  if (!modseq.valid()) {
    auto m = bump_modseq(mailbox);
    if (!m) return m.error();
    modseq = *m;
  }
  auto b = prepare("INSERT INTO bodies(data) VALUES(?)");
  if (!b) return b.error();
  b->bind_blob(1, body);
  if (auto r = b->run(); !r) return r.error();
  std::int64_t body_id = sqlite3_last_insert_rowid(db_);
  auto eid = new_object_id('E');
  if (!eid) return eid.error();
  auto u = prepare("UPDATE mailboxes SET uidnext = uidnext + 1 WHERE id=? RETURNING uidnext - 1");
  if (!u) return u.error();
  u->bind(1, mailbox);
  if (!u->step()) return u->error();
  std::int64_t uid = u->i64(0);
  u->reset();
  if (uid > static_cast<std::int64_t>(kMaxUid)) {
    return fail(Errc::Limit, Scope::Mailbox, "mailbox has run out of UIDs");
  }
  auto st = prepare(
      "INSERT INTO messages(mailbox, uid, modseq, internaldate, zone, size, flags, emailid, body)"
      " VALUES(?,?,?,?,?,?,?,?,?)");
  if (!st) return st.error();
  st->bind(1, mailbox).bind(2, uid).bind(3, modseq.to_storage()).bind(4, internaldate);
  st->bind(5, zone_minutes).bind(6, static_cast<std::int64_t>(body.size()));
  st->bind(7, join_flags(flags)).bind(8, *eid).bind(9, body_id);
  if (auto r = st->run(); !r) return r.error();
  if (auto c = txn.commit(); !c) return c.error();
  return Uid(static_cast<std::uint32_t>(uid));
}

Result<Uid> Storage::copy(std::int64_t src, Uid uid, std::int64_t dst, ModSeq modseq) {
  Txn txn(*this);
  auto m = message(src, uid);
  if (!m) return m.error();
  if (!*m) return fail(Errc::NotFound, Scope::Message, "message no longer exists");
  auto u = prepare("UPDATE mailboxes SET uidnext = uidnext + 1 WHERE id=? RETURNING uidnext - 1");
  if (!u) return u.error();
  u->bind(1, dst);
  if (!u->step()) return u->error();
  std::int64_t new_uid = u->i64(0);
  u->reset();
  if (new_uid > static_cast<std::int64_t>(kMaxUid)) {
    return fail(Errc::Limit, Scope::Mailbox, "mailbox has run out of UIDs");
  }
  auto st = prepare(
      "INSERT INTO messages(mailbox, uid, modseq, internaldate, zone, size, flags, emailid, body)"
      " VALUES(?,?,?,?,?,?,?,?,?)");
  if (!st) return st.error();
  st->bind(1, dst).bind(2, new_uid).bind(3, modseq.to_storage()).bind(4, (*m)->internaldate);
  st->bind(5, (*m)->internaldate_zone).bind(6, static_cast<std::int64_t>((*m)->size));
  st->bind(7, join_flags((*m)->flags)).bind(8, (*m)->emailid).bind(9, (*m)->body_id);
  if (auto r = st->run(); !r) return r.error();
  if (auto c = txn.commit(); !c) return c.error();
  return Uid(static_cast<std::uint32_t>(new_uid));
}

Status Storage::set_flags(std::int64_t mailbox, Uid uid, const std::vector<std::string>& flags,
                          ModSeq modseq) {
  auto st = prepare("UPDATE messages SET flags=?, modseq=? WHERE mailbox=? AND uid=?");
  if (!st) return st.error();
  st->bind(1, join_flags(flags)).bind(2, modseq.to_storage()).bind(3, mailbox);
  st->bind(4, static_cast<std::int64_t>(uid.value));
  if (auto r = st->run(); !r) return r;
  if (txn_depth_ == 0) ++generation_;
  return {};
}

Status Storage::expunge(std::int64_t mailbox, const std::vector<Uid>& uids) {
  if (uids.empty()) return {};
  Txn txn(*this);
  auto m = bump_modseq(mailbox);
  if (!m) return m.error();
  auto del = prepare("DELETE FROM messages WHERE mailbox=? AND uid=? RETURNING body");
  auto log = prepare("INSERT OR REPLACE INTO expunged(mailbox, uid, modseq) VALUES(?,?,?)");
  auto gc = prepare("DELETE FROM bodies WHERE id=?1 AND NOT EXISTS "
                    "(SELECT 1 FROM messages WHERE body=?1)");
  if (!del) return del.error();
  if (!log) return log.error();
  if (!gc) return gc.error();
  for (Uid uid : uids) {
    del->reset();
    del->bind(1, mailbox).bind(2, static_cast<std::int64_t>(uid.value));
    if (!del->step()) {
      if (!del->ok()) return del->error();
      continue;  // already gone
    }
    std::int64_t body = del->i64(0);
    if (auto r = del->run(); !r) return r;
    log->reset();
    log->bind(1, mailbox).bind(2, static_cast<std::int64_t>(uid.value)).bind(3, m->to_storage());
    if (auto r = log->run(); !r) return r;
    gc->reset();
    gc->bind(1, body);
    if (auto r = gc->run(); !r) return r;
  }
  return txn.commit();
}

Status Storage::clear_recent(std::int64_t mailbox, const std::vector<Uid>& uids) {
  if (uids.empty()) return {};
  Txn txn(*this);
  auto st = prepare("UPDATE messages SET recent=0 WHERE mailbox=? AND uid=?");
  if (!st) return st.error();
  for (Uid uid : uids) {
    st->reset();
    st->bind(1, mailbox).bind(2, static_cast<std::int64_t>(uid.value));
    if (auto r = st->run(); !r) return r;
  }
  return txn.commit();
}

Result<std::vector<std::pair<Uid, ModSeq>>> Storage::changed_since(std::int64_t mailbox, ModSeq since) {
  auto st = prepare("SELECT uid, modseq FROM messages WHERE mailbox=? AND modseq>? ORDER BY uid");
  if (!st) return st.error();
  st->bind(1, mailbox).bind(2, since.to_storage());
  std::vector<std::pair<Uid, ModSeq>> out;
  while (st->step()) {
    out.emplace_back(Uid(static_cast<std::uint32_t>(st->i64(0))), ModSeq::from_storage(st->i64(1)));
  }
  if (!st->ok()) return st->error();
  return out;
}

Result<std::vector<Uid>> Storage::expunged_since(std::int64_t mailbox, ModSeq since) {
  auto st = prepare("SELECT uid FROM expunged WHERE mailbox=? AND modseq>? ORDER BY uid");
  if (!st) return st.error();
  st->bind(1, mailbox).bind(2, since.to_storage());
  std::vector<Uid> out;
  while (st->step()) out.emplace_back(static_cast<std::uint32_t>(st->i64(0)));
  if (!st->ok()) return st->error();
  return out;
}

}  // namespace twinbox::server
