#include <doctest/doctest.h>

#include <poll.h>

#include <string>
#include <thread>
#include <vector>

#include <twinbox/net/io.hpp>
#include <twinbox/net/tcp.hpp>

#include "test_util.hpp"

using namespace twinbox;
using namespace twinbox::net;
using namespace std::chrono_literals;

namespace {

Deadline soon() { return deadline_in(5s); }

}  // namespace

TEST_CASE("tcp: listener on port 0 picks a port, accepts, echoes") {
  auto listener = listen_tcp("127.0.0.1", 0);
  REQUIRE_MESSAGE(listener, test::why(listener));
  CHECK(listener->port() != 0);
  CHECK(listener->address() == "127.0.0.1:" + std::to_string(listener->port()));

  auto client = connect_tcp("127.0.0.1", listener->port(), {.timeout = 5s});
  REQUIRE_MESSAGE(client, test::why(client));
  auto server = listener->accept_wait(soon());
  REQUIRE_MESSAGE(server, test::why(server));
  REQUIRE(*server != nullptr);

  // Nothing sent yet: a non-blocking read reports "would block", never EOF.
  char c;
  auto none = (*server)->read_some(&c, 1);
  REQUIRE(none);
  CHECK(*none == 0);

  REQUIRE(write_all(**client, "hello\r\nworld\n", soon()));
  std::string pending;
  auto l1 = read_line(**server, pending, soon());
  REQUIRE(l1);
  CHECK(*l1 == "hello");
  auto l2 = read_line(**server, pending, soon());
  REQUIRE(l2);
  CHECK(*l2 == "world");
  REQUIRE(write_all(**server, *l1 + *l2 + "\r\n", soon()));
  auto back = read_line(**client, pending, soon());
  REQUIRE(back);
  CHECK(*back == "helloworld");
  CHECK((*client)->bytes_out() == 13);
  CHECK((*server)->bytes_in() == 13);

  // Orderly close: the peer sees Errc::Closed, not a 0-byte read.
  (*client)->close();
  auto eof = read_line(**server, pending, soon());
  REQUIRE_FALSE(eof);
  CHECK(eof.error().code == Errc::Closed);
  // After close() the stream reports Closed.
  auto after = (*client)->write_some("x", 1);
  REQUIRE_FALSE(after);
  CHECK(after.error().code == Errc::Closed);
}

TEST_CASE("tcp: accept with nothing pending returns nullptr") {
  auto listener = listen_tcp("localhost", 0);
  REQUIRE(listener);
  auto s = listener->accept();
  REQUIRE(s);
  CHECK(*s == nullptr);
  auto w = listener->accept_wait(deadline_in(0ms));
  REQUIRE_FALSE(w);
  CHECK(w.error().code == Errc::Timeout);
}

TEST_CASE("tcp: IPv6 loopback, bracketed literal") {
  auto listener = listen_tcp("::1", 0);
  if (!listener) {
    MESSAGE("no IPv6 loopback here: " << listener.error().message);
    return;
  }
  auto client = connect_tcp("[::1]", listener->port(), {.timeout = 5s});
  REQUIRE_MESSAGE(client, test::why(client));
  CHECK((*client)->describe() == "[::1]:" + std::to_string(listener->port()));
  auto server = listener->accept_wait(soon());
  REQUIRE(server);
  REQUIRE(write_all(**client, "six\n", soon()));
  std::string pending;
  auto line = read_line(**server, pending, soon());
  REQUIRE(line);
  CHECK(*line == "six");
}

TEST_CASE("tcp: connection refused is Errc::Network naming the address") {
  std::uint16_t port = 0;
  {
    auto listener = listen_tcp("127.0.0.1", 0);
    REQUIRE(listener);
    port = listener->port();
  }  // closed: nothing listens there now
  auto r = connect_tcp("127.0.0.1", port, {.timeout = 5s});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::Network);
  CHECK(r.error().message.find("refused") != std::string::npos);
  CHECK(r.error().message.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
}

TEST_CASE("tcp: DNS failure is Errc::Network 'cannot resolve host'") {
  auto r = connect_tcp("no-such-host.invalid", 143, {.timeout = 5s});
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::Network);
  CHECK(r.error().message.find("cannot resolve host no-such-host.invalid") != std::string::npos);
}

TEST_CASE("tcp: connect times out against a listener whose backlog is full") {
  // Linux drops SYNs while a listener's accept queue is full, so a connect to it hangs
  // until our deadline: a timeout provoked on loopback only.
  auto listener = listen_tcp("127.0.0.1", 0, 0);
  REQUIRE(listener);
  std::vector<StreamPtr> fillers;
  Result<StreamPtr> last = fail(Errc::Internal, Scope::Fatal, "not run");
  for (int i = 0; i < 16; ++i) {
    last = connect_tcp("127.0.0.1", listener->port(), {.timeout = 300ms});
    if (!last) break;
    fillers.push_back(std::move(*last));
  }
  REQUIRE_FALSE(last);
  CHECK(last.error().code == Errc::Timeout);
  CHECK(last.error().message.find("timed out after 300 ms") != std::string::npos);
}

TEST_CASE("io: deadline helpers") {
  CHECK(poll_timeout_ms(kNoDeadline) == -1);
  CHECK(poll_timeout_ms(deadline_in(-5ms)) == 0);
  int ms = poll_timeout_ms(deadline_in(2s));
  CHECK(ms > 1000);
  CHECK(ms <= 2000);
}

TEST_CASE("io: read_line enforces its limit, read_exact and wait_io time out") {
  auto pair = stream_pair();
  REQUIRE(pair);
  auto& [a, b] = *pair;
  std::string pending;
  auto t = wait_io(*b, false, deadline_in(0ms));
  REQUIRE_FALSE(t);
  CHECK(t.error().code == Errc::Timeout);
  REQUIRE(write_all(*a, std::string(100, 'x'), soon()));
  auto line = read_line(*b, pending, soon(), 50);
  REQUIRE_FALSE(line);
  CHECK(line.error().code == Errc::Limit);
  pending.clear();
  REQUIRE(write_all(*a, "0123456789", soon()));
  auto exact = read_exact(*b, pending, 5, soon());
  REQUIRE(exact);
  auto more = read_exact(*b, pending, 200, deadline_in(20ms));
  REQUIRE_FALSE(more);
  CHECK(more.error().code == Errc::Timeout);
}

TEST_CASE("io: poll_streams reports the ready stream among several") {
  auto p1 = stream_pair();
  auto p2 = stream_pair();
  REQUIRE(p1);
  REQUIRE(p2);
  REQUIRE(write_all(*p2->first, "x", soon()));
  PollItem items[2] = {{.stream = p1->second.get()}, {.stream = p2->second.get()}};
  auto n = poll_streams(items, soon());
  REQUIRE(n);
  CHECK(*n == 1);
  CHECK_FALSE(items[0].ready);
  CHECK(items[1].ready);
  CHECK((items[1].revents & POLLIN) != 0);
  auto none = poll_streams({items, 1}, deadline_in(10ms));
  REQUIRE(none);
  CHECK(*none == 0);
}

TEST_CASE("io: write_all over a full socket buffer, reader in another thread") {
  auto pair = stream_pair();
  REQUIRE(pair);
  const std::string big(1024 * 1024, 'z');
  std::string got;
  std::thread reader([&] {
    std::string pending;
    auto r = read_exact(*pair->second, pending, big.size(), soon());
    if (r) got = std::move(*r);
  });
  auto w = write_all(*pair->first, big, soon());
  reader.join();
  REQUIRE(w);
  CHECK(got == big);
}
