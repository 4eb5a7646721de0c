#pragma once
/// Exit statuses of the `twinbox` command, one per kind of outcome, so cron jobs, systemd
/// units and scripts can tell "try again later" from "fix the config" without parsing text.
/// Documented in twinbox(1) "EXIT STATUS" and in the README; keep the three in step.

#include <string_view>

#include <twinbox/base/error.hpp>

namespace twinbox::cli {

enum class ExitCode : int {
  Ok = 0,        ///< success (changes made or not; `sync --json` summary says which)
  Changed = 1,   ///< success with changes, only with `sync --exit-code` (like `git diff`)
  Partial = 2,   ///< some mailboxes failed, the others synced; a re-run may help
  Config = 3,    ///< bad config file or command line
  Auth = 4,      ///< a server refused the login
  Tls = 5,       ///< TLS handshake or certificate verification failed
  Network = 6,   ///< DNS, connection refused, timeout, lost connection
  Local = 7,     ///< state database locked by another run, or local storage / I/O failure
  Internal = 8,  ///< a bug in twinbox (please report it)
  Protocol = 9,  ///< a server answered something twinbox cannot work with (missing capability)
};
// 77 is reserved for the test crash hook (base/crash_point.hpp, kTestCrashExitCode).

/// The exit status for a run that ended with an error of this kind. The only mapping from
/// Errc to exit status in the program.
[[nodiscard]] ExitCode exit_code_for(Errc code);

/// Lower-case name used in `--json` output ("ok", "partial", "config", …).
[[nodiscard]] std::string_view to_string(ExitCode code);

[[nodiscard]] constexpr int to_int(ExitCode code) { return static_cast<int>(code); }

}  // namespace twinbox::cli
