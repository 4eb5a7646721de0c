// twinbox watch against two private Dovecot instances: latency of APPEND / flag change /
// expunge (NOTIFY), Dovecot stopped and started again during watch (same ports), a stalled
// Dovecot (SIGSTOP) found by the watchdog and recovered after SIGCONT, and `twinbox watch`
// leaving with status 0 on SIGTERM and reloading its config file on SIGHUP.

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

/// `twinbox watch --verbose --config FILE` as a child process with its output in a file;
/// killed (SIGKILL) when destroyed if it is still running. Every wait is bounded.
class WatchChild {
 public:
  WatchChild(const std::string& conf, std::string log) : log_(std::move(log)) {
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(fd, 2);
      ::dup2(fd, 1);
      ::execl(TWINBOX_BINARY, TWINBOX_BINARY, "watch", "--verbose", "--config", conf.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~WatchChild() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  WatchChild(const WatchChild&) = delete;
  WatchChild& operator=(const WatchChild&) = delete;

  [[nodiscard]] std::string output() const {
    std::ifstream in(log_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  /// Until `done()` holds or the child exits; short bounded waits between looks.
  bool wait_for(const std::function<bool()>& done, std::chrono::seconds bound) {
    auto deadline = WatchClock::now() + bound;
    while (WatchClock::now() < deadline) {
      if (done()) return true;
      if (pid_ > 0 && ::waitpid(pid_, &status_, WNOHANG) == pid_) {
        pid_ = -1;
        return done();
      }
      ::poll(nullptr, 0, 50);
    }
    return false;
  }
  bool wait_output(const std::string& text, std::chrono::seconds bound) {
    return wait_for([&] { return output().find(text) != std::string::npos; }, bound);
  }
  void signal(int sig) { REQUIRE(::kill(pid_, sig) == 0); }
  /// Waits for the exit; returns the wait status, or nullopt at the bound.
  std::optional<int> wait_exit(std::chrono::seconds bound) {
    if (!wait_for([&] { return pid_ < 0; }, bound)) return std::nullopt;
    return status_;
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
  int status_ = 0;
};

std::string write_config(Pair& p, const std::string& extra) {
  std::string conf = p.dir.file("watch.conf");
  {
    std::ofstream f(conf);
    f << "state = " << p.dir.file("state.db") << "\n" << extra
      << "type = imap\ntls = none\nhost = 127.0.0.1\npassword = secret\n"
      << "[local]\nport = " << p.local->endpoint().port << "\nusername = " << p.local->user()
      << "\n[remote]\nport = " << p.remote->endpoint().port << "\nusername = "
      << p.remote->user() << "\n";
  }
  ::chmod(conf.c_str(), 0600);
  return conf;
}

TEST_CASE("watch: `twinbox watch` exits 0 on SIGTERM") {
  Pair p;
  WatchChild child(write_config(p, ""), p.dir.file("watch.log"));
  REQUIRE_MESSAGE(child.wait_for([&] {
    std::string text = child.output();
    return text.find("remote: watching") != std::string::npos &&
           text.find("local: watching") != std::string::npos;
  }, std::chrono::seconds(30)), child.output());
  child.signal(SIGTERM);
  auto status = child.wait_exit(std::chrono::seconds(20));
  REQUIRE_MESSAGE(status.has_value(), child.output());
  CHECK(WIFEXITED(*status));
  CHECK_MESSAGE(WEXITSTATUS(*status) == 0, child.output());
  CHECK(child.output().find("watch: stopping") != std::string::npos);
}

TEST_CASE("watch: SIGHUP reloads the config file (a wider mailbox pattern takes effect)") {
  Pair p;
  p.ra.append("INBOX", make_message("hup-inbox"));
  p.ra.append("Sent", make_message("hup-sent"));
  // Only INBOX at first.
  std::string conf = write_config(p, "mailboxes = INBOX\n");
  WatchChild child(conf, p.dir.file("watch.log"));
  REQUIRE_MESSAGE(child.wait_for([&] { return p.la.find("INBOX", "hup-inbox").has_value(); },
                                 std::chrono::seconds(30)),
                  child.output());
  CHECK_FALSE(p.la.find("Sent", "hup-sent").has_value());
  REQUIRE(child.wait_output("watching both sides", std::chrono::seconds(10)));
  write_config(p, "mailboxes = INBOX, Sent\n");
  child.signal(SIGHUP);
  REQUIRE_MESSAGE(child.wait_output("config reloaded", std::chrono::seconds(10)), child.output());
  REQUIRE_MESSAGE(child.wait_for([&] { return p.la.find("Sent", "hup-sent").has_value(); },
                                 std::chrono::seconds(20)),
                  child.output());
  // And the new pattern keeps working for events after the reload.
  p.ra.append("Sent", make_message("hup-sent-2"));
  REQUIRE_MESSAGE(child.wait_for([&] { return p.la.find("Sent", "hup-sent-2").has_value(); },
                                 std::chrono::seconds(20)),
                  child.output());
  // A broken config on SIGHUP keeps the old one running.
  {
    std::ofstream f(conf, std::ios::app);
    f << "no_such_key = 1\n";
  }
  child.signal(SIGHUP);
  REQUIRE_MESSAGE(child.wait_output("config reload failed", std::chrono::seconds(10)), child.output());
  p.ra.append("INBOX", make_message("hup-after-bad"));
  REQUIRE_MESSAGE(child.wait_for([&] { return p.la.find("INBOX", "hup-after-bad").has_value(); },
                                 std::chrono::seconds(20)),
                  child.output());
  child.signal(SIGTERM);
  auto status = child.wait_exit(std::chrono::seconds(20));
  REQUIRE_MESSAGE(status.has_value(), child.output());
  CHECK_MESSAGE(WEXITSTATUS(*status) == 0, child.output());
  CHECK(same_mail(p.la, p.ra));
}

}  // namespace twinbox::test
