// Greeting, capabilities, authentication and ENABLE against scripted servers.
#include "fixture.hpp"

#include <twinbox/client/types.hpp>

using namespace twinbox;
using namespace twinbox::client;
using twinbox::client::test::Scripted;
using twinbox::client::test::soon;

namespace {
Credentials alice() {
  Credentials c;
  c.username = "alice";
  c.password = "secret";
  return c;
}
}  // namespace

TEST_CASE("greeting with CAPABILITY skips the CAPABILITY round trip; PLAIN with SASL-IR") {
  Scripted t(R"(
S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN ENABLE] ready
C: a1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==
S: a1 OK [CAPABILITY IMAP4rev1 ENABLE QRESYNC UIDPLUS] logged in
)");
  REQUIRE_MESSAGE(t.session->greet(soon()), t.diag());
  CHECK(t.session->state() == SessionState::NotAuthenticated);
  CHECK(t.session->has("AUTH=PLAIN"));
  auto r = t.session->authenticate(alice(), soon());
  REQUIRE_MESSAGE(r, t.diag());
  CHECK(t.session->state() == SessionState::Authenticated);
  // Replaced whole from the tagged OK: pre-auth items are gone.
  CHECK(t.session->has("UIDPLUS"));
  CHECK_FALSE(t.session->has("AUTH=PLAIN"));
  CHECK(t.finished());
  // The payload never reaches the trace.
  CHECK(t.all_trace().find("AGFsaWNlAHNlY3JldA") == std::string::npos);
  CHECK(t.all_trace().find("C: a1 AUTHENTICATE PLAIN <redacted>") != std::string::npos);
}

TEST_CASE("greeting without capabilities; PLAIN without SASL-IR; capabilities re-read after login") {
  Scripted t(R"(
S: * OK hello
C: a1 CAPABILITY
S: * CAPABILITY IMAP4rev1 AUTH=PLAIN
S: a1 OK done
C: a2 AUTHENTICATE PLAIN
S: +
C: AGFsaWNlAHNlY3JldA==
S: a2 OK welcome
C: a3 CAPABILITY
S: * CAPABILITY IMAP4rev1 MOVE
S: a3 OK done
)");
  REQUIRE_MESSAGE(t.session->greet(soon()), t.diag());
  REQUIRE_MESSAGE(t.session->authenticate(alice(), soon()), t.diag());
  CHECK(t.session->has("MOVE"));
  CHECK_FALSE(t.session->has("AUTH=PLAIN"));
  CHECK(t.finished());
}

TEST_CASE("PREAUTH on a plaintext transport is refused unless allowed") {
  SUBCASE("refused") {
    Scripted t("S: * PREAUTH [CAPABILITY IMAP4rev1] hi\n");
    auto r = t.session->greet(soon());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::Tls);
    CHECK(r.error().message.find("PREAUTH") != std::string::npos);
    CHECK(t.stream->closed());
  }
  SUBCASE("allowed explicitly") {
    SessionOptions o;
    o.allow_plaintext = true;
    Scripted t("S: * PREAUTH [CAPABILITY IMAP4rev1] hi\n", o);
    REQUIRE(t.session->greet(soon()));
    CHECK(t.session->state() == SessionState::Authenticated);
    // authenticate() is a no-op after PREAUTH.
    CHECK(t.session->authenticate(alice(), soon()));
  }
  SUBCASE("secure transport (TLS, tunnel)") {
    Scripted t("S: * PREAUTH [CAPABILITY IMAP4rev1] hi\n", Scripted::secure());
    REQUIRE(t.session->greet(soon()));
    CHECK(t.session->state() == SessionState::Authenticated);
  }
}

TEST_CASE("BYE greeting is Errc::Closed with the server's text") {
  Scripted t("S: * BYE too many connections\nX\n");
  auto r = t.session->greet(soon());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::Closed);
  CHECK(r.error().message.find("too many connections") != std::string::npos);
}

TEST_CASE("a non-greeting first line is a protocol error") {
  Scripted t("S: a1 OK what\n");
  auto r = t.session->greet(soon());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::Protocol);
}

TEST_CASE("LOGIN: never with LOGINDISABLED; password redacted in the trace") {
  SUBCASE("LOGINDISABLED without AUTH=PLAIN") {
    Scripted t("S: * OK [CAPABILITY IMAP4rev1 LOGINDISABLED STARTTLS] hi\n");
    REQUIRE(t.session->greet(soon()));
    auto r = t.session->authenticate(alice(), soon());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::Capability);
    Credentials c = alice();
    c.mechanism = AuthMechanism::Login;
    r = t.session->authenticate(c, soon());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::Capability);
    CHECK(t.stream->written().empty());
  }
  SUBCASE("LOGIN used when no AUTH=PLAIN") {
    Scripted t(R"(
S: * OK [CAPABILITY IMAP4rev1] hi
C: a1 LOGIN alice "secret"
S: a1 OK [CAPABILITY IMAP4rev1 IDLE] ok
)");
    REQUIRE(t.session->greet(soon()));
    REQUIRE_MESSAGE(t.session->authenticate(alice(), soon()), t.diag());
    CHECK(t.session->has("IDLE"));
    CHECK(t.all_trace().find("secret") == std::string::npos);
    CHECK(t.all_trace().find("<password redacted>") != std::string::npos);
  }
}

TEST_CASE("RFC 5530 codes map to distinct errors") {
  struct Row {
    const char* code;
    Errc errc;
    const char* words;
  };
  const Row rows[] = {
      {"AUTHENTICATIONFAILED", Errc::Auth, "not retried"},
      {"UNAVAILABLE", Errc::AuthRetry, "try again later"},
      {"PRIVACYREQUIRED", Errc::Auth, "encrypted connection"},
      {"EXPIRED", Errc::Auth, "expired"},
      {"CONTACTADMIN", Errc::Auth, "administrator"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.code);
    std::string script = std::string("S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] hi\n") +
                         "C: a1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\n" + "S: a1 NO [" +
                         row.code + "] nope\n";
    Scripted t(script);
    REQUIRE(t.session->greet(soon()));
    auto r = t.session->authenticate(alice(), soon());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == row.errc);
    CHECK(r.error().message.find(row.words) != std::string::npos);
    CHECK(r.error().message.find("nope") != std::string::npos);
    CHECK(t.session->state() == SessionState::NotAuthenticated);
  }
}

TEST_CASE("OAUTHBEARER: SASL-IR payload, error continuation answered with AQ==") {
  Scripted t(R"(
S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=OAUTHBEARER AUTH=XOAUTH2] hi
C: a1 AUTHENTICATE OAUTHBEARER bixhPWFsaWNlLAFob3N0PWltYXAuZXhhbXBsZS5vcmcBcG9ydD05OTMBYXV0aD1CZWFyZXIgdG9rAQE=
S: + eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=
C: AQ==
S: a1 NO [AUTHENTICATIONFAILED] token rejected
)");
  REQUIRE(t.session->greet(soon()));
  Credentials c;
  c.username = "alice";
  c.host = "imap.example.org";
  c.port = 993;
  int calls = 0;
  c.oauth_token = [&calls]() -> Result<std::string> {
    ++calls;
    return std::string("tok");
  };
  auto r = t.session->authenticate(c, soon());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::Auth);
  CHECK(calls == 1);
  CHECK(t.finished());
  CHECK(t.all_trace().find("bixh") == std::string::npos);
}

TEST_CASE("XOAUTH2: error continuation answered with an empty line") {
  Scripted t(R"(
S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] hi
C: a1 AUTHENTICATE XOAUTH2 dXNlcj1hbGljZQFhdXRoPUJlYXJlciB0b2sBAQ==
S: + eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=
C:
S: a1 NO [AUTHENTICATIONFAILED] bad token
)");
  REQUIRE(t.session->greet(soon()));
  Credentials c;
  c.username = "alice";
  c.oauth_token = []() -> Result<std::string> { return std::string("tok"); };
  auto r = t.session->authenticate(c, soon());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::Auth);
  CHECK(t.finished());
}

TEST_CASE("XOAUTH2 without SASL-IR waits for the empty challenge; success") {
  Scripted t(R"(
S: * OK [CAPABILITY IMAP4rev1 AUTH=XOAUTH2] hi
C: a1 AUTHENTICATE XOAUTH2
S: +
C: dXNlcj1hbGljZQFhdXRoPUJlYXJlciB0b2sBAQ==
S: a1 OK [CAPABILITY IMAP4rev1 UIDPLUS] ok
)");
  REQUIRE(t.session->greet(soon()));
  Credentials c;
  c.username = "alice";
  c.oauth_token = []() -> Result<std::string> { return std::string("tok"); };
  REQUIRE_MESSAGE(t.session->authenticate(c, soon()), t.diag());
  CHECK(t.session->has("UIDPLUS"));
}

TEST_CASE("ENABLE is judged by * ENABLED only") {
  SUBCASE("ENABLED listed") {
    Scripted t(client::test::preauth("ENABLE QRESYNC CONDSTORE") + R"(
C: a1 ENABLE QRESYNC
S: * ENABLED QRESYNC
S: a1 OK enabled
)", Scripted::secure());
    REQUIRE(t.session->greet(soon()));
    auto r = t.session->enable({"QRESYNC"}, soon());
    REQUIRE_MESSAGE(r, t.diag());
    CHECK(r->size() == 1);
    CHECK(t.session->qresync());
  }
  SUBCASE("OK without ENABLED (iCloud)") {
    Scripted t(client::test::preauth("ENABLE QRESYNC") + R"(
C: a1 ENABLE QRESYNC
S: a1 OK whatever
)", Scripted::secure());
    REQUIRE(t.session->greet(soon()));
    auto r = t.session->enable({"QRESYNC"}, soon());
    REQUIRE(r);
    CHECK(r->empty());
    CHECK_FALSE(t.session->qresync());
  }
  SUBCASE("no ENABLE capability") {
    Scripted t(client::test::preauth("QRESYNC"), Scripted::secure());
    REQUIRE(t.session->greet(soon()));
    auto r = t.session->enable({"QRESYNC"}, soon());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::Capability);
  }
}

TEST_CASE("ID sends key/value pairs and returns the server's") {
  Scripted t(client::test::preauth("ID") + R"(
C: a1 ID ("name" "twinbox" "version" "0.1")
S: * ID ("name" "Dovecot")
S: a1 OK ID completed
)", Scripted::secure());
  REQUIRE(t.session->greet(soon()));
  auto r = t.session->id({{"name", "twinbox"}, {"version", "0.1"}}, soon());
  REQUIRE_MESSAGE(r, t.diag());
  REQUIRE(r->params.size() == 1);
  CHECK(r->params[0].first == "name");
}

TEST_CASE("STARTTLS: refused when not advertised; injected bytes discarded; CAPABILITY re-read") {
  SUBCASE("not advertised") {
    Scripted t("S: * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\n");
    REQUIRE(t.session->greet(soon()));
    auto r = t.session->starttls([](net::StreamPtr s, Deadline) -> Result<net::StreamPtr> { return s; },
                                 soon());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::Tls);
    CHECK(t.stream->written().empty());
  }
  SUBCASE("injection after the OK is thrown away") {
    Scripted t(R"(
S: * OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi
C: a1 STARTTLS
S: a1 OK Begin TLS
S: * BYE injected before the handshake
C: a2 CAPABILITY
S: * CAPABILITY IMAP4rev1 AUTH=PLAIN
S: a2 OK done
)");
    REQUIRE(t.session->greet(soon()));
    bool upgraded = false;
    auto r = t.session->starttls(
        [&](net::StreamPtr s, Deadline) -> Result<net::StreamPtr> {
          upgraded = true;
          return s;  // a real upgrade wraps it in TLS
        },
        soon());
    // The injected BYE came in the same read as the OK: parsed, it would kill the session.
    REQUIRE_MESSAGE(r, t.diag());
    CHECK(upgraded);
    CHECK(t.session->has("AUTH=PLAIN"));
    CHECK_FALSE(t.session->has("LOGINDISABLED"));
  }
}
