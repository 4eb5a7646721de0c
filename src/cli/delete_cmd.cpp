// `twinbox delete MAILBOX`: DELETE on both sides, then in the state (sync::delete_mailbox);
// refused while either side holds mail the other has not seen, unless --force.

#include <iostream>

#include <twinbox/cli/exit_codes.hpp>
#include <twinbox/sync/admin.hpp>

#include "admin_support.hpp"
#include "commands.hpp"

namespace twinbox::cli {

int delete_command(const DeleteArgs& args) {
  auto config = load_admin_config(args.config);
  if (!config) return report_failure(config.error(), false);
  auto options = admin_engine_options(*config, args.debug);
  if (!options) return report_failure(options.error(), false);
  auto r = sync::delete_mailbox(*options, args.mailbox, args.force, {});
  if (!r) return report_failure(r.error(), false);
  for (Side s : kBothSides) {
    if (r->deleted[s]) {
      std::cout << "deleted " << readable(r->name[s]) << " on the " << to_string(s) << " side ("
                << r->messages[s] << (r->messages[s] == 1 ? " message)" : " messages)") << '\n';
    } else {
      std::cout << "the " << to_string(s) << " side has no mailbox " << args.mailbox << '\n';
    }
  }
  std::cout << (r->state_removed ? "state: mailbox pair removed\n" : "state: it was not synced\n");
  return to_int(ExitCode::Ok);
}

}  // namespace twinbox::cli
