#pragma once
/// The mailbox list sync (DESIGN.md "Data flow" 2, PROTOCOL.md §3 "Delimiters and namespaces",
/// §4.9, §4.10): mapping names between two namespaces, and pairing the mailboxes both servers
/// list with the stored pairs. Pure functions: the engine feeds them LIST answers and the state
/// database's pairs, and carries out the MailboxListPlan they return.
///
/// Decisions (recorded in README "Design notes" too):
/// - A mailbox is identified on each side by its raw wire name; names are mapped through a
///   canonical form: the personal-namespace prefix stripped, modified UTF-7 decoded, split on
///   the side's delimiter. "INBOX" is matched case-insensitively. A component holding the other
///   side's delimiter cannot be represented there: that mailbox is refused with a problem.
/// - Special-use mailboxes (\Sent \Trash \Drafts \Junk \Archive) pair by role before names
///   (localized names, "Sent Items" vs "Sent"). Virtual \All and \Flagged mailboxes are
///   excluded unless the user includes them explicitly by name.
/// - A stored pair whose name is gone on one side: if an unpaired mailbox on that side has the
///   stored MAILBOXID, or the stored UIDVALIDITY (and no other candidate does), it was renamed:
///   RENAME on the other side. Otherwise it was deleted: the deletion is propagated only when
///   the policy allows it and the other side holds nothing the deleted side had not seen
///   (same UIDNEXT and MESSAGES as stored); else it is reported and the pair is skipped.
/// - Subscriptions merge three-way like one flag (merge_subscription()): the state keeps the
///   subscription both sides last agreed on per pair; a side that differs from it changed, and
///   its change goes to the other side (SUBSCRIBE / UNSUBSCRIBE). Two booleans that differ
///   cannot both differ from a base, so a real conflict exists only without a base (a pair
///   formed this run from two existing mailboxes): then subscribed wins (nothing disappears
///   from a mail client's folder list because of a sync). A mailbox created by the sync gets
///   its source's subscription. A rename re-applies the pair's subscription to the new name
///   (servers differ on whether RENAME carries it). State files written before subscriptions
///   were merged hold 0 for every pair: with a base of 0 the merge can only subscribe, exactly
///   what "subscribed wins" gives without a base, so no schema migration is needed.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <twinbox/base/ids.hpp>
#include <twinbox/base/result.hpp>
#include <twinbox/state/store.hpp>

namespace twinbox::sync {

/// The personal namespace of one side (RFC 2342): "" with '/' (Dovecot, Gmail) or "INBOX."
/// with '.' (Courier, legacy Cyrus).
struct Namespace {
  std::string prefix;
  char delimiter = '/';
  bool operator==(const Namespace&) const = default;
};

/// Wire name on a side -> canonical path (UTF-8 components). INBOX -> {"INBOX"}.
Result<std::vector<std::string>> canonical_path(std::string_view wire, const Namespace& ns);
/// Canonical path -> wire name on a side. Errc::Config (Scope::Mailbox) when a component
/// contains the side's delimiter or cannot be encoded.
Result<std::string> wire_name(const std::vector<std::string>& path, const Namespace& ns);
/// Maps a wire name from one namespace to another.
Result<std::string> map_name(std::string_view wire, const Namespace& from, const Namespace& to);

/// What LIST (with LIST-STATUS) said about one mailbox.
struct MailboxEntry {
  std::string name;         ///< wire name
  std::string special_use;  ///< "\\Sent", … or ""
  bool selectable = true;
  bool subscribed = false;
  bool is_virtual = false;  ///< \All or \Flagged
  std::optional<UidValidity> uidvalidity;
  std::optional<Uid> uidnext;
  std::optional<ModSeq> highestmodseq;
  std::optional<std::uint32_t> messages;
  std::string mailbox_id;
  bool operator==(const MailboxEntry&) const = default;
};

struct ListPolicy {
  std::vector<std::string> include{"*"};  ///< patterns on the canonical name ('/' joined)
  std::vector<std::string> exclude;
  bool exclude_virtual = true;
  bool delete_mailboxes = false;  ///< propagate deletions (when safe)
};

/// True when `name` matches the IMAP LIST-style pattern (`*` any, `%` any but '/').
bool pattern_match(std::string_view pattern, std::string_view name);

struct CreateMailbox {
  Side side = Side::Local;       ///< where to CREATE
  std::string name;              ///< wire name there
  std::string special_use;
  bool operator==(const CreateMailbox&) const = default;
};
struct RenameMailbox {
  state::MailboxPairId pair = 0;
  Side side = Side::Local;  ///< where to RENAME (the side that did not rename)
  std::string from, to;     ///< wire names on that side
  std::string new_other_name;  ///< the name on the side that renamed (for the state)
  bool operator==(const RenameMailbox&) const = default;
};
struct DeleteMailbox {
  state::MailboxPairId pair = 0;
  Side side = Side::Local;  ///< where to DELETE
  std::string name;
  bool operator==(const DeleteMailbox&) const = default;
};

/// SUBSCRIBE (subscribe = true) or UNSUBSCRIBE `name` on `side`, to carry out the merged
/// subscription of a pair.
struct SubscriptionChange {
  Side side = Side::Local;
  std::string name;  ///< wire name there
  bool subscribe = true;
  bool operator==(const SubscriptionChange&) const = default;
};

/// A mailbox pair to sync this run.
struct PairToSync {
  state::MailboxPairId pair = 0;  ///< 0 = new pair (created by the engine)
  PerSide<std::string> name;
  std::string special_use;
  PerSide<std::optional<MailboxEntry>> entry;  ///< nullopt when to be created this run
  /// The merged subscription: the new base once `subscriptions` were carried out.
  bool subscribed = false;
  /// Whether the stored base differs from `subscribed` (a state write is due).
  bool subscription_base_changed = false;
  std::vector<SubscriptionChange> subscriptions;  ///< commands that bring both sides to it
  bool operator==(const PairToSync&) const = default;
};

struct MailboxProblem {
  std::string mailbox;  ///< canonical name for messages
  std::string message;
  bool operator==(const MailboxProblem&) const = default;
};

struct MailboxListPlan {
  std::vector<CreateMailbox> creates;
  std::vector<RenameMailbox> renames;
  std::vector<DeleteMailbox> deletes;
  std::vector<state::MailboxPairId> forget;  ///< pairs gone on both sides
  std::vector<PairToSync> pairs;
  std::vector<MailboxProblem> problems;
};

struct ListInput {
  std::vector<state::MailboxPair> stored;
  PerSide<std::vector<MailboxEntry>> entries;
  PerSide<Namespace> ns;
  ListPolicy policy;
  /// Stored message-pair counts by pair id (for the deletion safety check).
  std::vector<std::pair<state::MailboxPairId, std::size_t>> pair_counts;
  /// Asked for a pair id absent from pair_counts, only for a mailbox gone on one side (a sync
  /// run counts nothing when no mailbox is gone: its no-op stays flat in the account's size).
  std::function<std::size_t(state::MailboxPairId)> count_pairs;
};

/// Three-way merge of one pair's subscription. `base` is the state both sides last agreed
/// on, nullopt when there is none. Without a base and with different sides, subscribed wins.
bool merge_subscription(std::optional<bool> base, bool local, bool remote);

/// Pairs the mailboxes of both sides (see the decisions above). Deterministic.
MailboxListPlan plan_mailboxes(const ListInput& in);

}  // namespace twinbox::sync
