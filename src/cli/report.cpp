#include "report.hpp"

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

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

void Reporter::json_line(const std::string& line) { out_ << line << '\n' << std::flush; }

void Reporter::log(std::string_view line, bool dry_run) {
  if (json_) {
    json_line(json{{"event", "log"}, {"message", line}}.dump());
  } else if (verbosity_ == Verbosity::Verbose || (dry_run && verbosity_ != Verbosity::Quiet)) {
    out_ << line << '\n' << std::flush;
  }
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
                       {"mailbox", m.name},
                       {"message", m.error}}
                      .dump());
      }
    }
    if (!m.error.empty()) {
      err_ << "twinbox: mailbox " << m.name << " failed: " << m.error << '\n';
    }
    if (json_) continue;
    if (verbosity_ == Verbosity::Quiet) continue;
    if (m.to[Side::Local].any() || m.to[Side::Remote].any() || m.created) {
      out_ << m.name << (m.created ? " (created)" : "") << ": " << format_counts(m.to) << '\n';
    }
    if (dry_run) {
      for (const auto& p : m.plan) out_ << "  would " << p << '\n';
    }
  }
  for (const auto& p : report.problems) {
    if (json_) {
      json_line(json{{"event", "problem"}, {"mailbox", p.mailbox}, {"message", p.message}}.dump());
    }
    err_ << "twinbox: mailbox " << p.mailbox << ": " << p.message << '\n';
  }
  out_ << std::flush;
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
  err_ << "twinbox: " << to_string(e.code) << ": " << e.message << '\n' << std::flush;
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
    return;
  }
  if (verbosity_ == Verbosity::Quiet || report == nullptr) return;
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.2f s", seconds);
  out_ << (dry_run ? "dry run: " : "synced: ") << r.mailboxes_checked << " mailboxes checked, "
       << r.mailboxes_skipped_unchanged << " unchanged";
  if (r.changed()) {
    out_ << "; " << format_counts(r.total) << "; " << format_bytes(bytes) << " copied";
  } else if (!dry_run) {
    out_ << "; nothing to do";
  }
  if (const std::size_t failed = failed_mailboxes(r); failed > 0) {
    out_ << "; " << failed << (failed == 1 ? " mailbox" : " mailboxes")
         << " failed (see above; a re-run may help)";
  }
  if (!r.problems.empty()) out_ << "; " << r.problems.size() << " mailbox list problem(s)";
  out_ << "; " << secs << (dry_run ? " (nothing was changed)" : "") << '\n' << std::flush;
}

}  // namespace twinbox::cli
