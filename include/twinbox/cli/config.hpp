#pragma once
/// The configuration file of `twinbox sync` (one file per account pair).
///
/// Format (INI):
///   # comment            ; comment      (only as a whole line: '#' may appear in passwords)
///   key = value          value trimmed; or "quoted" with \" \\ \n \t escapes (keeps spaces)
///   [local] / [remote]   the two endpoints
/// Keys before the first section, or in [general], form the default section: sync keys live
/// only there, and endpoint keys set there are inherited by [local] and [remote] (a key set in
/// an endpoint section replaces the inherited value, lists included). Keys are lower case.
/// List keys (mailboxes, exclude, tls_fingerprint) take comma-separated items, may be repeated,
/// and a quoted value is one item (for names holding commas).
///
/// Endpoint keys:
///   type        imaps (default: implicit TLS, port 993) | imap (STARTTLS, port 143) | tunnel
///   tls         required (default) | none — with type = imap, `none` allows plaintext
///               (meant for loopback); otherwise STARTTLS must be offered and succeed
///   host, port  the server (host required unless tunnel; port 1…65535)
///   username    required unless tunnel (a tunnel is pre-authenticated)
///   password, password_command  one of them for password auth; the command runs through
///               /bin/sh -c and its first output line is the password
///   auth        auto (default) | plain | login | oauthbearer | xoauth2
///   oauth2_token_command  prints an OAuth2 access token (required for the oauth mechanisms)
///   command     the tunnel command (type = tunnel), e.g. /usr/lib/dovecot/imap
///   compress    auto (default: off for tunnels and loopback hosts, on otherwise) | yes | no
///   tls_ca_file PEM file of trusted CAs instead of the system store
///   tls_fingerprint  SHA-256 of the server's SubjectPublicKeyInfo, 64 hex digits (colons and
///               a "sha256:" prefix allowed); several allowed; a match skips CA verification
///   tls_min_version  1.2 (default) | 1.3
///   timeout     seconds per network operation (default 60, 1…3600)
///   debug       yes | no: protocol trace of this endpoint, secrets redacted
/// Sync keys (default section only):
///   mailboxes   patterns to sync, `*` (any) and `%` (any but the hierarchy delimiter);
///               default `*`
///   exclude     patterns never synced
///   exclude_virtual   yes (default) | no: skip \All and \Flagged virtual mailboxes
///   map_special_use   yes (default) | no: pair \Sent, \Trash … across differing names
///   delete_mailboxes  no (default) | yes: propagate mailbox deletions
///   expunge           yes (default) | no: propagate message expunges
///   max_delete_percent (default 50), max_delete_min (default 10): a sync that would delete
///               more than this percentage of a mailbox, and at least max_delete_min messages,
///               stops that mailbox and asks the user (Errc::Conflict)
///   sync_deleted_flag no (default) | yes: sync the \Deleted flag like any other
///   state       the state database; default $XDG_DATA_HOME/twinbox/<name>.db, where <name>
///               is the config file's name without extension ($XDG_DATA_HOME defaults to
///               ~/.local/share)
///   poll_interval     seconds between polls in watch mode (default 60, 1…86400)
///   idle_connections  extra connections per side for IDLE in watch mode (default 0, 0…64)
/// Booleans: yes/no, true/false, on/off, 1/0. Paths: a leading ~/ means $HOME; relative paths
/// are relative to the config file's directory.
///
/// Every error is Errc::Config, names "file:line: ", the key and what is allowed; all errors
/// of a file are reported at once, one per line.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <twinbox/base/ids.hpp>
#include <twinbox/base/result.hpp>

namespace twinbox::cli {

enum class EndpointType { Imaps, Imap, Tunnel };
enum class TlsPolicy { Required, None };
enum class AuthMethod { Auto, Plain, Login, OAuthBearer, XOAuth2 };
enum class CompressMode { Auto, Yes, No };
enum class TlsVersion { V1_2, V1_3 };

std::string_view to_string(EndpointType t);
std::string_view to_string(AuthMethod a);

struct EndpointConfig {
  EndpointType type = EndpointType::Imaps;
  TlsPolicy tls = TlsPolicy::Required;
  std::string host;
  std::uint16_t port = 0;  ///< after loading: the explicit port or the type's default
  std::string username;
  std::optional<std::string> password;
  std::string password_command;
  AuthMethod auth = AuthMethod::Auto;
  std::string oauth2_token_command;
  std::string command;  ///< tunnel command line
  CompressMode compress = CompressMode::Auto;
  std::string tls_ca_file;
  std::vector<std::string> tls_fingerprints;  ///< lower-case hex, no colons
  TlsVersion tls_min_version = TlsVersion::V1_2;
  std::chrono::seconds timeout{60};
  bool debug = false;

  /// compress = auto resolved: off for tunnels and loopback hosts (nothing to save, CPU to
  /// lose), on otherwise.
  [[nodiscard]] bool want_compress() const;
  bool operator==(const EndpointConfig&) const = default;
};

struct SyncConfig {
  std::vector<std::string> mailboxes{"*"};
  std::vector<std::string> exclude;
  bool exclude_virtual = true;
  bool map_special_use = true;
  bool delete_mailboxes = false;
  bool expunge = true;
  unsigned max_delete_percent = 50;
  unsigned max_delete_min = 10;
  bool sync_deleted_flag = false;
  std::string state_path;
  std::chrono::seconds poll_interval{60};
  unsigned idle_connections = 0;

  bool operator==(const SyncConfig&) const = default;
};

struct Config {
  std::string origin;  ///< the file name errors refer to
  std::string name;    ///< the config file's base name without extension
  PerSide<EndpointConfig> endpoints;
  SyncConfig sync;
};

/// Parses config text; `origin` names it in errors, gives the account name for the default
/// state path and the directory relative paths resolve against. No file-system access besides
/// reading $HOME / $XDG_DATA_HOME.
Result<Config> parse_config(std::string_view text, std::string_view origin);

/// Reads and parses a config file. Refuses (Errc::Config) a file holding a `password` that
/// group or others may read or write, naming the chmod that fixes it.
Result<Config> load_config(const std::string& path);

/// $XDG_CONFIG_HOME/twinbox/config, XDG_CONFIG_HOME defaulting to ~/.config.
Result<std::string> default_config_path();

/// The default state database for a config file: $XDG_DATA_HOME/twinbox/<name>.db.
Result<std::string> default_state_path(std::string_view config_name);

/// Runs `command` through /bin/sh -c (stdin and stderr inherited, so it may prompt) and
/// returns the first line of its standard output without the line ending. Errors
/// (Errc::Config) when it cannot start, exits non-zero or prints nothing; `what` names it in
/// the message ("password_command of [remote]"). The output never appears in an error.
Result<std::string> run_secret_command(const std::string& command, std::string_view what);

/// The endpoint's password: `password`, else the output of `password_command`.
Result<std::string> resolve_password(const EndpointConfig& endpoint);

}  // namespace twinbox::cli
