#include "support/sync_fixture.hpp"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <doctest/doctest.h>

#include <twinbox/base/crash_point.hpp>
#include <twinbox/net/io.hpp>

namespace twinbox::test {

// ---- TempDir ------------------------------------------------------------------------------

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "twinbox-synctest-XXXXXX").string();
  REQUIRE_MESSAGE(::mkdtemp(tmpl.data()) != nullptr, "mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!std::getenv("TWINBOX_KEEP_TEST_DIRS")) std::filesystem::remove_all(path_, ec);
}

// ---- TestServer -----------------------------------------------------------------------------

struct ServerThread {
  std::thread thread;
};

namespace {
constexpr int kDovecotAccounts = 200;
}

namespace {

/// Fresh accounts on shared private Dovecot instances, one per namespace style.
std::pair<DovecotInstance*, std::string> next_dovecot_account(bool courier) {
  static std::optional<DovecotInstance> shared[2];
  static int next[2] = {0, 0};
  const int k = courier ? 1 : 0;
  if (!shared[k]) {
    DovecotOptions o;
    o.users.clear();
    for (int i = 1; i <= kDovecotAccounts; ++i) o.users.push_back({"u" + std::to_string(i), "secret"});
    o.courier_namespace = courier;
    auto dc = DovecotInstance::start(o);
    REQUIRE_MESSAGE(dc.has_value(), (dc ? std::string() : dc.error().message));
    shared[k].emplace(std::move(*dc));
  }
  REQUIRE_MESSAGE(next[k] < kDovecotAccounts, "out of Dovecot test accounts");
  return {&*shared[k], "u" + std::to_string(++next[k])};
}

}  // namespace

std::unique_ptr<TestServer> TestServer::dovecot() { return dovecot_account(false); }
std::unique_ptr<TestServer> TestServer::dovecot_courier() { return dovecot_account(true); }

std::unique_ptr<TestServer> TestServer::dovecot_account(bool courier) {
  auto [instance, user] = next_dovecot_account(courier);
  std::unique_ptr<TestServer> s(new TestServer());
  s->dovecot_ = instance;
  s->user_ = user;
  s->port_ = instance->imap_port();
  return s;
}

std::unique_ptr<TestServer> TestServer::embedded(server::Options options) {
  options.port = 0;
  options.listen_host = "127.0.0.1";
  options.users = {{"alice", "secret"}};
  options.test.enabled = true;
  options.limits.auth_fail_delay_ms = 0;
  auto srv = server::Server::create(options);
  REQUIRE_MESSAGE(srv.has_value(), (srv ? std::string() : srv.error().message));
  std::unique_ptr<TestServer> s(new TestServer());
  s->server_ = std::move(*srv);
  auto port = s->server_->start();
  REQUIRE_MESSAGE(port.has_value(), (port ? std::string() : port.error().message));
  s->port_ = *port;
  s->thread_ = std::make_unique<ServerThread>();
  server::Server* raw = s->server_.get();
  s->thread_->thread = std::thread([raw] { (void)raw->run(); });
  return s;
}

TestServer::~TestServer() {
  if (server_) {
    server_->stop();
    if (thread_ && thread_->thread.joinable()) thread_->thread.join();
  }
}

client::EndpointOptions TestServer::endpoint() const {
  client::EndpointOptions o;
  o.transport = client::Transport::Plain;
  o.host = "127.0.0.1";
  o.port = port_;
  o.credentials.username = user_;
  o.credentials.password = "secret";
  o.connect_timeout = std::chrono::seconds(10);
  o.command_timeout = std::chrono::seconds(20);
  o.send_id = false;
  return o;
}

std::string TestServer::describe() const {
  return (dovecot_ ? "dovecot:" : "embedded:") + std::to_string(port_) + ":" + user_;
}

// ---- messages -------------------------------------------------------------------------------

std::string content_hash(std::string_view bytes) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string(buf) + ":" + std::to_string(bytes.size());
}

std::string make_message(const std::string& id, std::size_t size) {
  std::string m = "From: Alice <alice@twinbox.test>\r\nTo: Bob <bob@twinbox.test>\r\n"
                  "Subject: message " + id + "\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n"
                  "Message-ID: <" + id + "@twinbox.test>\r\n\r\n";
  std::size_t n = 0;
  while (m.size() < size) m += "Body line " + std::to_string(n++) + " of " + id + ".\r\n";
  // No CRLF at the very end, so bodies without a final line break stay covered (the embedded
  // server once cut a literal's trailing CRLF, fixed in 9cae2a9; fault_random's bodies end
  // with CRLF and cover that case).
  m += "-- " + id;
  return m;
}

std::string MessageView::describe() const {
  return mailbox + " uid " + std::to_string(uid.value) + " " + hash + " [" + flags + "] " +
         internaldate;
}

// ---- Account --------------------------------------------------------------------------------

namespace {

net::Deadline soon() { return net::deadline_in(std::chrono::seconds(30)); }

imap::SeqSet one(Uid u) {
  imap::SeqSet s;
  s.add(u.value);
  return s;
}

std::string flag_text(const imap::FlagSet& f) {
  std::vector<std::string> v;
  for (const auto& x : f.items()) {
    if (x == "\\Recent" || x == "\\recent") continue;
    v.push_back(x);
  }
  std::sort(v.begin(), v.end());
  std::string out;
  for (const auto& x : v) {
    if (!out.empty()) out += ' ';
    out += x;
  }
  return out;
}

template <class T>
T must(client::Session& s, const client::Pending<T>& p, const std::string& what) {
  auto r = s.wait(p, soon());
  REQUIRE_MESSAGE(r.has_value(), what << ": " << (r ? std::string() : r.error().message));
  return std::move(*r);
}

void must_void(client::Session& s, const client::Pending<void>& p, const std::string& what) {
  auto r = s.wait(p, soon());
  REQUIRE_MESSAGE(r.has_value(), what << ": " << (r ? std::string() : r.error().message));
}

}  // namespace

Account::Account(const TestServer& server) : endpoint_(server.endpoint()) {
  if (std::getenv("TWINBOX_TEST_TRACE")) {
    endpoint_.session.trace = [](std::string_view line) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now().time_since_epoch()).count();
      std::fprintf(stderr, "[%lld] A %.*s\n", static_cast<long long>(ms % 1000000),
                   static_cast<int>(std::min<std::size_t>(line.size(), 300)), line.data());
    };
  }
  auto s = client::connect(endpoint_);
  REQUIRE_MESSAGE(s.has_value(), "connect to " << server.describe() << ": "
                                              << (s ? std::string() : s.error().message));
  session_ = std::move(*s);
}

Account::~Account() = default;
Account::Account(Account&&) noexcept = default;

client::Session& Account::session() { return *session_; }

void Account::select(const std::string& mailbox, bool read_only) {
  client::SelectOptions o;
  o.read_only = read_only;
  (void)must(*session_, session_->select(mailbox, o), "SELECT " + mailbox);
}

Uid Account::append(const std::string& mailbox, const std::string& body,
                    const std::vector<std::string>& flags, const std::string& date) {
  client::AppendMessage m;
  for (const auto& f : flags) m.flags.insert(f);
  if (!date.empty()) m.internal_date = date;
  m.data = body;
  std::vector<client::AppendMessage> v;
  v.push_back(std::move(m));
  auto r = must(*session_, session_->append(mailbox, std::move(v)), "APPEND to " + mailbox);
  REQUIRE_MESSAGE(r.uids.size() == 1, "APPEND to " << mailbox << " returned no APPENDUID");
  return r.uids.front();
}

void Account::create(const std::string& mailbox) {
  must_void(*session_, session_->create(mailbox), "CREATE " + mailbox);
}

void Account::rename(const std::string& from, const std::string& to) {
  must_void(*session_, session_->rename(from, to), "RENAME " + from);
}

void Account::remove(const std::string& mailbox) {
  if (session_->selected() && session_->selected()->mailbox == mailbox) {
    must_void(*session_, session_->unselect(), "UNSELECT");
  }
  must_void(*session_, session_->delete_mailbox(mailbox), "DELETE " + mailbox);
}

void Account::store(const std::string& mailbox, Uid uid, client::StoreMode mode,
                    const std::vector<std::string>& flags) {
  select(mailbox, false);
  imap::FlagSet f;
  for (const auto& x : flags) f.insert(x);
  (void)must(*session_, session_->uid_store(one(uid), mode, f), "UID STORE in " + mailbox);
}

void Account::expunge(const std::string& mailbox, const std::vector<Uid>& uids) {
  select(mailbox, false);
  imap::SeqSet set;
  for (Uid u : uids) set.add(u.value);
  (void)must(*session_, session_->uid_store(set, client::StoreMode::Add, imap::FlagSet{"\\Deleted"}),
             "UID STORE \\Deleted in " + mailbox);
  (void)must(*session_, session_->uid_expunge(set), "UID EXPUNGE in " + mailbox);
}

Uid Account::move(const std::string& mailbox, Uid uid, const std::string& to) {
  select(mailbox, false);
  auto r = must(*session_, session_->uid_move(one(uid), to), "UID MOVE from " + mailbox);
  REQUIRE_MESSAGE(r.pairs.size() == 1, "UID MOVE returned no COPYUID");
  return r.pairs.front().second;
}

std::optional<Uid> Account::find(const std::string& mailbox, const std::string& id) {
  select(mailbox, true);
  auto r = must(*session_,
                session_->uid_search("HEADER Message-ID \"<" + id + "@twinbox.test>\""),
                "UID SEARCH in " + mailbox);
  REQUIRE_MESSAGE(r.uids.size() <= 1, "message " << id << " is in " << mailbox << " "
                                                 << r.uids.size() << " times");
  if (r.uids.empty()) return std::nullopt;
  return Uid(*r.uids.min());
}

std::vector<std::string> Account::mailboxes() {
  client::ListOptions lo;
  auto r = must(*session_, session_->list(lo), "LIST");
  std::vector<std::string> out;
  for (const auto& e : r) {
    if (!e.selectable() || e.has_attribute("\\All") || e.has_attribute("\\Flagged")) continue;
    out.push_back(e.name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::set<std::string> Account::subscriptions() {
  client::ListOptions lo;
  lo.subscribed_only = true;
  lo.return_special_use = false;
  std::set<std::string> out;
  for (const auto& e : must(*session_, session_->list(lo), "LIST (SUBSCRIBED)")) out.insert(e.name);
  return out;
}

void Account::subscribe(const std::string& mailbox, bool on) {
  must_void(*session_, on ? session_->subscribe(mailbox) : session_->unsubscribe(mailbox),
            (on ? "SUBSCRIBE " : "UNSUBSCRIBE ") + mailbox);
}

imap::StatusData Account::status(const std::string& mailbox) {
  return must(*session_, session_->status(mailbox, client::StatusItems{}), "STATUS " + mailbox);
}

std::vector<MessageView> Account::messages(const std::string& mailbox) {
  client::SelectOptions o;
  o.read_only = true;
  auto info = must(*session_, session_->select(mailbox, o), "EXAMINE " + mailbox);
  std::vector<MessageView> out;
  if (info.exists == 0) return out;
  imap::SeqSet all;
  all.add(1, std::max<std::uint32_t>(info.uidnext.value, 2) - 1);
  client::FetchItems items;
  items.flags = true;
  items.internal_date = true;
  items.body = true;
  auto r = must(*session_, session_->uid_fetch(all, items), "UID FETCH in " + mailbox);
  for (const auto& f : r.messages) {
    MessageView v;
    v.mailbox = mailbox;
    v.uid = f.uid.value_or(Uid());
    v.flags = flag_text(f.flags);
    v.internaldate = f.internal_date.value_or("");
    for (const auto& b : f.bodies) {
      if (b.section.empty() && b.data) v.hash = content_hash(*b.data);
    }
    out.push_back(std::move(v));
  }
  std::sort(out.begin(), out.end(),
            [](const MessageView& a, const MessageView& b) { return a.uid < b.uid; });
  return out;
}

std::vector<MessageView> Account::all() {
  std::vector<MessageView> out;
  for (const auto& m : mailboxes()) {
    auto v = messages(m);
    out.insert(out.end(), v.begin(), v.end());
  }
  std::sort(out.begin(), out.end(), [](const MessageView& a, const MessageView& b) {
    return std::tie(a.mailbox, a.hash, a.flags, a.internaldate) <
           std::tie(b.mailbox, b.hash, b.flags, b.internaldate);
  });
  return out;
}

std::string Account::body(const std::string& mailbox, Uid uid) {
  select(mailbox, true);
  client::FetchItems items;
  items.flags = false;
  items.body = true;
  auto r = must(*session_, session_->uid_fetch(one(uid), items), "UID FETCH BODY in " + mailbox);
  for (const auto& f : r.messages) {
    for (const auto& b : f.bodies) {
      if (b.section.empty() && b.data) return *b.data;
    }
  }
  FAIL("no body for UID " << uid.value << " in " << mailbox);
  return {};
}

// ---- engine helpers -------------------------------------------------------------------------

// ---- DirectMail -----------------------------------------------------------------------------

namespace {
/// The make_message() id in a body ("" when none).
std::string id_of(std::string_view body) {
  constexpr std::string_view kKey = "Message-ID: <";
  auto p = body.find(kKey);
  if (p == std::string_view::npos) return {};
  p += kKey.size();
  auto e = body.find("@twinbox.test>", p);
  return e == std::string_view::npos ? std::string() : std::string(body.substr(p, e - p));
}
}  // namespace

DirectMail::DirectMail(const TestServer& server) : srv_(server.embedded_server()), user_(server.user()) {
  REQUIRE_MESSAGE(srv_ != nullptr, "DirectMail needs an embedded server");
}

Uid DirectMail::add(const std::string& mailbox, const std::string& id,
                    const std::vector<std::string>& flags, std::int64_t date, std::size_t size) {
  auto u = srv_->append_message(user_, mailbox, make_message(id, size), flags, date);
  REQUIRE_MESSAGE(u.has_value(), "append " << id << ": " << (u ? std::string() : u.error().message));
  return *u;
}

void DirectMail::create(const std::string& mailbox) {
  auto r = srv_->create_mailbox(user_, mailbox);
  REQUIRE_MESSAGE(r.has_value(), "create " << mailbox << ": " << (r ? std::string() : r.error().message));
}

std::optional<Uid> DirectMail::find(const std::string& mailbox, const std::string& id) {
  auto msgs = srv_->messages(user_, mailbox);
  REQUIRE_MESSAGE(msgs.has_value(), "messages of " << mailbox);
  std::optional<Uid> found;
  for (const auto& m : *msgs) {
    auto b = srv_->message_body(user_, mailbox, m.uid);
    REQUIRE(b.has_value());
    if (id_of(*b) != id) continue;
    REQUIRE_MESSAGE(!found, id << " is in " << mailbox << " twice");
    found = m.uid;
  }
  return found;
}

std::vector<std::string> DirectMail::current(const std::string& mailbox, Uid uid) {
  auto msgs = srv_->messages(user_, mailbox);
  REQUIRE(msgs.has_value());
  for (const auto& m : *msgs) {
    if (m.uid == uid) return m.flags;
  }
  FAIL("uid " << uid.value << " not in " << mailbox);
  return {};
}

std::string DirectMail::flags(const std::string& mailbox, const std::string& id) {
  auto u = find(mailbox, id);
  if (!u) return "?";
  auto f = current(mailbox, *u);
  std::sort(f.begin(), f.end());
  std::string out;
  for (const auto& x : f) out += (out.empty() ? "" : " ") + x;
  return out;
}

void DirectMail::add_flag(const std::string& mailbox, const std::string& id, const std::string& flag) {
  auto u = find(mailbox, id);
  REQUIRE_MESSAGE(u, id << " not in " << mailbox);
  auto f = current(mailbox, *u);
  if (std::find(f.begin(), f.end(), flag) == f.end()) f.push_back(flag);
  REQUIRE(srv_->set_flags(user_, mailbox, *u, f).has_value());
}

void DirectMail::remove_flag(const std::string& mailbox, const std::string& id, const std::string& flag) {
  auto u = find(mailbox, id);
  REQUIRE_MESSAGE(u, id << " not in " << mailbox);
  auto f = current(mailbox, *u);
  std::erase(f, flag);
  REQUIRE(srv_->set_flags(user_, mailbox, *u, f).has_value());
}

void DirectMail::expunge(const std::string& mailbox, const std::string& id) {
  auto u = find(mailbox, id);
  REQUIRE_MESSAGE(u, id << " not in " << mailbox);
  REQUIRE(srv_->expunge(user_, mailbox, {*u}).has_value());
}

void DirectMail::move(const std::string& from, const std::string& id, const std::string& to) {
  auto u = find(from, id);
  REQUIRE_MESSAGE(u, id << " not in " << from);
  auto msgs = srv_->messages(user_, from);
  REQUIRE(msgs.has_value());
  auto it = std::find_if(msgs->begin(), msgs->end(), [&](const server::MessageInfo& m) { return m.uid == *u; });
  REQUIRE(it != msgs->end());
  auto body = srv_->message_body(user_, from, *u);
  REQUIRE(body.has_value());
  auto n = srv_->append_message(user_, to, *body, it->flags, it->internaldate);
  REQUIRE_MESSAGE(n.has_value(), "append to " << to);
  REQUIRE(srv_->expunge(user_, from, {*u}).has_value());
}

std::vector<std::string> DirectMail::ids(const std::string& mailbox) {
  auto msgs = srv_->messages(user_, mailbox);
  REQUIRE(msgs.has_value());
  std::vector<std::string> out;
  for (const auto& m : *msgs) {
    auto b = srv_->message_body(user_, mailbox, m.uid);
    REQUIRE(b.has_value());
    out.push_back(id_of(*b));
  }
  std::sort(out.begin(), out.end());
  return out;
}

sync::EngineOptions engine_options(const TestServer& local, const TestServer& remote,
                                   const std::string& state_path) {
  sync::EngineOptions o;
  o.endpoints[Side::Local] = local.endpoint();
  o.endpoints[Side::Remote] = remote.endpoint();
  o.state_path = state_path;
  o.timeout = std::chrono::seconds(30);
  o.durable_state = false;  // a killed process loses nothing with WAL + NORMAL either
  if (std::getenv("TWINBOX_TEST_TRACE")) {
    for (Side s : kBothSides) {
      o.endpoints[s].session.trace = [s](std::string_view line) {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now().time_since_epoch()).count();
        std::fprintf(stderr, "[%lld] %s %.*s\n", static_cast<long long>(ms % 1000000),
                     s == Side::Local ? "L" : "R", static_cast<int>(std::min<std::size_t>(line.size(), 300)), line.data());
      };
    }
  }
  return o;
}

Result<sync::SyncReport> run(const sync::EngineOptions& options, std::string* log) {
  static const bool verbose = std::getenv("TWINBOX_TEST_LOG") != nullptr;
  return sync::run_sync(options, [log](std::string_view line) {
    if (verbose) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now().time_since_epoch()).count();
      std::fprintf(stderr, "[%lld] %.*s\n", static_cast<long long>(ms % 1000000),
                   static_cast<int>(line.size()), line.data());
    }
    if (log) {
      *log += line;
      *log += '\n';
    }
  });
}

std::string describe(const sync::SyncReport& r) {
  std::ostringstream os;
  for (Side s : kBothSides) {
    const auto& c = r.total[s];
    os << "to " << to_string(s) << ": copied " << c.copied << " flags " << c.flags << " expunged "
       << c.expunged << " moved " << c.moved << "; ";
  }
  os << "checked " << r.mailboxes_checked << " skipped " << r.mailboxes_skipped_unchanged
     << " commands " << r.commands[Side::Local] << "/" << r.commands[Side::Remote] << "\n";
  for (const auto& m : r.mailboxes) {
    os << "  " << m.name << (m.created ? " (created)" : "") << ": " << m.error << "\n";
    for (const auto& p : m.plan) os << "    " << p << "\n";
  }
  for (const auto& p : r.problems) os << "  problem " << p.mailbox << ": " << p.message << "\n";
  return os.str();
}

sync::SyncReport run_ok(const sync::EngineOptions& options) {
  std::string log;
  auto r = run(options, &log);
  REQUIRE_MESSAGE(r.has_value(), "sync failed: " << (r ? std::string() : r.error().message)
                                                 << "\nlog:\n" << log);
  for (const auto& m : r->mailboxes) {
    CHECK_MESSAGE(m.error.empty(), "mailbox " << m.name << ": " << m.error << "\nlog:\n" << log);
  }
  return std::move(*r);
}

int run_in_child(const sync::EngineOptions& options, std::uint64_t crash_after, int timeout_s) {
  std::fflush(nullptr);
  int pipefd[2];
  REQUIRE_MESSAGE(::pipe(pipefd) == 0, "pipe failed");
  pid_t pid = ::fork();
  REQUIRE_MESSAGE(pid >= 0, "fork failed");
  if (pid == 0) {
    ::close(pipefd[0]);  // the write end stays open until the child exits
    // Steps count per process, and this one inherited the parent's count.
    set_crash_after(crash_after == 0 ? 0 : crash_points_passed() + crash_after);
    auto r = sync::run_sync(options, {});
    if (!r) std::fprintf(stderr, "child sync failed: %s\n", r.error().message.c_str());
    std::fflush(stderr);
    ::_exit(r ? 0 : 1);
  }
  ::close(pipefd[1]);
  // EOF on the pipe = the child is gone; bounded by timeout_s.
  pollfd p{pipefd[0], POLLIN, 0};
  int ready = ::poll(&p, 1, timeout_s * 1000);
  ::close(pipefd[0]);
  int status = 0;
  if (ready <= 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return -1;
  }
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return -1;
}

bool same_mail(Account& local, Account& remote) {
  auto a = local.all();
  auto b = remote.all();
  bool equal = a.size() == b.size() &&
               std::equal(a.begin(), a.end(), b.begin(),
                          [](const MessageView& x, const MessageView& y) { return x.same(y); });
  if (!equal) {
    std::ostringstream os;
    os << "local (" << a.size() << " messages):\n";
    for (const auto& m : a) os << "  " << m.describe() << "\n";
    os << "remote (" << b.size() << " messages):\n";
    for (const auto& m : b) os << "  " << m.describe() << "\n";
    CHECK_MESSAGE(equal, os.str());
  }
  return equal;
}

std::uint64_t total_copied(const sync::SyncReport& r) {
  return r.total[Side::Local].copied + r.total[Side::Remote].copied;
}
std::uint64_t total_moved(const sync::SyncReport& r) {
  return r.total[Side::Local].moved + r.total[Side::Remote].moved;
}
std::uint64_t total_expunged(const sync::SyncReport& r) {
  return r.total[Side::Local].expunged + r.total[Side::Remote].expunged;
}
std::uint64_t total_flags(const sync::SyncReport& r) {
  return r.total[Side::Local].flags + r.total[Side::Remote].flags;
}

}  // namespace twinbox::test
