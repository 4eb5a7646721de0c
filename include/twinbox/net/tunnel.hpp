#pragma once
/// Tunnel: runs a command and speaks IMAP over its stdin/stdout (isync's Tunnel,
/// e.g. `ssh host /usr/lib/dovecot/imap` or `twinbox serve --stdio`).
///
/// The child's stdin and stdout are one end of an AF_UNIX socketpair; the returned stream
/// is the other end (non-blocking, close-on-exec). The command is split on whitespace
/// (with '...' and "..." quoting and backslash escapes) and run with execvp, without a
/// shell, unless it contains shell metacharacters (| & ; < > ( ) $ ` * ? [ ] ~ { } #,
/// newline), in which case it runs as `/bin/sh -c command`.
///
/// EOF from the child is Errc::Closed whose message carries the exit status
/// ("tunnel `cmd` exited with status 3"). close() (also run by the destructor) closes the
/// socket, then reaps the child: waits up to `grace` for it to exit, sends SIGTERM, waits
/// up to `grace` again, then SIGKILLs and reaps it. No zombie is left behind.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <twinbox/base/result.hpp>
#include <twinbox/net/stream.hpp>

namespace twinbox::net {

struct TunnelOptions {
  /// Where the child's stderr goes: an fd the caller owns (dup'ed into the child), or -1
  /// for /dev/null.
  int stderr_fd = -1;
  /// Bound for each wait while reaping the child on close().
  std::chrono::milliseconds grace{1000};
};

/// Splits a command line into argv the way spawn_tunnel does; std::nullopt when it needs a
/// shell (metacharacters) or has unbalanced quotes.
std::optional<std::vector<std::string>> split_command(std::string_view command);

/// Starts `command` (see above). Errc::Config for an empty command, Errc::Io when the
/// socketpair or spawn fails (e.g. program not found: "cannot run tunnel `x`: No such file").
Result<StreamPtr> spawn_tunnel(std::string_view command, const TunnelOptions& options = {});

}  // namespace twinbox::net
