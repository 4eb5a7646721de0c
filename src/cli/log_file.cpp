#include "log_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace twinbox::cli {

std::string log_line(std::string_view text, long long unix_ms, long pid) {
  const std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ twinbox[%ld]: ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                unix_ms % 1000, pid);
  std::string line = stamp;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    line += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  return line;
}

Result<LogFile> LogFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0) {
    return fail(Errc::Config, Scope::Fatal,
                "--log-file " + path + ": cannot open it for appending: " + std::strerror(errno) +
                    "; give a file in a writable directory");
  }
  return LogFile(fd);
}

LogFile::LogFile(LogFile&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }

LogFile::~LogFile() {
  if (fd_ >= 0) ::close(fd_);
}

void LogFile::write(std::string_view text) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  std::string line =
      log_line(text, std::chrono::duration_cast<std::chrono::milliseconds>(now).count(),
               static_cast<long>(::getpid()));
  line += '\n';
  std::lock_guard lock(mu_);
  std::size_t off = 0;
  while (off < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<std::size_t>(n);
  }
}

}  // namespace twinbox::cli
