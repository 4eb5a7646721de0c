#include "support/scripted_stream.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

namespace twinbox::test {

ScriptedStream::ScriptedStream(std::string_view script, std::size_t max_read)
    : max_read_(max_read) {
  append(script);
}

std::string ScriptedStream::load(const std::string& path) {
  std::string full = path;
#ifdef TWINBOX_SOURCE_DIR
  if (!path.empty() && path[0] != '/') full = std::string(TWINBOX_SOURCE_DIR) + "/" + path;
#endif
  std::ifstream f(full, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void ScriptedStream::append(std::string_view script) {
  std::size_t i = 0;
  while (i <= script.size()) {
    std::size_t nl = script.find('\n', i);
    if (nl == std::string_view::npos) nl = script.size();
    std::string_view line = script.substr(i, nl - i);
    i = nl + 1;
    ++lines_parsed_;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string_view trimmed = line;
    while (!trimmed.empty() && (trimmed.front() == ' ' || trimmed.front() == '\t')) {
      trimmed.remove_prefix(1);
    }
    if (trimmed.empty() || trimmed.front() == '#' || trimmed.front() == '@') continue;
    Step s{Step::Server, "", lines_parsed_};
    if (trimmed == "X") {
      s.kind = Step::Close;
    } else if (trimmed.size() >= 2 && (trimmed.substr(0, 2) == "S:" || trimmed.substr(0, 2) == "C:" ||
                                       trimmed.substr(0, 2) == "C~")) {
      std::string_view rest = trimmed.substr(2);
      if (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      s.text = std::string(rest);
      s.kind = trimmed[0] == 'S' ? Step::Server : trimmed[1] == '~' ? Step::ClientRegex : Step::Client;
    } else {
      error_ = "script line " + std::to_string(lines_parsed_) + " not understood: " + std::string(line);
      continue;
    }
    steps_.push_back(std::move(s));
  }
  advance();
}

void ScriptedStream::advance() {
  while (pos_ < steps_.size()) {
    const Step& s = steps_[pos_];
    if (s.kind == Step::Server) {
      in_ += s.text + "\r\n";
    } else if (s.kind == Step::Close) {
      eof_ = true;
    } else {
      break;
    }
    ++pos_;
  }
}

bool ScriptedStream::match(const Step& s, const std::string& line) const {
  if (s.kind == Step::ClientRegex) {
    return std::regex_match(line, std::regex(s.text, std::regex::ECMAScript));
  }
  if (s.text.size() >= 3 && s.text.compare(s.text.size() - 3, 3, "...") == 0) {
    std::string prefix = s.text.substr(0, s.text.size() - 3);
    return line.compare(0, prefix.size(), prefix) == 0;
  }
  return line == s.text;
}

Result<std::size_t> ScriptedStream::read_some(char* buf, std::size_t len) {
  if (closed_) return fail(Errc::Closed, Scope::Connection, "scripted stream closed");
  if (in_.empty()) {
    if (eof_) return fail(Errc::Closed, Scope::Connection, "end of stream");
    return std::size_t{0};
  }
  std::size_t n = std::min(len, in_.size());
  if (max_read_ > 0) n = std::min(n, max_read_);
  std::memcpy(buf, in_.data(), n);
  in_.erase(0, n);
  return n;
}

Result<std::size_t> ScriptedStream::write_some(const char* buf, std::size_t len) {
  if (closed_) return fail(Errc::Closed, Scope::Connection, "scripted stream closed");
  if (!error_.empty()) return fail(Errc::Protocol, Scope::Connection, error_);
  all_written_.append(buf, len);
  partial_.append(buf, len);
  std::size_t nl;
  while ((nl = partial_.find('\n')) != std::string::npos) {
    std::string line = partial_.substr(0, nl);
    partial_.erase(0, nl + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (pos_ >= steps_.size()) {
      error_ = "client wrote '" + line + "' after the end of the script";
      return fail(Errc::Protocol, Scope::Connection, error_);
    }
    const Step& s = steps_[pos_];
    if (!match(s, line)) {
      error_ = "script line " + std::to_string(s.line) + ": expected " +
               (s.kind == Step::Close ? std::string("the server to close")
                                      : "'C: " + s.text + "'") +
               ", client wrote '" + line + "'";
      return fail(Errc::Protocol, Scope::Connection, error_);
    }
    ++pos_;
    advance();
  }
  return len;
}

bool ScriptedStream::finished() const { return pos_ >= steps_.size() && in_.empty(); }

std::string ScriptedStream::next_step() const {
  if (pos_ >= steps_.size()) return in_.empty() ? "" : "unread server bytes: " + in_;
  const Step& s = steps_[pos_];
  return "line " + std::to_string(s.line) + ": " + (s.kind == Step::Client ? "C: " : "C~ ") + s.text;
}

}  // namespace twinbox::test
