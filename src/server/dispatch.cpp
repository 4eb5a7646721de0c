// Command dispatch by state (RFC 3501 §6) and the commands valid in any state or before
// authentication: CAPABILITY, NOOP, LOGOUT, LOGIN, AUTHENTICATE, ID, ENABLE, NAMESPACE.

#include <algorithm>
#include <array>

#include <twinbox/net/deflate.hpp>

#include "session.hpp"

namespace twinbox::server {
namespace {

/// A transport whose first reads return bytes that were already received: what a client
/// pipelined after COMPRESS DEFLATE is compressed data and must reach the inflater.
class PrefixStream final : public net::Stream {
 public:
  PrefixStream(std::string prefix, net::StreamPtr inner)
      : prefix_(std::move(prefix)), inner_(std::move(inner)) {}
  Result<std::size_t> read_some(char* buf, std::size_t len) override {
    if (pos_ < prefix_.size()) {
      std::size_t n = std::min(len, prefix_.size() - pos_);
      prefix_.copy(buf, n, pos_);
      pos_ += n;
      if (pos_ == prefix_.size()) {
        std::string().swap(prefix_);
        pos_ = 0;
      }
      return n;
    }
    return inner_->read_some(buf, len);
  }
  Result<std::size_t> write_some(const char* buf, std::size_t len) override {
    return inner_->write_some(buf, len);
  }
  Result<bool> flush() override { return inner_->flush(); }
  [[nodiscard]] bool buffered_input() const override {
    return pos_ < prefix_.size() || inner_->buffered_input();
  }
  [[nodiscard]] int fd() const override { return inner_->fd(); }
  [[nodiscard]] short poll_events() const override { return inner_->poll_events(); }
  void close() override { inner_->close(); }
  [[nodiscard]] std::string describe() const override { return inner_->describe(); }
  [[nodiscard]] std::size_t bytes_in() const override { return inner_->bytes_in(); }
  [[nodiscard]] std::size_t bytes_out() const override { return inner_->bytes_out(); }

 private:
  std::string prefix_;
  std::size_t pos_ = 0;
  net::StreamPtr inner_;
};

std::string base64_decode(std::string_view in, bool& ok) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t pad = 0;
  ok = true;
  for (char c : in) {
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad > 0) {
      ok = false;
      return {};
    }
    auto pos = kAlphabet.find(c);
    if (pos == std::string_view::npos) {
      ok = false;
      return {};
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (pad > 2 || (in.size() % 4 != 0)) ok = false;
  return out;
}

enum Need { kAny, kNotAuth, kAuth, kSelected };

struct CommandInfo {
  std::string_view name;
  Need need;
  bool uid_ok;       // has a UID variant
  bool seq_numbers;  // its non-UID form uses sequence numbers: no EXPUNGE during it
  const char* ext;   // capability that must be on, or nullptr
};

constexpr std::array<CommandInfo, 32> kCommands{{
    {"CAPABILITY", kAny, false, false, nullptr},
    {"NOOP", kAny, false, false, nullptr},
    {"LOGOUT", kAny, false, false, nullptr},
    {"ID", kAny, false, false, "ID"},
    {"STARTTLS", kNotAuth, false, false, "STARTTLS"},
    {"LOGIN", kNotAuth, false, false, nullptr},
    {"AUTHENTICATE", kNotAuth, false, false, nullptr},
    {"ENABLE", kAuth, false, false, "ENABLE"},
    {"SELECT", kAuth, false, false, nullptr},
    {"EXAMINE", kAuth, false, false, nullptr},
    {"CREATE", kAuth, false, false, nullptr},
    {"DELETE", kAuth, false, false, nullptr},
    {"RENAME", kAuth, false, false, nullptr},
    {"SUBSCRIBE", kAuth, false, false, nullptr},
    {"UNSUBSCRIBE", kAuth, false, false, nullptr},
    {"LIST", kAuth, false, false, nullptr},
    {"LSUB", kAuth, false, false, nullptr},
    {"STATUS", kAuth, false, false, nullptr},
    {"APPEND", kAuth, false, false, nullptr},
    {"NAMESPACE", kAuth, false, false, "NAMESPACE"},
    {"IDLE", kAuth, false, false, "IDLE"},
    {"NOTIFY", kAuth, false, false, "NOTIFY"},
    {"COMPRESS", kAuth, false, false, "COMPRESS=DEFLATE"},
    {"CHECK", kSelected, false, false, nullptr},
    {"CLOSE", kSelected, false, false, nullptr},
    {"UNSELECT", kSelected, false, false, "UNSELECT"},
    {"EXPUNGE", kSelected, true, false, nullptr},
    {"SEARCH", kSelected, true, true, nullptr},
    {"FETCH", kSelected, true, true, nullptr},
    {"STORE", kSelected, true, true, nullptr},
    {"COPY", kSelected, true, true, nullptr},
    {"MOVE", kSelected, true, true, "MOVE"},
}};

}  // namespace

void Session::dispatch(std::string_view tag, std::string_view name, Cursor& c, bool uid) {
  const CommandInfo* info = nullptr;
  for (const auto& ci : kCommands) {
    if (ci.name == name) info = &ci;
  }
  if (info && info->ext && !core_.has(info->ext)) info = nullptr;
  if (info && info->ext && std::string_view(info->ext) == "COMPRESS=DEFLATE" && !core_.compress_supported())
    info = nullptr;
  if (info && std::string_view(info->name) == "STARTTLS" && !core_.tls_available()) info = nullptr;
  if (!info || (uid && !info->uid_ok)) {
    tagged(tag, "BAD", "Unknown command " + std::string(uid ? "UID " : "") + std::string(name));
    return;
  }
  if (uid && name == "EXPUNGE" && !core_.has("UIDPLUS")) {
    tagged(tag, "BAD", "Unknown command UID EXPUNGE");
    return;
  }
  switch (info->need) {
    case kNotAuth:
      if (state_ != SessionState::NotAuthenticated) {
        tagged(tag, "BAD", std::string(name) + " is only valid before authentication");
        return;
      }
      break;
    case kAuth:
      if (state_ != SessionState::Authenticated && state_ != SessionState::Selected) {
        tagged(tag, "BAD", std::string(name) + " needs authentication first (LOGIN or AUTHENTICATE)");
        return;
      }
      break;
    case kSelected:
      if (state_ != SessionState::Selected) {
        tagged(tag, "BAD", std::string(name) + " needs a selected mailbox (SELECT or EXAMINE first)");
        return;
      }
      break;
    case kAny:
      break;
  }
  bool changes_mailbox = name == "SELECT" || name == "EXAMINE" || name == "CLOSE" ||
                         name == "UNSELECT" || name == "LOGOUT";
  if (selected_ && !changes_mailbox) {
    // Pending updates go out before this command's own responses; EXPUNGE only where
    // RFC 3501 §7.4.1 allows (not during FETCH, STORE, SEARCH, COPY by sequence number).
    bool allow_expunge = uid || !info->seq_numbers;
    if (auto st = absorb(); !st) {
      storage_failure(tag, st.error());
      return;
    }
    if (auto st = deliver(allow_expunge); !st) {
      storage_failure(tag, st.error());
      return;
    }
  }

  if (name == "CAPABILITY") return cmd_capability(tag, c);
  if (name == "NOOP" || name == "CHECK") return cmd_noop(tag, c, name);
  if (name == "LOGOUT") return cmd_logout(tag, c);
  if (name == "ID") return cmd_id(tag, c);
  if (name == "STARTTLS") return cmd_starttls(tag, c);
  if (name == "LOGIN") return cmd_login(tag, c);
  if (name == "AUTHENTICATE") return cmd_authenticate(tag, c);
  if (name == "ENABLE") return cmd_enable(tag, c);
  if (name == "SELECT") return cmd_select(tag, c, false);
  if (name == "EXAMINE") return cmd_select(tag, c, true);
  if (name == "CREATE") return cmd_create(tag, c);
  if (name == "DELETE") return cmd_delete(tag, c);
  if (name == "RENAME") return cmd_rename(tag, c);
  if (name == "SUBSCRIBE") return cmd_subscribe(tag, c, true);
  if (name == "UNSUBSCRIBE") return cmd_subscribe(tag, c, false);
  if (name == "LIST") return cmd_list(tag, c, false);
  if (name == "LSUB") return cmd_list(tag, c, true);
  if (name == "STATUS") return cmd_status(tag, c);
  if (name == "APPEND") return cmd_append(tag, c);
  if (name == "NAMESPACE") return cmd_namespace(tag, c);
  if (name == "IDLE") return cmd_idle(tag, c);
  if (name == "NOTIFY") return cmd_notify(tag, c);
  if (name == "COMPRESS") return cmd_compress(tag, c);
  if (name == "CLOSE") return cmd_close(tag, c, true);
  if (name == "UNSELECT") return cmd_close(tag, c, false);
  if (name == "EXPUNGE") return cmd_expunge(tag, c, uid);
  if (name == "SEARCH") return cmd_search(tag, c, uid);
  if (name == "FETCH") return cmd_fetch(tag, c, uid);
  if (name == "STORE") return cmd_store(tag, c, uid);
  if (name == "COPY") return cmd_copy(tag, c, uid, false);
  if (name == "MOVE") return cmd_copy(tag, c, uid, true);
  tagged(tag, "BAD", "Unknown command " + std::string(name));
}

void Session::cmd_capability(std::string_view tag, Cursor& c) {
  if (!c.end()) return tagged(tag, "BAD", "CAPABILITY takes no arguments");
  untagged("CAPABILITY " + core_.capabilities(state_ != SessionState::NotAuthenticated,
                                                tls_active_, compressed_));
  tagged(tag, "OK", "Capability completed.");
}

void Session::cmd_noop(std::string_view tag, Cursor& c, std::string_view name) {
  if (!c.end()) return tagged(tag, "BAD", std::string(name) + " takes no arguments");
  if (notify_) (void)notify_poll();
  tagged(tag, "OK", name == "NOOP" ? "NOOP completed." : "Check completed.");
}

void Session::cmd_logout(std::string_view tag, Cursor& c) {
  if (!c.end()) return tagged(tag, "BAD", "LOGOUT takes no arguments");
  untagged("BYE Logging out");
  tagged(tag, "OK", "Logout completed.");
  state_ = SessionState::Logout;
  close_after_flush_ = true;
}

void Session::login_done(std::string_view tag, const std::string& user, bool ok, std::string_view how) {
  if (ok) {
    if (auto st = core_.ensure_user_mailboxes(user); !st) return storage_failure(tag, st.error());
    if (!peer_.empty()) core_.auth_throttle().succeeded(peer_);
    user_ = user;
    state_ = SessionState::Authenticated;
    tagged(tag, "OK", "[CAPABILITY " + core_.capabilities(true, tls_active_, compressed_) + "] " +
                          std::string(how) + " completed.");
    return;
  }
  if (!peer_.empty()) (void)core_.auth_throttle().failed(peer_, Clock::now());
  reject_login(tag, "[AUTHENTICATIONFAILED] Authentication failed.");
}

bool Session::address_locked_out(std::string_view tag) {
  if (peer_.empty()) return false;
  auto left = core_.auth_throttle().locked_for(peer_, Clock::now());
  if (left.count() <= 0) return false;
  auto secs = (left.count() + 999) / 1000;
  reject_login(tag, "[UNAVAILABLE] Too many failed logins from " + peer_ + "; try again in " +
                        std::to_string(secs) + " s.");
  return true;
}

void Session::reject_login(std::string_view tag, std::string text) {
  ++auth_failures_;
  // Failed logins are answered late (without blocking other sessions) to slow guessing.
  std::string t(tag);
  bool too_many = auth_failures_ >= core_.options().limits.max_auth_failures;
  paused_until_ = Clock::now() + std::chrono::milliseconds(core_.options().limits.auth_fail_delay_ms);
  after_pause_ = [this, t, text = std::move(text), too_many] {
    tagged(t, "NO", text);
    if (too_many) {
      untagged("BYE Too many failed logins.");
      close_after_flush_ = true;
    }
  };
  if (core_.options().limits.auth_fail_delay_ms <= 0) {
    paused_until_ = {};
    auto f = std::move(after_pause_);
    after_pause_ = nullptr;
    f();
  }
}

void Session::cmd_login(std::string_view tag, Cursor& c) {
  if (!c.sp()) return tagged(tag, "BAD", "LOGIN needs a user name and a password: " + c.error());
  auto user = c.astring();
  if (!user || !c.sp()) return tagged(tag, "BAD", "LOGIN needs a user name and a password: " + c.error());
  auto pass = c.astring();
  if (!pass || !c.end()) return tagged(tag, "BAD", "Invalid LOGIN arguments: " + c.error());
  if (address_locked_out(tag)) return;
  login_done(tag, *user, core_.check_password(*user, *pass), "Login");
}

void Session::cmd_authenticate(std::string_view tag, Cursor& c) {
  if (!c.sp()) return tagged(tag, "BAD", "AUTHENTICATE needs a mechanism");
  auto mech = c.atom();
  if (!mech) return tagged(tag, "BAD", "AUTHENTICATE needs a mechanism");
  if (!iequals(*mech, "PLAIN")) {
    return tagged(tag, "NO", "Unsupported authentication mechanism " + std::string(*mech) +
                                 " (use PLAIN).");
  }
  pending_tag_ = std::string(tag);
  if (c.eat(' ')) {
    if (!core_.has("SASL-IR")) return tagged(tag, "BAD", "SASL-IR is not enabled");
    std::string ir(c.rest());
    continue_authenticate(ir);
    return;
  }
  if (!c.end()) return tagged(tag, "BAD", "Invalid AUTHENTICATE arguments: " + c.error());
  line_mode_ = LineMode::Authenticate;
  send("+ \r\n");
}

void Session::continue_authenticate(std::string_view line) {
  line_mode_ = LineMode::None;
  std::string tag = std::move(pending_tag_);
  if (line == "*") return tagged(tag, "BAD", "Authentication cancelled.");
  bool ok = true;
  std::string decoded = line == "=" ? std::string() : base64_decode(line, ok);
  if (!ok) return tagged(tag, "BAD", "Invalid base64 in the AUTHENTICATE response.");
  // PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd
  auto first = decoded.find('\0');
  auto second = first == std::string::npos ? std::string::npos : decoded.find('\0', first + 1);
  if (second == std::string::npos) {
    return tagged(tag, "BAD", "Malformed PLAIN response (expected authzid NUL user NUL password).");
  }
  std::string authz = decoded.substr(0, first);
  std::string authc = decoded.substr(first + 1, second - first - 1);
  std::string pass = decoded.substr(second + 1);
  if (address_locked_out(tag)) return;
  bool good = core_.check_password(authc, pass) && (authz.empty() || authz == authc);
  login_done(tag, authc, good, "Authenticate");
}

void Session::cmd_starttls(std::string_view tag, Cursor& c) {
  if (!c.end()) return tagged(tag, "BAD", "STARTTLS takes no arguments");
  if (tls_active_) return tagged(tag, "BAD", "TLS is already active");
  tagged(tag, "OK", "Begin TLS negotiation now.");
  // Bytes the client pipelined after STARTTLS were sent in the clear: drop them
  // (response-injection class, RFC 3501 §6.2.1).
  in_.clear();
  after_flush_ = [this] {
    auto tls = core_.tls()->wrap(std::move(stream_));
    if (!tls) {
      closed_ = true;
      return;
    }
    stream_ = std::move(*tls);
    tls_active_ = true;
  };
}

void Session::cmd_compress(std::string_view tag, Cursor& c) {
  if (!c.sp()) return tagged(tag, "BAD", "COMPRESS needs a mechanism");
  auto mech = c.atom();
  if (!mech || !c.end()) return tagged(tag, "BAD", "COMPRESS needs a mechanism");
  if (!iequals(*mech, "DEFLATE")) return tagged(tag, "NO", "Unknown compression mechanism " + std::string(*mech));
  if (compressed_) return tagged(tag, "NO", "[COMPRESSIONACTIVE] DEFLATE is already active");
  tagged(tag, "OK", "DEFLATE active");
  // RFC 4978 §3: our compression starts with the octet after the tagged OK, the client's
  // with the first octet after its COMPRESS command. A client should wait for the OK, but
  // what it pipelined anyway is already compressed: those bytes (read into in_ with the
  // command) go through the inflater first, then the command loop resumes.
  after_flush_ = [this] {
    net::StreamPtr transport = std::move(stream_);
    if (!in_.empty()) transport = std::make_unique<PrefixStream>(std::move(in_), std::move(transport));
    in_.clear();
    auto z = net::wrap_deflate(std::move(transport));
    if (!z) {
      closed_ = true;
      return;
    }
    stream_ = std::move(*z);
    compressed_ = true;
  };
}

void Session::cmd_id(std::string_view tag, Cursor& c) {
  // ID ( "key" "value" ... ) / ID NIL (RFC 2971 §3.1); the client's values are not used.
  if (!c.sp()) return tagged(tag, "BAD", "ID needs a parameter list or NIL");
  if (!c.eat_word("NIL")) {
    if (!c.eat('(')) return tagged(tag, "BAD", "ID needs a parameter list or NIL");
    int n = 0;
    while (!c.eat(')')) {
      if (n > 0 && !c.sp()) return tagged(tag, "BAD", "Invalid ID list: " + c.error());
      auto v = c.nstring();
      if (!v) return tagged(tag, "BAD", "Invalid ID list: " + c.error());
      if (++n > 60) return tagged(tag, "BAD", "ID list too long");
    }
  }
  if (!c.end()) return tagged(tag, "BAD", "Invalid ID arguments: " + c.error());
  untagged("ID (\"name\" \"twinbox\" \"version\" \"0.1\")");
  tagged(tag, "OK", "ID completed.");
}

void Session::cmd_enable(std::string_view tag, Cursor& c) {
  std::string enabled;
  bool any = false;
  while (c.eat(' ')) {
    auto a = c.atom();
    if (!a) return tagged(tag, "BAD", "Invalid ENABLE arguments: " + c.error());
    any = true;
    std::string cap = to_upper(*a);
    if (cap == "CONDSTORE" && core_.has("CONDSTORE")) {
      if (!condstore_enabled_) enabled += " CONDSTORE";
      enable_condstore();
    } else if (cap == "QRESYNC" && core_.has("QRESYNC")) {
      if (!qresync_enabled_) enabled += " QRESYNC";
      qresync_enabled_ = true;
      enable_condstore();
    }
  }
  if (!any || !c.end()) return tagged(tag, "BAD", "ENABLE needs capability names");
  untagged("ENABLED" + enabled);
  tagged(tag, "OK", "Enabled.");
}

void Session::cmd_namespace(std::string_view tag, Cursor& c) {
  if (!c.end()) return tagged(tag, "BAD", "NAMESPACE takes no arguments");
  untagged("NAMESPACE ((\"\" \"/\")) NIL NIL");
  tagged(tag, "OK", "Namespace completed.");
}

void Session::cmd_idle(std::string_view tag, Cursor& c) {
  if (!c.end()) return tagged(tag, "BAD", "IDLE takes no arguments");
  pending_tag_ = std::string(tag);
  line_mode_ = LineMode::Idle;
  send("+ idling\r\n");
  if (selected_) {
    if (absorb()) (void)deliver(true);
  }
  if (notify_) (void)notify_poll();
}

void Session::finish_idle(std::string_view line) {
  line_mode_ = LineMode::None;
  std::string tag = std::move(pending_tag_);
  if (!iequals(line, "DONE")) {
    tagged(tag, "BAD", "Expected DONE to end IDLE");
    return;
  }
  if (selected_ && absorb()) (void)deliver(true);
  tagged(tag, "OK", "Idle completed.");
}

}  // namespace twinbox::server
