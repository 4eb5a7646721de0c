#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include <algorithm>

#include "tls_impl.hpp"

namespace twinbox::net {

using detail::openssl_errors;

namespace {

constexpr std::size_t kChunk = 16 * 1024;
constexpr std::size_t kMaxPendingOut = 256 * 1024;  // ciphertext not yet taken by the transport

using CtxPtr = std::shared_ptr<SSL_CTX>;

CtxPtr make_ctx(const SSL_METHOD* method) {
  SSL_CTX* raw = SSL_CTX_new(method);
  return raw == nullptr ? CtxPtr() : CtxPtr(raw, &SSL_CTX_free);
}

int proto_version(TlsVersion v) { return v == TlsVersion::Tls13 ? TLS1_3_VERSION : TLS1_2_VERSION; }

bool is_ip_literal(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

struct TlsStream::Impl {
  StreamPtr transport;
  CtxPtr ctx;
  SSL* ssl = nullptr;
  BIO* rbio = nullptr;  // transport -> OpenSSL (owned by ssl)
  BIO* wbio = nullptr;  // OpenSSL -> transport (owned by ssl)
  std::string out;      // ciphertext taken from wbio, not yet accepted by the transport
  bool server = false;
  bool done = false;
  bool closed = false;
  bool transport_eof = false;
  std::string transport_eof_text;
  TlsOptions options;                  // client side
  std::vector<std::string> pins;       // normalized
  std::optional<CertificateInfo> peer;
  std::optional<Error> verify_error;   // set by the verify callback

  ~Impl() {
    if (ssl != nullptr) SSL_free(ssl);
  }

  [[nodiscard]] std::string where() const {
    return transport ? transport->describe() : std::string("TLS stream");
  }

  Error closed_error() const { return fail(Errc::Closed, Scope::Connection, where() + ": stream is closed"); }

  /// Moves ciphertext from OpenSSL to the transport as far as it goes without blocking.
  Status push_out() {
    for (;;) {
      if (out.size() < kMaxPendingOut && BIO_ctrl_pending(wbio) > 0) {
        char buf[kChunk];
        int n = BIO_read(wbio, buf, sizeof buf);
        if (n > 0) out.append(buf, static_cast<std::size_t>(n));
      }
      if (out.empty()) return {};
      auto n = transport->write_some(out.data(), out.size());
      if (!n) return n.error();
      if (*n == 0) return {};
      out.erase(0, *n);
    }
  }

  /// Feeds one chunk of transport bytes to OpenSSL: true when bytes came, false when the
  /// transport would block. Transport EOF is handed to OpenSSL as EOF.
  Result<bool> pull_in() {
    if (transport_eof) return false;
    char buf[kChunk];
    auto n = transport->read_some(buf, sizeof buf);
    if (!n) {
      if (n.error().code != Errc::Closed) return n.error();
      transport_eof = true;
      transport_eof_text = n.error().message;
      BIO_ctrl(rbio, BIO_C_SET_BUF_MEM_EOF_RETURN, 0, nullptr);
      return true;  // let OpenSSL see the EOF
    }
    if (*n == 0) return false;
    BIO_write(rbio, buf, static_cast<int>(*n));
    return true;
  }

  /// Turns a failed SSL_* call into an Error.
  Error ssl_error(int rc, std::string_view during) {
    int err = SSL_get_error(ssl, rc);
    std::string lib = openssl_errors();
    if (verify_error) return *verify_error;
    if (err == SSL_ERROR_ZERO_RETURN)
      return fail(Errc::Closed, Scope::Connection, where() + ": peer closed the TLS session");
    if (transport_eof && (err == SSL_ERROR_SYSCALL || lib.find("unexpected eof") != std::string::npos)) {
      if (!done)
        return fail(Errc::Tls, Scope::Connection,
                    where() + ": connection closed during the TLS handshake (" + transport_eof_text +
                        "); is this port really speaking TLS?");
      return fail(Errc::Closed, Scope::Connection,
                  where() + ": connection closed (without TLS close_notify)");
    }
    if (lib.empty()) lib = "SSL error " + std::to_string(err);
    if (!done) {
      std::string hint;
      if (lib.find("wrong version number") != std::string::npos ||
          lib.find("packet length too long") != std::string::npos)
        hint = " (the peer does not speak TLS here: plain IMAP port? use STARTTLS or port 993)";
      return fail(Errc::Tls, Scope::Connection,
                  where() + ": TLS handshake failed " + std::string(during) + ": " + lib + hint);
    }
    return fail(Errc::Tls, Scope::Connection, where() + ": TLS error " + std::string(during) + ": " + lib);
  }

  Result<bool> step() {
    if (closed) return closed_error();
    if (done) return true;
    for (;;) {
      ERR_clear_error();
      int rc = SSL_do_handshake(ssl);
      if (auto p = push_out(); !p) return p.error();
      if (rc == 1) {
        done = true;
        return true;
      }
      int err = SSL_get_error(ssl, rc);
      if (err == SSL_ERROR_WANT_READ) {
        auto got = pull_in();
        if (!got) return got.error();
        if (*got) continue;
        return false;
      }
      if (err == SSL_ERROR_WANT_WRITE) return false;
      Error e = ssl_error(rc, "");
      (void)push_out();  // best effort: let the peer see our alert
      return e;
    }
  }

  /// The certificate check (SSL_CTX_set_cert_verify_callback): chain + name via OpenSSL,
  /// then the pins, with errors worded for the user.
  int verify(X509_STORE_CTX* sctx) {
    X509* leaf = X509_STORE_CTX_get0_cert(sctx);
    if (leaf == nullptr) return 0;
    peer = detail::certificate_info(leaf);
    const int chain_ok = X509_verify_cert(sctx);
    const int code = X509_STORE_CTX_get_error(sctx);
    if (!pins.empty()) {
      if (std::find(pins.begin(), pins.end(), peer->spki_sha256) != pins.end()) {
        X509_STORE_CTX_set_error(sctx, X509_V_OK);
        return 1;
      }
      std::string pinned;
      for (const auto& p : pins) pinned += (pinned.empty() ? "" : ", ") + p;
      verify_error = fail(Errc::Tls, Scope::Connection,
                          where() + ": the server's TLS key matches no pinned tls_fingerprint (pinned: " +
                              pinned + "); refusing." +
                              detail::describe_refused_certificate(*peer));
      return 0;
    }
    if (chain_ok == 1 || !options.verify) {
      X509_STORE_CTX_set_error(sctx, X509_V_OK);
      return 1;
    }
    std::string reason = X509_verify_cert_error_string(code);
    if (code == X509_V_ERR_HOSTNAME_MISMATCH || code == X509_V_ERR_IP_ADDRESS_MISMATCH)
      reason += " (the certificate is not valid for \"" + options.host + "\")";
    verify_error = fail(Errc::Tls, Scope::Connection,
                        where() + ": TLS certificate verification failed: " + reason +
                            detail::describe_refused_certificate(*peer));
    return 0;
  }
};

namespace {

int verify_callback(X509_STORE_CTX* sctx, void* /*arg*/) {
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* impl = ssl == nullptr ? nullptr : static_cast<TlsStream::Impl*>(SSL_get_app_data(ssl));
  return impl == nullptr ? 0 : impl->verify(sctx);
}

/// Creates the SSL object with memory BIOs inside `impl`.
Status init_ssl(TlsStream::Impl& impl, CtxPtr ctx, bool server) {
  impl.ctx = std::move(ctx);
  impl.server = server;
  impl.ssl = SSL_new(impl.ctx.get());
  impl.rbio = BIO_new(BIO_s_mem());
  impl.wbio = BIO_new(BIO_s_mem());
  if (impl.ssl == nullptr || impl.rbio == nullptr || impl.wbio == nullptr) {
    if (impl.rbio != nullptr) BIO_free(impl.rbio);
    if (impl.wbio != nullptr) BIO_free(impl.wbio);
    return fail(Errc::Internal, Scope::Connection, "cannot allocate a TLS session: " + openssl_errors());
  }
  SSL_set_bio(impl.ssl, impl.rbio, impl.wbio);
  SSL_set_mode(impl.ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_set_app_data(impl.ssl, &impl);
  if (server)
    SSL_set_accept_state(impl.ssl);
  else
    SSL_set_connect_state(impl.ssl);
  return {};
}

}  // namespace

// ---- TlsStream -----------------------------------------------------------------------------

TlsStream::TlsStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsStream::~TlsStream() = default;

Result<bool> TlsStream::handshake_step() { return impl_->step(); }

Status TlsStream::handshake(Deadline deadline) {
  for (;;) {
    auto r = impl_->step();
    if (!r) return r.error();
    if (*r) return {};
    if (auto w = wait_io(*this, false, deadline); !w)
      return fail(Errc::Timeout, Scope::Connection, describe() + ": TLS handshake timed out");
  }
}

bool TlsStream::handshake_done() const { return impl_->done; }
std::optional<CertificateInfo> TlsStream::peer_certificate() const { return impl_->peer; }

std::string TlsStream::session_description() const {
  if (!impl_->done) return "handshake not done";
  return std::string(SSL_get_version(impl_->ssl)) + " " + SSL_get_cipher_name(impl_->ssl);
}

Result<std::size_t> TlsStream::read_some(char* buf, std::size_t len) {
  Impl& m = *impl_;
  if (m.closed) return m.closed_error();
  if (!m.done) {
    auto r = m.step();
    if (!r) return r.error();
    if (!*r) return std::size_t{0};
  }
  if (auto p = m.push_out(); !p) return p.error();
  for (;;) {
    ERR_clear_error();
    std::size_t got = 0;
    int rc = SSL_read_ex(m.ssl, buf, len, &got);
    if (auto p = m.push_out(); !p) return p.error();
    if (rc == 1) return got;
    int err = SSL_get_error(m.ssl, rc);
    if (err == SSL_ERROR_WANT_READ) {
      auto in = m.pull_in();
      if (!in) return in.error();
      if (*in) continue;
      return std::size_t{0};
    }
    if (err == SSL_ERROR_WANT_WRITE) return std::size_t{0};
    return m.ssl_error(rc, "while reading");
  }
}

Result<std::size_t> TlsStream::write_some(const char* buf, std::size_t len) {
  Impl& m = *impl_;
  if (m.closed) return m.closed_error();
  if (!m.done) {
    auto r = m.step();
    if (!r) return r.error();
    if (!*r) return std::size_t{0};
  }
  if (auto p = m.push_out(); !p) return p.error();
  if (m.out.size() >= kMaxPendingOut || len == 0) return std::size_t{0};
  ERR_clear_error();
  std::size_t written = 0;
  int rc = SSL_write_ex(m.ssl, buf, std::min(len, kChunk), &written);
  if (rc != 1) {
    int err = SSL_get_error(m.ssl, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      (void)m.pull_in();
      return std::size_t{0};
    }
    return m.ssl_error(rc, "while writing");
  }
  if (auto p = m.push_out(); !p) return p.error();
  return written;
}

Result<bool> TlsStream::flush() {
  Impl& m = *impl_;
  if (m.closed) return m.closed_error();
  if (!m.done) {
    auto r = m.step();
    if (!r) return r.error();
    if (!*r) return false;
  }
  if (auto p = m.push_out(); !p) return p.error();
  if (!m.out.empty() || BIO_ctrl_pending(m.wbio) > 0) return false;
  return m.transport->flush();
}

bool TlsStream::buffered_input() const {
  const Impl& m = *impl_;
  if (m.closed) return false;
  return SSL_pending(m.ssl) > 0 || BIO_ctrl_pending(m.rbio) > 0 || m.transport->buffered_input();
}

int TlsStream::fd() const { return impl_->closed ? -1 : impl_->transport->fd(); }

short TlsStream::poll_events() const {
  const Impl& m = *impl_;
  short ev = static_cast<short>(POLLIN | m.transport->poll_events());
  if (!m.out.empty() || BIO_ctrl_pending(m.wbio) > 0) ev = static_cast<short>(ev | POLLOUT);
  return ev;
}

void TlsStream::close() {
  Impl& m = *impl_;
  if (m.closed) return;
  if (m.done && !m.transport_eof) {
    ERR_clear_error();
    (void)SSL_shutdown(m.ssl);  // queues close_notify; we do not wait for the peer's
    (void)m.push_out();
    ERR_clear_error();
  }
  m.transport->close();
  m.closed = true;
}

std::string TlsStream::describe() const { return impl_->where() + " (TLS)"; }
std::size_t TlsStream::bytes_in() const { return impl_->transport->bytes_in(); }
std::size_t TlsStream::bytes_out() const { return impl_->transport->bytes_out(); }

// ---- client --------------------------------------------------------------------------------

Result<std::unique_ptr<TlsStream>> tls_client(StreamPtr transport, const TlsOptions& options) {
  auto impl = std::make_unique<TlsStream::Impl>();
  impl->options = options;
  for (const auto& pin : options.fingerprints) {
    auto n = normalize_fingerprint(pin);
    if (!n) return n.error();
    impl->pins.push_back(*n);
  }
  if (options.host.empty() && (options.verify && impl->pins.empty()))
    return fail(Errc::Config, Scope::Connection,
                "TLS certificate verification needs the server's host name");
  CtxPtr ctx = make_ctx(TLS_client_method());
  if (!ctx) return fail(Errc::Internal, Scope::Connection, "cannot create TLS context: " + openssl_errors());
  SSL_CTX_set_min_proto_version(ctx.get(), proto_version(options.min_version));
  if (!options.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), options.ca_file.c_str(), nullptr) != 1)
      return fail(Errc::Config, Scope::Connection,
                  "cannot load tls_ca_file " + options.ca_file + ": " + openssl_errors() +
                      " (it must be a PEM file of CA certificates)");
  } else if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
    return fail(Errc::Config, Scope::Connection, "cannot load the system CA store: " + openssl_errors());
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_cert_verify_callback(ctx.get(), verify_callback, nullptr);

  impl->transport = std::move(transport);
  if (auto st = init_ssl(*impl, std::move(ctx), false); !st) return st.error();
  const std::string& host = options.host;
  if (!host.empty()) {
    // Host checks run inside X509_verify_cert through the SSL's verify parameters.
    X509_VERIFY_PARAM* param = SSL_get0_param(impl->ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (is_ip_literal(host)) {
      X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());  // no SNI for IP literals (RFC 6066 §3)
    } else {
      X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
      SSL_ctrl(impl->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(host.c_str()));
    }
  }
  return std::make_unique<TlsStream>(std::move(impl));
}

Result<StreamPtr> tls_upgrade(StreamPtr transport, const TlsOptions& options, Deadline deadline) {
  // PROTOCOL.md §1.2: anything the server sent before our ClientHello was not protected
  // by TLS; accepting it would let an attacker inject responses.
  std::string what = transport->describe();
  bool injected = transport->buffered_input();
  if (!injected) {
    char probe[1];
    auto n = transport->read_some(probe, 1);
    if (!n) return n.error().with_context("before the STARTTLS handshake");
    injected = *n > 0;
  }
  if (injected)
    return fail(Errc::Tls, Scope::Connection,
                what + ": the server sent data after its STARTTLS reply, before the TLS "
                       "handshake (possible response injection); refusing to continue");
  auto tls = tls_client(std::move(transport), options);
  if (!tls) return tls.error();
  if (auto h = (*tls)->handshake(deadline); !h) return h.error();
  return StreamPtr(std::move(*tls));
}

Result<StreamPtr> connect_tls(std::string_view host, std::uint16_t port, const ConnectOptions& connect,
                              TlsOptions options) {
  const Deadline deadline = deadline_in(connect.timeout);
  auto tcp = connect_tcp(host, port, connect);
  if (!tcp) return tcp.error();
  if (options.host.empty()) {
    options.host = std::string(host);
    if (options.host.size() >= 2 && options.host.front() == '[' && options.host.back() == ']')
      options.host = options.host.substr(1, options.host.size() - 2);
  }
  auto tls = tls_client(std::move(*tcp), options);
  if (!tls) return tls.error();
  if (auto h = (*tls)->handshake(deadline); !h) return h.error();
  return StreamPtr(std::move(*tls));
}

// ---- server --------------------------------------------------------------------------------

struct TlsServerContext::Impl {
  CtxPtr ctx;
};

Result<TlsServerContext> TlsServerContext::load(const std::string& cert_file, const std::string& key_file,
                                                TlsVersion min_version) {
  CtxPtr ctx = make_ctx(TLS_server_method());
  if (!ctx) return fail(Errc::Internal, Scope::Fatal, "cannot create TLS context: " + openssl_errors());
  SSL_CTX_set_min_proto_version(ctx.get(), proto_version(min_version));
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_file.c_str()) != 1)
    return fail(Errc::Config, Scope::Fatal,
                "cannot load TLS certificate chain " + cert_file + ": " + openssl_errors() +
                    " (expected PEM, leaf certificate first)");
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    return fail(Errc::Config, Scope::Fatal,
                "cannot load TLS private key " + key_file + ": " + openssl_errors() +
                    " (expected an unencrypted PEM key)");
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    return fail(Errc::Config, Scope::Fatal,
                "TLS private key " + key_file + " does not match certificate " + cert_file);
  auto impl = std::make_shared<Impl>();
  impl->ctx = std::move(ctx);
  return TlsServerContext(std::move(impl));
}

Result<std::unique_ptr<TlsStream>> TlsServerContext::wrap(StreamPtr transport) const {
  auto impl = std::make_unique<TlsStream::Impl>();
  impl->transport = std::move(transport);
  if (auto st = init_ssl(*impl, impl_->ctx, true); !st) return st.error();
  return std::make_unique<TlsStream>(std::move(impl));
}

}  // namespace twinbox::net
