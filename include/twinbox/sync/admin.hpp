#pragma once
/// Administrative operations on a synced account pair, behind `twinbox list`, `rename`,
/// `delete` and `repair` (twinbox(1)). Each connects both endpoints of EngineOptions, reads
/// both mailbox lists (LIST with LIST-STATUS, NAMESPACE), and works with the same name mapping
/// and pairing as the sync engine (mailboxes.hpp). Mailbox names given by the user are
/// canonical: '/' separated, UTF-8, as `twinbox sync` and `list` print them.
///
/// Errors: like run_sync (Errc::Conflict when another run holds the state lock; connection,
/// TLS and authentication errors), plus Errc::Config for what the user asked that cannot be
/// done (unknown mailbox, NEW already exists, a name the other side cannot represent, a
/// refused delete), each message saying what to do.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <twinbox/base/ids.hpp>
#include <twinbox/base/result.hpp>
#include <twinbox/sync/engine.hpp>
#include <twinbox/sync/mailboxes.hpp>

namespace twinbox::sync {

// ---- list ----

/// One mailbox of one side as `twinbox list` shows it.
struct ListedMailbox {
  MailboxEntry entry;
  std::string display;      ///< canonical name ('/' separated, UTF-8)
  std::string paired_with;  ///< the other side's wire name it pairs with, "" if none
  std::string excluded;     ///< why it is not synced ("" = it is)
};

/// One pair as a sync would see it now.
struct ListedPair {
  PerSide<std::string> name;       ///< wire names
  std::string display;             ///< canonical name (local side)
  std::string special_use;
  bool stored = false;             ///< already in the state database
  std::optional<Side> create_on;   ///< a sync would create it on this side
};

struct ListReport {
  PerSide<Namespace> ns;
  PerSide<std::vector<ListedMailbox>> mailboxes;  ///< in LIST order
  std::vector<ListedPair> pairs;
  std::vector<RenameMailbox> renames;  ///< what a sync would rename …
  std::vector<DeleteMailbox> deletes;  ///< … and delete
  std::vector<MailboxProblem> problems;
  bool state_found = false;  ///< false: no state yet, every pair would be new
};

/// Connects, lists both sides and plans the pairing without applying it. Reads the state
/// read-only and without the lock (state::read_summary); changes nothing anywhere.
Result<ListReport> list_mailboxes(const EngineOptions& options);

// ---- rename / delete ----

struct RenameResult {
  PerSide<std::string> from, to;  ///< wire names ("" on a side where OLD does not exist)
  PerSide<bool> renamed;          ///< RENAME sent and accepted on that side
  PerSide<bool> already;          ///< found already renamed (an earlier run stopped midway)
  std::size_t state_pairs = 0;    ///< mailbox pairs renamed in the state (OLD and below it)
};

/// Renames OLD to NEW on both sides (IMAP RENAME also renames the mailboxes below it) and then
/// in the state, in one transaction. Refuses INBOX, an OLD that exists on neither side, and a
/// NEW that exists already (unless it is OLD renamed by an earlier, interrupted run, told by
/// the stored MAILBOXID or UIDVALIDITY). Takes the state lock.
/// If the second RENAME fails, the error says so; the state still names OLD, and the next
/// sync finishes the rename on that side (rename detection, mailboxes.hpp), as does running
/// the same rename again.
Result<RenameResult> rename_mailbox(const EngineOptions& options, std::string_view old_name,
                                    std::string_view new_name, const LogFn& log);

struct DeleteResult {
  PerSide<std::string> name;        ///< wire names ("" where it does not exist)
  PerSide<bool> deleted;
  PerSide<std::uint32_t> messages;  ///< messages it held on each side
  bool state_removed = false;
};

/// Deletes MAILBOX on both sides and its pair (with message pairs and intents) from the
/// state. Unless `force`, refuses (Errc::Config) when any message on either side is not in a
/// stored pair with a twin on the other side (new mail since the last sync, a never-synced
/// mailbox with mail, a pending copy, a UIDVALIDITY change): deleting then could destroy mail
/// the other side has not seen. Refuses INBOX. Takes the state lock. If the second DELETE
/// fails, the pair stays in the state; the next sync reports the deletion (or carries it out
/// with delete_mailboxes = yes), and running the same delete again finishes it.
Result<DeleteResult> delete_mailbox(const EngineOptions& options, std::string_view name,
                                    bool force, const LogFn& log);

// ---- repair ----

struct RepairCounts {
  std::size_t confirmed = 0;  ///< stored pairs whose two messages still match
  std::size_t dropped = 0;    ///< stored pairs removed (contents differ, or gone on a side)
  std::size_t paired = 0;     ///< new pairs proven by content
  std::size_t hashed = 0;     ///< messages whose body was hashed to tell look-alikes apart
  std::size_t one_sided = 0;  ///< messages with no twin on the other side: the next sync copies
  std::size_t ambiguous = 0;  ///< look-alikes that could not be told apart: left unpaired
  std::size_t intents = 0;    ///< pending append intents dropped (the comparison replaces them)
  [[nodiscard]] bool changed() const { return dropped || paired || one_sided || intents; }
};

struct RepairMailbox {
  std::string name;     ///< canonical
  RepairCounts counts;
  std::string skipped;  ///< non-empty: not repaired, and why
};

struct RepairReport {
  std::vector<RepairMailbox> mailboxes;
  RepairCounts total;
};

/// Compares both sides of each stored pair selected by options.only (all when empty) with
/// the state by content: identities (Message-ID, RFC822.SIZE, INTERNALDATE) of every message,
/// SHA-256 of the bodies where look-alikes must be told apart. Keeps the pairs that match,
/// drops those that do not, records pairs proven by content, and records messages without
/// any twin as half pairs, which the next sync copies (reconcile.hpp rule 6). Look-alikes it
/// cannot tell apart stay unpaired and are reported. Resets the stored HIGHESTMODSEQ of a
/// changed mailbox so that the next sync re-reads every flag. Never copies, stores flags or
/// expunges; with options.dry_run writes nothing. One transaction per mailbox. Takes the
/// state lock. Errc::Config when the state does not exist or a named mailbox is not synced.
Result<RepairReport> repair(const EngineOptions& options, const LogFn& log);

}  // namespace twinbox::sync
