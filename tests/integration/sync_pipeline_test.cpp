// The copy pipeline (src/sync/executor_copy.cpp) with many batches in flight: a copy window
// far smaller than the mailbox, against the embedded server and Dovecot. Every message must
// arrive exactly once with its bytes, flags and date, and the next run must be a no-op.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <twinbox/imap/datetime.hpp>
#include <twinbox/state/store.hpp>

#include "support/read_delta.hpp"
#include "support/sync_fixture.hpp"

using namespace twinbox;
using namespace twinbox::test;

namespace {

const std::string kDate = "05-Apr-2026 09:15:00 +0200";

void copy_many_batches(std::unique_ptr<TestServer> local, std::unique_ptr<TestServer> remote) {
  TempDir dir;
  auto options = engine_options(*local, *remote, dir.file("state.db"));
  options.copy_window = 64u << 10;  // batches of 32 KiB: 120 messages in dozens of batches
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

/// The stored identities of the pairs of `mailbox` (by its local name), keyed by Message-ID.
std::map<std::string, state::ContentIdentity> stored_identities(const std::string& db,
                                                                const std::string& mailbox) {
  auto store = state::StateStore::open(db);
  REQUIRE(store.has_value());
  auto boxes = store->mailboxes();
  REQUIRE(boxes.has_value());
  std::map<std::string, state::ContentIdentity> out;
  for (const auto& m : *boxes) {
    if (m.name[Side::Local] != mailbox) continue;
    auto pairs = store->pairs(m.id);
    REQUIRE(pairs.has_value());
    for (const auto& p : *pairs) out[p.identity.message_id] = p.identity;
  }
  return out;
}

/// A first sync into an empty side reads no Message-ID or INTERNALDATE up front (reader.hpp
/// skip_content_identity): the copies take them from their FETCH. The stored identities must
/// be those of a full read, or later moves would not be recognised.
void first_sync_identities(std::unique_ptr<TestServer> local, std::unique_ptr<TestServer> remote) {
  TempDir dir;
  auto options = engine_options(*local, *remote, dir.file("state.db"));
  options.copy_window = 64u << 10;
  Account L{*local};
  Account R{*remote};
  for (int i = 0; i < 40; ++i) {
    L.append("INBOX", make_message("f" + std::to_string(i), 3000 + 500 * static_cast<std::size_t>(i)), {}, kDate);
  }
  // No Message-ID in the header, one in the body only: none is stored.
  const std::string no_id = "From: a@twinbox.test\r\nSubject: none\r\n\r\nMessage-ID: <body@twinbox.test>\r\n-- end";
  L.append("INBOX", no_id, {}, kDate);
  L.create("Other");
  L.append("Other", make_message("o1"), {}, kDate);
  auto r = run_ok(options);
  INFO(describe(r));
  CHECK(total_copied(r) == 42);
  CHECK(same_mail(L, R));

  const std::int64_t date = imap::parse_date_time(kDate)->unix_seconds;
  auto ids = stored_identities(options.state_path, "INBOX");
  REQUIRE(ids.size() == 41);
  CHECK(ids.count("<body@twinbox.test>") == 0);
  REQUIRE(ids.count("") == 1);
  CHECK(ids[""].size == no_id.size());
  for (int i = 0; i < 40; ++i) {
    const std::string id = "f" + std::to_string(i);
    const auto& got = ids["<" + id + "@twinbox.test>"];
    CHECK(got.internaldate == date);
    CHECK(got.size == make_message(id, 3000 + 500 * static_cast<std::size_t>(i)).size());
  }
  // The identities recognise moves: no body goes over again.
  L.move("INBOX", *L.find("INBOX", "f3"), "Other");
  L.move("INBOX", *L.find("INBOX", "f17"), "Other");
  r = run_ok(options);
  INFO(describe(r));
  CHECK(total_moved(r) == 2);
  CHECK(total_copied(r) == 0);
  CHECK(same_mail(L, R));
}

/// The protocol trace of one side of a run, one line each ("C: ..." sent, "S: ..." received).
struct Trace {
  std::vector<std::string> lines;
  [[nodiscard]] std::size_t count(std::string_view prefix) const {
    return static_cast<std::size_t>(std::count_if(lines.begin(), lines.end(), [&](const std::string& l) {
      return l.rfind(prefix, 0) == 0;
    }));
  }
  /// For every `C: <tag> SELECT <mailbox> (QRESYNC` line: whether the next command went out
  /// before that SELECT's tagged answer came back, and was the open-ended new-message fetch.
  [[nodiscard]] std::size_t pipelined_reads(const std::string& mailbox) const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const std::string& l = lines[i];
      if (l.rfind("C: ", 0) != 0 || l.find(" SELECT " + mailbox + " (QRESYNC") == std::string::npos) continue;
      std::string tag = l.substr(3, l.find(' ', 3) - 3);
      for (std::size_t j = i + 1; j < lines.size(); ++j) {
        if (lines[j].rfind("S: " + tag + " ", 0) == 0) break;  // answered first: not pipelined
        if (lines[j].rfind("C: ", 0) == 0) {
          if (lines[j].find(" UID FETCH ") != std::string::npos &&
              lines[j].find(":4294967295 ") != std::string::npos) {
            ++n;
          }
          break;
        }
      }
    }
    return n;
  }
};

/// An incremental run with no move possible (issue 8): each changed mailbox is SELECTed twice
/// per side (read with execution, then the confirming read; once on a side nothing was
/// written to), never three times, and each read
/// sends its new-message fetch with the SELECT. A move then brings the up-front read back.
void incremental_reads(std::unique_ptr<TestServer> local, std::unique_ptr<TestServer> remote) {
  TempDir dir;
  auto options = engine_options(*local, *remote, dir.file("state.db"));
  PerSide<Trace> trace;
  for (Side s : kBothSides) {
    options.endpoints[s].session.trace = [&t = trace[s]](std::string_view l) { t.lines.emplace_back(l); };
  }
  Account L{*local};
  Account R{*remote};
  L.create("Other");
  for (int i = 0; i < 20; ++i) L.append("INBOX", make_message("i" + std::to_string(i)), {}, kDate);
  for (int i = 0; i < 5; ++i) L.append("Other", make_message("o" + std::to_string(i)), {}, kDate);
  run_ok(options);
  REQUIRE(same_mail(L, R));

  // New mail on one side, an expunge and a flag on the other: no side both lost and gained
  // (in different mailboxes), so no move is possible.
  for (int i = 20; i < 23; ++i) L.append("INBOX", make_message("i" + std::to_string(i)), {}, kDate);
  R.expunge("INBOX", {*R.find("INBOX", "i4")});
  R.store("INBOX", *R.find("INBOX", "i5"), client::StoreMode::Add, {"\\Flagged"});
  L.append("Other", make_message("o9"), {}, kDate);
  for (Side s : kBothSides) trace[s].lines.clear();
  auto r = run_ok(options);
  INFO(describe(r));
  CHECK(total_copied(r) == 4);
  CHECK(total_expunged(r) == 1);
  CHECK(total_flags(r) == 1);
  CHECK(same_mail(L, R));
  for (Side s : kBothSides) {
    INFO(to_string(s));
    CHECK(trace[s].count("C: a") > 0);
    for (const std::string box : {"INBOX", "Other"}) {
      INFO(box);
      std::size_t selects = 0;
      for (const auto& l : trace[s].lines) {
        if (l.rfind("C: ", 0) == 0 && l.find(" SELECT " + box) != std::string::npos) ++selects;
      }
      // The local "Other" only had new mail, copied to the remote: nothing was written on
      // the local side there, so the confirming pass does not read it again.
      const std::size_t reads = s == Side::Local && box == "Other" ? 1 : 2;
      CHECK(selects == reads);
      CHECK(trace[s].pipelined_reads(box) == reads);
    }
  }
  // The flag store on the local side (the source of the copies) went out before the copies'
  // FETCH, so that its answer costs no round trip of its own.
  {
    const auto& l = trace[Side::Local].lines;
    auto sent = [](const std::string& x, std::string_view what) {
      return x.rfind("C: ", 0) == 0 && x.find(what) != std::string::npos;
    };
    auto store = std::find_if(l.begin(), l.end(), [&](const std::string& x) { return sent(x, " UID STORE "); });
    REQUIRE(store != l.end());
    CHECK(store->find("\\Deleted") == std::string::npos);  // the flag store, not the expunge's
    // Between this mailbox's SELECT and the store: no body fetch; after it, before the next
    // SELECT: the copy's body fetch.
    auto select = std::find_if(std::make_reverse_iterator(store), l.rend(),
                               [&](const std::string& x) { return sent(x, " SELECT "); });
    REQUIRE(select != l.rend());
    CHECK(select->find(" SELECT INBOX ") != std::string::npos);
    CHECK(std::none_of(select.base(), store, [&](const std::string& x) { return sent(x, "BODY.PEEK[])"); }));
    auto next_select = std::find_if(store, l.end(), [&](const std::string& x) { return sent(x, " SELECT "); });
    CHECK(std::any_of(store, next_select, [&](const std::string& x) { return sent(x, "BODY.PEEK[])"); }));
  }
  CHECK_FALSE(run_ok(options).changed());

  // A move (lost in INBOX, gained in Other on one side): read up front, moved, no body copied.
  L.move("INBOX", *L.find("INBOX", "i7"), "Other");
  r = run_ok(options);
  INFO(describe(r));
  CHECK(total_moved(r) == 1);
  CHECK(total_copied(r) == 0);
  CHECK(same_mail(L, R));
  CHECK_FALSE(run_ok(options).changed());
}

/// The largest new-message UID range asked for by a `UID FETCH a:b` of the new messages of
/// `box` in one side's trace ("a:4294967295" when any was open-ended).
std::uint64_t widest_new_fetch(const Trace& t) {
  std::uint64_t widest = 0;
  for (const auto& l : t.lines) {
    if (l.rfind("C: ", 0) != 0 || l.find(" UID FETCH ") == std::string::npos ||
        l.find("RFC822.SIZE") == std::string::npos) {
      continue;
    }
    std::size_t at = l.find(" UID FETCH ") + 11;
    std::string set = l.substr(at, l.find(' ', at) - at);
    auto colon = set.find(':');
    if (colon == std::string::npos || set.find(',') != std::string::npos) continue;
    widest = std::max<std::uint64_t>(widest, std::stoull(set.substr(colon + 1)) - std::stoull(set.substr(0, colon)) + 1);
  }
  return widest;
}

/// Number of new-message reads (`UID FETCH` with RFC822.SIZE) in one side's trace.
std::size_t new_message_reads(const Trace& t) {
  std::size_t n = 0;
  for (const auto& l : t.lines) {
    if (l.rfind("C: ", 0) == 0 && l.find(" UID FETCH ") != std::string::npos &&
        l.find("RFC822.SIZE") != std::string::npos) {
      ++n;
    }
  }
  return n;
}

std::size_t selects_of(const Trace& t, const std::string& box) {
  std::size_t n = 0;
  for (const auto& l : t.lines) {
    if (l.rfind("C: ", 0) != 0) continue;
    const std::string select = " SELECT " + box;
    const std::size_t at = l.find(select);
    if (at == std::string::npos) continue;
    const std::size_t end = at + select.size();
    if (end == l.size() || l[end] == ' ' || l[end] == '\r') ++n;  // plain or with (QRESYNC ...)
  }
  return n;
}

/// A side with more new messages than new_per_pass, the other side with nothing new: read and
/// copied in UID windows, one pass each (issue 8: memory flat in the mailbox's size). Every
/// message arrives once with full stored identities, the next run is a no-op; an import with
/// new mail on both sides is read at once (content pairing needs both lists whole).
void windowed_reads(std::unique_ptr<TestServer> local, std::unique_ptr<TestServer> remote) {
  TempDir dir;
  auto options = engine_options(*local, *remote, dir.file("state.db"));
  options.new_per_pass = 4;
  PerSide<Trace> trace;
  for (Side s : kBothSides) {
    options.endpoints[s].session.trace = [&t = trace[s]](std::string_view l) { t.lines.emplace_back(l); };
  }
  Account L{*local};
  Account R{*remote};
  for (int i = 0; i < 30; ++i) {
    std::vector<std::string> flags;
    if (i % 4 == 0) flags.push_back("\\Seen");
    L.append("INBOX", make_message("w" + std::to_string(i), 1500 + 10 * static_cast<std::size_t>(i)), flags, kDate);
  }
  R.create("Sent");
  for (int i = 0; i < 3; ++i) R.append("Sent", make_message("s" + std::to_string(i)), {}, kDate);
  auto r = run_ok(options);
  INFO(describe(r));
  CHECK(total_copied(r) == 33);
  CHECK(same_mail(L, R));
  // 30 new in windows of about 4: at least 8 reading passes, each asking for a bounded range,
  // and one SELECT: nothing is written to the source, so the next window is read from the
  // mailbox still selected.
  CHECK(new_message_reads(trace[Side::Local]) >= 8);
  CHECK(selects_of(trace[Side::Local], "INBOX") == 1);
  CHECK(widest_new_fetch(trace[Side::Local]) <= 8);
  // Every window is read light, also in the FETCH pipelined with its SELECT: no Message-ID
  // header is asked for (the copies complete the identities; issue 8: a full read of each
  // window cost Dovecot ~0.13 s per 2,048 messages).
  for (const auto& l : trace[Side::Local].lines) {
    INFO(l);
    CHECK(l.find("HEADER.FIELDS (MESSAGE-ID)") == std::string::npos);
  }
  const std::int64_t date = imap::parse_date_time(kDate)->unix_seconds;
  auto ids = stored_identities(options.state_path, "INBOX");
  REQUIRE(ids.size() == 30);
  for (const auto& [mid, id] : ids) {
    CHECK(!mid.empty());
    CHECK(id.internaldate == date);
  }
  CHECK_FALSE(run_ok(options).changed());

  // An import on one side only: windows again, and the stored state covers all of it.
  for (int i = 30; i < 45; ++i) L.append("INBOX", make_message("w" + std::to_string(i)), {}, kDate);
  for (Side s : kBothSides) trace[s].lines.clear();
  r = run_ok(options);
  CHECK(total_copied(r) == 15);
  CHECK(same_mail(L, R));
  CHECK(new_message_reads(trace[Side::Local]) >= 4);
  CHECK(selects_of(trace[Side::Local], "INBOX") == 1);
  CHECK_FALSE(run_ok(options).changed());

  // New mail on both sides of one mailbox: one read of each side's new messages.
  for (int i = 45; i < 57; ++i) L.append("INBOX", make_message("w" + std::to_string(i)), {}, kDate);
  R.append("INBOX", make_message("r0"), {}, kDate);
  for (Side s : kBothSides) trace[s].lines.clear();
  r = run_ok(options);
  CHECK(total_copied(r) == 13);
  CHECK(same_mail(L, R));
  CHECK(selects_of(trace[Side::Local], "INBOX") <= 3);
  CHECK_FALSE(run_ok(options).changed());
}

/// DeltaReader::continue_window(): the next window is one UID FETCH on the mailbox still
/// selected; with another mailbox selected it falls back to a SELECT. Same messages either way.
void continued_window(std::unique_ptr<TestServer> server) {
  Account A{*server};
  A.create("Other");
  for (int i = 0; i < 6; ++i) A.append("INBOX", make_message("c" + std::to_string(i)), {}, kDate);
  Trace trace;
  auto ep = server->endpoint();
  ep.session.trace = [&trace](std::string_view l) { trace.lines.emplace_back(l); };
  auto session = client::connect(ep);
  REQUIRE(session);
  client::Session& s = **session;
  client::Loop loop({&s});
  auto read = [&](const state::SideState& stored, Uid end, bool cont) {
    return read_delta(s, loop, Side::Local, "INBOX", stored, [&](sync::DeltaReader& r) {
      r.limit_new(end);
      if (cont && s.selected()) r.continue_window(s.selected()->uidnext);
    });
  };
  auto uids = [](const sync::Delta& d) {
    std::vector<std::uint32_t> out;
    for (const auto& m : d.added) out.push_back(m.uid.value);
    return out;
  };
  state::SideState fresh;
  sync::Delta first = read(fresh, Uid(3), false);  // window 1-2, with a SELECT
  CHECK(uids(first) == std::vector<std::uint32_t>{1, 2});
  REQUIRE(first.more_new);
  state::SideState stored;
  stored.uidvalidity = first.snapshot.uidvalidity;
  stored.uidnext = first.snapshot.uidnext;
  stored.highestmodseq = first.snapshot.highestmodseq;
  auto selects = [&] { return selects_of(trace, "INBOX"); };
  REQUIRE(selects() == 1);

  sync::Delta second = read(stored, Uid(5), true);  // window 3-4, no SELECT
  CHECK(uids(second) == std::vector<std::uint32_t>{3, 4});
  CHECK(second.more_new);
  CHECK(second.snapshot.uidnext == Uid(5));
  CHECK(second.snapshot.highestmodseq == stored.highestmodseq);
  CHECK(selects() == 1);

  // Another mailbox selected meanwhile: the continued window falls back to a SELECT.
  REQUIRE(s.wait(s.select("Other"), net::deadline_in(std::chrono::seconds(30))));
  stored.uidnext = Uid(5);
  sync::Delta third = read(stored, Uid(7), true);
  CHECK(uids(third) == std::vector<std::uint32_t>{5, 6});
  CHECK_FALSE(third.more_new);
  CHECK(selects() == 2);
}

}  // namespace

TEST_CASE("a continued window reads the still-selected mailbox, else SELECTs it: embedded server") {
  continued_window(TestServer::embedded());
}

TEST_CASE("a continued window reads the still-selected mailbox, else SELECTs it: Dovecot") {
  continued_window(TestServer::dovecot());
}

TEST_CASE("a side with many new messages is read and copied in windows: embedded server") {
  windowed_reads(TestServer::embedded(), TestServer::embedded());
}

TEST_CASE("a side with many new messages is read and copied in windows: Dovecot") {
  windowed_reads(TestServer::dovecot(), TestServer::dovecot());
}

TEST_CASE("an incremental run reads each changed mailbox in one round trip per pass: embedded server") {
  incremental_reads(TestServer::embedded(), TestServer::embedded());
}

TEST_CASE("an incremental run reads each changed mailbox in one round trip per pass: Dovecot") {
  incremental_reads(TestServer::dovecot(), TestServer::dovecot());
}

TEST_CASE("a first sync into an empty side stores full identities: embedded server") {
  first_sync_identities(TestServer::embedded(), TestServer::embedded());
}

TEST_CASE("a first sync into an empty side stores full identities: Dovecot") {
  first_sync_identities(TestServer::dovecot(), TestServer::dovecot());
}

TEST_CASE("copies spanning many batches arrive exactly once: embedded server") {
  copy_many_batches(TestServer::embedded(), TestServer::embedded());
}

TEST_CASE("copies spanning many batches arrive exactly once: Dovecot") {
  copy_many_batches(TestServer::dovecot(), TestServer::dovecot());
}
