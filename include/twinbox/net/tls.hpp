#pragma once
/// TLS over any net::Stream with OpenSSL 3 (pimpl: no OpenSSL header leaks from here).
///
/// Client: implicit TLS (connect_tls, port 993) or a STARTTLS upgrade of a connected
/// stream (tls_upgrade; PROTOCOL.md §1.2, RFC 3501 §6.2.1). Verification is on by default:
/// the chain against the system CA store (or `ca_file` alone), and the host name or IP
/// address against the certificate's SAN (X509_VERIFY_PARAM_set1_host / set1_ip_asc).
/// SNI is sent for names, never for IP literals. TLS 1.2 is the minimum unless raised.
///
/// Pins: `fingerprints` holds SHA-256 digests of the server's SubjectPublicKeyInfo
/// ("sha256:" prefix optional, hex, colons optional, any case). When pins are given the
/// leaf must match one of them; a match accepts the certificate even if the chain does not
/// verify (the user vouched for that key), no match refuses it.
///
/// Every refusal is Errc::Tls (Scope::Connection) raised inside the handshake, before a
/// single application byte is written. The message names the certificate (subject,
/// issuer, validity, SPKI sha256) and how to accept it (`tls_fingerprint = sha256:...` or
/// `tls_ca_file`).
///
/// Server: TlsServerContext loads a PEM certificate chain and key (`twinbox serve
/// --tls-cert/--tls-key`) and wraps accepted streams (implicit TLS) or a session's stream
/// after its STARTTLS OK.
///
/// The handshake is non-blocking: read_some/write_some drive it (returning 0 until it is
/// done), or handshake_step() / handshake(deadline) drive it explicitly.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <twinbox/base/result.hpp>
#include <twinbox/net/io.hpp>
#include <twinbox/net/stream.hpp>
#include <twinbox/net/tcp.hpp>

namespace twinbox::net {

enum class TlsVersion { Tls12, Tls13 };

struct TlsOptions {
  /// Name (or IP literal) to verify and send as SNI. connect_tls fills it from its host
  /// when empty; tls_upgrade requires it unless verify is false and no pins are set.
  std::string host{};
  /// PEM file of trusted CA certificates; when set it replaces the system store.
  std::string ca_file{};
  /// SPKI SHA-256 pins, see above.
  std::vector<std::string> fingerprints{};
  /// false: accept any chain and name (still enforces pins when given). For tests and
  /// users who asked for it explicitly.
  bool verify = true;
  TlsVersion min_version = TlsVersion::Tls12;
};

/// What the error messages and `--debug` show about a certificate.
struct CertificateInfo {
  std::string subject{};      ///< one line, RFC 2253 order ("CN=localhost,O=twinbox tests")
  std::string issuer{};
  std::string not_before{};   ///< "Jan  1 00:00:00 2001 GMT"
  std::string not_after{};
  std::string spki_sha256{};  ///< "sha256:<64 lowercase hex>", the value to pin
};

/// Normalizes a pin to "sha256:<64 lowercase hex>"; Errc::Config when it is not one.
Result<std::string> normalize_fingerprint(std::string_view pin);
/// Reads the first certificate of a PEM file (for tests and "show me the pin" commands).
Result<CertificateInfo> certificate_info_from_pem(const std::string& path);

class TlsStream final : public Stream {
 public:
  struct Impl;
  explicit TlsStream(std::unique_ptr<Impl> impl);
  ~TlsStream() override;

  /// Advances the handshake without blocking: true once it is complete, false when it
  /// needs the transport (poll for poll_events()), or the Errc::Tls error.
  Result<bool> handshake_step();
  /// Runs the handshake to completion; Errc::Timeout at the deadline.
  Status handshake(Deadline deadline);
  [[nodiscard]] bool handshake_done() const;
  /// The peer's leaf certificate once the handshake has seen it (client side).
  [[nodiscard]] std::optional<CertificateInfo> peer_certificate() const;
  /// "TLSv1.3 TLS_AES_256_GCM_SHA384" after the handshake.
  [[nodiscard]] std::string session_description() const;

  Result<std::size_t> read_some(char* buf, std::size_t len) override;
  Result<std::size_t> write_some(const char* buf, std::size_t len) override;
  Result<bool> flush() override;
  [[nodiscard]] bool buffered_input() const override;
  [[nodiscard]] int fd() const override;
  [[nodiscard]] short poll_events() const override;
  /// Sends close_notify when it can without blocking, then closes the transport.
  void close() override;
  [[nodiscard]] std::string describe() const override;
  [[nodiscard]] std::size_t bytes_in() const override;
  [[nodiscard]] std::size_t bytes_out() const override;

 private:
  std::unique_ptr<Impl> impl_;
};

/// Starts a client TLS session over `transport` (handshake not yet run). Errc::Config for
/// bad options (malformed pin, unreadable ca_file, missing host).
Result<std::unique_ptr<TlsStream>> tls_client(StreamPtr transport, const TlsOptions& options);

/// STARTTLS: upgrades a connected stream and runs the handshake until the deadline.
/// The caller must have discarded its own read buffer after the STARTTLS OK: bytes the
/// server sent before the handshake are a response-injection attempt (PROTOCOL.md §1.2).
/// This function refuses (Errc::Tls) when the transport still has buffered input or when
/// bytes are already readable on it before the ClientHello goes out.
Result<StreamPtr> tls_upgrade(StreamPtr transport, const TlsOptions& options, Deadline deadline);

/// Implicit TLS: connect_tcp + handshake; both bounded by connect.timeout.
Result<StreamPtr> connect_tls(std::string_view host, std::uint16_t port,
                              const ConnectOptions& connect, TlsOptions options);

/// Server-side TLS configuration, shared by all sessions (cheap to copy).
class TlsServerContext {
 public:
  struct Impl;
  /// Loads a PEM certificate chain (leaf first) and its private key. Errc::Config naming
  /// the file when either is unreadable or they do not match.
  static Result<TlsServerContext> load(const std::string& cert_file, const std::string& key_file,
                                       TlsVersion min_version = TlsVersion::Tls12);
  /// Wraps an accepted stream (implicit TLS) or a session's stream right after it sent
  /// "OK Begin TLS" (STARTTLS; the session must first drop any bytes the client pipelined
  /// after the STARTTLS command). The handshake runs on first read/write or handshake().
  [[nodiscard]] Result<std::unique_ptr<TlsStream>> wrap(StreamPtr transport) const;

 private:
  explicit TlsServerContext(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace twinbox::net
