// Shared helpers of the state unit tests: a throw-away directory for a state file, raw SQL on
// that file (to fake older schemas), and opening a store that must open.
#pragma once

#include <doctest/doctest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <twinbox/state/store.hpp>

namespace twinbox::state::test {

/// A fresh directory per test, removed afterwards.
struct TempDir {
  std::filesystem::path dir;
  TempDir() {
    // mkdtemp() replaces the six trailing X of the template with a unique name.
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "twinbox-state-").string() + std::string(6, 'X');
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] std::string db() const { return (dir / "state.db").string(); }
};

inline void exec_sql(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  INFO((err ? err : ""));
  sqlite3_free(err);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

/// A mailbox pair named INBOX on both sides, with no side state yet.
inline MailboxPair inbox_pair() {
  MailboxPair m;
  m.name[Side::Local] = "INBOX";
  m.name[Side::Remote] = "INBOX";
  return m;
}

/// Opens (without fsync per commit) a store that must open.
inline StateStore open_ok(const std::string& path) {
  OpenOptions o;
  o.durable = false;
  auto s = StateStore::open(path, o);
  REQUIRE_MESSAGE(s.has_value(), (s ? std::string() : s.error().message));
  return std::move(s).value();
}

}  // namespace twinbox::state::test
