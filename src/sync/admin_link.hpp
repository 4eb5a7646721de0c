#pragma once
// Private to the sync layer: the common start of the admin operations (admin.hpp): both
// endpoints connected, both mailbox lists and namespaces read.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <twinbox/client/loop.hpp>
#include <twinbox/state/store.hpp>
#include <twinbox/sync/engine.hpp>
#include <twinbox/sync/mailboxes.hpp>

namespace twinbox::sync {

struct AdminLink {
  explicit AdminLink(const EngineOptions& o) : opt(o) {}
  AdminLink(const AdminLink&) = delete;
  AdminLink& operator=(const AdminLink&) = delete;

  const EngineOptions& opt;
  PerSide<std::unique_ptr<client::Session>> session;
  client::Loop loop;
  PerSide<Namespace> ns;
  PerSide<std::vector<MailboxEntry>> entries;

  template <class T>
  Result<T> wait(Side s, const client::Pending<T>& p) {
    return session[s]->wait(p, net::deadline_in(opt.timeout));
  }
  /// Drives both sessions until done() (bounded by opt.timeout).
  Status wait_loop(const std::function<bool()>& done);
  /// The entry on side `s` whose canonical name is `canonical` (INBOX in any case), or null.
  [[nodiscard]] const MailboxEntry* find(Side s, std::string_view canonical) const;
  /// LOGOUT on both sides; failures are ignored (nothing is left to protect).
  void logout();
};

/// Connects both endpoints at once and reads both mailbox lists (LIST-STATUS with MAILBOXID
/// where offered) and namespaces. Errors name the side.
Result<std::unique_ptr<AdminLink>> open_link(const EngineOptions& options);

/// Opens the state database with its run lock (Errc::Conflict when another run holds it).
/// `create`: create it (and its directory) when missing; else Errc::Config saying to sync.
Result<state::StateStore> lock_state(const EngineOptions& options, bool create);

/// What rename, delete and repair start from: the locked state, both connections, and the
/// stored mailbox pairs.
struct AdminRun {
  state::StateStore store;
  std::unique_ptr<AdminLink> link;
  std::vector<state::MailboxPair> stored;
};
/// lock_state(options, create_state), then open_link(), then the stored pairs; the first error.
Result<AdminRun> open_admin(const EngineOptions& options, bool create_state);

/// "local" / "remote".
std::string side_name(Side s);
/// An Errc::Config error: something the user asked that cannot be done.
Error usage(std::string message);
/// {"Archive", "2024"} -> "Archive/2024".
std::string join_path(const std::vector<std::string>& path);
bool is_inbox(const std::vector<std::string>& path);

/// "Archive/2024" -> {"Archive", "2024"}; "inbox" -> {"INBOX"}.
std::vector<std::string> split_canonical(std::string_view name);

/// The stored pair whose local name maps to `canonical` on the local side, or nullopt.
std::optional<state::MailboxPair> stored_pair(const std::vector<state::MailboxPair>& stored,
                                              const Namespace& local_ns,
                                              std::string_view canonical);

}  // namespace twinbox::sync
