// `twinbox status`: what the state database says about each mailbox pair. Reads the state
// read-only, without the run lock (a running sync is neither waited for nor disturbed) and
// without any network access.

#include <iostream>

#include <twinbox/cli/exit_codes.hpp>
#include <twinbox/state/store.hpp>

#include "admin_support.hpp"
#include "commands.hpp"

namespace twinbox::cli {
namespace {

using nlohmann::json;

json per_side_time(const state::MailboxPair& m) {
  json j = json::object();
  for (Side s : kBothSides) {
    const auto t = m.side[s].last_sync;
    j[std::string(to_string(s))] = t == 0 ? json(nullptr) : json(t);
  }
  return j;
}

json mailbox_json(const state::MailboxSummary& m) {
  json problems = json::object();
  json uidvalidity = json::object();
  for (Side s : kBothSides) {
    const auto& p = m.pair.side[s].problem;
    problems[std::string(to_string(s))] = p.empty() ? json(nullptr) : json(p);
    uidvalidity[std::string(to_string(s))] = m.pair.side[s].uidvalidity.value;
  }
  return json{{"mailbox", readable(m.pair.name[Side::Local])},
              {"local", m.pair.name[Side::Local]},
              {"remote", m.pair.name[Side::Remote]},
              {"special_use", m.pair.special_use},
              {"messages", m.messages},
              {"half_pairs", m.half_pairs},
              {"pending_intents", m.intents},
              {"last_sync", per_side_time(m.pair)},
              {"uidvalidity", uidvalidity},
              {"problems", problems}};
}

void print_text(const state::StateSummary& s) {
  std::cout << "state: " << s.path << " (schema " << s.schema_version << ", "
            << s.mailboxes.size() << (s.mailboxes.size() == 1 ? " mailbox pair)" : " mailbox pairs)")
            << '\n';
  for (const auto& m : s.mailboxes) {
    const auto& p = m.pair;
    const std::string local = readable(p.name[Side::Local]);
    const std::string remote = readable(p.name[Side::Remote]);
    std::cout << local;
    if (!p.special_use.empty()) std::cout << " (" << p.special_use << ")";
    if (local != remote) std::cout << " <-> remote " << remote;
    std::cout << ": " << m.messages << (m.messages == 1 ? " message" : " messages")
              << ", last sync "
              << format_time(std::min(p.side[Side::Local].last_sync, p.side[Side::Remote].last_sync));
    if (m.half_pairs > 0) std::cout << ", " << m.half_pairs << " waiting to be re-paired or copied";
    if (m.intents > 0) {
      std::cout << ", " << m.intents << " interrupted " << (m.intents == 1 ? "copy" : "copies")
                << " (the next sync resolves " << (m.intents == 1 ? "it" : "them") << ")";
    }
    std::cout << '\n';
    for (Side side : kBothSides) {
      if (!p.side[side].problem.empty()) {
        std::cout << "  problem on the " << to_string(side) << " side: " << p.side[side].problem << '\n';
      }
    }
  }
}

}  // namespace

int status_command(const StatusArgs& args) {
  auto config = load_admin_config(args.config);
  if (!config) return report_failure(config.error(), args.json);
  const std::string& path = config->sync.state_path;
  auto summary = state::read_summary(path);
  if (!summary && summary.error().code == Errc::NotFound) {
    if (args.json) {
      print_json(json{{"state", path}, {"exists", false}, {"schema_version", nullptr},
                      {"mailboxes", json::array()},
                      {"totals", {{"mailboxes", 0}, {"messages", 0}, {"pending_intents", 0}, {"problems", 0}}}});
    } else {
      std::cout << "state: " << path << " does not exist: nothing has been synced with this "
                << "config yet (run 'twinbox sync')\n";
    }
    return to_int(ExitCode::Ok);
  }
  if (!summary) return report_failure(summary.error(), args.json);
  if (!args.json) {
    print_text(*summary);
    return to_int(ExitCode::Ok);
  }
  json boxes = json::array();
  std::size_t messages = 0, intents = 0, problems = 0;
  for (const auto& m : summary->mailboxes) {
    boxes.push_back(mailbox_json(m));
    messages += m.messages;
    intents += m.intents;
    for (Side s : kBothSides) problems += m.pair.side[s].problem.empty() ? 0 : 1;
  }
  print_json(json{{"state", path}, {"exists", true}, {"schema_version", summary->schema_version},
                  {"mailboxes", boxes},
                  {"totals", {{"mailboxes", summary->mailboxes.size()}, {"messages", messages},
                              {"pending_intents", intents}, {"problems", problems}}}});
  return to_int(ExitCode::Ok);
}

}  // namespace twinbox::cli
