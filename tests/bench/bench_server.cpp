// The server benchmark of scripts/bench-server.sh (issue 4): APPEND and FETCH throughput of
// one IMAP server over loopback, and the memory of the process serving the session.
//
//   bench_server HOST:PORT USER PASS [--messages N] [--size BYTES] [--fetch-runs R]
//                [--label NAME] [--server-pid PID] [--session-comm COMM]
//
// Steps, on one plain TCP connection: LOGIN, CREATE a fresh mailbox, N pipelined
// `APPEND box (\Seen) {n+}` (LITERAL+, RFC 7888; one command per message, a second thread
// reads the answers, timed from the first byte sent to the last tagged OK), SELECT, then R times
// `UID FETCH 1:* BODY.PEEK[]` (timed from the command to its tagged OK; every body is checked
// byte for byte against what was appended), then DELETE and LOGOUT.
// Messages are generated RFC 5322 text of exactly BYTES octets (CRLF lines, unique
// Message-ID), deterministic.
//
// Memory: with --server-pid, the peak RSS (VmHWM) of the process that serves the session,
// read from /proc while the session is still open: PID itself, or with --session-comm the
// child of PID with that command name (Dovecot's per-session `imap` process). The resident
// size of that process before LOGIN is printed as well (for a one-process server the
// difference is what the session cost).
//
// Output, one line per figure (parsed by bench-server.sh):
//   RESULT <label> append msgs=N bytes=B seconds=S
//   RESULT <label> fetch msgs=N bytes=B seconds=S      (median of the R runs)
//   RESULT <label> rss before_kb=K peak_kb=K
// Exit 0 when every command succeeded and every body came back intact.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_server: %s\n", what.c_str());
  std::exit(1);
}

int connect_to(const std::string& hostport) {
  auto colon = hostport.rfind(':');
  if (colon == std::string::npos) die("want HOST:PORT, got '" + hostport + "'");
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(std::atoi(hostport.c_str() + colon + 1)));
  if (inet_pton(AF_INET, hostport.substr(0, colon).c_str(), &sa.sin_addr) != 1) {
    die("bad IPv4 address in '" + hostport + "'");
  }
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket: " + std::string(std::strerror(errno)));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    die("connect " + hostport + ": " + std::strerror(errno));
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

void write_all(int fd, std::string_view s) {
  const char* p = s.data();
  std::size_t n = s.size();
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      die("write: " + std::string(std::strerror(errno)));
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

/// Buffered reader: lines (without CRLF) and exact byte counts.
class Reader {
 public:
  explicit Reader(int fd) : fd_(fd) {}
  std::string line() {
    for (;;) {
      auto pos = buf_.find("\r\n", start_);
      if (pos != std::string::npos) {
        std::string out = buf_.substr(start_, pos - start_);
        start_ = pos + 2;
        return out;
      }
      fill();
    }
  }
  /// n bytes at the returned pointer, valid until the next call.
  std::string_view take(std::size_t n) {
    while (buf_.size() - start_ < n) fill();
    std::string_view v(buf_.data() + start_, n);
    start_ += n;
    return v;
  }

 private:
  void fill() {
    if (start_ > 0 && start_ >= buf_.size() / 2) {
      buf_.erase(0, start_);
      start_ = 0;
    }
    char tmp[256 * 1024];
    ssize_t r = ::read(fd_, tmp, sizeof tmp);
    if (r < 0 && errno == EINTR) return;
    if (r <= 0) die("connection closed by the server");
    buf_.append(tmp, static_cast<std::size_t>(r));
  }
  int fd_;
  std::string buf_;
  std::size_t start_ = 0;
};

/// Reads until the tagged answer of `tag`; dies unless OK.
void await(Reader& r, const std::string& tag) {
  for (;;) {
    std::string l = r.line();
    if (l.rfind(tag + " ", 0) == 0) {
      if (l.compare(tag.size() + 1, 2, "OK") != 0) die("server said: " + l);
      return;
    }
    if (!l.empty() && l.back() == '}') {  // skip an untagged literal
      auto open = l.rfind('{');
      (void)r.take(std::strtoull(l.c_str() + open + 1, nullptr, 10));
    }
  }
}

/// Message i: headers, then 72-character lines of text, padded to exactly `size` octets.
std::string make_message(std::size_t i, std::size_t size) {
  std::string m = "From: Bench Sender <sender@bench.example>\r\n"
                  "To: Bench Receiver <receiver@bench.example>\r\n"
                  "Subject: Benchmark message " + std::to_string(i) + "\r\n"
                  "Date: Mon, 7 Dec 2026 10:00:00 +0000\r\n"
                  "Message-ID: <bench-" + std::to_string(i) + "@bench.example>\r\n"
                  "MIME-Version: 1.0\r\n"
                  "Content-Type: text/plain; charset=us-ascii\r\n\r\n";
  static constexpr std::string_view kWords =
      "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt "
      "ut labore et dolore magna aliqua ";
  std::size_t w = i % kWords.size();
  while (m.size() + 2 < size) {
    std::size_t n = std::min<std::size_t>(72, size - m.size() - 2);
    for (std::size_t k = 0; k < n; ++k) m += kWords[(w++) % kWords.size()];
    m += "\r\n";
  }
  while (m.size() < size) m += m.size() + 1 == size ? '\n' : '\r';
  return m;
}

/// A field of /proc/PID/status in kB (0 when unreadable).
long proc_kb(long pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  std::size_t len = std::strlen(field);
  while (std::getline(in, line)) {
    if (line.compare(0, len, field) == 0 && line.size() > len && line[len] == ':') {
      return std::atol(line.c_str() + len + 1);
    }
  }
  return 0;
}

/// The newest child of `parent` whose command name is `comm` (0 when none).
long find_child(long parent, const std::string& comm) {
  long best = 0;
  DIR* d = ::opendir("/proc");
  if (!d) return 0;
  while (auto* e = ::readdir(d)) {
    long pid = std::atol(e->d_name);
    if (pid <= 0) continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/stat");
    std::string stat;
    std::getline(in, stat);
    auto open = stat.find('(');
    auto close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    char state = 0;
    long ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent && stat.substr(open + 1, close - open - 1) == comm) best = std::max(best, pid);
  }
  ::closedir(d);
  return best;
}

struct Args {
  std::string hostport, user, pass, label = "server", session_comm;
  std::size_t messages = 5000, size = 4096;
  int fetch_runs = 5;
  long server_pid = 0;
};

Args parse_args(int argc, char** argv) {
  if (argc < 4) {
    die("usage: bench_server HOST:PORT USER PASS [--messages N] [--size BYTES] [--fetch-runs R] "
        "[--label NAME] [--server-pid PID] [--session-comm COMM]");
  }
  Args a;
  a.hostport = argv[1], a.user = argv[2], a.pass = argv[3];
  for (int i = 4; i < argc; i += 2) {
    std::string k = argv[i];
    if (i + 1 >= argc) die(k + " needs a value");
    std::string v = argv[i + 1];
    if (k == "--messages") a.messages = std::strtoul(v.c_str(), nullptr, 10);
    else if (k == "--size") a.size = std::strtoul(v.c_str(), nullptr, 10);
    else if (k == "--fetch-runs") a.fetch_runs = std::atoi(v.c_str());
    else if (k == "--label") a.label = v;
    else if (k == "--server-pid") a.server_pid = std::atol(v.c_str());
    else if (k == "--session-comm") a.session_comm = v;
    else die("unknown option " + k);
  }
  if (a.messages == 0 || a.size < 512 || a.fetch_runs < 1) {
    die("--messages must be > 0, --size >= 512, --fetch-runs >= 1");
  }
  return a;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// N pipelined APPENDs with LITERAL+; returns the seconds until the last tagged OK.
double run_append(int fd, Reader& r, const std::string& box, const std::vector<std::string>& msgs) {
  std::atomic<bool> failed{false};
  std::string failure;
  auto t0 = Clock::now();
  std::thread reader([&] {
    std::size_t answered = 0;
    while (answered < msgs.size()) {
      std::string l = r.line();
      if (l.empty() || l[0] == '*') continue;
      if (l[0] == '+') continue;
      ++answered;
      auto sp = l.find(' ');
      if (sp == std::string::npos || l.compare(sp + 1, 2, "OK") != 0) {
        if (!failed.exchange(true)) failure = l;
      }
    }
  });
  std::string chunk;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    chunk += "a" + std::to_string(i) + " APPEND " + box + " (\\Seen) {" +
             std::to_string(msgs[i].size()) + "+}\r\n";
    chunk += msgs[i];
    chunk += "\r\n";
    if (chunk.size() >= 64 * 1024 || i + 1 == msgs.size()) {
      write_all(fd, chunk);
      chunk.clear();
    }
  }
  reader.join();
  double s = seconds_since(t0);
  if (failed) die("APPEND failed: " + failure);
  return s;
}

/// One UID FETCH 1:* BODY.PEEK[]; checks every body; returns seconds.
double run_fetch(int fd, Reader& r, const std::vector<std::string>& msgs) {
  auto t0 = Clock::now();
  write_all(fd, "f UID FETCH 1:* BODY.PEEK[]\r\n");
  std::size_t seen = 0;
  for (;;) {
    std::string l = r.line();
    if (l.rfind("f ", 0) == 0) {
      if (l.compare(2, 2, "OK") != 0) die("UID FETCH failed: " + l);
      break;
    }
    if (l.empty() || l.back() != '}') continue;
    auto open = l.rfind('{');
    std::size_t n = std::strtoull(l.c_str() + open + 1, nullptr, 10);
    std::string_view body = r.take(n);
    if (seen >= msgs.size() || body != msgs[seen]) {
      die("FETCH returned a body that differs from message " + std::to_string(seen + 1) +
          " as appended: " + l);
    }
    ++seen;
    (void)r.line();  // ")" closing the FETCH
  }
  double s = seconds_since(t0);
  if (seen != msgs.size()) {
    die("FETCH returned " + std::to_string(seen) + " messages, expected " + std::to_string(msgs.size()));
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  Args a = parse_args(argc, argv);
  std::vector<std::string> msgs;
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < a.messages; ++i) {
    msgs.push_back(make_message(i, a.size));
    bytes += msgs.back().size();
  }
  long rss_before = a.server_pid && a.session_comm.empty() ? proc_kb(a.server_pid, "VmRSS") : 0;
  int fd = connect_to(a.hostport);
  Reader r(fd);
  std::string greeting = r.line();
  if (greeting.rfind("* OK", 0) != 0) die("bad greeting: " + greeting);
  write_all(fd, "l LOGIN \"" + a.user + "\" \"" + a.pass + "\"\r\n");
  await(r, "l");
  long session_pid = a.server_pid;
  if (a.server_pid && !a.session_comm.empty()) {
    session_pid = find_child(a.server_pid, a.session_comm);
    if (session_pid == 0) die("no '" + a.session_comm + "' child of PID " + std::to_string(a.server_pid));
    rss_before = proc_kb(session_pid, "VmRSS");
  }
  std::string box = "bench-" + std::to_string(::getpid());
  write_all(fd, "c CREATE " + box + "\r\n");
  await(r, "c");

  double append_s = run_append(fd, r, box, msgs);
  std::printf("RESULT %s append msgs=%zu bytes=%llu seconds=%.4f\n", a.label.c_str(), msgs.size(),
              static_cast<unsigned long long>(bytes), append_s);
  std::fflush(stdout);  // bench-server.sh (and a profiler) may watch for this line

  write_all(fd, "s SELECT " + box + "\r\n");
  await(r, "s");
  std::vector<double> runs;
  for (int i = 0; i < a.fetch_runs; ++i) runs.push_back(run_fetch(fd, r, msgs));
  std::sort(runs.begin(), runs.end());
  std::printf("RESULT %s fetch msgs=%zu bytes=%llu seconds=%.4f\n", a.label.c_str(), msgs.size(),
              static_cast<unsigned long long>(bytes), runs[runs.size() / 2]);
  if (session_pid) {
    std::printf("RESULT %s rss before_kb=%ld peak_kb=%ld\n", a.label.c_str(), rss_before,
                proc_kb(session_pid, "VmHWM"));
  }
  std::fflush(stdout);

  write_all(fd, "u UNSELECT\r\nd DELETE " + box + "\r\n");
  await(r, "u");
  await(r, "d");
  write_all(fd, "z LOGOUT\r\n");
  await(r, "z");
  ::close(fd);
  return 0;
}
