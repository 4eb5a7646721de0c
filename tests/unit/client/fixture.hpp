#pragma once
// Shared fixture of the client unit tests: a Session over a ScriptedStream.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <twinbox/client/session.hpp>

#include "support/scripted_stream.hpp"

namespace twinbox::client::test {

inline Deadline soon() { return net::deadline_in(std::chrono::seconds(2)); }

struct Scripted {
  explicit Scripted(std::string_view script, SessionOptions o = {}, std::size_t max_read = 0) {
    auto s = std::make_unique<twinbox::test::ScriptedStream>(script, max_read);
    stream = s.get();
    o.trace = [this](std::string_view line) { trace.emplace_back(line); };
    session = std::make_unique<Session>(std::move(s), std::move(o));
  }
  /// Session options for a TLS connection (PREAUTH accepted).
  static SessionOptions secure() {
    SessionOptions o;
    o.secure_transport = true;
    return o;
  }
  [[nodiscard]] bool finished() const { return stream->finished(); }
  [[nodiscard]] std::string diag() const {
    std::string s = "next step: " + stream->next_step() + "\nstream error: " + stream->error() +
                    "\ntrace:\n";
    for (auto& l : trace) s += "  " + l + "\n";
    return s;
  }
  [[nodiscard]] std::string all_trace() const {
    std::string s;
    for (auto& l : trace) s += l + "\n";
    return s;
  }
  twinbox::test::ScriptedStream* stream = nullptr;
  std::vector<std::string> trace;
  std::unique_ptr<Session> session;
};

/// Greets and logs in with the PREAUTH greeting of a scripted secure server whose
/// capabilities are `caps`.
inline std::string preauth(std::string_view caps) {
  return "S: * PREAUTH [CAPABILITY IMAP4rev1 " + std::string(caps) + "] ready\n";
}

}  // namespace twinbox::client::test
