#pragma once

namespace twinbox::cli {

/// The whole program: parses arguments, runs the command, maps errors to exit codes.
/// Never throws.
int run(int argc, char** argv);

}  // namespace twinbox::cli
