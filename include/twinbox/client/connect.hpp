#pragma once
/// Connect-and-login helper: transport, greeting, STARTTLS, authentication, capability
/// refresh, ID, ENABLE and COMPRESS in the order of PROTOCOL.md §1.1-§1.4. Options are plain
/// values; the config file is parsed by the cli layer.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <twinbox/base/result.hpp>
#include <twinbox/client/session.hpp>
#include <twinbox/client/types.hpp>

namespace twinbox::client {

enum class Transport {
  Imaps,      ///< implicit TLS (port 993)
  StartTls,   ///< plaintext then STARTTLS, required (port 143)
  Tunnel,     ///< a command speaking IMAP on stdin/stdout (treated as secure)
  Plain,      ///< unencrypted TCP, explicitly allowed by the user
};
std::string_view to_string(Transport t);

struct TlsSettings {
  bool verify = true;                     ///< chain + host name verification
  std::string ca_file;                    ///< extra trust anchors (PEM); "" = system store
  std::vector<std::string> fingerprints;  ///< SPKI SHA-256 pins (hex, colons optional)
  std::string min_version = "1.2";        ///< "1.2" or "1.3"
  std::string server_name;                ///< SNI / verified name; "" = host
};

struct EndpointOptions {
  Transport transport = Transport::Imaps;
  std::string host;
  std::uint16_t port = 0;                 ///< 0 = 993 (imaps) / 143
  /// Command for Transport::Tunnel (net::spawn_tunnel: no shell unless metacharacters).
  std::string tunnel_command;
  TlsSettings tls;
  Credentials credentials;                ///< ignored after PREAUTH
  bool compress = false;                  ///< COMPRESS DEFLATE when advertised
  bool send_id = true;                    ///< ID ("name" "twinbox" "version" …) when advertised
  /// ENABLE after login when advertised ("QRESYNC" also enables CONDSTORE, RFC 7162 §3.2.3).
  std::vector<std::string> enable{"QRESYNC"};
  std::chrono::milliseconds connect_timeout{30'000};
  std::chrono::milliseconds command_timeout{120'000};  ///< bound of each setup step
  SessionOptions session;                 ///< secure_transport/allow_plaintext are set here
};

/// Connects, reads the greeting, upgrades with STARTTLS when asked, logs in, and runs ID,
/// ENABLE and COMPRESS. On TLS failure nothing was sent (credentials never leave before the
/// verified handshake). Errors: Errc::Network (DNS, refused), Errc::Timeout, Errc::Tls,
/// Errc::Auth/AuthRetry, Errc::Capability, Errc::Closed (BYE greeting).
Result<std::unique_ptr<Session>> connect(const EndpointOptions& options);

/// The answers to ID and ENABLE that connect() sent but did not wait for.
struct PendingSetup {
  Pending<imap::IdData> id;                    ///< not valid when ID was not sent
  Pending<std::vector<std::string>> enable;    ///< not valid when ENABLE was not sent
  /// Session::commands_sent() once every setup command (ID, COMPRESS, ENABLE) is out: the
  /// count from which the caller's own commands start.
  std::uint64_t commands_after_setup = 0;
  [[nodiscard]] bool ready() const;
  /// Once ready(): ENABLE's error, or ID's when it broke the connection (an ID refused is
  /// no error), else success. The same rules as connect() without `pipelined`.
  [[nodiscard]] Status result(const Session& session) const;
};

/// As connect(), but ID and ENABLE are only queued, their answers left in `*pipelined`: the
/// caller's first commands go out in the same round trip. The caller drives the session until
/// pipelined->ready() and checks pipelined->result() before relying on what ENABLE enables
/// (qresync(), UTF-8 names).
Result<std::unique_ptr<Session>> connect(const EndpointOptions& options, PendingSetup& pipelined);

}  // namespace twinbox::client
