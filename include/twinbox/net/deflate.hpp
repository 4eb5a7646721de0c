#pragma once
/// COMPRESS=DEFLATE (RFC 4978): a Stream that compresses what is written and inflates what
/// is read, over any other Stream (TCP, TLS, tunnel). Raw deflate (zlib windowBits -15,
/// RFC 4978 §4), installed right after the tagged OK of COMPRESS (client) or after sending
/// it (server): from the next octet on, both directions are compressed.
///
/// write_some accepts bytes into the compressor; flush() ends the batch with Z_SYNC_FLUSH
/// (RFC 4978 §4: the peer can decode everything sent so far) and pushes it to the
/// transport. The session calls flush() after each batch of commands — bytes written but
/// never flushed may sit in the compressor indefinitely. Buffers are bounded: when the
/// transport does not take compressed bytes, write_some accepts 0 until it does; read_some
/// never inflates more than the caller's buffer.
///
/// A corrupt compressed stream is Errc::Protocol (Scope::Connection).

#include <cstddef>
#include <memory>

#include <twinbox/base/result.hpp>
#include <twinbox/net/stream.hpp>

namespace twinbox::net {

struct DeflateOptions {
  int level = 6;           ///< zlib level 1..9 (RFC 4978 leaves it to the sender)
  int window_bits = 15;    ///< 8..15; used as -window_bits (raw deflate)
  /// Most compressed bytes held back when the transport is slow; beyond it write_some
  /// accepts nothing until flush()/write_some moved some out.
  std::size_t max_pending_out = 256 * 1024;
};

class DeflateStream final : public Stream {
 public:
  struct Impl;
  ~DeflateStream() override;
  explicit DeflateStream(std::unique_ptr<Impl> impl);

  Result<std::size_t> read_some(char* buf, std::size_t len) override;
  Result<std::size_t> write_some(const char* buf, std::size_t len) override;
  Result<bool> flush() override;
  [[nodiscard]] bool buffered_input() const override;
  [[nodiscard]] int fd() const override;
  [[nodiscard]] short poll_events() const override;
  void close() override;
  [[nodiscard]] std::string describe() const override;
  /// On the wire (compressed), as the underlying transport counts them.
  [[nodiscard]] std::size_t bytes_in() const override;
  [[nodiscard]] std::size_t bytes_out() const override;

  /// Before compression / after decompression (what the IMAP layer sent and received).
  [[nodiscard]] std::size_t plain_in() const;
  [[nodiscard]] std::size_t plain_out() const;
  /// Compressed bytes produced / consumed by this layer.
  [[nodiscard]] std::size_t compressed_in() const;
  [[nodiscard]] std::size_t compressed_out() const;

 private:
  std::unique_ptr<Impl> impl_;
};

/// Wraps `transport`. Errc::Internal if zlib cannot initialise (out of memory),
/// Errc::Config for an out-of-range level/window.
Result<std::unique_ptr<DeflateStream>> wrap_deflate(StreamPtr transport,
                                                    const DeflateOptions& options = {});

}  // namespace twinbox::net
