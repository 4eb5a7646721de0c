// APPEND (RFC 3501 §6.3.11) with MULTIAPPEND (RFC 3502: all messages or none) and
// APPENDUID (RFC 4315 §3); COPY, MOVE and their UID forms (RFC 3501 §6.4.7, RFC 6851,
// COPYUID RFC 4315 §3).

#include <ctime>

#include <twinbox/imap/seqset.hpp>

#include "message.hpp"
#include "session.hpp"

namespace twinbox::server {
namespace {

struct AppendItem {
  std::vector<std::string> flags;
  std::int64_t date = 0;
  int zone = 0;
  std::string body;
};

/// flag-list "(" [flag *(SP flag)] ")"; only the five system flags may start with "\".
std::string parse_flag_list(Cursor& c, std::vector<std::string>& flags, bool allow_recent = false) {
  if (!c.eat('(')) return "expected a flag list";
  while (!c.eat(')')) {
    if (!flags.empty() && !c.sp()) return "invalid flag list: " + c.error();
    auto f = c.flag();
    if (!f) return "invalid flag list: " + c.error();
    if ((*f)[0] == '\\') {
      static constexpr std::string_view kSys[] = {"\\Seen", "\\Answered", "\\Flagged", "\\Deleted",
                                                  "\\Draft", "\\Recent"};
      bool ok = false;
      for (auto s : kSys) ok = ok || iequals(s, *f);
      if (!ok || (iequals(*f, "\\Recent") && !allow_recent)) return "invalid system flag " + *f;
    }
    flags.push_back(*f);
  }
  return {};
}

}  // namespace

std::string parse_store_flag_list(Cursor& c, std::vector<std::string>& flags) {
  return parse_flag_list(c, flags);
}

void Session::cmd_append(std::string_view tag, Cursor& c) {
  if (!c.sp()) return tagged(tag, "BAD", "APPEND needs a mailbox and a message");
  auto raw = c.astring();
  if (!raw) return tagged(tag, "BAD", "APPEND needs a mailbox: " + c.error());
  std::vector<AppendItem> items;
  while (c.eat(' ')) {
    if (!items.empty() && !core_.has("MULTIAPPEND")) return tagged(tag, "BAD", "MULTIAPPEND is not enabled");
    AppendItem item;
    if (c.peek() == '(') {
      if (auto err = parse_flag_list(c, item.flags); !err.empty()) return tagged(tag, "BAD", "APPEND: " + err);
      if (!c.sp()) return tagged(tag, "BAD", "APPEND: " + c.error());
    }
    item.date = static_cast<std::int64_t>(std::time(nullptr));
    if (c.peek() == '"') {
      auto d = c.string();
      if (!d) return tagged(tag, "BAD", "APPEND: invalid date-time: " + c.error());
      auto dt = parse_imap_datetime(*d);
      if (!dt) return tagged(tag, "BAD", "APPEND: invalid date-time \"" + *d + "\" (expected \"dd-Mon-yyyy hh:mm:ss +zzzz\")");
      item.date = dt->utc_seconds;
      item.zone = dt->zone_minutes;
      if (!c.sp()) return tagged(tag, "BAD", "APPEND: " + c.error());
    }
    if (c.peek() != '{') return tagged(tag, "BAD", "APPEND: expected the message as a literal: " + std::string(c.rest().substr(0, 20)));
    auto body = c.string();
    if (!body) return tagged(tag, "BAD", "APPEND: " + c.error());
    if (body->empty()) return tagged(tag, "NO", "Can't save a zero-length message.");
    item.body = std::move(*body);
    item.flags = canonical_flags(item.flags);
    items.push_back(std::move(item));
  }
  if (items.empty() || !c.end()) return tagged(tag, "BAD", "Invalid APPEND arguments: " + c.error());
  auto mb = store().find_mailbox(user_, normalize_mailbox(*raw));
  if (!mb) return storage_failure(tag, mb.error());
  if (!*mb) return tagged(tag, "NO", "[TRYCREATE] Mailbox doesn't exist: " + *raw);
  imap::SeqSet uids;
  {
    Storage::Txn txn(store());
    auto m = store().bump_modseq((*mb)->id);
    if (!m) return storage_failure(tag, m.error());
    for (const auto& item : items) {
      auto uid = store().append((*mb)->id, item.body, item.flags, item.date, item.zone, *m);
      if (!uid) return storage_failure(tag, uid.error());
      uids.add(uid->value);
    }
    if (auto st = txn.commit(); !st) return storage_failure(tag, st.error());
  }
  if (core_.test_enabled() && core_.options().test.drop_after_append) {
    // Test control: the message is stored, but the client never hears about it.
    out_.clear();
    out_pos_ = 0;
    closed_ = true;
    stream_->close();
    return;
  }
  if (selected_ && selected_->id == (*mb)->id) {
    if (absorb()) (void)deliver(true);
  }
  std::string code;
  if (core_.has("UIDPLUS")) {
    code = "[APPENDUID " + std::to_string((*mb)->uidvalidity.value) + " " + uids.to_string() + "] ";
  }
  tagged(tag, "OK", code + "Append completed.");
}

void Session::cmd_copy(std::string_view tag, Cursor& c, bool uid, bool move) {
  const char* verb = move ? "MOVE" : "COPY";
  if (!c.sp()) return tagged(tag, "BAD", std::string(verb) + " needs a set and a mailbox");
  auto set = c.seqset_text();
  if (!set || !c.sp()) return tagged(tag, "BAD", std::string(verb) + " needs a set and a mailbox: " + c.error());
  auto raw = c.astring();
  if (!raw || !c.end()) return tagged(tag, "BAD", std::string("Invalid ") + verb + " arguments: " + c.error());
  std::string err;
  auto positions = resolve(*set, uid, err);
  if (!err.empty()) return tagged(tag, "BAD", err);
  if (move && selected_->read_only) return tagged(tag, "NO", "[READ-ONLY] Mailbox is read-only.");
  auto dst = store().find_mailbox(user_, normalize_mailbox(*raw));
  if (!dst) return storage_failure(tag, dst.error());
  if (!*dst) return tagged(tag, "NO", "[TRYCREATE] Mailbox doesn't exist: " + *raw);
  auto& s = *selected_;
  std::vector<std::uint32_t> src_uids;
  for (auto p : positions) {
    if (!s.ghosts.count(s.uids[p])) src_uids.push_back(s.uids[p]);
  }
  bool expunged_some = src_uids.size() != positions.size();
  if (src_uids.empty()) {
    if (expunged_some) return tagged(tag, "NO", "[EXPUNGEISSUED] The messages were expunged.");
    return tagged(tag, "OK", std::string(verb) + " completed (no messages).");
  }
  imap::SeqSet from, to;
  std::vector<std::uint32_t> dst_uids;
  {
    Storage::Txn txn(store());
    auto m = store().bump_modseq((*dst)->id);
    if (!m) return storage_failure(tag, m.error());
    for (auto u : src_uids) {
      auto nu = store().copy(s.id, Uid(u), (*dst)->id, *m);
      if (!nu) return storage_failure(tag, nu.error());
      from.add(u);
      to.add(nu->value);
      dst_uids.push_back(nu->value);
    }
    if (move) {
      std::vector<Uid> list(src_uids.begin(), src_uids.end());
      if (auto st = absorb(); !st) return storage_failure(tag, st.error());
      if (auto st = store().expunge(s.id, list); !st) return storage_failure(tag, st.error());
    }
    if (auto st = txn.commit(); !st) return storage_failure(tag, st.error());
  }
  // COPYUID pairs the sets in transmission order; UIDs are ascending on both sides here.
  std::string copyuid;
  if (core_.has("UIDPLUS")) {
    copyuid = "[COPYUID " + std::to_string((*dst)->uidvalidity.value) + " " + from.to_string() +
              " " + to.to_string() + "] ";
  }
  if (!move) {
    if (s.id == (*dst)->id && absorb()) (void)deliver(uid);
    return tagged(tag, "OK", copyuid + "Copy completed.");
  }
  bool tagged_copyuid = core_.test_enabled() && core_.options().test.copyuid_tagged;
  if (!copyuid.empty() && !tagged_copyuid) untagged("OK " + copyuid + "Moved UIDs.");
  auto mb = store().mailbox_by_id(s.id);
  if (mb && *mb) own_change((*mb)->highestmodseq);
  for (auto u : src_uids) s.ghosts.insert(u);
  if (s.id == (*dst)->id) (void)absorb();
  // RFC 6851 §3.3: MOVE sends its expunges even by sequence number.
  if (auto st = deliver(true); !st) return storage_failure(tag, st.error());
  std::string code = tagged_copyuid ? copyuid : std::string();
  if (qresync_enabled_ && code.empty() && mb && *mb) {
    code = "[HIGHESTMODSEQ " + std::to_string((*mb)->highestmodseq.value) + "] ";
  }
  tagged(tag, "OK", code + "Move completed.");
}

}  // namespace twinbox::server
