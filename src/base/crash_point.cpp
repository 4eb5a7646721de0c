#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include <twinbox/base/crash_point.hpp>
#include <twinbox/base/ids.hpp>

namespace twinbox {
namespace {

std::atomic<std::uint64_t> g_passed{0};

// Read once: UINT64_MAX means "not yet read from the environment".
std::atomic<std::uint64_t> g_crash_after{UINT64_MAX};

std::uint64_t crash_after() {
  std::uint64_t n = g_crash_after.load(std::memory_order_relaxed);
  if (n != UINT64_MAX) return n;
  const char* env = std::getenv("TWINBOX_TEST_CRASH_AFTER");
  std::uint64_t parsed = 0;
  if (env != nullptr) {
    if (auto v = parse_number64(env); v && *v != UINT64_MAX) parsed = *v;
  }
  std::uint64_t expected = UINT64_MAX;
  g_crash_after.compare_exchange_strong(expected, parsed, std::memory_order_relaxed);
  return g_crash_after.load(std::memory_order_relaxed);
}

}  // namespace

void crash_point(std::string_view what) {
  const std::uint64_t step = g_passed.fetch_add(1, std::memory_order_relaxed) + 1;
  const std::uint64_t n = crash_after();
  if (n != 0 && step == n) {
    std::fprintf(stderr, "twinbox: test crash before %.*s (step %llu)\n",
                 static_cast<int>(what.size()), what.data(),
                 static_cast<unsigned long long>(step));
    std::fflush(stderr);
    _exit(kTestCrashExitCode);
  }
}

void set_crash_after(std::uint64_t n) {
  g_crash_after.store(n == UINT64_MAX ? 0 : n, std::memory_order_relaxed);
}

std::uint64_t crash_points_passed() { return g_passed.load(std::memory_order_relaxed); }

}  // namespace twinbox
