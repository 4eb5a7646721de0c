// twinbox watch against two private Dovecot instances: latency of APPEND / flag change /
// expunge (NOTIFY), Dovecot stopped and started again during watch (same ports), a stalled
// Dovecot (SIGSTOP) found by the watchdog and recovered after SIGCONT, and `twinbox watch`
// leaving with status 0 on SIGTERM.

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <twinbox/net/tcp.hpp>

#include "watch_fixture.hpp"

namespace twinbox::test {
namespace {

int read_pid(const std::string& file) {
  std::ifstream in(file);
  int pid = 0;
  in >> pid;
  return pid;
}

/// Signals Dovecot's whole process group (master daemonizes with setsid; imap children stay).
void signal_dovecot(DovecotInstance& dc, int sig) {
  int pid = read_pid(dc.dir() + "/dovecot.pid");
  REQUIRE(pid > 0);
  REQUIRE(::kill(-pid, sig) == 0);
}

/// Starts Dovecot again from the instance's own config (same ports, same mail), and kills it
/// (its process group) when destroyed, before the instance's directory goes away.
class Restarted {
 public:
  explicit Restarted(DovecotInstance& dc) : dir_(dc.dir()) {
    std::string cmd = "/usr/sbin/dovecot -c " + dc.config_file() + " </dev/null >/dev/null 2>&1";
    REQUIRE(std::system(cmd.c_str()) == 0);
  }
  ~Restarted() {
    int pid = read_pid(dir_ + "/run/master.pid");
    if (pid > 0) ::kill(-pid, SIGKILL);
  }
  Restarted(const Restarted&) = delete;
  Restarted& operator=(const Restarted&) = delete;

 private:
  std::string dir_;
};

/// A private Dovecot instance (user alice) for tests that stop or stall the server; the
/// shared instance of TestServer::dovecot() must keep running for the other tests.
struct PrivateDovecot {
  DovecotInstance dc;
  static PrivateDovecot start() {
    auto d = DovecotInstance::start();
    REQUIRE_MESSAGE(d.has_value(), (d ? std::string() : d.error().message));
    return PrivateDovecot{std::move(*d)};
  }
  [[nodiscard]] client::EndpointOptions endpoint() const {
    client::EndpointOptions o;
    o.transport = client::Transport::Plain;
    o.host = dc.host();
    o.port = dc.imap_port();
    o.credentials.username = "alice";
    o.credentials.password = "secret";
    o.send_id = false;
    return o;
  }
  /// Delivers a message with doveadm save (no IMAP involved).
  void deliver(const std::string& id, const std::string& scratch) {
    {
      std::ofstream f(scratch, std::ios::binary);
      f << make_message(id);
    }
    std::string cmd = dovecot_script() + " doveadm " + dc.dir() + " save -u alice -m INBOX < " +
                      scratch;
    REQUIRE(std::system(cmd.c_str()) == 0);
  }
  /// How many messages of INBOX carry Message-ID <id@twinbox.test> (doveadm search).
  std::size_t count(const std::string& id) {
    auto out = dc.doveadm({"search", "-u", "alice", "mailbox", "INBOX", "header", "Message-ID",
                           "<" + id + "@twinbox.test>"});
    REQUIRE_MESSAGE(out.has_value(), (out ? std::string() : out.error().message));
    return static_cast<std::size_t>(std::count(out->begin(), out->end(), '\n'));
  }
};

struct Pair {
  TempDir dir;
  std::unique_ptr<TestServer> local = TestServer::dovecot();
  std::unique_ptr<TestServer> remote = TestServer::dovecot();
  Account la{*local}, ra{*remote};
  sync::WatchOptions options() {
    return test_watch_options(engine_options(*local, *remote, dir.file("state.db")));
  }
};

}  // namespace

TEST_CASE("watch: two Dovecots with NOTIFY: changes cross both ways; latencies") {
  Pair p;
  p.la.append("INBOX", make_message("seed-local"));
  p.ra.append("Sent", make_message("seed-remote-sent"));
  WatchRun w(p.options());
  REQUIRE_MESSAGE(w.wait_ready(), w.log_text());
  CHECK(p.ra.find("INBOX", "seed-local").has_value());
  CHECK(p.la.find("Sent", "seed-remote-sent").has_value());
  CHECK(w.log_text().find("(NOTIFY)") != std::string::npos);
  measure_latencies(w, p.la, p.ra, "dovecot NOTIFY", 10);
  CHECK(same_mail(p.la, p.ra));
  auto st = w.stop();
  CHECK_MESSAGE(st.has_value(), (st ? std::string() : st.error().message));
  CHECK_MESSAGE(w.failed_rounds() == 0, w.log_text());
}

TEST_CASE("watch: two Dovecots, IDLE and polling only") {
  Pair p;
  auto o = p.options();
  o.use_notify = false;
  o.idle_connections = 1;  // INBOX and Sent
  WatchRun w(o);
  REQUIRE_MESSAGE(w.wait_ready(), w.log_text());
  CHECK(w.log_text().find("IDLE on INBOX Sent") != std::string::npos);
  measure_latencies(w, p.la, p.ra, "dovecot IDLE", 4);
  auto t0 = WatchClock::now();
  p.ra.append("Sent", make_message("idle-sent"));
  auto d = w.wait_arrival([&] { return p.la.find("Sent", "idle-sent").has_value(); }, t0,
                          milliseconds(10'000));
  REQUIRE_MESSAGE(d.has_value(), w.log_text());
  CHECK(same_mail(p.la, p.ra));
  CHECK(w.stop().has_value());
}

TEST_CASE("watch: Dovecot stopped and started again during watch converges without duplicates") {
  TempDir dir;
  auto local = PrivateDovecot::start();
  auto remote = TestServer::dovecot();
  Account ra(*remote);
  local.deliver("before", dir.file("m"));
  auto engine = engine_options(*remote, *remote, dir.file("state.db"));
  engine.endpoints[Side::Local] = local.endpoint();
  WatchRun w(test_watch_options(engine));
  REQUIRE_MESSAGE(w.wait_ready(), w.log_text());
  REQUIRE(ra.find("INBOX", "before").has_value());

  REQUIRE(local.dc.stop().has_value());
  REQUIRE_MESSAGE(w.wait_log("local: connection lost", milliseconds(10'000)), w.log_text());
  ra.append("INBOX", make_message("during-outage"));
  auto watching = w.watching();
  Restarted again(local.dc);
  REQUIRE_MESSAGE(w.wait([&] { return w.watching_unlocked() > watching; }, milliseconds(20'000)),
                  w.log_text());
  auto d = w.wait_arrival([&] { return local.count("during-outage") == 1; }, WatchClock::now(),
                          milliseconds(15'000));
  REQUIRE_MESSAGE(d.has_value(), w.log_text());
  local.deliver("after", dir.file("m"));
  d = w.wait_arrival([&] { return ra.find("INBOX", "after").has_value(); }, WatchClock::now(),
                     milliseconds(10'000));
  REQUIRE_MESSAGE(d.has_value(), w.log_text());
  for (const char* id : {"before", "during-outage", "after"}) {
    CHECK_MESSAGE(local.count(id) == 1, id);
    CHECK_MESSAGE(ra.find("INBOX", id).has_value(), id);  // find() REQUIREs at most one
  }
  CHECK(w.stop().has_value());
}

TEST_CASE("watch: a stalled Dovecot (SIGSTOP) is found by the watchdog and recovered") {
  TempDir dir;
  auto local = PrivateDovecot::start();
  auto remote = TestServer::dovecot();
  Account ra(*remote);
  auto engine = engine_options(*remote, *remote, dir.file("state.db"));
  engine.endpoints[Side::Local] = local.endpoint();
  WatchRun w(test_watch_options(engine));
  REQUIRE_MESSAGE(w.wait_ready(), w.log_text());
  signal_dovecot(local.dc, SIGSTOP);
  bool found = w.wait_log("local: connection lost", milliseconds(15'000));
  signal_dovecot(local.dc, SIGCONT);
  REQUIRE_MESSAGE(found, w.log_text());
  ra.append("INBOX", make_message("after-stall"));
  auto d = w.wait_arrival([&] { return local.count("after-stall") == 1; }, WatchClock::now(),
                          milliseconds(20'000));
  REQUIRE_MESSAGE(d.has_value(), w.log_text());
  CHECK(w.stop().has_value());
}

TEST_CASE("watch: `twinbox watch` exits 0 on SIGTERM") {
  Pair p;
  std::string conf = p.dir.file("watch.conf");
  {
    std::ofstream f(conf);
    f << "state = " << p.dir.file("state.db") << "\n"
      << "type = imap\ntls = none\nhost = 127.0.0.1\npassword = secret\n"
      << "[local]\nport = " << p.local->endpoint().port << "\nusername = " << p.local->user()
      << "\n[remote]\nport = " << p.remote->endpoint().port << "\nusername = "
      << p.remote->user() << "\n";
  }
  ::chmod(conf.c_str(), 0600);
  std::string log = p.dir.file("watch.log");
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, 2);
    ::dup2(fd, 1);
    ::execl(TWINBOX_BINARY, TWINBOX_BINARY, "watch", "--verbose", "--config", conf.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Ready when the log says both sides are watching and the first round ran (bounded).
  auto read_log = [&] {
    std::ifstream in(log);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  auto deadline = WatchClock::now() + std::chrono::seconds(30);
  bool ready = false;
  int status = 0;
  while (WatchClock::now() < deadline) {
    std::string text = read_log();
    if (text.find("remote: watching") != std::string::npos &&
        text.find("local: watching") != std::string::npos) {
      ready = true;
      break;
    }
    if (::waitpid(child, &status, WNOHANG) == child) break;
    // A short bounded wait on the child between looks at its log.
    ::poll(nullptr, 0, 50);
  }
  REQUIRE_MESSAGE(ready, read_log());
  REQUIRE(::kill(child, SIGTERM) == 0);
  deadline = WatchClock::now() + std::chrono::seconds(20);
  bool exited = false;
  while (WatchClock::now() < deadline) {
    if (::waitpid(child, &status, WNOHANG) == child) {
      exited = true;
      break;
    }
    ::poll(nullptr, 0, 20);
  }
  if (!exited) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
  }
  REQUIRE_MESSAGE(exited, read_log());
  CHECK(WIFEXITED(status));
  CHECK_MESSAGE(WEXITSTATUS(status) == 0, read_log());
  CHECK(read_log().find("watch: stopping") != std::string::npos);
}

}  // namespace twinbox::test
