#pragma once
/// NOTIFY (RFC 5465) state of one session: what it asked for and what it was last told, so
/// that changes can be reported as differences (STATUS for other mailboxes, LIST for
/// created/deleted/renamed mailboxes and subscription changes).

#include <cstdint>
#include <map>
#include <set>
#include <string>
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

struct NotifySpec {
  bool selected_events = false;   ///< SELECTED / SELECTED-DELAYED given
  bool personal_messages = false; ///< PERSONAL MessageNew/MessageExpunge/FlagChange
  bool personal_flags = false;    ///< PERSONAL FlagChange
  bool mailbox_name = false;      ///< MailboxName
  bool subscription = false;      ///< SubscriptionChange
  bool status = false;            ///< NOTIFY SET STATUS
  std::map<std::string, NotifyMailboxState> known;  ///< per mailbox name (not the selected one)
  std::map<std::string, std::string> names;         ///< MAILBOXID -> name last reported
  std::set<std::string> subscribed;                 ///< subscriptions last reported
};

}  // namespace twinbox::server
