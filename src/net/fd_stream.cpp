#include "fd_stream.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace twinbox::net::detail {

std::string errno_text(int err) {
  char buf[256];
  // GNU strerror_r returns the message pointer (maybe not buf).
  return strerror_r(err, buf, sizeof buf);
}

bool make_nonblocking_cloexec(int fd) {
  int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return false;
  int fdfl = ::fcntl(fd, F_GETFD);
  return fdfl >= 0 && ::fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) >= 0;
}

FdStream::FdStream(int fd, std::string description)
    : fd_(fd), description_(std::move(description)) {}

FdStream::~FdStream() { close_fd(); }

void FdStream::close_fd() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void FdStream::close() { close_fd(); }

Result<bool> FdStream::closed_error_if_closed(bool ok) const {
  if (fd_ < 0) return fail(Errc::Closed, Scope::Connection, description_ + ": stream is closed");
  return ok;
}

short FdStream::poll_events() const { return POLLIN; }

Error FdStream::eof_error() {
  return fail(Errc::Closed, Scope::Connection, description_ + ": connection closed by peer");
}

Result<std::size_t> FdStream::read_some(char* buf, std::size_t len) {
  if (fd_ < 0) return fail(Errc::Closed, Scope::Connection, description_ + ": stream is closed");
  if (len == 0) return std::size_t{0};
  for (;;) {
    ssize_t n = ::recv(fd_, buf, len, 0);
    if (n > 0) {
      bytes_in_ += static_cast<std::size_t>(n);
      return static_cast<std::size_t>(n);
    }
    if (n == 0) return eof_error();
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return std::size_t{0};
    int err = errno;
    if (err == ENOTSOCK) {  // a pipe or tty handed to adopt_socket
      ssize_t r = ::read(fd_, buf, len);
      if (r > 0) {
        bytes_in_ += static_cast<std::size_t>(r);
        return static_cast<std::size_t>(r);
      }
      if (r == 0) return eof_error();
      if (errno == EAGAIN || errno == EINTR) return std::size_t{0};
      err = errno;
    }
    return fail(Errc::Network, Scope::Connection,
                description_ + ": read failed: " + errno_text(err));
  }
}

Result<std::size_t> FdStream::write_some(const char* buf, std::size_t len) {
  if (fd_ < 0) return fail(Errc::Closed, Scope::Connection, description_ + ": stream is closed");
  if (len == 0) return std::size_t{0};
  for (;;) {
    ssize_t n = ::send(fd_, buf, len, MSG_NOSIGNAL);
    if (n >= 0) {
      bytes_out_ += static_cast<std::size_t>(n);
      return static_cast<std::size_t>(n);
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return std::size_t{0};
    int err = errno;
    if (err == ENOTSOCK) {
      ssize_t r = ::write(fd_, buf, len);
      if (r >= 0) {
        bytes_out_ += static_cast<std::size_t>(r);
        return static_cast<std::size_t>(r);
      }
      if (errno == EAGAIN || errno == EINTR) return std::size_t{0};
      err = errno;
    }
    if (err == EPIPE || err == ECONNRESET)
      return fail(Errc::Closed, Scope::Connection,
                  description_ + ": connection closed by peer while writing (" + errno_text(err) + ")");
    return fail(Errc::Network, Scope::Connection,
                description_ + ": write failed: " + errno_text(err));
  }
}

}  // namespace twinbox::net::detail
