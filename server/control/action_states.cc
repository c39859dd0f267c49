#include "server/control/action_states.h"

namespace fleet::server {

bool IsFinalTargetState(int state) {
  switch (state) {
    case v1::ACTION_TARGET_SUCCEEDED:
    case v1::ACTION_TARGET_FAILED:
    case v1::ACTION_TARGET_REJECTED:
    case v1::ACTION_TARGET_EXPIRED:
    case v1::ACTION_TARGET_CANCELLED:
      return true;
    default:
      return false;
  }
}

int TargetStateRank(int state) {
  switch (state) {
    case v1::ACTION_TARGET_PENDING:
      return 0;
    case v1::ACTION_TARGET_DELIVERED:
      return 1;
    case v1::ACTION_TARGET_RUNNING:
      return 2;
    default:
      return 3;
  }
}

v1::ActionTargetState TargetStateOf(v1::ActionStatus::State reported) {
  switch (reported) {
    case v1::ActionStatus::ACCEPTED:
      return v1::ACTION_TARGET_DELIVERED;
    case v1::ActionStatus::RUNNING:
      return v1::ACTION_TARGET_RUNNING;
    case v1::ActionStatus::SUCCEEDED:
      return v1::ACTION_TARGET_SUCCEEDED;
    case v1::ActionStatus::FAILED:
      return v1::ACTION_TARGET_FAILED;
    case v1::ActionStatus::REJECTED:
      return v1::ACTION_TARGET_REJECTED;
    case v1::ActionStatus::CANCELLED:
      return v1::ACTION_TARGET_CANCELLED;
    default:
      return v1::ACTION_TARGET_STATE_UNSPECIFIED;
  }
}

v1::ActionState ActionStateOf(const v1::Action& action) {
  if (!action.done()) return v1::ACTION_STATE_ACTIVE;
  if (action.has_cancelled_at()) return v1::ACTION_STATE_CANCELLED;
  if (action.counts().expired() > 0) return v1::ACTION_STATE_EXPIRED;
  return v1::ACTION_STATE_DONE;
}

}  // namespace fleet::server
