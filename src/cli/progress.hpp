#pragma once
// The live progress display of `twinbox sync` on a terminal: the current mailbox and the whole
// run (messages and bytes copied of those planned, rate, ETA), redrawn in place on stderr a
// few times a second. Private to the cli layer.
//
// Used only when stderr is a TTY (and not --quiet, --json, --debug, TERM=dumb): see
// progress_wanted(). Other output written while it is shown goes through print(), which
// erases the block, writes the line and redraws, so lines never interleave with the display.
// finish() erases it for good; what stays on the screen is the usual per-mailbox lines and
// summary.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <twinbox/sync/events.hpp>

namespace twinbox::cli {

/// What the display knows; fed by the sync events, rendered by render_progress().
struct ProgressState {
  using Clock = std::chrono::steady_clock;
  Clock::time_point start;           ///< the run began
  bool planned = false;              ///< run totals known (before that: "reading both sides")
  Clock::time_point planned_at;      ///< copying began: the rate counts from here
  sync::PlanTotals run;              ///< planned for the whole run
  std::uint64_t msgs = 0, bytes = 0;  ///< copied so far, whole run
  std::uint64_t changes = 0;         ///< flag changes, expunges and moves done, whole run
  std::size_t mailboxes_done = 0;
  std::string mailbox;               ///< current mailbox ("" = none)
  sync::PlanTotals mailbox_plan;
  std::uint64_t mailbox_msgs = 0, mailbox_bytes = 0, mailbox_changes = 0;
};

/// The lines of the display for a terminal `width` columns wide (each at most width-1 long).
std::vector<std::string> render_progress(const ProgressState& s, std::size_t width,
                                         ProgressState::Clock::time_point now);

/// Whether a sync with these output options gets the display: stderr a TTY, TERM not dumb.
bool progress_wanted(bool quiet, bool json, bool debug);

class ProgressDisplay {
 public:
  /// Draws to file descriptor `fd` (a terminal); a thread redraws every 200 ms until finish().
  explicit ProgressDisplay(int fd);
  ~ProgressDisplay();
  ProgressDisplay(const ProgressDisplay&) = delete;
  ProgressDisplay& operator=(const ProgressDisplay&) = delete;

  void run_planned(const sync::PlanTotals& totals);
  void mailbox_started(std::string_view mailbox, const sync::PlanTotals& plan);
  void copied(std::uint64_t bytes);
  void changed();  ///< a flag change, expunge or move
  void mailbox_finished();

  /// Writes `line` to `os` above the display (erase, write, redraw).
  void print(std::ostream& os, std::string_view line);
  /// Stops redrawing and erases the display. Idempotent.
  void finish();

 private:
  void draw_locked(bool force);
  void erase_locked();
  void write_fd(const std::string& bytes) const;
  void ticker();

  int fd_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  ProgressState state_;
  std::size_t drawn_lines_ = 0;
  ProgressState::Clock::time_point last_draw_{};
  std::thread thread_;
};

}  // namespace twinbox::cli
