#include "support/fault_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

namespace twinbox::test {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxPending = 256 * 1024;
constexpr std::size_t kMaxTrackedLine = 1 << 20;

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

/// "{123}" or "{123+}" at the end of a line: the literal's size.
std::optional<std::uint64_t> literal_at_end(std::string_view line) {
  if (line.empty() || line.back() != '}') return std::nullopt;
  std::size_t open = line.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  std::string_view digits = line.substr(open + 1, line.size() - open - 2);
  if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
  if (digits.empty() || digits.size() > 19) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

/// One direction of one connection.
struct Pipe {
  int from = -1;
  int to = -1;
  bool down = false;           // server -> client
  bool eof = false;            // `from` reached EOF
  bool shut = false;           // shutdown(to, SHUT_WR) done
  std::string pending;         // ready to write to `to`
  std::deque<std::pair<Clock::time_point, std::string>> delayed;
  std::uint64_t enqueued = 0;  // bytes put into pending (after rewriting)
  std::uint64_t delivered = 0;
  std::uint64_t limit = Faults::kNever;
  bool drop_at_limit = false;  // else stall
  // Line tracking (down direction, for rewrite and truncate).
  bool track = false;
  std::string line;
  std::uint64_t literal_left = 0;
  std::uint32_t literals = 0;
};

struct Conn {
  int client = -1;
  int server = -1;
  Pipe up;
  Pipe down;
  Faults faults;
  bool dead = false;
};

}  // namespace

struct FaultProxy::State {
  int listener = -1;
  int wake[2] = {-1, -1};
  std::atomic<bool> stop{false};
  std::atomic<bool> drop_all{false};
  std::mutex mu;
  Faults faults;  // guarded by mu
  std::vector<std::unique_ptr<Conn>> conns;
  std::thread thread;
};

FaultProxy::FaultProxy(std::uint16_t target_port, Faults faults)
    : target_(target_port), state_(std::make_unique<State>()) {
  state_->faults = std::move(faults);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE_MESSAGE(fd >= 0, "FaultProxy: socket() failed");
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = loopback(0);
  REQUIRE_MESSAGE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0,
                  "FaultProxy: bind failed");
  REQUIRE_MESSAGE(::listen(fd, 64) == 0, "FaultProxy: listen failed");
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  set_nonblocking(fd);
  state_->listener = fd;
  REQUIRE_MESSAGE(::pipe2(state_->wake, O_CLOEXEC | O_NONBLOCK) == 0, "FaultProxy: pipe failed");
  state_->thread = std::thread([this] { run(); });
}

FaultProxy::~FaultProxy() {
  state_->stop = true;
  char c = 'x';
  (void)!::write(state_->wake[1], &c, 1);
  if (state_->thread.joinable()) state_->thread.join();
  for (auto& c2 : state_->conns) {
    if (c2->client >= 0) ::close(c2->client);
    if (c2->server >= 0) ::close(c2->server);
  }
  ::close(state_->listener);
  ::close(state_->wake[0]);
  ::close(state_->wake[1]);
}

void FaultProxy::set_faults(Faults faults) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->faults = std::move(faults);
}

void FaultProxy::drop_all() {
  state_->drop_all = true;
  char c = 'x';
  (void)!::write(state_->wake[1], &c, 1);
}

namespace {

void close_conn(Conn& c) {
  if (c.client >= 0) ::close(c.client);
  if (c.server >= 0) ::close(c.server);
  c.client = c.server = -1;
  c.dead = true;
}

/// Puts `bytes` (already rewritten) into the pipe's output, honouring the delay.
void enqueue(Pipe& p, const Faults& f, std::string bytes) {
  if (bytes.empty()) return;
  p.enqueued += bytes.size();
  if (f.delay.count() > 0) {
    p.delayed.emplace_back(Clock::now() + f.delay, std::move(bytes));
  } else {
    p.pending += bytes;
  }
}

/// Feeds bytes read from the server through line tracking (rewrite, literal truncation).
void feed_down(Pipe& p, const Faults& f, std::string_view data) {
  if (!p.track) {
    enqueue(p, f, std::string(data));
    return;
  }
  std::string out;
  while (!data.empty()) {
    if (p.literal_left > 0) {
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(p.literal_left, data.size()));
      out.append(data.substr(0, n));
      p.literal_left -= n;
      data.remove_prefix(n);
      continue;
    }
    std::size_t nl = data.find('\n');
    if (nl == std::string_view::npos) {
      p.line.append(data);
      data = {};
      if (p.line.size() > kMaxTrackedLine) {  // an endless line: stop interpreting
        out += p.line;
        p.line.clear();
        p.track = false;
      }
      break;
    }
    p.line.append(data.substr(0, nl + 1));
    data.remove_prefix(nl + 1);
    std::string_view body(p.line);
    body.remove_suffix(1);
    if (!body.empty() && body.back() == '\r') body.remove_suffix(1);
    std::optional<std::string> repl = std::string(body);
    if (f.rewrite_down) repl = f.rewrite_down(body);
    if (repl) {
      out += *repl;
      out += "\r\n";
      if (auto lit = literal_at_end(*repl)) {
        p.literal_left = *lit;
        ++p.literals;
        if (f.truncate_literal != 0 && p.literals == f.truncate_literal) {
          std::uint64_t cut = p.enqueued + out.size() + *lit / 2;
          if (cut < p.limit) {
            p.limit = cut;
            p.drop_at_limit = true;
          }
        }
      }
    }
    p.line.clear();
    if (!p.track) break;
  }
  if (!data.empty()) out.append(data);
  enqueue(p, f, std::move(out));
}

}  // namespace

void FaultProxy::run() {
  State& st = *state_;
  std::vector<pollfd> fds;
  std::vector<std::pair<Conn*, Pipe*>> who;  // per fds entry after the first two
  std::vector<bool> is_write;
  char buf[16384];
  while (!st.stop) {
    if (st.drop_all.exchange(false)) {
      for (auto& c : st.conns) close_conn(*c);
    }
    std::erase_if(st.conns, [](const std::unique_ptr<Conn>& c) { return c->dead; });
    fds.clear();
    who.clear();
    is_write.clear();
    fds.push_back({st.listener, POLLIN, 0});
    fds.push_back({st.wake[0], POLLIN, 0});
    auto now = Clock::now();
    int timeout = 200;
    for (auto& c : st.conns) {
      for (Pipe* p : {&c->up, &c->down}) {
        // Move due delayed chunks to pending.
        while (!p->delayed.empty() && p->delayed.front().first <= now) {
          p->pending += p->delayed.front().second;
          p->delayed.pop_front();
        }
        if (!p->delayed.empty()) {
          auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        p->delayed.front().first - now).count() + 1;
          timeout = std::min<int>(timeout, static_cast<int>(ms));
        }
        bool at_limit = p->delivered >= p->limit;
        if (!p->eof && !at_limit && p->pending.size() < kMaxPending) {
          fds.push_back({p->from, POLLIN, 0});
          who.emplace_back(c.get(), p);
          is_write.push_back(false);
        }
        if (!p->pending.empty() && !at_limit) {
          fds.push_back({p->to, POLLOUT, 0});
          who.emplace_back(c.get(), p);
          is_write.push_back(true);
        }
        if (p->eof && p->pending.empty() && p->delayed.empty() && !p->shut) {
          ::shutdown(p->to, SHUT_WR);
          p->shut = true;
        }
      }
      if (c->up.shut && c->down.shut) close_conn(*c);
    }
    int n = ::poll(fds.data(), fds.size(), timeout);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    if (fds[1].revents) {
      while (::read(st.wake[0], buf, sizeof buf) > 0) {
      }
    }
    if (fds[0].revents & POLLIN) {
      int cfd = ::accept4(st.listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (cfd >= 0) {
        int index = accepted_++;
        int sfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a = loopback(target_);
        if (sfd < 0 || ::connect(sfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
          if (sfd >= 0) ::close(sfd);
          ::close(cfd);
        } else {
          auto c = std::make_unique<Conn>();
          {
            std::lock_guard<std::mutex> lock(st.mu);
            if (st.faults.only_connection < 0 || st.faults.only_connection == index) {
              c->faults = st.faults;
            }
          }
          int one = 1;
          ::setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          ::setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          set_nonblocking(cfd);
          set_nonblocking(sfd);
          c->client = cfd;
          c->server = sfd;
          c->up.from = cfd;
          c->up.to = sfd;
          c->down.from = sfd;
          c->down.to = cfd;
          c->down.down = true;
          const Faults& f = c->faults;
          c->up.limit = std::min(f.drop_up_after, f.stall_up_after);
          c->up.drop_at_limit = f.drop_up_after <= f.stall_up_after;
          c->down.limit = std::min(f.drop_down_after, f.stall_down_after);
          c->down.drop_at_limit = f.drop_down_after <= f.stall_down_after;
          c->down.track = f.rewrite_down || f.truncate_literal != 0;
          st.conns.push_back(std::move(c));
        }
      }
    }
    for (std::size_t i = 2; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      auto [c, p] = who[i - 2];
      if (c->dead) continue;
      if (is_write[i - 2]) {
        std::size_t allowed = static_cast<std::size_t>(
            std::min<std::uint64_t>(p->pending.size(), p->limit - p->delivered));
        ssize_t w = ::send(p->to, p->pending.data(), allowed, MSG_NOSIGNAL);
        if (w < 0) {
          if (errno != EAGAIN && errno != EINTR) close_conn(*c);
          continue;
        }
        p->pending.erase(0, static_cast<std::size_t>(w));
        p->delivered += static_cast<std::uint64_t>(w);
        (p->down ? down_ : up_) += static_cast<std::uint64_t>(w);
        if (p->delivered >= p->limit) {
          fired_ = true;
          if (p->drop_at_limit) close_conn(*c);
        }
      } else {
        ssize_t r = ::recv(p->from, buf, sizeof buf, 0);
        if (r == 0) {
          p->eof = true;
          if (!p->line.empty()) enqueue(*p, c->faults, std::exchange(p->line, {}));
        } else if (r < 0) {
          if (errno != EAGAIN && errno != EINTR) close_conn(*c);
        } else if (p->down) {
          feed_down(*p, c->faults, std::string_view(buf, static_cast<std::size_t>(r)));
        } else {
          enqueue(*p, c->faults, std::string(buf, static_cast<std::size_t>(r)));
        }
      }
    }
    // A limit of 0 (or one reached by enqueueing nothing) fires without a write.
    for (auto& c : st.conns) {
      for (Pipe* p : {&c->up, &c->down}) {
        if (!c->dead && p->limit == 0 && p->drop_at_limit) {
          fired_ = true;
          close_conn(*c);
        }
      }
    }
  }
}

}  // namespace twinbox::test
