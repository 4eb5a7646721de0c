#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include <twinbox/net/io.hpp>
#include <twinbox/net/tunnel.hpp>

#include "fd_stream.hpp"

extern char** environ;

namespace twinbox::net {

using detail::errno_text;

namespace {

constexpr std::string_view kShellMeta = "|&;<>()$`*?[]~{}#\n";

std::string status_text(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "stopped (status " + std::to_string(status) + ")";
}

class TunnelStream final : public detail::FdStream {
 public:
  TunnelStream(int fd, pid_t pid, std::string command, std::chrono::milliseconds grace)
      : FdStream(fd, "tunnel `" + command + "`"), pid_(pid), grace_(grace) {}
  ~TunnelStream() override { TunnelStream::close(); }

  void close() override {
    close_fd();
    if (reaped_) return;
    if (wait_exit(grace_)) return;
    ::kill(pid_, SIGTERM);
    if (wait_exit(grace_)) return;
    ::kill(pid_, SIGKILL);
    wait_exit(std::chrono::milliseconds(-1));
  }

 protected:
  Error eof_error() override {
    // The child closed its stdout; it normally exits right after. Give it the grace period
    // so the message can carry its status, but never hang on a child that lingers.
    std::string what = wait_exit(grace_) ? status_text(status_) : std::string("is still running");
    return fail(Errc::Closed, Scope::Connection, description_ + " closed the connection: the command " + what);
  }

 private:
  /// Reaps the child if it exits within `bound` (negative = wait forever).
  bool wait_exit(std::chrono::milliseconds bound) {
    if (reaped_) return true;
    if (try_reap(bound.count() < 0 ? 0 : WNOHANG)) return true;
    if (bound.count() == 0) return false;
    const Deadline deadline = deadline_in(bound);
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd >= 0) {
      pollfd p{.fd = pidfd, .events = POLLIN, .revents = 0};
      int rc;
      do {
        rc = ::poll(&p, 1, poll_timeout_ms(deadline));
      } while (rc < 0 && errno == EINTR);
      ::close(pidfd);
      return try_reap(WNOHANG);
    }
    // No pidfd (old kernel): poll waitpid with short naps, still bounded.
    while (Clock::now() < deadline) {
      timespec nap{0, 5'000'000};
      ::nanosleep(&nap, nullptr);
      if (try_reap(WNOHANG)) return true;
    }
    return false;
  }

  bool try_reap(int flags) {
    for (;;) {
      pid_t r = ::waitpid(pid_, &status_, flags);
      if (r == pid_) {
        reaped_ = true;
        return true;
      }
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {  // ECHILD: someone else reaped it (a SIGCHLD=SIG_IGN parent)
        reaped_ = true;
        status_ = 0;
        return true;
      }
      return false;
    }
  }

  pid_t pid_;
  std::chrono::milliseconds grace_;
  int status_ = 0;
  bool reaped_ = false;
};

}  // namespace

std::optional<std::vector<std::string>> split_command(std::string_view command) {
  std::vector<std::string> argv;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (std::size_t i = 0; i < command.size(); ++i) {
    char c = command[i];
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < command.size() &&
                 (command[i + 1] == '"' || command[i + 1] == '\\')) {
        cur += command[++i];
      } else {
        cur += c;
      }
      continue;
    }
    if (kShellMeta.find(c) != std::string_view::npos) return std::nullopt;
    if (c == ' ' || c == '\t') {
      if (in_word) argv.push_back(std::move(cur));
      cur.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '\\') {
      if (i + 1 >= command.size()) return std::nullopt;
      cur += command[++i];
    } else {
      cur += c;
    }
  }
  if (quote != 0) return std::nullopt;
  if (in_word) argv.push_back(std::move(cur));
  return argv;
}

Result<StreamPtr> spawn_tunnel(std::string_view command, const TunnelOptions& options) {
  std::vector<std::string> args;
  if (auto split = split_command(command)) {
    args = std::move(*split);
  } else {
    args = {"/bin/sh", "-c", std::string(command)};
  }
  if (args.empty())
    return fail(Errc::Config, Scope::Connection, "the tunnel command is empty");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return fail(Errc::Io, Scope::Connection, "socketpair for the tunnel failed: " + errno_text(errno));
  int err_fd = options.stderr_fd;
  int devnull = -1;
  if (err_fd < 0) {
    devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
    err_fd = devnull;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
  posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
  if (err_fd >= 0) posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  // The child gets default signal handling (a parent ignoring SIGPIPE must not leak it).
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t all;
  sigfillset(&all);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (devnull >= 0) ::close(devnull);
  ::close(sv[1]);
  if (rc != 0) {
    ::close(sv[0]);
    return fail(Errc::Io, Scope::Connection,
                "cannot run tunnel `" + std::string(command) + "`: " + errno_text(rc));
  }
  detail::make_nonblocking_cloexec(sv[0]);
  return StreamPtr(std::make_unique<TunnelStream>(sv[0], pid, std::string(command), options.grace));
}

}  // namespace twinbox::net
