#include "progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "report.hpp"

namespace twinbox::cli {
namespace {

using Clock = ProgressState::Clock;

constexpr std::size_t kLabel = 24;  // label column
constexpr std::size_t kBar = 20;    // bar cells

std::string clock_time(double seconds) {
  const auto s = static_cast<long long>(seconds < 0 ? 0 : seconds);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
  }
  return buf;
}

std::string label(std::string_view text) {
  std::string l(text);
  if (l.size() > kLabel - 1) l = l.substr(0, kLabel - 4) + "...";
  l.resize(kLabel, ' ');
  return l;
}

/// "[#######-------------]  35%" from done/total (bytes when known, else messages).
std::string bar(double fraction) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  const auto fill = static_cast<std::size_t>(fraction * static_cast<double>(kBar));
  char pct[8];
  std::snprintf(pct, sizeof pct, "%3d%%", static_cast<int>(fraction * 100.0));
  return "[" + std::string(fill, '#') + std::string(kBar - fill, '-') + "] " + pct;
}

double fraction(std::uint64_t msgs, std::uint64_t msgs_total, std::uint64_t bytes,
                std::uint64_t bytes_total) {
  if (bytes_total > 0) return static_cast<double>(bytes) / static_cast<double>(bytes_total);
  if (msgs_total > 0) return static_cast<double>(msgs) / static_cast<double>(msgs_total);
  return 1.0;
}

std::uint64_t other_changes(const sync::PlanTotals& t) {
  return t.flags[Side::Local] + t.flags[Side::Remote] + t.expunges[Side::Local] +
         t.expunges[Side::Remote];
}

std::string copies(std::uint64_t msgs, std::uint64_t total, std::uint64_t bytes,
                   std::uint64_t total_bytes) {
  return std::to_string(msgs) + "/" + std::to_string(total) + " msgs  " + format_bytes(bytes) +
         " of " + format_bytes(total_bytes);
}

std::string mailbox_line(const ProgressState& s) {
  const sync::PlanTotals& p = s.mailbox_plan;
  std::string line = label(s.mailbox);
  if (p.all_copies() > 0) {
    line += bar(fraction(s.mailbox_msgs, p.all_copies(), s.mailbox_bytes, p.all_bytes())) + "  " +
            copies(s.mailbox_msgs, p.all_copies(), s.mailbox_bytes, p.all_bytes());
  }
  if (const std::uint64_t other = other_changes(p); other > 0) {
    line += (p.all_copies() > 0 ? "  " : "") + std::to_string(std::min(s.mailbox_changes, other)) +
            "/" + std::to_string(other) + " other changes";
  }
  return line;
}

std::string total_line(const ProgressState& s, Clock::time_point now) {
  const double elapsed = std::chrono::duration<double>(now - s.start).count();
  const std::size_t mailboxes = std::max(s.run.mailboxes, s.mailboxes_done);
  std::string line = label("total " + std::to_string(s.mailboxes_done) + "/" +
                           std::to_string(mailboxes) + " mailboxes");
  const std::uint64_t total_msgs = std::max(s.run.all_copies(), s.msgs);
  const std::uint64_t total_bytes = std::max(s.run.all_bytes(), s.bytes);
  line += bar(fraction(s.msgs, total_msgs, s.bytes, total_bytes)) + "  " +
          copies(s.msgs, total_msgs, s.bytes, total_bytes);
  const double copying = std::chrono::duration<double>(now - s.planned_at).count();
  if (s.bytes > 0 && copying > 0.5) {
    const double rate = static_cast<double>(s.bytes) / copying;
    line += "  " + format_bytes(static_cast<std::uint64_t>(rate)) + "/s";
    if (total_bytes > s.bytes) {
      line += "  ETA " + clock_time(static_cast<double>(total_bytes - s.bytes) / rate);
    }
  }
  return line + "  " + clock_time(elapsed);
}

std::size_t terminal_width(int fd) {
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 80;
}

}  // namespace

std::vector<std::string> render_progress(const ProgressState& s, std::size_t width,
                                         Clock::time_point now) {
  std::vector<std::string> lines;
  if (!s.planned) {
    lines.push_back("reading both sides...  " +
                    clock_time(std::chrono::duration<double>(now - s.start).count()));
  } else {
    if (!s.mailbox.empty()) lines.push_back(mailbox_line(s));
    lines.push_back(total_line(s, now));
  }
  for (auto& l : lines) {
    if (width > 1 && l.size() > width - 1) l.resize(width - 1);
  }
  return lines;
}

bool progress_wanted(bool quiet, bool json, bool debug) {
  if (quiet || json || debug || ::isatty(STDERR_FILENO) != 1) return false;
  const char* term = std::getenv("TERM");
  return term != nullptr && *term != '\0' && std::strcmp(term, "dumb") != 0;
}

ProgressDisplay::ProgressDisplay(int fd) : fd_(fd) {
  state_.start = Clock::now();
  thread_ = std::thread([this] { ticker(); });
}

ProgressDisplay::~ProgressDisplay() { finish(); }

void ProgressDisplay::run_planned(const sync::PlanTotals& totals) {
  std::lock_guard lock(mu_);
  state_.planned = true;
  state_.planned_at = Clock::now();
  state_.run = totals;
  draw_locked(true);
}

void ProgressDisplay::mailbox_started(std::string_view mailbox, const sync::PlanTotals& plan) {
  std::lock_guard lock(mu_);
  state_.mailbox = mailbox;
  state_.mailbox_plan = plan;
  state_.mailbox_msgs = state_.mailbox_bytes = state_.mailbox_changes = 0;
  draw_locked(false);
}

void ProgressDisplay::copied(std::uint64_t bytes) {
  std::lock_guard lock(mu_);
  ++state_.msgs;
  ++state_.mailbox_msgs;
  state_.bytes += bytes;
  state_.mailbox_bytes += bytes;
}

void ProgressDisplay::changed() {
  std::lock_guard lock(mu_);
  ++state_.changes;
  ++state_.mailbox_changes;
}

void ProgressDisplay::mailbox_finished() {
  std::lock_guard lock(mu_);
  ++state_.mailboxes_done;
  state_.mailbox.clear();
}

void ProgressDisplay::print(std::ostream& os, std::string_view line) {
  std::lock_guard lock(mu_);
  erase_locked();
  os << line << '\n' << std::flush;
  // Throttled: with -vv thousands of lines may pass; the ticker redraws within 200 ms anyway.
  if (!stop_) draw_locked(false);
}

void ProgressDisplay::finish() {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    stop_ = true;
    erase_locked();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ProgressDisplay::ticker() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(200));
    if (!stop_) draw_locked(true);
  }
}

void ProgressDisplay::draw_locked(bool force) {
  const auto now = Clock::now();
  // Events may come thousands a second: redraw at most every 50 ms unless forced.
  if (!force && now - last_draw_ < std::chrono::milliseconds(50)) return;
  last_draw_ = now;
  std::string out;
  const auto lines = render_progress(state_, terminal_width(fd_), now);
  // Back to the first line of the previous frame, then each line cleared and rewritten.
  out += '\r';
  for (std::size_t i = 1; i < drawn_lines_; ++i) out += "\x1b[A";
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += '\n';
    out += "\x1b[K" + lines[i];
  }
  // A shorter frame than the last: clear the lines left below (the cursor stays on the last
  // line of the block, where the next frame and erase_locked() expect it).
  for (std::size_t i = lines.size(); i < drawn_lines_; ++i) out += "\n\x1b[K";
  drawn_lines_ = std::max(drawn_lines_, lines.size());
  write_fd(out);
}

void ProgressDisplay::erase_locked() {
  if (drawn_lines_ == 0) return;
  std::string out = "\r\x1b[K";
  for (std::size_t i = 1; i < drawn_lines_; ++i) out += "\x1b[A\x1b[K";
  drawn_lines_ = 0;
  write_fd(out);
}

void ProgressDisplay::write_fd(const std::string& bytes) const {
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a terminal that went away: the display is best effort
    off += static_cast<std::size_t>(n);
  }
}

}  // namespace twinbox::cli
