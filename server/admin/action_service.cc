#include "server/admin/action_service.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "server/admin/target_resolver.h"
#include "server/control/action_states.h"
#include "server/model/action_record.h"
#include "server/model/action_spec.h"
#include "server/model/page_token.h"
#include "server/model/record_io.h"
#include "server/model/records.pb.h"
#include "server/model/secret_token.h"
#include "server/model/store_layout.h"
#include "server/model/validation.h"

namespace fleet::server {
namespace {

using google::protobuf::util::TimeUtil;
using storage::Compare;

// The kind of token minted for its id only: an action id is 12 lowercase hex like every id.
constexpr char kActionIdKind[] = "fact";
// How long a call waits for the engine to see what the store holds.
constexpr absl::Duration kCatchUpTimeout = absl::Seconds(5);
constexpr absl::Duration kStopPollInterval = absl::Milliseconds(200);
// Between two messages to one watcher: the gist of a rollout, not each report.
constexpr absl::Duration kMinSendInterval = absl::Milliseconds(100);
constexpr int32_t kMaxTargetPageSize = 1000;
constexpr int kMaxAttempts = 5;

// `action` as just committed to `targets` agents, before any of them was sent it.
v1::Action AsCommitted(v1::Action action, size_t targets) {
  v1::ActionCounts& counts = *action.mutable_counts();
  counts.set_targets(static_cast<int64_t>(targets));
  counts.set_pending(static_cast<int64_t>(targets));
  return action;
}

// Where ListActions continues: the last action of a page, by (created_at, id).
std::string ListCursor(const v1::Action& action) {
  return absl::StrFormat("%s%020d/%s", layout::kActions,
                         TimeUtil::TimestampToMicroseconds(action.created_at()), action.id());
}

}  // namespace

absl::Status ActionService::CatchUp(int64_t revision) {
  if (!engine_.WaitForRevision(revision, kCatchUpTimeout)) {
    return absl::UnavailableError("fleetd's action engine is behind its store; retry shortly");
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ActionService::Known(const std::string& id) {
  if (absl::Status s = ValidateId("id", id); !s.ok()) return s;
  absl::StatusOr<std::optional<StoredRecord<record::ActionRecord>>> head =
      ReadRecord<record::ActionRecord>(store_, layout::ActionKey(id));
  if (!head.ok()) return head.status();
  if (!head->has_value()) return absl::NotFoundError(absl::StrCat("action ", id, " not found"));
  if (absl::Status s = CatchUp((*head)->mod_revision); !s.ok()) return s;
  return (*head)->mod_revision;
}

absl::StatusOr<v1::Action> ActionService::FromEngine(const std::string& id) {
  std::optional<v1::Action> action = engine_.Get(id);
  if (!action.has_value()) {
    return absl::UnavailableError(
        absl::StrCat("fleetd's action engine does not hold action ", id, " yet; retry shortly"));
  }
  return *std::move(action);
}

absl::StatusOr<v1::Action> ActionService::Create(const v1::CreateActionRequest& request,
                                                 const v1::Creator& creator) {
  const absl::Time now = clock_.Now();
  absl::StatusOr<ActionSpec> spec = ValidateActionSpec(request, now);
  if (!spec.ok()) return spec.status();
  absl::StatusOr<std::vector<ResolvedTarget>> targets =
      ResolveTargets(store_, directory_, request.targets());
  if (!targets.ok()) return targets.status();
  std::vector<std::string> agent_ids;
  agent_ids.reserve(targets->size());
  for (ResolvedTarget& target : *targets) agent_ids.push_back(std::move(target.agent_id));

  v1::Action action;
  action.set_type(spec->type);
  action.set_arguments_json(spec->arguments_json);
  *action.mutable_targets() = request.targets();
  *action.mutable_created_at() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
  if (!creator.token_id().empty()) *action.mutable_created_by() = creator;
  *action.mutable_expires_at() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(spec->expires_at));
  if (spec->rollout_duration > absl::ZeroDuration()) {
    *action.mutable_rollout_duration() =
        TimeUtil::MicrosecondsToDuration(absl::ToInt64Microseconds(spec->rollout_duration));
  }
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    action.set_id(MintToken(kActionIdKind).id);
    const std::string key = layout::ActionKey(action.id());
    absl::StatusOr<storage::TxnResult> result = store_.Txn(
        {.compares = {Compare::Missing(key)}, .success = ActionRecordOps(action, agent_ids)});
    if (!result.ok()) return result.status();
    if (!result->succeeded) continue;  // the random id was taken: another one
    // Committed: a retry would make a second action, so a slow engine gets the action as
    // committed (every target pending) rather than an error.
    if (!CatchUp(result->revision).ok()) return AsCommitted(action, agent_ids.size());
    return FromEngine(action.id());
  }
  return absl::AbortedError("no free action id was found; try again");
}

absl::StatusOr<v1::Action> ActionService::Get(const v1::GetActionRequest& request) {
  if (absl::StatusOr<int64_t> known = Known(request.id()); !known.ok()) return known.status();
  return FromEngine(request.id());
}

absl::StatusOr<v1::ListActionsResponse> ActionService::List(const v1::ListActionsRequest& request) {
  absl::StatusOr<int32_t> page_size = EffectivePageSize(request.page_size());
  if (!page_size.ok()) return page_size.status();
  if (!v1::ActionState_IsValid(request.state())) {
    return absl::InvalidArgumentError(absl::StrCat("state: ", request.state(), " is no state"));
  }
  absl::StatusOr<std::string> cursor = DecodePageToken(request.page_token(), layout::kActions);
  if (!cursor.ok()) return cursor.status();
  // The engine must hold every action the store does: wait for the newest head.
  absl::StatusOr<std::vector<StoredRecord<record::ActionRecord>>> heads =
      ReadAllRecords<record::ActionRecord>(store_, layout::kActions);
  if (!heads.ok()) return heads.status();
  int64_t newest = 0;
  for (const auto& head : *heads) newest = std::max(newest, head.mod_revision);
  if (absl::Status s = CatchUp(newest); !s.ok()) return s;

  v1::ListActionsResponse response;
  for (v1::Action& action : engine_.List()) {
    // Newest first: what follows the cursor sorts below it.
    if (!cursor->empty() && ListCursor(action) >= *cursor) continue;
    if (request.state() != v1::ACTION_STATE_UNSPECIFIED) {
      const v1::ActionState state = ActionStateOf(action);
      const bool match = request.state() == v1::ACTION_STATE_DONE ? state != v1::ACTION_STATE_ACTIVE
                                                                  : state == request.state();
      if (!match) continue;
    }
    if (response.actions_size() == *page_size) {
      response.set_next_page_token(
          EncodePageToken(ListCursor(response.actions(response.actions_size() - 1))));
      break;
    }
    *response.add_actions() = std::move(action);
  }
  return response;
}

absl::StatusOr<v1::Action> ActionService::Cancel(const v1::CancelActionRequest& request) {
  if (absl::Status s = ValidateId("id", request.id()); !s.ok()) return s;
  const std::string key = layout::ActionKey(request.id());
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    absl::StatusOr<std::optional<StoredRecord<record::ActionRecord>>> head =
        ReadRecord<record::ActionRecord>(store_, key);
    if (!head.ok()) return head.status();
    if (!head->has_value()) {
      return absl::NotFoundError(absl::StrCat("action ", request.id(), " not found"));
    }
    if (absl::Status s = CatchUp((*head)->mod_revision); !s.ok()) return s;
    absl::StatusOr<v1::Action> current = FromEngine(request.id());
    if (!current.ok()) return current.status();
    // Cancelling again, or after the end, changes nothing.
    if (current->has_cancelled_at() || current->done()) return current;
    record::ActionRecord record = std::move((*head)->record);
    *record.mutable_action()->mutable_cancelled_at() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(clock_.Now()));
    absl::StatusOr<storage::TxnResult> result =
        store_.Txn({.compares = {Compare::ModRevisionIs(key, (*head)->mod_revision)},
                    .success = {storage::Op::Put(key, record.SerializeAsString())}});
    if (!result.ok()) return result.status();
    if (!result->succeeded) continue;
    if (absl::Status s = CatchUp(result->revision); !s.ok()) return s;
    return FromEngine(request.id());
  }
  return absl::AbortedError(
      absl::StrCat("action ", request.id(), " kept changing concurrently; try again"));
}

absl::Status ActionService::Watch(const v1::GetActionRequest& request,
                                  const std::function<bool(const v1::Action&)>& send,
                                  const std::function<bool()>& stop) {
  if (absl::StatusOr<int64_t> known = Known(request.id()); !known.ok()) return known.status();
  v1::Action last;
  bool sent = false;
  while (!stop()) {
    std::optional<std::pair<v1::Action, int64_t>> now = engine_.GetVersioned(request.id());
    if (!now.has_value()) {
      return absl::NotFoundError(absl::StrCat("action ", request.id(), " not found"));
    }
    const int64_t version = now->second;
    if (!sent || !google::protobuf::util::MessageDifferencer::Equals(now->first, last)) {
      last = std::move(now->first);
      sent = true;
      if (!send(last) || last.done()) return absl::OkStatus();
      // Changes meanwhile are seen by the next look, which the version tells apart.
      absl::SleepFor(kMinSendInterval);
    }
    // The timeout only bounds how long a cancelled watch takes to notice.
    while (!stop() && engine_.AwaitChange(request.id(), version, kStopPollInterval) == version) {
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ListActionTargetsResponse> ActionService::ListTargets(
    const v1::ListActionTargetsRequest& request) {
  if (request.page_size() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size must not be negative (got ", request.page_size(), ")"));
  }
  const int32_t page_size = request.page_size() == 0
                                ? kMaxTargetPageSize
                                : std::min(request.page_size(), kMaxTargetPageSize);
  if (!v1::ActionTargetState_IsValid(request.state())) {
    return absl::InvalidArgumentError(absl::StrCat("state: ", request.state(), " is no state"));
  }
  if (absl::Status s = ValidateId("id", request.id()); !s.ok()) return s;
  const std::string prefix = layout::ActionTargetPrefix(request.id());
  absl::StatusOr<std::string> cursor = DecodePageToken(request.page_token(), prefix);
  if (!cursor.ok()) return cursor.status();
  if (absl::StatusOr<int64_t> known = Known(request.id()); !known.ok()) return known.status();
  std::optional<ActionTargetPage> page =
      engine_.Targets(request.id(), request.state(),
                      cursor->empty() ? "" : cursor->substr(prefix.size()), page_size);
  if (!page.has_value()) {
    return absl::UnavailableError(absl::StrCat("fleetd's action engine does not hold action ",
                                               request.id(), " yet; retry shortly"));
  }
  v1::ListActionTargetsResponse response;
  for (ActionTargetView& view : page->targets) {
    v1::ActionTarget& target = *response.add_targets();
    absl::StatusOr<std::optional<StoredRecord<record::AgentRecord>>> agent =
        ReadRecord<record::AgentRecord>(store_, layout::AgentKey(view.agent_id));
    if (!agent.ok()) return agent.status();
    if (agent->has_value()) target.set_hostname((*agent)->record.agent().hostname());
    target.set_agent_id(std::move(view.agent_id));
    target.set_state(view.state);
    target.set_progress_percent(view.progress_percent);
    target.set_message(std::move(view.message));
    target.set_output(std::move(view.output));
    if (view.updated_at != absl::InfinitePast()) {
      *target.mutable_updated_at() =
          TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(view.updated_at));
    }
    *target.mutable_start_at() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(view.start_at));
  }
  if (!page->next_after.empty()) {
    response.set_next_page_token(EncodePageToken(prefix + page->next_after));
  }
  return response;
}

}  // namespace fleet::server
