#include <twinbox/sync/events.hpp>
#include <twinbox/sync/reconcile.hpp>

namespace twinbox::sync {

PlanTotals& PlanTotals::operator+=(const PlanTotals& o) {
  for (Side s : kBothSides) {
    copies[s] += o.copies[s];
    bytes[s] += o.bytes[s];
    flags[s] += o.flags[s];
    expunges[s] += o.expunges[s];
  }
  mailboxes += o.mailboxes;
  return *this;
}

PlanTotals totals_of(const Plan& plan) {
  PlanTotals t;
  for (const auto& a : plan.actions) {
    if (const auto* c = std::get_if<Copy>(&a)) {
      ++t.copies[other(c->from)];
      t.bytes[other(c->from)] += c->identity.size;
    } else if (const auto* f = std::get_if<StoreFlags>(&a)) {
      ++t.flags[f->side];
    } else if (const auto* e = std::get_if<Expunge>(&a)) {
      ++t.expunges[e->side];
    }
  }
  return t;
}

PlanTotals totals_of(const std::vector<MailboxInput>& inputs) {
  PlanTotals t;
  for (const auto& in : inputs) t += totals_of(reconcile(in.input));
  t.mailboxes = inputs.size();
  return t;
}

std::string_view to_string(FlagOp op) {
  switch (op) {
    case FlagOp::Set: return "set";
    case FlagOp::Add: return "add";
    case FlagOp::Remove: return "remove";
  }
  return "set";
}

void notify_moves(SyncObserver& observer, const std::vector<Move>& moves,
                  const std::map<MailboxKey, std::string>& display) {
  for (const auto& m : moves) {
    auto from = display.find(m.from);
    auto to = display.find(m.to);
    if (from == display.end() || to == display.end()) continue;  // not executed (executor rule)
    observer.message_moved(from->second, to->second, m.side, m.from_pair[m.side]);
  }
}

}  // namespace twinbox::sync
