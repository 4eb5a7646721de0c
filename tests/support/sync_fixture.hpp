#pragma once
/// Helpers for whole-sync tests (tests/integration/sync_*_test.cpp): IMAP servers to sync
/// (private Dovecot instances or embedded servers on 127.0.0.1), an Account to seed and inspect
/// one side through a real client::Session, engine options, crash runs in a forked child, and a
/// message-by-message comparison of both sides.
///
/// Helpers that talk to a server check their results with doctest REQUIRE: call them from
/// inside a test case only.

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <twinbox/base/ids.hpp>
#include <twinbox/base/result.hpp>
#include <twinbox/client/connect.hpp>
#include <twinbox/client/session.hpp>
#include <twinbox/server/options.hpp>
#include <twinbox/server/server.hpp>
#include <twinbox/sync/engine.hpp>

#include "support/dovecot.hpp"

namespace twinbox::test {

/// A temporary directory removed (recursively) at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// One IMAP account to sync: on a private Dovecot instance or on an embedded server.
class TestServer {
 public:
  /// A fresh, empty account on a private Dovecot instance shared by the whole test program
  /// (started at first use with many accounts: starting Dovecot takes seconds, an account
  /// nothing). REQUIREs that it starts.
  static std::unique_ptr<TestServer> dovecot();
  /// The same on a second shared instance whose personal namespace is Courier-style: prefix
  /// "INBOX.", separator '.' (DovecotOptions::courier_namespace).
  static std::unique_ptr<TestServer> dovecot_courier();
  /// An embedded server on an ephemeral port, served by a thread of this process. `options`
  /// port/users are overridden; test controls are enabled.
  static std::unique_ptr<TestServer> embedded(server::Options options = {});
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  /// Plaintext TCP to 127.0.0.1 (loopback tests).
  [[nodiscard]] client::EndpointOptions endpoint() const;
  [[nodiscard]] bool is_dovecot() const { return dovecot_ != nullptr; }
  /// The embedded server (direct store API, test controls); nullptr for Dovecot.
  [[nodiscard]] server::Server* embedded_server() const { return server_.get(); }
  [[nodiscard]] DovecotInstance* dovecot_instance() const { return dovecot_; }
  [[nodiscard]] const std::string& user() const { return user_; }
  [[nodiscard]] std::string describe() const;

 private:
  TestServer() = default;
  static std::unique_ptr<TestServer> dovecot_account(bool courier);
  DovecotInstance* dovecot_ = nullptr;
  std::string user_ = "alice";
  std::unique_ptr<server::Server> server_;
  std::unique_ptr<struct ServerThread> thread_;
  std::uint16_t port_ = 0;
};

/// A message as whole-sync tests compare it: where it is, what it holds, how it is flagged.
struct MessageView {
  std::string mailbox;       ///< wire name
  std::string hash;          ///< hex FNV-1a 64 of the bytes, plus ":size"
  std::string flags;         ///< sorted, space-separated, \Recent stripped
  std::string internaldate;  ///< as the server sent it
  Uid uid;                   ///< not compared across sides
  /// Compares everything but the UID.
  [[nodiscard]] bool same(const MessageView& o) const {
    return mailbox == o.mailbox && hash == o.hash && flags == o.flags &&
           internaldate == o.internaldate;
  }
  [[nodiscard]] std::string describe() const;
};

/// hex FNV-1a 64 of `bytes` plus ":<size>" (the MessageView::hash form).
std::string content_hash(std::string_view bytes);

/// A test message: RFC 5322 text with a unique Message-ID <id@twinbox.test>, roughly `size`
/// octets (CRLF lines).
std::string make_message(const std::string& id, std::size_t size = 300);

/// One logged-in session on a TestServer for seeding and inspecting.
class Account {
 public:
  explicit Account(const TestServer& server);
  ~Account();
  Account(Account&&) noexcept;

  /// APPENDs a message; returns its UID (APPENDUID). `date` is an IMAP date-time or "".
  Uid append(const std::string& mailbox, const std::string& body,
             const std::vector<std::string>& flags = {}, const std::string& date = "");
  void create(const std::string& mailbox);
  void rename(const std::string& from, const std::string& to);
  void remove(const std::string& mailbox);
  /// +FLAGS / -FLAGS / FLAGS on one message.
  void store(const std::string& mailbox, Uid uid, client::StoreMode mode,
             const std::vector<std::string>& flags);
  /// UID STORE +FLAGS.SILENT (\Deleted) + UID EXPUNGE.
  void expunge(const std::string& mailbox, const std::vector<Uid>& uids);
  /// UID MOVE; returns the new UID (COPYUID).
  Uid move(const std::string& mailbox, Uid uid, const std::string& to);
  /// UID of the message with Message-ID <id@twinbox.test> (make_message ids); nullopt if none,
  /// REQUIRE fails if several.
  std::optional<Uid> find(const std::string& mailbox, const std::string& id);
  /// Selectable mailboxes (wire names), sorted; \All/\Flagged virtual ones left out.
  std::vector<std::string> mailboxes();
  /// Subscribed names (LIST (SUBSCRIBED), or LSUB).
  std::set<std::string> subscriptions();
  /// SUBSCRIBE (on) or UNSUBSCRIBE.
  void subscribe(const std::string& mailbox, bool on);
  /// Messages of one mailbox (EXAMINE + UID FETCH), sorted by UID.
  std::vector<MessageView> messages(const std::string& mailbox);
  /// Every message of every listed mailbox, sorted by (mailbox, hash, flags, date).
  std::vector<MessageView> all();
  /// The bytes of one message.
  std::string body(const std::string& mailbox, Uid uid);
  /// UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ of a mailbox via STATUS.
  imap::StatusData status(const std::string& mailbox);
  client::Session& session();

 private:
  client::EndpointOptions endpoint_;
  std::unique_ptr<client::Session> session_;
  void select(const std::string& mailbox, bool read_only);
};

/// Changes one account as another mail client would, through the embedded server's direct
/// store API (no IMAP, so it works whatever extensions the server has switched off). Messages
/// are named by their make_message() id. REQUIREs that the server is an embedded one.
class DirectMail {
 public:
  explicit DirectMail(const TestServer& server);
  /// Appends make_message(id, size) with `flags` and INTERNALDATE `date` (seconds since epoch).
  Uid add(const std::string& mailbox, const std::string& id, const std::vector<std::string>& flags = {},
          std::int64_t date = 1777000000, std::size_t size = 300);
  void create(const std::string& mailbox);
  /// UID of the message with that id; nullopt when absent (REQUIRE fails if several).
  std::optional<Uid> find(const std::string& mailbox, const std::string& id);
  /// Flags of the message with that id (sorted, space-separated); "?" when absent.
  std::string flags(const std::string& mailbox, const std::string& id);
  void add_flag(const std::string& mailbox, const std::string& id, const std::string& flag);
  void remove_flag(const std::string& mailbox, const std::string& id, const std::string& flag);
  void expunge(const std::string& mailbox, const std::string& id);
  /// A move as a client without MOVE does it: the same bytes, flags and INTERNALDATE appended
  /// to `to`, then expunged from `from`.
  void move(const std::string& from, const std::string& id, const std::string& to);
  /// Ids (make_message) of the messages of a mailbox, sorted.
  std::vector<std::string> ids(const std::string& mailbox);

 private:
  server::Server* srv_;
  std::string user_;
  std::vector<std::string> current(const std::string& mailbox, Uid uid);
};

/// Engine options syncing `local` to `remote` with the state at `state_path`.
sync::EngineOptions engine_options(const TestServer& local, const TestServer& remote,
                                   const std::string& state_path);

/// Two servers, the engine options of a sync between them (state in a temp dir) and an
/// Account on each: the setting of most whole-sync tests (derive to add seeding).
struct SyncPair {
  std::unique_ptr<TestServer> local;
  std::unique_ptr<TestServer> remote;
  TempDir dir;
  sync::EngineOptions options;
  Account L;
  Account R;

  SyncPair(std::unique_ptr<TestServer> l, std::unique_ptr<TestServer> r)
      : local(std::move(l)),
        remote(std::move(r)),
        options(engine_options(*local, *remote, dir.file("state.db"))),
        L(*local),
        R(*remote) {}
};

/// run_sync with the log collected into `log` (one line each) when given.
Result<sync::SyncReport> run(const sync::EngineOptions& options, std::string* log = nullptr);
/// run() that REQUIREs success and that no mailbox failed; returns the report.
sync::SyncReport run_ok(const sync::EngineOptions& options);

/// Runs run_sync in a forked child with set_crash_after(crash_after) (0: no crash). Returns
/// the child's exit status: 0 success, 1 error, kTestCrashExitCode when it crashed; -1 when it
/// had to be killed (bounded wait of `timeout_s`).
int run_in_child(const sync::EngineOptions& options, std::uint64_t crash_after,
                 int timeout_s = 60);

/// Every message of both sides equal (mailbox, content, flags, INTERNALDATE) and no message
/// twice in one mailbox unless it is twice on the other side too. CHECKs with a readable diff.
/// Returns true when equal.
bool same_mail(Account& local, Account& remote);

/// Sum of the counts of a report for one kind, both directions.
std::uint64_t total_copied(const sync::SyncReport& r);
std::uint64_t total_moved(const sync::SyncReport& r);
std::uint64_t total_expunged(const sync::SyncReport& r);
std::uint64_t total_flags(const sync::SyncReport& r);
std::string describe(const sync::SyncReport& r);

}  // namespace twinbox::test
