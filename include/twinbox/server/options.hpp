#pragma once
/// Configuration of the embedded IMAP server (`twinbox serve`). Plain values: the CLI fills
/// them from flags, tests construct them directly.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace twinbox::server {

struct User {
  std::string name;
  std::string password;
};

/// Resource limits. Every one is a parameter (STYLE.md); defaults suit a personal server.
struct Limits {
  std::size_t max_line = 64 * 1024;               ///< octets of a command line, literals excluded
  std::uint64_t max_literal = 64ULL * 1024 * 1024;  ///< octets of one literal (APPEND size cap)
  std::size_t max_connections = 256;              ///< more are greeted with BYE and closed
  std::size_t output_high_water = 1024 * 1024;    ///< stop producing output above this (back-pressure)
  /// Autologout: a session from which no octet arrived for this long gets `* BYE` and is
  /// closed (RFC 3501 §5.4 asks for at least 30 minutes; `twinbox serve --idle-timeout`).
  /// Only client input counts as activity, in every state, IDLE included: RFC 2177 §3 lets
  /// a server log off an idling client at its inactivity timeout (clients re-issue IDLE
  /// every 29 minutes for that reason), and a dead client in IDLE must not hold a
  /// connection slot for ever. Output pushed to an idling client does not count either.
  int idle_timeout_ms = 30 * 60 * 1000;
  int auth_fail_delay_ms = 1000;                  ///< delay of the NO after a failed login
  std::size_t max_auth_failures = 5;              ///< then BYE
  /// Per client address, across connections and accounts (src/server/auth_throttle.hpp):
  /// after this many failed logins the address is refused (NO [UNAVAILABLE]) for
  /// auth_lockout_ms, doubling with each further failure up to auth_max_lockout_ms; an
  /// address is forgotten auth_window_ms after its last failure or lockout. 0 = off.
  std::size_t auth_lockout_after = 10;
  int auth_lockout_ms = 60 * 1000;
  int auth_max_lockout_ms = 60 * 60 * 1000;
  int auth_window_ms = 15 * 60 * 1000;
  std::size_t auth_max_addresses = 4096;  ///< addresses tracked at once (oldest dropped)
};

/// Test-only behaviour. Ignored unless `enabled` is true (the CLI hides them behind an
/// explicit flag), so a production server cannot be switched into them by accident.
struct TestControls {
  bool enabled = false;
  /// Mailbox name -> UIDVALIDITY to force (mailbox created when missing; messages renumbered).
  std::map<std::string, std::uint32_t> uidvalidity;
  /// Close a connection once it has written this many octets (0 = never).
  std::uint64_t drop_after_bytes = 0;
  /// Close the connection after an APPEND was committed but before its tagged OK.
  bool drop_after_append = false;
  /// Send COPYUID of MOVE in the tagged OK instead of an untagged OK before the expunges.
  bool copyuid_tagged = false;
  /// Answer every STORE with UNCHANGEDSINCE as if all its messages had been modified.
  bool unchangedsince_always_modified = false;
};

struct Options {
  std::string listen_host = "127.0.0.1";
  std::uint16_t port = 143;  ///< 0 = ephemeral; Server::start() returns the chosen port
  bool listen = true;        ///< false: no plain listener (stdio or TLS only)
  /// Implicit-TLS listener port (0 = ephemeral), only when tls_cert/tls_key are set and
  /// tls_listen is true.
  std::uint16_t tls_port = 993;
  bool tls_listen = false;
  std::string tls_cert;  ///< PEM certificate chain; enables STARTTLS on the plain listener
  std::string tls_key;   ///< PEM private key

  std::string db_path = ":memory:";  ///< SQLite file, or ":memory:"
  bool durable = false;              ///< fsync every commit (synchronous=FULL)

  std::vector<User> users;  ///< accepted logins
  std::string users_file;   ///< optional file of "name:password" lines (# comments)

  /// Capabilities switched off, in any case: the names of ServerCore::switchable_extensions()
  /// ("QRESYNC", "CONDSTORE", "UIDPLUS", "MOVE", "LITERAL+", "LIST-STATUS", "LIST-EXTENDED",
  /// "ESEARCH", "SEARCHRES", "ENABLE", "COMPRESS=DEFLATE", "NOTIFY", "IDLE", "SPECIAL-USE",
  /// "CREATE-SPECIAL-USE", "OBJECTID", "UNSELECT", "NAMESPACE", "ID", "MULTIAPPEND",
  /// "STARTTLS", "SASL-IR"); any other name fails Server::create with Errc::Config.
  /// Switching one off removes its commands and behaviour as well: without CONDSTORE there
  /// is no MODSEQ anywhere (and no QRESYNC).
  std::set<std::string> disabled;

  Limits limits;
  TestControls test;

  /// Greeting text after "* OK [CAPABILITY …] ".
  std::string greeting = "twinbox IMAP server ready.";
};

}  // namespace twinbox::server
