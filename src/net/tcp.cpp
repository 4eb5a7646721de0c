#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <twinbox/net/tcp.hpp>

#include "fd_stream.hpp"

namespace twinbox::net {

using detail::errno_text;

namespace {

std::string host_port(std::string_view host, std::uint16_t port) {
  if (host.find(':') != std::string_view::npos) return "[" + std::string(host) + "]:" + std::to_string(port);
  return std::string(host) + ":" + std::to_string(port);
}

std::string strip_brackets(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return std::string(host);
}

std::string sockaddr_text(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = {};
  std::uint16_t port = 0;
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    ::inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    port = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    port = ntohs(in6->sin6_port);
  }
  return host_port(buf, port);
}

void set_int_opt(int fd, int level, int name, int value) {
  (void)::setsockopt(fd, level, name, &value, sizeof value);
}

void tune_connected(int fd, const ConnectOptions& o) {
  set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  if (o.keepalive) {
    set_int_opt(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
    set_int_opt(fd, IPPROTO_TCP, TCP_KEEPIDLE, o.keepalive_idle_s);
    set_int_opt(fd, IPPROTO_TCP, TCP_KEEPINTVL, o.keepalive_interval_s);
    set_int_opt(fd, IPPROTO_TCP, TCP_KEEPCNT, o.keepalive_count);
  }
}

struct AddrInfoDeleter {
  void operator()(addrinfo* ai) const { ::freeaddrinfo(ai); }
};
using AddrInfoPtr = std::unique_ptr<addrinfo, AddrInfoDeleter>;

/// One non-blocking connect attempt: the connected fd, -1 with `err` set, or -2 on timeout.
int try_connect(const addrinfo* ai, Deadline deadline, int& err) {
  int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0) {
    err = errno;
    return -1;
  }
  if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) return fd;
  if (errno != EINPROGRESS) {
    err = errno;
    ::close(fd);
    return -1;
  }
  pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
  for (;;) {
    int rc = ::poll(&p, 1, poll_timeout_ms(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) {
      err = errno;
      ::close(fd);
      return -1;
    }
    if (rc == 0) {
      ::close(fd);
      return -2;
    }
    break;
  }
  int so_error = 0;
  socklen_t len = sizeof so_error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) < 0) so_error = errno;
  if (so_error != 0) {
    err = so_error;
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

Result<StreamPtr> connect_tcp(std::string_view host_in, std::uint16_t port,
                              const ConnectOptions& options) {
  const std::string host = strip_brackets(host_in);
  const std::string target = host_port(host, port);
  const Deadline deadline = deadline_in(options.timeout);
  if (host.empty())
    return fail(Errc::Config, Scope::Connection, "cannot connect: empty host name");

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* raw = nullptr;
  const std::string port_text = std::to_string(port);
  int gai = ::getaddrinfo(host.c_str(), port_text.c_str(), &hints, &raw);
  if (gai == EAI_NONAME || gai == EAI_ADDRFAMILY || gai == EAI_NODATA) {
    // AI_ADDRCONFIG hides ::1 / 127.0.0.1 on hosts with only loopback; retry without it.
    hints.ai_flags = 0;
    gai = ::getaddrinfo(host.c_str(), port_text.c_str(), &hints, &raw);
  }
  AddrInfoPtr list(raw);
  if (gai != 0) {
    std::string why = gai == EAI_SYSTEM ? errno_text(errno) : ::gai_strerror(gai);
    return fail(Errc::Network, Scope::Connection,
                "cannot resolve host " + host + ": " + why + " (check the host name and DNS)");
  }

  std::string errors;
  std::string last_addr, last_err;
  int attempts = 0;
  for (const addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    if (Clock::now() >= deadline) break;
    int err = 0;
    int fd = try_connect(ai, deadline, err);
    if (fd == -2) break;
    if (fd >= 0) {
      tune_connected(fd, options);
      return StreamPtr(std::make_unique<detail::FdStream>(fd, target));
    }
    ++attempts;
    last_addr = sockaddr_text(ai->ai_addr);
    last_err = errno_text(err);
    if (!errors.empty()) errors += "; ";
    errors += last_addr + ": " + last_err;
  }
  if (Clock::now() >= deadline || errors.empty()) {
    return fail(Errc::Timeout, Scope::Connection,
                "connecting to " + target + " timed out after " +
                    std::to_string(options.timeout.count()) + " ms" +
                    (errors.empty() ? std::string() : " (" + errors + ")"));
  }
  std::string where = target;
  if (attempts == 1) {
    if (last_addr != target) where += " (" + last_addr + ")";
    errors = last_err;
  }
  return fail(Errc::Network, Scope::Connection,
              "cannot connect to " + where + ": " + errors +
                  " (is the server running, and is the port right?)");
}

StreamPtr adopt_socket(int fd, std::string description) {
  detail::make_nonblocking_cloexec(fd);
  return std::make_unique<detail::FdStream>(fd, std::move(description));
}

Result<std::pair<StreamPtr, StreamPtr>> stream_pair() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
    return fail(Errc::Io, Scope::Connection, "socketpair failed: " + errno_text(errno));
  return std::pair<StreamPtr, StreamPtr>(std::make_unique<detail::FdStream>(sv[0], "socketpair[0]"),
                                         std::make_unique<detail::FdStream>(sv[1], "socketpair[1]"));
}

// ---- listener ------------------------------------------------------------------------------

TcpListener::TcpListener(TcpListener&& other) noexcept
    : fd_(other.fd_), port_(other.port_), host_(std::move(other.host_)) {
  other.fd_ = -1;
}

TcpListener& TcpListener::operator=(TcpListener&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.fd_;
    port_ = other.port_;
    host_ = std::move(other.host_);
    other.fd_ = -1;
  }
  return *this;
}

TcpListener::~TcpListener() { close(); }

void TcpListener::close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

std::string TcpListener::address() const { return host_port(host_, port_); }

Result<StreamPtr> TcpListener::accept() {
  if (fd_ < 0) return fail(Errc::Closed, Scope::Fatal, "listener is closed");
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  for (;;) {
    int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
        set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, 1);
      std::string peer = ss.ss_family == AF_UNIX ? std::string("unix peer")
                                                 : sockaddr_text(reinterpret_cast<sockaddr*>(&ss));
      return StreamPtr(std::make_unique<detail::FdStream>(fd, peer));
    }
    if (errno == EINTR) continue;
    // A connection reset before accept is not the listener's problem: report "none".
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED || errno == EPROTO)
      return StreamPtr{};
    return fail(Errc::Io, Scope::Connection,
                "accept on " + address() + " failed: " + errno_text(errno));
  }
}

Result<StreamPtr> TcpListener::accept_wait(Deadline deadline) {
  for (;;) {
    auto s = accept();
    if (!s || *s) return s;
    PollItem item{.fd = fd_, .events = POLLIN};
    auto n = poll_streams({&item, 1}, deadline);
    if (!n) return n.error();
    if (*n == 0)
      return fail(Errc::Timeout, Scope::Connection,
                  "no connection arrived on " + address() + " in time");
  }
}

Result<TcpListener> listen_tcp(std::string_view host_in, std::uint16_t port, int backlog) {
  std::string host = strip_brackets(host_in);
  const bool any = host.empty() || host == "*";
  addrinfo hints{};
  hints.ai_family = any ? AF_INET6 : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* raw = nullptr;
  const std::string port_text = std::to_string(port);
  int gai = ::getaddrinfo(any ? nullptr : host.c_str(), port_text.c_str(), &hints, &raw);
  if (gai != 0 && any) {  // no IPv6: fall back to IPv4 any
    hints.ai_family = AF_INET;
    gai = ::getaddrinfo(nullptr, port_text.c_str(), &hints, &raw);
  }
  AddrInfoPtr list(raw);
  if (gai != 0)
    return fail(Errc::Network, Scope::Fatal,
                "cannot resolve listen address " + host + ": " + ::gai_strerror(gai));
  // Prefer IPv4 for names such as "localhost" (clients try 127.0.0.1 first on most hosts).
  const addrinfo* pick = list.get();
  if (!any) {
    for (const addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next)
      if (ai->ai_family == AF_INET) {
        pick = ai;
        break;
      }
  }
  std::string errors;
  for (const addrinfo* ai = pick; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      errors = errno_text(errno);
      continue;
    }
    set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (ai->ai_family == AF_INET6 && any) set_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || ::listen(fd, backlog) < 0) {
      errors = errno_text(errno);
      ::close(fd);
      continue;
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    std::uint16_t bound = port;
    if (ss.ss_family == AF_INET) bound = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    if (ss.ss_family == AF_INET6) bound = ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    std::string shown = any ? std::string("*") : host;
    if (!any) {
      char buf[INET6_ADDRSTRLEN] = {};
      if (ss.ss_family == AF_INET)
        ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
      else
        ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof buf);
      shown = buf;
    }
    return TcpListener(fd, bound, shown);
  }
  return fail(Errc::Network, Scope::Fatal,
              "cannot listen on " + host_port(any ? "*" : host, port) + ": " + errors +
                  " (is another server using this port?)");
}

}  // namespace twinbox::net
