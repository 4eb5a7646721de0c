#pragma once
/// State shared by all sessions of one server: the store, the options, the users, the
/// capability set, the clock. Private to the server layer.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <twinbox/net/tls.hpp>
#include <twinbox/server/options.hpp>

#include "auth_throttle.hpp"
#include "storage.hpp"

namespace twinbox::server {

class ServerCore {
 public:
  ServerCore(Options options, std::unique_ptr<Storage> storage);

  [[nodiscard]] const Options& options() const { return options_; }
  [[nodiscard]] Storage& store() { return *storage_; }

  /// The extensions Options::disabled may name (upper case): every capability that
  /// capabilities() announces except IMAP4rev1, AUTH=PLAIN and CHILDREN (core_test.cpp).
  static const std::vector<std::string_view>& switchable_extensions();
  /// Errc::Config naming the first entry of `disabled` (any case) that is not switchable,
  /// with the list of those that are.
  static Status check_disabled(const std::set<std::string>& disabled);
  /// True when extension `name` (upper case) is offered.
  [[nodiscard]] bool has(std::string_view name) const;
  /// The CAPABILITY list (without "CAPABILITY") for a session in the given situation.
  [[nodiscard]] std::string capabilities(bool authenticated, bool tls_active, bool compressed) const;
  [[nodiscard]] bool tls_available() const { return tls_ctx_.has_value(); }
  void set_tls(net::TlsServerContext ctx) { tls_ctx_.emplace(std::move(ctx)); }
  [[nodiscard]] const net::TlsServerContext* tls() const { return tls_ctx_ ? &*tls_ctx_ : nullptr; }
  /// COMPRESS=DEFLATE needs the net layer's deflate stream.
  [[nodiscard]] bool compress_supported() const { return compress_supported_; }
  void set_compress_supported(bool v) { compress_supported_ = v; }

  /// Constant-time password check (the comparison does not stop at the first difference).
  [[nodiscard]] bool check_password(std::string_view user, std::string_view password) const;
  [[nodiscard]] bool user_exists(std::string_view user) const;
  void add_user(const std::string& name, const std::string& password) { users_[name] = password; }
  /// Creates INBOX for the user when missing.
  Status ensure_user_mailboxes(std::string_view user);

  /// Per-address failed-login tracking shared by all sessions (auth_throttle.hpp).
  AuthThrottle& auth_throttle() { return auth_throttle_; }

  /// A test control applied while it lasts: bytes written by each connection (drop_after_bytes).
  [[nodiscard]] bool test_enabled() const { return options_.test.enabled; }

 private:
  Options options_;
  std::unique_ptr<Storage> storage_;
  std::map<std::string, std::string, std::less<>> users_;
  std::set<std::string, std::less<>> disabled_;
  std::optional<net::TlsServerContext> tls_ctx_;
  bool compress_supported_ = true;
  AuthThrottle auth_throttle_;
};

}  // namespace twinbox::server
