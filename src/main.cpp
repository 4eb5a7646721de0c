#include <twinbox/cli/cli.hpp>

int main(int argc, char** argv) { return twinbox::cli::run(argc, argv); }
