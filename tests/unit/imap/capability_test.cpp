#include <doctest/doctest.h>

#include <twinbox/imap/capability.hpp>
#include <twinbox/imap/parser.hpp>

using namespace twinbox::imap;

TEST_CASE("CapabilitySet from a Gmail list") {
  auto r = parse_response(
      "* CAPABILITY IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 UIDPLUS "
      "COMPRESS=DEFLATE ENABLE MOVE CONDSTORE ESEARCH UTF8=ACCEPT LIST-EXTENDED LIST-STATUS LITERAL- "
      "SPECIAL-USE APPENDLIMIT=35651584 AUTH=XOAUTH2 AUTH=PLAIN auth=oauthbearer\r\n");
  REQUIRE(r.has_value());
  CapabilitySet caps(std::get<CapabilityData>(*r).capabilities);
  CHECK(caps.has("condstore"));
  CHECK_FALSE(caps.has("QRESYNC"));
  CHECK_FALSE(caps.has("COMPRESS"));  // exact tokens only
  CHECK(caps.values("compress") == std::vector<std::string>{"DEFLATE"});
  CHECK(caps.number("APPENDLIMIT") == 35651584U);
  CHECK(caps.has_auth("xoauth2"));
  CHECK(caps.has_auth("OAUTHBEARER"));
  CHECK_FALSE(caps.has_auth("LOGIN"));
  CHECK(caps.auth_mechanisms() == std::vector<std::string>{"XOAUTH2", "PLAIN", "oauthbearer"});
  CHECK(caps.literal_minus());
  CHECK_FALSE(caps.literal_plus());
  CHECK(caps.max_nonsync_literal() == 4096);
}

TEST_CASE("CapabilitySet basics") {
  CapabilitySet c;
  c.add("LITERAL+");
  c.add("literal+");
  c.add("APPENDLIMIT");
  c.add("LITERAL-");
  CHECK(c.size() == 3);
  CHECK(c.literal_plus());
  CHECK_FALSE(c.literal_minus());  // LITERAL+ wins
  CHECK(c.max_nonsync_literal() == UINT64_MAX);
  CHECK_FALSE(c.number("APPENDLIMIT").has_value());
  CapabilitySet d({"literal-", "APPENDLIMIT", "Literal+"});
  CHECK(c == d);
  CHECK(CapabilitySet{}.max_nonsync_literal() == 0);
}
