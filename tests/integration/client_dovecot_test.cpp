// client::Session against a real private Dovecot (tests/support/dovecot.hpp): transports,
// TLS verification and its negatives, and the typed operations the sync engine needs.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <twinbox/client/connect.hpp>
#include <twinbox/client/loop.hpp>
#include <twinbox/client/session.hpp>
#include <twinbox/net/tls.hpp>

#include "support/dovecot.hpp"

using namespace twinbox;
using namespace twinbox::client;
using twinbox::test::DovecotInstance;

namespace {

DovecotInstance& dovecot() {
  static std::optional<DovecotInstance> instance = [] {
    auto dc = DovecotInstance::start();
    if (!dc) {
      FAIL("cannot start Dovecot: " << dc.error().message);
    }
    return std::optional<DovecotInstance>(std::move(*dc));
  }();
  return *instance;
}

Deadline soon() { return net::deadline_in(std::chrono::seconds(10)); }

EndpointOptions imaps(const std::string& user = "alice") {
  EndpointOptions o;
  o.transport = Transport::Imaps;
  o.host = dovecot().host();
  o.port = dovecot().imaps_port();
  o.tls.ca_file = dovecot().ca_file();
  o.credentials.username = user;
  o.credentials.password = "secret";
  o.connect_timeout = std::chrono::seconds(10);
  o.command_timeout = std::chrono::seconds(10);
  if (std::getenv("TWINBOX_TEST_TRACE") != nullptr) {
    o.session.trace = [](std::string_view line) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
      std::fprintf(stderr, "%lld %.*s\n", static_cast<long long>(ms % 100000),
                   static_cast<int>(line.size()), line.data());
    };
  }
  return o;
}

std::unique_ptr<Session> must_connect(const EndpointOptions& o) {
  auto s = connect(o);
  REQUIRE_MESSAGE(s, (s ? std::string() : s.error().message + "\n" + dovecot().log()));
  return std::move(*s);
}

imap::SeqSet set_of(std::string_view s) { return imap::SeqSet::parse(s, false).value(); }

std::string message(int i, std::size_t body_size = 200) {
  std::string m = "From: a@example.org\r\nTo: b@example.org\r\nSubject: test " +
                  std::to_string(i) + "\r\nMessage-ID: <m" + std::to_string(i) +
                  "@example.org>\r\n\r\n";
  while (m.size() < body_size) m += "line of body text " + std::to_string(m.size()) + "\r\n";
  return m;
}

struct StringSink : MessageSink {
  std::vector<std::string> bodies;
  std::vector<imap::FetchData> metas;
  std::size_t max_chunk = 0;
  Status begin(SeqNum, std::uint64_t) override {
    bodies.emplace_back();
    return {};
  }
  Status data(std::string_view c) override {
    max_chunk = std::max(max_chunk, c.size());
    bodies.back() += c;
    return {};
  }
  Status end(const imap::FetchData& meta) override {
    metas.push_back(meta);
    return {};
  }
};

}  // namespace

TEST_CASE("imaps: login, QRESYNC enabled, LIST-STATUS in one round trip, NAMESPACE") {
  auto s = must_connect(imaps());
  CHECK(s->state() == SessionState::Authenticated);
  CHECK(s->qresync());
  CHECK(s->has("LIST-STATUS"));
  std::uint64_t before = s->commands_sent();
  ListOptions lo;
  lo.with_status = true;
  auto list = s->wait(s->list(lo), soon());
  REQUIRE_MESSAGE(list, (list ? std::string() : list.error().message));
  CHECK(s->commands_sent() == before + 1);
  bool inbox = false, sent = false;
  for (auto& e : *list) {
    if (e.name == "INBOX") {
      inbox = true;
      REQUIRE(e.status);
      CHECK(e.status->uid_validity);
      CHECK(e.status->highest_modseq);
    }
    if (e.special_use == "\\Sent") sent = true;
  }
  CHECK(inbox);
  CHECK(sent);
  auto ns = s->wait(s->namespaces(), soon());
  REQUIRE(ns);
  CHECK_FALSE(ns->personal.empty());
  CHECK(s->wait(s->logout(), soon()));
}

TEST_CASE("STARTTLS with the test CA, then COMPRESS DEFLATE") {
  EndpointOptions o = imaps();
  o.transport = Transport::StartTls;
  o.port = dovecot().imap_port();
  o.compress = true;
  auto s = must_connect(o);
  CHECK(s->state() == SessionState::Authenticated);
  CHECK(s->compressed());
  // Traffic works through TLS + deflate.
  auto st = s->wait(s->status("INBOX", {}), soon());
  REQUIRE_MESSAGE(st, (st ? std::string() : st.error().message));
  CHECK(st->uid_validity);
}

TEST_CASE("TLS negatives refuse before any credential; a matching pin succeeds") {
  std::string pin;
  {
    auto info = net::certificate_info_from_pem(dovecot().cert_dir() + "/server.pem");
    REQUIRE_MESSAGE(info, (info ? std::string() : info.error().message));
    pin = info->spki_sha256;
  }
  SUBCASE("wrong host name") {
    EndpointOptions o = imaps();
    o.tls.server_name = "wrong.example.org";
    auto s = connect(o);
    REQUIRE_FALSE(s);
    CHECK(s.error().code == Errc::Tls);
  }
  SUBCASE("untrusted CA (system store only)") {
    EndpointOptions o = imaps();
    o.tls.ca_file.clear();
    auto s = connect(o);
    REQUIRE_FALSE(s);
    CHECK(s.error().code == Errc::Tls);
    CHECK(s.error().message.find("sha256:") != std::string::npos);
  }
  SUBCASE("pin mismatch") {
    EndpointOptions o = imaps();
    o.tls.fingerprints = {"sha256:" + std::string(64, '0')};
    auto s = connect(o);
    REQUIRE_FALSE(s);
    CHECK(s.error().code == Errc::Tls);
  }
  SUBCASE("matching pin without the CA") {
    EndpointOptions o = imaps();
    o.tls.ca_file.clear();
    o.tls.fingerprints = {pin};
    auto s = must_connect(o);
    CHECK(s->state() == SessionState::Authenticated);
  }
  SUBCASE("STARTTLS with an untrusted CA") {
    EndpointOptions o = imaps();
    o.transport = Transport::StartTls;
    o.port = dovecot().imap_port();
    o.tls.ca_file.clear();
    auto s = connect(o);
    REQUIRE_FALSE(s);
    CHECK(s.error().code == Errc::Tls);
  }
  SUBCASE("wrong password") {
    EndpointOptions o = imaps();
    o.credentials.password = "wrong";
    auto s = connect(o);
    REQUIRE_FALSE(s);
    CHECK(s.error().code == Errc::Auth);
  }
}

TEST_CASE("APPEND, SELECT QRESYNC, streaming FETCH, STORE UNCHANGEDSINCE, MOVE, EXPUNGE") {
  auto s = must_connect(imaps("bob"));
  REQUIRE(s->wait(s->create("Work"), soon()));
  // MULTIAPPEND with APPENDUID, bodies from caller buffers.
  std::vector<std::string> bodies;
  for (int i = 0; i < 3; ++i) bodies.push_back(message(i, 100 + 3000 * static_cast<std::size_t>(i)));
  std::vector<AppendMessage> msgs(3);
  for (int i = 0; i < 3; ++i) {
    msgs[static_cast<std::size_t>(i)].data = bodies[static_cast<std::size_t>(i)];
    msgs[static_cast<std::size_t>(i)].internal_date = "01-Jan-2024 10:00:0" + std::to_string(i) + " +0000";
  }
  msgs[1].flags = imap::FlagSet{"\\Seen", "$Label1"};
  auto ap = s->wait(s->append("Work", msgs), soon());
  REQUIRE_MESSAGE(ap, (ap ? std::string() : ap.error().message));
  REQUIRE(ap->uids.size() == 3);

  // SELECT with QRESYNC from a known state.
  auto sel = s->wait(s->select("Work"), soon());
  REQUIRE(sel);
  CHECK(sel->uidvalidity == ap->uidvalidity);
  CHECK(sel->exists == 3);
  ModSeq base = sel->highestmodseq;
  REQUIRE(base.valid());
  REQUIRE(s->wait(s->unselect(), soon()));

  // Streaming fetch of all bodies, pipelined with a flags fetch.
  REQUIRE(s->wait(s->select("Work"), soon()));
  StringSink sink;
  FetchItems fi;
  fi.internal_date = true;
  fi.size = true;
  imap::SeqSet all;
  for (auto u : ap->uids) all.add(u.value);
  auto fp = s->uid_fetch_stream(all, fi, sink);
  FetchItems flags_only;
  flags_only.modseq = true;
  auto ff = s->uid_fetch(all, flags_only);
  auto fr = s->wait(fp, soon());
  REQUIRE_MESSAGE(fr, (fr ? std::string() : fr.error().message));
  REQUIRE(sink.bodies.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) CHECK(sink.bodies[i] == bodies[i]);
  REQUIRE(sink.metas.size() == 3);
  CHECK(sink.metas[1].flags.contains("$Label1"));
  CHECK(sink.metas[0].internal_date == std::string("01-Jan-2024 10:00:00 +0000"));
  auto flags = s->wait(ff, soon());
  REQUIRE(flags);
  CHECK(flags->messages.size() == 3);

  // STORE with UNCHANGEDSINCE: a stale modseq gives MODIFIED for the changed message.
  imap::SeqSet first = set_of(std::to_string(ap->uids[0].value));
  auto st1 = s->wait(s->uid_store(first, StoreMode::Add, imap::FlagSet{"\\Flagged"}, base), soon());
  REQUIRE(st1);
  CHECK(st1->modified.empty());
  REQUIRE(st1->fetched.size() == 1);
  REQUIRE(st1->fetched[0].modseq);
  auto st2 = s->wait(s->uid_store(first, StoreMode::Add, imap::FlagSet{"\\Answered"}, base), soon());
  REQUIRE(st2);
  CHECK(st2->modified == first);

  // QRESYNC SELECT from the old state reports the change.
  REQUIRE(s->wait(s->unselect(), soon()));
  SelectOptions so;
  so.qresync = QresyncParams{sel->uidvalidity, base, all, std::nullopt};
  auto sel2 = s->wait(s->select("Work", so), soon());
  REQUIRE(sel2);
  CHECK(sel2->qresync_sent);
  REQUIRE(sel2->changed.size() == 1);
  CHECK(sel2->changed[0].uid == ap->uids[0]);

  // CHANGEDSINCE + VANISHED after a UID MOVE.
  imap::SeqSet second = set_of(std::to_string(ap->uids[1].value));
  auto mv = s->wait(s->uid_move(second, "Trash"), soon());
  REQUIRE_MESSAGE(mv, (mv ? std::string() : mv.error().message));
  REQUIRE(mv->pairs.size() == 1);
  CHECK(mv->pairs[0].first == ap->uids[1]);
  CHECK(mv->expunged == second);
  FetchModifiers mods;
  mods.changed_since = base;
  mods.vanished = true;
  auto ch = s->wait(s->uid_fetch(all, {}, mods), soon());
  REQUIRE(ch);
  CHECK(ch->vanished_earlier == second);

  // UID EXPUNGE of exactly one message.
  imap::SeqSet third = set_of(std::to_string(ap->uids[2].value));
  REQUIRE(s->wait(s->uid_store(third, StoreMode::Add, imap::FlagSet{"\\Deleted"}), soon()));
  auto ex = s->wait(s->uid_expunge(third), soon());
  REQUIRE(ex);
  CHECK(ex->expunged == third);
  CHECK(s->selected()->exists == 1);
  // Never `n:*`: a range above UIDNEXT returns nothing.
  auto none = s->wait(s->uid_fetch(set_of("1000:4294967295"), {}), soon());
  REQUIRE(none);
  CHECK(none->messages.empty());
  // ESEARCH.
  auto se = s->wait(s->uid_search("ALL"), soon());
  REQUIRE(se);
  CHECK(se->uids == first);
  // APPEND to a missing mailbox: TRYCREATE → NotFound.
  AppendMessage m;
  m.data = bodies[0];
  auto miss = s->wait(s->append("Nope", {m}), soon());
  REQUIRE_FALSE(miss);
  CHECK(miss.error().code == Errc::NotFound);
}

TEST_CASE("IDLE wakes up on another connection's APPEND") {
  auto a = must_connect(imaps());
  auto b = must_connect(imaps());
  REQUIRE(a->wait(a->create("Idle"), soon()));
  REQUIRE(a->wait(a->select("Idle"), soon()));
  auto idle = a->idle();
  REQUIRE(a->run_until([&] { return a->idling(); }, soon()));
  AppendMessage m;
  std::string body = message(42);
  m.data = body;
  auto ap = b->append("Idle", {m});
  Loop loop({a.get(), b.get()});
  REQUIRE(loop.run_until([&] { return ap.ready() && a->has_changes(); }, soon()));
  REQUIRE(ap.result());
  auto changes = a->take_changes();
  CHECK(changes.exists_grew);
  a->idle_done();
  REQUIRE(a->wait(idle, soon()));
  CHECK(a->wait(a->noop(), soon()));
}

TEST_CASE("tunnel: /usr/lib/dovecot/imap with PREAUTH") {
  EndpointOptions o;
  o.transport = Transport::Tunnel;
  // Dovecot's standalone imap refuses to run as root with a socket on stdout ("must not be
  // started from inetd"); the tunnel stream is a socketpair, so give it a pipe on stdout.
  o.tunnel_command = dovecot().tunnel_command("alice") + " | cat";
  o.command_timeout = std::chrono::seconds(10);
  auto s = must_connect(o);
  CHECK(s->state() == SessionState::Authenticated);
  auto st = s->wait(s->status("INBOX", {}), soon());
  REQUIRE_MESSAGE(st, (st ? std::string() : st.error().message));
  CHECK(st->uid_validity);
  CHECK(s->wait(s->logout(), soon()));
}

TEST_CASE("plaintext TCP only when explicitly allowed; LOGIN over it works") {
  EndpointOptions o = imaps();
  o.transport = Transport::Plain;
  o.port = dovecot().imap_port();
  o.credentials.mechanism = AuthMechanism::Login;
  auto s = must_connect(o);
  CHECK(s->state() == SessionState::Authenticated);
}
