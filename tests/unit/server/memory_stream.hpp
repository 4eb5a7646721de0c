#pragma once
// An in-memory net::Stream for driving a server Session without sockets (unit tests, fuzz):
// input is handed out in chunks of a chosen size, output is collected.

#include <algorithm>
#include <string>

#include <twinbox/net/stream.hpp>

namespace twinbox::server::testing {

class MemoryStream : public net::Stream {
 public:
  explicit MemoryStream(std::string input, std::size_t chunk = 1 << 20)
      : in_(std::move(input)), chunk_(chunk == 0 ? 1 : chunk) {}
  Result<std::size_t> read_some(char* buf, std::size_t len) override {
    if (closed_) return fail(Errc::Closed, Scope::Connection, "closed");
    if (pos_ >= in_.size()) {
      if (eof_) return fail(Errc::Closed, Scope::Connection, "end of input");
      return std::size_t{0};
    }
    // Every chunk is followed by one "would block", so each on_ready() sees one chunk.
    if (stall_) {
      stall_ = false;
      return std::size_t{0};
    }
    std::size_t n = std::min({len, chunk_, in_.size() - pos_});
    std::copy_n(in_.data() + pos_, n, buf);
    pos_ += n;
    stall_ = true;
    return n;
  }
  Result<std::size_t> write_some(const char* buf, std::size_t len) override {
    if (closed_) return fail(Errc::Closed, Scope::Connection, "closed");
    if (out_->size() < max_out_) out_->append(buf, len);
    return len;
  }
  Result<bool> flush() override { return true; }
  [[nodiscard]] bool buffered_input() const override { return pos_ < in_.size(); }
  [[nodiscard]] int fd() const override { return -1; }
  [[nodiscard]] short poll_events() const override { return 1; }
  void close() override { closed_ = true; }
  [[nodiscard]] std::string describe() const override { return "memory"; }

  /// Appends more client input (a later "packet").
  void feed(const std::string& more) { in_ += more; }
  void set_eof() { eof_ = true; }
  [[nodiscard]] bool drained() const { return pos_ >= in_.size(); }
  /// Output is written to a string owned by the test (the stream may be moved into a Session).
  void set_output(std::string* out) { out_ = out; }
  void set_max_output(std::size_t n) { max_out_ = n; }

 private:
  std::string in_;
  std::size_t pos_ = 0;
  std::size_t chunk_;
  std::string own_out_;
  std::string* out_ = &own_out_;
  std::size_t max_out_ = static_cast<std::size_t>(-1);
  bool closed_ = false;
  bool eof_ = false;
  bool stall_ = false;
};

}  // namespace twinbox::server::testing
