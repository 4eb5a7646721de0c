// The live progress display of `twinbox sync` in a real pseudo-terminal: the sync runs inside
// a private tmux server (its own socket in a temp dir). The test reads the screen with
// `tmux capture-pane` (bounded polling on the pane content) and, through `tmux pipe-pane`,
// every byte written to the terminal (each frame the display drew, also those drawn between
// two captures). It checks that the per-mailbox and overall progress lines were shown while
// copying, with bytes, rate and ETA, that the final screen holds the per-mailbox lines and the
// summary with the display erased, and that --quiet draws nothing. Without a terminal (pipes)
// the same run writes no control sequences and, with -v, plain one-line events.

#include <doctest/doctest.h>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <regex>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <twinbox/client/connect.hpp>
#include <twinbox/net/io.hpp>

#include "process.hpp"
#include "support/fault_proxy.hpp"

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

/// alice as the local side, bob (on `remote_port`: the server, or a proxy to it) remote.
std::string config(unsigned short port, const std::string& state, unsigned short remote_port = 0) {
  auto side = [&](const char* name, const char* user, unsigned short p) {
    return std::string("[") + name + "]\ntype = imap\ntls = none\nhost = 127.0.0.1\nport = " +
           std::to_string(p) + "\nusername = " + user + "\npassword = " + user + "-pw\n";
  };
  return "state = " + state + "\n" + side("local", "alice", port) +
         side("remote", "bob", remote_port != 0 ? remote_port : port);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// A tmux server of our own (socket in `dir`), killed at the end by its socket. Each session
/// runs one twinbox command line, then prints "twinbox-exit=STATUS" and stays open; all it
/// writes to the terminal is also appended to dir/NAME.log.
class Tmux {
 public:
  explicit Tmux(std::string dir) : dir_(std::move(dir)), socket_(dir_ + "/tmux.sock") {}
  ~Tmux() { (void)run({"kill-server"}); }
  ProcessResult run(std::vector<std::string> args) const {
    args.insert(args.begin(), {"tmux", "-S", socket_, "-f", "/dev/null"});
    return run_program(args, 15s);
  }
  /// Starts `twinbox ARGS` in session `name` of 200x50 cells. The command waits for a key
  /// until pipe-pane is attached, so the log holds its output from the first byte.
  void start(const std::string& name, const std::string& args) const {
    const std::string command = "read _; " + std::string(TWINBOX_BINARY) + " " + args +
                                "; echo twinbox-exit=$?; exec cat";
    auto started = run({"new-session", "-d", "-s", name, "-x", "200", "-y", "50", command});
    REQUIRE_MESSAGE(started.status == 0, started.err);
    auto piped = run({"pipe-pane", "-o", "-t", name, "cat >> " + log_path(name)});
    REQUIRE_MESSAGE(piped.status == 0, piped.err);
    REQUIRE(run({"send-keys", "-t", name, "Enter"}).status == 0);
  }
  std::string screen(const std::string& name) const {
    return run({"capture-pane", "-p", "-t", name}).out;
  }
  [[nodiscard]] std::string log_path(const std::string& name) const {
    return dir_ + "/" + name + ".log";
  }
  /// The terminal output of `name` once it holds the exit line (bounded wait), else "".
  std::string finished_log(const std::string& name, Clock::duration bound) const {
    const auto deadline = Clock::now() + bound;
    while (Clock::now() < deadline) {
      std::string log = read_file(log_path(name));
      if (contains(log, "twinbox-exit=")) return log;
      std::this_thread::sleep_for(20ms);  // poll interval of the bounded wait, not a sync
    }
    return "";
  }

 private:
  std::string dir_;
  std::string socket_;
};

/// "12/3000 msgs" of a progress line: {done, total}, or {0, 0} when absent.
std::pair<unsigned long, unsigned long> msgs_of(const std::string& line) {
  static const std::regex re(R"(([0-9]+)/([0-9]+) msgs)");
  std::smatch m;
  if (!std::regex_search(line, m, re)) return {0, 0};
  return {std::stoul(m[1]), std::stoul(m[2])};
}

/// Every match of `re` in `text`, whole match first.
std::vector<std::smatch> matches(const std::string& text, const std::regex& re) {
  std::vector<std::smatch> all;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it) {
    all.push_back(*it);
  }
  return all;
}

TEST_CASE("progress display in a pseudo-terminal (tmux): per mailbox, overall, then summary") {
  REQUIRE_MESSAGE(run_program({"tmux", "-V"}).status == 0, "tmux is needed (apt-get install tmux)");
  BigServe serve;
  // ~60 MB to copy to bob, whose connection goes through a proxy that holds every chunk
  // 250 ms: each round trip to bob takes at least half a second, so the display, redrawn
  // every 200 ms, draws frames while a mailbox is copied and, between the two mailboxes
  // (bob's CREATE and SELECT of the second), frames with a rate (shown after 0.5 s of
  // copying) and an ETA (shown while bytes remain), however fast the machine is.
  fill(serve.port, "INBOX", 2000, 24 * 1024);
  fill(serve.port, "Archive", 500, 24 * 1024);
  Faults slow;
  slow.delay = 250ms;
  FaultProxy proxy(serve.port, slow);
  TempDir dir;
  const std::string file =
      dir.write("c.conf", config(serve.port, dir.path + "/s.db", proxy.port()));
  Tmux tmux(dir.path);
  tmux.start("t", "sync --config " + file);

  // Bounded polling of the screen until the sync has ended.
  bool mailbox_line = false, total_line = false, midway = false;
  std::string last_mailbox_frame, final_screen;
  const auto deadline = Clock::now() + 150s;
  while (Clock::now() < deadline) {
    const std::string screen = tmux.screen("t");
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
  REQUIRE_MESSAGE(!final_screen.empty(), "the sync did not end; screen:\n" << tmux.screen("t"));
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

  // Every frame drawn, from the terminal output: bytes done and planned on both lines; on
  // the overall line, the rate and the ETA while bytes remain.
  const std::string log = tmux.finished_log("t", 15s);
  REQUIRE_MESSAGE(!log.empty(), "no terminal output logged");
  const std::string bar = R"(\[[#-]{20}\] +[0-9]+%  )";
  const std::string bytes = R"(([0-9.]+) (B|KiB|MiB))";
  static const std::regex mailbox_re("(INBOX|Archive) +" + bar + "[0-9]+/(2000|500) msgs  " +
                                     bytes + " of " + bytes);
  static const std::regex total_re("total [0-9]+/[0-9]+ mailboxes +" + bar +
                                   "([0-9]+)/2500 msgs  " + bytes + " of " + bytes + "  " + bytes +
                                   "/s  ETA ([0-9]+):([0-9]{2})  [0-9]+:[0-9]{2}");
  CHECK_MESSAGE(!matches(log, mailbox_re).empty(), "no mailbox line with bytes in:\n" << log);
  const auto frames = matches(log, total_re);
  CHECK_MESSAGE(!frames.empty(), "no overall line with bytes, rate and ETA in:\n" << log);
  for (const auto& f : frames) {
    INFO(f[0].str());
    CHECK(std::stoul(f[1]) < 2500);  // an ETA only while messages remain
    CHECK(f[5] == "MiB");            // 2500 messages of 24 KiB: about 59 MiB planned
    CHECK(std::stod(f[4]) > 50.0);
    CHECK(std::stod(f[4]) < 70.0);
    CHECK(std::stod(f[6]) > 0.0);  // the rate
    CHECK(std::stoi(f[9]) < 60);   // ETA seconds
  }
}

TEST_CASE("--quiet on a terminal: no progress display, no output on success") {
  REQUIRE_MESSAGE(run_program({"tmux", "-V"}).status == 0, "tmux is needed (apt-get install tmux)");
  BigServe serve;
  fill(serve.port, "INBOX", 300, 4096);
  TempDir dir;
  Tmux tmux(dir.path);
  const std::string quiet_conf = dir.write("q.conf", config(serve.port, dir.path + "/q.db"));
  tmux.start("quiet", "sync --quiet --config " + quiet_conf);
  const std::string quiet = tmux.finished_log("quiet", 120s);
  REQUIRE_MESSAGE(!quiet.empty(), "the quiet sync did not end; screen:\n" << tmux.screen("quiet"));
  CHECK_MESSAGE(contains(quiet, "twinbox-exit=0"), quiet);
  CHECK_MESSAGE(quiet.find('\x1b') == std::string::npos, "control sequences written:\n" << quiet);
  CHECK_MESSAGE(!contains(quiet, "msgs"), quiet);
  CHECK_MESSAGE(!contains(quiet, "reading both sides"), quiet);
  // Only the key pressed to start it and the exit line: nothing from twinbox.
  CHECK_MESSAGE(quiet.substr(0, quiet.find("twinbox-exit=")).find_first_not_of("\r\n") ==
                    std::string::npos,
                quiet);

  // The same terminal without --quiet (a second initial sync with its own state, which pairs
  // the messages already on both sides) does draw the display: the check above can fail.
  const std::string loud_conf = dir.write("l.conf", config(serve.port, dir.path + "/l.db"));
  tmux.start("loud", "sync --config " + loud_conf);
  const std::string loud = tmux.finished_log("loud", 120s);
  REQUIRE_MESSAGE(!loud.empty(), "the sync did not end; screen:\n" << tmux.screen("loud"));
  CHECK_MESSAGE(contains(loud, "twinbox-exit=0"), loud);
  CHECK_MESSAGE(contains(loud, "\x1b[K"), loud);
  CHECK_MESSAGE(contains(loud, "total "), loud);
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
