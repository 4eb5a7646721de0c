#pragma once
// `--log-file FILE`: the events of a run appended to a file, one line each, prefixed with a UTC
// timestamp and the process id. Private to the cli layer.
//
// The file is created with mode 0600 (an existing file keeps its mode) and opened O_APPEND, so
// several runs (cron, a watch service) may share it; each line is one write(2). Lines hold no
// secrets (the protocol trace of --debug never goes here) and no control characters: anything
// below 0x20 becomes a space, so no terminal colour or cursor sequence can reach the file.

#include <mutex>
#include <string>
#include <string_view>

#include <twinbox/base/result.hpp>

namespace twinbox::cli {

class LogFile {
 public:
  /// Errc::Config (exit 3) naming the file and the reason when it cannot be opened.
  static Result<LogFile> open(const std::string& path);
  LogFile(LogFile&& o) noexcept;
  LogFile& operator=(LogFile&&) = delete;
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;
  ~LogFile();

  /// Appends "2026-12-06T01:02:03.456Z twinbox[PID]: <text>\n". Write errors are ignored (a
  /// full disk must not stop a sync); thread-safe.
  void write(std::string_view text);

 private:
  explicit LogFile(int fd) : fd_(fd) {}
  int fd_ = -1;
  std::mutex mu_;
};

/// The line as written, without the newline (exposed for tests).
std::string log_line(std::string_view text, long long unix_ms, long pid);

}  // namespace twinbox::cli
