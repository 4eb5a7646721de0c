#pragma once
/// The embedded IMAP4rev1 server (DESIGN.md "The embedded server").
///
/// One thread runs the loop: run_once() polls every connection once; run_until() loops
/// until a flag is set. Other threads may call stop(), wake() and the direct store API
/// (append_message, messages, …): those take the server's lock and wake the loop, so IDLE
/// sessions see the change at once. Typical test use:
///
///   server::Options opt; opt.port = 0; opt.users = {{"alice", "secret"}};
///   auto srv = server::Server::create(opt);          // opens the store
///   auto port = (*srv)->start();                     // binds 127.0.0.1:<ephemeral>
///   std::thread t([&] { (void)(*srv)->run(); });     // until stop()
///   … connect to *port …
///   (*srv)->stop(); t.join();

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <twinbox/base/result.hpp>
#include <twinbox/server/mail.hpp>
#include <twinbox/server/options.hpp>

namespace twinbox::server {

class ServerImpl;

class Server {
 public:
  /// Opens the store (creating INBOX for every user) and loads users. Errc::Config for a
  /// bad users file or TLS files or an unknown name in Options::disabled, Errc::Storage
  /// when the database cannot be opened.
  static Result<std::unique_ptr<Server>> create(const Options& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds the listeners; returns the plain listener's port (the chosen one for port 0).
  Result<std::uint16_t> start();
  /// Port of the implicit-TLS listener, 0 when there is none.
  [[nodiscard]] std::uint16_t tls_port() const;
  /// Serves one round: waits up to timeout_ms for activity, then handles it.
  Status run_once(int timeout_ms);
  /// Loops until stop() is called (or `stop_flag` becomes true, when given).
  Status run(const std::atomic<bool>* stop_flag = nullptr);
  /// Thread-safe: ends run() at its next wake-up and wakes it now.
  void stop();
  /// Thread-safe: interrupts a waiting run_once().
  void wake();
  /// Serves one pre-authenticated session (PREAUTH greeting) for `user` on the given fds
  /// (a tunnel endpoint: `twinbox serve --stdio`). Returns when the client logs out or closes.
  Status serve_stdio(std::string_view user, int in_fd = 0, int out_fd = 1);
  /// Number of open client connections.
  [[nodiscard]] std::size_t connection_count() const;
  /// Time left of the failed-login lockout of a client address ("127.0.0.1"; IPv6 as its
  /// /64, "2001:db8::/64"); zero when that address may log in (Limits::auth_lockout_after).
  [[nodiscard]] std::chrono::milliseconds auth_locked_for(std::string_view address) const;

  // --- direct store API (thread-safe; no IMAP) -------------------------------------------
  Result<MailboxInfo> create_mailbox(std::string_view user, std::string_view name,
                                     const std::vector<std::string>& special_use = {});
  Result<std::vector<MailboxInfo>> mailboxes(std::string_view user);
  Result<MailboxInfo> mailbox(std::string_view user, std::string_view name);
  /// Appends a message (INTERNALDATE = now when internaldate is 0). Returns its UID.
  Result<Uid> append_message(std::string_view user, std::string_view mailbox,
                             std::string_view body, const std::vector<std::string>& flags = {},
                             std::int64_t internaldate = 0);
  Result<std::vector<MessageInfo>> messages(std::string_view user, std::string_view mailbox);
  Result<std::string> message_body(std::string_view user, std::string_view mailbox, Uid uid);
  Status set_flags(std::string_view user, std::string_view mailbox, Uid uid,
                   const std::vector<std::string>& flags);
  Status expunge(std::string_view user, std::string_view mailbox, const std::vector<Uid>& uids);
  /// Test control: gives a mailbox a new UIDVALIDITY and renumbers its messages from 1.
  Status reset_uidvalidity(std::string_view user, std::string_view mailbox, UidValidity v);
  /// Fills INBOX, Sent, Archive, Drafts, Trash (and a nested folder) of `user` with `count`
  /// varied messages, deterministically from `seed`: plain text, multipart/alternative,
  /// base64 attachments, RFC 2047 headers, various flags and keywords.
  Status seed_demo(std::string_view user, std::size_t count, std::uint64_t seed);

 private:
  explicit Server(std::unique_ptr<ServerImpl> impl);
  std::unique_ptr<ServerImpl> impl_;
};

/// The message `seed_demo` would generate as number `index` (deterministic), for tests.
std::string demo_message(std::uint64_t seed, std::size_t index);

}  // namespace twinbox::server
