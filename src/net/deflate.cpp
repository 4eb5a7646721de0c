#include <poll.h>
#include <zlib.h>

#include <algorithm>
#include <string>
#include <vector>

#include <twinbox/net/deflate.hpp>

namespace twinbox::net {

namespace {

constexpr std::size_t kChunk = 16 * 1024;
constexpr std::size_t kMaxWriteChunk = 64 * 1024;

}  // namespace

struct DeflateStream::Impl {
  StreamPtr transport;
  DeflateOptions options;
  z_stream def{};
  z_stream inf{};
  bool def_ok = false;
  bool inf_ok = false;
  bool closed = false;
  bool dirty = false;          // bytes compressed since the last Z_SYNC_FLUSH
  bool inflate_more = false;   // the last inflate filled the caller's buffer: maybe more
  std::vector<unsigned char> in_buf = std::vector<unsigned char>(kChunk);
  std::string out;             // compressed, not yet taken by the transport
  std::size_t plain_in = 0, plain_out = 0, comp_in = 0, comp_out = 0;

  ~Impl() {
    if (def_ok) deflateEnd(&def);
    if (inf_ok) inflateEnd(&inf);
  }

  [[nodiscard]] std::string where() const { return transport->describe() + " (COMPRESS=DEFLATE)"; }

  Error closed_error() const { return fail(Errc::Closed, Scope::Connection, where() + ": stream is closed"); }

  Status push_out() {
    while (!out.empty()) {
      auto n = transport->write_some(out.data(), out.size());
      if (!n) return n.error();
      if (*n == 0) break;
      out.erase(0, *n);
    }
    return {};
  }

  /// Runs deflate with `flush` until zlib has nothing more to say for this input.
  Status compress(int flush) {
    unsigned char tmp[kChunk];
    for (;;) {
      def.next_out = tmp;
      def.avail_out = sizeof tmp;
      int rc = deflate(&def, flush);
      if (rc == Z_STREAM_ERROR)
        return fail(Errc::Internal, Scope::Connection, where() + ": deflate failed");
      std::size_t produced = sizeof tmp - def.avail_out;
      out.append(reinterpret_cast<const char*>(tmp), produced);
      comp_out += produced;
      if (def.avail_out != 0 && def.avail_in == 0) return {};
    }
  }
};

DeflateStream::DeflateStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DeflateStream::~DeflateStream() = default;

Result<std::unique_ptr<DeflateStream>> wrap_deflate(StreamPtr transport, const DeflateOptions& options) {
  if (options.level < 1 || options.level > 9 || options.window_bits < 8 || options.window_bits > 15)
    return fail(Errc::Config, Scope::Connection,
                "COMPRESS=DEFLATE: level must be 1..9 and window bits 8..15");
  auto impl = std::make_unique<DeflateStream::Impl>();
  impl->transport = std::move(transport);
  impl->options = options;
  // windowBits 8 is not accepted by zlib's raw deflate; 9 is the same window on the wire.
  const int bits = std::max(options.window_bits, 9);
  impl->def_ok = deflateInit2(&impl->def, options.level, Z_DEFLATED, -bits, 8, Z_DEFAULT_STRATEGY) == Z_OK;
  // Inflate with the largest window: accepts whatever window the peer chose (RFC 4978 §4).
  impl->inf_ok = inflateInit2(&impl->inf, -15) == Z_OK;
  if (!impl->def_ok || !impl->inf_ok)
    return fail(Errc::Internal, Scope::Connection, "COMPRESS=DEFLATE: zlib initialisation failed");
  return std::make_unique<DeflateStream>(std::move(impl));
}

Result<std::size_t> DeflateStream::read_some(char* buf, std::size_t len) {
  Impl& m = *impl_;
  if (m.closed) return m.closed_error();
  if (len == 0) return std::size_t{0};
  const auto out_len = static_cast<uInt>(std::min<std::size_t>(len, 1u << 30));
  for (;;) {
    if (m.inf.avail_in > 0 || m.inflate_more) {
      m.inf.next_out = reinterpret_cast<Bytef*>(buf);
      m.inf.avail_out = out_len;
      int rc = inflate(&m.inf, Z_SYNC_FLUSH);
      std::size_t produced = out_len - m.inf.avail_out;
      m.inflate_more = m.inf.avail_out == 0;
      if (rc == Z_STREAM_END) {
        inflateReset(&m.inf);  // the peer ended a deflate stream; a new one may follow
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        std::string why = m.inf.msg != nullptr ? m.inf.msg : "error " + std::to_string(rc);
        return fail(Errc::Protocol, Scope::Connection,
                    m.where() + ": corrupt compressed data after " + std::to_string(m.comp_in) +
                        " compressed bytes: " + why);
      }
      if (produced > 0) {
        m.plain_in += produced;
        return produced;
      }
      if (m.inf.avail_in > 0 && rc != Z_STREAM_END)
        return fail(Errc::Internal, Scope::Connection, m.where() + ": inflate made no progress");
    }
    auto n = m.transport->read_some(reinterpret_cast<char*>(m.in_buf.data()), m.in_buf.size());
    if (!n) return n.error();
    if (*n == 0) return std::size_t{0};
    m.comp_in += *n;
    m.inf.next_in = m.in_buf.data();
    m.inf.avail_in = static_cast<uInt>(*n);
  }
}

Result<std::size_t> DeflateStream::write_some(const char* buf, std::size_t len) {
  Impl& m = *impl_;
  if (m.closed) return m.closed_error();
  if (auto p = m.push_out(); !p) return p.error();
  if (len == 0 || m.out.size() >= m.options.max_pending_out) return std::size_t{0};
  const std::size_t take = std::min(len, kMaxWriteChunk);
  m.def.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(buf));
  m.def.avail_in = static_cast<uInt>(take);
  if (auto c = m.compress(Z_NO_FLUSH); !c) return c.error();
  m.plain_out += take;
  m.dirty = true;
  if (auto p = m.push_out(); !p) return p.error();
  return take;
}

Result<bool> DeflateStream::flush() {
  Impl& m = *impl_;
  if (m.closed) return m.closed_error();
  if (m.dirty) {
    m.def.next_in = nullptr;
    m.def.avail_in = 0;
    if (auto c = m.compress(Z_SYNC_FLUSH); !c) return c.error();
    m.dirty = false;
  }
  if (auto p = m.push_out(); !p) return p.error();
  if (!m.out.empty()) return false;
  return m.transport->flush();
}

bool DeflateStream::buffered_input() const {
  const Impl& m = *impl_;
  return !m.closed && (m.inf.avail_in > 0 || m.inflate_more || m.transport->buffered_input());
}

int DeflateStream::fd() const { return impl_->closed ? -1 : impl_->transport->fd(); }

short DeflateStream::poll_events() const {
  short ev = impl_->transport->poll_events();
  if (!impl_->out.empty()) ev = static_cast<short>(ev | POLLOUT);
  return ev;
}

void DeflateStream::close() {
  if (impl_->closed) return;
  impl_->closed = true;
  impl_->transport->close();
}

std::string DeflateStream::describe() const { return impl_->transport->describe(); }
std::size_t DeflateStream::bytes_in() const { return impl_->transport->bytes_in(); }
std::size_t DeflateStream::bytes_out() const { return impl_->transport->bytes_out(); }
std::size_t DeflateStream::plain_in() const { return impl_->plain_in; }
std::size_t DeflateStream::plain_out() const { return impl_->plain_out; }
std::size_t DeflateStream::compressed_in() const { return impl_->comp_in; }
std::size_t DeflateStream::compressed_out() const { return impl_->comp_out; }

}  // namespace twinbox::net
