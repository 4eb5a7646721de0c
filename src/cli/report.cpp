#include "report.hpp"

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "log_file.hpp"
#include "progress.hpp"

namespace twinbox::cli {
namespace {

using nlohmann::json;

json counts_json(const sync::Counts& c) {
  return json{{"copied", c.copied}, {"flags", c.flags}, {"expunged", c.expunged},
              {"moved", c.moved}, {"bytes", c.bytes}};
}

std::string plural(std::uint64_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

std::string side_counts(const sync::Counts& c) {
  return plural(c.copied, "copied", "copied") + ", " +
         plural(c.flags, "flag change", "flag changes") + ", " +
         plural(c.expunged, "expunged", "expunged") + ", " + plural(c.moved, "moved", "moved");
}

json planned_json(const sync::PlanTotals& t, Side s) {
  return json{{"copies", t.copies[s]}, {"bytes", t.bytes[s]}, {"flags", t.flags[s]},
              {"expunges", t.expunges[s]}};
}

json uid_json(Uid u) { return u.valid() ? json(u.value) : json(nullptr); }

/// "copy 3 to local, 2 to remote (1.2 MiB); 2 flag changes; 1 expunge", or "nothing to do".
std::string plan_text(const sync::PlanTotals& t) {
  std::string out;
  auto add = [&](const std::string& part) { out += (out.empty() ? "" : "; ") + part; };
  if (t.all_copies() > 0) {
    add("copy " + std::to_string(t.copies[Side::Local]) + " to local, " +
        std::to_string(t.copies[Side::Remote]) + " to remote (" + format_bytes(t.all_bytes()) + ")");
  }
  if (const auto f = t.flags[Side::Local] + t.flags[Side::Remote]; f > 0) {
    add(plural(f, "flag change", "flag changes"));
  }
  if (const auto e = t.expunges[Side::Local] + t.expunges[Side::Remote]; e > 0) {
    add(plural(e, "expunge", "expunges"));
  }
  return out.empty() ? "nothing to do" : out;
}

std::string uid_text(Side s, Uid u) {
  return std::string(to_string(s)) + " UID " + (u.valid() ? std::to_string(u.value) : "?");
}

std::size_t failed_mailboxes(const sync::SyncReport& r) {
  std::size_t n = 0;
  for (const auto& m : r.mailboxes) n += m.error.empty() ? 0 : 1;
  return n;
}

}  // namespace

std::string format_bytes(std::uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = -1;
  while (v >= 1024.0 && u < 3) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

Reporter::Reporter(std::ostream& out, std::ostream& err, Verbosity verbosity, bool json)
    : out_(out), err_(err), verbosity_(verbosity), json_(json) {}

std::string Reporter::format_counts(const PerSide<sync::Counts>& to) {
  return "local <- " + side_counts(to[Side::Local]) + " | remote <- " +
         side_counts(to[Side::Remote]);
}

void Reporter::json_line(const std::string& line) {
  if (progress_ != nullptr) {
    progress_->print(out_, line);
  } else {
    out_ << line << '\n' << std::flush;
  }
}

void Reporter::text(std::ostream& os, std::string_view line) {
  if (progress_ != nullptr) {
    progress_->print(os, line);
  } else {
    os << line << '\n' << std::flush;
  }
}

void Reporter::note(std::string_view line) {
  if (log_ != nullptr) log_->write(line);
}

void Reporter::step(std::string_view line) {
  note(line);
  if (!json_ && verbosity_ >= Verbosity::Verbose) text(out_, line);
}

void Reporter::message(std::string_view line) {
  if (verbosity_ < Verbosity::Messages) return;
  note(line);
  if (!json_) text(out_, line);
}

void Reporter::log(std::string_view line, bool dry_run) {
  note(line);
  if (json_) {
    json_line(json{{"event", "log"}, {"message", line}}.dump());
  } else if (verbosity_ >= Verbosity::Verbose || (dry_run && verbosity_ != Verbosity::Quiet)) {
    text(out_, line);
  }
}

void Reporter::run_planned(const sync::PlanTotals& t) {
  if (progress_ != nullptr) progress_->run_planned(t);
  if (json_) {
    json_line(json{{"event", "totals"},
                   {"mailboxes", t.mailboxes},
                   {"local", planned_json(t, Side::Local)},
                   {"remote", planned_json(t, Side::Remote)}}
                  .dump());
  }
  step("plan: " + plural(t.mailboxes, "mailbox", "mailboxes") + " to sync: " + plan_text(t));
}

bool Reporter::wants_run_totals() const {
  return progress_ != nullptr || json_ || log_ != nullptr || verbosity_ >= Verbosity::Verbose;
}

void Reporter::mailbox_started(std::string_view mailbox, const sync::PlanTotals& plan) {
  if (progress_ != nullptr) progress_->mailbox_started(mailbox, plan);
  if (json_) {
    json_line(json{{"event", "mailbox_start"},
                   {"mailbox", mailbox},
                   {"local", planned_json(plan, Side::Local)},
                   {"remote", planned_json(plan, Side::Remote)}}
                  .dump());
  }
  step(std::string(mailbox) + ": syncing: " + plan_text(plan));
}

void Reporter::message_copied(std::string_view mailbox, Side to, Uid source_uid, Uid uid,
                              std::uint64_t bytes) {
  if (progress_ != nullptr) progress_->copied(bytes);
  if (json_) {
    json_line(json{{"event", "copied"},
                   {"mailbox", mailbox},
                   {"to", to_string(to)},
                   {"source_uid", source_uid.value},
                   {"uid", uid_json(uid)},
                   {"bytes", bytes}}
                  .dump());
  }
  message(std::string(mailbox) + ": copied " + uid_text(other(to), source_uid) + " to " +
          uid_text(to, uid) + " (" + format_bytes(bytes) + ")");
}

void Reporter::message_moved(std::string_view from, std::string_view to, Side side, Uid uid) {
  if (progress_ != nullptr) progress_->changed();
  if (json_) {
    json_line(json{{"event", "moved"},
                   {"mailbox", from},
                   {"to_mailbox", to},
                   {"side", to_string(side)},
                   {"uid", uid.value}}
                  .dump());
  }
  message(std::string(from) + ": moved " + uid_text(side, uid) + " to " + std::string(to));
}

void Reporter::message_expunged(std::string_view mailbox, Side side, Uid uid) {
  if (progress_ != nullptr) progress_->changed();
  if (json_) {
    json_line(json{{"event", "expunged"}, {"mailbox", mailbox}, {"side", to_string(side)},
                   {"uid", uid.value}}
                  .dump());
  }
  message(std::string(mailbox) + ": expunged " + uid_text(side, uid));
}

void Reporter::flags_changed(std::string_view mailbox, Side side, Uid uid, sync::FlagOp op,
                             const sync::Flags& flags) {
  if (progress_ != nullptr) progress_->changed();
  if (json_) {
    json_line(json{{"event", "flags"},
                   {"mailbox", mailbox},
                   {"side", to_string(side)},
                   {"uid", uid.value},
                   {"op", sync::to_string(op)},
                   {"flags", flags}}
                  .dump());
  }
  if (verbosity_ < Verbosity::Messages) return;
  std::string list;
  for (const auto& f : flags) list += (list.empty() ? "" : " ") + f;
  const char* sign = op == sync::FlagOp::Add ? "+" : op == sync::FlagOp::Remove ? "-" : "=";
  message(std::string(mailbox) + ": flags of " + uid_text(side, uid) + " " + sign + "(" + list + ")");
}

void Reporter::mailbox_finished(const sync::MailboxReport& /*report*/) {
  if (progress_ != nullptr) progress_->mailbox_finished();
}

void Reporter::report(const sync::SyncReport& report, bool dry_run) {
  for (const auto& m : report.mailboxes) {
    if (json_) {
      json j{{"event", "mailbox"},
             {"mailbox", m.name},
             {"created", m.created},
             {"local", counts_json(m.to[Side::Local])},
             {"remote", counts_json(m.to[Side::Remote])},
             {"error", m.error.empty() ? json(nullptr) : json(m.error)}};
      json_line(j.dump());
      for (const auto& p : m.plan) {
        json_line(json{{"event", "plan"}, {"mailbox", m.name}, {"action", p}}.dump());
      }
      if (!m.error.empty()) {
        json_line(json{{"event", "error"},
                       {"scope", "mailbox"},
                       {"kind", "partial"},
                       {"code", "mailbox stopped"},
                       {"mailbox", m.name},
                       {"message", m.error}}
                      .dump());
      }
    }
    if (!m.error.empty()) text(err_, "twinbox: mailbox " + m.name + " failed: " + m.error);
    const bool changed = m.to[Side::Local].any() || m.to[Side::Remote].any() || m.created;
    const std::string line =
        m.name + (m.created ? " (created)" : "") + ": " + format_counts(m.to);
    if (changed) note(line);
    if (!m.error.empty()) note("mailbox " + m.name + " failed: " + m.error);
    for (const auto& p : m.plan) note(m.name + ": would " + p);
    if (json_ || verbosity_ == Verbosity::Quiet) continue;
    if (changed) text(out_, line);
    if (dry_run && !changed && !m.plan.empty()) text(out_, m.name + ":");
    if (dry_run) {
      for (const auto& p : m.plan) text(out_, "  would " + p);
    }
  }
  for (const auto& p : report.problems) {
    if (json_) {
      json_line(json{{"event", "problem"}, {"mailbox", p.mailbox}, {"message", p.message}}.dump());
    }
    note("mailbox " + p.mailbox + ": " + p.message);
    text(err_, "twinbox: mailbox " + p.mailbox + ": " + p.message);
  }
}

void Reporter::error(const Error& e) {
  const ExitCode code = exit_code_for(e.code);
  if (json_) {
    json_line(json{{"event", "error"},
                   {"scope", to_string(e.scope)},
                   {"kind", to_string(code)},
                   {"code", to_string(e.code)},
                   {"message", e.message}}
                  .dump());
  }
  const std::string line = std::string(to_string(e.code)) + ": " + e.message;
  note("error: " + line);
  text(err_, "twinbox: " + line);
}

void Reporter::summary(const sync::SyncReport* report, bool dry_run, ExitCode exit,
                       std::chrono::steady_clock::duration elapsed) {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  sync::SyncReport empty;
  const sync::SyncReport& r = report != nullptr ? *report : empty;
  const std::uint64_t bytes = r.total[Side::Local].bytes + r.total[Side::Remote].bytes;
  if (json_) {
    json j{{"event", "summary"},
           {"status", to_string(exit)},
           {"exit_code", to_int(exit)},
           {"changed", r.changed()},
           {"dry_run", dry_run},
           {"mailboxes_checked", r.mailboxes_checked},
           {"mailboxes_unchanged", r.mailboxes_skipped_unchanged},
           {"mailboxes_failed", failed_mailboxes(r)},
           {"problems", r.problems.size()},
           {"local", counts_json(r.total[Side::Local])},
           {"remote", counts_json(r.total[Side::Remote])},
           {"bytes", bytes},
           {"commands", json{{"local", r.commands[Side::Local]}, {"remote", r.commands[Side::Remote]}}},
           {"seconds", static_cast<double>(static_cast<long long>(seconds * 1000)) / 1000.0}};
    json_line(j.dump());
  }
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.2f s", seconds);
  if (report == nullptr) {
    note("ended: " + std::string(to_string(exit)) + " (exit status " +
         std::to_string(to_int(exit)) + ") after " + secs);
    return;
  }
  std::string line = std::string(dry_run ? "dry run: " : "synced: ") +
                     std::to_string(r.mailboxes_checked) + " mailboxes checked, " +
                     std::to_string(r.mailboxes_skipped_unchanged) + " unchanged";
  if (r.changed()) {
    line += "; " + format_counts(r.total) + "; " + format_bytes(bytes) + " copied";
  } else if (!dry_run) {
    line += "; nothing to do";
  }
  if (const std::size_t failed = failed_mailboxes(r); failed > 0) {
    line += "; " + std::to_string(failed) + (failed == 1 ? " mailbox" : " mailboxes") +
            " failed (see above; a re-run may help)";
  }
  if (!r.problems.empty()) line += "; " + std::to_string(r.problems.size()) + " mailbox list problem(s)";
  line += "; " + std::string(secs) + (dry_run ? " (nothing was changed)" : "");
  note(line + " [exit status " + std::to_string(to_int(exit)) + "]");
  if (!json_ && verbosity_ != Verbosity::Quiet) text(out_, line);
}

Status open_log_file(Reporter& reporter, const std::string& path, std::optional<LogFile>& slot) {
  if (path.empty()) return {};
  auto opened = LogFile::open(path);
  if (!opened) return opened.error();
  slot.emplace(std::move(*opened));
  reporter.attach_log(&*slot);
  return {};
}

}  // namespace twinbox::cli
