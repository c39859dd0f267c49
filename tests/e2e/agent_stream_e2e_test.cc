// End-to-end: agents on real Connect streams to a real fleetd, applying updates with the agent
// client core, while fleetctl changes policies: pushes, deltas, acks, nacks, reassignment,
// unenrollment, replaced streams, refused credentials, and resuming after a restart.
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/policy_applier.h"
#include "fleet/v1/agent.grpc.pb.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/fleetctl_runner.h"
#include "tests/testing/fleetd_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_agent.h"

namespace fleet {
namespace {

using testing::CommandResult;
using testing::FleetdProcess;
using testing::TempDir;
using testing::TestAgent;

// The notes that never change make the document bigger than a patch of the level, so changes
// come as DELTAs (a DELTA is sent only when smaller than the FULL document).
std::string Policy(const std::string& name, const std::string& level) {
  return absl::StrCat("kind: Policy\nmetadata: {name: ", name, "}\nspec: {logs: {level: ", level,
                      "}, paths: [/var/log], notes: ", std::string(200, 'n'), "}\n");
}

class AgentStreamE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(StartFleetd());
    ASSERT_EQ(Apply(Policy("linux", "info")), 0);
    ASSERT_EQ(Apply(Policy("windows", "warn")), 0);
    CommandResult token = Fleetctl({"token", "create", "--policy", "linux", "-o", "json"});
    ASSERT_EQ(token.exit_code, 0) << token.err;
    token_ = nlohmann::json::parse(token.out)["secret"];
  }

  void StartFleetd(const std::vector<std::string>& flags = {}) {
    ASSERT_OK_AND_ASSIGN(fleetd_, FleetdProcess::Start(FLEETD_BIN, data_dir_, flags));
  }

  CommandResult Fleetctl(const std::vector<std::string>& args,
                         const std::optional<std::string>& input = std::nullopt) {
    return testing::RunFleetctl(FLEETCTL_BIN, *fleetd_, tmp_.Sub("config"), args, "", input);
  }
  int Apply(const std::string& yaml) { return Fleetctl({"apply", "-f", "-"}, yaml).exit_code; }

  grpc::Status TryEnroll(const std::string& token, v1::EnrollResponse* response) {
    return testing::EnrollAgent(fleetd_->agent_address(), token, "web", response);
  }

  v1::EnrollResponse Enroll(const std::string& hostname) {
    v1::EnrollResponse response;
    grpc::Status status =
        testing::EnrollAgent(fleetd_->agent_address(), token_, hostname, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  // Polls `rollout status POLICY -o json` until `check` holds (bounded).
  nlohmann::json AwaitRollout(const std::string& policy,
                              const std::function<bool(const nlohmann::json&)>& check) {
    nlohmann::json status;
    for (int attempt = 0; attempt < 100; ++attempt) {
      CommandResult result = Fleetctl({"rollout", "status", policy, "-o", "json"});
      status = nlohmann::json::parse(result.out, nullptr, false);
      if (!status.is_discarded() && check(status)) return status;
      absl::SleepFor(absl::Milliseconds(100));
    }
    ADD_FAILURE() << "rollout of " << policy << " never got there: " << status.dump();
    return status;
  }

  TempDir tmp_;
  const std::string data_dir_ = tmp_.Sub("data");
  std::unique_ptr<FleetdProcess> fleetd_;
  std::string token_;
};

// A new agent gets the FULL policy, then each change as a DELTA the moment it is committed;
// acks show in rollout status.
TEST_F(AgentStreamE2eTest, UpdatesArePushedAndAcked) {
  TestAgent agent(fleetd_->agent_address(), Enroll("web-1"));
  ASSERT_TRUE(agent.Hello());
  std::optional<v1::ServerMessage> welcome = agent.Read();
  ASSERT_TRUE(welcome.has_value() && welcome->has_welcome());
  EXPECT_EQ(welcome->welcome().policy(), "linux");
  std::optional<v1::PolicyUpdate> full = agent.ApplyNext();
  ASSERT_TRUE(full.has_value());
  EXPECT_EQ(full->kind(), v1::PolicyUpdate::FULL);
  EXPECT_EQ(full->target_revision(), 1);

  ASSERT_EQ(Apply(Policy("linux", "debug")), 0);
  std::optional<v1::PolicyUpdate> delta = agent.ApplyNext();
  ASSERT_TRUE(delta.has_value());
  EXPECT_EQ(delta->kind(), v1::PolicyUpdate::DELTA);
  EXPECT_EQ(delta->base_revision(), 1);
  EXPECT_EQ(agent.applier.document()["logs"]["level"], "debug");

  nlohmann::json status = AwaitRollout("linux", [](const nlohmann::json& s) {
    return s["status"]["acked"] == 1 && s["spec"]["revision"] == 2;
  });
  EXPECT_EQ(status["status"]["complete"], true);
  CommandResult watch = Fleetctl({"rollout", "status", "linux", "--watch", "--timeout", "20s"});
  EXPECT_EQ(watch.exit_code, 0) << watch.err;
  EXPECT_TRUE(agent.End().ok());
}

// A Nack keeps the agent where it is and shows in rollout status; --watch exits 4.
TEST_F(AgentStreamE2eTest, NackShowsInRollout) {
  TestAgent agent(fleetd_->agent_address(), Enroll("web-1"));
  ASSERT_TRUE(agent.Hello());
  ASSERT_TRUE(agent.ApplyNext().has_value());
  ASSERT_EQ(Apply(Policy("linux", "trace")), 0);
  ASSERT_TRUE(agent.ApplyNext(/*refuse=*/true).has_value());
  AwaitRollout("linux", [](const nlohmann::json& s) { return s["status"]["nacked"] == 1; });
  CommandResult watch = Fleetctl({"rollout", "status", "linux", "--watch", "--timeout", "20s"});
  EXPECT_EQ(watch.exit_code, 4) << watch.err;
  nlohmann::json agents =
      nlohmann::json::parse(Fleetctl({"get", "agents", "-o", "json"}).out)["items"];
  EXPECT_EQ(agents[0]["status"]["appliedRevision"], 1) << agents.dump();
}

// An agent that cannot use a delta asks for the FULL document and gets it; a refused FULL is not
// sent again, and the next revision comes as usual.
TEST_F(AgentStreamE2eTest, NeedsFullGetsFullOnce) {
  TestAgent agent(fleetd_->agent_address(), Enroll("web-1"));
  ASSERT_TRUE(agent.Hello());
  ASSERT_TRUE(agent.ApplyNext().has_value());
  auto nack_needing_full = [&](const v1::PolicyUpdate& update) {
    v1::AgentMessage nack;
    nack.mutable_nack()->set_revision(update.target_revision());
    nack.mutable_nack()->set_reason("hash mismatch");
    nack.mutable_nack()->set_needs_full(true);
    ASSERT_TRUE(agent.Send(nack));
  };
  auto next_update = [&]() -> std::optional<v1::PolicyUpdate> {
    while (std::optional<v1::ServerMessage> message = agent.Read()) {
      if (message->has_policy_update()) return message->policy_update();
    }
    return std::nullopt;
  };
  ASSERT_EQ(Apply(Policy("linux", "debug")), 0);
  std::optional<v1::PolicyUpdate> delta = next_update();
  ASSERT_TRUE(delta.has_value());
  EXPECT_EQ(delta->kind(), v1::PolicyUpdate::DELTA);
  nack_needing_full(*delta);
  std::optional<v1::PolicyUpdate> full = next_update();
  ASSERT_TRUE(full.has_value());
  EXPECT_EQ(full->kind(), v1::PolicyUpdate::FULL);
  EXPECT_EQ(full->target_revision(), 2);
  nack_needing_full(*full);
  ASSERT_EQ(Apply(Policy("linux", "error")), 0);
  std::optional<v1::PolicyUpdate> next = next_update();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->target_revision(), 3) << "revision 2 was sent again";
}

// Reassigning moves the agent on its open stream; unenrolling ends the stream, UNAUTHENTICATED.
TEST_F(AgentStreamE2eTest, ReassignAndUnenrollActOnTheOpenStream) {
  v1::EnrollResponse identity = Enroll("web-1");
  TestAgent agent(fleetd_->agent_address(), identity);
  ASSERT_TRUE(agent.Hello());
  ASSERT_TRUE(agent.ApplyNext().has_value());
  ASSERT_EQ(Fleetctl({"agent", "reassign", identity.agent_id(), "--policy", "windows"}).exit_code,
            0);
  std::optional<v1::PolicyUpdate> moved = agent.ApplyNext();
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->policy(), "windows");
  EXPECT_EQ(moved->kind(), v1::PolicyUpdate::FULL);
  ASSERT_EQ(Fleetctl({"agent", "unenroll", identity.agent_id()}).exit_code, 0);
  EXPECT_EQ(agent.Status().error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

// Wrong or borrowed credentials are refused; a second stream replaces the first.
TEST_F(AgentStreamE2eTest, CredentialsAndReplacement) {
  v1::EnrollResponse first = Enroll("web-1");
  v1::EnrollResponse second = Enroll("web-2");
  TestAgent wrong(fleetd_->agent_address(), first,
                  "fagt_" + first.agent_id() + "_" + std::string(64, '0'));
  EXPECT_EQ(wrong.Status().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // One agent cannot speak as another: its secret names itself.
  TestAgent borrowed(fleetd_->agent_address(), first, second.agent_secret());
  EXPECT_EQ(borrowed.Status().error_code(), grpc::StatusCode::UNAUTHENTICATED);

  TestAgent old_stream(fleetd_->agent_address(), first);
  ASSERT_TRUE(old_stream.Hello());
  ASSERT_TRUE(old_stream.ApplyNext().has_value());
  TestAgent new_stream(fleetd_->agent_address(), first);
  ASSERT_TRUE(new_stream.Hello());
  EXPECT_EQ(old_stream.Status().error_code(), grpc::StatusCode::ABORTED);
  EXPECT_TRUE(new_stream.ApplyNext().has_value());
  // The replaced stream's end does not mark offline the agent its successor serves.
  absl::SleepFor(absl::Seconds(1));  // past one state flush
  AwaitRollout("linux", [](const nlohmann::json& s) { return s["status"]["acked"] == 1; });
}

// A revoked enrollment token enrolls no one; agents it enrolled before keep working.
TEST_F(AgentStreamE2eTest, RevokedTokenIsRefused) {
  v1::EnrollResponse enrolled = Enroll("web-1");
  CommandResult tokens = Fleetctl({"get", "tokens", "-o", "json"});
  const std::string id = nlohmann::json::parse(tokens.out)["items"][0]["metadata"]["id"];
  ASSERT_EQ(Fleetctl({"token", "revoke", id}).exit_code, 0);
  v1::EnrollResponse refused;
  EXPECT_EQ(TryEnroll(token_, &refused).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  TestAgent agent(fleetd_->agent_address(), enrolled);
  ASSERT_TRUE(agent.Hello());
  EXPECT_TRUE(agent.ApplyNext().has_value());
}

// An agent whose applied revision was pruned from the history gets the FULL document.
TEST_F(AgentStreamE2eTest, PrunedBaseGetsFull) {
  ASSERT_OK(fleetd_->Stop());
  ASSERT_NO_FATAL_FAILURE(StartFleetd({"--policy-history", "2"}));
  v1::EnrollResponse identity = Enroll("web-1");
  agent::PolicyApplier applied;
  {
    TestAgent agent(fleetd_->agent_address(), identity);
    ASSERT_TRUE(agent.Hello());
    ASSERT_TRUE(agent.ApplyNext().has_value());
    applied = agent.applier;
    EXPECT_TRUE(agent.End().ok());
  }
  for (const char* level : {"debug", "warn", "error"}) ASSERT_EQ(Apply(Policy("linux", level)), 0);
  TestAgent agent(fleetd_->agent_address(), identity);
  agent.applier = applied;
  ASSERT_TRUE(agent.Hello());
  std::optional<v1::PolicyUpdate> update = agent.ApplyNext();
  ASSERT_TRUE(update.has_value());
  EXPECT_EQ(update->kind(), v1::PolicyUpdate::FULL);
  EXPECT_EQ(update->target_revision(), 4);
}

// After a restart an agent resumes from its applied revision: a DELTA for what changed
// meanwhile, nothing when nothing did.
TEST_F(AgentStreamE2eTest, ResumeAfterRestartGetsDelta) {
  v1::EnrollResponse identity = Enroll("web-1");
  agent::PolicyApplier applied;
  {
    TestAgent agent(fleetd_->agent_address(), identity);
    ASSERT_TRUE(agent.Hello());
    ASSERT_TRUE(agent.ApplyNext().has_value());
    applied = agent.applier;
    ASSERT_OK(fleetd_->Stop());
    std::optional<v1::ServerMessage> last;
    while (std::optional<v1::ServerMessage> message = agent.Read()) last = message;
    ASSERT_TRUE(last.has_value() && last->has_go_away()) << "no GoAway before shutdown";
  }
  ASSERT_NO_FATAL_FAILURE(StartFleetd());
  ASSERT_EQ(Apply(Policy("linux", "error")), 0);
  TestAgent agent(fleetd_->agent_address(), identity);
  agent.applier = applied;
  ASSERT_TRUE(agent.Hello());
  std::optional<v1::PolicyUpdate> update = agent.ApplyNext();
  ASSERT_TRUE(update.has_value());
  EXPECT_EQ(update->kind(), v1::PolicyUpdate::DELTA);
  EXPECT_EQ(update->base_revision(), 1);
  EXPECT_EQ(update->target_revision(), 2);
}

// One agent cannot break the fleet's admin views: a Nack reason and a status message of 1,023
// ASCII bytes and a 2-byte character, which used to be cut inside the character (leaving
// invalid UTF-8 that made ListAgents, GetAgent and GetRolloutStatus fail for everyone, also
// after a restart), are kept cut before it; every view still answers, before and after a
// restart.
TEST_F(AgentStreamE2eTest, LongTextFromAnAgentKeepsTheViewsWorking) {
  const std::string long_text = std::string(1023, 'x') + "\xC3\xA9";
  v1::EnrollResponse identity = Enroll("web-1");
  {
    TestAgent agent(fleetd_->agent_address(), identity);
    ASSERT_TRUE(agent.Hello());
    std::optional<v1::PolicyUpdate> update = agent.NextUpdate();
    ASSERT_TRUE(update.has_value());
    v1::AgentMessage nack;
    nack.mutable_nack()->set_revision(update->target_revision());
    nack.mutable_nack()->set_reason(long_text);
    ASSERT_TRUE(agent.Send(nack));
    v1::AgentMessage report;
    report.mutable_status()->set_health(v1::StatusReport::DEGRADED);
    report.mutable_status()->set_message(long_text);
    ASSERT_TRUE(agent.Send(report));
    AwaitRollout("linux", [](const nlohmann::json& s) { return s["status"]["nacked"] == 1; });
    EXPECT_TRUE(agent.End().ok());
  }
  auto check_views = [&] {
    CommandResult list = Fleetctl({"get", "agents", "-o", "json"});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    nlohmann::json agents = nlohmann::json::parse(list.out)["items"];
    ASSERT_EQ(agents.size(), 1u) << agents.dump();
    EXPECT_EQ(agents[0]["status"]["nackReason"], std::string(1023, 'x'));
    EXPECT_EQ(agents[0]["status"]["healthMessage"], std::string(1023, 'x'));
    CommandResult one = Fleetctl({"get", "agent", identity.agent_id(), "-o", "json"});
    EXPECT_EQ(one.exit_code, 0) << one.err;
    // The agent refused the revision, offline or not: rollout status answers, and says so with
    // exit 4.
    CommandResult rollout = Fleetctl({"rollout", "status", "linux", "-o", "json"});
    EXPECT_EQ(rollout.exit_code, 4) << rollout.err;
    nlohmann::json status = nlohmann::json::parse(rollout.out, nullptr, false);
    ASSERT_FALSE(status.is_discarded()) << rollout.out;
    EXPECT_EQ(status["status"]["nacked"], 1);
  };
  ASSERT_NO_FATAL_FAILURE(check_views());
  ASSERT_OK(fleetd_->Stop());
  ASSERT_NO_FATAL_FAILURE(StartFleetd());
  ASSERT_NO_FATAL_FAILURE(check_views());
}

// A message that does not parse (a string that is not UTF-8, which protobuf refuses) ends the
// stream with INVALID_ARGUMENT saying so, and changes nothing of the agent's state.
TEST_F(AgentStreamE2eTest, UnparsableMessageEndsTheStreamWithInvalidArgument) {
  TestAgent agent(fleetd_->agent_address(), Enroll("web-1"));
  ASSERT_TRUE(agent.Hello());
  ASSERT_TRUE(agent.ApplyNext().has_value());
  v1::AgentMessage report;
  report.mutable_status()->set_message("not \xFF UTF-8");
  agent.Send(report);
  grpc::Status status = agent.Status();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_NE(status.error_message().find("UTF-8"), std::string::npos) << status.error_message();
  CommandResult list = Fleetctl({"get", "agents", "-o", "json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_TRUE(nlohmann::json::parse(list.out)["items"][0]["status"]["healthMessage"].is_null())
      << list.out;
}

// A StatusReport out of bounds (65 components) ends the stream with INVALID_ARGUMENT naming the
// field.
TEST_F(AgentStreamE2eTest, TooManyComponentsEndTheStream) {
  TestAgent agent(fleetd_->agent_address(), Enroll("web-1"));
  ASSERT_TRUE(agent.Hello());
  ASSERT_TRUE(agent.ApplyNext().has_value());
  v1::AgentMessage report;
  for (int i = 0; i < 65; ++i) {
    (*report.mutable_status()->mutable_components())[absl::StrCat("c", i)] = "ok";
  }
  agent.Send(report);
  grpc::Status status = agent.Status();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_NE(status.error_message().find("StatusReport.components"), std::string::npos)
      << status.error_message();
}

// An agent whose stream ends with the same update unanswered, three times in a row, is not sent
// it again at once: rollout status counts it as refused, `get agents` says why, and its next
// stream gets the next new revision, not the held one.
TEST_F(AgentStreamE2eTest, UpdateThatKeepsFailingIsHeldBack) {
  v1::EnrollResponse identity = Enroll("web-1");
  {
    TestAgent agent(fleetd_->agent_address(), identity);
    ASSERT_TRUE(agent.Hello());
    ASSERT_TRUE(agent.ApplyNext().has_value());
    EXPECT_TRUE(agent.End().ok());
  }
  ASSERT_EQ(Apply(Policy("linux", "debug")), 0);
  for (int attempt = 0; attempt < 3; ++attempt) {
    TestAgent agent(fleetd_->agent_address(), identity);
    ASSERT_TRUE(agent.Hello());
    std::optional<v1::PolicyUpdate> update = agent.NextUpdate();
    ASSERT_TRUE(update.has_value()) << "attempt " << attempt;
    EXPECT_EQ(update->target_revision(), 2);
    EXPECT_TRUE(agent.End().ok());  // gone without an answer
  }
  // The server counts the third failure as the stream's end completes, just after the agent
  // sees it end.
  nlohmann::json agents;
  for (int poll = 0; poll < 100; ++poll) {
    agents = nlohmann::json::parse(Fleetctl({"get", "agents", "-o", "json"}).out)["items"];
    if (agents[0]["status"]["nackedRevision"] == 2) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(agents[0]["status"]["nackedRevision"], 2) << agents.dump();
  EXPECT_EQ(agents[0]["status"]["nackReason"],
            "delivery failed 3 times in a row: the stream ended with the update unanswered");
  TestAgent agent(fleetd_->agent_address(), identity);
  ASSERT_TRUE(agent.Hello());
  std::optional<v1::ServerMessage> welcome = agent.Read();
  ASSERT_TRUE(welcome.has_value() && welcome->has_welcome());
  AwaitRollout("linux", [](const nlohmann::json& s) { return s["status"]["nacked"] == 1; });
  ASSERT_EQ(Apply(Policy("linux", "trace")), 0);
  std::optional<v1::ServerMessage> next = agent.Read();
  ASSERT_TRUE(next.has_value() && next->has_policy_update());
  EXPECT_EQ(next->policy_update().target_revision(), 3);
  EXPECT_TRUE(agent.End().ok());
}

}  // namespace
}  // namespace fleet
