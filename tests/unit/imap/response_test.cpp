// Response grammar: RFC examples, [DOV] lines from PROTOCOL.md and named server quirks.
// Every row is parsed in one piece AND fed one byte at a time (Dovecot's test style); both
// must give the same responses.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <twinbox/imap/parser.hpp>

using namespace twinbox;
using namespace twinbox::imap;
using namespace std::string_literals;

namespace {

struct Parsed {
  std::vector<Response> responses;
  std::string error;  // empty when every byte parsed
  std::uint64_t leftover = 0;
};

/// Feeds `wire` in pieces of `step` bytes (0 = all at once), reusing one Response object.
Parsed run(std::string_view wire, std::size_t step, ParserLimits limits = {}) {
  ResponseParser p(limits);
  Parsed out;
  Response r;
  auto drain = [&] {
    for (;;) {
      const ParseStatus s = p.next(r);
      if (s == ParseStatus::Ok) {
        out.responses.push_back(r);
        continue;
      }
      if (s == ParseStatus::Error) out.error = p.error().message;
      return s;
    }
  };
  if (step == 0) {
    p.feed(wire);
    drain();
  } else {
    for (std::size_t i = 0; i < wire.size() && out.error.empty(); i += step) {
      p.feed(wire.substr(i, step));
      drain();
    }
  }
  out.leftover = p.buffered();
  return out;
}

/// Parses whole and byte by byte; both must agree and consume everything.
std::vector<Response> parse_ok(std::string_view wire) {
  const Parsed whole = run(wire, 0);
  const Parsed bytes = run(wire, 1);
  INFO("wire: " << wire);
  REQUIRE_MESSAGE(whole.error.empty(), whole.error);
  REQUIRE_MESSAGE(bytes.error.empty(), bytes.error);
  CHECK(whole.leftover == 0);
  CHECK(bytes.leftover == 0);
  REQUIRE(whole.responses.size() == bytes.responses.size());
  for (std::size_t i = 0; i < whole.responses.size(); ++i) {
    CHECK_MESSAGE(whole.responses[i] == bytes.responses[i], describe(whole.responses[i]));
  }
  return whole.responses;
}

template <class T>
T one(std::string_view wire) {
  auto rs = parse_ok(wire);
  REQUIRE(rs.size() == 1);
  const T* t = std::get_if<T>(&rs[0]);
  REQUIRE_MESSAGE(t != nullptr, describe(rs[0]));
  return *t;
}

/// Must fail, in one piece and byte by byte, with the same message.
std::string parse_err(std::string_view wire, ParserLimits limits = {}) {
  const Parsed whole = run(wire, 0, limits);
  const Parsed bytes = run(wire, 1, limits);
  INFO("wire: " << wire);
  REQUIRE_FALSE(whole.error.empty());
  CHECK(whole.error == bytes.error);
  return whole.error;
}

SeqSet set(std::string_view s) { return SeqSet::parse(s, false).value(); }

}  // namespace

TEST_CASE("RFC 3501 §8 sample session") {
  const std::string wire =
      "* OK IMAP4rev1 Service Ready\r\n"
      "a001 OK LOGIN completed\r\n"
      "* 18 EXISTS\r\n"
      "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
      "* 2 RECENT\r\n"
      "* OK [UNSEEN 17] Message 17 is the first unseen message\r\n"
      "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"
      "a002 OK [READ-WRITE] SELECT completed\r\n"
      "* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286 "
      "ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" "
      "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" "
      "\"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((NIL NIL "
      "\"imap\" \"cac.washington.edu\")) ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John "
      "Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL \"<B27397-0100000@cac.washington.edu>\") "
      "BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92))\r\n"
      "a003 OK FETCH completed\r\n"
      "* 12 FETCH (BODY[HEADER] {21}\r\nSubject: hi\r\nX: y\r\n\r\n)\r\n"
      "* BYE IMAP4rev1 server terminating connection\r\n"
      "a006 OK LOGOUT completed\r\n";
  auto rs = parse_ok(wire);
  REQUIRE(rs.size() == 13);
  CHECK(std::get<Condition>(rs[0]).text == "IMAP4rev1 Service Ready");
  CHECK(std::get<Tagged>(rs[1]).tag == "a001");
  CHECK(std::get<ExistsData>(rs[2]).count == 18);
  CHECK(std::get<FlagsData>(rs[3]).flags ==
        FlagSet{"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"});
  CHECK(std::get<RecentData>(rs[4]).count == 2);
  CHECK(std::get<Condition>(rs[5]).code.kind == ResponseCode::Kind::Unseen);
  CHECK(std::get<Condition>(rs[5]).code.number == 17);
  CHECK(std::get<Condition>(rs[6]).code.number == 3857529045U);
  CHECK(std::get<Tagged>(rs[7]).code.kind == ResponseCode::Kind::ReadWrite);
  const auto& f = std::get<FetchData>(rs[8]);
  CHECK(f.seq == SeqNum(12));
  CHECK_FALSE(f.uid.has_value());
  CHECK(f.flags == FlagSet{"\\Seen"});
  CHECK(f.internal_date == "17-Jul-1996 02:44:25 -0700");
  CHECK(f.rfc822_size == 4286U);
  REQUIRE(f.envelope.has_value());
  CHECK(f.envelope->subject == "IMAP4rev1 WG mtg summary and minutes");
  CHECK(f.envelope->from.size() == 1);
  CHECK(f.envelope->from[0].name == "Terry Gray");
  CHECK_FALSE(f.envelope->from[0].adl.has_value());
  CHECK(f.envelope->cc.size() == 2);
  CHECK(f.envelope->cc[1].mailbox == "KLENSIN");
  CHECK(f.envelope->bcc.empty());
  CHECK_FALSE(f.envelope->in_reply_to.has_value());
  CHECK(f.envelope->message_id == "<B27397-0100000@cac.washington.edu>");
  CHECK(f.bodystructure == "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92)");
  const auto& h = std::get<FetchData>(rs[10]);
  REQUIRE(h.bodies.size() == 1);
  CHECK(h.bodies[0].item == "BODY");
  CHECK(h.bodies[0].section == "HEADER");
  CHECK(h.bodies[0].data == "Subject: hi\r\nX: y\r\n\r\n");
  CHECK(h.bodies[0].size == 21);
  CHECK(std::get<Condition>(rs[11]).cond == Cond::Bye);
}

TEST_CASE("response codes") {
  using K = ResponseCode::Kind;
  auto code = [](std::string_view line) { return one<Condition>(line).code; };
  CHECK(code("* OK [ALERT] System shutdown in 10 minutes\r\n").kind == K::Alert);
  auto pf = code("* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n");
  CHECK(pf.kind == K::PermanentFlags);
  CHECK(pf.flags.allows_new_keywords());
  CHECK(pf.flags.contains("\\seen"));
  CHECK(code("* OK [UIDNEXT 4392] Predicted next UID\r\n").number == 4392);
  auto hm = code("* OK [HIGHESTMODSEQ 715194045007]\r\n");
  CHECK(hm.kind == K::HighestModSeq);
  CHECK(hm.modseq == ModSeq(715194045007ULL));
  CHECK(code("* OK [NOMODSEQ] Sorry, this mailbox format doesn't support modsequences\r\n").kind ==
        K::NoModSeq);
  auto cap = code("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
                  "AUTH=PLAIN] Dovecot ready.\r\n");
  CHECK(cap.kind == K::Capability);
  CHECK(cap.capabilities == std::vector<std::string>{"IMAP4rev1", "SASL-IR", "LOGIN-REFERRALS", "ID",
                                                     "ENABLE", "IDLE", "LITERAL+", "AUTH=PLAIN"});
  CHECK(code("* OK [CLOSED] Previous mailbox closed\r\n").kind == K::Closed);
  auto mid = code("* OK [MAILBOXID (F2212ea87-6097-4256-9d51-71338625)] Ok\r\n");
  CHECK(mid.kind == K::MailboxId);
  CHECK(mid.mailbox_id == "F2212ea87-6097-4256-9d51-71338625");
  CHECK(code("* NO [UIDNOTSTICKY] Non-persistent UIDs\r\n").kind == K::UidNotSticky);
  CHECK(code("* OK [NOTIFICATIONOVERFLOW] ...\r\n").kind == K::NotificationOverflow);
  auto unknown = code("* OK [X-SOMETHING 12 (a b)] whatever\r\n");
  CHECK(unknown.kind == K::Other);
  CHECK(unknown.atom == "X-SOMETHING");
  CHECK(unknown.raw == "12 (a b)");

  auto t = one<Tagged>("d105 OK [MODIFIED 7,9] Conditional STORE failed\r\n");
  CHECK(t.code.kind == K::Modified);
  CHECK(t.code.set == set("7,9"));
  t = one<Tagged>("A003 OK [APPENDUID 38505 3955] APPEND completed\r\n");
  CHECK(t.code.kind == K::AppendUid);
  CHECK(t.code.uidvalidity == UidValidity(38505));
  CHECK(t.code.dst_uids == set("3955"));
  t = one<Tagged>("A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n");
  CHECK(t.code.kind == K::CopyUid);
  CHECK(t.code.src_uids == set("304,319:320"));
  CHECK(t.code.dst_uids == set("3956:3958"));
  auto pairs = copyuid_pairs(t.code);
  REQUIRE(pairs.has_value());
  CHECK(*pairs == std::vector<std::pair<Uid, Uid>>{{Uid(304), Uid(3956)}, {Uid(319), Uid(3957)},
                                                   {Uid(320), Uid(3958)}});
  // Wire order is kept for zipping even when a set is not ascending.
  t = one<Tagged>("a OK [COPYUID 7 5,2 10:11] Done\r\n");
  pairs = copyuid_pairs(t.code);
  REQUIRE(pairs.has_value());
  CHECK(pairs->front() == std::pair<Uid, Uid>{Uid(5), Uid(10)});
  t = one<Tagged>("a OK [COPYUID 7 1:3 10] Done\r\n");
  CHECK_FALSE(copyuid_pairs(t.code).has_value());

  const std::pair<const char*, K> rfc5530[] = {
      {"AUTHENTICATIONFAILED", K::AuthenticationFailed}, {"UNAVAILABLE", K::Unavailable},
      {"EXPIRED", K::Expired}, {"PRIVACYREQUIRED", K::PrivacyRequired},
      {"CONTACTADMIN", K::ContactAdmin}, {"TRYCREATE", K::TryCreate},
      {"ALREADYEXISTS", K::AlreadyExists}, {"NONEXISTENT", K::NonExistent},
      {"OVERQUOTA", K::OverQuota}, {"LIMIT", K::Limit}, {"INUSE", K::InUse},
      {"EXPUNGEISSUED", K::ExpungeIssued}, {"COMPRESSIONACTIVE", K::CompressionActive},
      {"READ-ONLY", K::ReadOnly}, {"BADEVENT", K::BadEvent}};
  // Not a structured binding: clang 14 (the fuzz preset) cannot capture one in CHECK_MESSAGE.
  for (const auto& row : rfc5530) {
    const char* name = row.first;
    auto r = one<Tagged>(std::string("a NO [") + name + "] nope\r\n");
    CHECK_MESSAGE(r.code.kind == row.second, name);
    CHECK(r.cond == Cond::No);
    CHECK(r.text == "nope");
  }
}

TEST_CASE("gmail-highestmodseq-no-text") {
  auto c = one<Condition>("* OK [HIGHESTMODSEQ 4194304]\r\n");
  CHECK(c.code.kind == ResponseCode::Kind::HighestModSeq);
  CHECK(c.code.modseq == ModSeq(4194304));
  CHECK(c.text.empty());
  auto t = one<Tagged>("a2 OK [READ-WRITE]\r\n");
  CHECK(t.code.kind == ResponseCode::Kind::ReadWrite);
  // No text at all, not even a space.
  CHECK(one<Tagged>("a3 OK\r\n").text.empty());
}

TEST_CASE("untagged conditions, continuation, capability, enabled") {
  CHECK(one<Condition>("* PREAUTH IMAP4rev1 server logged in as Smith\r\n").cond == Cond::Preauth);
  CHECK(one<Continuation>("+ Ready for additional command text\r\n").text ==
        "Ready for additional command text");
  CHECK(one<Continuation>("+ \r\n").text.empty());
  CHECK(one<Continuation>("+\r\n").text.empty());
  CHECK(one<Continuation>("+ eyJzdGF0dXMiOiI0MDEifQ==\r\n").text == "eyJzdGF0dXMiOiI0MDEifQ==");
  // A continuation never announces a literal, even if its text ends in {n}.
  CHECK(one<Continuation>("+ send {5}\r\n").text == "send {5}");
  auto cap = one<CapabilityData>("* CAPABILITY IMAP4rev1 STARTTLS AUTH=GSSAPI LOGINDISABLED\r\n");
  CHECK(cap.capabilities.size() == 4);
  CHECK(one<EnabledData>("* ENABLED QRESYNC\r\n").capabilities == std::vector<std::string>{"QRESYNC"});
  CHECK(one<EnabledData>("* ENABLED\r\n").capabilities.empty());
  CHECK(one<ExpungeData>("* 44 EXPUNGE\r\n").seq == SeqNum(44));
  CHECK(one<ExistsData>("* 0 EXISTS\r\n").count == 0);
  auto u = one<UnknownData>("* QUOTA \"\" (STORAGE 10 512)\r\n");
  CHECK(u.name == "QUOTA");
  CHECK(u.raw == "\"\" (STORAGE 10 512)");
}

TEST_CASE("FETCH items") {
  auto f = one<FetchData>("* 7 FETCH (MODSEQ (12121231000) FLAGS (\\Deleted))\r\n");
  CHECK(f.modseq == ModSeq(12121231000ULL));
  CHECK(f.has_flags);
  // [DOV] QRESYNC select
  f = one<FetchData>("* 1 FETCH (UID 1 FLAGS ($Label1 $Work) MODSEQ (15))\r\n");
  CHECK(f.uid == Uid(1));
  CHECK(f.flags == FlagSet{"$label1", "$WORK"});
  CHECK(f.flags.items() == std::vector<std::string>{"$Label1", "$Work"});
  f = one<FetchData>("* 3 FETCH (UID 5 MODSEQ (11))\r\n");
  CHECK_FALSE(f.has_flags);
  f = one<FetchData>("* 1 FETCH (FLAGS ())\r\n");
  CHECK(f.has_flags);
  CHECK(f.flags.empty());
  // 63-bit and full 64-bit modseqs (RFC 4551 allowed 64-bit).
  f = one<FetchData>("* 1 FETCH (MODSEQ (18446744073709551615))\r\n");
  CHECK(f.modseq == ModSeq(18446744073709551615ULL));
  f = one<FetchData>(
      "* 2 FETCH (UID 9 BODY[HEADER.FIELDS (MESSAGE-ID)] {21}\r\nMessage-ID: <a@b>\r\n\r\n "
      "BODY[]<0> {3}\r\nabc BINARY[1] ~{2}\r\n\0\1 RFC822.SIZE 2000 EMAILID (M6d99ac3275bb4e) "
      "THREADID NIL X-GM-MSGID 1278455344230334865 X-GM-THRID 1266894439832287888 "
      "X-GM-LABELS (\\Inbox \\Sent Important \"Muy Importante\") BINARY.SIZE[1] 2 X-UNKNOWN (1 (2))"
      ")\r\n"s);
  CHECK(f.uid == Uid(9));
  REQUIRE(f.bodies.size() == 3);
  CHECK(f.bodies[0].section == "HEADER.FIELDS (MESSAGE-ID)");
  CHECK(f.bodies[0].data == "Message-ID: <a@b>\r\n\r\n");
  CHECK(f.bodies[1].origin == 0U);
  CHECK(f.bodies[1].data == "abc");
  CHECK(f.bodies[2].item == "BINARY");
  CHECK(f.bodies[2].data == std::string("\0\1", 2));
  CHECK(f.email_id == "M6d99ac3275bb4e");
  CHECK_FALSE(f.thread_id.has_value());
  CHECK(f.gm_msgid == 1278455344230334865ULL);
  CHECK(f.gm_thrid == 1266894439832287888ULL);
  REQUIRE(f.gm_labels.has_value());
  CHECK(*f.gm_labels == std::vector<std::string>{"\\Inbox", "\\Sent", "Important", "Muy Importante"});
  REQUIRE(f.other.size() == 2);
  CHECK(f.other[0].name == "BINARY.SIZE[1]");
  CHECK(f.other[0].raw == "2");
  CHECK(f.other[1].raw == "(1 (2))");
  // NIL body section and keywords that start with a digit (atoms, not numbers).
  f = one<FetchData>("* 4 FETCH (BODY[1.MIME] NIL FLAGS (2024:taxes 1,a \\Seen))\r\n");
  CHECK_FALSE(f.bodies[0].data.has_value());
  CHECK(f.flags.contains("2024:TAXES"));
  CHECK(f.flags.contains("1,a"));
}

TEST_CASE("yahoo-body-as-quoted-string") {
  auto f = one<FetchData>("* 1 FETCH (UID 4 BODY[HEADER.FIELDS (SUBJECT)] \"Subject: \\\"hi\\\"\\\\\")\r\n");
  REQUIRE(f.bodies.size() == 1);
  CHECK(f.bodies[0].data == "Subject: \"hi\"\\");
  CHECK_FALSE(f.bodies[0].streamed);
}

TEST_CASE("LIST and LSUB") {
  auto l = one<ListData>("* LIST (\\Marked \\NoInferiors) \"/\" \"inbox\"\r\n");
  CHECK(l.attributes == std::vector<std::string>{"\\Marked", "\\NoInferiors"});
  CHECK(l.delimiter == '/');
  CHECK(l.mailbox == "inbox");
  l = one<ListData>("* LIST () \"/\" \"Fruit\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n");  // RFC 5258
  CHECK(l.child_info == std::vector<std::string>{"SUBSCRIBED"});
  l = one<ListData>("* LIST (\\NonExistent \\Subscribed) \"/\" \"Fruit/Peach\"\r\n");
  CHECK(l.has_attribute("\\nonexistent"));
  l = one<ListData>("* LIST () \"/\" Projects/2024 (\"OLDNAME\" (\"Projects/2023\"))\r\n");  // RFC 5465
  CHECK(l.old_name == "Projects/2023");
  l = one<ListData>("* LIST (\\Noselect) NIL \"\"\r\n");
  CHECK_FALSE(l.delimiter.has_value());
  l = one<ListData>("* LIST () \"\\\\\" {5}\r\nA\\B\"C\r\n");  // literal name, `\` delimiter
  CHECK(l.delimiter == '\\');
  CHECK(l.mailbox == "A\\B\"C");
  l = one<ListData>("* LSUB () \".\" #news.comp.mail.misc\r\n");
  CHECK(l.kind == ListData::Kind::Lsub);
  // [DOV] LIST-STATUS and NOTIFY
  auto rs = parse_ok(
      "* LIST (\\Sent) \"/\" Sent\r\n"
      "* STATUS Sent (MESSAGES 0 UIDNEXT 1 UIDVALIDITY 1795348216 HIGHESTMODSEQ 1)\r\n"
      "* LIST () \"/\" INBOX\r\n"
      "f OK List completed\r\n");
  REQUIRE(rs.size() == 4);
  CHECK(std::get<ListData>(rs[0]).has_attribute("\\Sent"));
  l = one<ListData>("* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent Items\"\r\n");  // Exchange
  CHECK(l.mailbox == "Sent Items");
  l = one<ListData>("* LIST (\\Noselect \\HasChildren) \"/\" Caf&AOk-\r\n");
  CHECK(l.mailbox == "Caf&AOk-");
  l = one<ListData>("* LIST () \"/\" NIL\r\n");  // a mailbox called NIL is a name
  CHECK(l.mailbox == "NIL");
}

TEST_CASE("list-attributes-without-spaces") {
  auto l = one<ListData>("* LIST (\\Sent\\HasNoChildren) \"/\" Sent\r\n");
  CHECK(l.attributes == std::vector<std::string>{"\\Sent", "\\HasNoChildren"});
}

TEST_CASE("exchange-list-unquoted-control-chars") {
  auto l = one<ListData>("* LIST (\\HasNoChildren) \"/\" Inbox/A\x01\x1f" "B\r\n");
  CHECK(l.mailbox == "Inbox/A\x01\x1f" "B");
}

TEST_CASE("STATUS") {
  auto s = one<StatusData>("* STATUS blurdybloop (MESSAGES 231 UIDNEXT 7500 HIGHESTMODSEQ 7011231777)\r\n");
  CHECK(s.mailbox == "blurdybloop");
  CHECK(s.messages == 231U);
  CHECK(s.uid_next == Uid(7500));
  CHECK(s.highest_modseq == ModSeq(7011231777ULL));
  CHECK_FALSE(s.uid_validity.has_value());
  // [DOV] NOTIFY partial line
  s = one<StatusData>("* STATUS Trash (HIGHESTMODSEQ 4)\r\n");
  CHECK(s.highest_modseq == ModSeq(4));
  CHECK_FALSE(s.messages.has_value());
  s = one<StatusData>(
      "* STATUS \"a b\" (UNSEEN 0 RECENT 1 SIZE 1234567890123 MAILBOXID (Fabc) X-FOO (1 2))\r\n");
  CHECK(s.mailbox == "a b");
  CHECK(s.unseen == 0U);
  CHECK(s.size == 1234567890123ULL);
  CHECK(s.mailbox_id == "Fabc");
  REQUIRE(s.other.size() == 1);
  CHECK(s.other[0].raw == "(1 2)");
}

TEST_CASE("exchange-status-trailing-space") {
  auto s = one<StatusData>("* STATUS INBOX (MESSAGES 5 UIDNEXT 12 UNSEEN 1) \r\n");
  CHECK(s.messages == 5U);
  CHECK(s.uid_next == Uid(12));
  s = one<StatusData>("* STATUS \"Sent Items\" (MESSAGES 0 ) \r\n");
  CHECK(s.messages == 0U);
}

TEST_CASE("SEARCH and ESEARCH") {
  auto s = one<SearchData>("* SEARCH 2 5 6 7 11 12 18 19 20 23 (MODSEQ 917162500)\r\n");
  CHECK(s.ids == set("2,5:7,11:12,18:20,23"));
  CHECK(s.modseq == ModSeq(917162500));
  CHECK(one<SearchData>("* SEARCH\r\n").ids.empty());
  CHECK(one<SearchData>("* SEARCH 9 3 1 \r\n").ids == set("1,3,9"));
  auto e = one<ESearchData>("* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n");
  CHECK(e.tag == "A282");
  CHECK(e.min == 2U);
  CHECK(e.count == 3U);
  CHECK_FALSE(e.uid);
  e = one<ESearchData>("* ESEARCH (TAG \"A283\") UID ALL 2,10:11 MAX 11 MODSEQ 12\r\n");
  CHECK(e.uid);
  CHECK(e.all == set("2,10:11"));
  CHECK(e.max == 11U);
  CHECK(e.modseq == ModSeq(12));
  e = one<ESearchData>("* ESEARCH (TAG \"A285\") UID\r\n");
  CHECK_FALSE(e.all.has_value());
  e = one<ESearchData>("* ESEARCH (TAG \"x\") UID ALL 1,5\r\n");  // [DOV]
  CHECK(e.all == set("1,5"));
}

TEST_CASE("VANISHED") {
  auto v = one<VanishedData>("* VANISHED (EARLIER) 41,43:116,118,120:211,214:540\r\n");
  CHECK(v.earlier);
  CHECK(v.uids == set("41,43:116,118,120:211,214:540"));
  v = one<VanishedData>("* VANISHED 4\r\n");
  CHECK_FALSE(v.earlier);
  CHECK(v.uids == set("4"));
  v = one<VanishedData>("* VANISHED 9:7,1\r\n");
  CHECK(v.uids == set("1,7:9"));
}

TEST_CASE("NAMESPACE, ID") {
  auto n = one<NamespaceData>(
      "* NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) ((\"#shared/\" \"/\")(\"#public/\" \"/\")"
      "(\"#ftp/\" \"/\")(\"#news.\" \".\"))\r\n");
  CHECK(n.personal.size() == 1);
  CHECK(n.personal[0].delimiter == '/');
  CHECK(n.shared.size() == 4);
  CHECK(n.shared[3].prefix == "#news.");
  n = one<NamespaceData>("* NAMESPACE ((\"INBOX.\" \".\" \"X-PARAM\" (\"FLAG1\" \"FLAG2\"))) NIL NIL\r\n");
  CHECK(n.personal[0].prefix == "INBOX.");
  CHECK(n.personal[0].extensions_raw == "\"X-PARAM\" (\"FLAG1\" \"FLAG2\")");
  CHECK(n.other_users.empty());
  auto id = one<IdData>(
      "* ID (\"name\" \"Cyrus\" \"version\" \"1.5\" \"os\" \"sunos\" \"os-version\" \"5.5\" "
      "\"support-url\" \"mailto:cyrus-bugs+@andrew.cmu.edu\")\r\n");
  REQUIRE(id.params.size() == 5);
  CHECK(id.params[4].second == "mailto:cyrus-bugs+@andrew.cmu.edu");
  CHECK(one<IdData>("* ID NIL\r\n").params.empty());
  id = one<IdData>("* ID (\"name\" \"Dovecot\" \"x\" NIL)\r\n");  // [DOV]
  CHECK_FALSE(id.params[1].second.has_value());
}

TEST_CASE("[DOV] sequences from PROTOCOL.md") {
  auto rs = parse_ok(
      "* 2 EXISTS\r\n"
      "* OK [UIDVALIDITY 1795348218] UIDs valid\r\n"
      "* OK [UIDNEXT 7] Predicted next UID\r\n"
      "* OK [HIGHESTMODSEQ 15] Highest\r\n"
      "* VANISHED (EARLIER) 5\r\n"
      "* 1 FETCH (UID 1 FLAGS ($Label1 $Work) MODSEQ (15))\r\n"
      "a4 OK [READ-WRITE] Select completed (0.001 + 0.000 secs).\r\n"
      "* 1 FETCH (UID 1 MODSEQ (8) FLAGS ($Label1))\r\n"
      "* 3 FETCH (UID 5 MODSEQ (11))\r\n"
      "* VANISHED 2\r\n"
      "a3 OK [MODIFIED 1] Conditional store failed\r\n"
      "a99 OK [APPENDUID 1795348218 1:5] Append completed\r\n"
      "* OK [COPYUID 1795348217 4 1] Moved UIDs.\r\n"
      "* VANISHED 4\r\n"
      "a10 OK [HIGHESTMODSEQ 7] Move completed\r\n"
      "a BAD Invalid QRESYNC sets\r\n");
  REQUIRE(rs.size() == 16);
  CHECK(std::get<Tagged>(rs[11]).code.dst_uids == set("1:5"));
  CHECK(std::get<Condition>(rs[12]).code.kind == ResponseCode::Kind::CopyUid);
  CHECK(std::get<Tagged>(rs[15]).cond == Cond::Bad);
}

TEST_CASE("malformed responses give errors naming the offset") {
  CHECK(parse_err("* 1 FETCH (UID 0)\r\n").find("at byte 15") != std::string::npos);
  CHECK(parse_err("* 1 EXISTS\r\n* 1 FETCH (UID 99999999999)\r\n").find("at byte 27") !=
        std::string::npos);
  CHECK(parse_err("* 1 FETCH (MODSEQ (18446744073709551616))\r\n").find("too large") !=
        std::string::npos);
  CHECK(parse_err("* 0 FETCH (UID 1)\r\n").find("0") != std::string::npos);
  CHECK(parse_err("* 0 EXPUNGE\r\n").find("EXPUNGE") != std::string::npos);
  parse_err("* 1 FETCH (FLAGS (\\*))\r\n");
  parse_err("* 1 FETCH (UID -1)\r\n");
  parse_err("* OK [UIDNEXT 0] x\r\n");
  parse_err("* OK [UIDVALIDITY x] x\r\n");
  parse_err("* OK [UIDNEXT 5 x\r\n");
  parse_err("* LIST () \"ab\" x\r\n");
  parse_err("* VANISHED 1:*\r\n");
  parse_err("* SEARCH 1 0\r\n");
  parse_err("* 1 FETCH (BODY[] \"a\r\n");
  parse_err("* 1 FETCH (BODY[] \"\\a\")\r\n");
  parse_err("* 1 FETCH UID 1\r\n");
  parse_err("* 1 FETCH (UID 1))\r\n");
  parse_err("(\r\n");
  parse_err("a1 MAYBE\r\n");
  parse_err("* STATUS INBOX (MESSAGES 4294967296)\r\n");
  const std::string e = parse_err("* 1 FETCH (UID 1 FLAGS (\\Seen \x01))\r\n");
  CHECK(e.find("\\x01") != std::string::npos);  // excerpt escapes control bytes
}
