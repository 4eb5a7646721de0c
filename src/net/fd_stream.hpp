#pragma once
/// FdStream: a net::Stream over a non-blocking socket fd (TCP, AF_UNIX socketpair). Private
/// to the net layer; the tunnel stream derives from it.

#include <cstddef>
#include <string>

#include <twinbox/base/result.hpp>
#include <twinbox/net/stream.hpp>

namespace twinbox::net::detail {

/// errno text ("Connection refused").
std::string errno_text(int err);
/// Sets O_NONBLOCK and FD_CLOEXEC; false when fcntl fails.
bool make_nonblocking_cloexec(int fd);

class FdStream : public Stream {
 public:
  FdStream(int fd, std::string description);
  ~FdStream() override;

  Result<std::size_t> read_some(char* buf, std::size_t len) override;
  Result<std::size_t> write_some(const char* buf, std::size_t len) override;
  Result<bool> flush() override { return closed_error_if_closed(true); }
  [[nodiscard]] bool buffered_input() const override { return false; }
  [[nodiscard]] int fd() const override { return fd_; }
  [[nodiscard]] short poll_events() const override;
  void close() override;
  [[nodiscard]] std::string describe() const override { return description_; }
  [[nodiscard]] std::size_t bytes_in() const override { return bytes_in_; }
  [[nodiscard]] std::size_t bytes_out() const override { return bytes_out_; }

 protected:
  /// The error read_some returns at EOF; the tunnel adds the child's exit status.
  virtual Error eof_error();
  Result<bool> closed_error_if_closed(bool ok) const;
  void close_fd();

  int fd_;
  std::string description_;
  std::size_t bytes_in_ = 0;
  std::size_t bytes_out_ = 0;
};

}  // namespace twinbox::net::detail
