#pragma once
/// Thin RAII wrappers over the SQLite C API for the server's storage (private to the layer).
/// Errors become twinbox::Error with Errc::Storage and the SQLite message.

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include <twinbox/base/result.hpp>

namespace twinbox::server {

/// A prepared statement. Bind with 1-based indexes; step() returns true while a row is ready.
class Stmt {
 public:
  Stmt() = default;
  /// `cached`: the statement belongs to a cache and is only reset when this Stmt ends.
  Stmt(sqlite3* db, sqlite3_stmt* st, bool cached = false) : db_(db), st_(st), cached_(cached) {}
  Stmt(Stmt&& o) noexcept : db_(o.db_), st_(o.st_), cached_(o.cached_) { o.st_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept {
    if (this != &o) {
      finalize();
      db_ = o.db_;
      st_ = o.st_;
      cached_ = o.cached_;
      o.st_ = nullptr;
    }
    return *this;
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { finalize(); }

  Stmt& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(st_, i, v);
    return *this;
  }
  Stmt& bind(int i, std::string_view v) {
    sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind_blob(int i, std::string_view v) {
    sqlite3_bind_blob(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  /// Steps once: true = a row is available, false = done. Errors are reported through ok().
  bool step() {
    rc_ = sqlite3_step(st_);
    return rc_ == SQLITE_ROW;
  }
  [[nodiscard]] bool ok() const { return rc_ == SQLITE_ROW || rc_ == SQLITE_DONE; }
  /// Runs to completion; returns an error when the statement failed.
  Status run() {
    while (step()) {
    }
    if (!ok()) return error();
    return {};
  }
  void reset() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  [[nodiscard]] std::int64_t i64(int col) const { return sqlite3_column_int64(st_, col); }
  [[nodiscard]] std::string text(int col) const {
    const auto* p = sqlite3_column_text(st_, col);
    int n = sqlite3_column_bytes(st_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n)) : std::string();
  }
  [[nodiscard]] std::string_view blob(int col) const {
    const void* p = sqlite3_column_blob(st_, col);
    int n = sqlite3_column_bytes(st_, col);
    return p ? std::string_view(static_cast<const char*>(p), static_cast<std::size_t>(n))
             : std::string_view();
  }
  [[nodiscard]] bool is_null(int col) const { return sqlite3_column_type(st_, col) == SQLITE_NULL; }
  [[nodiscard]] Error error() const {
    return fail(Errc::Storage, Scope::Fatal,
                std::string("mail store (SQLite): ") + sqlite3_errmsg(db_));
  }

 private:
  void finalize() {
    if (st_ && cached_) {
      sqlite3_reset(st_);
      sqlite3_clear_bindings(st_);
    } else if (st_) {
      sqlite3_finalize(st_);
    }
    st_ = nullptr;
  }
  sqlite3* db_ = nullptr;
  sqlite3_stmt* st_ = nullptr;
  bool cached_ = false;
  int rc_ = SQLITE_OK;
};

}  // namespace twinbox::server
