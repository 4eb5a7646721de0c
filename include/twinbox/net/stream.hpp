#pragma once
/// net::Stream: a non-blocking, bidirectional byte stream (TCP, TLS, a tunnel child's
/// stdin/stdout, or COMPRESS=DEFLATE layered over any of them). The protocol code above
/// never blocks inside a Stream: it calls read_some/write_some, and when they make no
/// progress it polls fd() for poll_events() (one poll() loop drives many streams).
///
/// Contract:
/// - read_some returns the number of bytes read (> 0), 0 when nothing is available now
///   (would block), or an Error: Errc::Closed on an orderly EOF, Errc::Network/Io/Tls
///   otherwise. It never returns 0 for EOF.
/// - write_some returns the number of bytes accepted (may be fewer than offered, or 0 when
///   it would block), or an Error. Accepted bytes may sit in an internal buffer (TLS,
///   deflate) until flush() has pushed them out; flush() returns true once everything is
///   on the wire, false when it must be called again after poll.
/// - buffered_input() is true when read_some can return data without the fd being readable
///   (decrypted TLS records, inflated bytes). Poll loops must check it before sleeping.
/// - poll_events() says which events (POLLIN/POLLOUT) the stream needs to make progress
///   right now (TLS can need POLLIN to write and POLLOUT to read).
/// - Timeouts belong to the caller's loop (deadline per operation), not to the stream.

#include <cstddef>
#include <memory>
#include <string>

#include <twinbox/base/result.hpp>

namespace twinbox::net {

class Stream {
 public:
  virtual ~Stream() = default;
  Stream() = default;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  virtual Result<std::size_t> read_some(char* buf, std::size_t len) = 0;
  virtual Result<std::size_t> write_some(const char* buf, std::size_t len) = 0;
  virtual Result<bool> flush() = 0;
  [[nodiscard]] virtual bool buffered_input() const = 0;
  [[nodiscard]] virtual int fd() const = 0;
  [[nodiscard]] virtual short poll_events() const = 0;
  /// Closes the stream; further calls fail with Errc::Closed. Idempotent.
  virtual void close() = 0;
  /// Human-readable peer description for messages and logs ("imap.example.org:993 (TLS)").
  [[nodiscard]] virtual std::string describe() const = 0;
  /// Bytes moved over the underlying transport so far (for --debug and benchmarks).
  [[nodiscard]] virtual std::size_t bytes_in() const { return 0; }
  [[nodiscard]] virtual std::size_t bytes_out() const { return 0; }
};

using StreamPtr = std::unique_ptr<Stream>;

}  // namespace twinbox::net
