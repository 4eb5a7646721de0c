#include "support/dovecot.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#ifndef TWINBOX_SOURCE_DIR
#error "TWINBOX_SOURCE_DIR must be defined by the build"
#endif

namespace twinbox::test {
namespace {

struct CommandOutput {
  int status = -1;  ///< exit code, or 128 + signal
  std::string out;
  std::string err;
};

/// Closes every descriptor from 3 up: children must not inherit the test's sockets and pipes
/// (a daemonized Dovecot would keep them open for its whole life). Async-signal-safe.
void close_inherited_fds() {
  if (::close_range(3, ~0U, 0) == 0) {
    return;
  }
  const long max = ::sysconf(_SC_OPEN_MAX);
  for (long fd = 3; fd < (max > 0 && max < 65536 ? max : 65536); ++fd) {
    ::close(static_cast<int>(fd));
  }
}

std::vector<char*> to_argv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  return argv;
}

/// Runs argv[0] (a path) with stdin from /dev/null, collecting stdout and stderr; kills it
/// when it runs longer than `timeout`.
Result<CommandOutput> run_command(std::vector<std::string> args, std::chrono::seconds timeout) {
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    return fail(Errc::Io, Scope::Fatal, std::string("pipe: ") + std::strerror(errno));
  }
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return fail(Errc::Io, Scope::Fatal, std::string("pipe: ") + std::strerror(errno));
  }
  auto argv = to_argv(args);
  const pid_t pid = ::fork();
  if (pid < 0) {
    return fail(Errc::Io, Scope::Fatal, std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    const int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    close_inherited_fds();
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  CommandOutput result;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  int open_fds = 2;
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    const int n = ::poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) {
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) {
        continue;
      }
      char buf[4096];
      const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) {
      ::close(f.fd);
    }
  }
  if (timed_out) {
    ::kill(pid, SIGKILL);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return fail(Errc::Timeout, Scope::Fatal,
                args[0] + " " + (args.size() > 1 ? args[1] : "") + " did not finish within " +
                    std::to_string(timeout.count()) + " s; stderr: " + result.err);
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
    s.pop_back();
  }
  return s;
}

bool keep_dirs() {
  const char* keep = std::getenv("TWINBOX_KEEP_TEST_DIRS");
  return keep != nullptr && std::string(keep) == "1";
}

Result<std::string> make_temp_dir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                      "/twinbox-dovecot-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    return fail(Errc::Io, Scope::Fatal,
                "mkdtemp(" + templ + "): " + std::strerror(errno) + "; set TMPDIR to a writable dir");
  }
  return templ;
}

/// Parses "imap=N imaps=N".
bool parse_ports(const std::string& line, std::uint16_t& imap, std::uint16_t& imaps) {
  std::istringstream in(line);
  std::string kv;
  while (in >> kv) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) {
      return false;
    }
    const unsigned long port = std::strtoul(kv.c_str() + eq + 1, nullptr, 10);
    if (port == 0 || port > 65535) {
      return false;
    }
    const std::string key = kv.substr(0, eq);
    if (key == "imap") {
      imap = static_cast<std::uint16_t>(port);
    } else if (key == "imaps") {
      imaps = static_cast<std::uint16_t>(port);
    }
  }
  return imap != 0 && imaps != 0;
}

/// Forks a process that waits for EOF on a pipe whose only write end this process holds
/// (close-on-exec), then stops Dovecot and removes the directory. It thus runs when the
/// destructor closes the pipe, and also when this process dies any other way.
bool spawn_watcher(const std::string& dir, int& write_fd, int& pid_out) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return false;
  }
  std::vector<std::string> args = {
      "/bin/sh", "-c",
      "\"$1\" stop --fast \"$2\" >/dev/null 2>&1; [ \"$3\" = keep ] || rm -rf \"$2\"",
      "dovecot-watcher", dovecot_script(), dir, keep_dirs() ? "keep" : "remove"};
  auto argv = to_argv(args);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return false;
  }
  if (pid == 0) {
    ::setsid();  // outlive a Ctrl-C sent to the test's process group
    ::dup2(fds[0], 0);
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    close_inherited_fds();
    char c;
    for (;;) {
      const ssize_t r = ::read(0, &c, 1);
      if (r == 0 || (r < 0 && errno != EINTR)) {
        break;
      }
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[0]);
  write_fd = fds[1];
  pid_out = pid;
  return true;
}

}  // namespace

std::string dovecot_script() {
  const char* env = std::getenv("TWINBOX_DOVECOT_SH");
  if (env != nullptr && *env != '\0') {
    return env;
  }
  return std::string(TWINBOX_SOURCE_DIR) + "/scripts/dovecot.sh";
}

Result<DovecotInstance> DovecotInstance::start(const DovecotOptions& options) {
  if (::access("/usr/sbin/dovecot", X_OK) != 0) {
    return fail(Errc::Config, Scope::Fatal,
                "Dovecot is not installed (/usr/sbin/dovecot missing): integration tests need "
                "Debian's dovecot-imapd: apt-get install dovecot-imapd");
  }
  auto dir = make_temp_dir();
  if (!dir) {
    return dir.error();
  }
  DovecotInstance inst;
  inst.dir_ = *dir;
  inst.users_ = options.users;
  inst.timeout_seconds_ = options.timeout_seconds;
  if (!spawn_watcher(inst.dir_, inst.watcher_fd_, inst.watcher_pid_)) {
    return fail(Errc::Io, Scope::Fatal, std::string("cannot fork the watcher: ") + std::strerror(errno));
  }

  const std::string users_file = inst.dir_ + "/users.in";
  {
    std::ofstream out(users_file);
    for (const auto& u : options.users) {
      out << u.name << ':' << u.password << '\n';
    }
    if (!out) {
      return fail(Errc::Io, Scope::Fatal, "cannot write " + users_file);
    }
  }
  auto run = run_command({dovecot_script(), "start", inst.dir_, "--users", users_file,
                          "--special-use", options.create_special_use ? "create" : "no",
                          "--timeout", std::to_string(options.timeout_seconds), "--cert",
                          options.certificate, "--namespace",
                          options.courier_namespace ? "courier" : "slash"},
                         std::chrono::seconds(options.timeout_seconds * 3 + 10));
  if (!run) {
    return run.error();
  }
  if (run->status != 0) {
    return fail(Errc::Io, Scope::Fatal,
                "scripts/dovecot.sh start " + inst.dir_ + " failed (exit " +
                    std::to_string(run->status) + "): " + trim(run->err) + "\nlog:\n" + inst.log());
  }
  inst.running_ = true;
  if (!parse_ports(trim(run->out), inst.imap_port_, inst.imaps_port_)) {
    return fail(Errc::Internal, Scope::Fatal,
                "scripts/dovecot.sh start printed '" + trim(run->out) + "', expected 'imap=N imaps=N'");
  }
  return inst;
}

DovecotInstance::DovecotInstance(DovecotInstance&& other) noexcept { *this = std::move(other); }

DovecotInstance& DovecotInstance::operator=(DovecotInstance&& other) noexcept {
  if (this != &other) {
    release();
    host_ = std::move(other.host_);
    dir_ = std::move(other.dir_);
    imap_port_ = other.imap_port_;
    imaps_port_ = other.imaps_port_;
    users_ = std::move(other.users_);
    timeout_seconds_ = other.timeout_seconds_;
    running_ = std::exchange(other.running_, false);
    watcher_fd_ = std::exchange(other.watcher_fd_, -1);
    watcher_pid_ = std::exchange(other.watcher_pid_, -1);
  }
  return *this;
}

DovecotInstance::~DovecotInstance() { release(); }

void DovecotInstance::release() {
  if (running_) {
    (void)stop_impl(/*fast=*/true);  // the directory goes too: no need for a clean shutdown
  }
  if (watcher_fd_ >= 0) {
    ::close(watcher_fd_);  // the watcher now removes the directory and exits
    watcher_fd_ = -1;
  }
  if (watcher_pid_ > 0) {
    int status = 0;
    while (::waitpid(watcher_pid_, &status, 0) < 0 && errno == EINTR) {
    }
    watcher_pid_ = -1;
    if (keep_dirs()) {
      std::fprintf(stderr, "dovecot instance kept in %s\n", dir_.c_str());
    }
  }
}

Status DovecotInstance::stop() { return stop_impl(/*fast=*/false); }

Status DovecotInstance::stop_impl(bool fast) {
  if (!running_) {
    return {};
  }
  running_ = false;
  std::vector<std::string> args = {dovecot_script(), "stop", dir_};
  if (fast) {
    args.emplace_back("--fast");
  }
  auto run = run_command(std::move(args),
                         std::chrono::seconds(timeout_seconds_ + 10));
  if (!run) {
    return run.error();
  }
  if (run->status != 0) {
    return fail(Errc::Io, Scope::Fatal, "scripts/dovecot.sh stop failed: " + trim(run->err));
  }
  return {};
}

std::vector<std::string> DovecotInstance::tunnel_argv(const std::string& user) const {
  return {"/usr/lib/dovecot/imap", "-c", config_file(), "-u", user};
}

std::string DovecotInstance::tunnel_command(const std::string& user) const {
  std::string cmd;
  for (const auto& a : tunnel_argv(user)) {
    cmd += (cmd.empty() ? "" : " ") + a;
  }
  return cmd;
}

Result<std::string> DovecotInstance::doveadm(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"/usr/bin/doveadm", "-c", config_file()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto run = run_command(std::move(argv), std::chrono::seconds(timeout_seconds_ + 10));
  if (!run) {
    return run.error();
  }
  if (run->status != 0) {
    return fail(Errc::Io, Scope::Fatal,
                "doveadm exited with " + std::to_string(run->status) + ": " + trim(run->err));
  }
  return run->out;
}

std::string DovecotInstance::log() const {
  std::ifstream in(dir_ + "/dovecot.log");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace twinbox::test
