#pragma once
/// NOTIFY (RFC 5465) state of one session: the event groups it asked for and what it was last
/// told, so that changes can be reported as differences (STATUS for other mailboxes, LIST for
/// created/deleted/renamed mailboxes and subscription changes).
///
/// Filters (RFC 5465 §6): SELECTED / SELECTED-DELAYED cover the selected mailbox; for every
/// other mailbox the FIRST group (in command order) whose filter matches it gives its events,
/// so `(MAILBOXES Junk NONE) (PERSONAL (...))` silences Junk. INBOXES is INBOX (the only
/// mailbox mail is delivered to), PERSONAL every mailbox (one personal namespace), SUBSCRIBED
/// the mailboxes subscribed at the time of the event, SUBTREE the named mailboxes and
/// everything below them (also mailboxes created later), MAILBOXES exactly the named ones
/// (they need not exist yet).

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace twinbox::server {

struct NotifyMailboxState {
  std::uint32_t messages = 0;
  std::uint32_t uidnext = 0;
  std::uint32_t unseen = 0;
  std::uint64_t highestmodseq = 0;
  std::uint32_t uidvalidity = 0;
  bool operator==(const NotifyMailboxState&) const = default;
};

enum class NotifyFilter { Selected, SelectedDelayed, Inboxes, Personal, Subscribed, Subtree, Mailboxes };

/// The events of one group; all false = NONE.
struct NotifyEvents {
  bool messages = false;      ///< MessageNew + MessageExpunge (always together, §5)
  bool flags = false;         ///< FlagChange
  bool mailbox_name = false;  ///< MailboxName
  bool subscription = false;  ///< SubscriptionChange
};

struct NotifyGroup {
  NotifyFilter filter = NotifyFilter::Personal;
  std::vector<std::string> mailboxes;  ///< SUBTREE / MAILBOXES names, normalised
  NotifyEvents events;

  /// True when the (non-selected) mailbox `name` is covered by this group's filter.
  [[nodiscard]] bool matches(std::string_view name, const std::set<std::string>& subscribed) const;
};

struct NotifySpec {
  std::optional<NotifyGroup> selected;  ///< the SELECTED / SELECTED-DELAYED group
  std::vector<NotifyGroup> others;      ///< every other group, in command order
  bool status = false;                  ///< NOTIFY SET STATUS

  std::map<std::string, NotifyMailboxState> known;  ///< per mailbox name (not the selected one)
  std::map<std::string, std::string> names;         ///< MAILBOXID -> name last reported
  std::set<std::string> subscribed;                 ///< subscriptions last reported

  /// The events for the non-selected mailbox `name` (first matching group), or null.
  [[nodiscard]] const NotifyEvents* events_for(std::string_view name,
                                               const std::set<std::string>& subscribed) const;
};

}  // namespace twinbox::server
