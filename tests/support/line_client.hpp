#pragma once
/// A raw IMAP client for server tests: one TCP connection to 127.0.0.1, lines sent as typed
/// and read one by one, every read bounded. Header-only (net layer only).
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <twinbox/net/io.hpp>
#include <twinbox/net/tcp.hpp>

namespace twinbox::test {

struct LineClient {
  net::StreamPtr s;
  std::string pending;
  std::chrono::milliseconds bound;

  explicit LineClient(std::uint16_t port, std::chrono::milliseconds read_bound = std::chrono::seconds(10))
      : bound(read_bound) {
    auto c = net::connect_tcp("127.0.0.1", port);
    REQUIRE(c);
    s = std::move(*c);
  }
  /// The next line, or the error (Errc::Closed at EOF) after at most `bound`.
  Result<std::string> next() { return net::read_line(*s, pending, net::deadline_in(bound)); }
  std::string line() {
    auto l = next();
    REQUIRE_MESSAGE(l, (l ? std::string() : l.error().message));
    return *l;
  }
  void send(const std::string& text) { REQUIRE(net::write_all(*s, text + "\r\n", net::deadline_in(bound))); }
  /// All lines up to and including the one starting with `tag ` (at most 1,000).
  std::vector<std::string> until(const std::string& tag) {
    std::vector<std::string> out;
    for (int i = 0; i < 1000; ++i) {
      out.push_back(line());
      if (out.back().rfind(tag + " ", 0) == 0) return out;
    }
    FAIL("no tagged answer for " << tag);
    return out;
  }
  /// The tagged answer to `tag` (the lines before it are read and dropped).
  std::string tagged(const std::string& tag) { return until(tag).back(); }
  /// Whether `text` is a substring of one of the lines up to the tagged answer to `tag`.
  bool until_contains(const std::string& tag, const std::string& text) {
    for (const auto& l : until(tag)) {
      if (l.find(text) != std::string::npos) return true;
    }
    return false;
  }
  /// The stream ends next: no line before it.
  void expect_eof() {
    auto l = next();
    CHECK_FALSE(l);
  }
};

}  // namespace twinbox::test
