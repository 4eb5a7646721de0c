#pragma once
/// The executor (DESIGN.md "Data flow" 6-7): carries out one mailbox pair's Plan on both
/// servers and records every completed step in the state database.
///
/// How (the Plan says what):
/// - Copies (executor_copy.cpp) go through a pipeline of batches: several UID FETCH
///   BODY.PEEK[] in flight on the source while earlier batches are APPENDed (MULTIAPPEND when
///   offered) to the target, bounded by EngineOptions::copy_window (bytes of bodies fetched or
///   being fetched and not yet written to the target); bodies are freed once written. Append intents of a batch are
///   committed once its FETCH has completed (the identity is then complete: a first sync into
///   an empty side takes INTERNALDATE and Message-ID from that FETCH) and before any APPEND of
///   it is sent (PROTOCOL.md §4.7); the pairs are recorded from APPENDUID in
///   the same transaction that drops the intents. Without APPENDUID the new messages are
///   located by content above the pre-append UIDNEXT; an ambiguous match leaves the intent for
///   the next run to resolve, never a second copy.
/// - A body literal above the source endpoint's SessionOptions::max_literal (or one that
///   would take the buffered bodies past copy_window + max_literal: a server sending more
///   than it announced) is read and dropped, never buffered: that message is not copied and
///   the mailbox stops with an Errc::Limit error naming its UID (it stays on its side).
/// - Flag stores are batched by identical changes. On a CONDSTORE side one
///   `UID STORE set (UNCHANGEDSINCE m) FLAGS.SILENT (result)` per identical result (a
///   compare-and-set, so a replace is safe); elsewhere `+FLAGS.SILENT` / `-FLAGS.SILENT`
///   deltas. A UID in [MODIFIED] keeps its old base: the next run re-reads and re-merges.
///   The stores are sent before the copies and waited for after them (they concern paired
///   messages only, the copies new ones), so their answers cost no round trip of their own.
/// - Expunges: `UID STORE +FLAGS.SILENT (\Deleted)` then `UID EXPUNGE` of exactly those UIDs;
///   without UIDPLUS only the STORE (Counts::marked; never a plain EXPUNGE).
/// - State: pairs, bases and forgotten pairs in one transaction after the server work.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <twinbox/base/result.hpp>
#include <twinbox/client/loop.hpp>
#include <twinbox/client/session.hpp>
#include <twinbox/state/store.hpp>
#include <twinbox/sync/engine.hpp>
#include <twinbox/sync/plan.hpp>
#include <twinbox/sync/reconcile.hpp>

namespace twinbox::sync {

/// Everything the executor needs to know about one mailbox pair in this pass.
struct MailboxWork {
  state::MailboxPairId id = 0;
  std::string display;             ///< canonical name for messages
  PerSide<std::string> name;       ///< wire names
  PerSide<Delta> delta;
  StoredMailbox stored;
  PerSide<Caps> caps;
};

class Executor {
 public:
  Executor(PerSide<client::Session*> sessions, client::Loop& loop, state::StateStore& store,
           const EngineOptions& options);

  /// Selects the mailbox on both sides when needed and applies `plan`. Adds what was done to
  /// `counts`. Mailbox-scope errors stop this mailbox; connection errors are returned as they
  /// are (Scope::Connection).
  Status execute(const MailboxWork& work, const Plan& plan, PerSide<Counts>& counts);

  /// Applies cross-mailbox moves (match_moves()). `names` maps MailboxKey to wire names;
  /// follow-up flag stores for the target mailbox are returned per target mailbox.
  Status execute_moves(const std::vector<Move>& moves,
                       const std::map<MailboxKey, PerSide<std::string>>& names,
                       std::map<MailboxKey, std::vector<StoreFlags>>& follow_up,
                       PerSide<Counts>& counts, std::map<MailboxKey, PerSide<Counts>>& per_mailbox);

  /// Applies flag stores outside a plan (move follow-ups) in the selected mailbox.
  Status store_flags(const MailboxWork& work, const std::vector<StoreFlags>& stores,
                     PerSide<Counts>& counts);

  /// Selects `name` on `side` unless it is selected already.
  Status ensure_selected(Side side, const std::string& name);

 private:
  template <class T>
  Result<T> wait(const client::Pending<T>& p);
  Status wait_all(const std::function<bool()>& done);

  Status copy_direction(const MailboxWork& work, Side from, const std::vector<const Copy*>& copies,
                        PerSide<Counts>& counts);
  Status run_stores(const MailboxWork& work, const std::vector<StoreFlags>& stores,
                    std::vector<PerSide<Uid>>& failed_pairs, PerSide<Counts>& counts);
  /// run_stores() in two halves: the UID STOREs go out (grouped) and are waited for later, so
  /// that execute() overlaps them with the copies (one round trip less per mailbox).
  struct PendingStores;
  std::unique_ptr<PendingStores> queue_stores(const MailboxWork& work, const std::vector<StoreFlags>& stores);
  Status finish_stores(const MailboxWork& work, PendingStores& sent, std::vector<PerSide<Uid>>& failed_pairs,
                       PerSide<Counts>& counts);
  Status run_expunges(const MailboxWork& work, const std::vector<Expunge>& expunges,
                      PerSide<Counts>& counts);

  PerSide<client::Session*> sessions_;
  client::Loop& loop_;
  state::StateStore& store_;
  const EngineOptions& options_;
};

}  // namespace twinbox::sync
