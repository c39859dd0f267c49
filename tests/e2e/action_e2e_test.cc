// End-to-end: actions from the admin API to agents on real Connect streams of a real fleetd:
// only the targets get them, an offline target gets one when it connects (but not once it
// expired), a cancel stops the targets that did not get it, results survive a restart, a watch
// ends when the action is done (and at once, UNAVAILABLE, when fleetd shuts down), and one
// stream never gets an action twice. Where a test shows
// that something does NOT arrive, it sends a later action to the same agent and checks that this
// one comes first: no waiting on time.
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "fleet/v1/admin.grpc.pb.h"
#include "fleet/v1/agent.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/fleetctl_runner.h"
#include "tests/testing/fleetd_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_agent.h"

namespace fleet {
namespace {

using google::protobuf::util::TimeUtil;
using testing::CommandResult;
using testing::FleetdProcess;
using ::testing::HasSubstr;
using testing::TempDir;
using testing::TestAgent;

constexpr char kPolicy[] = "kind: Policy\nmetadata: {name: linux}\nspec: {logs: {level: info}}\n";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

class ActionE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(fleetd_, FleetdProcess::Start(FLEETD_BIN, tmp_.Sub("data")));
    admin_token_ =
        std::string(absl::StripAsciiWhitespace(ReadFile(fleetd_->bootstrap_token_file())));
    CommandResult applied = Fleetctl({"apply", "-f", "-"}, kPolicy);
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
    CommandResult token = Fleetctl({"token", "create", "--policy", "linux", "-o", "json"});
    ASSERT_EQ(token.exit_code, 0) << token.err;
    enrollment_token_ = nlohmann::json::parse(token.out)["secret"];
  }

  CommandResult Fleetctl(const std::vector<std::string>& args,
                         const std::optional<std::string>& input = std::nullopt) {
    return testing::RunFleetctl(FLEETCTL_BIN, *fleetd_, tmp_.Sub("config"), args, "", input);
  }

  // Calls the admin API with the bootstrap token.
  grpc::Status Admin(
      const std::function<grpc::Status(v1::AdminService::Stub&, grpc::ClientContext&)>& call) {
    auto stub = v1::AdminService::NewStub(
        grpc::CreateChannel(fleetd_->admin_address(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + admin_token_);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    return call(*stub, context);
  }

  v1::EnrollResponse Enroll(const std::string& hostname) {
    v1::EnrollResponse response;
    grpc::Status status =
        testing::EnrollAgent(fleetd_->agent_address(), enrollment_token_, hostname, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  void Label(const std::string& agent_id, const std::string& key, const std::string& value) {
    v1::SetAgentLabelsRequest request;
    request.set_id(agent_id);
    (*request.mutable_set())[key] = value;
    v1::Agent response;
    grpc::Status status = Admin([&](auto& stub, auto& context) {
      return stub.SetAgentLabels(&context, request, &response);
    });
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // Creates an action; `targets` as given, expiring in `expires_in` (unset: the default).
  v1::Action Create(const v1::Targets& targets, const std::string& type = "restart",
                    std::optional<absl::Duration> expires_in = std::nullopt,
                    const std::string& arguments_json = "") {
    v1::CreateActionRequest request;
    request.set_type(type);
    request.set_arguments_json(arguments_json);
    *request.mutable_targets() = targets;
    if (expires_in.has_value()) {
      *request.mutable_expires_at() =
          TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(absl::Now() + *expires_in));
    }
    v1::Action action;
    grpc::Status status = Admin(
        [&](auto& stub, auto& context) { return stub.CreateAction(&context, request, &action); });
    EXPECT_TRUE(status.ok()) << status.error_message();
    return action;
  }
  v1::Action CreateFor(const std::vector<std::string>& agent_ids,
                       std::optional<absl::Duration> expires_in = std::nullopt) {
    v1::Targets targets;
    for (const std::string& id : agent_ids) targets.add_agent_ids(id);
    return Create(targets, "restart", expires_in);
  }

  v1::Action Get(const std::string& id) {
    v1::GetActionRequest request;
    request.set_id(id);
    v1::Action action;
    grpc::Status status = Admin(
        [&](auto& stub, auto& context) { return stub.GetAction(&context, request, &action); });
    EXPECT_TRUE(status.ok()) << status.error_message();
    return action;
  }

  // Polls GetAction until `check` holds (bounded); returns the last seen.
  v1::Action AwaitAction(const std::string& id,
                         const std::function<bool(const v1::ActionCounts&)>& check) {
    v1::Action action;
    for (int attempt = 0; attempt < 200; ++attempt) {
      action = Get(id);
      if (check(action.counts())) return action;
      absl::SleepFor(absl::Milliseconds(100));
    }
    ADD_FAILURE() << "action " << id << " never got there: " << action.DebugString();
    return action;
  }

  // A stream of `identity`, its Hello sent.
  std::unique_ptr<TestAgent> Connect(const v1::EnrollResponse& identity) {
    auto agent = std::make_unique<TestAgent>(fleetd_->agent_address(), identity);
    EXPECT_TRUE(agent->Hello());
    return agent;
  }

  // Opens WatchAction on `action_id`, with the bootstrap token and a 30 s deadline; `context`
  // must outlive the reader.
  std::unique_ptr<grpc::ClientReader<v1::Action>> Watch(grpc::ClientContext& context,
                                                        const std::string& action_id) {
    watch_stub_ = v1::AdminService::NewStub(
        grpc::CreateChannel(fleetd_->admin_address(), grpc::InsecureChannelCredentials()));
    context.AddMetadata("authorization", "Bearer " + admin_token_);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::GetActionRequest request;
    request.set_id(action_id);
    return watch_stub_->WatchAction(&context, request);
  }

  TempDir tmp_;
  std::unique_ptr<FleetdProcess> fleetd_;
  std::string admin_token_;
  std::string enrollment_token_;
  std::unique_ptr<v1::AdminService::Stub> watch_stub_;  // Watch's
};

// An action to a label selector reaches the agents it selects and no other.
TEST_F(ActionE2eTest, SelectorReachesOnlyThoseAgents) {
  const v1::EnrollResponse web1 = Enroll("web-1"), web2 = Enroll("web-2"), db = Enroll("db-1");
  Label(web1.agent_id(), "role", "web");
  Label(web2.agent_id(), "role", "web");
  Label(db.agent_id(), "role", "db");
  auto a1 = Connect(web1), a2 = Connect(web2), a3 = Connect(db);
  v1::Targets web;
  web.set_selector("role=web");
  const v1::Action action = Create(web, "upgrade", std::nullopt, R"({"version": "2.0"})");
  ASSERT_FALSE(::testing::Test::HasFailure());
  EXPECT_EQ(action.counts().targets(), 2);
  for (TestAgent* agent : {a1.get(), a2.get()}) {
    std::optional<v1::AgentAction> got = agent->NextAction();
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->id(), action.id());
    EXPECT_EQ(got->type(), "upgrade");
    EXPECT_EQ(got->arguments_json(), R"({"version":"2.0"})");
    ASSERT_TRUE(agent->ReportAction(action.id(), v1::ActionStatus::SUCCEEDED, 100));
  }
  // The db agent's first action is the one made for it afterwards.
  const v1::Action later = CreateFor({db.agent_id()});
  std::optional<v1::AgentAction> got = a3->NextAction();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->id(), later.id());
  const v1::Action done =
      AwaitAction(action.id(), [](const v1::ActionCounts& c) { return c.succeeded() == 2; });
  EXPECT_TRUE(done.done());
}

// An offline target gets the action when it connects; one whose action expired meanwhile never
// gets it.
TEST_F(ActionE2eTest, OfflineAgentGetsItOnReconnectButNotAfterExpiry) {
  const v1::EnrollResponse early = Enroll("early"), late = Enroll("late");
  const v1::Action lasting = CreateFor({early.agent_id()});
  const v1::Action brief = CreateFor({late.agent_id()}, absl::Seconds(2));
  EXPECT_EQ(Get(lasting.id()).counts().pending(), 1);
  AwaitAction(brief.id(), [](const v1::ActionCounts& c) { return c.expired() == 1; });

  auto agent = Connect(early);
  std::optional<v1::AgentAction> got = agent->NextAction();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->id(), lasting.id());

  auto other = Connect(late);
  const v1::Action sentinel = CreateFor({late.agent_id()});
  got = other->NextAction();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->id(), sentinel.id());  // not the expired one
}

// A cancel: the target that has the action gets an ActionCancel; the one that did not never
// gets the action.
TEST_F(ActionE2eTest, CancelStopsUndeliveredTargets) {
  const v1::EnrollResponse online = Enroll("online"), offline = Enroll("offline");
  auto agent = Connect(online);
  const v1::Action action = CreateFor({online.agent_id(), offline.agent_id()});
  std::optional<v1::AgentAction> got = agent->NextAction();
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(agent->ReportAction(action.id(), v1::ActionStatus::ACCEPTED));
  AwaitAction(action.id(), [](const v1::ActionCounts& c) { return c.delivered() == 1; });

  v1::CancelActionRequest cancel;
  cancel.set_id(action.id());
  v1::Action cancelled;
  grpc::Status status = Admin(
      [&](auto& stub, auto& context) { return stub.CancelAction(&context, cancel, &cancelled); });
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(cancelled.counts().cancelled(), 1);  // the offline one
  std::optional<v1::ServerMessage> message = agent->NextActionMessage();
  ASSERT_TRUE(message.has_value());
  ASSERT_TRUE(message->has_action_cancel());
  EXPECT_EQ(message->action_cancel().id(), action.id());
  ASSERT_TRUE(agent->ReportAction(action.id(), v1::ActionStatus::CANCELLED));
  const v1::Action done =
      AwaitAction(action.id(), [](const v1::ActionCounts& c) { return c.cancelled() == 2; });
  EXPECT_TRUE(done.done());

  auto other = Connect(offline);
  const v1::Action sentinel = CreateFor({offline.agent_id()});
  message = other->NextActionMessage();
  ASSERT_TRUE(message.has_value());
  ASSERT_TRUE(message->has_action());
  EXPECT_EQ(message->action().id(), sentinel.id());
}

// Results reported before a restart are there after it; the target that finished does not get
// the action again, the one still pending does.
TEST_F(ActionE2eTest, ResultsSurviveARestart) {
  const v1::EnrollResponse done = Enroll("done-1"), waiting = Enroll("waiting-1");
  const v1::Action action = CreateFor({done.agent_id(), waiting.agent_id()});
  {
    auto agent = Connect(done);
    std::optional<v1::AgentAction> got = agent->NextAction();
    ASSERT_TRUE(got.has_value());
    ASSERT_TRUE(agent->ReportAction(action.id(), v1::ActionStatus::SUCCEEDED, 100, "restarted",
                                    "uptime 0s"));
    AwaitAction(action.id(), [](const v1::ActionCounts& c) { return c.succeeded() == 1; });
  }
  ASSERT_OK(fleetd_->Restart());

  const v1::Action after = Get(action.id());
  EXPECT_EQ(after.counts().succeeded(), 1);
  EXPECT_EQ(after.counts().pending(), 1);
  v1::ListActionTargetsRequest request;
  request.set_id(action.id());
  request.set_state(v1::ACTION_TARGET_SUCCEEDED);
  v1::ListActionTargetsResponse targets;
  grpc::Status status = Admin([&](auto& stub, auto& context) {
    return stub.ListActionTargets(&context, request, &targets);
  });
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(targets.targets_size(), 1);
  EXPECT_EQ(targets.targets(0).agent_id(), done.agent_id());
  EXPECT_EQ(targets.targets(0).hostname(), "done-1");
  EXPECT_EQ(targets.targets(0).message(), "restarted");
  EXPECT_EQ(targets.targets(0).output(), "uptime 0s");

  auto pending = Connect(waiting);
  std::optional<v1::AgentAction> got = pending->NextAction();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->id(), action.id());

  auto finished = Connect(done);
  const v1::Action sentinel = CreateFor({done.agent_id()});
  got = finished->NextAction();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->id(), sentinel.id());
}

// One stream gets an unfinished action once; a new stream of the agent gets it again.
TEST_F(ActionE2eTest, NotRedeliveredOnTheSameStream) {
  const v1::EnrollResponse identity = Enroll("once");
  const v1::Action first = CreateFor({identity.agent_id()});
  {
    auto agent = Connect(identity);
    std::optional<v1::AgentAction> got = agent->NextAction();
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->id(), first.id());
    AwaitAction(first.id(), [](const v1::ActionCounts& c) { return c.delivered() == 1; });
    const v1::Action second = CreateFor({identity.agent_id()});
    got = agent->NextAction();
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->id(), second.id());  // not the first again
  }
  auto again = Connect(identity);
  std::optional<v1::AgentAction> got = again->NextAction();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->id(), first.id());  // a new stream: still unfinished, so sent again
}

// WatchAction streams the counts as they change and ends with the message that says done.
TEST_F(ActionE2eTest, WatchEndsWhenEveryTargetFinished) {
  const v1::EnrollResponse identity = Enroll("watched");
  auto agent = Connect(identity);
  const v1::Action action = CreateFor({identity.agent_id()});
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::Action>> watch = Watch(context, action.id());
  v1::Action seen;
  ASSERT_TRUE(watch->Read(&seen));
  EXPECT_FALSE(seen.done());
  std::optional<v1::AgentAction> got = agent->NextAction();
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(agent->ReportAction(action.id(), v1::ActionStatus::SUCCEEDED, 100));
  v1::Action last = seen;
  while (watch->Read(&seen)) last = seen;
  grpc::Status status = watch->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(last.done());
  EXPECT_EQ(last.counts().succeeded(), 1);
}

// fleetd shutting down ends an open watch with UNAVAILABLE saying so (its caller reconnects),
// rather than holding it until the server's grace is up and cutting it off.
TEST_F(ActionE2eTest, AShutdownEndsAWatchWithUnavailable) {
  // Its target offline: the action stays pending, and the watch open.
  const v1::EnrollResponse identity = Enroll("watched-at-shutdown");
  const v1::Action action = CreateFor({identity.agent_id()});
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::Action>> watch = Watch(context, action.id());
  v1::Action seen;
  ASSERT_TRUE(watch->Read(&seen));
  ASSERT_OK(fleetd_->Stop());
  while (watch->Read(&seen)) {
  }
  grpc::Status status = watch->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("fleetd is shutting down"));
}

// Bad requests are INVALID_ARGUMENT naming the field, through the real API.
TEST_F(ActionE2eTest, BadRequestsNameTheField) {
  Enroll("any");
  auto create = [&](const v1::CreateActionRequest& request) {
    v1::Action action;
    return Admin(
        [&](auto& stub, auto& context) { return stub.CreateAction(&context, request, &action); });
  };
  v1::CreateActionRequest request;
  request.set_type("format-disk");
  request.mutable_targets()->set_policy("linux");
  grpc::Status status = create(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message().rfind("type", 0), 0u) << status.error_message();
  request.set_type("restart");
  request.mutable_targets()->set_policy("");
  request.mutable_targets()->set_selector("role=none");
  status = create(request);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message().rfind("targets", 0), 0u) << status.error_message();
}

}  // namespace
}  // namespace fleet
