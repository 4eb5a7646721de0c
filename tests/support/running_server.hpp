#pragma once
/// An embedded server (twinbox::server::Server) on an ephemeral 127.0.0.1 port, its loop run
/// by a thread of the test process; stopped and joined at destruction. Header-only: the tests
/// that use it link the server layer themselves.
#include <cstdint>
#include <memory>
#include <thread>

#include <doctest/doctest.h>

#include <twinbox/server/server.hpp>

namespace twinbox::test {

struct RunningServer {
  std::unique_ptr<server::Server> server;
  std::uint16_t port = 0;
  std::thread loop;

  explicit RunningServer(const server::Options& opt) {
    auto s = server::Server::create(opt);
    REQUIRE(s);
    server = std::move(*s);
    auto p = server->start();
    REQUIRE(p);
    port = *p;
    loop = std::thread([this] { (void)server->run(); });
  }
  ~RunningServer() {
    server->stop();
    loop.join();
  }
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;
};

}  // namespace twinbox::test
