#pragma once
/// ScriptedStream: a net::Stream that plays the server side of a script in the .imap format
/// of STYLE.md with the roles swapped (the client engine is under test):
///
///   # comment                     ignored, as are blank lines and @directives
///   S: * OK [CAPABILITY IMAP4rev1] hi     a line the "server" sends (CRLF appended)
///   C: a1 LOGIN alice <secret>            a line the client must write next, exactly;
///                                         a trailing "..." matches any rest of the line
///   C~ ^a2 UID FETCH \d+ .*               a line matched by an ECMAScript regex
///   X                                     the server closes the connection (EOF)
///
/// Server lines are released as soon as every client line before them was written, so a
/// script that lists two C: lines before the first S: proves the client pipelined them.
/// A client line that does not match makes write_some() fail with Errc::Protocol naming the
/// script line, the expected and the actual text. No fd (fd() == -1), no threads, no sleeps:
/// Session::pump() reports "no progress" at once when the script waits for the client.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <twinbox/net/stream.hpp>

namespace twinbox::test {

class ScriptedStream : public net::Stream {
 public:
  /// `max_read` splits server bytes into reads of at most that size (exercises incremental
  /// parsing); 0 = everything available at once.
  explicit ScriptedStream(std::string_view script, std::size_t max_read = 0);
  /// Reads a script file (path relative to the source tree when not absolute).
  static std::string load(const std::string& path);

  Result<std::size_t> read_some(char* buf, std::size_t len) override;
  Result<std::size_t> write_some(const char* buf, std::size_t len) override;
  Result<bool> flush() override { return true; }
  [[nodiscard]] bool buffered_input() const override { return !in_.empty() || eof_; }
  [[nodiscard]] int fd() const override { return -1; }
  [[nodiscard]] short poll_events() const override { return 1; /* POLLIN */ }
  void close() override { closed_ = true; }
  [[nodiscard]] std::string describe() const override { return "scripted server"; }

  /// True when every script step was played and the client read all server bytes.
  [[nodiscard]] bool finished() const;
  /// What is left: the next expected step, or "".
  [[nodiscard]] std::string next_step() const;
  /// Everything the client wrote, raw.
  [[nodiscard]] const std::string& written() const { return all_written_; }
  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] bool closed() const { return closed_; }

  /// Appends more script (for tests that interleave API calls and script).
  void append(std::string_view script);

 private:
  struct Step {
    enum Kind { Client, ClientRegex, Server, Close } kind;
    std::string text;
    int line = 0;
  };
  void advance();
  bool match(const Step& s, const std::string& line) const;

  std::vector<Step> steps_;
  std::size_t pos_ = 0;
  int lines_parsed_ = 0;
  std::string in_;
  std::string partial_;  // client bytes without a newline yet
  std::string all_written_;
  std::string error_;
  std::size_t max_read_ = 0;
  bool eof_ = false;
  bool closed_ = false;
};

}  // namespace twinbox::test
