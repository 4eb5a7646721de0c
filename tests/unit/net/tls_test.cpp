#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include <twinbox/net/io.hpp>
#include <twinbox/net/tcp.hpp>
#include <twinbox/net/tls.hpp>

#include "test_util.hpp"

using namespace twinbox;
using namespace twinbox::net;
using namespace std::chrono_literals;

namespace {

Deadline soon() { return deadline_in(5s); }

/// Certificates made once per test run by scripts/make-test-ca.sh in a temp dir.
struct TestCerts {
  std::string dir;
  TestCerts() {
    char tmpl[] = "/tmp/twinbox-net-tls-XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    REQUIRE(d != nullptr);
    dir = d;
    std::string cmd = std::string(TWINBOX_SOURCE_DIR) + "/scripts/make-test-ca.sh " + dir + " >/dev/null";
    REQUIRE(std::system(cmd.c_str()) == 0);
  }
  ~TestCerts() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  [[nodiscard]] std::string path(const std::string& name) const { return dir + "/" + name; }
  [[nodiscard]] std::string pin(const std::string& leaf) const {
    std::ifstream in(path(leaf + ".spki-sha256"));
    std::string s;
    std::getline(in, s);
    return s;
  }
};

const TestCerts& certs() {
  static TestCerts c;
  return c;
}

/// An in-process TLS server on 127.0.0.1 presenting `leaf`: accepts one connection,
/// handshakes, then runs `body`. Records whether any application byte arrived.
class TlsServer {
 public:
  using Body = std::function<void(TlsStream&)>;
  TlsServer(const std::string& leaf, Body body) {
    auto l = listen_tcp("127.0.0.1", 0);
    REQUIRE(l);
    port_ = l->port();
    auto ctx = TlsServerContext::load(certs().path(leaf + ".pem"), certs().path(leaf + ".key"));
    REQUIRE_MESSAGE(ctx, test::why(ctx));
    thread_ = std::thread([listener = std::move(*l), ctx = std::move(*ctx), body = std::move(body), this]() mutable {
      auto tcp = listener.accept_wait(soon());
      if (!tcp) return;
      auto tls = ctx.wrap(std::move(*tcp));
      if (!tls) return;
      auto hs = (*tls)->handshake(soon());
      if (!hs) {
        server_error_ = hs.error().message;
        char c;
        auto n = (*tls)->read_some(&c, 1);
        if (n && *n > 0) app_bytes_ = true;
        return;
      }
      handshake_ok_ = true;
      body(**tls);
    });
  }
  ~TlsServer() { join(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] bool handshake_ok() const { return handshake_ok_; }
  [[nodiscard]] bool app_bytes() const { return app_bytes_; }
  [[nodiscard]] const std::string& server_error() const { return server_error_; }

 private:
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> handshake_ok_{false};
  std::atomic<bool> app_bytes_{false};
  std::string server_error_;
};

void echo_lines(TlsStream& s) {
  std::string pending;
  for (;;) {
    auto line = read_line(s, pending, soon());
    if (!line) return;
    if (!write_all(s, "echo " + *line + "\r\n", soon())) return;
  }
}

TlsOptions trusting_ca(std::string host = "localhost") {
  return TlsOptions{.host = std::move(host), .ca_file = certs().path("ca.pem")};
}

void check_round_trip(Stream& s) {
  REQUIRE(write_all(s, "hello\r\n", soon()));
  std::string pending;
  auto line = read_line(s, pending, soon());
  REQUIRE_MESSAGE(line, test::why(line));
  CHECK(*line == "echo hello");
}

/// Connects to a server presenting `leaf` and expects an Errc::Tls refusal, with no
/// application byte reaching the server. Returns the error text.
std::string expect_refused(const std::string& leaf, const TlsOptions& options) {
  TlsServer server(leaf, echo_lines);
  auto s = connect_tls("localhost", server.port(), {.timeout = 5s}, options);
  server.join();
  REQUIRE_FALSE(s);
  CHECK(s.error().code == Errc::Tls);
  CHECK_FALSE(server.handshake_ok());
  CHECK_FALSE(server.app_bytes());
  const std::string& msg = s.error().message;
  CHECK(msg.find("issuer:") != std::string::npos);
  CHECK(msg.find("subject:") != std::string::npos);
  CHECK(msg.find(certs().pin(leaf)) != std::string::npos);
  CHECK(msg.find("tls_fingerprint = " + certs().pin(leaf)) != std::string::npos);
  return msg;
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("tls: verified connection with ca_file, by name and by IP SAN") {
  {
    TlsServer server("server", echo_lines);
    auto s = connect_tls("localhost", server.port(), {.timeout = 5s}, trusting_ca());
    REQUIRE_MESSAGE(s, test::why(s));
    check_round_trip(**s);
    auto* tls = dynamic_cast<TlsStream*>(s->get());
    REQUIRE(tls != nullptr);
    REQUIRE(tls->peer_certificate());
    CHECK(contains(tls->peer_certificate()->subject, "CN=localhost"));
    CHECK(tls->peer_certificate()->spki_sha256 == certs().pin("server"));
    CHECK(contains(tls->session_description(), "TLSv1."));
    CHECK(contains(tls->describe(), "(TLS)"));
    (*s)->close();
  }
  {
    TlsServer server("server", echo_lines);
    auto s = connect_tls("127.0.0.1", server.port(), {.timeout = 5s}, trusting_ca(""));
    REQUIRE_MESSAGE(s, test::why(s));
    check_round_trip(**s);
  }
}

TEST_CASE("tls: refusals happen in the handshake and explain the certificate") {
  SUBCASE("wrong host name") {
    auto msg = expect_refused("wronghost", trusting_ca());
    CHECK(contains(msg, "CN=wrong.example"));
    CHECK(contains(msg, "not valid for \"localhost\""));
  }
  SUBCASE("self-signed") {
    auto msg = expect_refused("selfsigned", trusting_ca());
    CHECK(contains(msg, "self-signed"));
  }
  SUBCASE("expired") {
    auto msg = expect_refused("expired", trusting_ca());
    CHECK(contains(msg, "expired"));
    CHECK(contains(msg, "2002"));
    CHECK(contains(msg, "CN=twinbox test CA"));  // issuer
  }
  SUBCASE("untrusted CA") {
    auto msg = expect_refused("untrusted", trusting_ca());
    CHECK(contains(msg, "CN=twinbox untrusted CA"));
  }
  SUBCASE("system store does not know the test CA") {
    expect_refused("server", TlsOptions{.host = "localhost"});
  }
  SUBCASE("pin mismatch refuses even a valid chain") {
    auto opts = trusting_ca();
    opts.fingerprints = {certs().pin("untrusted")};
    auto msg = expect_refused("server", opts);
    CHECK(contains(msg, "matches no pinned tls_fingerprint"));
  }
}

TEST_CASE("tls: a matching pin accepts an unverifiable certificate") {
  // Pin written the way users paste it: upper case, colon-separated, no prefix.
  std::string hex = certs().pin("selfsigned").substr(7);
  std::string pasted;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    if (!pasted.empty()) pasted += ':';
    pasted += static_cast<char>(std::toupper(hex[i]));
    pasted += static_cast<char>(std::toupper(hex[i + 1]));
  }
  TlsServer server("selfsigned", echo_lines);
  TlsOptions opts{.host = "localhost", .fingerprints = {"sha256:" + std::string(64, 'a'), pasted}};
  auto s = connect_tls("localhost", server.port(), {.timeout = 5s}, opts);
  REQUIRE_MESSAGE(s, test::why(s));
  check_round_trip(**s);
}

TEST_CASE("tls: fingerprint normalization") {
  auto a = normalize_fingerprint("SHA256:" + std::string(64, 'F'));
  REQUIRE(a);
  CHECK(*a == "sha256:" + std::string(64, 'f'));
  CHECK_FALSE(normalize_fingerprint("sha256:abcd"));
  CHECK_FALSE(normalize_fingerprint(std::string(63, 'a') + "g"));
  auto info = certificate_info_from_pem(certs().path("server.pem"));
  REQUIRE(info);
  CHECK(info->spki_sha256 == certs().pin("server"));
  CHECK_FALSE(certificate_info_from_pem(certs().path("missing.pem")));
}

TEST_CASE("tls: STARTTLS upgrade, and refusal of bytes injected before the handshake") {
  auto ctx = TlsServerContext::load(certs().path("server.pem"), certs().path("server.key"));
  REQUIRE(ctx);
  auto listener = listen_tcp("127.0.0.1", 0);
  REQUIRE(listener);
  for (bool inject : {false, true}) {
    CAPTURE(inject);
    std::atomic<bool> server_got_app_data{false};
    std::thread server([&] {
      auto tcp = listener->accept_wait(soon());
      if (!tcp) return;
      if (!write_all(**tcp, "a OK Begin TLS\r\n", soon())) return;
      if (inject && !write_all(**tcp, "* injected\r\n", soon())) return;
      auto tls = ctx->wrap(std::move(*tcp));
      if (!tls || !(*tls)->handshake(soon())) return;
      std::string pending;
      auto line = read_line(**tls, pending, soon());
      if (line) {
        server_got_app_data = true;
        (void)write_all(**tls, "echo " + *line + "\r\n", soon());
      }
    });
    auto tcp = connect_tcp("127.0.0.1", listener->port(), {.timeout = 5s});
    REQUIRE(tcp);
    std::string pending;
    auto ok = read_exact(**tcp, pending, 16, soon());
    REQUIRE(ok);
    CHECK(*ok == "a OK Begin TLS\r\n");
    if (inject) REQUIRE(wait_io(**tcp, false, soon()));  // the injected line has arrived
    auto s = tls_upgrade(std::move(*tcp), trusting_ca(), soon());
    if (inject) {
      REQUIRE_FALSE(s);
      CHECK(s.error().code == Errc::Tls);
      CHECK(contains(s.error().message, "injection"));
    } else {
      REQUIRE_MESSAGE(s, test::why(s));
      check_round_trip(**s);
    }
    s = fail(Errc::Closed, Scope::Connection, "dropped");  // close our end
    server.join();
    CHECK(server_got_app_data == !inject);
  }
}

TEST_CASE("tls: a peer that does not speak TLS gives a clear Errc::Tls") {
  auto listener = listen_tcp("127.0.0.1", 0);
  REQUIRE(listener);
  std::thread server([&] {
    auto tcp = listener->accept_wait(soon());
    if (!tcp) return;
    (void)write_all(**tcp, "* OK IMAP4rev1 ready\r\n", soon());
    std::string pending;
    (void)read_line(**tcp, pending, soon());  // the ClientHello has no newline; ends at close
  });
  auto s = connect_tls("localhost", listener->port(), {.timeout = 5s}, trusting_ca());
  server.join();
  REQUIRE_FALSE(s);
  CHECK(s.error().code == Errc::Tls);
  CHECK(contains(s.error().message, "handshake"));
}

TEST_CASE("tls: large transfer both ways with partial writes") {
  const std::size_t size = 1024 * 1024;
  TlsServer server("server", [&](TlsStream& s) {
    std::string pending;
    auto data = read_exact(s, pending, size, soon());
    if (data) (void)write_all(s, *data, soon());
  });
  auto s = connect_tls("localhost", server.port(), {.timeout = 5s}, trusting_ca());
  REQUIRE_MESSAGE(s, test::why(s));
  std::string big(size, '\0');
  for (std::size_t i = 0; i < size; ++i) big[i] = static_cast<char>('a' + (i * 7919) % 26);
  // Write in a background-free way: interleave writing and reading so neither side's
  // socket buffer deadlocks the other.
  std::string got, pending;
  std::size_t sent = 0;
  const Deadline end = soon();
  while (got.size() < size) {
    if (sent < size) {
      auto n = (*s)->write_some(big.data() + sent, size - sent);
      REQUIRE(n);
      sent += *n;
    }
    auto f = (*s)->flush();
    REQUIRE(f);
    char buf[16384];
    auto r = (*s)->read_some(buf, sizeof buf);
    REQUIRE_MESSAGE(r, test::why(r));
    got.append(buf, *r);
    if (*r == 0) REQUIRE(wait_io(**s, sent < size || !*f, end));
  }
  CHECK(got == big);
}
