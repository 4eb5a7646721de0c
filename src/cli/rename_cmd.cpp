// `twinbox rename OLD NEW`: RENAME on both sides, then in the state (sync::rename_mailbox).

#include <iostream>

#include <twinbox/cli/exit_codes.hpp>
#include <twinbox/sync/admin.hpp>

#include "admin_support.hpp"
#include "commands.hpp"

namespace twinbox::cli {

int rename_command(const RenameArgs& args) {
  auto config = load_admin_config(args.config);
  if (!config) return report_failure(config.error(), false);
  auto options = admin_engine_options(*config, args.debug);
  if (!options) return report_failure(options.error(), false);
  auto r = sync::rename_mailbox(*options, args.from, args.to, {});
  if (!r) return report_failure(r.error(), false);
  for (Side s : kBothSides) {
    if (r->renamed[s]) {
      std::cout << "renamed " << readable(r->from[s]) << " to " << readable(r->to[s]) << " on the "
                << to_string(s) << " side\n";
    } else if (r->already[s]) {
      std::cout << "the " << to_string(s) << " side was renamed already (by an earlier run)\n";
    } else {
      std::cout << "the " << to_string(s) << " side has no mailbox " << args.from << '\n';
    }
  }
  std::cout << "state: " << r->state_pairs << " mailbox pair" << (r->state_pairs == 1 ? "" : "s")
            << " renamed\n";
  return to_int(ExitCode::Ok);
}

}  // namespace twinbox::cli
