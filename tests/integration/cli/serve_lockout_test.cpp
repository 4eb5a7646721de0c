// `twinbox serve --auth-lockout-after N`: the option reaches the server (a lockout after N
// failures from 127.0.0.1; none with 0). The lockout rules themselves are tested in
// tests/integration/security_auth_throttle_test.cpp and tests/unit/server/auth_throttle_test.cpp.

#include <doctest/doctest.h>

#include <twinbox/net/io.hpp>
#include <twinbox/net/tcp.hpp>

#include "process.hpp"

using namespace twinbox;
using namespace twinbox::test;
using namespace std::chrono_literals;

namespace {

/// Logs in over a new connection; returns the tagged answer.
std::string login(std::uint16_t port, const std::string& password) {
  auto c = net::connect_tcp("127.0.0.1", port);
  REQUIRE(c);
  std::string pending;
  auto greeting = net::read_line(**c, pending, net::deadline_in(10s));
  REQUIRE(greeting);
  REQUIRE(net::write_all(**c, "a LOGIN alice " + password + "\r\n", net::deadline_in(10s)));
  for (int i = 0; i < 10; ++i) {
    auto l = net::read_line(**c, pending, net::deadline_in(10s));
    REQUIRE(l);
    if (l->rfind("a ", 0) == 0) return *l;
  }
  FAIL("no tagged answer to LOGIN");
  return {};
}

std::uint16_t start_port(Child& serve) {
  auto line = serve.read_line(20s);
  REQUIRE_MESSAGE(line, serve.stderr_text());
  return static_cast<std::uint16_t>(std::stoi(*line));
}

}  // namespace

TEST_CASE("serve --auth-lockout-after: N failures lock the address out; 0 never does") {
  const std::vector<std::string> base = {"serve", "--listen", "127.0.0.1:0", "--user",
                                         "alice:secret", "--test-controls",
                                         "--test-auth-fail-delay-ms", "0"};
  {
    auto args = base;
    args.insert(args.end(), {"--auth-lockout-after", "2"});
    Child serve(args);
    auto port = start_port(serve);
    CHECK(login(port, "bad").rfind("a NO [AUTHENTICATIONFAILED]", 0) == 0);
    CHECK(login(port, "bad").rfind("a NO [AUTHENTICATIONFAILED]", 0) == 0);
    CHECK(login(port, "secret").rfind("a NO [UNAVAILABLE] Too many failed logins from 127.0.0.1", 0) == 0);
    CHECK(serve.stop() == 0);
  }
  {
    auto args = base;
    args.insert(args.end(), {"--auth-lockout-after", "0"});
    Child serve(args);
    auto port = start_port(serve);
    for (int i = 0; i < 12; ++i) CHECK(login(port, "bad").rfind("a NO [AUTHENTICATIONFAILED]", 0) == 0);
    CHECK(login(port, "secret").rfind("a OK", 0) == 0);
    CHECK(serve.stop() == 0);
  }
}
