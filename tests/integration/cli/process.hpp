#pragma once
// Runs the built `twinbox` binary (TWINBOX_BINARY) as a child process with bounded waits.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace twinbox::test {

struct ProcessResult {
  int status = -1;  ///< exit status; 128+signal when killed; -1 on timeout
  std::string out;
  std::string err;
  bool timed_out = false;
};

/// Runs `twinbox args…` to completion (killed after `timeout`). `env` entries "K=V" are added
/// to the environment; `input` is written to its stdin.
ProcessResult run_twinbox(const std::vector<std::string>& args,
                          std::chrono::milliseconds timeout = std::chrono::seconds(30),
                          const std::vector<std::string>& env = {});

/// Runs any program (argv[0] looked up in PATH) the same way.
ProcessResult run_program(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = std::chrono::seconds(30),
                          const std::vector<std::string>& env = {});

/// A long-running child (`twinbox serve`): its stdout is read line by line, stderr goes to a
/// file. Stopped with SIGTERM (then SIGKILL) by pid on destruction.
class Child {
 public:
  explicit Child(const std::vector<std::string>& args);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  /// The next stdout line, or nullopt at EOF / after `timeout`.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  /// SIGTERM, wait (bounded), SIGKILL if needed; returns the exit status.
  int stop();
  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] std::string stderr_text() const;

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string buffer_;
  std::string err_path_;
  std::optional<int> status_;
};

/// A unique temporary directory, removed on destruction.
struct TempDir {
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path;
  /// Writes `text` to path/name with `mode`; returns the full path.
  std::string write(const std::string& name, const std::string& text, unsigned mode = 0600) const;
};

/// A TCP port on 127.0.0.1 nothing listens on (bound, then closed).
unsigned short closed_port();

/// Splits text into lines (without the newline).
std::vector<std::string> lines_of(const std::string& text);

}  // namespace twinbox::test
