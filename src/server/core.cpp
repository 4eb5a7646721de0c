#include "core.hpp"

#include <algorithm>

#include "wire.hpp"

namespace twinbox::server {
namespace {

AuthThrottleLimits throttle_limits(const Limits& l) {
  using std::chrono::milliseconds;
  return AuthThrottleLimits{l.auth_lockout_after, milliseconds(l.auth_lockout_ms),
                            milliseconds(l.auth_max_lockout_ms), milliseconds(l.auth_window_ms),
                            l.auth_max_addresses};
}

}  // namespace

ServerCore::ServerCore(Options options, std::unique_ptr<Storage> storage)
    : options_(std::move(options)),
      storage_(std::move(storage)),
      auth_throttle_(throttle_limits(options_.limits)) {
  for (const auto& u : options_.users) users_[u.name] = u.password;
  for (const auto& d : options_.disabled) disabled_.insert(to_upper(d));
  // Dependencies between extensions: QRESYNC needs CONDSTORE and ENABLE (RFC 7162 §3.2.3),
  // LIST-STATUS needs LIST-EXTENDED (RFC 5819 §1), CREATE-SPECIAL-USE needs SPECIAL-USE.
  if (disabled_.count("CONDSTORE") || disabled_.count("ENABLE")) disabled_.insert("QRESYNC");
  if (disabled_.count("LIST-EXTENDED")) disabled_.insert("LIST-STATUS");
  if (disabled_.count("SPECIAL-USE")) disabled_.insert("CREATE-SPECIAL-USE");
  if (disabled_.count("ESEARCH")) disabled_.insert("SEARCHRES");  // RFC 5182 §1
}

const std::vector<std::string_view>& ServerCore::switchable_extensions() {
  // Every name capabilities() can announce (AUTH=PLAIN and CHILDREN are always on).
  static const std::vector<std::string_view> names = {
      "SASL-IR", "LITERAL+", "ID", "ENABLE", "IDLE", "STARTTLS", "NAMESPACE", "UNSELECT",
      "UIDPLUS", "MOVE", "CONDSTORE", "QRESYNC", "ESEARCH", "SEARCHRES", "LIST-EXTENDED",
      "LIST-STATUS", "SPECIAL-USE", "CREATE-SPECIAL-USE", "MULTIAPPEND", "COMPRESS=DEFLATE",
      "NOTIFY", "OBJECTID"};
  return names;
}

Status ServerCore::check_disabled(const std::set<std::string>& disabled) {
  const auto& known = switchable_extensions();
  for (const auto& d : disabled) {
    if (std::find(known.begin(), known.end(), to_upper(d)) != known.end()) continue;
    std::string list;
    for (auto k : known) list += (list.empty() ? "" : " ") + std::string(k);
    return fail(Errc::Config, Scope::Fatal,
                "cannot switch off '" + d + "': no such extension (known, in any case: " + list +
                    ")");
  }
  return {};
}

bool ServerCore::has(std::string_view name) const { return disabled_.find(name) == disabled_.end(); }

std::string ServerCore::capabilities(bool authenticated, bool tls_active, bool compressed) const {
  std::string caps = "IMAP4rev1";
  auto add = [&](std::string_view c) {
    if (has(c)) {
      caps += ' ';
      caps += c;
    }
  };
  add("SASL-IR");
  add("LITERAL+");
  add("ID");
  add("ENABLE");
  add("IDLE");
  if (!authenticated) {
    caps += " AUTH=PLAIN";
    if (tls_ctx_ && !tls_active) add("STARTTLS");
    return caps;
  }
  add("NAMESPACE");
  add("UNSELECT");
  caps += " CHILDREN";
  add("UIDPLUS");
  add("MOVE");
  add("CONDSTORE");
  add("QRESYNC");
  add("ESEARCH");
  add("SEARCHRES");
  add("LIST-EXTENDED");
  add("LIST-STATUS");
  add("SPECIAL-USE");
  add("CREATE-SPECIAL-USE");
  add("MULTIAPPEND");
  if (!compressed && compress_supported()) add("COMPRESS=DEFLATE");
  add("NOTIFY");
  add("OBJECTID");
  return caps;
}

bool ServerCore::check_password(std::string_view user, std::string_view password) const {
  auto it = users_.find(user);
  // Compare against a dummy when the user is unknown so timing does not reveal users.
  std::string_view expected = it == users_.end() ? std::string_view("\x01no-such-user\x01") : it->second;
  unsigned diff = expected.size() == password.size() ? 0U : 1U;
  std::size_t n = password.size();
  for (std::size_t i = 0; i < n; ++i) {
    unsigned char a = static_cast<unsigned char>(password[i]);
    unsigned char b = static_cast<unsigned char>(expected.empty() ? 0 : expected[i % expected.size()]);
    diff |= static_cast<unsigned>(a ^ b);
  }
  return diff == 0 && it != users_.end();
}

bool ServerCore::user_exists(std::string_view user) const { return users_.find(user) != users_.end(); }

Status ServerCore::ensure_user_mailboxes(std::string_view user) {
  auto inbox = storage_->find_mailbox(user, "INBOX");
  if (!inbox) return inbox.error();
  if (*inbox) return {};
  auto created = storage_->create_mailbox(user, "INBOX");
  if (!created) return created.error();
  return storage_->subscribe(user, "INBOX");
}

}  // namespace twinbox::server
