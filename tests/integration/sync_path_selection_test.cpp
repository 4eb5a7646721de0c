// Path selection from server answers the embedded server never gives by itself (issue 6,
// PROTOCOL.md §0): the remote embedded server is seen through a rewriting proxy
// (tests/support/fault_proxy.hpp) that makes it answer like other servers: ENABLE that does
// not confirm QRESYNC, a mailbox answering NOMODSEQ, a SELECT without UIDNEXT (Courier), a
// mailbox with UIDNOTSTICKY. Each run must converge (or refuse that mailbox clearly) and the
// following run must have nothing to do.
#include <doctest/doctest.h>

#include <regex>

#include "support/fault_proxy.hpp"
#include "support/sync_fixture.hpp"

using namespace twinbox;
using namespace twinbox::test;

namespace {

using Rewrite = std::function<std::optional<std::string>(std::string_view)>;

struct ProxiedPair {
  std::unique_ptr<TestServer> local = TestServer::embedded();
  std::unique_ptr<TestServer> remote = TestServer::embedded();
  TempDir dir;
  DirectMail L{*local};
  DirectMail R{*remote};
  std::unique_ptr<FaultProxy> proxy;
  sync::EngineOptions options;

  explicit ProxiedPair(Rewrite rewrite) {
    Faults f;
    f.rewrite_down = std::move(rewrite);
    proxy = std::make_unique<FaultProxy>(remote->endpoint().port, f);
    options = engine_options(*local, *remote, dir.file("state.db"));
    options.endpoints[Side::Remote].port = proxy->port();
  }
};

/// First sync, then changes on both sides (flags both ways, an expunge each way, new mail),
/// then a sync that must converge and a no-op.
void converges(ProxiedPair& p) {
  p.L.add("INBOX", "a", {"\\Seen"});
  p.L.add("INBOX", "b");
  p.R.add("INBOX", "c", {"$K"});
  p.R.add("INBOX", "d");
  auto r = run_ok(p.options);
  INFO(describe(r));
  CHECK(total_copied(r) == 4);
  p.L.add_flag("INBOX", "c", "\\Flagged");
  p.R.add_flag("INBOX", "a", "\\Answered");
  p.R.remove_flag("INBOX", "a", "\\Seen");
  p.L.expunge("INBOX", "d");
  p.R.expunge("INBOX", "b");
  p.R.add("INBOX", "e");
  r = run_ok(p.options);
  INFO(describe(r));
  CHECK(p.L.ids("INBOX") == std::vector<std::string>{"a", "c", "e"});
  CHECK(p.R.ids("INBOX") == std::vector<std::string>{"a", "c", "e"});
  CHECK(p.L.flags("INBOX", "a") == "\\Answered");
  CHECK(p.R.flags("INBOX", "c") == "$K \\Flagged");
  auto n = run_ok(p.options);
  CHECK_MESSAGE(!n.changed(), describe(n));
}

std::string replace(std::string_view line, const std::regex& re, const std::string& with) {
  return std::regex_replace(std::string(line), re, with);
}

}  // namespace

TEST_CASE("QRESYNC advertised but not confirmed by ENABLED: the CONDSTORE path") {
  ProxiedPair p([](std::string_view line) -> std::optional<std::string> {
    static const std::regex re(R"(^\* ENABLED .*)");
    return replace(line, re, "* ENABLED");
  });
  converges(p);
}

TEST_CASE("a mailbox answering NOMODSEQ is read on the plain path") {
  ProxiedPair p([](std::string_view line) -> std::optional<std::string> {
    static const std::regex re(R"(^\* OK \[HIGHESTMODSEQ \d+\].*)");
    return replace(line, re, "* OK [NOMODSEQ] Sorry, this mailbox format has no modseqs");
  });
  converges(p);
}

TEST_CASE("SELECT without UIDNEXT (Courier): UIDNEXT from STATUS") {
  ProxiedPair p([](std::string_view line) -> std::optional<std::string> {
    if (line.rfind("* OK [UIDNEXT ", 0) == 0) return std::nullopt;
    return std::string(line);
  });
  converges(p);
}

TEST_CASE("a mailbox with UIDNOTSTICKY is refused with a clear error; the others sync") {
  // The remote's "Odd" mailbox says its UIDs are not persistent (RFC 4315 §3).
  auto remote = TestServer::embedded();
  auto odd = remote->embedded_server()->create_mailbox("alice", "Odd");
  REQUIRE(odd.has_value());
  std::string marker = "* OK [UIDVALIDITY " + std::to_string(odd->uidvalidity.value) + "]";
  auto local = TestServer::embedded();
  Faults f;
  f.rewrite_down = [marker](std::string_view line) -> std::optional<std::string> {
    if (line.rfind(marker, 0) != 0) return std::string(line);
    return std::string(line) + "\r\n* NO [UIDNOTSTICKY] Non-persistent UIDs";
  };
  FaultProxy proxy(remote->endpoint().port, f);
  TempDir dir;
  auto o = engine_options(*local, *remote, dir.file("state.db"));
  o.endpoints[Side::Remote].port = proxy.port();
  DirectMail L(*local), R(*remote);
  R.add("Odd", "o1");
  R.add("INBOX", "i1");
  L.add("INBOX", "i2");
  auto r = run(o);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  INFO(describe(*r));
  bool refused = false;
  for (const auto& m : r->mailboxes) {
    if (m.name == "Odd") refused = m.error.find("UIDNOTSTICKY") != std::string::npos;
  }
  CHECK(refused);
  CHECK(L.ids("Odd").empty());
  CHECK(R.ids("Odd") == std::vector<std::string>{"o1"});
  CHECK(L.ids("INBOX") == std::vector<std::string>{"i1", "i2"});
  CHECK(R.ids("INBOX") == std::vector<std::string>{"i1", "i2"});
}
