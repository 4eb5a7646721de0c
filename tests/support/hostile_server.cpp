#include "support/hostile_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <mutex>
#include <thread>
#include <utility>

#include <doctest/doctest.h>

namespace twinbox::test {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxLine = 1 << 20;
constexpr std::uint64_t kMaxLiteral = 64ULL << 20;
constexpr int kSliceMs = 50;  // poll slice: how fast a stop request is noticed

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::optional<std::pair<std::uint64_t, bool>> literal_at_end(std::string_view line) {
  if (line.empty() || line.back() != '}') return std::nullopt;
  std::size_t open = line.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  std::string_view digits = line.substr(open + 1, line.size() - open - 2);
  bool plus = !digits.empty() && (digits.back() == '+' || digits.back() == '-');
  if (plus) digits.remove_suffix(1);
  if (digits.empty() || digits.size() > 19) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return std::make_pair(n, plus);
}

}  // namespace

// ---- HostileConnection ------------------------------------------------------------------

HostileConnection::HostileConnection(int fd, const std::atomic<bool>& stop,
                                     std::function<void(const std::string&)> record,
                                     std::atomic<std::uint64_t>* sent_total)
    : fd_(fd), stop_(stop), record_(std::move(record)), sent_total_(sent_total) {
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
}

HostileConnection::~HostileConnection() { close(); }

void HostileConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool HostileConnection::send(std::string_view bytes) {
  auto deadline = Clock::now() + send_timeout;
  while (!bytes.empty()) {
    if (fd_ < 0 || stop_) return false;
    ssize_t w = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (w > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(w));
      sent_ += static_cast<std::uint64_t>(w);
      if (sent_total_) *sent_total_ += static_cast<std::uint64_t>(w);
      continue;
    }
    if (w < 0 && errno != EAGAIN && errno != EINTR) return false;
    if (Clock::now() >= deadline) return false;
    pollfd p{fd_, POLLOUT, 0};
    ::poll(&p, 1, kSliceMs);
  }
  return true;
}

bool HostileConnection::ok(const HostileCommand& cmd, std::string_view text) {
  return send(cmd.tag + " OK " + std::string(text) + "\r\n");
}

bool HostileConnection::no(const HostileCommand& cmd, std::string_view text) {
  return send(cmd.tag + " NO " + std::string(text) + "\r\n");
}

bool HostileConnection::fill() {
  auto deadline = Clock::now() + read_timeout;
  char buf[16384];
  while (fd_ >= 0 && !stop_ && !eof_) {
    ssize_t r = ::recv(fd_, buf, sizeof buf, 0);
    if (r > 0) {
      in_.append(buf, static_cast<std::size_t>(r));
      return true;
    }
    if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
      eof_ = true;
      return false;
    }
    if (Clock::now() >= deadline) return false;
    pollfd p{fd_, POLLIN, 0};
    ::poll(&p, 1, kSliceMs);
  }
  return false;
}

std::optional<std::string> HostileConnection::read_line() {
  std::string line;
  for (;;) {
    std::size_t nl;
    while ((nl = in_.find('\n')) == std::string::npos) {
      if (in_.size() > kMaxLine || !fill()) return std::nullopt;
    }
    std::string part = in_.substr(0, nl);
    in_.erase(0, nl + 1);
    if (!part.empty() && part.back() == '\r') part.pop_back();
    line += part;
    auto lit = literal_at_end(part);
    if (!lit) return line;
    if (lit->first > kMaxLiteral) return std::nullopt;
    if (!lit->second && !send("+ go ahead\r\n")) return std::nullopt;
    while (in_.size() < lit->first) {
      if (!fill()) return std::nullopt;
    }
    line += in_.substr(0, lit->first);
    in_.erase(0, lit->first);
  }
}

std::optional<HostileCommand> HostileConnection::read_command() {
  auto line = read_line();
  if (!line) return std::nullopt;
  received_.push_back(*line);
  if (record_) record_(*line);
  HostileCommand c;
  c.line = *line;
  std::size_t sp = line->find(' ');
  c.tag = line->substr(0, sp);
  std::string rest = sp == std::string::npos ? "" : line->substr(sp + 1);
  std::size_t sp2 = rest.find(' ');
  c.name = upper(rest.substr(0, sp2));
  c.args = sp2 == std::string::npos ? "" : rest.substr(sp2 + 1);
  if (c.name == "UID" && !c.args.empty()) {
    std::size_t sp3 = c.args.find(' ');
    c.name += " " + upper(c.args.substr(0, sp3));
    c.args = sp3 == std::string::npos ? "" : c.args.substr(sp3 + 1);
  }
  return c;
}

void HostileConnection::serve(const Handler& handler) {
  if (!send("* OK [CAPABILITY " + capabilities + "] hostile server ready\r\n")) return;
  while (auto cmd = read_command()) {
    const std::string& n = cmd->name;
    if (n == "CAPABILITY") {
      send("* CAPABILITY " + capabilities + "\r\n");
      ok(*cmd);
    } else if (n == "LOGIN") {
      send(cmd->tag + " " + auth_answer + "\r\n");
    } else if (n == "AUTHENTICATE") {
      // With SASL-IR the payload is on the line; else ask for it.
      if (cmd->args.find(' ') == std::string::npos) {
        if (!send("+ \r\n")) return;
        auto payload = read_line();
        if (!payload) return;
        received_.push_back(*payload);
        if (record_) record_(*payload);
      }
      send(cmd->tag + " " + auth_answer + "\r\n");
    } else if (n == "ENABLE") {
      send("* ENABLED " + cmd->args + "\r\n");
      ok(*cmd);
    } else if (n == "ID") {
      send("* ID NIL\r\n");
      ok(*cmd);
    } else if (n == "NAMESPACE") {
      send("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
      ok(*cmd);
    } else if (n == "LOGOUT") {
      send("* BYE logging out\r\n");
      ok(*cmd);
      return;
    } else if (!handler(*this, *cmd)) {
      return;
    }
  }
}

std::uint64_t HostileConnection::flood(std::string_view chunk, std::uint64_t max_bytes) {
  std::uint64_t before = sent_;
  while (sent_ - before < max_bytes) {
    if (!send(chunk)) break;
  }
  return sent_ - before;
}

bool HostileConnection::wait_client_closed() {
  while (fill()) in_.clear();
  return eof_;
}

// ---- HostileServer ----------------------------------------------------------------------

struct HostileServer::State {
  int listener = -1;
  std::atomic<bool> stop{false};
  mutable std::mutex mu;
  std::vector<std::string> received;
  std::thread thread;
};

HostileServer::HostileServer(Script script) : state_(std::make_unique<State>()) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE_MESSAGE(fd >= 0, "HostileServer: socket() failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE_MESSAGE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0,
                  "HostileServer: bind failed");
  REQUIRE_MESSAGE(::listen(fd, 16) == 0, "HostileServer: listen failed");
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  state_->listener = fd;
  State* st = state_.get();
  state_->thread = std::thread([this, st, script = std::move(script)] {
    while (!st->stop) {
      pollfd p{st->listener, POLLIN, 0};
      if (::poll(&p, 1, kSliceMs) <= 0) continue;
      int cfd = ::accept4(st->listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (cfd < 0) continue;
      ++accepted_;
      HostileConnection conn(
          cfd, st->stop,
          [st](const std::string& line) {
            std::lock_guard<std::mutex> lock(st->mu);
            st->received.push_back(line);
          },
          &sent_);
      script(conn);
    }
  });
}

HostileServer::~HostileServer() {
  state_->stop = true;
  if (state_->thread.joinable()) state_->thread.join();
  ::close(state_->listener);
}

std::vector<std::string> HostileServer::received() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->received;
}

}  // namespace twinbox::test
