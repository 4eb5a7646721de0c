#pragma once
/// Private parts of client::Session: the command queue, the writer, the response dispatcher
/// and the selected mailbox's state. See session.hpp for the contract.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <twinbox/client/session.hpp>
#include <twinbox/imap/parser.hpp>
#include <twinbox/imap/serialize.hpp>

#include "trace.hpp"

namespace twinbox::client::detail {

/// One piece of an outgoing command: text (may end with a synchronizing literal header, then
/// sync_after), or a literal body from owned/borrowed bytes or a pull source.
struct Piece {
  std::string text;                         // owned text or owned literal body
  std::shared_ptr<const std::string> shared;  // shared literal body
  std::string_view view;                    // borrowed literal body
  BodySource* source = nullptr;             // streamed literal body
  std::uint64_t source_size = 0;
  bool use_view = false;
  bool sync_after = false;  // wait for "+" after writing this piece

  [[nodiscard]] std::uint64_t size() const;
};

/// Callbacks of one logical operation (possibly several tagged commands).
struct Op {
  std::string what;  // "UID STORE", for error messages
  int remaining = 1; // tagged responses still expected
  bool barrier = false;      // nothing else is sent while it runs
  bool exclusive = false;    // sent only when nothing else is in flight
  bool owns_continuations = false;  // AUTHENTICATE, IDLE
  bool is_select = false;
  bool is_logout = false;
  /// Claims an untagged response that answers this operation. May move out of it.
  std::function<bool(imap::Response&)> untagged;
  /// One tagged response (called `remaining` times unless failed first).
  std::function<void(const imap::Tagged&)> tagged;
  /// The operation failed as a whole (connection broken, command could not be built).
  std::function<void(const Error&)> failed;
  /// A "+" for an operation that owns continuations.
  std::function<void(const imap::Continuation&)> continuation;
  /// Called when the command's first byte is queued for writing.
  std::function<void()> sent;
  /// SELECT/EXAMINE: the responses that follow belong to the new mailbox.
  std::function<void()> activate;
  bool done = false;
};

struct OutCommand {
  Tag tag = 0;
  std::string tag_text;
  std::vector<Piece> pieces;
  std::string trace_line;  // redacted one-line form
  std::shared_ptr<Op> op;
  std::size_t next_piece = 0;
  std::uint64_t piece_offset = 0;
  bool started = false;
};

struct MailboxModel {
  bool open = false;
  SelectInfo info;
  std::vector<std::uint32_t> seq_uid;  // index seq-1; 0 = unknown (only without QRESYNC)
  MailboxChanges changes;
};

}  // namespace twinbox::client::detail

namespace twinbox::client {

struct Session::Impl {
  Impl(net::StreamPtr s, SessionOptions o);

  // ---- configuration & state
  net::StreamPtr stream;
  SessionOptions options;
  SessionState state = SessionState::Greeting;
  imap::CapabilitySet caps;
  std::vector<std::string> enabled_list;
  bool compressed = false;
  std::optional<Error> broken;
  std::string bye_text;
  std::function<void(const imap::Response&)> observer;
  detail::MailboxModel mbox;
  std::optional<imap::Condition> greeting;  // set when the greeting arrived

  // ---- output
  Tag next_tag = 1;
  std::deque<detail::OutCommand> queue;   // not fully written yet
  std::string out;                        // bytes accepted for writing
  std::size_t out_pos = 0;
  bool waiting_plus = false;              // a sync literal waits for "+"
  Tag waiting_plus_tag = 0;
  bool source_starved = false;
  bool need_flush = false;
  std::uint64_t commands_sent = 0;

  // ---- in flight (written, at least partly), by tag, in send order
  std::map<Tag, std::shared_ptr<detail::Op>> in_flight;
  std::shared_ptr<detail::Op> barrier_op;  // a barrier op in flight
  std::shared_ptr<detail::Op> continuation_owner;
  std::shared_ptr<detail::Op> pending_select;  // SELECT sent, not yet active

  // ---- input
  imap::ResponseParser parser;
  imap::Response resp;
  detail::InputTracer tracer;
  std::uint64_t progress = 0;
  std::uint64_t input_generation = 0;
  bool input_paused = false;  // after STARTTLS/COMPRESS OK, until the stream is replaced  // bumped when the input stream is replaced
  // Streaming of FETCH body literals
  struct Sink;
  std::unique_ptr<Sink> sink;
  MessageSink* stream_target = nullptr;   // front of stream_targets
  std::deque<MessageSink*> stream_targets;
  void push_stream_target(MessageSink* s);
  void pop_stream_target(MessageSink* s);
  std::optional<Error> deferred_break;  // raised inside an op callback during dispatch
  std::uint32_t last_expunged_uid = 0;  // UID of the EXPUNGE being dispatched (0 = unknown)
  // IDLE
  bool idling = false;
  bool idle_done_requested = false;
  std::shared_ptr<detail::Op> idle_op;
  std::vector<std::string> side_literals;  // non-target streamed literals of one response

  // ---- helpers (session.cpp)
  std::string tag_text(Tag t) const { return options.tag_prefix + std::to_string(t); }
  imap::BuilderOptions builder_options() const;
  /// Queues a command built by `b` (tag reserved by the caller with reserve_tag()).
  Tag reserve_tag() { return next_tag++; }
  void enqueue(Tag tag, Result<imap::WireCommand> cmd, std::shared_ptr<detail::Op> op,
               std::string trace_override = {});
  void enqueue_pieces(Tag tag, std::vector<detail::Piece> pieces, std::string trace_line,
                      std::shared_ptr<detail::Op> op);
  /// Writes a continuation answer line (AUTHENTICATE data, IDLE's DONE) right away.
  void send_line(std::string line, std::string_view trace_line);
  void break_connection(Error e);
  Status on_ready();
  void fill_output();
  bool can_start(const detail::OutCommand& c) const;
  Status write_out();
  Status read_in();
  Status dispatch(imap::Response& r);
  void apply_code(const imap::ResponseCode& code);
  void apply_untagged(imap::Response& r, std::uint32_t& expunged_uid);
  void record_unclaimed(imap::Response& r, std::uint32_t expunged_uid);
  void handle_tagged(const imap::Tagged& t);
  void handle_continuation(const imap::Continuation& c);
  void maybe_activate_select(bool closed_seen);
  void reset_input();
  Status run_until(const std::function<bool()>& done, Deadline deadline);
  Status pump(Deadline deadline);
  void trace_out(std::string_view line);
  bool imap_qresync() const;
  bool has_streaming_op() const { return stream_target != nullptr; }
  Error no_error(const std::string& what, const imap::Tagged& t) const;
  Error not_usable() const;
  std::string describe() const;
};

/// "what failed: server said NO: text" with Errc::NotFound for TRYCREATE/NONEXISTENT.
Error tagged_error(std::string_view what, const imap::Tagged& t);

}  // namespace twinbox::client
