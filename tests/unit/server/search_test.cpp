// SEARCH key parsing and evaluation (RFC 3501 §6.4.4, RFC 7162 §3.1.5).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "../../../src/server/search.hpp"

using namespace twinbox;
using namespace twinbox::server;

namespace {

const std::string kMail =
    "Date: Wed, 17 Jul 1996 23:30:00 -0700\r\n"
    "From: =?ISO-8859-1?Q?Andr=E9?= Pirard <pirard@vm1.ulg.ac.be>\r\n"
    "To: Team: ann@x.org, bob@x.org;\r\n"
    "Cc: Carl <carl@y.org>\r\n"
    "Bcc: secret@z.org\r\n"
    "Subject: =?UTF-8?B?UmU6IENhZsOp?= meeting\r\n"
    "X-Priority: 1 (Highest)\r\n"
    "Content-Type: multipart/alternative; boundary=b\r\n"
    "\r\n"
    "--b\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Voil=E0 the AGENDA for Thursday\r\n"
    "--b\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "c2VjcmV0LWF0dGFjaG1lbnQ=\r\n"
    "--b--\r\n";

struct Fixture {
  Message msg = Message::parse(kMail);
  std::vector<std::string> flags{"\\Seen", "\\Flagged", "$Work"};
  MessageView view;
  SearchContext ctx{10, 500};
  int loads = 0;

  Fixture() {
    view.uid = Uid(300);
    view.seq = SeqNum(7);
    view.flags = flags;
    view.recent = false;
    // 17-Jul-1996 02:44:25 -0700 (RFC 3501's INTERNALDATE example)
    view.internal_date = *parse_imap_datetime("17-Jul-1996 02:44:25 -0700");
    view.size = 4286;
    view.modseq = ModSeq(120);
    view.message = [this]() -> const Message* {
      ++loads;
      return &msg;
    };
  }

  bool search(std::string_view text) {
    auto toks = tokenize_search(text);
    REQUIRE_MESSAGE(toks, text);
    auto q = parse_search(*toks);
    REQUIRE_MESSAGE(q, text);
    return matches(q->root, view, ctx);
  }
};

Error parse_error(std::string_view text) {
  auto toks = tokenize_search(text);
  REQUIRE(toks);
  auto q = parse_search(*toks);
  REQUIRE_FALSE_MESSAGE(q, text);
  return q.error();
}

}  // namespace

TEST_CASE("flag keys") {
  Fixture f;
  // Not a structured binding: clang 14 cannot capture one in CHECK_MESSAGE's lambda.
  for (const auto& row : std::vector<std::pair<std::string_view, bool>>{
           {"ALL", true},          {"SEEN", true},         {"UNSEEN", false},
           {"FLAGGED", true},      {"UNFLAGGED", false},   {"ANSWERED", false},
           {"UNANSWERED", true},   {"DELETED", false},     {"UNDELETED", true},
           {"DRAFT", false},       {"UNDRAFT", true},      {"RECENT", false},
           {"OLD", true},          {"NEW", false},         {"KEYWORD $work", true},
           {"KEYWORD $Home", false}, {"UNKEYWORD $Work", false}, {"UNKEYWORD $Home", true},
           {"seen flagged", true}, {"seen unflagged", false}}) {
    CHECK_MESSAGE(f.search(row.first) == row.second, row.first);
  }
  f.view.recent = true;
  CHECK(f.search("RECENT"));
  CHECK_FALSE(f.search("OLD"));
  CHECK_FALSE(f.search("NEW"));  // recent but seen
  f.flags = {};
  f.view.flags = f.flags;
  CHECK(f.search("NEW"));
  CHECK(f.loads == 0);  // flags never load the message
}

TEST_CASE("sequence sets, UID, sizes, MODSEQ") {
  Fixture f;
  CHECK(f.search("7"));
  CHECK(f.search("1:3,6:*"));
  CHECK(f.search("*:5"));  // 5:10
  CHECK_FALSE(f.search("1:6,8"));
  CHECK(f.search("UID 300"));
  CHECK(f.search("UID 299:*"));
  CHECK_FALSE(f.search("UID 1:299,301:*"));
  CHECK(f.search("LARGER 4285"));
  CHECK_FALSE(f.search("LARGER 4286"));
  CHECK(f.search("SMALLER 4287"));
  CHECK_FALSE(f.search("SMALLER 4286"));
  CHECK(f.search("MODSEQ 120"));
  CHECK_FALSE(f.search("MODSEQ 121"));
  CHECK(f.search("MODSEQ \"/flags/\\\\draft\" all 100"));
}

TEST_CASE("dates: internal date and Date: header, ignoring time and zone") {
  Fixture f;
  // INTERNALDATE 17-Jul-1996 02:44:25 -0700 (09:44 UTC, still the 17th).
  CHECK(f.search("ON 17-Jul-1996"));
  CHECK(f.search("SINCE 17-Jul-1996"));
  CHECK_FALSE(f.search("BEFORE 17-Jul-1996"));
  CHECK(f.search("BEFORE 18-Jul-1996"));
  CHECK_FALSE(f.search("SINCE 18-Jul-1996"));
  // Date: 17 Jul 1996 23:30 -0700 is the 18th in UTC but the 17th as written.
  CHECK(f.search("SENTON \"17-Jul-1996\""));
  CHECK_FALSE(f.search("SENTON 18-Jul-1996"));
  CHECK(f.search("SENTBEFORE 18-Jul-1996"));
  CHECK_FALSE(f.search("SENTBEFORE 17-Jul-1996"));
  CHECK(f.search("SENTSINCE 17-Jul-1996"));
  CHECK_FALSE(f.search("SENTSINCE 1-Aug-1996"));
}

TEST_CASE("header keys match decoded values case-insensitively") {
  Fixture f;
  CHECK(f.search("FROM andré"));
  CHECK(f.search("FROM \"ANDRÉ PIRARD\""));
  CHECK(f.search("FROM ulg.ac.be"));
  CHECK_FALSE(f.search("FROM carl"));
  CHECK(f.search("TO bob@x"));
  CHECK(f.search("TO team"));
  CHECK(f.search("CC carl@y.org"));
  CHECK(f.search("BCC SECRET"));
  CHECK(f.search("SUBJECT \"re: café\""));
  CHECK(f.search("SUBJECT MEETING"));
  CHECK_FALSE(f.search("SUBJECT agenda"));
  CHECK(f.search("HEADER X-Priority highest"));
  CHECK(f.search("HEADER x-priority \"\""));  // empty string: the field exists
  CHECK_FALSE(f.search("HEADER X-Missing \"\""));
  f.loads = 0;
  CHECK(f.search("FROM andré SUBJECT meeting TEXT agenda BODY thursday SENTON 17-Jul-1996"));
  CHECK(f.loads == 1);  // the message is loaded once per evaluation
}

TEST_CASE("BODY and TEXT search decoded text parts only") {
  Fixture f;
  CHECK(f.search("BODY voilà"));       // quoted-printable ISO-8859-1 decoded to UTF-8
  CHECK(f.search("BODY \"the agenda\""));
  CHECK_FALSE(f.search("BODY secret-attachment"));  // not a text part
  CHECK_FALSE(f.search("BODY pirard"));  // header only
  CHECK(f.search("TEXT pirard"));
  CHECK(f.search("TEXT thursday"));
  CHECK_FALSE(f.search("TEXT nowhere"));
  f.view.message = [] { return static_cast<const Message*>(nullptr); };
  CHECK_FALSE(f.search("TEXT thursday"));
  CHECK(f.search("NOT BODY thursday"));
}

TEST_CASE("NOT, OR, parentheses, nesting") {
  Fixture f;
  CHECK(f.search("NOT DELETED"));
  CHECK_FALSE(f.search("NOT NOT DELETED"));
  CHECK(f.search("OR DELETED SEEN"));
  CHECK_FALSE(f.search("OR DELETED DRAFT"));
  CHECK(f.search("OR (DELETED DRAFT) (SEEN FLAGGED)"));
  CHECK(f.search("NOT (DELETED SEEN)"));
  CHECK(f.search("OR NOT SEEN OR DRAFT UID 300"));
  CHECK(f.search("(((SEEN)))"));
  CHECK(f.search("CHARSET UTF-8 SUBJECT café"));
  CHECK(f.search("charset us-ascii seen"));
}

TEST_CASE("parsed AST shape and literals") {
  auto toks = tokenize_search("OR SUBJECT {5}\r\nCAFÉ 5:* NOT (Larger 10)");
  REQUIRE(toks);
  auto q = parse_search(*toks);
  REQUIRE(q);
  REQUIRE(q->root.children.size() == 2);  // OR takes two keys; NOT (...) is the second
  const SearchKey& nott = q->root.children[1];
  CHECK(nott.op == SearchOp::Not);
  REQUIRE(nott.children.size() == 1);
  CHECK(nott.children[0].op == SearchOp::And);
  REQUIRE(nott.children[0].children.size() == 1);
  CHECK(nott.children[0].children[0].op == SearchOp::Larger);
  CHECK(nott.children[0].children[0].number == 10);
  const SearchKey& orr = q->root.children[0];
  CHECK(orr.op == SearchOp::Or);
  REQUIRE(orr.children.size() == 2);
  CHECK(orr.children[0].op == SearchOp::Subject);
  CHECK(orr.children[0].text == "caf\xc3\xa9");  // the literal, case-folded
  CHECK(orr.children[1].op == SearchOp::SeqSet);
  CHECK(orr.children[1].set.ranges ==
        std::vector<std::pair<std::uint32_t, std::uint32_t>>{{5, SearchSet::kStar}});
  CHECK_FALSE(uses_modseq(q->root));
  auto m = parse_search(*tokenize_search("NOT MODSEQ 5"));
  REQUIRE(m);
  CHECK(uses_modseq(m->root));
}

TEST_CASE("syntax errors, limits and BADCHARSET") {
  CHECK(parse_error("CHARSET KOI8-R FROM x").code == Errc::Capability);
  for (std::string_view bad : {"", "FROM", "BEFORE 32-Jan-2000", "BEFORE 1-Jan-99", "LARGER x",
                               "OR SEEN", "NOT", "(SEEN", "()", "BOGUS", "UID x", "1:x", "0",
                               "\"SEEN\"", "MODSEQ", "MODSEQ \"/flags/x\" bogus 5",
                               "KEYWORD \"quoted\"", ")"}) {
    auto e = parse_error(bad);
    CHECK_MESSAGE(e.code == Errc::Parse, bad);
    CHECK(e.message.find("SEARCH") != std::string::npos);
  }
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "NOT ";
  deep += "SEEN";
  CHECK(parse_error(deep).code == Errc::Limit);
  SearchLimits few;
  few.max_keys = 3;
  auto q = parse_search(*tokenize_search("SEEN SEEN SEEN SEEN"), few);
  REQUIRE_FALSE(q);
  CHECK(q.error().code == Errc::Limit);
  CHECK_FALSE(tokenize_search("\"open"));
  CHECK_FALSE(tokenize_search("{10}\r\nab"));
}
