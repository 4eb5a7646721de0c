// ServerCore's capability switches: the names Options::disabled accepts are exactly the
// switchable ones that capabilities() announces, so the list and the announcement cannot drift.

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <sstream>
#include <string>

#include "../../../src/server/core.hpp"

using namespace twinbox;
using namespace twinbox::server;

namespace {

std::set<std::string> tokens(const std::string& caps) {
  std::set<std::string> out;
  std::istringstream in(caps);
  for (std::string t; in >> t;) out.insert(t);
  return out;
}

/// Every capability a core with `disabled` announces, before and after login.
std::set<std::string> announced(std::set<std::string> disabled) {
  auto storage = Storage::open(":memory:");
  REQUIRE(storage);
  Options opt;
  opt.disabled = std::move(disabled);
  ServerCore core(opt, std::move(*storage));
  auto all = tokens(core.capabilities(false, false, false));
  all.merge(tokens(core.capabilities(true, false, false)));
  return all;
}

}  // namespace

TEST_CASE("every announced extension can be switched off, and only those names are accepted") {
  const auto& known = ServerCore::switchable_extensions();
  const auto full = announced({});
  for (const auto& cap : full) {
    if (cap == "IMAP4rev1" || cap == "AUTH=PLAIN" || cap == "CHILDREN") continue;
    CHECK_MESSAGE(std::find(known.begin(), known.end(), cap) != known.end(), cap);
  }
  for (auto name : known) {
    CAPTURE(name);
    if (name == "STARTTLS") continue;  // only announced with TLS files
    CHECK(full.count(std::string(name)));
    CHECK_FALSE(announced({std::string(name)}).count(std::string(name)));
  }
  CHECK(ServerCore::check_disabled({"qresync", "Condstore", "SEARCHRES"}));
  auto bad = ServerCore::check_disabled({"QRESYNC", "XLIST"});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::Config);
  CHECK(bad.error().message.find("'XLIST': no such extension") != std::string::npos);
}
