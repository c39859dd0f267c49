#include "agent/action_ledger.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace fleet::agent {
namespace {

// agent.proto, ActionStatus.output.
constexpr size_t kMaxOutputBytes = 64 * 1024;

}  // namespace

bool IsFinalActionState(v1::ActionStatus::State state) {
  switch (state) {
    case v1::ActionStatus::SUCCEEDED:
    case v1::ActionStatus::FAILED:
    case v1::ActionStatus::REJECTED:
    case v1::ActionStatus::CANCELLED:
      return true;
    default:
      return false;
  }
}

absl::Status CheckActionStatus(const v1::ActionStatus& status) {
  if (status.state() == v1::ActionStatus::STATE_UNSPECIFIED ||
      !v1::ActionStatus::State_IsValid(status.state())) {
    return absl::InvalidArgumentError(
        absl::StrCat("ActionStatus.state: ", static_cast<int>(status.state()),
                     " is not one of ACCEPTED, RUNNING, SUCCEEDED, FAILED, REJECTED, CANCELLED"));
  }
  if (status.progress_percent() < 0 || status.progress_percent() > 100) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ActionStatus.progress_percent: ", status.progress_percent(), " is not between 0 and 100"));
  }
  if (status.output().size() > kMaxOutputBytes) {
    return absl::InvalidArgumentError(absl::StrCat("ActionStatus.output: ", status.output().size(),
                                                   " bytes, over the limit of 65,536"));
  }
  return absl::OkStatus();
}

ActionLedger::ActionLedger(size_t finished_kept)
    : finished_kept_(std::max<size_t>(finished_kept, 1)) {}

const v1::ActionStatus* ActionLedger::Find(absl::string_view id) const {
  const auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : &it->second;
}

void ActionLedger::Add(v1::ActionStatus status) {
  const bool final = IsFinalActionState(status.state());
  std::string id = status.id();
  entries_.insert_or_assign(id, std::move(status));
  if (final) Finished(id);
}

absl::Status ActionLedger::Update(v1::ActionStatus status) {
  const auto it = entries_.find(status.id());
  if (it == entries_.end()) {
    return absl::NotFoundError(
        absl::StrCat("action ", status.id(), " was not received on this connection"));
  }
  if (IsFinalActionState(it->second.state())) {
    return absl::FailedPreconditionError(
        absl::StrCat("action ", status.id(), " is already ",
                     v1::ActionStatus::State_Name(it->second.state()), ": a final state stays"));
  }
  const bool final = IsFinalActionState(status.state());
  it->second = std::move(status);
  if (final) Finished(it->first);
  return absl::OkStatus();
}

void ActionLedger::Finished(const std::string& id) {
  finished_.push_back(id);
  while (finished_.size() > finished_kept_) {
    entries_.erase(finished_.front());
    finished_.pop_front();
  }
}

}  // namespace fleet::agent
