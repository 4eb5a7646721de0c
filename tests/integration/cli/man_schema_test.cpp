// The reader of the --json schema in twinbox(1) (man_schema.hpp): it finds every documented
// event kind, command object and named type, accepts what the page documents (and members
// added later) and rejects the rest, so the tests validating real output against it can fail.

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>

#include "man_schema.hpp"
#include "process.hpp"

namespace twinbox::test {
namespace {

using nlohmann::json;

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

TEST_CASE("the schema read from twinbox(1) accepts documented events and rejects others") {
  const ManSchema& schema = ManSchema::twinbox1();
  for (const char* kind : {"totals", "mailbox_start", "copied", "moved", "expunged", "flags", "log",
                           "mailbox", "plan", "problem", "error", "summary"}) {
    CHECK_MESSAGE(schema.kinds().count(kind) == 1, kind);
  }
  for (const char* type : {"Side", "UID", "Counts", "Planned"}) {
    CHECK_MESSAGE(schema.named().count(type) == 1, type);
  }
  for (const char* command : {"status", "list", "check", "repair"}) {
    CHECK_MESSAGE(schema.commands().count(command) == 1, command);
  }
  // A side that failed has the second form of check's C ("ok":false, no capabilities).
  const json failed{
      {"endpoint", "127.0.0.1:1"}, {"ok", false}, {"error", "refused"}, {"kind", "network"}};
  json check{{"config", "c"}, {"state", "s"}, {"ok", false}, {"local", failed}, {"remote", failed}};
  const std::string failed_side = schema.validate_output("check", check);
  CHECK_MESSAGE(failed_side.empty(), failed_side);
  check["local"]["ok"] = true;  // "ok":true needs the members of a side that logged in
  CHECK(contains(schema.validate_output("check", check), "check.local"));
  json copied{{"event", "copied"}, {"mailbox", "INBOX"}, {"to", "local"},
              {"source_uid", 7},   {"uid", nullptr},     {"bytes", 120}};
  CHECK_MESSAGE(schema.validate(copied).empty(), schema.validate(copied));
  copied["later_member"] = "ignored";  // objects may gain members
  CHECK_MESSAGE(schema.validate(copied).empty(), schema.validate(copied));
  auto rejected = [&](const char* member, const json& value) {
    json e = copied;
    if (value.is_discarded()) {
      e.erase(member);
    } else {
      e[member] = value;
    }
    const std::string why = schema.validate(e);
    CHECK_MESSAGE(!why.empty(), member << " = " << value.dump());
    return why;
  };
  CHECK(contains(rejected("to", "left"), "copied.to"));
  CHECK(contains(rejected("uid", -1), "copied.uid"));
  CHECK(contains(rejected("bytes", "120"), "copied.bytes"));
  CHECK(contains(rejected("mailbox", json::value_t::discarded), "\"mailbox\" is missing"));
  CHECK(contains(schema.validate(json{{"event", "no_such_event"}}), "not documented"));
}

TEST_CASE("sync --help names the event kinds twinbox(1) documents, and no others") {
  auto help = run_twinbox({"sync", "--help"});
  REQUIRE(help.status == 0);
  const std::string intro = "(events: ";
  const auto from = help.out.find(intro);
  REQUIRE_MESSAGE(from != std::string::npos, help.out);
  const auto start = from + intro.size();
  const std::string list = help.out.substr(start, help.out.find(')', start) - start);
  static const std::regex word("[a-z_]+");
  std::set<std::string> named;
  for (auto it = std::sregex_iterator(list.begin(), list.end(), word);
       it != std::sregex_iterator(); ++it) {
    named.insert(it->str());
  }
  CHECK(named == ManSchema::twinbox1().kinds());
}

}  // namespace
}  // namespace twinbox::test
