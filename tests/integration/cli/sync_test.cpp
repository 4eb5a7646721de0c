// `twinbox sync` and `twinbox check` against `twinbox serve` started as a child process on
// port 0 (two users of one server are the two sides): authentication failure, JSON output
// validated against the schema of twinbox(1) (man_schema.hpp), error events at each scope,
// dry run, --exit-code, a no-op run, --debug redaction, the deletion guard (partial, exit 2).

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <twinbox/client/connect.hpp>
#include <twinbox/imap/flags.hpp>
#include <twinbox/imap/seqset.hpp>
#include <twinbox/net/io.hpp>

#include "man_schema.hpp"
#include "process.hpp"

namespace twinbox::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

/// `twinbox serve` with users alice and bob, sample mail for both (different).
struct ServeChild {
  ServeChild()
      : child({"serve", "--listen", "127.0.0.1:0", "--user", "alice:alice-pw", "--user",
               "bob:bob-pw", "--seed-demo", "8", "--test-controls", "--test-auth-fail-delay-ms",
               "0"}) {
    auto line = child.read_line(15s);
    REQUIRE_MESSAGE(line.has_value(), "serve printed no port; stderr: " << child.stderr_text());
    port = static_cast<unsigned short>(std::stoi(*line));
    REQUIRE(port > 0);
  }
  Child child;
  unsigned short port = 0;
};

std::string config(unsigned short port, const std::string& state, const std::string& bob_pw,
                   const std::string& extra = "") {
  auto side = [&](const char* name, const char* user, const std::string& pw) {
    return std::string("[") + name + "]\ntype = imap\ntls = none\nhost = 127.0.0.1\nport = " +
           std::to_string(port) + "\nusername = " + user + "\npassword = " + pw + "\n";
  };
  return "state = " + state + "\n" + extra + side("local", "alice", "alice-pw") +
         side("remote", "bob", bob_pw);
}

std::vector<json> json_lines(const std::string& out) {
  std::vector<json> v;
  for (const auto& line : lines_of(out)) {
    if (line.empty()) continue;
    json j = json::parse(line, nullptr, false);
    CHECK_MESSAGE(!j.is_discarded(), "not JSON: " << line);
    if (!j.is_discarded()) v.push_back(std::move(j));
  }
  return v;
}

/// Checks every line against the schema twinbox(1) "JSON OUTPUT" documents (read from the man
/// page, see man_schema.hpp) and that the summary comes last; returns the summary.
json check_schema(const std::vector<json>& events) {
  REQUIRE(!events.empty());
  const ManSchema& schema = ManSchema::twinbox1();
  for (const auto& e : events) {
    const std::string wrong = schema.validate(e);
    CHECK_MESSAGE(wrong.empty(), wrong << "\n  in " << e.dump());
  }
  const json& s = events.back();
  REQUIRE(s["event"] == "summary");
  for (std::size_t i = 0; i + 1 < events.size(); ++i) CHECK(events[i]["event"] != "summary");
  return s;
}

TEST_CASE("--json error events at connection and fatal scope match the documented schema") {
  ServeChild serve;
  TempDir dir;
  struct Failure {
    const char* what;
    std::string file;
    int exit;
    const char* scope;
    const char* kind;
  };
  const std::vector<Failure> failures{
      {"wrong password", dir.write("auth.conf", config(serve.port, dir.path + "/a.db", "wrong-pw")),
       4, "connection", "auth"},
      {"connection refused",
       dir.write("net.conf", config(closed_port(), dir.path + "/n.db", "bob-pw")), 6, "connection",
       "network"},
      {"bad config", dir.write("bad.conf", config(serve.port, dir.path + "/c.db", "bob-pw",
                                                  "max_delete_percent = 200\n")),
       3, "fatal", "config"},
  };
  for (const auto& f : failures) {
    INFO(f.what);
    auto r = run_twinbox({"sync", "--json", "--config", f.file});
    CHECK_MESSAGE(r.status == f.exit, r.out << r.err);
    const auto events = json_lines(r.out);
    const json summary = check_schema(events);
    CHECK(summary["status"] == f.kind);
    CHECK(summary["exit_code"] == f.exit);
    std::vector<json> errors;
    std::copy_if(events.begin(), events.end(), std::back_inserter(errors),
                 [](const json& e) { return e["event"] == "error"; });
    REQUIRE_MESSAGE(errors.size() == 1, r.out);
    CHECK(errors[0]["scope"] == f.scope);
    CHECK(errors[0]["kind"] == f.kind);
    CHECK(!errors[0]["code"].get<std::string>().empty());
    CHECK(!errors[0]["message"].get<std::string>().empty());
    CHECK(!contains(r.out, "wrong-pw"));
  }
}

TEST_CASE("wrong password exits 4 for sync and check") {
  ServeChild serve;
  TempDir dir;
  const std::string file = dir.write("c.conf", config(serve.port, dir.path + "/s.db", "wrong-pw"));
  auto r = run_twinbox({"sync", "--config", file});
  CHECK_MESSAGE(r.status == 4, r.out << r.err);
  CHECK_MESSAGE(contains(r.err, "remote"), r.err);
  CHECK(!contains(r.err, "wrong-pw"));
  auto c = run_twinbox({"check", "--config", file});
  CHECK_MESSAGE(c.status == 4, c.out << c.err);
  CHECK(contains(c.out, "local: 127.0.0.1"));  // the local side logged in and was reported
  CHECK(contains(c.out, "sync path: QRESYNC"));
  // --json: the documented object, with the failed side in its second form.
  auto cj = run_twinbox({"check", "--json", "--config", file});
  CHECK(cj.status == 4);
  const json j = json::parse(cj.out, nullptr, false);
  REQUIRE_MESSAGE(!j.is_discarded(), cj.out);
  const std::string wrong = ManSchema::twinbox1().validate_output("check", j);
  CHECK_MESSAGE(wrong.empty(), wrong << "\n  in " << cj.out);
  CHECK(j["ok"] == false);
  CHECK(j["local"]["ok"] == true);
  CHECK(j["remote"]["ok"] == false);
  CHECK(j["remote"]["kind"] == "auth");
  CHECK(!contains(cj.out, "wrong-pw"));
}

TEST_CASE("check reports capabilities and sync paths, and changes nothing") {
  ServeChild serve;
  TempDir dir;
  const std::string state = dir.path + "/s.db";
  const std::string file = dir.write("c.conf", config(serve.port, state, "bob-pw"));
  auto c = run_twinbox({"check", "--config", file});
  REQUIRE_MESSAGE(c.status == 0, c.out << c.err);
  CHECK(contains(c.out, "capabilities: "));
  CHECK(contains(c.out, "QRESYNC"));
  CHECK(contains(c.out, "both sides OK"));
  CHECK(::access(state.c_str(), F_OK) != 0);  // no state database created
}

TEST_CASE("sync: dry run, JSON events, --exit-code, no-op, --debug redaction") {
  ServeChild serve;
  TempDir dir;
  const std::string state = dir.path + "/s.db";
  const std::string file = dir.write("c.conf", config(serve.port, state, "bob-pw"));

  // A dry run changes nothing and writes no state.
  auto dry = run_twinbox({"sync", "--config", file, "--dry-run", "--json"});
  REQUIRE_MESSAGE(dry.status == 0, dry.out << dry.err);
  auto dry_summary = check_schema(json_lines(dry.out));
  CHECK(dry_summary["dry_run"] == true);
  CHECK(::access(state.c_str(), F_OK) != 0);

  // The first sync copies both ways: --exit-code makes that 1.
  auto first = run_twinbox({"sync", "--config", file, "--json", "--exit-code"});
  REQUIRE_MESSAGE(first.status == 1, first.out << first.err);
  auto events = json_lines(first.out);
  auto summary = check_schema(events);
  CHECK(summary["status"] == "changed");
  CHECK(summary["changed"] == true);
  CHECK(summary["local"]["copied"].get<unsigned>() > 0);
  CHECK(summary["remote"]["copied"].get<unsigned>() > 0);
  CHECK(summary["bytes"].get<unsigned>() > 0);
  std::uint64_t copied_local = 0;
  bool inbox = false;
  for (const auto& e : events) {
    if (e["event"] != "mailbox") continue;
    copied_local += e["local"]["copied"].get<std::uint64_t>();
    inbox = inbox || e["mailbox"] == "INBOX";
  }
  CHECK(inbox);
  CHECK(copied_local == summary["local"]["copied"].get<std::uint64_t>());
  // Live events: totals first, then per mailbox a start and one "copied" per message.
  std::size_t totals_at = events.size(), first_copy = events.size(), copied_events = 0;
  std::uint64_t copied_bytes = 0;
  std::set<std::string> started;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (e["event"] == "totals" && totals_at == events.size()) totals_at = i;
    if (e["event"] == "mailbox_start") started.insert(e["mailbox"].get<std::string>());
    if (e["event"] != "copied") continue;
    first_copy = std::min(first_copy, i);
    ++copied_events;
    copied_bytes += e["bytes"].get<std::uint64_t>();
    CHECK(started.count(e["mailbox"].get<std::string>()) == 1);  // after its mailbox_start
    CHECK(e["uid"].is_number_unsigned());  // the embedded server has UIDPLUS
  }
  CHECK(totals_at < first_copy);
  CHECK(events[totals_at]["local"]["copies"] == summary["local"]["copied"]);
  CHECK(copied_events == summary["local"]["copied"].get<std::uint64_t>() +
                             summary["remote"]["copied"].get<std::uint64_t>());
  CHECK(copied_bytes == summary["bytes"].get<std::uint64_t>());
  CHECK(started.count("INBOX") == 1);

  // Nothing changed since: text output says so, exit 0 even with --exit-code.
  auto again = run_twinbox({"sync", "--config", file, "--exit-code"});
  CHECK_MESSAGE(again.status == 0, again.out << again.err);
  CHECK_MESSAGE(contains(again.out, "nothing to do"), again.out);
  auto quiet = run_twinbox({"sync", "--config", file, "--quiet"});
  CHECK(quiet.status == 0);
  CHECK(quiet.out.empty());

  // --debug: a protocol trace on stderr, passwords redacted.
  auto debug = run_twinbox({"sync", "--config", file, "--debug"});
  CHECK(debug.status == 0);
  CHECK(contains(debug.err, "C: "));
  CHECK(contains(debug.err, "S: "));
  CHECK(contains(debug.err, "local "));
  CHECK(contains(debug.err, "remote "));
  CHECK(!contains(debug.err, "alice-pw"));
  CHECK(!contains(debug.err, "bob-pw"));
  CHECK(!contains(debug.out, "bob-pw"));
}

/// A logged-in session of `user` (password user-pw) on the test server.
std::unique_ptr<client::Session> login(unsigned short port, const std::string& user) {
  client::EndpointOptions ep;
  ep.transport = client::Transport::Plain;
  ep.host = "127.0.0.1";
  ep.port = port;
  ep.credentials.username = user;
  ep.credentials.password = user + "-pw";
  auto session = client::connect(ep);
  REQUIRE(session.has_value());
  return std::move(*session);
}

TEST_CASE("--json: live events for flag changes, expunges and moves") {
  ServeChild serve;
  TempDir dir;
  const std::string file = dir.write("c.conf", config(serve.port, dir.path + "/s.db", "bob-pw"));
  REQUIRE(run_twinbox({"sync", "--config", file}).status == 0);

  // On bob's side (remote): flag one INBOX message, expunge one, move one to Archive.
  auto session = login(serve.port, "bob");
  client::Session& s = *session;
  auto deadline = [] { return net::deadline_in(std::chrono::seconds(10)); };
  REQUIRE(s.wait(s.select("INBOX"), deadline()).has_value());
  auto all = s.wait(s.uid_search("ALL"), deadline());
  REQUIRE(all.has_value());
  const auto uids = all->uids.to_vector();
  REQUIRE(uids.size() >= 3);
  auto one = [](std::uint32_t u) { return imap::SeqSet::from_vector({u}); };
  REQUIRE(s.wait(s.uid_store(one(uids[0]), client::StoreMode::Add, imap::FlagSet{"$Urgent"}),
                 deadline()).has_value());
  REQUIRE(s.wait(s.uid_store(one(uids[1]), client::StoreMode::Add, imap::FlagSet{"\\Deleted"}),
                 deadline()).has_value());
  REQUIRE(s.wait(s.uid_expunge(one(uids[1])), deadline()).has_value());
  REQUIRE(s.wait(s.uid_move(one(uids[2]), "Archive"), deadline()).has_value());
  (void)s.wait(s.logout(), deadline());

  auto r = run_twinbox({"sync", "--config", file, "--json"});
  REQUIRE_MESSAGE(r.status == 0, r.out << r.err);
  const auto events = json_lines(r.out);
  const json summary = check_schema(events);
  std::size_t flags = 0, expunged = 0, moved = 0;
  for (const auto& e : events) {
    if (e["event"] == "flags" && e["side"] == "local" && e["mailbox"] == "INBOX") {
      CHECK(std::find(e["flags"].begin(), e["flags"].end(), "$Urgent") != e["flags"].end());
      ++flags;
    }
    if (e["event"] == "expunged" && e["side"] == "local" && e["mailbox"] == "INBOX") ++expunged;
    if (e["event"] == "moved" && e["side"] == "local" && e["mailbox"] == "INBOX" &&
        e["to_mailbox"] == "Archive") {
      ++moved;
    }
  }
  CHECK_MESSAGE(flags == 1, r.out);
  CHECK_MESSAGE(expunged == 1, r.out);
  CHECK_MESSAGE(moved == 1, r.out);
  CHECK(summary["local"]["flags"] == 1);
  CHECK(summary["local"]["expunged"] == 1);
  CHECK(summary["local"]["moved"] == 1);
  CHECK(summary["local"]["copied"] == 0);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST_CASE("--log-file: created 0600, appended, timestamped, decoded names, no secrets") {
  ServeChild serve;
  TempDir dir;
  const std::string file = dir.write("c.conf", config(serve.port, dir.path + "/s.db", "bob-pw"));
  {
    auto session = login(serve.port, "alice");
    // "Entwürfe" in modified UTF-7 on the wire: the log must show the decoded name.
    REQUIRE(session->wait(session->create("Entw&APw-rfe"), net::deadline_in(std::chrono::seconds(10)))
                .has_value());
    (void)session->wait(session->logout(), net::deadline_in(std::chrono::seconds(5)));
  }
  const std::string log = dir.path + "/twinbox.log";
  auto first = run_twinbox({"sync", "--config", file, "--quiet", "--log-file", log});
  REQUIRE_MESSAGE(first.status == 0, first.out << first.err);
  CHECK(first.out.empty());  // --quiet is about the terminal; the log file gets everything
  struct stat st {};
  REQUIRE(::stat(log.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const std::string text = read_file(log);
  const auto lines = lines_of(text);
  REQUIRE(lines.size() >= 4);
  static const std::regex stamp(
      R"(^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z twinbox\[[0-9]+\]: .+)");
  for (const auto& l : lines) CHECK_MESSAGE(std::regex_match(l, stamp), l);
  CHECK_MESSAGE(contains(text, "sync started: config " + file), text);
  CHECK_MESSAGE(contains(text, "created Entwürfe on the remote side"), text);
  CHECK_MESSAGE(contains(text, "INBOX: syncing: copy "), text);
  CHECK_MESSAGE(contains(text, "INBOX: local <- "), text);
  CHECK_MESSAGE(contains(text, "synced: "), text);
  CHECK(contains(text, "[exit status 0]"));
  CHECK_MESSAGE(!contains(text, "&APw-"), text);
  CHECK(!contains(text, "alice-pw"));
  CHECK(!contains(text, "bob-pw"));
  CHECK(text.find('\x1b') == std::string::npos);

  // Appended, not replaced; --json changes stdout only; -vv adds message lines.
  auto second = run_twinbox({"sync", "--config", file, "--json", "--log-file", log});
  REQUIRE(second.status == 0);
  const std::string more = read_file(log);
  CHECK(more.rfind(text, 0) == 0);
  CHECK(lines_of(more).size() > lines.size());
  CHECK(!contains(more.substr(text.size()), "{\""));

  // A log file that cannot be opened is a usage error (3) naming it.
  auto bad = run_twinbox({"sync", "--config", file, "--log-file", dir.path + "/no/such/dir/x.log"});
  CHECK(bad.status == 3);
  CHECK_MESSAGE(contains(bad.err, "--log-file " + dir.path + "/no/such/dir/x.log"), bad.err);
}

TEST_CASE("the deletion guard makes a run partial (exit 2) until --allow-mass-delete") {
  ServeChild serve;
  TempDir dir;
  const std::string file = dir.write(
      "c.conf", config(serve.port, dir.path + "/s.db", "bob-pw", "max_delete_min = 1\n"));
  REQUIRE(run_twinbox({"sync", "--config", file}).status == 0);

  // Bob empties his INBOX behind twinbox's back.
  client::EndpointOptions ep;
  ep.transport = client::Transport::Plain;
  ep.host = "127.0.0.1";
  ep.port = serve.port;
  ep.credentials.username = "bob";
  ep.credentials.password = "bob-pw";
  auto session = client::connect(ep);
  REQUIRE(session.has_value());
  client::Session& s = **session;
  auto deadline = [] { return net::deadline_in(std::chrono::seconds(10)); };
  auto sel = s.wait(s.select("INBOX"), deadline());
  REQUIRE(sel.has_value());
  REQUIRE(sel->exists >= 2);
  auto all = imap::SeqSet::parse("1:*");
  REQUIRE(all.has_value());
  const imap::FlagSet deleted{"\\Deleted"};
  REQUIRE(s.wait(s.uid_store(*all, client::StoreMode::Add, deleted), deadline()).has_value());
  REQUIRE(s.wait(s.uid_expunge(*all), deadline()).has_value());
  (void)s.wait(s.logout(), deadline());

  auto guarded = run_twinbox({"sync", "--config", file, "--json"});
  CHECK_MESSAGE(guarded.status == 2, guarded.out << guarded.err);
  auto summary = check_schema(json_lines(guarded.out));
  CHECK(summary["status"] == "partial");
  CHECK(summary["mailboxes_failed"].get<unsigned>() >= 1);
  CHECK_MESSAGE(contains(guarded.err, "INBOX"), guarded.err);
  // The mailbox-scoped error event (checked against the schema above) names the mailbox.
  std::vector<json> errors;
  for (const auto& e : json_lines(guarded.out)) {
    if (e["event"] == "error") errors.push_back(e);
  }
  REQUIRE_MESSAGE(errors.size() == 1, guarded.out);
  CHECK(errors[0]["scope"] == "mailbox");
  CHECK(errors[0]["kind"] == "partial");
  CHECK(errors[0]["code"] == "mailbox stopped");
  CHECK(errors[0]["mailbox"] == "INBOX");
  CHECK_MESSAGE(contains(errors[0]["message"].get<std::string>(), "--allow-mass-delete"),
                errors[0]["message"]);

  auto allowed = run_twinbox({"sync", "--config", file, "--allow-mass-delete"});
  CHECK_MESSAGE(allowed.status == 0, allowed.out << allowed.err);
  CHECK(contains(allowed.out, "INBOX"));
  CHECK(contains(allowed.out, "expunged"));
}

TEST_CASE("TLS: an untrusted certificate exits 5; with tls_ca_file, imaps and STARTTLS work") {
  TempDir dir;
  // A self-signed certificate for 127.0.0.1: untrusted until named by tls_ca_file.
  auto cert = run_program({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                           "ec_paramgen_curve:P-256", "-nodes", "-keyout", dir.path + "/key.pem",
                           "-out", dir.path + "/cert.pem", "-subj", "/CN=localhost", "-addext",
                           "subjectAltName=DNS:localhost,IP:127.0.0.1", "-days", "2"});
  REQUIRE_MESSAGE(cert.status == 0, cert.err);
  Child serve({"serve", "--listen", "127.0.0.1:0", "--tls-port", "0", "--tls-cert",
               dir.path + "/cert.pem", "--tls-key", dir.path + "/key.pem", "--user",
               "alice:alice-pw", "--user", "bob:bob-pw"});
  auto plain = serve.read_line(15s);
  auto tls = serve.read_line(15s);
  REQUIRE_MESSAGE(tls.has_value(), serve.stderr_text());
  auto side = [&](const char* name, const char* user, const std::string& extra) {
    return std::string("[") + name + "]\nhost = 127.0.0.1\nusername = " + user +
           "\npassword = " + user + "-pw\n" + extra;
  };
  const std::string state = "state = " + dir.path + "/s.db\n";
  const std::string imaps = "type = imaps\nport = " + *tls + "\n";
  const std::string untrusted = dir.write(
      "u.conf", state + side("local", "alice", imaps) + side("remote", "bob", imaps));
  auto r = run_twinbox({"check", "--config", untrusted});
  CHECK_MESSAGE(r.status == 5, r.out << r.err);
  CHECK(run_twinbox({"sync", "--config", untrusted}).status == 5);

  const std::string trust = "tls_ca_file = " + dir.path + "/cert.pem\n";
  const std::string starttls = "type = imap\nport = " + *plain + "\n";
  const std::string trusted = dir.write(
      "t.conf", state + side("local", "alice", imaps + trust) + side("remote", "bob", starttls + trust));
  auto ok = run_twinbox({"check", "--config", trusted});
  CHECK_MESSAGE(ok.status == 0, ok.out << ok.err);
  CHECK(contains(ok.out, "(imaps)"));
  CHECK(contains(ok.out, "(imap+starttls)"));
}

TEST_CASE("--test-crash-after=1 ends the run with 77 before its first mutating step") {
  ServeChild serve;
  TempDir dir;
  const std::string file = dir.write("c.conf", config(serve.port, dir.path + "/s.db", "bob-pw"));
  auto r = run_twinbox({"sync", "--config", file, "--test-crash-after=1"});
  CHECK_MESSAGE(r.status == 77, r.out << r.err);
  CHECK(contains(r.err, "test crash"));
  // The next run resumes and completes.
  CHECK(run_twinbox({"sync", "--config", file}).status == 0);
}

TEST_CASE("watch: first round, then a new message on one side is copied; SIGTERM exits 0") {
  ServeChild serve;
  TempDir dir;
  const std::string file = dir.write("c.conf", config(serve.port, dir.path + "/s.db", "bob-pw",
                                                      "poll_interval = 2\n"));
  Child watch({"watch", "--config", file, "--json"});
  std::size_t copied_to_local = 0;  // live "copied" events of watch rounds
  auto next_event = [&](const std::string& kind) -> std::optional<json> {
    for (int i = 0; i < 200; ++i) {
      auto line = watch.read_line(15s);
      if (!line) return std::nullopt;
      json j = json::parse(*line, nullptr, false);
      REQUIRE_MESSAGE(!j.is_discarded(), "not JSON: " << *line);
      const std::string wrong = ManSchema::twinbox1().validate(j);
      CHECK_MESSAGE(wrong.empty(), wrong << "\n  in " << *line);
      if (j["event"] == "copied" && j["to"] == "local") ++copied_to_local;
      if (j["event"] == kind) return j;
    }
    return std::nullopt;
  };
  auto first = next_event("summary");
  REQUIRE_MESSAGE(first.has_value(), "no first round; stderr: " << watch.stderr_text());
  CHECK((*first)["status"] == "ok");
  CHECK((*first)["local"]["copied"].get<unsigned>() > 0);
  CHECK(copied_to_local == (*first)["local"]["copied"].get<std::size_t>());

  client::EndpointOptions ep;
  ep.transport = client::Transport::Plain;
  ep.host = "127.0.0.1";
  ep.port = serve.port;
  ep.credentials.username = "bob";
  ep.credentials.password = "bob-pw";
  auto session = client::connect(ep);
  REQUIRE(session.has_value());
  client::Session& s = **session;
  static const std::string body =
      "From: x@example.org\r\nSubject: watch test\r\nMessage-ID: <watch@t>\r\n\r\nhi\r\n";
  std::vector<client::AppendMessage> msgs(1);
  msgs[0].data = body;
  REQUIRE(s.wait(s.append("INBOX", msgs), net::deadline_in(std::chrono::seconds(10))).has_value());
  (void)s.wait(s.logout(), net::deadline_in(std::chrono::seconds(5)));

  std::optional<json> copied;
  for (int round = 0; round < 20 && !copied; ++round) {
    auto m = next_event("mailbox");
    if (!m) break;
    if ((*m)["mailbox"] == "INBOX" && (*m)["local"]["copied"].get<unsigned>() == 1) copied = m;
  }
  CHECK_MESSAGE(copied.has_value(), "the new message was not copied; stderr: " << watch.stderr_text());

  // A new mailbox with a non-ASCII name: log lines show it decoded, never in modified UTF-7.
  auto bob = login(serve.port, "bob");
  REQUIRE(bob->wait(bob->create("Entw&APw-rfe"), net::deadline_in(std::chrono::seconds(10)))
              .has_value());
  (void)bob->wait(bob->logout(), net::deadline_in(std::chrono::seconds(5)));
  bool created = false;
  for (int i = 0; i < 40 && !created; ++i) {
    auto log = next_event("log");
    if (!log) break;
    const std::string message = (*log)["message"].get<std::string>();
    CHECK_MESSAGE(!contains(message, "&APw-"), message);
    created = contains(message, "created Entwürfe on the local side");
  }
  CHECK_MESSAGE(created, "no log line for the new mailbox; stderr: " << watch.stderr_text());
  CHECK(watch.stop() == 0);
}

}  // namespace
}  // namespace twinbox::test
