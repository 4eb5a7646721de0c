// The copy pipeline of the executor (executor.hpp): one direction of one mailbox pair.
//
// Batches of messages move through FETCH -> APPEND with several batches in flight at once,
// bounded by the copy window: bytes of bodies being fetched, fetched, or handed to the target
// session and not yet written to the wire. A batch's APPEND goes out as soon as its FETCH has
// completed, while later batches are still being fetched: both servers stay busy. Bodies are
// handed over to the target session and freed as soon as they are on the wire; from then on
// the batch no longer counts against the window, even before its APPEND is answered (waiting
// for the answers stalled the pipeline once per window: issue 8).
//
// Crash safety (DESIGN.md, PROTOCOL.md §4.7): a batch's append intents are committed once its
// FETCH has completed and before any APPEND of it is sent; the pairs are recorded and the
// intents dropped in one transaction after the APPENDUID. On any error the batches in flight
// are drained first (no sink may die while a session still streams into it).
//
// A copy whose identity has no Message-ID or INTERNALDATE (the reader skipped them for a first
// sync into an empty side, or the message has no Message-ID) takes them from the FETCH of its
// body, so intents and pairs carry the identity a full read would have given.
#include <algorithm>
#include <deque>
#include <memory>
#include <unordered_map>

#include <twinbox/base/crash_point.hpp>
#include <twinbox/imap/datetime.hpp>
#include <twinbox/sync/events.hpp>
#include <twinbox/sync/executor.hpp>
#include <twinbox/sync/reader.hpp>

#include "executor_util.hpp"

namespace twinbox::sync {
namespace {

using detail::to_flagset;
using detail::to_state;
using detail::uid_set;

/// Bytes of bodies buffered by all batches of one pipeline, counted by the sizes of the
/// literals the server actually sends (not by what it announced in RFC822.SIZE).
struct BodyBudget {
  std::uint64_t held = 0;
  std::uint64_t max_message = 0;  ///< one body above this is refused
  std::uint64_t hard_cap = 0;     ///< copy window + max_message: never buffered beyond this
};

/// Buffers the fetched bodies of every batch of one pipeline, by UID, until they are handed
/// to an APPEND. One sink for all batches: with several streaming FETCHes in flight the
/// session gives body bytes to the oldest running FETCH's sink, and Dovecot interleaves
/// pipelined FETCHes (the responses of the next one arrive before the tagged OK of the
/// previous one), so per-batch sinks would get each other's bytes.
/// A body over the per-message limit, or one that would take the buffered bytes past the hard
/// cap (a server sending far more than it announced), is read and dropped (a literal cannot
/// be refused midway) and its UID reported as refused: memory stays bounded whatever the
/// server sends.
class BodySink : public client::MessageSink {
 public:
  struct Body {
    std::shared_ptr<std::string> data;
    std::optional<std::string> internal_date;
  };
  explicit BodySink(BodyBudget& budget) : budget_(budget) {}

  Status begin(SeqNum seq, std::uint64_t size) override {
    cur_seq_ = seq.value;
    cur_ = nullptr;
    if (size > budget_.max_message || budget_.held + size > budget_.hard_cap) {
      too_big_[cur_seq_] = size;
      return {};
    }
    too_big_.erase(cur_seq_);
    auto& b = partial_[cur_seq_];
    if (!b) b = std::make_shared<std::string>();
    b->clear();
    b->reserve(static_cast<std::size_t>(size));
    budget_.held += size;
    cur_ = b.get();
    return {};
  }
  Status data(std::string_view chunk) override {
    if (cur_) cur_->append(chunk);
    return {};
  }
  Status end(const imap::FetchData& meta) override {
    cur_ = nullptr;
    std::uint32_t seq = meta.seq.value;
    if (auto t = too_big_.find(seq); t != too_big_.end()) {
      if (meta.uid) refused_[meta.uid->value] = t->second;
      too_big_.erase(t);
      partial_.erase(seq);
      return {};
    }
    auto it = partial_.find(seq);
    if (!meta.uid || it == partial_.end()) return {};
    bodies_[meta.uid->value] = Body{std::move(it->second), meta.internal_date};
    partial_.erase(it);
    return {};
  }
  /// Takes the body of `uid` out of the sink (its bytes no longer count as buffered here).
  std::optional<Body> take(Uid uid) {
    auto it = bodies_.find(uid.value);
    if (it == bodies_.end()) return std::nullopt;
    Body b = std::move(it->second);
    bodies_.erase(it);
    budget_.held -= std::min<std::uint64_t>(budget_.held, b.data->size());
    return b;
  }
  /// The size of the body literal of `uid` that was refused, if it was.
  [[nodiscard]] std::optional<std::uint64_t> refused(Uid uid) const {
    auto it = refused_.find(uid.value);
    if (it == refused_.end()) return std::nullopt;
    return it->second;
  }

 private:
  BodyBudget& budget_;
  std::uint32_t cur_seq_ = 0;
  std::string* cur_ = nullptr;
  std::unordered_map<std::uint32_t, std::shared_ptr<std::string>> partial_;
  std::unordered_map<std::uint32_t, std::uint64_t> too_big_;
  std::unordered_map<std::uint32_t, Body> bodies_;
  std::unordered_map<std::uint32_t, std::uint64_t> refused_;
};

constexpr std::size_t kMaxBatchMessages = 1000;
/// Batches in flight at most, answered or not: a batch that left the window still holds its
/// messages' identities until its APPEND is answered, and a slow target would otherwise let
/// them pile up (a 24,500-message mailbox held them all: +7.5 MiB at N=100,000).
constexpr std::size_t kMaxBatchesInFlight = 4;

/// The header block of a message (up to the first empty line), where Message-ID is looked for.
std::string_view header_of(std::string_view message) {
  std::size_t end = message.find("\r\n\r\n");
  if (end == std::string_view::npos) end = message.find("\n\n");
  return end == std::string_view::npos ? message : message.substr(0, end + 2);
}

struct Batch {
  std::vector<const Copy*> copies;
  std::uint64_t bytes = 0;  ///< announced sizes (RFC822.SIZE)
  client::Pending<client::FetchResult> fetch;
  bool appending = false;
  std::vector<client::Pending<client::AppendResult>> appends;
  std::vector<const Copy*> sent;
  std::vector<MessageIdentity> sent_identity;  ///< of `sent`, Message-ID completed
  std::vector<std::int64_t> sent_intents;
  /// The bodies handed to the target session: all expired = all written to the wire.
  std::vector<std::weak_ptr<const std::string>> bodies;
  bool released = false;  ///< `bytes` no longer counted in the window

  [[nodiscard]] bool fetched() const { return !appending && fetch.ready(); }
  [[nodiscard]] bool appended() const {
    return appending && std::all_of(appends.begin(), appends.end(), [](const auto& a) { return a.ready(); });
  }
  [[nodiscard]] bool idle() const { return appending ? appended() : fetch.ready(); }
  /// Every body of an APPEND sent is on the wire (or the batch sent none).
  [[nodiscard]] bool written() const {
    return appending && std::all_of(bodies.begin(), bodies.end(), [](const auto& w) { return w.expired(); });
  }
};

class CopyPipeline {
 public:
  using WaitFn = std::function<Status(const std::function<bool()>&)>;
  CopyPipeline(const MailboxWork& work, Side from, const std::vector<const Copy*>& copies,
               PerSide<client::Session*> sessions, state::StateStore& store,
               const EngineOptions& options, WaitFn wait)
      : work_(work), from_(from), to_(other(from)), copies_(copies), src_(*sessions[from]),
        dst_(*sessions[other(from)]), store_(store), observer_(options.observer),
        wait_(std::move(wait)) {
    window_ = std::max<std::uint64_t>(options.copy_window, 64u << 10);
    // Half the window: one batch is fetched while the other is appended. Every FETCH and
    // APPEND costs a server 1-2 ms beyond its bytes (Dovecot, measured in issue 8), so a
    // quarter-window batch made twice the commands for no more overlap.
    batch_bytes_ = std::max<std::uint64_t>(window_ / 2, 32u << 10);
    budget_.max_message = options.endpoints[from].session.max_literal;
    budget_.hard_cap = window_ + budget_.max_message;
  }

  Status run(PerSide<Counts>& counts);

 private:
  Status start_batch();
  void release(Batch& b) {
    in_window_ -= std::min(in_window_, b.bytes);
    b.released = true;
  }
  Status record_intents(Batch& b);
  Status send_append(Batch& b);
  Status finish(Batch& b, PerSide<Counts>& counts);
  Status drain(PerSide<Counts>& counts);
  Status refused_error() const;
  [[nodiscard]] std::string side_text(Side s) const { return std::string(to_string(s)); }

  const MailboxWork& work_;
  Side from_, to_;
  const std::vector<const Copy*>& copies_;
  client::Session& src_;
  client::Session& dst_;
  state::StateStore& store_;
  SyncObserver* observer_;  ///< progress events (events.hpp), or none
  WaitFn wait_;
  std::uint64_t window_ = 0, batch_bytes_ = 0, in_window_ = 0;
  BodyBudget budget_;
  BodySink sink_{budget_};
  std::size_t next_ = 0;
  std::deque<Batch> flight_;
  std::vector<std::pair<Uid, std::uint64_t>> refused_;
};

Status CopyPipeline::run(PerSide<Counts>& counts) {
  Status ok;  // the first error, if any
  while (ok && (next_ < copies_.size() || !flight_.empty())) {
    // Keep the window full (at least one batch in flight); stop starting after a refusal. A
    // batch starts only when a whole one fits: starting on any free byte sent FETCH/APPEND
    // pairs of one or two messages whenever the window was nearly full, and each command
    // costs the servers more than its bytes (issue 8).
    while (ok && next_ < copies_.size() && refused_.empty() &&
           (flight_.empty() || (flight_.size() < kMaxBatchesInFlight &&
                                in_window_ + std::max(batch_bytes_, copies_[next_]->identity.size) <= window_))) {
      ok = start_batch();
    }
    if (!ok) break;
    ok = wait_([this] {
      return std::any_of(flight_.begin(), flight_.end(), [](const Batch& b) {
        return b.fetched() || b.appended() || (!b.released && b.written());
      });
    });
    if (!ok) break;
    for (auto& b : flight_) {
      if (ok && b.fetched()) ok = send_append(b);
      if (!b.released && b.written()) release(b);
    }
    for (auto it = flight_.begin(); ok && it != flight_.end();) {
      if (!it->appended()) {
        ++it;
        continue;
      }
      ok = finish(*it, counts);
      it = flight_.erase(it);
    }
  }
  if (!ok) {
    (void)drain(counts);
    return ok;
  }
  return refused_error();
}

Status CopyPipeline::start_batch() {
  Batch b;
  while (next_ < copies_.size()) {
    const Copy& c = *copies_[next_];
    bool fits = b.bytes + c.identity.size <= batch_bytes_ &&
                in_window_ + b.bytes + c.identity.size <= window_;
    if (!b.copies.empty() && (!fits || b.copies.size() >= kMaxBatchMessages)) break;
    b.copies.push_back(&c);
    b.bytes += c.identity.size;
    ++next_;
  }
  std::vector<Uid> uids;
  for (const Copy* c : b.copies) uids.push_back(c->uid);
  client::FetchItems items;
  items.flags = false;
  items.internal_date = true;
  items.body = true;
  b.fetch = src_.uid_fetch_stream(uid_set(uids), items, sink_);
  in_window_ += b.bytes;
  flight_.push_back(std::move(b));
  return {};
}

/// The intents of the messages about to be appended, in one transaction before any APPEND.
Status CopyPipeline::record_intents(Batch& b) {
  const MailboxSnapshot& target = work_.delta[to_].snapshot;
  auto txn = store_.begin();
  if (!txn) return txn.error();
  for (std::size_t i = 0; i < b.sent.size(); ++i) {
    state::AppendIntent in;
    in.mailbox = work_.id;
    in.source_side = from_;
    in.source_uid = b.sent[i]->uid;
    in.target_uidvalidity = target.uidvalidity;
    in.target_uidnext = target.uidnext;
    in.flags = format_flags(b.sent[i]->flags);
    in.identity = to_state(b.sent_identity[i]);
    auto id = store_.record_intent(in);
    if (!id) return id.error();
    b.sent_intents.push_back(*id);
  }
  return txn->commit();
}

Status CopyPipeline::send_append(Batch& b) {
  b.appending = true;
  auto fetched = std::move(b.fetch.result());
  if (!fetched) {
    return fetched.error().with_context("fetching messages from the " + side_text(from_) + " side");
  }
  // Messages that vanished on the source meanwhile are not copied (next run sees them go);
  // refused ones (too big) stay where they are and stop the mailbox.
  std::vector<client::AppendMessage> msgs;
  for (const Copy* c : b.copies) {
    auto body = sink_.take(c->uid);
    if (!body) {
      if (auto size = sink_.refused(c->uid)) refused_.emplace_back(c->uid, *size);
      continue;
    }
    MessageIdentity id = c->identity;
    if (id.message_id.empty()) id.message_id = message_id_from_header(header_of(*body->data));
    if (id.internaldate == 0 && body->internal_date) {
      if (auto dt = imap::parse_date_time(*body->internal_date)) id.internaldate = dt->unix_seconds;
    }
    client::AppendMessage m;
    m.flags = to_flagset(c->flags);
    m.internal_date = std::move(body->internal_date);
    b.bodies.emplace_back(body->data);
    m.owned = std::move(body->data);
    msgs.push_back(std::move(m));
    b.sent.push_back(c);
    b.sent_identity.push_back(std::move(id));
  }
  if (msgs.empty()) return {};
  if (auto st = record_intents(b); !st) {
    b.sent.clear();  // nothing was appended
    b.sent_identity.clear();
    b.sent_intents.clear();
    return st;
  }
  if (dst_.has("MULTIAPPEND") && msgs.size() > 1) {
    crash_point("IMAP MULTIAPPEND");
    b.appends.push_back(dst_.append(work_.name[to_], std::move(msgs)));
  } else {
    for (auto& m : msgs) {
      crash_point("IMAP APPEND");
      b.appends.push_back(dst_.append(work_.name[to_], {std::move(m)}));
    }
  }
  return {};
}

Status CopyPipeline::finish(Batch& b, PerSide<Counts>& counts) {
  if (!b.released) release(b);
  std::vector<Uid> new_uids;
  UidValidity new_uv;
  Status ok;  // the first APPEND error, if any
  for (auto& a : b.appends) {
    auto& r = a.result();
    if (!r) {
      if (ok) ok = r.error().with_context("APPEND to " + work_.name[to_] + " on the " + side_text(to_) + " side");
      continue;
    }
    new_uv = r->uidvalidity;
    for (Uid u : r->uids) new_uids.push_back(u);
  }
  auto txn = store_.begin();
  if (!txn) return txn.error();
  // Without APPENDUID (or with a UIDVALIDITY that does not match the snapshot), or when an
  // APPEND failed, the intents stay: the next pass locates the messages by content before
  // anything is copied again.
  if (ok && new_uids.size() == b.sent.size() && new_uv == work_.delta[to_].snapshot.uidvalidity) {
    std::vector<state::MessagePair> pairs;
    for (std::size_t i = 0; i < b.sent.size(); ++i) {
      state::MessagePair p;
      p.uid[from_] = b.sent[i]->uid;
      p.uid[to_] = new_uids[i];
      p.base_flags = format_flags(b.sent[i]->flags);
      p.identity = to_state(b.sent_identity[i]);
      pairs.push_back(std::move(p));
    }
    if (auto st = store_.upsert_pairs(work_.id, pairs); !st) return st;
    for (auto id : b.sent_intents) {
      if (auto st = store_.drop_intent(id); !st) return st;
    }
  }
  if (auto st = txn->commit(); !st) return st;
  if (!ok) return ok;
  counts[to_].copied += b.sent.size();
  for (const Copy* c : b.sent) counts[to_].bytes += c->identity.size;
  for (std::size_t i = 0; observer_ && i < b.sent.size(); ++i) {
    Uid uid = new_uids.size() == b.sent.size() ? new_uids[i] : Uid();
    observer_->message_copied(work_.display, to_, b.sent[i]->uid, uid, b.sent[i]->identity.size);
  }
  return {};
}

/// After an error: lets every batch in flight end (a broken connection fails them at once),
/// APPENDs already sent included, and records those that succeeded.
Status CopyPipeline::drain(PerSide<Counts>& counts) {
  for (auto& b : flight_) b.appending = true;  // batches not yet appending never will
  Status st = wait_([this] {
    return std::all_of(flight_.begin(), flight_.end(), [](const Batch& b) {
      return b.fetch.ready() && std::all_of(b.appends.begin(), b.appends.end(),
                                            [](const auto& a) { return a.ready(); });
    });
  });
  if (!st) return st;
  for (auto& b : flight_) (void)finish(b, counts);
  flight_.clear();
  return {};
}

Status CopyPipeline::refused_error() const {
  if (refused_.empty()) return {};
  const auto& [uid, size] = refused_.front();
  std::string more = refused_.size() > 1 ? " (and " + std::to_string(refused_.size() - 1) + " more)" : "";
  return fail(Errc::Limit, Scope::Mailbox,
              "message UID " + std::to_string(uid.value) + more + " on the " + side_text(from_) +
                  " side was not copied: the server sent a body of " + std::to_string(size) +
                  " bytes, above the limit of " + std::to_string(budget_.max_message) +
                  " bytes per message (or more than it announced); it stays on the " +
                  side_text(from_) + " side and this mailbox stops here. Raise the limit if "
                  "the message is genuine");
}

}  // namespace

Status Executor::copy_direction(const MailboxWork& work, Side from, const std::vector<const Copy*>& copies,
                                PerSide<Counts>& counts) {
  CopyPipeline pipe(work, from, copies, sessions_, store_, options_,
                    [this](const std::function<bool()>& done) { return wait_all(done); });
  return pipe.run(counts);
}

}  // namespace twinbox::sync
