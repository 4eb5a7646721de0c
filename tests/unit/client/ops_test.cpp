// Typed operations and pipelining against scripted servers.
#include "fixture.hpp"

#include <twinbox/client/loop.hpp>
#include <twinbox/imap/serialize.hpp>

using namespace twinbox;
using namespace twinbox::client;
using twinbox::client::test::Scripted;
using twinbox::client::test::soon;

namespace {
imap::SeqSet set_of(std::string_view s) { return imap::SeqSet::parse(s, false).value(); }

std::string caps_line(std::string_view caps) { return client::test::preauth(caps); }
}  // namespace

TEST_CASE("pipelined commands complete out of order, each by its own tag") {
  Scripted t(caps_line("CONDSTORE LIST-STATUS") + R"(
C: a1 NOOP
C: a2 STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)
C: a3 STATUS Sent (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)
S: * STATUS Sent (MESSAGES 2 UIDNEXT 3 UIDVALIDITY 7 HIGHESTMODSEQ 9)
S: a3 OK done
S: * STATUS INBOX (MESSAGES 5 UIDNEXT 6 UIDVALIDITY 8 HIGHESTMODSEQ 10)
S: a2 OK done
S: a1 OK done
)", Scripted::secure());
  REQUIRE(t.session->greet(soon()));
  auto n = t.session->noop();
  auto s1 = t.session->status("INBOX", {});
  auto s2 = t.session->status("Sent", {});
  // Nothing is on the wire until the session is driven; then all three go out at once.
  CHECK(t.stream->written().empty());
  auto r2 = t.session->wait(s2, soon());
  REQUIRE_MESSAGE(r2, t.diag());
  CHECK(r2->messages == 2u);
  CHECK(r2->uid_validity == UidValidity(7));
  auto r1 = t.session->wait(s1, soon());
  REQUIRE(r1);
  CHECK(r1->uid_next == Uid(6));
  REQUIRE(t.session->wait(n, soon()));
  CHECK(t.session->commands_sent() == 3);
  CHECK(t.finished());
}

TEST_CASE("LIST with LIST-STATUS and SPECIAL-USE in one round trip") {
  Scripted t(caps_line("CONDSTORE LIST-EXTENDED LIST-STATUS SPECIAL-USE") + R"(
C: a1 LIST "" * RETURN (SPECIAL-USE STATUS (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ))
S: * LIST (\Sent) "/" Sent
S: * STATUS Sent (MESSAGES 0 UIDNEXT 1 UIDVALIDITY 1795348216 HIGHESTMODSEQ 1)
S: * LIST (\Noselect \HasChildren) "/" Caf&AOk-
S: * LIST () "/" INBOX
S: * STATUS INBOX (MESSAGES 3 UIDNEXT 4 UIDVALIDITY 1795348218 HIGHESTMODSEQ 5)
S: a1 OK List completed
)", Scripted::secure());
  REQUIRE(t.session->greet(soon()));
  ListOptions o;
  o.with_status = true;
  auto r = t.session->wait(t.session->list(o), soon());
  REQUIRE_MESSAGE(r, t.diag());
  REQUIRE(r->size() == 3);
  CHECK((*r)[0].name == "Sent");
  CHECK((*r)[0].special_use == "\\Sent");
  REQUIRE((*r)[0].status.has_value());
  CHECK((*r)[0].status->uid_validity == UidValidity(1795348216));
  CHECK_FALSE((*r)[1].selectable());
  CHECK_FALSE((*r)[1].status.has_value());
  REQUIRE((*r)[2].status.has_value());
  CHECK((*r)[2].status->messages == 3u);
  CHECK(t.session->commands_sent() == 1);
}

TEST_CASE("LIST without LIST-STATUS falls back to pipelined STATUS") {
  Scripted t(caps_line("") + R"(
C: a1 LIST "" *
S: * LIST (\HasNoChildren) "/" INBOX
S: * LIST (\Noselect) "/" Archive
S: * LIST () "/" "Old mail"
S: a1 OK done
C: a2 STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY)
C: a3 STATUS "Old mail" (MESSAGES UIDNEXT UIDVALIDITY)
S: * STATUS "Old mail" (MESSAGES 1 UIDNEXT 2 UIDVALIDITY 3)
S: * STATUS INBOX (MESSAGES 4 UIDNEXT 5 UIDVALIDITY 6)
S: a3 OK done
S: a2 OK done
)", Scripted::secure());
  REQUIRE(t.session->greet(soon()));
  ListOptions o;
  o.with_status = true;
  auto r = t.session->wait(t.session->list(o), soon());
  REQUIRE_MESSAGE(r, t.diag());
  REQUIRE(r->size() == 3);
  REQUIRE((*r)[0].status);
  CHECK((*r)[0].status->messages == 4u);
  CHECK_FALSE((*r)[1].status);
  REQUIRE((*r)[2].status);
  CHECK((*r)[2].status->uid_next == Uid(2));
  CHECK(t.finished());
}

TEST_CASE("SELECT with QRESYNC returns vanished-earlier and changed FETCH lines") {
  Scripted t(caps_line("ENABLE QRESYNC CONDSTORE") + R"(
C: a1 ENABLE QRESYNC
S: * ENABLED QRESYNC
S: a1 OK done
C: a2 SELECT INBOX (QRESYNC (1795348218 11 1:5 (1:2 1,5)))
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Label1)
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Label1 \*)] Flags
S: * 2 EXISTS
S: * OK [UIDVALIDITY 1795348218] UIDs valid
S: * OK [UIDNEXT 7] Predicted next UID
S: * OK [HIGHESTMODSEQ 15] Highest
S: * OK [MAILBOXID (F123)] Ok
S: * VANISHED (EARLIER) 5
S: * 1 FETCH (UID 1 FLAGS ($Label1) MODSEQ (15))
S: a2 OK [READ-WRITE] Select completed
)", Scripted::secure());
  REQUIRE(t.session->greet(soon()));
  REQUIRE(t.session->enable({"QRESYNC"}, soon()));
  SelectOptions so;
  QresyncParams q;
  q.uidvalidity = UidValidity(1795348218);
  q.modseq = ModSeq(11);
  q.known_uids = set_of("1:5");
  q.seq_match = std::make_pair(set_of("1:2"), set_of("1,5"));
  so.qresync = q;
  auto r = t.session->wait(t.session->select("INBOX", so), soon());
  REQUIRE_MESSAGE(r, t.diag());
  CHECK(r->qresync_sent);
  CHECK(r->uidvalidity == UidValidity(1795348218));
  CHECK(r->uidnext == Uid(7));
  CHECK(r->highestmodseq == ModSeq(15));
  CHECK(r->exists == 2);
  CHECK(r->mailbox_id == "F123");
  CHECK(r->permanent_flags.allows_new_keywords());
  CHECK_FALSE(r->read_only);
  CHECK(r->vanished_earlier == set_of("5"));
  REQUIRE(r->changed.size() == 1);
  CHECK(r->changed[0].uid == Uid(1));
  CHECK(t.session->state() == SessionState::Selected);
  REQUIRE(t.session->selected());
  CHECK(t.session->selected()->mailbox == "INBOX");
  // The SELECT answer is not an unsolicited change.
  CHECK_FALSE(t.session->has_changes());
}

TEST_CASE("QRESYNC parameter is omitted while the stored modseq is 0; NOMODSEQ reported") {
  Scripted t(caps_line("ENABLE QRESYNC CONDSTORE") + R"(
C: a1 ENABLE QRESYNC
S: * ENABLED QRESYNC
S: a1 OK done
C: a2 EXAMINE Lists/foo (CONDSTORE)
S: * 0 EXISTS
S: * OK [UIDVALIDITY 3] x
S: * OK [NOMODSEQ] no modseqs
S: a2 OK [READ-ONLY] done
)", Scripted::secure());
  REQUIRE(t.session->greet(soon()));
  REQUIRE(t.session->enable({"QRESYNC"}, soon()));
  SelectOptions so;
  so.read_only = true;
  so.qresync = QresyncParams{UidValidity(3), ModSeq(0), std::nullopt, std::nullopt};
  auto r = t.session->wait(t.session->select("Lists/foo", so), soon());
  REQUIRE_MESSAGE(r, t.diag());
  CHECK(r->nomodseq);
  CHECK(r->read_only);
  CHECK_FALSE(r->qresync_sent);
}

TEST_CASE("untagged EXPUNGE during UID FETCH is mapped to its UID (no QRESYNC)") {
  Scripted t(caps_line("UIDPLUS") + R"(
C: a1 SELECT INBOX
S: * 3 EXISTS
S: * OK [UIDVALIDITY 9] x
S: * OK [UIDNEXT 40] x
S: a1 OK [READ-WRITE] done
C: a2 UID FETCH 1:39 (UID FLAGS)
S: * 1 FETCH (UID 10 FLAGS (\Seen))
S: * 2 FETCH (UID 20 FLAGS ())
S: * 2 EXPUNGE
S: * 2 FETCH (UID 30 FLAGS (\Flagged))
S: a2 OK done
)", Scripted::secure());
  REQUIRE(t.session->greet(soon()));
  REQUIRE(t.session->wait(t.session->select("INBOX"), soon()));
  auto r = t.session->wait(t.session->uid_fetch(set_of("1:39"), {}), soon());
  REQUIRE_MESSAGE(r, t.diag());
  CHECK(r->messages.size() == 3);
  auto ch = t.session->take_changes();
  CHECK(ch.expunged == set_of("20"));
  CHECK(ch.unmapped_expunges == 0);
  CHECK(t.session->selected()->exists == 2);
  CHECK(t.session->uid_of(SeqNum(2)) == Uid(30));
  CHECK_FALSE(t.session->has_changes());
}

TEST_CASE("UID STORE UNCHANGEDSINCE: MODIFIED set, new MODSEQs, VANISHED during the command") {
  Scripted t(caps_line("ENABLE QRESYNC CONDSTORE") + R"(
C: a1 ENABLE QRESYNC
S: * ENABLED QRESYNC
S: a1 OK done
C: a2 SELECT INBOX
S: * 3 EXISTS
S: * OK [UIDVALIDITY 9] x
S: * OK [HIGHESTMODSEQ 7] x
S: a2 OK [READ-WRITE] done
C: a3 UID STORE 1,5 (UNCHANGEDSINCE 7) +FLAGS.SILENT (\Answered)
S: * 1 FETCH (UID 1 MODSEQ (8) FLAGS ($Label1))
S: * 3 FETCH (UID 5 MODSEQ (11))
S: * VANISHED 2
S: * 2 FETCH (UID 9 FLAGS (\Seen) MODSEQ (12))
S: a3 OK [MODIFIED 1] Conditional store failed
)", Scripted::secure());
  REQUIRE(t.session->greet(soon()));
  REQUIRE(t.session->enable({"QRESYNC"}, soon()));
  REQUIRE(t.session->wait(t.session->select("INBOX"), soon()));
  imap::FlagSet answered{"\\Answered"};
  auto r = t.session->wait(
      t.session->uid_store(set_of("1,5"), StoreMode::Add, answered, ModSeq(7)), soon());
  REQUIRE_MESSAGE(r, t.diag());
  CHECK(r->modified == set_of("1"));
  REQUIRE(r->fetched.size() == 2);
  CHECK(r->fetched[1].uid == Uid(5));
  CHECK(r->fetched[1].modseq == ModSeq(11));
  auto ch = t.session->take_changes();
  CHECK(ch.expunged == set_of("2"));
  REQUIRE(ch.fetches.size() == 1);  // UID 9 was not part of the STORE
  CHECK(ch.fetches[0].uid == Uid(9));
  CHECK(t.session->selected()->exists == 2);
}

TEST_CASE("NO [MODIFIED] is a conditional-store outcome, plain NO an error") {
  Scripted t(caps_line("CONDSTORE") + R"(
C: a1 UID STORE 4 (UNCHANGEDSINCE 0) FLAGS.SILENT (\Seen)
S: a1 NO [MODIFIED 4] nothing stored
C: a2 UID STORE 4 +FLAGS.SILENT ($Junk)
S: a2 NO [CANNOT] read-only
)", Scripted::secure());
  REQUIRE(t.session->greet(soon()));
  auto r = t.session->wait(t.session->uid_store(set_of("4"), StoreMode::Replace,
                                                imap::FlagSet{"\\Seen"}, ModSeq(0)),
                           soon());
  REQUIRE_MESSAGE(r, t.diag());
  CHECK(r->modified == set_of("4"));
  auto r2 = t.session->wait(
      t.session->uid_store(set_of("4"), StoreMode::Add, imap::FlagSet{"$Junk"}), soon());
  REQUIRE_FALSE(r2);
  CHECK(r2.error().code == Errc::Protocol);
  CHECK(r2.error().message.find("read-only") != std::string::npos);
}

TEST_CASE("APPEND with LITERAL+: APPENDUID; MULTIAPPEND in one command") {
  Scripted t(caps_line("LITERAL+ UIDPLUS MULTIAPPEND") + R"(
C: a1 APPEND INBOX (\Seen) "01-Jan-2024 10:00:00 +0000" {5+}
C: hello
S: a1 OK [APPENDUID 1795348218 12] Append completed
C: a2 APPEND Sent () {3+}
C: one ($Junk) {3+}
C: two
S: a2 OK [APPENDUID 77 13:14] done
)", Scripted::secure());
  REQUIRE(t.session->greet(soon()));
  AppendMessage m;
  m.flags = imap::FlagSet{"\\Seen", "\\Recent"};
  m.internal_date = "01-Jan-2024 10:00:00 +0000";
  m.data = "hello";
  auto r = t.session->wait(t.session->append("INBOX", {m}), soon());
  REQUIRE_MESSAGE(r, t.diag());
  CHECK(r->uidvalidity == UidValidity(1795348218));
  REQUIRE(r->uids.size() == 1);
  CHECK(r->uids[0] == Uid(12));
  AppendMessage a, b;
  a.data = "one";
  b.data = "two";
  b.flags = imap::FlagSet{"$Junk"};
  auto r2 = t.session->wait(t.session->append("Sent", {a, b}), soon());
  REQUIRE_MESSAGE(r2, t.diag());
  REQUIRE(r2->uids.size() == 2);
  CHECK(r2->uids[1] == Uid(14));
  // The trace summarises literal bodies.
  CHECK(t.all_trace().find("{5 bytes}") != std::string::npos);
}

TEST_CASE("synchronizing literals without LITERAL+: one waits for '+', later commands queue") {
  Scripted t(caps_line("UIDPLUS") + R"(
C: a1 APPEND INBOX () {5}
S: + go ahead
C: hello
C: a2 NOOP
S: a1 OK [APPENDUID 5 1] done
S: a2 OK done
)", Scripted::secure());
  REQUIRE(t.session->greet(soon()));
  AppendMessage m;
  m.data = "hello";
  auto p = t.session->append("INBOX", {m});
  auto n = t.session->noop();
  REQUIRE_MESSAGE(t.session->wait(n, soon()), t.diag());
  REQUIRE(t.session->wait(p, soon()));
  CHECK(t.finished());
}

TEST_CASE("a refused synchronizing literal fails the command; the pipeline goes on") {
  Scripted t(caps_line("") + R"(
C: a1 APPEND INBOX () {5}
S: a1 NO [TRYCREATE] no such mailbox
C: a2 NOOP
S: a2 OK done
)", Scripted::secure());
  REQUIRE(t.session->greet(soon()));
  AppendMessage m;
  m.data = "hello";
  auto p = t.session->append("INBOX", {m});
  auto n = t.session->noop();
  auto r = t.session->wait(p, soon());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::NotFound);
  REQUIRE_MESSAGE(t.session->wait(n, soon()), t.diag());
}

TEST_CASE("LITERAL-: non-synchronizing up to 4096 octets, synchronizing above") {
  std::string big(5000, 'x');
  Scripted t(caps_line("LITERAL- MULTIAPPEND") + "C: a1 APPEND INBOX () {3+}\nC: abc () {5000}\nS: + ok\nC: " +
                 big + "\nS: a1 OK done\n",
             Scripted::secure());
  REQUIRE(t.session->greet(soon()));
  AppendMessage a, b;
  a.data = "abc";
  b.data = big;
  REQUIRE_MESSAGE(t.session->wait(t.session->append("INBOX", {a, b}), soon()), t.diag());
}

TEST_CASE("COPYUID: untagged before the expunges (MOVE) and tagged (COPY)") {
  Scripted t(caps_line("ENABLE QRESYNC MOVE UIDPLUS") + R"(
C: a1 ENABLE QRESYNC
S: * ENABLED QRESYNC
S: a1 OK done
C: a2 SELECT INBOX
S: * 5 EXISTS
S: a2 OK [READ-WRITE] done
C: a3 UID MOVE 4,6 Trash
S: * OK [COPYUID 1795348217 4,6 1:2] Moved UIDs.
S: * VANISHED 4,6
S: a3 OK [HIGHESTMODSEQ 7] Move completed
C: a4 UID COPY 7 Archive
S: a4 OK [COPYUID 99 7 3] Copy completed
)", Scripted::secure());
  REQUIRE(t.session->greet(soon()));
  REQUIRE(t.session->enable({"QRESYNC"}, soon()));
  REQUIRE(t.session->wait(t.session->select("INBOX"), soon()));
  auto mv = t.session->wait(t.session->uid_move(set_of("4,6"), "Trash"), soon());
  REQUIRE_MESSAGE(mv, t.diag());
  REQUIRE(mv->pairs.size() == 2);
  CHECK(mv->pairs[1] == std::make_pair(Uid(6), Uid(2)));
  CHECK(mv->dest_uidvalidity == UidValidity(1795348217));
  CHECK(mv->expunged == set_of("4,6"));
  CHECK(mv->highestmodseq == ModSeq(7));
  CHECK_FALSE(t.session->has_changes());  // our own move is not a foreign change
  CHECK(t.session->selected()->exists == 3);
  auto cp = t.session->wait(t.session->uid_copy(set_of("7"), "Archive"), soon());
  REQUIRE(cp);
  REQUIRE(cp->pairs.size() == 1);
  CHECK(cp->pairs[0] == std::make_pair(Uid(7), Uid(3)));
}

TEST_CASE("UID EXPUNGE with QRESYNC; missing UIDPLUS is Errc::Capability") {
  Scripted t(caps_line("ENABLE QRESYNC UIDPLUS") + R"(
C: a1 ENABLE QRESYNC
S: * ENABLED QRESYNC
S: a1 OK done
C: a2 SELECT INBOX
S: * 5 EXISTS
S: a2 OK done
C: a3 UID EXPUNGE 3:4
S: * VANISHED 3:4
S: a3 OK [HIGHESTMODSEQ 20] Expunge completed
)", Scripted::secure());
  REQUIRE(t.session->greet(soon()));
  REQUIRE(t.session->enable({"QRESYNC"}, soon()));
  REQUIRE(t.session->wait(t.session->select("INBOX"), soon()));
  auto r = t.session->wait(t.session->uid_expunge(set_of("3:4")), soon());
  REQUIRE_MESSAGE(r, t.diag());
  CHECK(r->expunged == set_of("3:4"));
  CHECK(r->highestmodseq == ModSeq(20));
  CHECK(t.session->selected()->highestmodseq == ModSeq(20));

  Scripted u(caps_line(""), Scripted::secure());
  REQUIRE(u.session->greet(soon()));
  auto e = u.session->wait(u.session->uid_expunge(set_of("1")), soon());
  REQUIRE_FALSE(e);
  CHECK(e.error().code == Errc::Capability);
}

TEST_CASE("UID SEARCH with ESEARCH and with plain SEARCH") {
  Scripted t(caps_line("ESEARCH") + R"(
C: a1 UID SEARCH RETURN (ALL) UNSEEN
S: * ESEARCH (TAG "a1") UID ALL 1,5:7
S: a1 OK done
)", Scripted::secure());
  REQUIRE(t.session->greet(soon()));
  auto r = t.session->wait(t.session->uid_search("UNSEEN"), soon());
  REQUIRE_MESSAGE(r, t.diag());
  CHECK(r->uids == set_of("1,5:7"));
  CHECK(r->count == 4u);

  Scripted u(caps_line("") + R"(
C: a1 UID SEARCH UID 1:10
S: * SEARCH 7 3 9
S: a1 OK done
)", Scripted::secure());
  REQUIRE(u.session->greet(soon()));
  auto r2 = u.session->wait(u.session->uid_search("UID 1:10"), soon());
  REQUIRE(r2);
  CHECK(r2->uids == set_of("3,7,9"));
}

TEST_CASE("long UID sets are split so command lines stay under the limit") {
  SessionOptions o = Scripted::secure();
  o.max_command_line = 100;
  imap::SeqSet big;
  for (std::uint32_t u = 1; u <= 200; u += 2) big.add(u);
  std::string expect;
  auto pieces = imap::split_uid_set(big, 100, std::string("(UID FLAGS)").size() + 64);
  REQUIRE(pieces.size() > 1);
  int tag = 1;
  for (auto& p : pieces) {
    expect += "C: a" + std::to_string(tag++) + " UID FETCH " + p.to_string() + " (UID FLAGS)\n";
  }
  for (int i = 1; i < tag; ++i) expect += "S: a" + std::to_string(i) + " OK done\n";
  Scripted t(caps_line("") + expect, o);
  REQUIRE(t.session->greet(soon()));
  auto r = t.session->wait(t.session->uid_fetch(big, {}), soon());
  REQUIRE_MESSAGE(r, t.diag());
  for (auto& line : t.trace) {
    if (line.rfind("C: ", 0) == 0) CHECK(line.size() - 3 <= 100);
  }
  CHECK(t.finished());
}

namespace {
struct CollectSink : MessageSink {
  std::vector<std::string> bodies;
  std::vector<Uid> uids;
  std::size_t chunks = 0;
  std::size_t max_chunk = 0;
  Status begin(SeqNum, std::uint64_t size) override {
    bodies.emplace_back();
    bodies.back().reserve(size);
    return {};
  }
  Status data(std::string_view c) override {
    ++chunks;
    max_chunk = std::max(max_chunk, c.size());
    bodies.back() += c;
    return {};
  }
  Status end(const imap::FetchData& meta) override {
    if (meta.uid) uids.push_back(*meta.uid);
    return {};
  }
};
}  // namespace

TEST_CASE("streaming BODY.PEEK[] fetch hands bodies to the sink chunk by chunk") {
  std::string body1 = "first line\r\nsecond";
  std::string body2(3000, 'z');
  std::string script = caps_line("") +
                       "C: a1 UID FETCH 3:4 (UID FLAGS RFC822.SIZE BODY.PEEK[])\n"
                       "S: * 1 FETCH (UID 3 FLAGS (\\Seen) RFC822.SIZE 18 BODY[] {18}\n"
                       "S: first line\n"
                       "S: second)\n"
                       "S: * 2 FETCH (UID 4 BODY[] {3000}\nS: " +
                       body2 + " FLAGS ())\n" + "S: a1 OK done\n";
  Scripted t(script, Scripted::secure(), 100);
  REQUIRE(t.session->greet(soon()));
  CollectSink sink;
  FetchItems items;
  items.size = true;
  auto r = t.session->wait(t.session->uid_fetch_stream(set_of("3:4"), items, sink), soon());
  REQUIRE_MESSAGE(r, t.diag());
  REQUIRE(sink.bodies.size() == 2);
  CHECK(sink.bodies[0] == body1);
  CHECK(sink.bodies[1].size() == 3000);
  CHECK(sink.uids == std::vector<Uid>{Uid(3), Uid(4)});
  CHECK(sink.chunks > 2);
  CHECK(sink.max_chunk <= 100);
  CHECK(r->messages.empty());
  // The trace summarises literals instead of printing them.
  CHECK(t.all_trace().find("{3000 bytes}") != std::string::npos);
  CHECK(t.all_trace().find("zzzz") == std::string::npos);
}

TEST_CASE("BYE in the middle of a command fails everything pending with Errc::Closed") {
  Scripted t(caps_line("") + R"(
C: a1 NOOP
C: a2 STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY)
S: * BYE server shutting down for maintenance
X
)", Scripted::secure());
  REQUIRE(t.session->greet(soon()));
  auto n = t.session->noop();
  auto s = t.session->status("INBOX", {});
  auto r = t.session->wait(s, soon());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::Closed);
  CHECK(r.error().message.find("maintenance") != std::string::npos);
  REQUIRE(n.ready());
  CHECK_FALSE(n.result());
  // Later operations fail at once.
  auto later = t.session->noop();
  REQUIRE(later.ready());
  CHECK(later.result().error().code == Errc::Closed);
}

TEST_CASE("LOGOUT: the BYE before the tagged OK is expected") {
  Scripted t(caps_line("") + R"(
C: a1 LOGOUT
S: * BYE logging out
S: a1 OK done
X
)", Scripted::secure());
  REQUIRE(t.session->greet(soon()));
  REQUIRE_MESSAGE(t.session->wait(t.session->logout(), soon()), t.diag());
  CHECK(t.session->state() == SessionState::Logout);
}

TEST_CASE("a malformed response breaks the connection with offset and excerpt") {
  Scripted t(caps_line("") + R"(
C: a1 NOOP
S: * 3 FETCH (UID ((( garbage
S: a1 OK done
)", Scripted::secure());
  REQUIRE(t.session->greet(soon()));
  auto r = t.session->wait(t.session->noop(), soon());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::Parse);
  CHECK_MESSAGE(r.error().message.find("at byte") != std::string::npos, r.error().message);
}

TEST_CASE("IDLE: updates arrive as changes; DONE ends it; commands queue behind it") {
  Scripted t(caps_line("IDLE") + R"(
C: a1 SELECT INBOX
S: * 2 EXISTS
S: a1 OK done
C: a2 IDLE
S: + idling
S: * 3 EXISTS
C: DONE
S: a2 OK IDLE terminated
C: a3 NOOP
S: a3 OK done
)", Scripted::secure());
  REQUIRE(t.session->greet(soon()));
  REQUIRE(t.session->wait(t.session->select("INBOX"), soon()));
  auto idle = t.session->idle();
  auto n = t.session->noop();  // queued behind IDLE
  REQUIRE_MESSAGE(t.session->run_until([&] { return t.session->has_changes(); }, soon()), t.diag());
  CHECK(t.session->idling());
  auto ch = t.session->take_changes();
  CHECK(ch.exists_grew);
  CHECK(ch.exists == 3);
  t.session->idle_done();
  REQUIRE_MESSAGE(t.session->wait(idle, soon()), t.diag());
  REQUIRE(t.session->wait(n, soon()));
  CHECK(t.finished());
}

TEST_CASE("NOTIFY STATUS lines go to the changes; missing capability is an error") {
  Scripted t(caps_line("NOTIFY") + R"(
C: a1 NOTIFY SET STATUS (PERSONAL (MessageNew MessageExpunge))
S: * STATUS Trash (MESSAGES 1 UIDNEXT 2)
S: a1 OK NOTIFY completed
C: a2 NOOP
S: * STATUS Trash (HIGHESTMODSEQ 4)
S: * LIST () "/" Projects
S: a2 OK done
)", Scripted::secure());
  REQUIRE(t.session->greet(soon()));
  REQUIRE_MESSAGE(
      t.session->wait(t.session->notify("STATUS (PERSONAL (MessageNew MessageExpunge))"), soon()),
      t.diag());
  REQUIRE(t.session->wait(t.session->noop(), soon()));
  auto ch = t.session->take_changes();
  CHECK(ch.status_updates.size() == 2);
  REQUIRE(ch.list_updates.size() == 1);
  CHECK(ch.list_updates[0].mailbox == "Projects");

  Scripted u(caps_line(""), Scripted::secure());
  REQUIRE(u.session->greet(soon()));
  auto e = u.session->wait(u.session->notify("NONE"), soon());
  REQUIRE_FALSE(e);
  CHECK(e.error().code == Errc::Capability);
}

TEST_CASE("Loop drives two sessions; a streamed APPEND pulls from another's FETCH") {
  // Session A fetches a body; session B appends it through a BodySource fed by A's sink.
  std::string q(1998, 'q');  // the body is q… CRLF, 2000 octets
  Scripted a(caps_line("") + "C: a1 UID FETCH 9 (UID FLAGS BODY.PEEK[])\n" +
                 "S: * 1 FETCH (UID 9 FLAGS (\\Seen) BODY[] {2000}\nS: " + q +
                 "\nS: )\nS: a1 OK done\n",
             Scripted::secure(), 300);
  Scripted b(caps_line("LITERAL+ UIDPLUS") + "C: a1 APPEND INBOX () {2000+}\nC: " + q +
                 "\nC:\nS: a1 OK [APPENDUID 4 17] done\n",
             Scripted::secure(), 300);
  REQUIRE(a.session->greet(soon()));
  REQUIRE(b.session->greet(soon()));
  struct Pipe : MessageSink, BodySource {
    std::string buf;
    std::uint64_t total = 2000;
    Status begin(SeqNum, std::uint64_t) override { return {}; }
    Status data(std::string_view c) override {
      buf += c;
      return {};
    }
    Status end(const imap::FetchData&) override { return {}; }
    [[nodiscard]] std::uint64_t size() const override { return total; }
    Result<std::size_t> read(char* out, std::size_t len) override {
      std::size_t n = std::min(len, buf.size());
      std::copy_n(buf.data(), n, out);
      buf.erase(0, n);
      return n;
    }
  } pipe;
  auto f = a.session->uid_fetch_stream(set_of("9"), {}, pipe);
  AppendMessage m;
  m.source = &pipe;
  auto ap = b.session->append("INBOX", {m});
  Loop loop;
  loop.add(*a.session);
  loop.add(*b.session);
  auto st = loop.run_until([&] { return f.ready() && ap.ready(); }, soon());
  REQUIRE_MESSAGE(st, (a.diag() + b.diag()));
  REQUIRE(f.result());
  REQUIRE_MESSAGE(ap.result(), b.diag());
  CHECK(ap.result()->uids == std::vector<Uid>{Uid(17)});
}

TEST_CASE("SELECT pipelined behind a FETCH: data before [CLOSED] belongs to the old mailbox") {
  Scripted t(caps_line("ENABLE QRESYNC CONDSTORE") + R"(
C: a1 ENABLE QRESYNC
S: * ENABLED QRESYNC
S: a1 OK done
C: a2 SELECT A
S: * 4 EXISTS
S: * OK [UIDVALIDITY 1] x
S: a2 OK [READ-WRITE] done
C: a3 UID FETCH 4 (UID FLAGS)
C: a4 SELECT B
S: * 4 FETCH (UID 4 FLAGS (\Seen))
S: a3 OK done
S: * VANISHED 2
S: * OK [CLOSED] Previous mailbox closed
S: * 7 EXISTS
S: * OK [UIDVALIDITY 2] x
S: a4 OK [READ-WRITE] done
)", Scripted::secure());
  REQUIRE(t.session->greet(soon()));
  REQUIRE(t.session->enable({"QRESYNC"}, soon()));
  REQUIRE(t.session->wait(t.session->select("A"), soon()));
  auto f = t.session->uid_fetch(set_of("4"), {});
  auto b = t.session->select("B");
  auto rb = t.session->wait(b, soon());
  REQUIRE_MESSAGE(rb, t.diag());
  CHECK(rb->mailbox == "B");
  CHECK(rb->exists == 7);
  CHECK(rb->uidvalidity == UidValidity(2));
  REQUIRE(f.ready());
  CHECK(f.result()->messages.size() == 1);
}

TEST_CASE("COMPRESS: needs nothing in flight, then the stream is wrapped") {
  Scripted t(caps_line("COMPRESS=DEFLATE") + R"(
C: a1 COMPRESS DEFLATE
S: a1 OK DEFLATE active
C: a2 NOOP
S: a2 OK done
)", Scripted::secure());
  REQUIRE(t.session->greet(soon()));
  bool wrapped = false;
  auto r = t.session->compress(
      [&](net::StreamPtr s, Deadline) -> Result<net::StreamPtr> {
        wrapped = true;
        return s;  // the real one is net::wrap_deflate
      },
      soon());
  REQUIRE_MESSAGE(r, t.diag());
  CHECK(wrapped);
  CHECK(t.session->compressed());
  REQUIRE(t.session->wait(t.session->noop(), soon()));
}
