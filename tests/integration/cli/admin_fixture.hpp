#pragma once
// Shared by the tests of the admin commands (status, list, check --json, rename, delete,
// repair): a `twinbox serve` child with users alice (local) and bob (remote), a config for
// them, a direct IMAP session to change a side behind twinbox's back, and the state lock
// held the way another run holds it.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <memory>
#include <string>
#include <vector>

#include <twinbox/client/connect.hpp>
#include <twinbox/net/io.hpp>

#include "man_schema.hpp"
#include "process.hpp"

namespace twinbox::test::admin {

using nlohmann::json;
using namespace std::chrono_literals;

inline bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

/// `twinbox serve` on port 0 with alice and bob, `seed` sample messages each (different).
struct Server {
  explicit Server(std::size_t seed = 8)
      : child({"serve", "--listen", "127.0.0.1:0", "--user", "alice:alice-pw", "--user",
               "bob:bob-pw", "--seed-demo", std::to_string(seed)}) {
    auto line = child.read_line(15s);
    REQUIRE_MESSAGE(line.has_value(), "serve printed no port; stderr: " << child.stderr_text());
    port = static_cast<unsigned short>(std::stoi(*line));
  }
  Child child;
  unsigned short port = 0;
};

/// A temporary directory holding a config for alice (local) and bob (remote) and its state.
struct Account {
  explicit Account(const Server& server, const std::string& extra = "") {
    state = dir.path + "/s.db";
    auto side = [&](const char* name, const char* user) {
      return std::string("[") + name + "]\ntype = imap\ntls = none\nhost = 127.0.0.1\nport = " +
             std::to_string(server.port) + "\nusername = " + user + "\npassword = " + user +
             "-pw\n";
    };
    config = dir.write("c.conf", "state = " + state + "\n" + extra + side("local", "alice") +
                                     side("remote", "bob"));
  }
  /// Runs `twinbox CMD --config <config> ARGS…`.
  ProcessResult run(const std::string& cmd, std::vector<std::string> args = {}) const {
    args.insert(args.begin(), {cmd, "--config", config});
    return run_twinbox(args, std::chrono::seconds(60));
  }
  TempDir dir;
  std::string state;
  std::string config;
};

/// A direct session as one user: changes a side behind twinbox's back.
struct Mail {
  Mail(const Server& server, const std::string& user) {
    client::EndpointOptions ep;
    ep.transport = client::Transport::Plain;
    ep.host = "127.0.0.1";
    ep.port = server.port;
    ep.credentials.username = user;
    ep.credentials.password = user + "-pw";
    auto s = client::connect(ep);
    REQUIRE_MESSAGE(s.has_value(), (s ? std::string() : s.error().message));
    session = std::move(*s);
  }
  ~Mail() { (void)session->wait(session->logout(), net::deadline_in(5s)); }
  static net::Deadline soon() { return net::deadline_in(10s); }

  void create(const std::string& name) {
    REQUIRE(session->wait(session->create(name), soon()).has_value());
  }
  void append(const std::string& mailbox, const std::string& message_id) {
    const std::string body = "From: t@example.org\r\nSubject: " + message_id +
                             "\r\nMessage-ID: <" + message_id + "@test>\r\n\r\nbody of " +
                             message_id + "\r\n";
    std::vector<client::AppendMessage> m(1);
    m[0].data = body;  // alive until the wait below returns
    m[0].internal_date = "01-Mar-2026 10:00:00 +0000";
    REQUIRE(session->wait(session->append(mailbox, m), soon()).has_value());
  }
  /// Wire names of every mailbox.
  std::vector<std::string> names() {
    client::ListOptions lo;
    auto r = session->wait(session->list(lo), soon());
    REQUIRE(r.has_value());
    std::vector<std::string> out;
    for (const auto& e : *r) out.push_back(e.name);
    return out;
  }
  bool has(const std::string& name) {
    for (const auto& n : names()) {
      if (n == name) return true;
    }
    return false;
  }
  std::uint32_t messages(const std::string& mailbox) {
    auto r = session->wait(session->status(mailbox, client::StatusItems{}), soon());
    REQUIRE(r.has_value());
    return r->messages.value_or(0);
  }
  std::unique_ptr<client::Session> session;
};

/// Holds the run lock of a state database the way another twinbox run does.
struct HeldLock {
  explicit HeldLock(const std::string& state) {
    fd = ::open((state + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::flock(fd, LOCK_EX | LOCK_NB) == 0);
  }
  ~HeldLock() { ::close(fd); }
  int fd = -1;
};

/// The single JSON document a command printed on stdout.
inline json parse_one(const ProcessResult& r) {
  auto lines = lines_of(r.out);
  std::vector<std::string> nonempty;
  for (const auto& l : lines) {
    if (!l.empty()) nonempty.push_back(l);
  }
  REQUIRE_MESSAGE(nonempty.size() == 1, "expected one JSON line, got: " << r.out << r.err);
  json j = json::parse(nonempty[0], nullptr, false);
  REQUIRE_MESSAGE(!j.is_discarded(), "not JSON: " << nonempty[0]);
  return j;
}

/// Checks `j` against the object twinbox(1) "JSON OUTPUT" documents for `twinbox COMMAND
/// --json` (read from the man page: man_schema.hpp).
inline void check_documented(const std::string& command, const json& j) {
  const std::string wrong = ManSchema::twinbox1().validate_output(command, j);
  CHECK_MESSAGE(wrong.empty(), wrong << "\n  in " << j.dump());
}

}  // namespace twinbox::test::admin
