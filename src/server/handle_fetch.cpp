// FETCH and UID FETCH (RFC 3501 §6.4.5, §7.4.2) with CHANGEDSINCE / MODSEQ (RFC 7162
// §3.1.4-§3.1.5), VANISHED (RFC 7162 §3.2.6) and EMAILID (RFC 8474 §5).
//
// The answer is produced in steps (FetchJob) so a FETCH of a whole mailbox never holds more
// than Limits::output_high_water of output: the session stops reading commands and resumes
// the job when the client has drained its socket.

#include <algorithm>

#include <twinbox/imap/seqset.hpp>

#include "message.hpp"
#include "section.hpp"
#include "session.hpp"

namespace twinbox::server {
namespace {

enum class Item {
  Flags, InternalDate, Rfc822Size, Envelope, Body, BodyStructure, Uid, ModSeq, EmailId, ThreadId,
  Section, Binary, BinarySize, Rfc822, Rfc822Header, Rfc822Text,
};

struct FetchItem {
  Item kind;
  SectionSpec spec;
  bool peek = false;
};

/// BODY[] / BODY.PEEK[] (with or without <partial>): the stored octets as they are.
bool whole_message(const FetchItem& i) {
  return i.kind == Item::Section && i.spec.part.empty() && i.spec.text == SectionText::None;
}

bool needs_parse(const FetchItem& i) {
  switch (i.kind) {
    case Item::Section:
      return !whole_message(i);
    case Item::Envelope: case Item::Body: case Item::BodyStructure:
    case Item::Binary: case Item::BinarySize: case Item::Rfc822Header: case Item::Rfc822Text:
      return true;
    default:
      return false;
  }
}

bool needs_body(const FetchItem& i) {
  return needs_parse(i) || i.kind == Item::Rfc822 || whole_message(i);
}

bool sets_seen(const FetchItem& i) {
  return !i.peek && (i.kind == Item::Section || i.kind == Item::Binary || i.kind == Item::Rfc822 ||
                     i.kind == Item::Rfc822Text);
}

/// Text between "[" and the matching "]" (quoted strings may contain "]").
std::optional<std::string_view> bracket_text(Cursor& c) {
  std::string_view rest = c.rest();
  if (rest.empty() || rest[0] != '[') return std::nullopt;
  bool quoted = false;
  for (std::size_t i = 1; i < rest.size(); ++i) {
    char ch = rest[i];
    if (quoted) {
      if (ch == '\\') {
        ++i;
      } else if (ch == '"') {
        quoted = false;
      }
    } else if (ch == '"') {
      quoted = true;
    } else if (ch == ']') {
      c.set_pos(c.pos() + i + 1);
      return rest.substr(1, i - 1);
    }
  }
  return std::nullopt;
}

std::string parse_item(Cursor& c, std::vector<FetchItem>& items, const ServerCore& core) {
  // fetch-att names stop at "[" (BODY[...]), which is an ATOM-CHAR.
  std::size_t start = c.pos();
  std::string_view head = c.rest();
  std::size_t len = 0;
  while (len < head.size() && head[len] != '[' && is_atom_char(static_cast<unsigned char>(head[len]))) ++len;
  if (len == 0) return "expected a fetch item" + std::string(head.empty() ? "" : " near '" + std::string(head.substr(0, 20)) + "'");
  c.set_pos(start + len);
  std::optional<std::string_view> a = head.substr(0, len);
  std::string name = to_upper(*a);
  auto add = [&](Item k) { items.push_back(FetchItem{k, {}, false}); };
  if (name == "ALL") {
    add(Item::Flags), add(Item::InternalDate), add(Item::Rfc822Size), add(Item::Envelope);
  } else if (name == "FAST") {
    add(Item::Flags), add(Item::InternalDate), add(Item::Rfc822Size);
  } else if (name == "FULL") {
    add(Item::Flags), add(Item::InternalDate), add(Item::Rfc822Size), add(Item::Envelope), add(Item::Body);
  } else if (name == "FLAGS") {
    add(Item::Flags);
  } else if (name == "INTERNALDATE") {
    add(Item::InternalDate);
  } else if (name == "RFC822.SIZE") {
    add(Item::Rfc822Size);
  } else if (name == "ENVELOPE") {
    add(Item::Envelope);
  } else if (name == "BODYSTRUCTURE") {
    add(Item::BodyStructure);
  } else if (name == "UID") {
    add(Item::Uid);
  } else if (name == "MODSEQ" && core.has("CONDSTORE")) {
    add(Item::ModSeq);
  } else if (name == "EMAILID" && core.has("OBJECTID")) {
    add(Item::EmailId);
  } else if (name == "THREADID" && core.has("OBJECTID")) {
    add(Item::ThreadId);
  } else if (name == "RFC822") {
    add(Item::Rfc822);
  } else if (name == "RFC822.HEADER") {
    add(Item::Rfc822Header);
  } else if (name == "RFC822.TEXT") {
    add(Item::Rfc822Text);
  } else if (name == "BODY" || name == "BODY.PEEK" || name == "BINARY" || name == "BINARY.PEEK" ||
             name == "BINARY.SIZE") {
    if (c.peek() != '[') {
      if (name != "BODY") return "expected [section] after " + name;
      add(Item::Body);
      return {};
    }
    auto text = bracket_text(c);
    if (!text) return "unterminated section in " + name + "[";
    bool binary = name.rfind("BINARY", 0) == 0;
    auto spec = parse_section(*text, binary);
    if (!spec) return spec.error().message;
    if (c.peek() == '<') {
      if (name == "BINARY.SIZE") return "BINARY.SIZE takes no partial";
      std::string_view rest = c.rest();
      auto close = rest.find('>');
      if (close == std::string_view::npos) return "unterminated partial <origin.count>";
      auto p = parse_partial(rest.substr(0, close + 1));
      if (!p) return p.error().message;
      spec->partial = *p;
      c.set_pos(c.pos() + close + 1);
    }
    Item kind = name == "BINARY.SIZE" ? Item::BinarySize : binary ? Item::Binary : Item::Section;
    items.push_back(FetchItem{kind, *spec, name.find(".PEEK") != std::string::npos});
  } else {
    return "unknown fetch item " + std::string(*a);
  }
  return {};
}

std::string format_flags(const std::vector<std::string>& flags, bool recent) {
  std::string s = "(" + join_flags(flags);
  if (recent) s += flags.empty() ? "\\Recent" : " \\Recent";
  return s + ")";
}

}  // namespace

/// Resumable FETCH: one message per iteration, pausing when the output buffer is full.
class FetchJob : public Job {
 public:
  FetchJob(Session& s, std::string tag, std::vector<std::uint32_t> positions,
           std::vector<FetchItem> items, bool uid, std::optional<ModSeq> changedsince)
      : s_(s), tag_(std::move(tag)), positions_(std::move(positions)), items_(std::move(items)),
        uid_(uid), changedsince_(changedsince) {
    const Snapshot* sel = s_.selected();
    bool read_only = sel == nullptr || sel->read_only;
    for (const auto& i : items_) {
      body_ = body_ || needs_body(i);
      parse_ = parse_ || needs_parse(i);
      seen_ = seen_ || (sets_seen(i) && !read_only);
      has_flags_ = has_flags_ || i.kind == Item::Flags;
      has_modseq_ = has_modseq_ || i.kind == Item::ModSeq;
    }
  }

  bool step() override {
    Snapshot* sel = s_.selected();
    {
      // One transaction per step: SQLite locks once per batch, not per statement, and the
      // \Seen changes of the batch are committed (and durable) before any tagged OK.
      Storage::Batch batch(s_.store());
      for (int n = 0; n < 256 && next_ < positions_.size() && !s_.output_full(); ++n) {
        std::uint32_t pos = positions_[next_++];
        if (!sel || pos >= sel->uids.size()) continue;
        if (auto st = one(*sel, pos); !st) {
          s_.storage_failure(tag_, st.error());
          return true;
        }
      }
      if (auto st = batch.end(); !st) {
        s_.storage_failure(tag_, st.error());
        return true;
      }
    }
    if (next_ < positions_.size()) return false;
    if (missing_) {
      s_.tagged(tag_, "NO", "[EXPUNGEISSUED] Some messages were expunged by another session.");
    } else {
      s_.tagged(tag_, "OK", uid_ ? "UID FETCH completed." : "Fetch completed.");
    }
    return true;
  }

 private:
  Status one(Snapshot& sel, std::uint32_t pos) {
    std::uint32_t uid = sel.uids[pos];
    if (sel.ghosts.count(uid)) {
      missing_ = true;
      return {};
    }
    auto info = s_.store().message(sel.id, Uid(uid));
    if (!info) return info.error();
    if (!*info) {
      missing_ = true;
      return {};
    }
    MessageInfo& m = **info;
    if (changedsince_ && m.modseq <= *changedsince_) return {};
    bool flags_changed = false;
    if (seen_ && !has_flag(m.flags, "\\Seen")) {
      // BODY[...] without .PEEK sets \Seen (RFC 3501 §6.4.5); one modseq for the command.
      if (!seen_modseq_.valid()) {
        if (auto st = s_.absorb(); !st) return st;
        auto ms = s_.store().bump_modseq(sel.id);
        if (!ms) return ms.error();
        seen_modseq_ = *ms;
        s_.own_change(*ms);
      }
      m.flags.push_back("\\Seen");
      m.flags = canonical_flags(m.flags);
      if (auto st = s_.store().set_flags(sel.id, m.uid, m.flags, seen_modseq_); !st) return st;
      m.modseq = seen_modseq_;
      sel.pending_flags.erase(uid);
      flags_changed = true;
    }
    std::optional<Message> msg;
    std::string& raw = raw_;  // reused: no allocation per message
    if (body_) {
      if (auto st = s_.store().body_into(m.body_id, raw); !st) return st;
      if (parse_) msg.emplace(Message::parse_view(raw));
    }
    bool recent = sel.recent.count(uid) > 0;
    // Keywords first (untagged FLAGS), then the FETCH, written straight into the output.
    if (flags_changed || has_flags_) s_.announce_keywords(m.flags);
    std::string& out = s_.out_;
    const std::size_t mark = out.size();  // an error below takes the partial line back
    out += "* ";
    out += std::to_string(pos + 1);
    out += " FETCH (";
    bool first = true;
    auto sep = [&] {
      if (!first) out += ' ';
      first = false;
    };
    bool uid_done = false;
    if (uid_) {
      sep();
      out += "UID " + std::to_string(uid);
      uid_done = true;
    }
    for (const auto& it : items_) {
      switch (it.kind) {
        case Item::Uid:
          if (uid_done) break;
          sep();
          out += "UID " + std::to_string(uid);
          uid_done = true;
          break;
        case Item::Flags:
          sep();
          out += "FLAGS " + format_flags(m.flags, recent);
          break;
        case Item::InternalDate:
          sep();
          out += "INTERNALDATE \"" + format_imap_datetime(DateTime{m.internaldate, m.internaldate_zone}) + "\"";
          break;
        case Item::Rfc822Size:
          sep();
          out += "RFC822.SIZE " + std::to_string(m.size);
          break;
        case Item::ModSeq:
          break;  // emitted once below
        case Item::EmailId:
          sep();
          out += "EMAILID (" + m.emailid + ")";
          break;
        case Item::ThreadId:
          sep();
          out += "THREADID NIL";
          break;
        case Item::Envelope:
          sep();
          out += "ENVELOPE " + serialize_envelope(msg->envelope());
          break;
        case Item::Body:
          sep();
          out += "BODY " + serialize_body_structure(*msg, false);
          break;
        case Item::BodyStructure:
          sep();
          out += "BODYSTRUCTURE " + serialize_body_structure(*msg, true);
          break;
        case Item::Rfc822:
          sep();
          out += "RFC822 ";
          write_literal(out, raw);
          break;
        case Item::Rfc822Header:
        case Item::Rfc822Text: {
          SectionSpec spec;
          spec.text = it.kind == Item::Rfc822Header ? SectionText::Header : SectionText::Text;
          auto data = extract_section(*msg, spec);
          sep();
          out += it.kind == Item::Rfc822Header ? "RFC822.HEADER " : "RFC822.TEXT ";
          write_literal(out, data ? data->data() : std::string_view());
          break;
        }
        case Item::Section: {
          sep();
          out += "BODY[" + format_section(it.spec) + "]" + format_partial(it.spec) + " ";
          if (whole_message(it)) {
            auto data = SectionData::view(raw);
            data.apply_partial(it.spec.partial);
            write_literal(out, data.data());
            break;
          }
          auto data = extract_section(*msg, it.spec);
          if (data) {
            write_literal(out, data->data());
          } else {
            out += "NIL";
          }
          break;
        }
        case Item::Binary: {
          auto data = extract_binary(*msg, it.spec);
          if (!data) {
            out.resize(mark);
            return fail(Errc::Protocol, Scope::Message, data.error().message);
          }
          sep();
          out += "BINARY[" + format_section(it.spec) + "]" + format_partial(it.spec) + " ";
          if (*data) {
            std::string_view d = (*data)->data();
            if (d.find('\0') != std::string_view::npos) out += '~';
            write_literal(out, d);
          } else {
            out += "NIL";
          }
          break;
        }
        case Item::BinarySize: {
          auto size = binary_size(*msg, it.spec);
          if (!size) {
            out.resize(mark);
            return fail(Errc::Protocol, Scope::Message, size.error().message);
          }
          sep();
          out += "BINARY.SIZE[" + format_section(it.spec) + "] " +
                 (*size ? std::to_string(**size) : std::string("NIL"));
          break;
        }
      }
    }
    if (flags_changed && !has_flags_) {
      sep();
      out += "FLAGS " + format_flags(m.flags, recent);
    }
    if (has_modseq_ || changedsince_ || (flags_changed && s_.condstore())) {
      sep();
      out += "MODSEQ (" + std::to_string(m.modseq.value) + ")";
    }
    out += ")\r\n";
    return {};
  }

  Session& s_;
  std::string tag_;
  std::vector<std::uint32_t> positions_;
  std::vector<FetchItem> items_;
  bool uid_;
  std::optional<ModSeq> changedsince_;
  std::size_t next_ = 0;
  bool body_ = false, parse_ = false, seen_ = false, has_flags_ = false, has_modseq_ = false;
  bool missing_ = false;
  ModSeq seen_modseq_;
  std::string raw_;
};

void Session::cmd_fetch(std::string_view tag, Cursor& c, bool uid) {
  const char* verb = uid ? "UID FETCH" : "FETCH";
  if (!c.sp()) return tagged(tag, "BAD", std::string(verb) + " needs a set and items");
  auto set = c.seqset_text();
  if (!set || !c.sp()) return tagged(tag, "BAD", std::string(verb) + " needs a set and items: " + c.error());
  std::vector<FetchItem> items;
  if (c.eat('(')) {
    while (!c.eat(')')) {
      if (!items.empty() && !c.sp()) return tagged(tag, "BAD", "Invalid fetch item list: " + c.error());
      if (auto err = parse_item(c, items, core_); !err.empty()) return tagged(tag, "BAD", err);
    }
    if (items.empty()) return tagged(tag, "BAD", "Empty fetch item list");
  } else {
    if (auto err = parse_item(c, items, core_); !err.empty()) return tagged(tag, "BAD", err);
  }
  std::optional<ModSeq> changedsince;
  bool vanished = false;
  if (c.eat(' ')) {
    // fetch-modifiers (RFC 4466 §2.4): (CHANGEDSINCE n [VANISHED])
    if (!c.eat('(')) return tagged(tag, "BAD", "Invalid FETCH modifiers: " + c.error());
    bool first = true;
    while (!c.eat(')')) {
      if (!first && !c.sp()) return tagged(tag, "BAD", "Invalid FETCH modifiers: " + c.error());
      first = false;
      if (c.eat_word("CHANGEDSINCE") && core_.has("CONDSTORE")) {
        if (!c.sp()) return tagged(tag, "BAD", "CHANGEDSINCE needs a mod-sequence");
        auto n = c.number64();
        if (!n) return tagged(tag, "BAD", "CHANGEDSINCE needs a mod-sequence: " + c.error());
        changedsince = ModSeq(*n);
      } else if (c.eat_word("VANISHED") && core_.has("QRESYNC")) {
        vanished = true;
      } else {
        return tagged(tag, "BAD", "Unknown FETCH modifier: " + std::string(c.rest().substr(0, 20)));
      }
    }
  }
  if (!c.end()) return tagged(tag, "BAD", std::string("Invalid ") + verb + " arguments: " + c.error());
  if (vanished) {
    // RFC 7162 §3.2.6: VANISHED only with UID FETCH, CHANGEDSINCE and QRESYNC enabled.
    if (!uid) return tagged(tag, "BAD", "VANISHED is only allowed with UID FETCH");
    if (!changedsince) return tagged(tag, "BAD", "VANISHED needs CHANGEDSINCE");
    if (!qresync_enabled_) return tagged(tag, "BAD", "QRESYNC is not enabled (ENABLE QRESYNC first)");
  }
  bool wants_modseq = changedsince.has_value();
  for (const auto& i : items) wants_modseq = wants_modseq || i.kind == Item::ModSeq;
  if (wants_modseq) enable_condstore();
  std::string err;
  auto positions = resolve(*set, uid, err);
  if (!err.empty()) return tagged(tag, "BAD", err);
  if (vanished) {
    auto parsed = imap::SeqSet::parse(*set, true, selected_->uids.empty() ? 0xffffffffU : selected_->uids.back());
    auto gone = store().expunged_since(selected_->id, *changedsince);
    if (!gone) return storage_failure(tag, gone.error());
    imap::SeqSet v;
    for (Uid u : *gone) {
      if (parsed && parsed->contains(u.value)) v.add(u.value);
    }
    if (!v.empty()) untagged("VANISHED (EARLIER) " + v.to_string());
  }
  auto job = std::make_unique<FetchJob>(*this, std::string(tag), std::move(positions), std::move(items),
                                        uid, changedsince);
  if (!job->step()) job_ = std::move(job);
}

}  // namespace twinbox::server
