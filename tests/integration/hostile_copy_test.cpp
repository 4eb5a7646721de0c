// Hostile answers to the copy pipeline's body FETCH (issue "Hardening", bug 3): a BODY[]
// literal far larger than the message's RFC822.SIZE and than the per-message limit must not
// be buffered; that message is not copied, its mailbox stops with an error naming it, other
// mailboxes go on, and a clean run afterwards copies it exactly once. Two embedded servers,
// the remote one (the source) seen through a rewriting proxy (tests/support/fault_proxy.hpp).
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "support/fault_proxy.hpp"
#include "support/sync_fixture.hpp"

using namespace twinbox;
using namespace twinbox::test;

namespace {

const std::string kDate = "02-Mar-2026 10:00:00 +0100";
constexpr std::size_t kVictimSize = 777;        // a size no other test message has
constexpr std::uint64_t kFiller = 2u << 20;     // bytes the hostile server adds to the body
constexpr std::uint64_t kLimit = 256u << 10;    // the source's max_literal in the hostile run

/// Turns the victim's `BODY[] {n}` into `BODY[] {filler + 2 + n}` followed by `filler` bytes:
/// the original literal (and the CRLF the proxy adds after the line) become the tail of the
/// oversized one, so the response stays well-formed.
Faults inflate_victim(std::uint64_t victim_literal) {
  Faults f;
  const std::string suffix = "BODY[] {" + std::to_string(victim_literal) + "}";
  f.rewrite_down = [suffix, victim_literal](std::string_view line) -> std::optional<std::string> {
    if (line.size() < suffix.size() || line.substr(line.size() - suffix.size()) != suffix) {
      return std::string(line);
    }
    std::string out(line.substr(0, line.size() - suffix.size()));
    out += "BODY[] {" + std::to_string(kFiller + 2 + victim_literal) + "}\r\n";
    out += std::string(kFiller, 'x');
    return out;
  };
  return f;
}

std::size_t count_in(Account& a, const std::string& mailbox) { return a.messages(mailbox).size(); }

}  // namespace

TEST_CASE("a body far above the limit is not buffered: its mailbox stops, nothing is lost") {
  auto local = TestServer::embedded();
  auto remote = TestServer::embedded();
  TempDir dir;
  auto options = engine_options(*local, *remote, dir.file("state.db"));
  Account L{*local};
  Account R{*remote};
  for (int i = 0; i < 3; ++i) {
    R.append("INBOX", make_message("r" + std::to_string(i)), {}, kDate);
  }
  const std::string victim = make_message("victim", kVictimSize);
  R.append("INBOX", victim, {"\\Seen"}, kDate);
  R.create("Other");
  for (int i = 0; i < 2; ++i) R.append("Other", make_message("o" + std::to_string(i)), {}, kDate);

  FaultProxy proxy(remote->endpoint().port, inflate_victim(victim.size()));
  auto hostile = options;
  hostile.endpoints[Side::Remote].port = proxy.port();
  hostile.endpoints[Side::Remote].session.max_literal = kLimit;
  std::string log;
  auto r = run(hostile, &log);
  INFO(log);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  INFO(describe(*r));
  CHECK(r->partial());
  bool inbox_stopped = false;
  for (const auto& m : r->mailboxes) {
    if (m.name != "INBOX") {
      CHECK(m.error.empty());
      continue;
    }
    inbox_stopped = m.error.find("was not copied") != std::string::npos &&
                    m.error.find(std::to_string(kLimit)) != std::string::npos &&
                    m.error.find("UID 4") != std::string::npos;
    CHECK_MESSAGE(inbox_stopped, m.error);
  }
  CHECK(inbox_stopped);
  CHECK_FALSE(L.find("INBOX", "victim").has_value());
  CHECK(count_in(L, "Other") == 2);

  // A clean run copies the victim exactly once, with its real bytes; then a no-op.
  run_ok(options);
  CHECK(same_mail(L, R));
  CHECK(count_in(L, "INBOX") == 4);
  auto uid = L.find("INBOX", "victim");
  REQUIRE(uid.has_value());
  CHECK(L.body("INBOX", *uid) == victim);
  CHECK_FALSE(run_ok(options).changed());
}
