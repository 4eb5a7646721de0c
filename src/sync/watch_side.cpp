// The change detector of one side in watch mode (watch_impl.hpp, PROTOCOL.md §1.11).

#include <algorithm>

#include <twinbox/client/connect.hpp>
#include <twinbox/imap/flags.hpp>
#include <twinbox/imap/utf7.hpp>

#include "watch_impl.hpp"

namespace twinbox::sync::watch_detail {
namespace {

/// RFC 5465 §5: MessageNew and MessageExpunge go together, FlagChange only with both.
/// STATUS asks for an initial STATUS of every mailbox (§3.1) to start the cache from.
constexpr const char* kNotifyEvents =
    "STATUS (PERSONAL (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange))";

bool is_inbox(std::string_view name) { return imap::iequals(name, "INBOX"); }

int special_use_rank(std::string_view su) {
  if (su == "\\Sent") return 0;
  if (su == "\\Drafts") return 1;
  if (su == "\\Archive") return 2;
  if (su.empty()) return 3;
  return 4;  // \Junk, \Trash: watched last
}

template <class T>
Result<T> wait_for(client::Session& s, const client::Pending<T>& p, net::Deadline deadline) {
  return s.wait(p, deadline);
}

}  // namespace

bool merge_status(MailboxStatus& into, const imap::StatusData& s) {
  MailboxStatus before = into;
  if (s.uid_validity) into.uidvalidity = *s.uid_validity;
  if (s.uid_next) into.uidnext = *s.uid_next;
  if (s.highest_modseq) into.highestmodseq = *s.highest_modseq;
  if (s.messages) into.messages = *s.messages;
  return !(before == into);
}

std::string canonical_name(const std::string& wire, const Namespace& ns) {
  auto p = canonical_path(wire, ns);
  if (!p) return wire;
  std::string out;
  for (const auto& c : *p) {
    if (!out.empty()) out += '/';
    out += c;
  }
  return out;
}

bool policy_selects(const ListPolicy& policy, std::string_view canonical) {
  bool in = std::any_of(policy.include.begin(), policy.include.end(),
                        [&](const std::string& p) { return pattern_match(p, canonical); });
  if (!in) return false;
  return std::none_of(policy.exclude.begin(), policy.exclude.end(),
                      [&](const std::string& p) { return pattern_match(p, canonical); });
}

milliseconds Backoff::next(std::minstd_rand& rng) {
  milliseconds base = base_;
  base_ = std::min(max_, base_ * 2);
  auto half = base.count() / 2;
  std::uniform_int_distribution<long long> d(half, std::max<long long>(half, base.count()));
  return milliseconds(d(rng));
}

SideWatch::SideWatch(Side side, const WatchOptions& options, const LogFn& log)
    : side_(side), opt_(options), log_(log) {}

SideWatch::~SideWatch() = default;

void SideWatch::log(const std::string& line) const {
  if (log_) log_("watch: " + std::string(to_string(side_)) + ": " + line);
}

std::string SideWatch::describe_mode() const {
  if (notify_) return "NOTIFY";
  std::string m = "IDLE on";
  for (const auto& c : conns_) m += " " + (c.mailbox.empty() ? std::string("-") : c.mailbox);
  return m;
}

Result<std::unique_ptr<client::Session>> SideWatch::open_session() const {
  client::EndpointOptions ep = opt_.engine.endpoints[side_];
  ep.connect_timeout = std::min(ep.connect_timeout, opt_.connect_timeout);
  ep.command_timeout = std::min(ep.command_timeout, opt_.connect_timeout);
  return client::connect(ep);
}

void SideWatch::apply_list(const std::vector<client::ListEntry>& entries, SideEvents& ev) {
  std::map<std::string, MailboxStatus> fresh;
  for (const auto& e : entries) {
    MailboxStatus st;
    st.selectable = e.selectable();
    st.is_virtual = e.has_attribute("\\All") || e.has_attribute("\\Flagged");
    st.special_use = e.special_use;
    if (e.status) merge_status(st, *e.status);
    auto old = cache_.find(e.name);
    if (old == cache_.end() || !(old->second == st)) ev.changed.emplace_back(e.name, true);
    fresh.emplace(e.name, std::move(st));
  }
  for (const auto& [name, st] : cache_) {
    if (!fresh.count(name)) ev.list_changed = true;  // gone (deleted or renamed)
  }
  cache_ = std::move(fresh);
  ev.polled = true;
}

Status SideWatch::setup_control(WatchConn& c, SideEvents& ev, net::Deadline deadline) {
  client::Session& s = *c.session;
  std::optional<client::Pending<client::NamespaceInfo>> nsp;
  if (s.has("NAMESPACE")) nsp = s.namespaces();
  client::ListOptions lo;
  lo.with_status = true;
  auto lp = s.list(lo);
  auto entries = wait_for(s, lp, deadline);
  if (!entries) return entries.error().with_context("LIST");
  Namespace ns;
  for (const auto& e : *entries) {
    if (e.delimiter) {
      ns.delimiter = *e.delimiter;
      break;
    }
  }
  if (nsp) {
    auto n = wait_for(s, *nsp, deadline);
    if (n && !n->personal.empty()) {
      ns.prefix = n->personal.front().prefix;
      if (n->personal.front().delimiter) ns.delimiter = *n->personal.front().delimiter;
    }
  }
  ns_ = ns;
  apply_list(*entries, ev);
  notify_ = opt_.use_notify && notify_allowed_ && s.has("NOTIFY");
  if (notify_) {
    auto r = wait_for(s, s.notify(kNotifyEvents), deadline);
    if (!r) return r.error().with_context("NOTIFY");
    collect_changes(c, ev);  // the initial STATUS lines
    return {};
  }
  c.mailbox = "INBOX";
  client::SelectOptions so;
  so.read_only = true;  // EXAMINE: never touches \Recent or \Seen
  auto r = wait_for(s, s.select(c.mailbox, so), deadline);
  if (!r) return r.error().with_context("EXAMINE INBOX");
  (void)s.take_changes();
  return {};
}

std::vector<std::string> SideWatch::idle_targets() const {
  std::vector<std::pair<int, std::string>> cand;
  for (const auto& [name, st] : cache_) {
    if (!st.selectable || is_inbox(name)) continue;
    if (st.is_virtual && opt_.engine.list.exclude_virtual) continue;
    if (!policy_selects(opt_.engine.list, canonical_name(name, ns_))) continue;
    cand.emplace_back(special_use_rank(st.special_use), name);
  }
  std::sort(cand.begin(), cand.end());
  std::vector<std::string> out;
  for (const auto& c : cand) {
    if (out.size() >= opt_.idle_connections) break;
    out.push_back(c.second);
  }
  return out;
}

Status SideWatch::connect(SideEvents& ev) {
  conns_.clear();
  auto now = Clock::now();
  std::vector<WatchConn> conns;
  auto first = open_session();
  if (!first) return first.error();
  WatchConn ctl;
  ctl.session = std::move(*first);
  ctl.control = true;
  if (auto st = setup_control(ctl, ev, net::deadline_in(opt_.connect_timeout)); !st) {
    return st.error();
  }
  conns.push_back(std::move(ctl));
  if (!notify_) {
    for (const auto& name : idle_targets()) {
      auto s = open_session();
      if (!s) return s.error().with_context("IDLE connection for " + name);
      client::SelectOptions so;
      so.read_only = true;
      auto r = (*s)->wait((*s)->select(name, so), net::deadline_in(opt_.connect_timeout));
      if (!r) return r.error().with_context("EXAMINE " + name);
      (void)(*s)->take_changes();
      WatchConn c;
      c.session = std::move(*s);
      c.mailbox = name;
      conns.push_back(std::move(c));
    }
  }
  for (auto& c : conns) c.last_noop = now;
  last_poll_ = now;
  poll_requested_ = false;
  conns_ = std::move(conns);
  return {};
}

void SideWatch::disconnect(bool logout) {
  if (logout) {
    auto deadline = net::deadline_in(opt_.watchdog_timeout);
    for (auto& c : conns_) {
      if (c.session->broken()) continue;
      if (c.idle.valid() && !c.idle.ready()) c.session->idle_done();
      auto p = c.session->logout();
      (void)c.session->wait(p, deadline);
    }
  }
  conns_.clear();
}

void SideWatch::add_pollfds(std::vector<pollfd>& fds, bool& ready_now) const {
  for (const auto& c : conns_) {
    fds.push_back(pollfd{c.session->fd(), c.session->poll_events(), 0});
    if (c.session->ready_without_poll() || has_work(c)) ready_now = true;
  }
}

/// True when what process() last read (its final on_ready()) left an event or a completed
/// command that step() has not seen yet: the socket may have nothing more to wake poll(), so
/// the loop must not sleep (a NOTIFY STATUS line once waited here for the next NOOP).
bool SideWatch::has_work(const WatchConn& c) {
  auto done = [](const auto& p) { return p.valid() && p.ready(); };
  return c.session->has_changes() || done(c.idle) || done(c.noop) || done(c.list);
}

void SideWatch::collect_changes(WatchConn& c, SideEvents& ev) {
  if (!c.session->has_changes()) return;
  client::MailboxChanges ch = c.session->take_changes();
  for (const auto& s : ch.status_updates) {
    auto [it, inserted] = cache_.try_emplace(s.mailbox);
    if (merge_status(it->second, s) || inserted) ev.changed.emplace_back(s.mailbox, true);
  }
  if (!ch.list_updates.empty()) {
    ev.list_changed = true;
    // The decoded name for people (UTF-8), the wire name only when it is not valid mUTF-7.
    const std::string& wire = ch.list_updates.front().mailbox;
    auto decoded = imap::utf7_decode(wire);
    log("mailbox list changed (" + (decoded ? *decoded : wire) +
        (ch.list_updates.size() > 1 ? " and others" : "") + ")");
  }
  if (ch.notification_overflow) ev.overflow = true;
  if (!c.mailbox.empty() && (ch.exists_grew || !ch.expunged.empty() ||
                             ch.unmapped_expunges > 0 || !ch.fetches.empty())) {
    ev.changed.emplace_back(c.mailbox, false);
  }
}

Status SideWatch::step(WatchConn& c, Clock::time_point now, SideEvents& ev) {
  client::Session& s = *c.session;
  collect_changes(c, ev);
  // Completions.
  if ((c.state == ConnState::Idling || c.state == ConnState::Ending) && c.idle.ready()) {
    if (auto& r = c.idle.result(); !r) return r.error().with_context("IDLE");
    c.idle = {};
    c.state = ConnState::Ready;
  }
  if (c.state == ConnState::Busy) {
    if (c.noop.valid() && c.noop.ready()) {
      if (auto& r = c.noop.result(); !r) return r.error().with_context("NOOP");
      c.noop = {};
    }
    if (c.list.valid() && c.list.ready()) {
      auto& r = c.list.result();
      if (!r) return r.error().with_context("LIST-STATUS poll");
      apply_list(*r, ev);
      c.list = {};
      collect_changes(c, ev);
    }
    if (!c.noop.valid() && !c.list.valid()) c.state = ConnState::Ready;
  }
  // Liveness bounds (the watchdog).
  if (c.state == ConnState::Ending && now - c.ending_since > opt_.watchdog_timeout) {
    return fail(Errc::Timeout, Scope::Connection,
                "no answer to DONE (end of IDLE) within " +
                    std::to_string(opt_.watchdog_timeout.count()) + " ms");
  }
  if (c.noop.valid() && now - c.noop_sent > opt_.watchdog_timeout) {
    return fail(Errc::Timeout, Scope::Connection,
                "no answer to the watchdog NOOP within " +
                    std::to_string(opt_.watchdog_timeout.count()) + " ms");
  }
  if (c.list.valid() && now - c.list_sent > std::max(opt_.watchdog_timeout, opt_.engine.timeout)) {
    return fail(Errc::Timeout, Scope::Connection, "no answer to the LIST-STATUS poll");
  }
  // What is due.
  bool want_poll = c.control && (poll_requested_ || now - last_poll_ >= opt_.poll_interval);
  bool want_noop = now - c.last_noop >= opt_.watchdog;
  bool want_restart = c.state == ConnState::Idling && now - c.idle_since >= opt_.idle_restart;
  if (c.state == ConnState::Idling && (want_poll || want_noop || want_restart)) {
    s.idle_done();
    c.state = ConnState::Ending;
    c.ending_since = now;
    return {};
  }
  if (c.state != ConnState::Ready) return {};
  if (want_poll) {
    client::ListOptions lo;
    lo.with_status = true;
    c.list = s.list(lo);
    c.list_sent = now;
    last_poll_ = now;
    poll_requested_ = false;
    c.state = ConnState::Busy;
  }
  if (want_noop) {
    c.noop = s.noop();
    c.noop_sent = now;
    c.last_noop = now;
    c.state = ConnState::Busy;
  }
  if (c.state == ConnState::Ready && s.has("IDLE") && !(c.control && notify_)) {
    c.idle = s.idle();
    c.idle_since = now;
    c.state = ConnState::Idling;
  }
  return {};
}

Status SideWatch::process(const std::vector<pollfd>& fds, std::size_t first,
                          Clock::time_point now, SideEvents& ev) {
  for (std::size_t i = 0; i < conns_.size(); ++i) {
    WatchConn& c = conns_[i];
    bool ready = c.session->ready_without_poll() ||
                 (first + i < fds.size() && fds[first + i].revents != 0);
    std::string what = c.mailbox.empty() ? std::string("control connection")
                                         : "connection watching " + c.mailbox;
    if (ready) {
      if (auto st = c.session->on_ready(); !st) return st.error().with_context(what);
    }
    if (auto st = step(c, now, ev); !st) return st.error().with_context(what);
    // Commands queued by step() go out now (on_ready() moves the queue to the stream).
    if (auto st = c.session->on_ready(); !st) return st.error().with_context(what);
  }
  return {};
}

Clock::time_point SideWatch::next_timer() const {
  auto t = Clock::time_point::max();
  for (const auto& c : conns_) {
    t = std::min(t, c.last_noop + opt_.watchdog);
    if (c.control) t = std::min(t, poll_requested_ ? Clock::now() : last_poll_ + opt_.poll_interval);
    if (c.state == ConnState::Idling) t = std::min(t, c.idle_since + opt_.idle_restart);
    if (c.state == ConnState::Ending) t = std::min(t, c.ending_since + opt_.watchdog_timeout);
    if (c.noop.valid()) t = std::min(t, c.noop_sent + opt_.watchdog_timeout);
  }
  return t;
}

}  // namespace twinbox::sync::watch_detail
