// The copy pipeline (src/sync/executor_copy.cpp) with many batches in flight: a copy window
// far smaller than the mailbox, against the embedded server and Dovecot. Every message must
// arrive exactly once with its bytes, flags and date, and the next run must be a no-op.
#include <doctest/doctest.h>

#include <string>

#include "support/sync_fixture.hpp"

using namespace twinbox;
using namespace twinbox::test;

namespace {

const std::string kDate = "05-Apr-2026 09:15:00 +0200";

void copy_many_batches(std::unique_ptr<TestServer> local, std::unique_ptr<TestServer> remote) {
  TempDir dir;
  auto options = engine_options(*local, *remote, dir.file("state.db"));
  options.copy_window = 64u << 10;  // batches of 16 KiB, about four in flight
  Account L{*local};
  Account R{*remote};
  for (int i = 0; i < 120; ++i) {
    std::size_t size = i % 10 == 0 ? 40000 : 2000 + 37 * static_cast<std::size_t>(i);
    std::vector<std::string> flags;
    if (i % 3 == 0) flags.push_back("\\Seen");
    if (i % 7 == 0) flags.push_back("$Work");
    L.append("INBOX", make_message("p" + std::to_string(i), size), flags, kDate);
  }
  R.create("Other");
  for (int i = 0; i < 30; ++i) R.append("Other", make_message("q" + std::to_string(i), 5000), {}, kDate);
  auto r = run_ok(options);
  INFO(describe(r));
  CHECK(total_copied(r) == 150);
  CHECK(same_mail(L, R));
  CHECK(R.messages("INBOX").size() == 120);
  CHECK(L.messages("Other").size() == 30);
  CHECK_FALSE(run_ok(options).changed());
}

}  // namespace

TEST_CASE("copies spanning many batches arrive exactly once: embedded server") {
  copy_many_batches(TestServer::embedded(), TestServer::embedded());
}

TEST_CASE("copies spanning many batches arrive exactly once: Dovecot") {
  copy_many_batches(TestServer::dovecot(), TestServer::dovecot());
}
