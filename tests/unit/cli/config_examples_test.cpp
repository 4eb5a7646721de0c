// The configuration examples users copy: every complete file in twinbox.conf(5) EXAMPLES,
// the one-line example of each key in its ENDPOINT KEYS and SYNC KEYS sections, and the
// ```ini quick-start files of README.md, read from the source tree at test time and given to
// the config loader (parse_config: the same code as `twinbox sync --config`, without
// connecting). Also checks what the README promises: every documented key states its type
// and default and has an example line; and it appears in a complete example.

#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <twinbox/cli/config.hpp>

#include "support/roff.hpp"

using namespace twinbox;

namespace {

std::string read_source(const std::string& relative) {
  std::ifstream in(std::string(TWINBOX_SOURCE_DIR) + "/" + relative);
  REQUIRE_MESSAGE(in.good(), "cannot read " << relative);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

/// The key a config line sets ("" for comments, section headers and blank lines).
std::string key_of(const std::string& line) {
  static const std::regex assignment(R"(^([a-z0-9_]+) *=.*$)");
  std::smatch m;
  return std::regex_match(line, m, assignment) ? m[1].str() : "";
}

struct ManPage {
  std::vector<std::string> keys;                 ///< in the order documented
  std::map<std::string, std::string> text;       ///< key -> its description (roff source)
  std::map<std::string, std::string> examples;   ///< key -> its "Example:" line
  std::vector<std::string> files;                ///< the .nf blocks of EXAMPLES
};

ManPage read_conf5() {
  ManPage page;
  const auto lines = lines_of(read_source("man/twinbox.conf.5"));
  std::string section, key, file;
  bool in_file = false;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (l.rfind(".SH ", 0) == 0) section = l.substr(4);
    const bool key_section = section == "ENDPOINT KEYS" || section == "SYNC KEYS";
    if (key_section && l == ".TP" && i + 1 < lines.size() && lines[i + 1].rfind(".B ", 0) == 0) {
      key = lines[i + 1].substr(3);
      page.keys.push_back(key);
    } else if (key_section && !key.empty() && l.rfind(".SH ", 0) != 0) {
      page.text[key] += l + "\n";
    }
    if (key_section && l == "Example:" && i + 2 < lines.size()) {
      // ".B key = value", or (too long to fill) the line of a ".nf" block.
      const std::string& e = lines[i + 1] == ".nf" ? lines[i + 2] : lines[i + 1];
      page.examples[key] = test::roff_text(e.substr(e.rfind(".B ", 0) == 0 ? 3 : 0));
    } else if (section == "EXAMPLES" && (l == ".nf" || l == ".fi")) {
      if (l == ".fi") page.files.push_back(file);
      in_file = l == ".nf";
      file.clear();
    } else if (in_file) {
      file += test::roff_text(l) + "\n";
    }
  }
  return page;
}

/// The ```ini blocks of README.md.
std::vector<std::string> readme_files() {
  std::vector<std::string> files;
  std::string file;
  bool in_file = false;
  for (const auto& l : lines_of(read_source("README.md"))) {
    if (l == "```ini") {
      in_file = true;
      file.clear();
    } else if (in_file && l == "```") {
      files.push_back(file);
      in_file = false;
    } else if (in_file) {
      file += l + "\n";
    }
  }
  return files;
}

/// Empty when `text` is accepted by the config loader, else its error message.
std::string rejection(const std::string& text, const std::string& origin) {
  auto config = cli::parse_config(text, origin);
  return config.has_value() ? "" : config.error().message;
}

TEST_CASE("twinbox.conf(5): every key has an example line and is used in a complete example") {
  const ManPage page = read_conf5();
  REQUIRE(page.keys.size() >= 20);  // the page was read
  REQUIRE(page.files.size() >= 5);
  for (const auto& key : page.keys) {
    INFO("key " << key);
    const auto example = page.examples.find(key);
    REQUIRE_MESSAGE(example != page.examples.end(), "no 'Example:' line for " << key);
    CHECK_MESSAGE(key_of(example->second) == key, example->second);
    bool used = false;
    for (const auto& file : page.files) {
      for (const auto& line : lines_of(file)) used = used || key_of(line) == key;
    }
    CHECK_MESSAGE(used, key << " appears in no complete example of EXAMPLES");
  }
}

TEST_CASE("twinbox.conf(5): every key states its type and its default (or that it is required)") {
  // The type opens the description: a word, or the allowed values ".BR a \" | \" b".
  static const std::regex type(
      R"(^\.B [a-z0-9_]+\n((String|Integer|Boolean|List|Path)\b|\.BR .*" \| "))");
  const ManPage page = read_conf5();
  for (const auto& key : page.keys) {
    const std::string& text = page.text.at(key);
    CHECK_MESSAGE(std::regex_search(text, type), key << ":\n" << text);
    const bool stated = text.find("Default") != std::string::npos ||
                        text.find("Required") != std::string::npos;
    CHECK_MESSAGE(stated, key << " states no default:\n" << text);
  }
}

TEST_CASE("twinbox.conf(5): every complete example is accepted by the config loader") {
  const ManPage page = read_conf5();
  for (std::size_t i = 0; i < page.files.size(); ++i) {
    const std::string origin = "twinbox.conf.5 example " + std::to_string(i + 1);
    const std::string why = rejection(page.files[i], origin);
    CHECK_MESSAGE(why.empty(), why << "\n" << page.files[i]);
  }
}

TEST_CASE("twinbox.conf(5): each key's example line is accepted where that key is used") {
  // Put in place of the key's line in a complete example that sets the key, so the line is
  // read in a context where it applies (command = needs a tunnel, tls = an imap side): it
  // must be accepted in at least one of them.
  const ManPage page = read_conf5();
  for (const auto& [key, example] : page.examples) {
    INFO(example);
    std::size_t contexts = 0;
    std::string why = "set in no complete example";
    for (const auto& file : page.files) {
      std::string edited;
      bool replaced = false;
      for (const auto& line : lines_of(file)) {
        const bool here = !replaced && key_of(line) == key;
        edited += (here ? example : line) + "\n";
        replaced = replaced || here;
      }
      if (!replaced) continue;
      ++contexts;
      why = rejection(edited, "twinbox.conf.5 example of " + key);
      if (why.empty()) break;
      why += "\n" + edited;
    }
    CHECK_MESSAGE(why.empty(), key << " (tried in " << contexts << " examples): " << why);
  }
}

TEST_CASE("README.md: the quick-start config files are accepted and use documented keys") {
  const auto files = readme_files();
  const ManPage page = read_conf5();
  REQUIRE(files.size() >= 3);
  for (std::size_t i = 0; i < files.size(); ++i) {
    const std::string why = rejection(files[i], "README.md config " + std::to_string(i + 1));
    CHECK_MESSAGE(why.empty(), why << "\n" << files[i]);
    for (const auto& line : lines_of(files[i])) {
      const std::string key = key_of(line);
      if (key.empty()) continue;
      CHECK_MESSAGE(page.examples.count(key) == 1, key << " is not documented in twinbox.conf(5)");
    }
  }
}

}  // namespace
