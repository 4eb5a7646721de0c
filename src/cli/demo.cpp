// `twinbox demo`: two embedded IMAP servers in this process (127.0.0.1, ephemeral ports,
// in-memory stores), sample mail on both, a config file and state database in a temporary
// directory, a first sync, changes on both sides through the servers' store API, a second
// sync, and a table proving both sides hold the same messages with the same flags.

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include <twinbox/cli/config.hpp>
#include <twinbox/cli/engine_options.hpp>
#include <twinbox/cli/exit_codes.hpp>
#include <twinbox/server/mail.hpp>
#include <twinbox/server/server.hpp>
#include <twinbox/sync/engine.hpp>

#include "commands.hpp"

namespace twinbox::cli {
namespace {

constexpr const char* kUser = "alice";
constexpr std::size_t kShared = 3;  // identical messages on both sides before the first sync

/// One embedded server with its loop thread; stops and joins on destruction.
class DemoServer {
 public:
  static Result<std::unique_ptr<DemoServer>> start(const std::string& password) {
    server::Options o;
    o.port = 0;
    o.db_path = ":memory:";
    o.users = {{kUser, password}};
    auto srv = server::Server::create(o);
    if (!srv) return srv.error();
    auto port = (*srv)->start();
    if (!port) return port.error();
    auto d = std::unique_ptr<DemoServer>(new DemoServer(std::move(*srv), *port, password));
    d->thread_ = std::thread([s = d->server_.get()] { (void)s->run(); });
    return d;
  }
  ~DemoServer() {
    server_->stop();
    if (thread_.joinable()) thread_.join();
  }
  DemoServer(const DemoServer&) = delete;
  DemoServer& operator=(const DemoServer&) = delete;

  server::Server& operator*() { return *server_; }
  server::Server* operator->() { return server_.get(); }
  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] const std::string& password() const { return password_; }

 private:
  DemoServer(std::unique_ptr<server::Server> s, std::uint16_t port, std::string password)
      : server_(std::move(s)), port_(port), password_(std::move(password)) {}
  std::unique_ptr<server::Server> server_;
  std::uint16_t port_;
  std::string password_;
  std::thread thread_;
};

/// Removes the temporary directory on every path out of the demo.
struct TempDir {
  std::filesystem::path path;
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
};

std::string header(const std::string& body, std::string_view name) {
  const std::string key = "\r\n" + std::string(name) + ": ";
  const auto at = ("\r\n" + body).find(key);
  if (at == std::string::npos) return "";
  const auto start = at + key.size() - 2;
  const auto end = body.find("\r\n", start);
  return body.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

/// Flags as the comparison sees them: \Recent is per session and never synced; \Deleted is
/// synced only with `sync_deleted_flag = yes` (off by default, as in this demo).
std::vector<std::string> comparable(std::vector<std::string> flags) {
  std::erase_if(flags, [](const std::string& f) { return f == "\\Recent" || f == "\\Deleted"; });
  std::sort(flags.begin(), flags.end());
  return flags;
}

bool has_flag(const std::vector<std::string>& flags, std::string_view f) {
  return std::find(flags.begin(), flags.end(), f) != flags.end();
}

struct Found {
  std::string mailbox;
  server::MessageInfo info;
  std::string body;
};

/// The message with this Message-ID in `mailbox` of `srv`, if any.
std::optional<Found> find(server::Server& srv, const std::string& mailbox, const std::string& mid) {
  auto msgs = srv.messages(kUser, mailbox);
  if (!msgs) return std::nullopt;
  for (const auto& m : *msgs) {
    auto body = srv.message_body(kUser, mailbox, m.uid);
    if (body && header(*body, "Message-ID") == mid) return Found{mailbox, m, *body};
  }
  return std::nullopt;
}

/// The n-th message of `mailbox` on `srv` that is not \Deleted and lacks `without_flag`.
/// Messages whose Message-ID is in `skip` are passed over too.
std::optional<Found> nth(server::Server& srv, const std::string& mailbox, std::size_t n,
                         std::string_view without_flag = "\\Deleted",
                         const std::set<std::string>& skip = {}) {
  auto msgs = srv.messages(kUser, mailbox);
  if (!msgs) return std::nullopt;
  for (const auto& m : *msgs) {
    if (has_flag(m.flags, "\\Deleted") || has_flag(m.flags, without_flag)) continue;
    auto body = srv.message_body(kUser, mailbox, m.uid);
    if (!body) return std::nullopt;
    if (skip.count(header(*body, "Message-ID")) != 0) continue;
    if (n-- == 0) return Found{mailbox, m, *body};
  }
  return std::nullopt;
}

std::string quote_subject(const Found& f) {
  return "\"" + server::decode_rfc2047(header(f.body, "Subject")) + "\"";
}

std::vector<std::string> with(std::vector<std::string> flags, const std::string& f) {
  if (!has_flag(flags, f)) flags.push_back(f);
  return flags;
}
std::vector<std::string> without(std::vector<std::string> flags, const std::string& f) {
  std::erase(flags, f);
  return flags;
}

Status write_config(const std::filesystem::path& file, const std::filesystem::path& state,
                    DemoServer& local, DemoServer& remote) {
  std::ofstream out(file);
  out << "# written by `twinbox demo`; see twinbox.conf(5)\n"
      << "state = " << state.string() << "\n";
  const std::pair<const char*, DemoServer*> sides[] = {{"local", &local}, {"remote", &remote}};
  for (const auto& [name, srv] : sides) {
    out << "\n[" << name << "]\n"
        << "type = imap\ntls = none\nhost = 127.0.0.1\nport = " << srv->port() << "\n"
        << "username = " << kUser << "\npassword = " << srv->password() << "\n";
  }
  out.close();
  if (!out || ::chmod(file.c_str(), 0600) != 0) {
    return fail(Errc::Io, Scope::Fatal, "cannot write " + file.string());
  }
  return {};
}

Result<sync::SyncReport> sync_once(const std::string& config_file, const DemoArgs& args,
                                   Reporter& reporter) {
  auto config = load_config(config_file);
  if (!config) return config.error();
  auto options = engine_options(*config, RunFlags{});
  if (!options) return options.error();
  options->timeout = std::chrono::seconds(10);
  const auto start = std::chrono::steady_clock::now();
  auto report = sync::run_sync(*options, [&](std::string_view line) {
    if (args.verbose) std::cout << "   " << line << '\n';
  });
  if (!report) return report;
  for (const auto& m : report->mailboxes) {
    std::cout << "   " << std::left << std::setw(14) << m.name << Reporter::format_counts(m.to)
              << (m.error.empty() ? "" : "  FAILED: " + m.error) << '\n';
  }
  std::cout << "   ";
  reporter.summary(&*report, false, report->partial() ? ExitCode::Partial : ExitCode::Ok,
                   std::chrono::steady_clock::now() - start);
  if (report->partial()) {
    return fail(Errc::Internal, Scope::Fatal,
                "the sync failed for some mailboxes (above), so the demo stops here");
  }
  return report;
}

/// Seeds both sides: different sample mail, plus kShared identical messages in both INBOXes.
Status seed(DemoServer& local, DemoServer& remote, std::size_t count) {
  if (auto st = local->seed_demo(kUser, count, 1); !st) return st;
  if (auto st = remote->seed_demo(kUser, count, 2); !st) return st;
  for (std::size_t i = 0; i < kShared; ++i) {
    const std::string body = server::demo_message(3, i);
    const std::int64_t date = 1717200000 + static_cast<std::int64_t>(i) * 3600;
    for (DemoServer* s : {&local, &remote}) {
      auto uid = (*s)->append_message(kUser, "INBOX", body, {"\\Seen"}, date);
      if (!uid) return uid.error();
    }
  }
  return {};
}

/// Changes both sides between the syncs; prints what it did. `conflict` is the Message-ID of
/// the message changed on both sides.
Result<std::string> change_both_sides(DemoServer& local, DemoServer& remote) {
  // New mail on one side.
  for (std::size_t i = 0; i < 2; ++i) {
    auto uid = local->append_message(kUser, "INBOX", server::demo_message(4, i), {});
    if (!uid) return uid.error();
  }
  std::cout << "   local:  2 new messages arrive in INBOX\n";

  // A conflict: the same message flagged on the local side and marked unread on the remote.
  auto a = nth(*local, "INBOX", 0);
  if (!a) return fail(Errc::Internal, Scope::Fatal, "demo: INBOX is empty");
  const std::string mid = header(a->body, "Message-ID");
  auto a_remote = find(*remote, "INBOX", mid);
  if (!a_remote) return fail(Errc::Internal, Scope::Fatal, "demo: first sync left INBOX unpaired");
  if (auto st = local->set_flags(kUser, "INBOX", a->info.uid, with(a->info.flags, "\\Flagged")); !st) {
    return st.error();
  }
  auto remote_flags = with(without(a_remote->info.flags, "\\Seen"), "$Important");
  if (auto st = remote->set_flags(kUser, "INBOX", a_remote->info.uid, remote_flags); !st) {
    return st.error();
  }
  std::cout << "   local:  flags " << quote_subject(*a) << " \\Flagged\n"
            << "   remote: marks the same message unread (-\\Seen) and adds the keyword "
               "$Important  (a conflict: both changes must survive)\n";

  // A flag change on the other side alone.
  std::set<std::string> used{mid};
  auto b = nth(*remote, "INBOX", 1, "\\Answered", used);
  if (!b) return fail(Errc::Internal, Scope::Fatal, "demo: INBOX has one message");
  if (auto st = remote->set_flags(kUser, "INBOX", b->info.uid, with(b->info.flags, "\\Answered")); !st) {
    return st.error();
  }
  std::cout << "   remote: marks " << quote_subject(*b) << " answered\n";

  // An expunge.
  used.insert(header(b->body, "Message-ID"));
  auto c = nth(*remote, "INBOX", 2, "\\Deleted", used);
  if (!c) return fail(Errc::Internal, Scope::Fatal, "demo: INBOX has two messages");
  if (auto st = remote->expunge(kUser, "INBOX", {c->info.uid}); !st) return st.error();
  std::cout << "   remote: deletes " << quote_subject(*c) << " from INBOX\n";

  // A move, as a mail client does it without MOVE: copy to Archive, expunge from INBOX.
  used.insert(header(c->body, "Message-ID"));
  auto d = nth(*local, "INBOX", 3, "\\Deleted", used);
  if (!d) return fail(Errc::Internal, Scope::Fatal, "demo: INBOX has three messages");
  auto moved = local->append_message(kUser, "Archive", d->body, d->info.flags, d->info.internaldate);
  if (!moved) return moved.error();
  if (auto st = local->expunge(kUser, "INBOX", {d->info.uid}); !st) return st.error();
  std::cout << "   local:  moves " << quote_subject(*d) << " from INBOX to Archive\n";
  return mid;
}

struct Tally {
  std::size_t messages = 0, seen = 0, flagged = 0, answered = 0;
  std::multiset<std::pair<std::string, std::vector<std::string>>> content;  // body, flags
};

Result<Tally> tally(server::Server& srv, const std::string& mailbox) {
  Tally t;
  auto msgs = srv.messages(kUser, mailbox);
  if (!msgs) return msgs.error();
  for (const auto& m : *msgs) {
    auto body = srv.message_body(kUser, mailbox, m.uid);
    if (!body) return body.error();
    ++t.messages;
    t.seen += has_flag(m.flags, "\\Seen");
    t.flagged += has_flag(m.flags, "\\Flagged");
    t.answered += has_flag(m.flags, "\\Answered");
    t.content.insert({std::move(*body), comparable(m.flags)});
  }
  return t;
}

/// Prints the per-mailbox table; returns whether every mailbox is identical on both sides.
Result<bool> show_result(DemoServer& local, DemoServer& remote) {
  std::set<std::string> names;
  for (DemoServer* s : {&local, &remote}) {
    auto boxes = (*s)->mailboxes(kUser);
    if (!boxes) return boxes.error();
    for (const auto& b : *boxes) names.insert(b.name);
  }
  std::cout << "   " << std::left << std::setw(15) << "mailbox" << std::right << std::setw(22)
            << "local (msgs seen flag ans)" << std::setw(29) << "remote (msgs seen flag ans)"
            << "   identical\n";
  bool all = true;
  for (const auto& name : names) {
    auto l = tally(*local, name);
    if (!l) return l.error();
    auto r = tally(*remote, name);
    if (!r) return r.error();
    const bool same = l->content == r->content;
    all = all && same;
    auto cols = [](const Tally& t) {
      std::ostringstream s;
      s << std::setw(6) << t.messages << std::setw(6) << t.seen << std::setw(6) << t.flagged
        << std::setw(5) << t.answered;
      return s.str();
    };
    std::cout << "   " << std::left << std::setw(15) << name << std::right << std::setw(27)
              << cols(*l) << std::setw(29) << cols(*r) << "   " << (same ? "yes" : "NO") << '\n';
  }
  return all;
}

int demo_failed(const Error& e) {
  std::cerr << "twinbox demo: " << to_string(e.code) << ": " << e.message << '\n';
  return to_int(exit_code_for(e.code));
}

}  // namespace

int demo_command(const DemoArgs& args) {
  const auto started = std::chrono::steady_clock::now();
  TempDir tmp;
  {
    std::string tmpl = (std::filesystem::temp_directory_path() / "twinbox-demo-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      return demo_failed(fail(Errc::Io, Scope::Fatal, "cannot create a temporary directory"));
    }
    tmp.path = tmpl;
  }
  auto local = DemoServer::start("local-secret");
  if (!local) return demo_failed(local.error());
  auto remote = DemoServer::start("remote-secret");
  if (!remote) return demo_failed(remote.error());
  DemoServer& l = **local;
  DemoServer& r = **remote;

  std::cout << "twinbox demo: two embedded IMAP servers, kept identical both ways.\n\n"
            << "1. Two servers on 127.0.0.1 with different sample mail, and " << kShared
            << " messages that are already on both\n"
            << "   local:  127.0.0.1:" << l.port() << "   remote: 127.0.0.1:" << r.port() << '\n';
  if (auto st = seed(l, r, args.messages); !st) return demo_failed(st.error());
  const auto config_file = tmp.path / "demo.conf";
  if (auto st = write_config(config_file, tmp.path / "demo.db", l, r); !st) {
    return demo_failed(st.error());
  }
  std::cout << "   config: " << config_file.string() << " (state: demo.db next to it)\n\n";

  Reporter reporter(std::cout, std::cerr, Verbosity::Normal, false);
  std::cout << "2. First sync: the shared messages are paired by content, the rest is copied\n";
  auto first = sync_once(config_file.string(), args, reporter);
  if (!first) return demo_failed(first.error());

  std::cout << "\n3. Changes on both sides\n";
  auto conflict = change_both_sides(l, r);
  if (!conflict) return demo_failed(conflict.error());

  std::cout << "\n4. Second sync\n";
  auto second = sync_once(config_file.string(), args, reporter);
  if (!second) return demo_failed(second.error());

  std::cout << "\n5. Third sync: nothing changed since, so nothing to do\n";
  auto third = sync_once(config_file.string(), args, reporter);
  if (!third) return demo_failed(third.error());
  std::cout << "   (" << third->commands[Side::Local] << " IMAP command(s) on the local side, "
            << third->commands[Side::Remote] << " on the remote, after login)\n";

  std::cout << "\n6. Result\n";
  auto same = show_result(l, r);
  if (!same) return demo_failed(same.error());
  auto cl = find(*l, "INBOX", *conflict);
  auto cr = find(*r, "INBOX", *conflict);
  bool merged = cl && cr && comparable(cl->info.flags) == comparable(cr->info.flags) &&
                has_flag(cl->info.flags, "\\Flagged") && !has_flag(cl->info.flags, "\\Seen") &&
                has_flag(cl->info.flags, "$Important");
  std::cout << "   conflict: " << (cl ? quote_subject(*cl) : *conflict) << " is \\Flagged, unread and "
            << "$Important on both sides: " << (merged ? "yes" : "NO") << '\n';
  const bool ok = *same && merged && !first->partial() && !second->partial() &&
                  !third->partial() && !third->changed();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "\n" << (ok ? "Both sides are identical" : "The sides DIFFER (this is a bug)")
            << " (\\Deleted and \\Recent are not compared: they are not synced by default). "
            << std::fixed << std::setprecision(2) << secs << " s.\n"
            << "Next: `man twinbox`, `man twinbox.conf`, and `twinbox sync --help`.\n";
  return ok ? 0 : to_int(ExitCode::Internal);
}

}  // namespace twinbox::cli
