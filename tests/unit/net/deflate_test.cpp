#include <doctest/doctest.h>

#include <string>

#include <twinbox/net/deflate.hpp>
#include <twinbox/net/io.hpp>
#include <twinbox/net/tcp.hpp>

#include "test_util.hpp"

using namespace twinbox;
using namespace twinbox::net;
using namespace std::chrono_literals;

namespace {

Deadline soon() { return deadline_in(5s); }

struct WrappedPair {
  std::unique_ptr<DeflateStream> a, b;
};

WrappedPair make_pair_wrapped() {
  auto p = stream_pair();
  REQUIRE(p);
  auto a = wrap_deflate(std::move(p->first));
  auto b = wrap_deflate(std::move(p->second));
  REQUIRE(a);
  REQUIRE(b);
  return {std::move(*a), std::move(*b)};
}

/// IMAP-ish text: compressible but not trivially so.
std::string sample(std::size_t size) {
  std::string s;
  unsigned x = 12345;
  while (s.size() < size) {
    x = x * 1103515245u + 12345u;
    s += "* " + std::to_string(x % 100000) + " FETCH (UID " + std::to_string(x % 7919) +
         " FLAGS (\\Seen))\r\n";
  }
  s.resize(size);
  return s;
}

/// Moves `data` from `from` to `to` in one thread: write a piece, flush, read on the
/// other side; returns what arrived.
std::string pump(Stream& from, Stream& to, const std::string& data, std::size_t piece) {
  std::string got;
  std::size_t sent = 0;
  const Deadline end = soon();
  while (got.size() < data.size()) {
    if (sent < data.size()) {
      auto n = from.write_some(data.data() + sent, std::min(piece, data.size() - sent));
      REQUIRE(n);
      sent += *n;
      auto f = from.flush();  // one Z_SYNC_FLUSH per piece: "many flushes"
      REQUIRE(f);
    } else {
      REQUIRE(flush_all(from, end));
    }
    char buf[8192];
    for (;;) {
      auto r = to.read_some(buf, sizeof buf);
      REQUIRE_MESSAGE(r, test::why(r));
      if (*r == 0) break;
      got.append(buf, *r);
    }
    REQUIRE(Clock::now() < end);
  }
  return got;
}

}  // namespace

TEST_CASE("deflate: a flush makes everything written so far readable by the peer") {
  auto [a, b] = make_pair_wrapped();
  REQUIRE(write_all(*a, "a1 NOOP\r\n", soon()));  // write_all flushes
  std::string pending;
  auto line = read_line(*b, pending, soon());
  REQUIRE(line);
  CHECK(*line == "a1 NOOP");
  CHECK(a->plain_out() == 9);
  CHECK(b->plain_in() == 9);
  CHECK(a->compressed_out() == b->compressed_in());
  CHECK(a->bytes_out() == a->compressed_out());
}

TEST_CASE("deflate: large echo round trip over a socketpair, many flushes") {
  auto [a, b] = make_pair_wrapped();
  const std::string data = sample(1024 * 1024 + 17);
  // Small pieces (many sync flushes) then large ones (bounded buffers, partial writes).
  for (std::size_t piece : {std::size_t{1000}, std::size_t{256 * 1024}}) {
    CAPTURE(piece);
    const std::string there = pump(*a, *b, data, piece);
    REQUIRE(there.size() == data.size());
    CHECK(there == data);
    const std::string back = pump(*b, *a, there, piece);
    CHECK(back == data);
  }
  CHECK(a->plain_out() == 2 * data.size());
  CHECK(b->plain_in() == 2 * data.size());
  CHECK(a->compressed_out() < a->plain_out() / 2);  // text compresses
  CHECK(b->compressed_in() == a->compressed_out());
}

TEST_CASE("deflate: corrupt input is Errc::Protocol, EOF stays Errc::Closed") {
  auto p = stream_pair();
  REQUIRE(p);
  auto reader = wrap_deflate(std::move(p->second));
  REQUIRE(reader);
  // 0xff: a raw deflate block header with the reserved block type 3.
  REQUIRE(write_all(*p->first, std::string(8, '\xff'), soon()));
  std::string pending;
  auto r = read_line(**reader, pending, soon());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::Protocol);

  auto q = make_pair_wrapped();
  q.a->close();
  auto eof = read_line(*q.b, pending, soon());
  REQUIRE_FALSE(eof);
  CHECK(eof.error().code == Errc::Closed);
}

TEST_CASE("deflate: options are checked") {
  auto p = stream_pair();
  REQUIRE(p);
  CHECK_FALSE(wrap_deflate(std::move(p->first), {.level = 0}));
  auto ok = wrap_deflate(std::move(p->second), {.level = 1, .window_bits = 8});
  CHECK(ok);
}
