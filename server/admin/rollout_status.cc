#include "server/admin/rollout_status.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/model/record_io.h"
#include "server/model/records.pb.h"
#include "server/model/store_layout.h"
#include "server/model/validation.h"

namespace fleet::server {
namespace {

constexpr absl::Duration kStopPollInterval = absl::Milliseconds(200);
// Between two statuses sent to one watcher: a rollout to many agents changes the counts
// thousands of times a second, and a watcher needs the gist, not each ack.
constexpr absl::Duration kMinSendInterval = absl::Milliseconds(20);

}  // namespace

absl::StatusOr<std::pair<v1::RolloutStatus, int64_t>> RolloutStatusService::Compute(
    const v1::GetRolloutStatusRequest& request) {
  if (absl::Status s = ValidateName("policy", request.policy()); !s.ok()) return s;
  if (request.revision() < 0) {
    return absl::InvalidArgumentError("revision must not be negative (0 means the latest)");
  }
  // Before the head: a revision committed after this read moves the version, so a watcher
  // waiting on it looks again.
  const int64_t version = tracker_.Version(request.policy());
  absl::StatusOr<std::optional<StoredRecord<record::PolicyHead>>> head =
      ReadRecord<record::PolicyHead>(store_, layout::PolicyKey(request.policy()));
  if (!head.ok()) return head.status();
  if (!head->has_value()) {
    return absl::NotFoundError(absl::StrCat("policy \"", request.policy(), "\" not found"));
  }
  const int64_t latest = (*head)->record.latest_revision();
  const int64_t revision = request.revision() == 0 ? latest : request.revision();
  if (revision > latest) {
    return absl::NotFoundError(absl::StrCat("policy \"", request.policy(), "\" has no revision ",
                                            revision, " (latest is ", latest, ")"));
  }
  v1::RolloutStatus status = Status(request.policy(), revision, latest);
  return std::pair(std::move(status), version);
}

v1::RolloutStatus RolloutStatusService::Status(const std::string& policy, int64_t revision,
                                               int64_t latest) {
  const RolloutCounts counts = tracker_.Count(policy, revision).first;
  v1::RolloutStatus status;
  status.set_policy(policy);
  status.set_revision(revision);
  status.set_latest_revision(latest);
  status.set_agents(counts.agents);
  status.set_acked(counts.acked);
  status.set_nacked(counts.nacked);
  status.set_pending(counts.pending);
  status.set_pending_offline(counts.pending_offline);
  status.set_offline(counts.offline);
  status.set_complete(counts.acked == counts.agents);
  return status;
}

absl::StatusOr<v1::RolloutStatus> RolloutStatusService::Get(
    const v1::GetRolloutStatusRequest& request) {
  absl::StatusOr<std::pair<v1::RolloutStatus, int64_t>> computed = Compute(request);
  if (!computed.ok()) return computed.status();
  return std::move(computed->first);
}

absl::Status RolloutStatusService::Watch(const v1::GetRolloutStatusRequest& request,
                                         const std::function<bool(const v1::RolloutStatus&)>& send,
                                         const std::function<bool()>& stop) {
  v1::RolloutStatus last;
  bool sent = false;
  while (!stop()) {
    absl::StatusOr<std::pair<v1::RolloutStatus, int64_t>> computed = Compute(request);
    if (!computed.ok()) return computed.status();
    const auto& [status, version] = *computed;
    if (!sent || !google::protobuf::util::MessageDifferencer::Equals(status, last)) {
      last = status;
      sent = true;
      if (!send(last)) return absl::OkStatus();
      // Changes meanwhile are seen by the next look, which the version tells apart.
      absl::SleepFor(kMinSendInterval);
    }
    // Nothing is read again until the counts or the policy change; the timeout only bounds how
    // long a cancelled watch takes to notice.
    while (!stop() &&
           tracker_.AwaitChange(request.policy(), version, kStopPollInterval) == version) {
    }
  }
  return absl::OkStatus();
}

}  // namespace fleet::server
