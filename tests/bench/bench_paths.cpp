// Bytes and round trips of a sync on each delta-reader path (issue 6), run by
// scripts/bench-paths.sh. Two embedded servers in this process (SQLite in memory, real TCP on
// 127.0.0.1) with extensions switched off per path, a mailbox of N messages synced once, then:
//   no-op        nothing changed;
//   incremental  F flag changes (half per side), A new messages on the local side, X expunged
//                on the remote side.
// Each side is reached through a counting relay: bytes both ways and round trips, where a
// round trip is a burst of client bytes that follows server bytes (the greeting counts as the
// first server burst, so login and LOGOUT are included; scripts/bench/countproxy.py counts the
// same way). After each run both sides are compared
// (message count and flags per Message-ID); a path that does not converge is reported.
//
//   bench_paths [--messages N] [--flags F] [--new A] [--expunge X] [--paths p1,p2,...]
//   paths: qresync, condstore, condstore-noesearch, plain
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <twinbox/server/server.hpp>
#include <twinbox/sync/engine.hpp>

namespace {

using namespace twinbox;

/// Forwards connections from 127.0.0.1:<port()> to 127.0.0.1:<target>, counting bytes and
/// client turns. One thread; connections are handled one at a time in accept order (the engine
/// opens one per side per run).
class CountingRelay {
 public:
  explicit CountingRelay(std::uint16_t target) : target_(target) {
    lfd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(lfd_, 8) != 0) {
      std::perror("bench_paths: relay bind");
      std::exit(1);
    }
    socklen_t len = sizeof a;
    ::getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~CountingRelay() {
    stop_ = true;
    thread_.join();
    ::close(lfd_);
  }
  [[nodiscard]] std::uint16_t port() const { return port_; }
  struct Counts {
    std::uint64_t up = 0, down = 0, turns = 0;
  };
  Counts take() {
    std::lock_guard l(mu_);
    Counts c = counts_;
    counts_ = {};
    return c;
  }

 private:
  void loop() {
    while (!stop_) {
      pollfd p{lfd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept(lfd_, nullptr, nullptr);
      if (c < 0) continue;
      int s = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(target_);
      if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) relay(c, s);
      ::close(c);
      ::close(s);
    }
  }
  void relay(int c, int s) {
    char buf[1 << 16];
    bool last_server = true;  // the greeting is the first server burst
    while (!stop_) {
      pollfd p[2] = {{c, POLLIN, 0}, {s, POLLIN, 0}};
      if (::poll(p, 2, 50) <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = ::read(p[i].fd, buf, sizeof buf);
        if (n <= 0) return;
        {
          // Counted before forwarding: once the engine has its answer, the bytes are counted.
          std::lock_guard l(mu_);
          if (i == 0) {
            counts_.up += static_cast<std::uint64_t>(n);
            if (last_server) ++counts_.turns;
            last_server = false;
          } else {
            counts_.down += static_cast<std::uint64_t>(n);
            last_server = true;
          }
        }
        int to = i == 0 ? s : c;
        for (ssize_t off = 0; off < n;) {
          ssize_t w = ::write(to, buf + off, static_cast<std::size_t>(n - off));
          if (w <= 0) return;
          off += w;
        }
      }
    }
  }

  std::uint16_t target_;
  int lfd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  Counts counts_;
  std::thread thread_;
};

struct Embedded {
  std::unique_ptr<server::Server> srv;
  std::thread thread;
  std::uint16_t port = 0;
  explicit Embedded(const std::set<std::string>& off) {
    server::Options o;
    o.port = 0;
    o.listen_host = "127.0.0.1";
    o.users = {{"alice", "secret"}};
    o.disabled = off;
    auto s = server::Server::create(o);
    if (!s) {
      std::fprintf(stderr, "bench_paths: %s\n", s.error().message.c_str());
      std::exit(1);
    }
    srv = std::move(*s);
    auto p = srv->start();
    if (!p) std::exit(1);
    port = *p;
    thread = std::thread([this] { (void)srv->run(); });
  }
  ~Embedded() {
    srv->stop();
    thread.join();
  }
};

std::string message(std::size_t i) {
  std::string id = "m" + std::to_string(i);
  std::string m = "From: Alice <alice@twinbox.test>\r\nTo: Bob <bob@twinbox.test>\r\nSubject: message " +
                  id + "\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\nMessage-ID: <" + id +
                  "@twinbox.test>\r\n\r\n";
  for (int n = 0; m.size() < 1500; ++n) m += "Body line " + std::to_string(n) + " of " + id + ".\r\n";
  return m;
}

/// Message-ID -> flags, for the convergence check.
std::map<std::string, std::string> view(server::Server& s) {
  std::map<std::string, std::string> out;
  auto msgs = s.messages("alice", "INBOX");
  if (!msgs) return out;
  for (const auto& m : *msgs) {
    auto b = s.message_body("alice", "INBOX", m.uid);
    auto at = b ? b->find("Message-ID:") : std::string::npos;
    std::string key = at == std::string::npos ? "?" + std::to_string(m.uid.value) : b->substr(at, 30);
    std::string f;
    for (const auto& x : m.flags) f += x + " ";
    out[key] = f;
  }
  return out;
}

struct Figures {
  std::uint64_t bytes = 0, turns_l = 0, turns_r = 0, commands = 0;
  double ms = 0;
  bool converged = false;
};

client::EndpointOptions endpoint(std::uint16_t port) {
  client::EndpointOptions e;
  e.transport = client::Transport::Plain;
  e.host = "127.0.0.1";
  e.port = port;
  e.credentials.username = "alice";
  e.credentials.password = "secret";
  e.session.allow_plaintext = true;
  e.send_id = false;
  return e;
}

Figures run(sync::EngineOptions& o, CountingRelay& l, CountingRelay& r, Embedded& a, Embedded& b) {
  (void)l.take();
  (void)r.take();
  auto t0 = std::chrono::steady_clock::now();
  auto rep = sync::run_sync(o, nullptr);
  Figures f;
  f.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (!rep || rep->partial()) {
    std::fprintf(stderr, "bench_paths: sync failed: %s\n", rep ? "partial" : rep.error().message.c_str());
    return f;
  }
  auto cl = l.take(), cr = r.take();
  f.bytes = cl.up + cl.down + cr.up + cr.down;
  f.turns_l = cl.turns;
  f.turns_r = cr.turns;
  f.commands = rep->commands[Side::Local] + rep->commands[Side::Remote];
  f.converged = view(*a.srv) == view(*b.srv);
  return f;
}

std::string human(std::uint64_t b) {
  char buf[32];
  if (b >= 1 << 20) {
    std::snprintf(buf, sizeof buf, "%.2f MiB", static_cast<double>(b) / (1 << 20));
  } else if (b >= 1 << 10) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(b) / (1 << 10));
  } else {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  }
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = 10000, flags = 20, added = 10, expunged = 5;
  std::string paths = "qresync,condstore,condstore-noesearch,plain";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    std::size_t v = std::strtoull(argv[i + 1], nullptr, 10);
    if (a == "--messages") n = v;
    else if (a == "--flags") flags = v;
    else if (a == "--new") added = v;
    else if (a == "--expunge") expunged = v;
    else if (a == "--paths") paths = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: bench_paths [--messages N] [--flags F] [--new A] [--expunge X] [--paths LIST]\n");
      return 1;
    }
  }
  const std::map<std::string, std::set<std::string>> kPaths{
      {"qresync", {}},
      {"condstore", {"QRESYNC"}},
      {"condstore-noesearch", {"QRESYNC", "ESEARCH"}},
      {"plain", {"QRESYNC", "CONDSTORE"}}};
  std::printf("| path | workload | bytes (both sides) | round trips local/remote | commands | wall ms | converged |\n");
  std::printf("|---|---|---:|---:|---:|---:|---|\n");
  std::stringstream ps(paths);
  for (std::string name; std::getline(ps, name, ',');) {
    auto it = kPaths.find(name);
    if (it == kPaths.end()) {
      std::fprintf(stderr, "bench_paths: unknown path %s\n", name.c_str());
      return 1;
    }
    Embedded a(it->second), b(it->second);
    for (std::size_t i = 0; i < n; ++i) {
      (void)a.srv->append_message("alice", "INBOX", message(i), i % 3 ? std::vector<std::string>{"\\Seen"} : std::vector<std::string>{}, 1777000000);
    }
    CountingRelay rl(a.port), rr(b.port);
    auto dir = std::filesystem::temp_directory_path() / ("twinbox-bench-paths-" + std::to_string(::getpid()) + "-" + name);
    std::filesystem::create_directories(dir);
    sync::EngineOptions o;
    o.endpoints[Side::Local] = endpoint(rl.port());
    o.endpoints[Side::Remote] = endpoint(rr.port());
    o.state_path = (dir / "state.db").string();
    o.durable_state = false;
    auto init = run(o, rl, rr, a, b);
    std::printf("| %s | initial (%zu messages) | %s | %llu/%llu | %llu | %.0f | %s |\n", name.c_str(), n,
                human(init.bytes).c_str(), static_cast<unsigned long long>(init.turns_l),
                static_cast<unsigned long long>(init.turns_r), static_cast<unsigned long long>(init.commands),
                init.ms, init.converged ? "yes" : "NO");
    auto noop = run(o, rl, rr, a, b);
    std::printf("| %s | no-op | %s | %llu/%llu | %llu | %.0f | %s |\n", name.c_str(), human(noop.bytes).c_str(),
                static_cast<unsigned long long>(noop.turns_l), static_cast<unsigned long long>(noop.turns_r),
                static_cast<unsigned long long>(noop.commands), noop.ms, noop.converged ? "yes" : "NO");
    // Incremental: flags on both sides (disjoint), new on local, expunged on remote.
    auto la = a.srv->messages("alice", "INBOX");
    auto lb = b.srv->messages("alice", "INBOX");
    if (!la || !lb || la->size() < n || lb->size() < n) return 1;
    for (std::size_t k = 0; k < flags; ++k) {
      auto& side = k % 2 ? *b.srv : *a.srv;
      const auto& msgs = k % 2 ? *lb : *la;
      const auto& m = msgs[(k * 997) % n];
      (void)side.set_flags("alice", "INBOX", m.uid, {"\\Flagged", "$Bench"});
    }
    for (std::size_t k = 0; k < added; ++k) (void)a.srv->append_message("alice", "INBOX", message(n + k), {}, 1777000000);
    std::vector<Uid> gone;
    for (std::size_t k = 0; k < expunged; ++k) gone.push_back((*lb)[(k * 1931 + 7) % n].uid);
    (void)b.srv->expunge("alice", "INBOX", gone);
    auto inc = run(o, rl, rr, a, b);
    std::printf("| %s | incremental (%zu flags, %zu new, %zu expunged) | %s | %llu/%llu | %llu | %.0f | %s |\n",
                name.c_str(), flags, added, expunged, human(inc.bytes).c_str(),
                static_cast<unsigned long long>(inc.turns_l), static_cast<unsigned long long>(inc.turns_r),
                static_cast<unsigned long long>(inc.commands), inc.ms, inc.converged ? "yes" : "NO");
    auto noop2 = run(o, rl, rr, a, b);
    std::printf("| %s | no-op after it | %s | %llu/%llu | %llu | %.0f | %s |\n", name.c_str(),
                human(noop2.bytes).c_str(), static_cast<unsigned long long>(noop2.turns_l),
                static_cast<unsigned long long>(noop2.turns_r), static_cast<unsigned long long>(noop2.commands),
                noop2.ms, noop2.converged ? "yes" : "NO");
    std::fflush(stdout);
    std::filesystem::remove_all(dir);
  }
  return 0;
}
