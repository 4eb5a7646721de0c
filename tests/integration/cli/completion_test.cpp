// The shell completions of completion/ loaded in their shells and asked for matches: commands,
// options, option values and config-file paths (from $XDG_CONFIG_HOME/twinbox and ordinary
// paths). bash and fish complete on request (`_twinbox` with COMP_WORDS, `complete -C`); zsh
// only completes inside its line editor, so zsh-complete.zsh drives an interactive zsh in a
// pseudo-terminal.

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "process.hpp"

namespace twinbox::test {
namespace {

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

/// Whether `shell` is installed. Without it the test is skipped, except under CI (set by
/// scripts/test.sh, which installs zsh and fish), where a missing shell fails it.
bool have_shell(const char* shell) {
  if (run_program({"sh", "-c", std::string("command -v ") + shell}).status == 0) return true;
  const char* ci = std::getenv("CI");
  if (ci != nullptr && *ci != '\0') {
    FAIL_CHECK(shell << " is not installed, and CI is set: its completion must be tested");
  } else {
    MESSAGE(shell << " not installed: its completion is not tested");
  }
  return false;
}

/// Config files to complete: one in $XDG_CONFIG_HOME/twinbox, one in the temp dir itself.
struct ConfigFiles {
  ConfigFiles() {
    REQUIRE(::mkdir((dir.path + "/xdg").c_str(), 0700) == 0);
    REQUIRE(::mkdir((dir.path + "/xdg/twinbox").c_str(), 0700) == 0);
    in_xdg = dir.write("xdg/twinbox/work.conf", "");
    beside = dir.write("mine.conf", "");
  }
  TempDir dir;
  std::string in_xdg, beside;
  [[nodiscard]] std::vector<std::string> env() const {
    return {"XDG_CONFIG_HOME=" + dir.path + "/xdg"};
  }
};

TEST_CASE("bash completion: commands, options, extension names, config files") {
  const std::string script = std::string(TWINBOX_COMPLETION_DIR) + "/twinbox.bash";
  ConfigFiles files;
  // Each call prints its COMPREPLY on one line.
  auto complete = [&](const std::string& words, int cword) {
    auto r = run_program({"bash", "-c",
                          "source " + script + " && COMP_WORDS=(" + words + ") && COMP_CWORD=" +
                              std::to_string(cword) + " && _twinbox && echo \"${COMPREPLY[*]}\""},
                         std::chrono::seconds(30), files.env());
    CHECK_MESSAGE(r.status == 0, r.err);
    return r.out;
  };
  CHECK(complete("twinbox sy", 1) == "sync\n");
  CHECK(contains(complete("twinbox serve --dis", 2), "--disable"));
  CHECK(complete("twinbox serve --disable SEA", 3) == "SEARCHRES\n");
  CHECK(contains(complete("twinbox sync --config ''", 3), files.in_xdg));
  CHECK(complete("twinbox check -c " + files.dir.path + "/mi", 3) == files.beside + "\n");
  auto p = run_program({"bash", "-c", "source " + script + " && complete -p twinbox"});
  CHECK(contains(p.out, "complete -F _twinbox twinbox"));
}

TEST_CASE("zsh completion: asked for matches in an interactive zsh (zpty)") {
  if (!have_shell("zsh")) return;
  ConfigFiles files;
  // tests/integration/cli/zsh-complete.zsh prints the matches of the line, one per line.
  auto complete = [&](const std::string& line) {
    auto r = run_program({"zsh", "-f", std::string(TWINBOX_SOURCE_DIR) +
                                           "/tests/integration/cli/zsh-complete.zsh",
                          TWINBOX_COMPLETION_DIR, line},
                         std::chrono::seconds(60), files.env());
    CHECK_MESSAGE(r.status == 0, line << ": " << r.err);
    return lines_of(r.out);
  };
  auto has = [](const std::vector<std::string>& matches, const std::string& m) {
    return std::find(matches.begin(), matches.end(), m) != matches.end();
  };
  const auto commands = complete("twinbox s");
  for (const char* cmd : {"sync", "serve", "status"}) CHECK_MESSAGE(has(commands, cmd), cmd);
  CHECK(!has(commands, "watch"));
  CHECK(complete("twinbox sync --dr") == std::vector<std::string>{"--dry-run"});
  CHECK(complete("twinbox serve --disable SEA") == std::vector<std::string>{"SEARCHRES"});
  CHECK(has(complete("twinbox sync --config "), "work.conf"));
  CHECK(has(complete("twinbox check --config " + files.dir.path + "/mi"), "mine.conf"));
}

TEST_CASE("fish completion: commands, options, config files") {
  if (!have_shell("fish")) return;
  ConfigFiles files;
  auto complete = [&](const std::string& line) {
    auto f = run_program({"fish", "--no-config", "-c",
                          "source " + std::string(TWINBOX_COMPLETION_DIR) +
                              "/twinbox.fish; complete -C '" + line + "'"},
                         std::chrono::seconds(30), files.env());
    CHECK_MESSAGE(f.status == 0, f.err);
    return f.out;
  };
  CHECK(contains(complete("twinbox sy"), "sync"));
  CHECK(contains(complete("twinbox sync --dr"), "--dry-run"));
  CHECK(contains(complete("twinbox serve --disable SEA"), "SEARCHRES"));
  CHECK(contains(complete("twinbox sync --config "), files.in_xdg));
  CHECK(contains(complete("twinbox check -c " + files.dir.path + "/mi"), files.beside));
}

}  // namespace
}  // namespace twinbox::test
