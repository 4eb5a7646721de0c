#pragma once
/// Tests that read the man pages of man/ (the --json schema, the config examples) see their
/// lines as man(1) shows them: roff_text() undoes the escapes those pages use.
#include <string>
#include <utility>
#include <vector>

namespace twinbox::test {

/// `line` with \(dq \- \e \(en \& \fB \fR replaced by what they print.
inline std::string roff_text(std::string line) {
  // \e last: the backslash it prints must not start another escape.
  static const std::vector<std::pair<std::string, std::string>> escapes{
      {"\\(dq", "\""}, {"\\(en", "-"}, {"\\-", "-"},  {"\\&", ""},
      {"\\fB", ""},    {"\\fR", ""},   {"\\e", "\\"}};
  for (const auto& [from, to] : escapes) {
    for (auto at = line.find(from); at != std::string::npos; at = line.find(from, at + to.size())) {
      line.replace(at, from.size(), to);
    }
  }
  return line;
}

}  // namespace twinbox::test
