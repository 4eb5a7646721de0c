// Smoke test of the private Dovecot harness (tests/support/dovecot.hpp, scripts/dovecot.sh):
// plain IMAP over a raw socket, STARTTLS and imaps verified against the test CA with
// `openssl s_client`, the PREAUTH tunnel command and doveadm. Everything else in
// tests/integration builds on these working.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <doctest/doctest.h>

#include "support/dovecot.hpp"

namespace {

using twinbox::test::DovecotInstance;

constexpr int kLineTimeoutMs = 5000;

/// A blocking-free line reader over a plain TCP socket: every read waits at most 5 s.
class RawImap {
 public:
  explicit RawImap(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = fd_ >= 0 &&
                 ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawImap() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  RawImap(const RawImap&) = delete;
  RawImap& operator=(const RawImap&) = delete;

  [[nodiscard]] bool connected() const { return connected_; }

  bool send(const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

  /// One line without CRLF; "<timeout>" or "<eof>" when none arrives.
  std::string line() {
    for (;;) {
      const auto eol = buf_.find("\r\n");
      if (eol != std::string::npos) {
        std::string l = buf_.substr(0, eol);
        buf_.erase(0, eol + 2);
        transcript_ += "S: " + l + "\n";
        return l;
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, kLineTimeoutMs) <= 0) {
        return "<timeout>";
      }
      char tmp[4096];
      const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) {
        return "<eof>";
      }
      buf_.append(tmp, static_cast<std::size_t>(n));
    }
  }

  /// Sends `tag command`, collects the untagged lines until the tagged reply, returns it.
  std::string command(const std::string& tag, const std::string& cmd,
                      std::string* untagged = nullptr) {
    transcript_ += "C: " + tag + " " + cmd + "\n";
    if (!send(tag + " " + cmd + "\r\n")) {
      return "<send failed>";
    }
    return until_tagged(tag, untagged);
  }

  std::string until_tagged(const std::string& tag, std::string* untagged = nullptr) {
    for (;;) {
      std::string l = line();
      if (l.rfind(tag + " ", 0) == 0 || l.front() == '<') {
        return l;
      }
      if (untagged != nullptr) {
        *untagged += l + "\n";
      }
    }
  }

  [[nodiscard]] const std::string& transcript() const { return transcript_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
  std::string transcript_;
};

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

/// Runs a shell command (bounded by `timeout` inside it), returns exit status and output.
int run_shell(const std::string& cmd, std::string& output) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) {
    return -1;
  }
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) {
    output.append(buf.data(), n);
  }
  const int status = ::pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string s_client(std::uint16_t port, const std::string& extra) {
  return "timeout 15 openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
         " -verify_return_error " + extra + " </dev/null";
}

/// One instance shared by the test cases below (starting one costs about a second); stopped
/// at exit by its destructor, or by its watcher if the process dies.
DovecotInstance& shared_instance() {
  static auto instance = DovecotInstance::start();
  REQUIRE_MESSAGE(instance.has_value(), instance.error());
  return *instance;
}

}  // namespace

TEST_CASE("dovecot harness: LOGIN, LIST, SELECT, APPEND with a literal, FETCH, LOGOUT") {
  DovecotInstance& dc = shared_instance();
  RawImap c(dc.imap_port());
  REQUIRE(c.connected());
  const std::string greeting = c.line();
  INFO("transcript:\n", c.transcript(), "log:\n", dc.log());
  CHECK(starts_with(greeting, "* OK"));
  CHECK(greeting.find("STARTTLS") != std::string::npos);

  CHECK(starts_with(c.command("a1", "LOGIN alice secret"), "a1 OK"));

  std::string list;
  CHECK(starts_with(c.command("a2", "LIST \"\" \"*\"", &list), "a2 OK"));
  CHECK(list.find("\\Drafts) \"/\" Drafts") != std::string::npos);
  CHECK(list.find("\\Sent) \"/\" Sent") != std::string::npos);
  CHECK(list.find("\\Trash) \"/\" Trash") != std::string::npos);
  CHECK(list.find("\\Junk) \"/\" Junk") != std::string::npos);
  CHECK(list.find("\\Archive) \"/\" Archive") != std::string::npos);
  CHECK(list.find(" INBOX") != std::string::npos);

  std::string caps;
  CHECK(starts_with(c.command("a3", "CAPABILITY", &caps), "a3 OK"));
  for (const char* cap : {"QRESYNC", "CONDSTORE", "NOTIFY", "COMPRESS=DEFLATE", "SPECIAL-USE",
                          "UIDPLUS", "MOVE", "LIST-STATUS"}) {
    CHECK_MESSAGE(caps.find(cap) != std::string::npos, cap);
  }

  std::string select;
  CHECK(starts_with(c.command("a4", "SELECT INBOX", &select), "a4 OK [READ-WRITE]"));
  CHECK(select.find("* 0 EXISTS") != std::string::npos);

  const std::string message =
      "From: alice@example.org\r\nTo: bob@example.org\r\nSubject: smoke\r\n\r\nhello dovecot\r\n";
  // A synchronizing literal: wait for the continuation before sending the bytes.
  REQUIRE(c.send("a5 APPEND INBOX (\\Seen) {" + std::to_string(message.size()) + "}\r\n"));
  CHECK(starts_with(c.line(), "+"));
  REQUIRE(c.send(message + "\r\n"));
  std::string fetch;
  const std::string appended = c.until_tagged("a5", &fetch);
  CHECK(starts_with(appended, "a5 OK [APPENDUID "));
  CHECK(starts_with(c.command("a6", "NOOP", &fetch), "a6 OK"));
  // Dovecot announces the new message during APPEND or at the latest on NOOP.
  CHECK(fetch.find("* 1 EXISTS") != std::string::npos);
  fetch.clear();
  CHECK(starts_with(c.command("a7", "UID FETCH 1:* (FLAGS RFC822.SIZE BODY.PEEK[])", &fetch),
                    "a7 OK"));
  CHECK(fetch.find("\\Seen") != std::string::npos);
  CHECK(fetch.find("RFC822.SIZE " + std::to_string(message.size())) != std::string::npos);
  CHECK(fetch.find("hello dovecot") != std::string::npos);

  CHECK(starts_with(c.command("a8", "LOGOUT"), "a8 OK"));

  auto status = dc.doveadm({"mailbox", "status", "-u", "alice", "messages", "INBOX"});
  REQUIRE_MESSAGE(status.has_value(), status.error());
  CHECK(status->find("messages=1") != std::string::npos);
}

TEST_CASE("dovecot harness: a wrong password is refused") {
  DovecotInstance& dc = shared_instance();
  RawImap c(dc.imap_port());
  REQUIRE(c.connected());
  CHECK(starts_with(c.line(), "* OK"));
  CHECK(starts_with(c.command("b1", "LOGIN alice wrong"), "b1 NO"));
}

TEST_CASE("dovecot harness: STARTTLS and imaps verify against the test CA, and only against it") {
  DovecotInstance& dc = shared_instance();
  std::string out;
  INFO("openssl output:\n", out);
  CHECK(run_shell(s_client(dc.imap_port(),
                           "-starttls imap -verify_hostname localhost -CAfile " + dc.ca_file()),
                  out) == 0);
  CHECK(out.find("Verify return code: 0 (ok)") != std::string::npos);
  out.clear();
  CHECK(run_shell(s_client(dc.imaps_port(), "-verify_ip 127.0.0.1 -CAfile " + dc.ca_file()),
                  out) == 0);
  CHECK(out.find("Verify return code: 0 (ok)") != std::string::npos);
  // Without the test CA the same handshake must fail: the check above means something.
  out.clear();
  CHECK(run_shell(s_client(dc.imaps_port(), "-CApath /nonexistent -CAfile /dev/null"), out) !=
        0);
  CHECK(out.find("Verify return code: 0 (ok)") == std::string::npos);
}

TEST_CASE("dovecot harness: another test certificate can be served (TLS negatives)") {
  twinbox::test::DovecotOptions options;
  options.certificate = "expired";
  auto started = DovecotInstance::start(options);
  REQUIRE_MESSAGE(started.has_value(), started.error());
  std::string out;
  INFO("openssl output:\n", out);
  CHECK(run_shell(s_client(started->imaps_port(), "-CAfile " + started->ca_file()), out) != 0);
  CHECK(out.find("certificate has expired") != std::string::npos);
}

TEST_CASE("dovecot harness: the tunnel command greets with PREAUTH, an unknown user gets none") {
  DovecotInstance& dc = shared_instance();
  std::string out;
  INFO("output:\n", out);
  CHECK(run_shell("printf 'x1 LOGOUT\\r\\n' | timeout 15 " + dc.tunnel_command("bob"), out) == 0);
  CHECK(starts_with(out, "* PREAUTH "));
  CHECK(out.find("Logged in as bob") != std::string::npos);
  CHECK(out.find("x1 OK") != std::string::npos);
  out.clear();
  CHECK(run_shell("printf 'x1 LOGOUT\\r\\n' | timeout 15 " + dc.tunnel_command("nosuchuser"),
                  out) != 0);
  CHECK(out.find("PREAUTH") == std::string::npos);
}

TEST_CASE("dovecot harness: stop is prompt and idempotent") {
  auto started = DovecotInstance::start();
  REQUIRE_MESSAGE(started.has_value(), started.error());
  DovecotInstance& dc = *started;
  CHECK(dc.host() == "127.0.0.1");
  CHECK(dc.imap_port() != dc.imaps_port());
  const auto before = std::chrono::steady_clock::now();
  const auto stopped = dc.stop();
  CHECK_MESSAGE(stopped.has_value(), (stopped ? "" : stopped.error().message));
  CHECK(std::chrono::steady_clock::now() - before < std::chrono::seconds(10));
  CHECK(dc.stop().has_value());
  RawImap c(dc.imap_port());
  CHECK_FALSE(c.connected());
}

TEST_CASE("dovecot harness: a test process that dies without destructors leaves no Dovecot") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(fds[0]);
    auto started = DovecotInstance::start();
    std::string report = started ? started->dir() + " " + std::to_string(started->imap_port())
                                 : "error " + started.error().message;
    (void)!::write(fds[1], report.data(), report.size());
    ::_exit(0);  // like a crash: no destructors run
  }
  ::close(fds[1]);
  std::string report;
  char buf[512];
  ssize_t n = 0;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) {
    report.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  INFO("child reported: ", report);
  REQUIRE(report.rfind("error ", 0) != 0);
  const std::string dir = report.substr(0, report.find(' '));
  const auto port = static_cast<std::uint16_t>(std::stoul(report.substr(report.find(' ') + 1)));
  // The watcher stops Dovecot and removes the directory; wait for that, bounded.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  struct stat st {};
  while (::stat(dir.c_str(), &st) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(::stat(dir.c_str(), &st) != 0);
  RawImap c(port);
  CHECK_FALSE(c.connected());
}
