// The raw-copy limit of scripts/bench.sh: the least work that copies every message of one IMAP
// account into another. Per mailbox of the source: EXAMINE, one
// `FETCH 1:* (FLAGS INTERNALDATE BODY.PEEK[])`, and for each message as soon as its literal
// has arrived its `(flags) "date" {n+}` literal (LITERAL+, RFC 7888) goes out to the
// destination as part of a MULTIAPPEND (RFC 3502; batches of at most 1,000 messages or 32 MiB,
// one APPEND per message when not advertised), all pipelined; a second thread drains the
// destination's answers. Nothing else: no state, no UID mapping, no checks beyond "every APPEND
// said OK". Plain TCP, LOGIN, loopback benchmarks.
//
//   bench_rawcopy HOST:PORT USER PASS HOST:PORT USER PASS
//
// Exit 0 when every APPEND succeeded; prints "copied N messages, B bytes".
//
//   bench_rawcopy --noop HOST:PORT USER PASS HOST:PORT USER PASS
//
// The no-op limit: the least a stateful sync can do to learn that nothing changed. On both
// servers at once: greeting, LOGIN, one `LIST "" * RETURN (STATUS (MESSAGES UIDNEXT
// UIDVALIDITY HIGHESTMODSEQ))` (LIST-STATUS, RFC 5819), LOGOUT; prints "listed N mailboxes".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_rawcopy: %s\n", what.c_str());
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

void write_all(int fd, const char* p, std::size_t n) {
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
void write_all(int fd, std::string_view s) { write_all(fd, s.data(), s.size()); }

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
  /// Makes n bytes available at data(); consume(n) afterwards.
  const char* need(std::size_t n) {
    while (buf_.size() - start_ < n) fill();
    return buf_.data() + start_;
  }
  void consume(std::size_t n) { start_ += n; }

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

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

/// Reads until the tagged answer of `tag`; dies unless OK. Untagged lines go to `untagged`.
void await(Reader& r, std::string_view tag, std::vector<std::string>* untagged = nullptr) {
  for (;;) {
    std::string l = r.line();
    if (l.size() > tag.size() && l.compare(0, tag.size(), tag) == 0 && l[tag.size()] == ' ') {
      if (l.compare(tag.size() + 1, 2, "OK") != 0) die("server said: " + l);
      return;
    }
    if (untagged) untagged->push_back(std::move(l));
  }
}

/// Logs in; returns the capabilities the server announced (greeting, LOGIN's OK, or CAPABILITY).
std::string login(int fd, Reader& r, const std::string& user, const std::string& pass) {
  std::string greeting = r.line();
  if (greeting.rfind("* OK", 0) != 0) die("bad greeting: " + greeting);
  write_all(fd, "L LOGIN " + quote(user) + " " + quote(pass) + "\r\n");
  std::vector<std::string> untagged;
  for (;;) {
    std::string l = r.line();
    if (l.rfind("L ", 0) == 0) {
      if (l.compare(2, 2, "OK") != 0) die("LOGIN failed: " + l);
      return l;
    }
    untagged.push_back(l);
  }
}

/// Parses one LIST answer into the wire mailbox name; empty when \Noselect / not LIST.
std::string parse_list(const std::string& l) {
  if (l.rfind("* LIST (", 0) != 0) return {};
  auto close = l.find(')');
  if (close == std::string::npos) return {};
  std::string attrs = l.substr(8, close - 8);
  if (attrs.find("\\Noselect") != std::string::npos ||
      attrs.find("\\NonExistent") != std::string::npos) {
    return {};
  }
  // ") " delimiter SP name
  std::size_t p = close + 2;
  if (l.compare(p, 3, "NIL") == 0) {
    p += 4;
  } else {
    p = l.find('"', p + 1);  // end of the quoted delimiter
    if (p == std::string::npos) return {};
    if (l[p - 1] == '\\') p = l.find('"', p + 1);
    p += 2;
  }
  if (p >= l.size()) return {};
  if (l[p] != '"') return l.substr(p);
  std::string name;
  for (std::size_t i = p + 1; i < l.size() && l[i] != '"'; ++i) {
    if (l[i] == '\\' && i + 1 < l.size()) ++i;
    name += l[i];
  }
  return name;
}

}  // namespace

/// --noop: both sessions advance in lock step; each request goes to both servers before
/// either answer is read, so the two servers work at the same time.
int noop_limit(char** argv) {
  int fd[2] = {connect_to(argv[0]), connect_to(argv[3])};
  Reader r0(fd[0]);
  Reader r1(fd[1]);
  Reader* r[2] = {&r0, &r1};
  for (int i = 0; i < 2; ++i) {
    std::string greeting = r[i]->line();
    if (greeting.rfind("* OK", 0) != 0) die("bad greeting: " + greeting);
  }
  for (int i = 0; i < 2; ++i) {
    write_all(fd[i], "L LOGIN " + quote(argv[1 + 3 * i]) + " " + quote(argv[2 + 3 * i]) + "\r\n");
  }
  for (int i = 0; i < 2; ++i) await(*r[i], "L");
  for (int i = 0; i < 2; ++i) {
    write_all(fd[i], "S LIST \"\" * RETURN (STATUS (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ))\r\n");
  }
  std::size_t listed = 0;
  for (int i = 0; i < 2; ++i) {
    std::vector<std::string> lines;
    await(*r[i], "S", &lines);
    for (const auto& l : lines) listed += l.rfind("* STATUS ", 0) == 0 ? 1 : 0;
  }
  for (int i = 0; i < 2; ++i) write_all(fd[i], "Z LOGOUT\r\n");
  for (int i = 0; i < 2; ++i) {
    await(*r[i], "Z");
    ::close(fd[i]);
  }
  std::printf("listed %zu mailboxes\n", listed);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 8 && std::string_view(argv[1]) == "--noop") return noop_limit(argv + 2);
  if (argc != 7) {
    std::fprintf(stderr,
                 "usage: bench_rawcopy [--noop] HOST:PORT USER PASS HOST:PORT USER PASS\n");
    return 1;
  }
  int src = connect_to(argv[1]);
  int dst = connect_to(argv[4]);
  Reader rs(src);
  Reader rd(dst);
  login(src, rs, argv[2], argv[3]);
  const bool multi = login(dst, rd, argv[5], argv[6]).find("MULTIAPPEND") != std::string::npos;
  constexpr std::size_t kBatchMessages = 1000;
  constexpr std::size_t kBatchBytes = 32u << 20;

  std::vector<std::string> lines;
  write_all(src, "l LIST \"\" \"*\"\r\n");
  await(rs, "l", &lines);
  std::vector<std::string> mailboxes;
  for (const auto& l : lines) {
    std::string name = parse_list(l);
    if (!name.empty()) mailboxes.push_back(name);
  }
  // CREATE everything (pipelined); NO for existing ones (INBOX, auto-created) is fine.
  for (std::size_t i = 0; i < mailboxes.size(); ++i) {
    if (mailboxes[i] == "INBOX") continue;
    write_all(dst, "c" + std::to_string(i) + " CREATE " + quote(mailboxes[i]) + "\r\n");
  }
  for (std::size_t i = 0; i < mailboxes.size(); ++i) {
    if (mailboxes[i] == "INBOX") continue;
    std::string tag = "c" + std::to_string(i);
    for (;;) {
      std::string l = rd.line();
      if (l.rfind(tag + " ", 0) == 0) break;
    }
  }

  // The destination's answers are drained by a second thread so that our APPEND writes
  // never deadlock against a full socket buffer.
  std::atomic<std::uint64_t> sent{0};
  std::atomic<bool> done_sending{false};
  std::uint64_t answered = 0;
  std::string failure;
  std::thread drain([&] {
    for (;;) {
      if (done_sending.load() && answered == sent.load()) return;
      std::string l = rd.line();
      if (l.empty() || l[0] == '*' || l[0] == '+') continue;
      ++answered;
      auto sp = l.find(' ');
      if (sp == std::string::npos || l.compare(sp + 1, 2, "OK") != 0) {
        if (failure.empty()) failure = l;
      }
    }
  });

  std::uint64_t bytes = 0;
  std::uint64_t messages = 0;
  std::string header;
  std::size_t batch_messages = 0;  // messages in the open MULTIAPPEND
  std::size_t batch_bytes = 0;
  auto close_batch = [&] {
    if (batch_messages == 0) return;
    write_all(dst, "\r\n");
    sent.fetch_add(1);
    batch_messages = 0;
    batch_bytes = 0;
  };
  for (const auto& mbox : mailboxes) {
    lines.clear();
    write_all(src, "e EXAMINE " + quote(mbox) + "\r\n");
    await(rs, "e", &lines);
    bool empty = false;
    for (const auto& l : lines) {
      if (l == "* 0 EXISTS") empty = true;
    }
    if (empty) continue;
    write_all(src, "f FETCH 1:* (FLAGS INTERNALDATE BODY.PEEK[])\r\n");
    const std::string qname = quote(mbox);
    for (;;) {
      std::string l = rs.line();
      if (l.rfind("f ", 0) == 0) {
        if (l.compare(2, 2, "OK") != 0) die("FETCH failed: " + l);
        close_batch();
        break;
      }
      if (l.empty() || l[0] != '*' || l.find(" FETCH (") == std::string::npos) continue;
      std::string flags;
      if (auto f = l.find("FLAGS ("); f != std::string::npos) {
        auto e = l.find(')', f);
        flags = l.substr(f + 7, e - f - 7);
        if (auto rec = flags.find("\\Recent"); rec != std::string::npos) {
          flags.erase(rec, 7);
        }
      }
      std::string date;
      if (auto d = l.find("INTERNALDATE \""); d != std::string::npos) {
        auto e = l.find('"', d + 14);
        date = l.substr(d + 13, e - d - 12);
      }
      if (l.empty() || l.back() != '}') die("expected a BODY[] literal: " + l);
      auto open = l.rfind('{');
      std::size_t n = std::strtoull(l.c_str() + open + 1, nullptr, 10);
      const char* body = rs.need(n);
      header.clear();
      if (batch_messages == 0) {
        header += "A APPEND ";
        header += qname;
      }
      header += " (";
      header += flags;
      header += ") ";
      if (!date.empty()) {
        header += date;
        header += ' ';
      }
      header += '{';
      header += std::to_string(n);
      header += "+}\r\n";
      write_all(dst, header);
      write_all(dst, body, n);
      rs.consume(n);
      ++messages;
      bytes += n;
      ++batch_messages;
      batch_bytes += n;
      if (!multi || batch_messages >= kBatchMessages || batch_bytes >= kBatchBytes) close_batch();
      std::string rest = rs.line();  // ")" closing the FETCH
      (void)rest;
    }
  }
  done_sending.store(true);
  // Wake the drainer when nothing is outstanding (it may be blocked in read): a NOOP answer.
  write_all(dst, "N NOOP\r\n");
  sent.fetch_add(1);
  drain.join();
  if (!failure.empty()) die("APPEND failed: " + failure);
  write_all(src, "z LOGOUT\r\n");
  write_all(dst, "z LOGOUT\r\n");
  ::close(src);
  ::close(dst);
  std::printf("copied %llu messages, %llu bytes\n",
              static_cast<unsigned long long>(messages),
              static_cast<unsigned long long>(bytes));
  return 0;
}
