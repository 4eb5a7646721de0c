// twinbox watch against two embedded servers (in process, port 0): latency of APPEND / flag
// change / expunge from one side to the other with NOTIFY and with IDLE only, a server
// stopped and restarted (same port, same SQLite file) while watching, and a suspend reported
// through the injected clock.

#include <atomic>
#include <memory>

#include <doctest/doctest.h>

#include <twinbox/server/server.hpp>

#include "watch_fixture.hpp"

namespace twinbox::test {
namespace {

/// An embedded server that can be stopped and started again on the same port and database.
class RestartableServer {
 public:
  explicit RestartableServer(std::string db) : db_(std::move(db)) { start(); }
  ~RestartableServer() { stop(); }

  void start() {
    server::Options o;
    o.port = port_;
    o.listen_host = "127.0.0.1";
    o.db_path = db_;
    o.users = {{"alice", "secret"}};
    o.limits.auth_fail_delay_ms = 0;
    auto srv = server::Server::create(o);
    REQUIRE_MESSAGE(srv.has_value(), (srv ? std::string() : srv.error().message));
    server_ = std::move(*srv);
    auto port = server_->start();
    REQUIRE_MESSAGE(port.has_value(), (port ? std::string() : port.error().message));
    port_ = *port;
    server::Server* raw = server_.get();
    thread_ = std::thread([raw] { (void)raw->run(); });
  }
  void stop() {
    if (!server_) return;
    server_->stop();
    thread_.join();
    server_.reset();
  }
  server::Server& get() { return *server_; }
  [[nodiscard]] client::EndpointOptions endpoint() const {
    client::EndpointOptions o;
    o.transport = client::Transport::Plain;
    o.host = "127.0.0.1";
    o.port = port_;
    o.credentials.username = "alice";
    o.credentials.password = "secret";
    o.send_id = false;
    return o;
  }

  /// How many messages of INBOX carry Message-ID <id@twinbox.test>.
  std::size_t count(const std::string& id) {
    auto msgs = server_->messages("alice", "INBOX");
    REQUIRE(msgs.has_value());
    std::size_t n = 0;
    for (const auto& m : *msgs) {
      auto body = server_->message_body("alice", "INBOX", m.uid);
      REQUIRE(body.has_value());
      if (body->find("<" + id + "@twinbox.test>") != std::string::npos) ++n;
    }
    return n;
  }

 private:
  std::string db_;
  std::uint16_t port_ = 0;
  std::unique_ptr<server::Server> server_;
  std::thread thread_;
};

void latency_case(const std::set<std::string>& disabled, const std::string& tag, int n) {
  TempDir dir;
  server::Options so;
  so.disabled = disabled;
  auto local = TestServer::embedded(so);
  auto remote = TestServer::embedded(so);
  Account la(*local), ra(*remote);
  // New mail enters the embedded servers through their store API (as a delivery would).
  auto deliver = [&](Side side, const std::string& id) {
    auto& srv = side == Side::Local ? *local->embedded_server() : *remote->embedded_server();
    REQUIRE(srv.append_message("alice", "INBOX", make_message(id)).has_value());
  };
  deliver(Side::Local, "seed-local");
  deliver(Side::Remote, "seed-remote");
  WatchRun w(test_watch_options(engine_options(*local, *remote, dir.file("state.db"))));
  REQUIRE_MESSAGE(w.wait_ready(), w.log_text());
  CHECK(la.find("INBOX", "seed-remote").has_value());
  CHECK(ra.find("INBOX", "seed-local").has_value());
  measure_latencies(w, la, ra, tag, n, deliver);
  CHECK(same_mail(la, ra));
  auto st = w.stop();
  CHECK_MESSAGE(st.has_value(), (st ? std::string() : st.error().message));
  CHECK_MESSAGE(w.failed_rounds() == 0, w.log_text());
}

}  // namespace

TEST_CASE("watch: embedded servers with NOTIFY: changes cross both ways") {
  latency_case({}, "embedded NOTIFY", 10);
}

TEST_CASE("watch: embedded servers without NOTIFY: IDLE carries the changes") {
  latency_case({"NOTIFY"}, "embedded IDLE", 4);
}

TEST_CASE("watch: embedded server stopped and restarted during watch converges") {
  TempDir dir;
  RestartableServer local(dir.file("local.sqlite"));
  auto remote = TestServer::embedded();
  Account ra(*remote);
  REQUIRE(remote->embedded_server()->append_message("alice", "INBOX", make_message("before")).has_value());
  auto engine = engine_options(*remote, *remote, dir.file("state.db"));
  engine.endpoints[Side::Local] = local.endpoint();
  engine.endpoints[Side::Local].connect_timeout = std::chrono::seconds(5);
  WatchRun w(test_watch_options(engine));
  REQUIRE_MESSAGE(w.wait_ready(), w.log_text());
  CHECK(local.count("before") == 1);

  local.stop();
  REQUIRE_MESSAGE(w.wait_log("local: connection lost", milliseconds(10'000)), w.log_text());
  REQUIRE(remote->embedded_server()->append_message("alice", "INBOX", make_message("during-outage")).has_value());
  auto watching = w.watching();
  local.start();
  REQUIRE_MESSAGE(w.wait([&] { return w.watching_unlocked() > watching; }, milliseconds(15'000)),
                  w.log_text());
  auto t0 = WatchClock::now();
  auto d = w.wait_arrival([&] { return local.count("during-outage") == 1; }, t0,
                          milliseconds(15'000));
  REQUIRE_MESSAGE(d.has_value(), w.log_text());

  // Both ways still work after the restart, and nothing came twice.
  REQUIRE(local.get().append_message("alice", "INBOX", make_message("after-restart")).has_value());
  d = w.wait_arrival([&] { return ra.find("INBOX", "after-restart").has_value(); },
                     WatchClock::now(), milliseconds(10'000));
  REQUIRE_MESSAGE(d.has_value(), w.log_text());
  for (const char* id : {"before", "during-outage", "after-restart"}) {
    CHECK_MESSAGE(local.count(id) == 1, id);
    CHECK_MESSAGE(ra.find("INBOX", id).has_value(), id);  // find() REQUIREs at most one
  }
  auto st = w.stop();
  CHECK_MESSAGE(st.has_value(), (st ? std::string() : st.error().message));
}

TEST_CASE("watch: a suspend reported by the (injected) clock forces reconnects and a full pass") {
  TempDir dir;
  server::Options so;
  so.disabled = {"NOTIFY"};  // IDLE on INBOX only: a change in Archive raises no event
  auto local = TestServer::embedded(so);
  auto remote = TestServer::embedded(so);
  Account la(*local), ra(*remote);
  auto suspended = std::make_shared<std::atomic<long long>>(0);
  auto o = test_watch_options(engine_options(*local, *remote, dir.file("state.db")));
  o.suspended_clock = [suspended] { return milliseconds(suspended->load()); };
  ra.create("Archive");  // paired by the first round
  WatchRun w(o);
  REQUIRE_MESSAGE(w.wait_ready(), w.log_text());
  auto& rs = *remote->embedded_server();
  REQUIRE(rs.append_message("alice", "Archive", make_message("while-asleep")).has_value());
  REQUIRE(rs.append_message("alice", "INBOX", make_message("marker")).has_value());
  auto d = w.wait_arrival([&] { return la.find("INBOX", "marker").has_value(); }, WatchClock::now(),
                          milliseconds(10'000));
  REQUIRE_MESSAGE(d.has_value(), w.log_text());
  // The IDLE event named INBOX only, so Archive was not synced.
  REQUIRE_FALSE(la.find("Archive", "while-asleep").has_value());
  REQUIRE_FALSE(w.had_full_round("resume after suspend"));

  auto watching = w.watching();
  suspended->fetch_add(3'600'000);  // an hour of suspend, as CLOCK_BOOTTIME would show it
  REQUIRE_MESSAGE(w.wait_log("resumed after 3600.0 s of suspend", milliseconds(10'000)), w.log_text());
  d = w.wait_arrival([&] { return la.find("Archive", "while-asleep").has_value(); }, WatchClock::now(),
                     milliseconds(15'000));
  REQUIRE_MESSAGE(d.has_value(), w.log_text());
  CHECK(w.had_full_round("resume after suspend"));
  CHECK_MESSAGE(w.watching() > watching, "the watch connections were not re-established\n" << w.log_text());
  // Below the threshold nothing happens.
  suspended->fetch_add(o.suspend_threshold.count() / 2);
  REQUIRE(rs.append_message("alice", "INBOX", make_message("after")).has_value());
  d = w.wait_arrival([&] { return la.find("INBOX", "after").has_value(); }, WatchClock::now(),
                     milliseconds(10'000));
  REQUIRE_MESSAGE(d.has_value(), w.log_text());
  CHECK(w.log_text().find("resumed after " + std::to_string(o.suspend_threshold.count() / 2000)) ==
        std::string::npos);
  CHECK(same_mail(la, ra));
  CHECK(w.stop().has_value());
}

}  // namespace twinbox::test
