// The live progress display of `twinbox sync` in a real pseudo-terminal: the sync runs inside
// a private tmux server (its own socket in a temp dir), the test reads the screen with
// `tmux capture-pane` (bounded polling on the pane content) and checks that the per-mailbox
// and overall progress lines were shown while copying and that the final screen holds the
// per-mailbox lines and the summary, with the display erased. Without a terminal (pipes) the
// same run writes no control sequences and, with -v, plain one-line events.

#include <doctest/doctest.h>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <regex>
#include <memory>
#include <string>
#include <thread>

#include <twinbox/client/connect.hpp>
#include <twinbox/net/io.hpp>

#include "process.hpp"

namespace twinbox::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

/// `twinbox serve` with alice (lots of mail) and bob (empty).
struct BigServe {
  BigServe()
      : child({"serve", "--listen", "127.0.0.1:0", "--user", "alice:alice-pw", "--user",
               "bob:bob-pw"}) {
    auto line = child.read_line(15s);
    REQUIRE_MESSAGE(line.has_value(), "serve printed no port; stderr: " << child.stderr_text());
    port = static_cast<unsigned short>(std::stoi(*line));
  }
  Child child;
  unsigned short port = 0;
};

/// Appends `count` messages of ~`size` bytes to `mailbox` of alice, 100 per MULTIAPPEND.
void fill(unsigned short port, const std::string& mailbox, std::size_t count, std::size_t size) {
  client::EndpointOptions ep;
  ep.transport = client::Transport::Plain;
  ep.host = "127.0.0.1";
  ep.port = port;
  ep.credentials.username = "alice";
  ep.credentials.password = "alice-pw";
  auto session = client::connect(ep);
  REQUIRE(session.has_value());
  client::Session& s = **session;
  auto deadline = [] { return net::deadline_in(std::chrono::seconds(60)); };
  if (mailbox != "INBOX") REQUIRE(s.wait(s.create(mailbox), deadline()).has_value());
  std::string filler;
  while (filler.size() < size) filler += "The quick brown fox jumps over the lazy dog 0123456789.\r\n";
  for (std::size_t done = 0; done < count;) {
    std::vector<client::AppendMessage> batch;
    for (std::size_t i = 0; i < 100 && done < count; ++i, ++done) {
      client::AppendMessage m;
      // Owned by the session: `data` is a view and would point into a freed temporary.
      m.owned = std::make_shared<const std::string>(
          "From: alice@example.org\r\nSubject: message " + std::to_string(done) +
          "\r\nMessage-ID: <" + mailbox + "." + std::to_string(done) + "@progress.test>\r\n\r\n" +
          filler);
      batch.push_back(std::move(m));
    }
    REQUIRE(s.wait(s.append(mailbox, std::move(batch)), deadline()).has_value());
  }
  (void)s.wait(s.logout(), deadline());
}

std::string config(unsigned short port, const std::string& state) {
  auto side = [&](const char* name, const char* user) {
    return std::string("[") + name + "]\ntype = imap\ntls = none\nhost = 127.0.0.1\nport = " +
           std::to_string(port) + "\nusername = " + user + "\npassword = " + user + "-pw\n";
  };
  return "state = " + state + "\n" + side("local", "alice") + side("remote", "bob");
}

/// A tmux server of our own (socket in `dir`), killed at the end by its socket.
class Tmux {
 public:
  explicit Tmux(const std::string& dir) : socket_(dir + "/tmux.sock") {}
  ~Tmux() { (void)run({"kill-server"}); }
  ProcessResult run(std::vector<std::string> args) const {
    args.insert(args.begin(), {"tmux", "-S", socket_, "-f", "/dev/null"});
    return run_program(args, 15s);
  }
  std::string screen() const { return run({"capture-pane", "-p", "-t", "t"}).out; }

 private:
  std::string socket_;
};

/// "12/3000 msgs" of a progress line: {done, total}, or {0, 0} when absent.
std::pair<unsigned long, unsigned long> msgs_of(const std::string& line) {
  static const std::regex re(R"(([0-9]+)/([0-9]+) msgs)");
  std::smatch m;
  if (!std::regex_search(line, m, re)) return {0, 0};
  return {std::stoul(m[1]), std::stoul(m[2])};
}

TEST_CASE("progress display in a pseudo-terminal (tmux): per mailbox, overall, then summary") {
  REQUIRE_MESSAGE(run_program({"tmux", "-V"}).status == 0, "tmux is needed (apt-get install tmux)");
  BigServe serve;
  // ~60 MB to copy, so the copy lasts long enough to be seen however fast the machine is.
  fill(serve.port, "INBOX", 2000, 24 * 1024);
  fill(serve.port, "Archive", 500, 24 * 1024);
  TempDir dir;
  const std::string file = dir.write("c.conf", config(serve.port, dir.path + "/s.db"));
  Tmux tmux(dir.path);
  const std::string command = std::string(TWINBOX_BINARY) + " sync --config " + file +
                              "; echo twinbox-exit=$?; exec cat";
  auto started = tmux.run({"new-session", "-d", "-s", "t", "-x", "200", "-y", "50", command});
  REQUIRE_MESSAGE(started.status == 0, started.err);

  // Bounded polling of the screen until the sync has ended.
  bool mailbox_line = false, total_line = false, midway = false;
  std::string last_mailbox_frame, final_screen;
  const auto deadline = Clock::now() + 150s;
  while (Clock::now() < deadline) {
    const std::string screen = tmux.screen();
    if (contains(screen, "twinbox-exit=")) {
      final_screen = screen;
      break;
    }
    bool frame_mailbox = false;
    for (const auto& line : lines_of(screen)) {
      const bool bar = contains(line, "] ") && contains(line, "msgs");
      if (bar && (line.rfind("INBOX ", 0) == 0 || line.rfind("Archive ", 0) == 0)) {
        frame_mailbox = mailbox_line = true;
      }
      if (bar && line.rfind("total ", 0) == 0 && contains(line, " mailboxes")) {
        total_line = true;
        auto [done, total] = msgs_of(line);
        if (total == 2500 && done < total && frame_mailbox) midway = true;
      }
    }
    if (frame_mailbox) last_mailbox_frame = screen;
    std::this_thread::sleep_for(20ms);  // poll interval of the bounded wait, not a sync
  }
  REQUIRE_MESSAGE(!final_screen.empty(), "the sync did not end; screen:\n" << tmux.screen());
  CHECK_MESSAGE(contains(final_screen, "twinbox-exit=0"), final_screen);
  CHECK_MESSAGE(mailbox_line, "no per-mailbox progress line was seen");
  CHECK_MESSAGE(total_line, "no overall progress line was seen");
  CHECK_MESSAGE(midway, "no frame showed a mailbox and the overall line midway; last frame:\n"
                            << last_mailbox_frame);
  // The display is gone; what stays is the result of the run.
  CHECK_MESSAGE(contains(final_screen, "INBOX: local <- 0 copied"), final_screen);
  CHECK_MESSAGE(contains(final_screen, "remote <- 2000 copied"), final_screen);
  CHECK_MESSAGE(contains(final_screen, "Archive (created): "), final_screen);
  CHECK_MESSAGE(contains(final_screen, "synced: "), final_screen);
  for (const auto& line : lines_of(final_screen)) {
    CHECK_MESSAGE(line.rfind("total ", 0) != 0, "progress line left on the screen: " << line);
    CHECK(line.find('\x1b') == std::string::npos);
  }
}

TEST_CASE("without a terminal: no control sequences; -v one line per step, -vv per message") {
  BigServe serve;
  fill(serve.port, "INBOX", 30, 2048);
  TempDir dir;
  const std::string file = dir.write("c.conf", config(serve.port, dir.path + "/s.db"));
  auto vv = run_twinbox({"sync", "--config", file, "-vv"}, 60s, {"TERM=xterm"});
  REQUIRE_MESSAGE(vv.status == 0, vv.out << vv.err);
  CHECK(vv.err.find('\x1b') == std::string::npos);
  CHECK(vv.out.find('\x1b') == std::string::npos);
  CHECK_MESSAGE(contains(vv.out, "plan: 1 mailbox to sync: copy 0 to local, 30 to remote"), vv.out);
  CHECK_MESSAGE(contains(vv.out, "INBOX: syncing: copy 0 to local, 30 to remote"), vv.out);
  std::size_t copied = 0;
  for (const auto& line : lines_of(vv.out)) {
    if (line.rfind("INBOX: copied local UID ", 0) == 0 && contains(line, " to remote UID ")) ++copied;
  }
  CHECK(copied == 30);

  fill(serve.port, "INBOX", 1, 100);  // one more (Message-ID INBOX.0 again: a new message)
  auto v = run_twinbox({"sync", "--config", file, "-v"}, 60s, {"TERM=xterm"});
  REQUIRE_MESSAGE(v.status == 0, v.out << v.err);
  CHECK_MESSAGE(contains(v.out, "INBOX: syncing: copy 0 to local, 1 to remote"), v.out);
  CHECK(!contains(v.out, "INBOX: copied "));  // message lines only with -vv
  CHECK(v.err.find('\x1b') == std::string::npos);
}

}  // namespace
}  // namespace twinbox::test
