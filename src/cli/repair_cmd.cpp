// `twinbox repair [MAILBOX...]`: compares both sides with the state by content and fixes the
// message pairs (sync::repair). Writes only the state; a later sync does the copying.

#include <iostream>

#include <twinbox/cli/exit_codes.hpp>
#include <twinbox/sync/admin.hpp>

#include "admin_support.hpp"
#include "commands.hpp"

namespace twinbox::cli {
namespace {

using nlohmann::json;

json counts_json(const sync::RepairCounts& c) {
  return json{{"confirmed", c.confirmed}, {"dropped", c.dropped},     {"paired", c.paired},
              {"hashed", c.hashed},       {"one_sided", c.one_sided}, {"ambiguous", c.ambiguous},
              {"intents", c.intents}};
}

std::string counts_text(const sync::RepairCounts& c) {
  std::string out = std::to_string(c.confirmed) + " pairs confirmed, " +
                    std::to_string(c.dropped) + " dropped, " + std::to_string(c.paired) +
                    " paired by content";
  if (c.hashed > 0) out += " (" + std::to_string(c.hashed) + " bodies hashed)";
  out += ", " + std::to_string(c.one_sided) + " without twin";
  if (c.ambiguous > 0) out += ", " + std::to_string(c.ambiguous) + " look-alikes left unpaired";
  if (c.intents > 0) out += ", " + std::to_string(c.intents) + " interrupted copies settled";
  return out;
}

}  // namespace

int repair_command(const RepairArgs& args) {
  auto config = load_admin_config(args.config);
  if (!config) return report_failure(config.error(), args.json);
  auto options = admin_engine_options(*config, args.debug);
  if (!options) return report_failure(options.error(), args.json);
  options->only = args.mailboxes;
  options->dry_run = args.dry_run;
  auto report = sync::repair(*options, [&](std::string_view line) {
    if (!args.json) std::cerr << "twinbox: " << line << '\n';
  });
  if (!report) return report_failure(report.error(), args.json);
  std::size_t skipped = 0;
  json boxes = json::array();
  for (const auto& m : report->mailboxes) {
    skipped += m.skipped.empty() ? 0 : 1;
    if (args.json) {
      json j = counts_json(m.counts);
      j["mailbox"] = m.name;
      j["skipped"] = m.skipped.empty() ? json(nullptr) : json(m.skipped);
      boxes.push_back(std::move(j));
    } else if (m.skipped.empty() && m.counts.changed()) {
      std::cout << m.name << ": " << counts_text(m.counts) << '\n';
    }
  }
  const ExitCode code = skipped > 0 ? ExitCode::Partial : ExitCode::Ok;
  if (args.json) {
    print_json(json{{"dry_run", args.dry_run}, {"mailboxes", boxes},
                    {"total", counts_json(report->total)}, {"skipped", skipped},
                    {"exit_code", to_int(code)}});
    return to_int(code);
  }
  std::cout << (args.dry_run ? "dry run: " : "repaired: ") << report->mailboxes.size() - skipped
            << " of " << report->mailboxes.size() << " mailboxes; " << counts_text(report->total);
  if (report->total.changed()) {
    std::cout << (args.dry_run ? "; nothing was written"
                               : "; run 'twinbox sync' to copy what has no twin and merge flags");
  }
  std::cout << '\n';
  return to_int(code);
}

}  // namespace twinbox::cli
