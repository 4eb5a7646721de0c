#pragma once
/// A private Dovecot instance for integration tests (Debian's dovecot-imapd), started by
/// scripts/dovecot.sh in a fresh temporary directory and stopped by PID when the object dies,
/// also when a REQUIRE fails (stack unwinding) and, through a watcher process, when the test
/// process itself dies (crash, abort, SIGKILL): no Dovecot outlives its test.
///
///   auto dc = twinbox::test::DovecotInstance::start();
///   REQUIRE_MESSAGE(dc.has_value(), dc.error());
///   connect_to(dc->host(), dc->imaps_port(), /*ca=*/dc->ca_file());
///
/// Dovecot listens on 127.0.0.1 only, on two free ports: `imap` (STARTTLS offered, LOGIN and
/// AUTHENTICATE PLAIN allowed in plaintext) and `imaps`. Its certificate is issued for
/// DNS:localhost and IP:127.0.0.1 by a test CA made at start by scripts/make-test-ca.sh
/// (ca_file(); the other certificates it makes are in cert_dir() and can be served instead). Mail is maildir with
/// the special-use mailboxes Drafts, Sent, Trash, Junk, Archive; capabilities are Dovecot's
/// defaults plus NOTIFY (mailbox_list_index) and COMPRESS=DEFLATE (imap_zlib).
///
/// There is deliberately no "skip when Dovecot is missing": start() fails with a message
/// naming the package to install, and the test fails.

#include <cstdint>
#include <string>
#include <vector>

#include <twinbox/base/result.hpp>

namespace twinbox::test {

struct DovecotUser {
  std::string name;
  std::string password;
};

struct DovecotOptions {
  /// Accounts (password scheme PLAIN). Names and passwords must not contain ':' or newlines.
  std::vector<DovecotUser> users{{"alice", "secret"}, {"bob", "secret"}};
  /// true: Drafts/Sent/Trash/Junk/Archive exist from the first login (auto = create);
  /// false: they get their SPECIAL-USE flag only once a client creates them.
  bool create_special_use = true;
  /// The certificate Dovecot presents, by its name in scripts/make-test-ca.sh: server (valid
  /// for localhost and 127.0.0.1), wronghost, expired, selfsigned, untrusted.
  std::string certificate = "server";
  /// true: a Courier-style personal namespace, prefix "INBOX." and separator '.' (mailboxes
  /// are INBOX, INBOX.Sent, INBOX.Lists.dev …); false: no prefix, separator '/'.
  bool courier_namespace = false;
  /// Bound on starting (ports accepting) and stopping, in seconds.
  int timeout_seconds = 20;
};

class DovecotInstance {
 public:
  /// Creates a temp dir and runs `scripts/dovecot.sh start`. Errors (Dovecot not installed,
  /// start failure) carry the script's message and the tail of Dovecot's log.
  static Result<DovecotInstance> start(const DovecotOptions& options = {});

  DovecotInstance(DovecotInstance&& other) noexcept;
  DovecotInstance& operator=(DovecotInstance&& other) noexcept;
  DovecotInstance(const DovecotInstance&) = delete;
  DovecotInstance& operator=(const DovecotInstance&) = delete;
  /// Stops Dovecot (bounded wait) and removes the directory, unless the environment has
  /// TWINBOX_KEEP_TEST_DIRS=1 (then the path is printed to stderr).
  ~DovecotInstance();

  [[nodiscard]] const std::string& host() const { return host_; }  ///< "127.0.0.1"
  [[nodiscard]] std::uint16_t imap_port() const { return imap_port_; }
  [[nodiscard]] std::uint16_t imaps_port() const { return imaps_port_; }
  /// PEM file of the test CA that issued the server certificate.
  [[nodiscard]] std::string ca_file() const { return dir_ + "/ca/ca.pem"; }
  /// Everything scripts/make-test-ca.sh made (NAME.pem, NAME.key, NAME.spki-sha256 …).
  [[nodiscard]] std::string cert_dir() const { return dir_ + "/ca"; }
  /// The instance directory (dovecot.conf, dovecot.log, mail/<user>/, ca/).
  [[nodiscard]] const std::string& dir() const { return dir_; }
  [[nodiscard]] std::string config_file() const { return dir_ + "/dovecot.conf"; }
  [[nodiscard]] const std::vector<DovecotUser>& users() const { return users_; }

  /// argv of a pre-authenticated IMAP session for `user` on stdin/stdout
  /// (`/usr/lib/dovecot/imap -c CONF -u USER`, greeting `* PREAUTH`), for tunnel tests.
  [[nodiscard]] std::vector<std::string> tunnel_argv(const std::string& user) const;
  /// The same as one command line (no quoting needed: the paths have no spaces).
  [[nodiscard]] std::string tunnel_command(const std::string& user) const;

  /// Runs doveadm against this instance (e.g. {"mailbox", "status", "-u", "alice",
  /// "messages", "INBOX"}); its stdout, or an error with its stderr.
  [[nodiscard]] Result<std::string> doveadm(const std::vector<std::string>& args) const;

  /// Dovecot's log so far (for failure messages).
  [[nodiscard]] std::string log() const;

  /// Stops the instance now with SIGTERM and waits for it to exit (idempotent). The
  /// destructor stops it with SIGKILL instead (faster; the directory is deleted anyway).
  Status stop();

 private:
  DovecotInstance() = default;
  void release();
  Status stop_impl(bool fast);

  std::string host_ = "127.0.0.1";
  std::string dir_;
  std::uint16_t imap_port_ = 0;
  std::uint16_t imaps_port_ = 0;
  std::vector<DovecotUser> users_;
  int timeout_seconds_ = 20;
  bool running_ = false;
  int watcher_fd_ = -1;   ///< write end of the pipe the watcher process waits on
  int watcher_pid_ = -1;  ///< stops Dovecot if this process dies without the destructor
};

/// Path of scripts/dovecot.sh ($TWINBOX_DOVECOT_SH, else the source tree's copy).
std::string dovecot_script();

}  // namespace twinbox::test
