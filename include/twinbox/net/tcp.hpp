#pragma once
/// TCP transports: outgoing connections, the listener of the embedded server, and
/// socketpairs (tests, in-process pipes). All streams are non-blocking (stream.hpp); all
/// sockets are close-on-exec and written with MSG_NOSIGNAL (no SIGPIPE).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <twinbox/base/result.hpp>
#include <twinbox/net/io.hpp>
#include <twinbox/net/stream.hpp>

namespace twinbox::net {

struct ConnectOptions {
  /// Bound for name resolution + connecting (all addresses together). getaddrinfo itself
  /// cannot be interrupted; the bound is checked after it returns.
  std::chrono::milliseconds timeout{30'000};
  /// TCP keepalive (PROTOCOL.md §1.11: NATs drop idle IDLE connections).
  bool keepalive = true;
  int keepalive_idle_s = 60;
  int keepalive_interval_s = 15;
  int keepalive_count = 4;
};

/// Connects to host:port (name or IPv4/IPv6 literal; "[::1]" brackets accepted), trying
/// every address getaddrinfo returns in order until one answers. Blocks the calling thread
/// for at most options.timeout; the returned stream is non-blocking, TCP_NODELAY set.
/// Errors (Scope::Connection): Errc::Network "cannot resolve host X: ..." (DNS),
/// Errc::Network "cannot connect to X:port: Connection refused" (all addresses failed),
/// Errc::Timeout when the bound passed.
Result<StreamPtr> connect_tcp(std::string_view host, std::uint16_t port,
                              const ConnectOptions& options = {});

/// Wraps an already connected socket (takes ownership; sets O_NONBLOCK and FD_CLOEXEC).
StreamPtr adopt_socket(int fd, std::string description);

/// A connected pair of non-blocking AF_UNIX stream sockets (tests, deflate/TLS loopback).
Result<std::pair<StreamPtr, StreamPtr>> stream_pair();

/// A listening TCP socket (SO_REUSEADDR, non-blocking, close-on-exec).
class TcpListener {
 public:
  TcpListener(TcpListener&& other) noexcept;
  TcpListener& operator=(TcpListener&& other) noexcept;
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;
  ~TcpListener();

  /// The fd to poll for POLLIN (a pending connection).
  [[nodiscard]] int fd() const { return fd_; }
  /// The bound port (the one the kernel picked when listen_tcp got port 0).
  [[nodiscard]] std::uint16_t port() const { return port_; }
  /// "127.0.0.1:40123" / "[::1]:40123".
  [[nodiscard]] std::string address() const;
  /// Accepts one pending connection: a non-blocking stream, or nullptr when none is
  /// pending (would block). Errc::Io on a real failure (EMFILE, ...).
  Result<StreamPtr> accept();
  /// accept() that waits for a connection until the deadline (Errc::Timeout).
  Result<StreamPtr> accept_wait(Deadline deadline);
  void close();

 private:
  friend Result<TcpListener> listen_tcp(std::string_view, std::uint16_t, int);
  TcpListener(int fd, std::uint16_t port, std::string host) : fd_(fd), port_(port), host_(std::move(host)) {}
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::string host_;
};

/// Listens on host:port. host "" or "*" = all addresses (IPv6 dual-stack when possible);
/// "localhost" resolves to 127.0.0.1 first. port 0 = the kernel picks one (see port()).
Result<TcpListener> listen_tcp(std::string_view host, std::uint16_t port, int backlog = 128);

}  // namespace twinbox::net
