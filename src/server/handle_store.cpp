// STORE and UID STORE (RFC 3501 §6.4.6) with UNCHANGEDSINCE and [MODIFIED] (RFC 7162
// §3.1.3), and SEARCH / UID SEARCH (RFC 3501 §6.4.4) with ESEARCH (RFC 4731) and MODSEQ
// (RFC 7162 §3.1.5).

#include <algorithm>
#include <map>

#include <twinbox/imap/seqset.hpp>

#include "message.hpp"
#include "search.hpp"
#include "session.hpp"

namespace twinbox::server {

std::string parse_store_flag_list(Cursor& c, std::vector<std::string>& flags);

void Session::cmd_store(std::string_view tag, Cursor& c, bool uid) {
  const char* verb = uid ? "UID STORE" : "STORE";
  if (!c.sp()) return tagged(tag, "BAD", std::string(verb) + " needs a set, an action and flags");
  auto set = c.seqset_text();
  if (!set || !c.sp()) return tagged(tag, "BAD", std::string(verb) + " needs a set, an action and flags: " + c.error());
  std::optional<ModSeq> unchangedsince;
  if (c.eat('(')) {
    if (!c.eat_word("UNCHANGEDSINCE") || !core_.has("CONDSTORE") || !c.sp()) {
      return tagged(tag, "BAD", "Unknown STORE modifier (only UNCHANGEDSINCE is supported)");
    }
    auto n = c.number64();
    if (!n || !c.eat(')') || !c.sp()) return tagged(tag, "BAD", "Invalid UNCHANGEDSINCE: " + c.error());
    unchangedsince = ModSeq(*n);
  }
  int mode = 0;  // 0 replace, 1 add, -1 remove
  if (c.eat('+')) {
    mode = 1;
  } else if (c.eat('-')) {
    mode = -1;
  }
  auto item = c.atom();
  if (!item) return tagged(tag, "BAD", "STORE needs FLAGS, +FLAGS or -FLAGS: " + c.error());
  std::string up = to_upper(*item);
  bool silent = false;
  if (up == "FLAGS.SILENT") {
    silent = true;
  } else if (up != "FLAGS") {
    return tagged(tag, "BAD", "STORE needs FLAGS, +FLAGS or -FLAGS, not " + std::string(*item));
  }
  if (!c.sp()) return tagged(tag, "BAD", "STORE needs flags");
  std::vector<std::string> flags;
  if (c.peek() == '(') {
    if (auto err = parse_store_flag_list(c, flags); !err.empty()) return tagged(tag, "BAD", "STORE: " + err);
  } else {
    while (true) {
      auto f = c.flag();
      if (!f) return tagged(tag, "BAD", "STORE: invalid flag: " + c.error());
      flags.push_back(*f);
      if (!c.eat(' ')) break;
    }
  }
  if (!c.end()) return tagged(tag, "BAD", std::string("Invalid ") + verb + " arguments: " + c.error());
  flags = canonical_flags(flags);
  std::string err;
  auto positions = resolve(*set, uid, err);
  if (!err.empty()) return tagged(tag, "BAD", err);
  if (selected_->read_only) return tagged(tag, "NO", "[READ-ONLY] Mailbox is read-only.");
  if (unchangedsince) enable_condstore();
  auto& s = *selected_;
  bool always_modified = unchangedsince && core_.test_enabled() && core_.options().test.unchangedsince_always_modified;

  imap::SeqSet modified;
  std::vector<std::string> lines;
  std::vector<std::string> all_flags;
  ModSeq ms;
  {
    Storage::Txn txn(store());
    for (auto p : positions) {
      std::uint32_t u = s.uids[p];
      if (s.ghosts.count(u)) continue;
      auto info = store().message(s.id, Uid(u));
      if (!info) return storage_failure(tag, info.error());
      if (!*info) continue;
      MessageInfo& m = **info;
      std::string prefix = std::to_string(p + 1) + " FETCH (";
      if (uid || qresync_enabled_) prefix += "UID " + std::to_string(u) + " ";
      if (always_modified || (unchangedsince && m.modseq > *unchangedsince)) {
        modified.add(uid ? u : p + 1);
        if (!always_modified) {
          // The loser's current state, so the client can re-merge without asking (as Dovecot).
          lines.push_back(prefix + "FLAGS (" + join_flags(m.flags) + ") MODSEQ (" +
                          std::to_string(m.modseq.value) + "))");
          all_flags.insert(all_flags.end(), m.flags.begin(), m.flags.end());
        }
        continue;
      }
      std::vector<std::string> next;
      if (mode == 0) {
        next = flags;
      } else if (mode > 0) {
        next = m.flags;
        next.insert(next.end(), flags.begin(), flags.end());
      } else {
        for (const auto& f : m.flags) {
          if (!has_flag(flags, f)) next.push_back(f);
        }
      }
      next = canonical_flags(next);
      bool changed = next != m.flags;
      if (changed) {
        if (!ms.valid()) {
          if (auto st = absorb(); !st) return storage_failure(tag, st.error());
          auto b = store().bump_modseq(s.id);
          if (!b) return storage_failure(tag, b.error());
          ms = *b;
        }
        if (auto st = store().set_flags(s.id, m.uid, next, ms); !st) return storage_failure(tag, st.error());
        m.flags = next;
        m.modseq = ms;
        s.pending_flags.erase(u);
      }
      all_flags.insert(all_flags.end(), m.flags.begin(), m.flags.end());
      // .SILENT suppresses FLAGS, but with CONDSTORE the new MODSEQ is still reported
      // (RFC 7162 §3.1.3), and a conditional store reports every message that passed.
      bool report_modseq = condstore_enabled_ && (changed || unchangedsince);
      if (silent && !report_modseq) continue;
      std::string line = prefix;
      if (!silent) {
        line += "FLAGS " + std::string("(") + join_flags(m.flags);
        if (s.recent.count(u)) line += m.flags.empty() ? "\\Recent" : " \\Recent";
        line += ")";
        if (condstore_enabled_) line += " ";
      }
      if (condstore_enabled_) line += "MODSEQ (" + std::to_string(m.modseq.value) + ")";
      line += ")";
      lines.push_back(std::move(line));
    }
    if (auto st = txn.commit(); !st) return storage_failure(tag, st.error());
  }
  if (ms.valid()) own_change(ms);
  announce_keywords(all_flags);
  for (const auto& l : lines) untagged(l);
  if (!modified.empty()) {
    return tagged(tag, "OK", "[MODIFIED " + modified.to_string() + "] Conditional store failed.");
  }
  tagged(tag, "OK", "Store completed.");
}

void Session::cmd_search(std::string_view tag, Cursor& c, bool uid) {
  const char* verb = uid ? "UID SEARCH" : "SEARCH";
  if (!c.sp()) return tagged(tag, "BAD", std::string(verb) + " needs search keys");
  bool esearch = false;
  bool r_min = false, r_max = false, r_count = false, r_all = false, r_save = false;
  if (core_.has("ESEARCH") && c.eat_word("RETURN")) {
    esearch = true;
    if (!c.sp() || !c.eat('(')) return tagged(tag, "BAD", "Invalid SEARCH RETURN options: " + c.error());
    bool first = true;
    while (!c.eat(')')) {
      if (!first && !c.sp()) return tagged(tag, "BAD", "Invalid SEARCH RETURN options: " + c.error());
      first = false;
      auto a = c.atom();
      if (!a) return tagged(tag, "BAD", "Invalid SEARCH RETURN options: " + c.error());
      std::string o = to_upper(*a);
      if (o == "MIN") {
        r_min = true;
      } else if (o == "MAX") {
        r_max = true;
      } else if (o == "COUNT") {
        r_count = true;
      } else if (o == "ALL") {
        r_all = true;
      } else if (o == "SAVE" && core_.has("SEARCHRES")) {
        // RFC 5182 §2.1: from here on a failing SEARCH leaves "$" empty.
        r_save = true;
        selected_->saved.clear();
      } else {
        return tagged(tag, "BAD", "Unknown SEARCH RETURN option " + std::string(*a));
      }
    }
    if (!r_min && !r_max && !r_count && !r_save) r_all = r_all || first;
    if (!c.sp()) return tagged(tag, "BAD", "SEARCH needs search keys");
  }
  auto tokens = tokenize_search(c.rest());
  if (!tokens) return tagged(tag, "BAD", "Invalid SEARCH: " + tokens.error().message);
  auto query = parse_search(*tokens);
  if (!query) {
    if (query.error().code == Errc::Capability) {
      return tagged(tag, "NO", "[BADCHARSET (US-ASCII UTF-8)] " + query.error().message);
    }
    return tagged(tag, "BAD", "Invalid SEARCH: " + query.error().message);
  }
  if (uses_saved(query->root) && !core_.has("SEARCHRES")) {
    return tagged(tag, "BAD", "Invalid SEARCH: $ needs SEARCHRES, which is not offered");
  }
  bool modseq_used = uses_modseq(query->root);
  if (modseq_used) {
    if (!core_.has("CONDSTORE")) return tagged(tag, "BAD", "MODSEQ search is not supported");
    enable_condstore();
  }
  auto& s = *selected_;
  auto msgs = store().messages(s.id);
  if (!msgs) return storage_failure(tag, msgs.error());
  std::map<std::uint32_t, const MessageInfo*> by_uid;
  for (const auto& m : *msgs) by_uid[m.uid.value] = &m;
  SearchContext ctx;
  ctx.max_seq = static_cast<std::uint32_t>(s.uids.size());
  ctx.max_uid = s.uids.empty() ? 0 : s.uids.back();
  ctx.saved = &s.saved;
  std::vector<std::uint32_t> hits;
  std::uint64_t max_modseq = 0;
  for (std::size_t i = 0; i < s.uids.size(); ++i) {
    auto it = by_uid.find(s.uids[i]);
    if (it == by_uid.end() || s.ghosts.count(s.uids[i])) continue;
    const MessageInfo& m = *it->second;
    std::optional<Message> parsed;
    std::string raw;
    bool load_failed = false;
    MessageView view;
    view.uid = m.uid;
    view.seq = SeqNum(static_cast<std::uint32_t>(i + 1));
    view.flags = m.flags;
    view.recent = s.recent.count(m.uid.value) > 0;
    view.internal_date = DateTime{m.internaldate, m.internaldate_zone};
    view.size = m.size;
    view.modseq = m.modseq;
    view.message = [&]() -> const Message* {
      if (parsed) return &*parsed;
      if (load_failed) return nullptr;
      auto b = store().body(m.body_id);
      if (!b) {
        load_failed = true;
        return nullptr;
      }
      raw = std::move(*b);
      parsed.emplace(Message::parse_view(raw));
      return &*parsed;
    };
    if (matches(query->root, view, ctx)) {
      hits.push_back(uid ? m.uid.value : static_cast<std::uint32_t>(i + 1));
      max_modseq = std::max<std::uint64_t>(max_modseq, m.modseq.value);
    }
  }
  if (r_save) save_result(hits, uid, r_min || r_max, r_all || r_count, r_min, r_max);
  // RETURN (SAVE) alone answers no ESEARCH (RFC 5182 §2.4).
  if (esearch) {
    std::string line = "ESEARCH (TAG \"" + std::string(tag) + "\")";
    if (uid) line += " UID";
    if (!hits.empty()) {
      if (r_min) line += " MIN " + std::to_string(hits.front());
      if (r_max) line += " MAX " + std::to_string(hits.back());
    }
    if (r_count) line += " COUNT " + std::to_string(hits.size());
    if (r_all && !hits.empty()) line += " ALL " + imap::SeqSet::from_vector(hits).to_string();
    if (modseq_used && !hits.empty()) line += " MODSEQ " + std::to_string(max_modseq);
    if (r_min || r_max || r_count || r_all) untagged(line);
  } else {
    std::string line = "SEARCH";
    for (auto h : hits) line += " " + std::to_string(h);
    if (modseq_used && !hits.empty()) line += " (MODSEQ " + std::to_string(max_modseq) + ")";
    untagged(line);
  }
  tagged(tag, "OK", uid ? "UID SEARCH completed." : "Search completed.");
}

void Session::save_result(const std::vector<std::uint32_t>& hits, bool uid, bool min_max,
                          bool everything, bool min, bool max) {
  // RFC 5182 §2.4: with MIN and/or MAX but neither ALL nor COUNT, only those are saved.
  auto& s = *selected_;
  std::vector<std::uint32_t> chosen;
  if (min_max && !everything) {
    if (!hits.empty() && min) chosen.push_back(hits.front());
    if (!hits.empty() && max && (!min || hits.back() != hits.front())) chosen.push_back(hits.back());
  } else {
    chosen = hits;
  }
  s.saved.clear();
  for (auto h : chosen) s.saved.push_back(uid ? h : s.uids[h - 1]);
  std::sort(s.saved.begin(), s.saved.end());
}

}  // namespace twinbox::server
