// `twinbox list`: the mailboxes of both sides and how a sync pairs them (sync::list_mailboxes):
// special-use roles, exclusions, and what a sync would create, rename or delete. Changes
// nothing, on the servers or in the state.

#include <iostream>

#include <twinbox/cli/exit_codes.hpp>
#include <twinbox/sync/admin.hpp>

#include "admin_support.hpp"
#include "commands.hpp"

namespace twinbox::cli {
namespace {

using nlohmann::json;

json or_null(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

json side_json(const sync::ListReport& r, Side s) {
  json boxes = json::array();
  for (const auto& m : r.mailboxes[s]) {
    const auto& e = m.entry;
    boxes.push_back(json{{"name", e.name},
                         {"mailbox", m.display},
                         {"special_use", or_null(e.special_use)},
                         {"selectable", e.selectable},
                         {"virtual", e.is_virtual},
                         {"messages", e.messages ? json(*e.messages) : json(nullptr)},
                         {"paired_with", or_null(m.paired_with)},
                         {"excluded", or_null(m.excluded)}});
  }
  return json{{"prefix", r.ns[s].prefix},
              {"delimiter", std::string(1, r.ns[s].delimiter)},
              {"mailboxes", boxes}};
}

json report_json(const sync::ListReport& r) {
  json pairs = json::array();
  for (const auto& p : r.pairs) {
    pairs.push_back(json{{"mailbox", p.display},
                         {"local", p.name[Side::Local]},
                         {"remote", p.name[Side::Remote]},
                         {"special_use", or_null(p.special_use)},
                         {"stored", p.stored},
                         {"create_on", p.create_on ? json(to_string(*p.create_on)) : json(nullptr)}});
  }
  json renames = json::array();
  for (const auto& x : r.renames) {
    renames.push_back(json{{"side", to_string(x.side)}, {"from", x.from}, {"to", x.to}});
  }
  json deletes = json::array();
  for (const auto& x : r.deletes) {
    deletes.push_back(json{{"side", to_string(x.side)}, {"name", x.name}});
  }
  json problems = json::array();
  for (const auto& x : r.problems) {
    problems.push_back(json{{"mailbox", x.mailbox}, {"message", x.message}});
  }
  return json{{"state_found", r.state_found}, {"local", side_json(r, Side::Local)},
              {"remote", side_json(r, Side::Remote)}, {"pairs", pairs}, {"renames", renames},
              {"deletes", deletes}, {"problems", problems}};
}

std::string count_of(const sync::ListReport& r, Side s, const std::string& wire) {
  for (const auto& m : r.mailboxes[s]) {
    if (m.entry.name == wire && m.entry.messages) return std::to_string(*m.entry.messages);
  }
  return "-";
}

void print_text(const sync::ListReport& r) {
  std::cout << "pairs (local <-> remote, messages local/remote):\n";
  for (const auto& p : r.pairs) {
    std::cout << "  " << p.display;
    if (!p.special_use.empty()) std::cout << " (" << p.special_use << ")";
    std::cout << ": " << readable(p.name[Side::Local]) << " <-> " << readable(p.name[Side::Remote]);
    if (p.create_on) {
      std::cout << "  [a sync creates it on the " << to_string(*p.create_on) << " side]";
    } else {
      std::cout << "  " << count_of(r, Side::Local, p.name[Side::Local]) << '/'
                << count_of(r, Side::Remote, p.name[Side::Remote])
                << (p.stored ? "" : "  [new pair: the first sync pairs its messages by content]");
    }
    std::cout << '\n';
  }
  bool header = false;
  for (Side s : kBothSides) {
    for (const auto& m : r.mailboxes[s]) {
      if (m.excluded.empty() || !m.paired_with.empty()) continue;
      if (!header) std::cout << "not synced:\n";
      header = true;
      std::cout << "  " << to_string(s) << ' ' << m.display << ": " << m.excluded << '\n';
    }
  }
  for (const auto& x : r.renames) {
    std::cout << "a sync would rename " << readable(x.from) << " to " << readable(x.to)
              << " on the " << to_string(x.side) << " side\n";
  }
  for (const auto& x : r.deletes) {
    std::cout << "a sync would delete " << readable(x.name) << " on the " << to_string(x.side)
              << " side\n";
  }
  for (const auto& x : r.problems) std::cout << "problem: " << x.mailbox << ": " << x.message << '\n';
  if (!r.state_found) std::cout << "(no state database yet: every pair is new)\n";
}

}  // namespace

int list_command(const ListArgs& args) {
  auto config = load_admin_config(args.config);
  if (!config) return report_failure(config.error(), args.json);
  auto options = admin_engine_options(*config, args.debug);
  if (!options) return report_failure(options.error(), args.json);
  auto report = sync::list_mailboxes(*options);
  if (!report) return report_failure(report.error(), args.json);
  if (args.json) {
    print_json(report_json(*report));
  } else {
    print_text(*report);
  }
  return to_int(ExitCode::Ok);
}

}  // namespace twinbox::cli
