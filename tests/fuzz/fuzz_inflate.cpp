// Fuzz target: the inflate path of COMPRESS=DEFLATE (include/twinbox/net/deflate.hpp). The
// input's first two bytes choose the transport's read size and the caller's buffer size; the
// rest is the compressed stream the "server" sends. Any bytes must give inflated data or
// Errc::Protocol (corrupt stream) / Errc::Closed (end of input): never a crash, a read that
// returns more than asked, or a loop without progress. Inflated output is capped (a deflate
// bomb must not make the target itself slow). Then the same bytes, as plain data, make a
// round trip through a compressing and an inflating DeflateStream and must come back equal.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include <twinbox/net/deflate.hpp>

namespace {

using twinbox::Errc;
using twinbox::Result;

/// A Stream over memory: reads return `in` in pieces of at most `chunk`, then Closed;
/// writes append to `out`.
class MemStream final : public twinbox::net::Stream {
 public:
  MemStream(std::string in, std::size_t chunk, std::string* out)
      : in_(std::move(in)), chunk_(chunk), out_(out) {}
  Result<std::size_t> read_some(char* buf, std::size_t len) override {
    if (pos_ >= in_.size()) return twinbox::fail(Errc::Closed, twinbox::Scope::Connection, "eof");
    std::size_t n = std::min({len, chunk_, in_.size() - pos_});
    in_.copy(buf, n, pos_);
    pos_ += n;
    return n;
  }
  Result<std::size_t> write_some(const char* buf, std::size_t len) override {
    if (out_) out_->append(buf, len);
    return len;
  }
  Result<bool> flush() override { return true; }
  [[nodiscard]] bool buffered_input() const override { return pos_ < in_.size(); }
  [[nodiscard]] int fd() const override { return -1; }
  [[nodiscard]] short poll_events() const override { return 1; }
  void close() override {}
  [[nodiscard]] std::string describe() const override { return "memory"; }

 private:
  std::string in_;
  std::size_t pos_ = 0;
  std::size_t chunk_;
  std::string* out_;
};

constexpr std::size_t kMaxOutput = 4u << 20;

/// Reads everything `ds` yields; returns it (capped), aborting on a contract violation.
std::string drain(twinbox::net::DeflateStream& ds, std::size_t bufsize) {
  std::string out;
  std::string buf(bufsize, '\0');
  int idle = 0;
  for (int i = 0; i < 4'000'000 && out.size() < kMaxOutput; ++i) {
    auto r = ds.read_some(buf.data(), buf.size());
    if (!r) {
      if (r.error().code != Errc::Protocol && r.error().code != Errc::Closed) std::abort();
      if (r.error().message.empty()) std::abort();
      return out;
    }
    if (*r > buf.size()) std::abort();
    if (*r == 0) {
      // Nothing now and nothing buffered: a memory transport always has data or EOF, so a
      // stream that keeps returning 0 is stuck.
      if (++idle > 1000) std::abort();
      continue;
    }
    idle = 0;
    out.append(buf.data(), *r);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  std::size_t chunk = 1 + data[0] % 64 * 97;      // 1 .. 6112
  std::size_t bufsize = 1 + data[1] % 32 * 257;   // 1 .. 7968
  std::string body(reinterpret_cast<const char*>(data) + 2, size - 2);

  // 1. Inflate arbitrary bytes.
  {
    auto ds = twinbox::net::wrap_deflate(std::make_unique<MemStream>(body, chunk, nullptr));
    if (!ds) std::abort();
    (void)drain(**ds, bufsize);
  }
  // 2. Round trip: compress `body`, inflate it back.
  std::string wire;
  {
    auto w = twinbox::net::wrap_deflate(std::make_unique<MemStream>("", chunk, &wire));
    if (!w) std::abort();
    std::string_view rest = body;
    for (int i = 0; !rest.empty() && i < 1'000'000; ++i) {
      auto n = (*w)->write_some(rest.data(), std::min(rest.size(), bufsize));
      if (!n) std::abort();
      rest.remove_prefix(*n);
      if (*n == 0 && !(*w)->flush()) std::abort();
    }
    if (!rest.empty()) std::abort();
    for (int i = 0; i < 1000; ++i) {
      auto f = (*w)->flush();
      if (!f) std::abort();
      if (*f) break;
    }
  }
  auto r = twinbox::net::wrap_deflate(std::make_unique<MemStream>(wire, chunk, nullptr));
  if (!r) std::abort();
  std::string back = drain(**r, bufsize);
  if (back != body) std::abort();
  return 0;
}
