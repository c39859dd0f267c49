// ActionService on a MemoryStore with the real ActionEngine: bad requests are INVALID_ARGUMENT
// naming the field and commit nothing; a good one commits the action with its targets, which
// Get, List, Cancel, Watch and ListActionTargets then show from the engine.
#include "server/admin/action_service.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "server/control/action_engine.h"
#include "server/control/agent_directory.h"
#include "server/control/agent_mailbox.h"
#include "tests/server/admin_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

using google::protobuf::util::TimeUtil;

class ActionServiceTest : public ::testing::Test {
 protected:
  ActionServiceTest() {
    env_.PutAgent("aaaaaaaaaaa1", "web", v1::AGENT_STATUS_ONLINE, 0, {{"role", "web"}});
    env_.PutAgent("aaaaaaaaaaa2", "web", v1::AGENT_STATUS_ONLINE, 0, {{"role", "web"}});
    env_.PutAgent("aaaaaaaaaaa3", "db", v1::AGENT_STATUS_ONLINE, 0, {{"role", "db"}});
    if (!directory_.Start().ok() || !engine_.Start().ok()) std::abort();
  }

  v1::CreateActionRequest Request(const std::string& type, const std::string& args = "") {
    v1::CreateActionRequest request;
    request.set_type(type);
    request.set_arguments_json(args);
    request.mutable_targets()->set_selector("role=web");
    return request;
  }

  // The error of creating `request`, checked to be INVALID_ARGUMENT whose message starts with
  // `field`.
  void ExpectInvalid(const v1::CreateActionRequest& request, const std::string& field) {
    absl::StatusOr<v1::Action> created = service_.Create(request, {});
    ASSERT_FALSE(created.ok());
    EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument) << created.status();
    EXPECT_TRUE(absl::StartsWith(created.status().message(), field + ":") ||
                absl::StartsWith(created.status().message(), field + " "))
        << created.status().message();
    EXPECT_TRUE(engine_.List().empty());
  }

  AdminTestEnv env_;
  AgentMailbox mailbox_{env_.clock};
  ActionEngine engine_{*env_.store, env_.clock, mailbox_};
  AgentDirectory directory_{*env_.store};
  ActionService service_{*env_.store, env_.clock, directory_, engine_};
};

// An unknown type names "type".
TEST_F(ActionServiceTest, UnknownTypeIsInvalid) { ExpectInvalid(Request("reboot-now"), "type"); }

// No criterion, or criteria no agent matches, name "targets".
TEST_F(ActionServiceTest, EmptyTargetSetIsInvalid) {
  v1::CreateActionRequest none = Request("restart");
  none.clear_targets();
  ExpectInvalid(none, "targets");
  v1::CreateActionRequest nobody = Request("restart");
  nobody.mutable_targets()->set_selector("role=nothing");
  ExpectInvalid(nobody, "targets");
}

// An expiry in the past (or now) names "expires_at", as does one more than a year ahead.
TEST_F(ActionServiceTest, ExpiryInThePastIsInvalid) {
  v1::CreateActionRequest past = Request("restart");
  *past.mutable_expires_at() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(env_.clock.Now() - absl::Seconds(1)));
  ExpectInvalid(past, "expires_at");
  v1::CreateActionRequest far = Request("restart");
  *far.mutable_expires_at() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(env_.clock.Now() + absl::Hours(9000)));
  ExpectInvalid(far, "expires_at");
}

// Arguments over 64 KiB, or not an object, name "arguments_json".
TEST_F(ActionServiceTest, ArgumentsOverTheLimitAreInvalid) {
  ExpectInvalid(Request("diagnostics", absl::StrCat("{\"x\":\"", std::string(70'000, 'a'), "\"}")),
                "arguments_json");
  ExpectInvalid(Request("diagnostics", "[1]"), "arguments_json");
  ExpectInvalid(Request("diagnostics", "{\"a\":1,\"a\":2}"), "arguments_json.a");
}

// The arguments each type needs are checked by name.
TEST_F(ActionServiceTest, RequiredArgumentsAreChecked) {
  ExpectInvalid(Request("upgrade"), "arguments_json.version");
  ExpectInvalid(Request("upgrade", R"({"version":2})"), "arguments_json.version");
  ExpectInvalid(Request("upgrade", R"({"version":"2.0","sha256":"abc"})"), "arguments_json.sha256");
  ExpectInvalid(Request("upgrade", R"({"version":"2.0","url":5})"), "arguments_json.url");
  ExpectInvalid(Request("custom", R"({"args":{}})"), "arguments_json.name");
}

// A rollout not shorter than the time to expiry, or negative, names "rollout_duration".
TEST_F(ActionServiceTest, RolloutMustEndBeforeExpiry) {
  v1::CreateActionRequest request = Request("restart");
  *request.mutable_expires_at() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(env_.clock.Now() + absl::Hours(1)));
  *request.mutable_rollout_duration() = TimeUtil::SecondsToDuration(3600);
  ExpectInvalid(request, "rollout_duration");
  *request.mutable_rollout_duration() = TimeUtil::SecondsToDuration(-1);
  ExpectInvalid(request, "rollout_duration");
}

// A good request commits the action for the agents the selector names, canonical arguments, a
// default expiry of 14 days, and counts from the engine.
TEST_F(ActionServiceTest, CreateCommitsTheActionWithItsTargets) {
  v1::Creator creator;
  creator.set_token_id("bbbbbbbbbbbb");
  ASSERT_OK_AND_ASSIGN(v1::Action action,
                       service_.Create(Request("upgrade", R"({ "version": "2.0", "sha256": ")" +
                                                              std::string(64, 'a') + "\" }"),
                                       creator));
  EXPECT_EQ(action.id().size(), 12u);
  EXPECT_EQ(action.arguments_json(),
            R"({"sha256":")" + std::string(64, 'a') + R"(","version":"2.0"})");
  EXPECT_EQ(action.created_by().token_id(), "bbbbbbbbbbbb");
  EXPECT_EQ(TimeUtil::TimestampToMicroseconds(action.expires_at()),
            absl::ToUnixMicros(env_.clock.Now() + absl::Hours(14 * 24)));
  EXPECT_EQ(action.counts().targets(), 2);
  EXPECT_EQ(action.counts().pending(), 2);
  EXPECT_FALSE(action.done());

  v1::GetActionRequest get;
  get.set_id(action.id());
  ASSERT_OK_AND_ASSIGN(v1::Action got, service_.Get(get));
  EXPECT_EQ(got.counts().targets(), 2);
  get.set_id("ffffffffffff");
  EXPECT_EQ(service_.Get(get).status().code(), absl::StatusCode::kNotFound);
  get.set_id("nope");
  EXPECT_EQ(service_.Get(get).status().code(), absl::StatusCode::kInvalidArgument);

  v1::ListActionTargetsRequest targets;
  targets.set_id(action.id());
  targets.set_page_size(1);
  ASSERT_OK_AND_ASSIGN(v1::ListActionTargetsResponse first, service_.ListTargets(targets));
  ASSERT_EQ(first.targets_size(), 1);
  EXPECT_EQ(first.targets(0).agent_id(), "aaaaaaaaaaa1");
  EXPECT_EQ(first.targets(0).state(), v1::ACTION_TARGET_PENDING);
  ASSERT_FALSE(first.next_page_token().empty());
  targets.set_page_token(first.next_page_token());
  ASSERT_OK_AND_ASSIGN(v1::ListActionTargetsResponse second, service_.ListTargets(targets));
  ASSERT_EQ(second.targets_size(), 1);
  EXPECT_EQ(second.targets(0).agent_id(), "aaaaaaaaaaa2");
  EXPECT_TRUE(second.next_page_token().empty());
}

// Newest first, page by page, with the state filter.
TEST_F(ActionServiceTest, ListIsNewestFirstAndPaged) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(v1::Action action, service_.Create(Request("restart"), {}));
    ids.push_back(action.id());
    env_.clock.Advance(absl::Seconds(1));
  }
  v1::CancelActionRequest cancel;
  cancel.set_id(ids[0]);
  ASSERT_OK(service_.Cancel(cancel).status());

  v1::ListActionsRequest list;
  list.set_page_size(2);
  ASSERT_OK_AND_ASSIGN(v1::ListActionsResponse first, service_.List(list));
  ASSERT_EQ(first.actions_size(), 2);
  EXPECT_EQ(first.actions(0).id(), ids[2]);
  EXPECT_EQ(first.actions(1).id(), ids[1]);
  list.set_page_token(first.next_page_token());
  ASSERT_OK_AND_ASSIGN(v1::ListActionsResponse second, service_.List(list));
  ASSERT_EQ(second.actions_size(), 1);
  EXPECT_EQ(second.actions(0).id(), ids[0]);
  EXPECT_TRUE(second.next_page_token().empty());

  v1::ListActionsRequest cancelled;
  cancelled.set_state(v1::ACTION_STATE_CANCELLED);
  ASSERT_OK_AND_ASSIGN(v1::ListActionsResponse only, service_.List(cancelled));
  ASSERT_EQ(only.actions_size(), 1);
  EXPECT_EQ(only.actions(0).id(), ids[0]);
  v1::ListActionsRequest active;
  active.set_state(v1::ACTION_STATE_ACTIVE);
  ASSERT_OK_AND_ASSIGN(v1::ListActionsResponse two, service_.List(active));
  EXPECT_EQ(two.actions_size(), 2);
}

// Cancel commits cancelled_at once: the undelivered targets count as cancelled; again changes
// nothing.
TEST_F(ActionServiceTest, CancelIsIdempotent) {
  ASSERT_OK_AND_ASSIGN(v1::Action action, service_.Create(Request("restart"), {}));
  v1::CancelActionRequest cancel;
  cancel.set_id(action.id());
  ASSERT_OK_AND_ASSIGN(v1::Action cancelled, service_.Cancel(cancel));
  EXPECT_TRUE(cancelled.has_cancelled_at());
  EXPECT_EQ(cancelled.counts().cancelled(), 2);
  EXPECT_TRUE(cancelled.done());
  const int64_t revision = env_.store->CurrentRevision();
  env_.clock.Advance(absl::Seconds(5));
  ASSERT_OK_AND_ASSIGN(v1::Action again, service_.Cancel(cancel));
  EXPECT_EQ(again.cancelled_at().seconds(), cancelled.cancelled_at().seconds());
  EXPECT_EQ(env_.store->CurrentRevision(), revision);
  cancel.set_id("ffffffffffff");
  EXPECT_EQ(service_.Cancel(cancel).status().code(), absl::StatusCode::kNotFound);
}

// Watch sends the action, then its changes, and ends with the message that says it is done.
TEST_F(ActionServiceTest, WatchEndsWhenDone) {
  ASSERT_OK_AND_ASSIGN(v1::Action action, service_.Create(Request("restart"), {}));
  std::vector<v1::Action> seen;
  v1::GetActionRequest get;
  get.set_id(action.id());
  absl::Status watched = service_.Watch(
      get,
      [&](const v1::Action& now) {
        seen.push_back(now);
        if (seen.size() == 1) {
          for (const std::string agent : {"aaaaaaaaaaa1", "aaaaaaaaaaa2"}) {
            v1::ActionStatus status;
            status.set_id(action.id());
            status.set_state(v1::ActionStatus::SUCCEEDED);
            EXPECT_OK(engine_.ActionStatusReported(agent, status));
          }
        }
        return seen.size() < 10;
      },
      [] { return false; });
  ASSERT_OK(watched);
  ASSERT_GE(seen.size(), 2u);
  EXPECT_FALSE(seen.front().done());
  EXPECT_TRUE(seen.back().done());
  EXPECT_EQ(seen.back().counts().succeeded(), 2);
}

}  // namespace
}  // namespace fleet::server
