#include <iostream>

#include <CLI/CLI.hpp>

#include <twinbox/cli/cli.hpp>

namespace twinbox::cli {

int run(int argc, char** argv) {
  CLI::App app{"twinbox: fast, safe, bidirectional IMAP-to-IMAP synchronizer", "twinbox"};
  app.set_version_flag("-V,--version", std::string("twinbox ") + TWINBOX_VERSION);
  app.require_subcommand(0, 1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (app.get_subcommands().empty()) {
    std::cout << app.help();
  }
  return 0;
}

}  // namespace twinbox::cli
