#pragma once
/// Test-only crash hook (isync's crash-at-every-step harness, STYLE.md "Crash safety").
///
/// Every mutating step of a sync (a state-database commit, a mutating IMAP command such as
/// APPEND, UID STORE, UID EXPUNGE, UID MOVE) calls crash_point() right before it acts. When the
/// environment variable TWINBOX_TEST_CRASH_AFTER=N is set (or set_crash_after(N) was called),
/// the N-th call writes "twinbox: test crash before <what> (step N)" to stderr and ends the
/// process at once with _exit(77): no destructors, no flushes, no commits, just like a kill -9.
/// An integration test loops N = 1, 2, … , resumes each time and checks that nothing was lost
/// or duplicated. Without the variable, crash_point() only counts (one relaxed atomic add).
///
/// Shared by every layer that mutates something (state, client, sync), hence in base.
/// Thread-safe.

#include <cstdint>
#include <string_view>

namespace twinbox {

/// Exit status of a test crash; distinct from every exit code the CLI uses.
inline constexpr int kTestCrashExitCode = 77;

/// Counts one mutating step named `what`; ends the process with _exit(77) when this is the
/// N-th step and a crash after N was requested.
void crash_point(std::string_view what);

/// Overrides TWINBOX_TEST_CRASH_AFTER (the CLI's hidden --test-crash-after=N). 0 disables.
void set_crash_after(std::uint64_t n);

/// Number of crash points passed so far in this process (lets a test count the steps of a run).
[[nodiscard]] std::uint64_t crash_points_passed();

}  // namespace twinbox
