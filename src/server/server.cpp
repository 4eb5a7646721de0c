// Server: listeners, the poll() loop over all sessions, the wake-up pipe, and the
// thread-safe direct store API.

#include <twinbox/server/server.hpp>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <fstream>
#include <mutex>
#include <optional>

#include <twinbox/net/tcp.hpp>

#include "core.hpp"
#include "session.hpp"

namespace twinbox::server {
namespace {

/// A pre-authenticated session's transport: reads a (non-blocking) input fd and writes a
/// blocking output fd, e.g. stdin/stdout of `twinbox serve --stdio`.
class StdioStream : public net::Stream {
 public:
  StdioStream(int in, int out) : in_(in), out_(out) {
    int fl = ::fcntl(in_, F_GETFL);
    if (fl >= 0) ::fcntl(in_, F_SETFL, fl | O_NONBLOCK);
  }
  Result<std::size_t> read_some(char* buf, std::size_t len) override {
    if (closed_) return fail(Errc::Closed, Scope::Connection, "stdio closed");
    ssize_t n = ::read(in_, buf, len);
    if (n > 0) return static_cast<std::size_t>(n);
    if (n == 0) return fail(Errc::Closed, Scope::Connection, "end of input");
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return std::size_t{0};
    return fail(Errc::Io, Scope::Connection, "read from stdin failed");
  }
  Result<std::size_t> write_some(const char* buf, std::size_t len) override {
    if (closed_) return fail(Errc::Closed, Scope::Connection, "stdio closed");
    ssize_t n = ::write(out_, buf, len);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EAGAIN || errno == EINTR) return std::size_t{0};
    return fail(Errc::Io, Scope::Connection, "write to stdout failed");
  }
  Result<bool> flush() override { return true; }
  [[nodiscard]] bool buffered_input() const override { return false; }
  [[nodiscard]] int fd() const override { return in_; }
  [[nodiscard]] short poll_events() const override { return POLLIN; }
  void close() override { closed_ = true; }
  [[nodiscard]] std::string describe() const override { return "stdio"; }

 private:
  int in_;
  int out_;
  bool closed_ = false;
};

Status load_users_file(const std::string& path, Options& opt) {
  std::ifstream in(path);
  if (!in) {
    return fail(Errc::Config, Scope::Fatal, "cannot read the users file '" + path + "' (check the path)");
  }
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0) {
      return fail(Errc::Config, Scope::Fatal,
                  "users file '" + path + "' line " + std::to_string(lineno) +
                      ": expected name:password");
    }
    opt.users.push_back(User{line.substr(0, colon), line.substr(colon + 1)});
  }
  return {};
}

}  // namespace

class ServerImpl {
 public:
  std::unique_ptr<ServerCore> core;
  mutable std::mutex mu;
  std::optional<net::TcpListener> listener;
  std::optional<net::TcpListener> tls_listener;
  std::vector<std::unique_ptr<Session>> sessions;
  int wake_rd = -1;
  int wake_wr = -1;
  std::atomic<bool> stop_requested{false};
  std::uint64_t next_id = 1;
  std::uint64_t last_generation = 0;

  ~ServerImpl() {
    if (wake_rd >= 0) ::close(wake_rd);
    if (wake_wr >= 0) ::close(wake_wr);
  }

  void wake() const {
    if (wake_wr >= 0) {
      char b = 1;
      ssize_t r = ::write(wake_wr, &b, 1);
      (void)r;
    }
  }

  void add_session(net::StreamPtr stream, const std::string& preauth, bool tls = false) {
    auto s = std::make_unique<Session>(*core, std::move(stream), next_id++);
    if (tls) s->set_tls_active();
    if (sessions.size() >= core->options().limits.max_connections) {
      s->reject("Too many connections; try again later.");
    } else {
      s->start(preauth);
    }
    sessions.push_back(std::move(s));
  }

  Status round(int timeout_ms) {
    std::vector<pollfd> fds;
    std::vector<Session*> owners;
    bool any_buffered = false;
    auto now = Clock::now();
    {
      std::lock_guard lock(mu);
      fds.push_back(pollfd{wake_rd, POLLIN, 0});
      owners.push_back(nullptr);
      fds.push_back(pollfd{listener ? listener->fd() : -1, POLLIN, 0});
      owners.push_back(nullptr);
      fds.push_back(pollfd{tls_listener ? tls_listener->fd() : -1, POLLIN, 0});
      owners.push_back(nullptr);
      for (auto& s : sessions) {
        if (s->closed()) continue;
        short ev = s->wanted_events();
        if ((ev & POLLIN) && s->has_buffered_input()) any_buffered = true;
        auto deadline = s->next_deadline();
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
        if (left < 0) left = 0;
        if (timeout_ms < 0 || left < timeout_ms) timeout_ms = static_cast<int>(left) + 1;
        if (ev == 0) continue;
        if (ev & POLLIN) ev = static_cast<short>(ev | s->stream().poll_events());
        fds.push_back(pollfd{s->stream().fd(), ev, 0});
        owners.push_back(s.get());
      }
    }
    if (any_buffered) timeout_ms = 0;
    int n = ::poll(fds.data(), fds.size(), timeout_ms);
    if (n < 0 && errno != EINTR) return fail(Errc::Io, Scope::Fatal, "poll() failed in the server loop");

    std::lock_guard lock(mu);
    if (fds[0].revents & POLLIN) {
      char buf[64];
      while (::read(wake_rd, buf, sizeof buf) > 0) {
      }
    }
    if (listener && (fds[1].revents & POLLIN)) {
      for (int i = 0; i < 64; ++i) {
        auto conn = listener->accept();
        if (!conn || !*conn) break;
        add_session(std::move(*conn), {});
      }
    }
    if (tls_listener && core->tls() && (fds[2].revents & POLLIN)) {
      for (int i = 0; i < 64; ++i) {
        auto conn = tls_listener->accept();
        if (!conn || !*conn) break;
        auto tls = core->tls()->wrap(std::move(*conn));
        if (!tls) continue;
        add_session(std::move(*tls), {}, true);
      }
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      Session* s = owners[i];
      if (!s || s->closed()) continue;
      if (fds[i].revents != 0 || s->has_buffered_input()) s->on_ready();
    }
    now = Clock::now();
    for (auto& s : sessions) {
      if (!s->closed() && s->next_deadline() <= now) s->on_tick(now);
    }
    notify_changes();
    sessions.erase(std::remove_if(sessions.begin(), sessions.end(),
                                  [](const auto& s) { return s->closed(); }),
                   sessions.end());
    return {};
  }

  /// Wakes IDLE/NOTIFY sessions when the store changed (call with the lock held).
  void notify_changes() {
    auto gen = core->store().generation();
    if (gen == last_generation) return;
    last_generation = gen;
    for (auto& s : sessions) s->on_store_changed();
  }
};

Server::Server(std::unique_ptr<ServerImpl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::create(const Options& options) {
  if (auto st = ServerCore::check_disabled(options.disabled); !st) return st.error();
  Options opt = options;
  if (!opt.users_file.empty()) {
    if (auto st = load_users_file(opt.users_file, opt); !st) return st.error();
  }
  auto storage = Storage::open(opt.db_path, opt.durable);
  if (!storage) return storage.error();
  auto impl = std::make_unique<ServerImpl>();
  impl->core = std::make_unique<ServerCore>(opt, std::move(*storage));
  for (const auto& u : opt.users) {
    if (auto st = impl->core->ensure_user_mailboxes(u.name); !st) return st.error();
  }
  if (opt.test.enabled) {
    for (const auto& [name, uv] : opt.test.uidvalidity) {
      for (const auto& u : opt.users) {
        auto& store = impl->core->store();
        auto mb = store.find_mailbox(u.name, name);
        if (!mb) return mb.error();
        std::int64_t id = 0;
        if (*mb) {
          id = (*mb)->id;
        } else {
          auto c = store.create_mailbox(u.name, name);
          if (!c) return c.error();
          id = c->id;
        }
        if (auto st = store.reset_uidvalidity(id, UidValidity(uv)); !st) return st.error();
      }
    }
  }
  if (!opt.tls_cert.empty() || !opt.tls_key.empty()) {
    auto ctx = net::TlsServerContext::load(opt.tls_cert, opt.tls_key);
    if (!ctx) return ctx.error();
    impl->core->set_tls(std::move(*ctx));
  }
  int p[2];
  if (::pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) {
    return fail(Errc::Io, Scope::Fatal, "cannot create the server's wake-up pipe");
  }
  impl->wake_rd = p[0];
  impl->wake_wr = p[1];
  impl->last_generation = impl->core->store().generation();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Result<std::uint16_t> Server::start() {
  std::lock_guard lock(impl_->mu);
  const auto& opt = impl_->core->options();
  if (opt.tls_listen && impl_->core->tls()) {
    auto l = net::listen_tcp(opt.listen_host, opt.tls_port);
    if (!l) return l.error();
    impl_->tls_listener.emplace(std::move(*l));
  }
  if (!opt.listen) return std::uint16_t{0};
  auto l = net::listen_tcp(opt.listen_host, opt.port);
  if (!l) return l.error();
  impl_->listener.emplace(std::move(*l));
  return impl_->listener->port();
}

std::uint16_t Server::tls_port() const {
  std::lock_guard lock(impl_->mu);
  return impl_->tls_listener ? impl_->tls_listener->port() : 0;
}

Status Server::run_once(int timeout_ms) { return impl_->round(timeout_ms); }

Status Server::run(const std::atomic<bool>* stop_flag) {
  while (!impl_->stop_requested.load() && !(stop_flag && stop_flag->load())) {
    if (auto st = impl_->round(1000); !st) return st;
  }
  impl_->stop_requested = false;
  return {};
}

void Server::stop() {
  impl_->stop_requested = true;
  impl_->wake();
}

void Server::wake() { impl_->wake(); }

std::size_t Server::connection_count() const {
  std::lock_guard lock(impl_->mu);
  return impl_->sessions.size();
}

std::chrono::milliseconds Server::auth_locked_for(std::string_view address) const {
  std::lock_guard lock(impl_->mu);
  return impl_->core->auth_throttle().locked_for(address, Clock::now());
}

Status Server::serve_stdio(std::string_view user, int in_fd, int out_fd) {
  Session* session = nullptr;
  {
    std::lock_guard lock(impl_->mu);
    if (auto st = impl_->core->ensure_user_mailboxes(user); !st) return st;
    impl_->add_session(std::make_unique<StdioStream>(in_fd, out_fd), std::string(user));
    session = impl_->sessions.back().get();
  }
  for (;;) {
    {
      std::lock_guard lock(impl_->mu);
      bool alive = std::any_of(impl_->sessions.begin(), impl_->sessions.end(),
                               [&](const auto& s) { return s.get() == session; });
      if (!alive) return {};
    }
    if (auto st = impl_->round(1000); !st) return st;
  }
}

// --- direct store API ------------------------------------------------------------------------

Result<MailboxInfo> Server::create_mailbox(std::string_view user, std::string_view name,
                                           const std::vector<std::string>& special_use) {
  std::lock_guard lock(impl_->mu);
  auto r = impl_->core->store().create_mailbox(user, Session::normalize_mailbox(name), special_use);
  impl_->wake();
  return r;
}

Result<std::vector<MailboxInfo>> Server::mailboxes(std::string_view user) {
  std::lock_guard lock(impl_->mu);
  return impl_->core->store().mailboxes(user);
}

Result<MailboxInfo> Server::mailbox(std::string_view user, std::string_view name) {
  std::lock_guard lock(impl_->mu);
  auto mb = impl_->core->store().find_mailbox(user, Session::normalize_mailbox(name));
  if (!mb) return mb.error();
  if (!*mb) return fail(Errc::NotFound, Scope::Mailbox, "no mailbox '" + std::string(name) + "'");
  return **mb;
}

Result<Uid> Server::append_message(std::string_view user, std::string_view mailbox,
                                   std::string_view body, const std::vector<std::string>& flags,
                                   std::int64_t internaldate) {
  std::lock_guard lock(impl_->mu);
  auto& store = impl_->core->store();
  auto mb = store.find_mailbox(user, Session::normalize_mailbox(mailbox));
  if (!mb) return mb.error();
  if (!*mb) return fail(Errc::NotFound, Scope::Mailbox, "no mailbox '" + std::string(mailbox) + "'");
  if (internaldate == 0) internaldate = static_cast<std::int64_t>(std::time(nullptr));
  auto r = store.append((*mb)->id, body, canonical_flags(flags), internaldate, 0);
  impl_->wake();
  return r;
}

Result<std::vector<MessageInfo>> Server::messages(std::string_view user, std::string_view mailbox) {
  std::lock_guard lock(impl_->mu);
  auto& store = impl_->core->store();
  auto mb = store.find_mailbox(user, Session::normalize_mailbox(mailbox));
  if (!mb) return mb.error();
  if (!*mb) return fail(Errc::NotFound, Scope::Mailbox, "no mailbox '" + std::string(mailbox) + "'");
  return store.messages((*mb)->id);
}

Result<std::string> Server::message_body(std::string_view user, std::string_view mailbox, Uid uid) {
  std::lock_guard lock(impl_->mu);
  auto& store = impl_->core->store();
  auto mb = store.find_mailbox(user, Session::normalize_mailbox(mailbox));
  if (!mb) return mb.error();
  if (!*mb) return fail(Errc::NotFound, Scope::Mailbox, "no mailbox '" + std::string(mailbox) + "'");
  auto m = store.message((*mb)->id, uid);
  if (!m) return m.error();
  if (!*m) return fail(Errc::NotFound, Scope::Message, "no message with UID " + std::to_string(uid.value));
  return store.body((*m)->body_id);
}

Status Server::set_flags(std::string_view user, std::string_view mailbox, Uid uid,
                         const std::vector<std::string>& flags) {
  std::lock_guard lock(impl_->mu);
  auto& store = impl_->core->store();
  auto mb = store.find_mailbox(user, Session::normalize_mailbox(mailbox));
  if (!mb) return mb.error();
  if (!*mb) return fail(Errc::NotFound, Scope::Mailbox, "no mailbox '" + std::string(mailbox) + "'");
  Storage::Txn txn(store);
  auto ms = store.bump_modseq((*mb)->id);
  if (!ms) return ms.error();
  if (auto st = store.set_flags((*mb)->id, uid, canonical_flags(flags), *ms); !st) return st;
  auto st = txn.commit();
  impl_->wake();
  return st;
}

Status Server::expunge(std::string_view user, std::string_view mailbox, const std::vector<Uid>& uids) {
  std::lock_guard lock(impl_->mu);
  auto& store = impl_->core->store();
  auto mb = store.find_mailbox(user, Session::normalize_mailbox(mailbox));
  if (!mb) return mb.error();
  if (!*mb) return fail(Errc::NotFound, Scope::Mailbox, "no mailbox '" + std::string(mailbox) + "'");
  auto st = store.expunge((*mb)->id, uids);
  impl_->wake();
  return st;
}

Status Server::reset_uidvalidity(std::string_view user, std::string_view mailbox, UidValidity v) {
  std::lock_guard lock(impl_->mu);
  auto& store = impl_->core->store();
  auto mb = store.find_mailbox(user, Session::normalize_mailbox(mailbox));
  if (!mb) return mb.error();
  if (!*mb) return fail(Errc::NotFound, Scope::Mailbox, "no mailbox '" + std::string(mailbox) + "'");
  auto st = store.reset_uidvalidity((*mb)->id, v);
  impl_->wake();
  return st;
}

}  // namespace twinbox::server
