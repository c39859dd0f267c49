// Enrollment tokens, the agent registry and rollout status on a MemoryStore.
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "common/utf8.h"
#include "gtest/gtest.h"
#include "server/admin/agent_registry.h"
#include "server/admin/enrollment_token_service.h"
#include "server/admin/policy_service.h"
#include "server/admin/rollout_status.h"
#include "server/model/record_repair.h"
#include "tests/server/admin_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

class AgentAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"linux", "windows"}) {
      v1::ApplyPolicyRequest request;
      request.set_name(name);
      request.set_spec_json("{}");
      ASSERT_OK(policies_.Apply(request, "t"));
    }
  }

  AdminTestEnv env_;
  PolicyService policies_{*env_.store, env_.clock, {}, env_.directory};
  EnrollmentTokenService tokens_{*env_.store, env_.clock};
  AgentRegistry agents_{*env_.store, env_.clock, env_.state, absl::Seconds(91)};
  RolloutStatusService rollouts_{*env_.store, env_.rollouts};
};

// A token for an existing policy carries expiry and use limits; its secret is returned once.
TEST_F(AgentAdminTest, EnrollmentTokenCreateListRevoke) {
  v1::CreateEnrollmentTokenRequest request;
  request.set_policy("linux");
  request.mutable_ttl()->set_seconds(3600);
  request.set_max_uses(10);
  ASSERT_OK_AND_ASSIGN(v1::CreateEnrollmentTokenResponse created, tokens_.Create(request, "ops"));
  EXPECT_EQ(created.secret().substr(0, 5), "fenr_");
  EXPECT_EQ(created.token().expires_at().seconds(), 1'800'000'000 + 3600);
  EXPECT_EQ(created.token().max_uses(), 10);
  v1::ListEnrollmentTokensRequest list;
  list.set_policy("windows");
  ASSERT_OK_AND_ASSIGN(v1::ListEnrollmentTokensResponse none, tokens_.List(list));
  EXPECT_EQ(none.tokens_size(), 0);
  list.set_policy("linux");
  ASSERT_OK_AND_ASSIGN(v1::ListEnrollmentTokensResponse one, tokens_.List(list));
  ASSERT_EQ(one.tokens_size(), 1);
  v1::RevokeEnrollmentTokenRequest revoke;
  revoke.set_id(created.token().id());
  ASSERT_OK(tokens_.Revoke(revoke));
  ASSERT_OK(tokens_.Revoke(revoke));  // idempotent
  ASSERT_OK_AND_ASSIGN(v1::ListEnrollmentTokensResponse revoked, tokens_.List(list));
  EXPECT_TRUE(revoked.tokens(0).revoked());
}

// Tokens for unknown policies, with non-positive ttls or negative use limits are refused.
TEST_F(AgentAdminTest, EnrollmentTokenBadInput) {
  v1::CreateEnrollmentTokenRequest request;
  request.set_policy("nope");
  EXPECT_EQ(tokens_.Create(request, "a").status().code(), absl::StatusCode::kNotFound);
  request.set_policy("linux");
  request.mutable_ttl()->set_seconds(-5);
  EXPECT_EQ(tokens_.Create(request, "a").status().code(), absl::StatusCode::kInvalidArgument);
  request.mutable_ttl()->set_seconds(std::numeric_limits<int64_t>::max() / 2);
  EXPECT_EQ(tokens_.Create(request, "a").status().code(), absl::StatusCode::kInvalidArgument);
  request.clear_ttl();
  request.set_max_uses(-1);
  EXPECT_EQ(tokens_.Create(request, "a").status().code(), absl::StatusCode::kInvalidArgument);
  v1::RevokeEnrollmentTokenRequest revoke;
  revoke.set_id("0123456789ab");
  EXPECT_EQ(tokens_.Revoke(revoke).code(), absl::StatusCode::kNotFound);
}

// Listing filters by policy, status and label selector, page by page.
TEST_F(AgentAdminTest, ListAgentsFilters) {
  env_.PutAgent("00000000000a", "linux", v1::AGENT_STATUS_ONLINE, 1, {{"env", "prod"}});
  env_.PutAgent("00000000000b", "linux", v1::AGENT_STATUS_OFFLINE, 1, {{"env", "dev"}});
  env_.PutAgent("00000000000c", "windows", v1::AGENT_STATUS_ONLINE, 1, {{"env", "prod"}});
  env_.PutAgent("00000000000d", "linux", v1::AGENT_STATUS_ONLINE, 1, {});
  v1::ListAgentsRequest request;
  request.set_policy("linux");
  ASSERT_OK_AND_ASSIGN(v1::ListAgentsResponse linux, agents_.List(request));
  EXPECT_EQ(linux.agents_size(), 3);
  request.set_status(v1::AGENT_STATUS_ONLINE);
  request.set_selector("env!=prod");
  ASSERT_OK_AND_ASSIGN(v1::ListAgentsResponse selected, agents_.List(request));
  ASSERT_EQ(selected.agents_size(), 1);
  EXPECT_EQ(selected.agents(0).id(), "00000000000d");

  v1::ListAgentsRequest paged;
  paged.set_page_size(2);
  ASSERT_OK_AND_ASSIGN(v1::ListAgentsResponse first, agents_.List(paged));
  EXPECT_EQ(first.agents_size(), 2);
  paged.set_page_token(first.next_page_token());
  ASSERT_OK_AND_ASSIGN(v1::ListAgentsResponse second, agents_.List(paged));
  EXPECT_EQ(second.agents_size(), 2);
  EXPECT_EQ(second.agents(1).id(), "00000000000d");

  v1::ListAgentsRequest bad;
  bad.set_selector("env in prod");
  EXPECT_EQ(agents_.List(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

// Reassign moves an agent to an existing policy only, restarting its revision there.
TEST_F(AgentAdminTest, ReassignAndLabelsAndUnenroll) {
  env_.PutAgent("00000000000a", "linux", v1::AGENT_STATUS_ONLINE, 1, {{"env", "prod"}});
  v1::ReassignAgentRequest reassign;
  reassign.set_id("00000000000a");
  reassign.set_policy("nope");
  EXPECT_EQ(agents_.Reassign(reassign).status().code(), absl::StatusCode::kNotFound);
  reassign.set_policy("windows");
  ASSERT_OK_AND_ASSIGN(v1::Agent moved, agents_.Reassign(reassign));
  EXPECT_EQ(moved.policy(), "windows");
  EXPECT_EQ(moved.applied_revision(), 0);

  v1::SetAgentLabelsRequest labels;
  labels.set_id("00000000000a");
  (*labels.mutable_set())["tier"] = "web";
  labels.add_remove("env");
  ASSERT_OK_AND_ASSIGN(v1::Agent labelled, agents_.SetLabels(labels));
  EXPECT_EQ(labelled.labels().size(), 1u);
  EXPECT_EQ(labelled.labels().at("tier"), "web");
  (*labels.mutable_set())["bad key!"] = "x";
  EXPECT_EQ(agents_.SetLabels(labels).status().code(), absl::StatusCode::kInvalidArgument);

  v1::UnenrollAgentRequest unenroll;
  unenroll.set_id("00000000000a");
  ASSERT_OK(agents_.Unenroll(unenroll));
  EXPECT_EQ(agents_.Unenroll(unenroll).code(), absl::StatusCode::kNotFound);
}

// Rollout status counts acked, nacked, pending and offline agents of the policy only.
TEST_F(AgentAdminTest, RolloutStatusCounts) {
  v1::GetRolloutStatusRequest request;
  request.set_policy("linux");
  ASSERT_OK_AND_ASSIGN(v1::RolloutStatus empty, rollouts_.Get(request));
  EXPECT_EQ(empty.agents(), 0);
  EXPECT_TRUE(empty.complete());

  env_.PutAgent("00000000000a", "linux", v1::AGENT_STATUS_ONLINE, 1);
  env_.PutAgent("00000000000b", "linux", v1::AGENT_STATUS_ONLINE, 0, {}, 1);
  env_.PutAgent("00000000000c", "linux", v1::AGENT_STATUS_ONLINE, 0);
  env_.PutAgent("00000000000d", "linux", v1::AGENT_STATUS_OFFLINE, 0);
  env_.PutAgent("00000000000e", "windows", v1::AGENT_STATUS_ONLINE, 0);
  ASSERT_OK_AND_ASSIGN(v1::RolloutStatus status, rollouts_.Get(request));
  EXPECT_EQ(status.revision(), 1);
  EXPECT_EQ(status.agents(), 4);
  EXPECT_EQ(status.acked(), 1);
  EXPECT_EQ(status.nacked(), 1);
  EXPECT_EQ(status.pending(), 1);
  EXPECT_EQ(status.pending_offline(), 1);
  EXPECT_EQ(status.offline(), 1);
  EXPECT_FALSE(status.complete());
  request.set_revision(5);
  EXPECT_EQ(rollouts_.Get(request).status().code(), absl::StatusCode::kNotFound);
}

// With every assigned agent offline and none acked, the rollout is not complete: the agents are
// pending offline; once each has acked (and gone offline again) it is.
TEST_F(AgentAdminTest, RolloutStatusCountsOfflineAgents) {
  env_.PutAgent("00000000000a", "linux", v1::AGENT_STATUS_OFFLINE, 0);
  env_.PutAgent("00000000000b", "linux", v1::AGENT_STATUS_OFFLINE, 0);
  v1::GetRolloutStatusRequest request;
  request.set_policy("linux");
  ASSERT_OK_AND_ASSIGN(v1::RolloutStatus none, rollouts_.Get(request));
  EXPECT_EQ(none.agents(), 2);
  EXPECT_EQ(none.acked(), 0);
  EXPECT_EQ(none.pending_offline(), 2);
  EXPECT_EQ(none.offline(), 2);
  EXPECT_FALSE(none.complete());

  env_.PutAgent("00000000000a", "linux", v1::AGENT_STATUS_OFFLINE, 1);
  env_.PutAgent("00000000000b", "linux", v1::AGENT_STATUS_OFFLINE, 1);
  ASSERT_OK_AND_ASSIGN(v1::RolloutStatus all, rollouts_.Get(request));
  EXPECT_EQ(all.acked(), 2);
  EXPECT_EQ(all.offline(), 2);
  EXPECT_TRUE(all.complete());
}

// The watch sends the status now and again when an agent acks, until told to stop. The ack is
// seen at once: the env's state tracker never flushes, and the watch never reads the store's
// agent state.
TEST_F(AgentAdminTest, RolloutWatchFollowsChanges) {
  env_.PutAgent("00000000000a", "linux", v1::AGENT_STATUS_ONLINE, 0);
  v1::GetRolloutStatusRequest request;
  request.set_policy("linux");
  std::vector<v1::RolloutStatus> seen;
  absl::Status status = rollouts_.Watch(
      request,
      [&](const v1::RolloutStatus& update) {
        seen.push_back(update);
        if (seen.size() == 1) env_.PutAgent("00000000000a", "linux", v1::AGENT_STATUS_ONLINE, 1);
        return !update.complete();
      },
      [] { return false; });
  ASSERT_OK(status);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].pending(), 1);
  EXPECT_EQ(seen[1].acked(), 1);
  EXPECT_TRUE(seen[1].complete());
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> flushed =
      env_.store->RangeState(layout::kAgentStatus);
  ASSERT_OK(flushed);
  EXPECT_TRUE(flushed->empty());
}

// Writes `value` at `key` directly, as a data dir from before (or a broken disk) holds it.
void PutRaw(storage::Store& store, const std::string& key, const std::string& value) {
  ASSERT_OK(store.Txn({.success = {storage::Op::Put(key, value)}}));
}

// An agent record whose hostname is ill-formed UTF-8 is shown with U+FFFD in its place, in the
// list and by GetAgent; a record that does not parse at all is left out of the list, which
// answers with the others, and GetAgent of that one agent alone is DATA_LOSS. Each problem is
// logged once per key.
TEST_F(AgentAdminTest, UnreadableAgentRecordsDoNotBreakTheViews) {
  env_.PutAgent("00000000000a", "linux");
  record::AgentRecord broken;
  broken.mutable_agent()->set_id("00000000000b");
  broken.mutable_agent()->set_policy("linux");
  broken.mutable_agent()->set_hostname("web\xe2\x82");  // cut inside a character
  PutRaw(*env_.store, layout::AgentKey("00000000000b"), broken.SerializeAsString());
  PutRaw(*env_.store, layout::AgentKey("00000000000c"), "\xff\xff\xff not a record");

  for (int request = 0; request < 2; ++request) {
    ASSERT_OK_AND_ASSIGN(v1::ListAgentsResponse listed, agents_.List({}));
    ASSERT_EQ(listed.agents_size(), 2);
    EXPECT_EQ(listed.agents(0).id(), "00000000000a");
    EXPECT_EQ(listed.agents(1).id(), "00000000000b");
    EXPECT_EQ(listed.agents(1).hostname(), "web\xef\xbf\xbd\xef\xbf\xbd");
  }
  EXPECT_TRUE(RecordProblemLogged(layout::AgentKey("00000000000b")));
  EXPECT_TRUE(RecordProblemLogged(layout::AgentKey("00000000000c")));
  EXPECT_FALSE(RecordProblemLogged(layout::AgentKey("00000000000a")));

  v1::GetAgentRequest get;
  get.set_id("00000000000b");
  ASSERT_OK_AND_ASSIGN(v1::Agent repaired, agents_.Get(get));
  EXPECT_EQ(repaired.hostname(), "web\xef\xbf\xbd\xef\xbf\xbd");
  get.set_id("00000000000c");
  EXPECT_EQ(agents_.Get(get).status().code(), absl::StatusCode::kDataLoss);
  get.set_id("00000000000a");
  EXPECT_OK(agents_.Get(get));
}

// An agent state of ill-formed UTF-8 in memory (reported before agents' strings were checked)
// is shown as valid UTF-8, so that the list can be sent.
TEST_F(AgentAdminTest, IllFormedAgentStateIsShownAsValidUtf8) {
  env_.PutAgent("00000000000a", "linux", v1::AGENT_STATUS_ONLINE, 0, {}, 1);
  env_.state.Update("00000000000a", [](record::AgentStatusRecord& state) {
    state.set_nack_reason(std::string(1023, 'x') + "\xc3");
    state.set_health_message("\xff");
  });
  ASSERT_OK_AND_ASSIGN(v1::ListAgentsResponse listed, agents_.List({}));
  ASSERT_EQ(listed.agents_size(), 1);
  EXPECT_TRUE(IsValidUtf8(listed.agents(0).nack_reason()));
  EXPECT_TRUE(IsValidUtf8(listed.agents(0).health_message()));
  EXPECT_EQ(listed.agents(0).nack_reason().substr(0, 1023), std::string(1023, 'x'));
}

// A data dir holding an agent state whose nack reason was cut inside a character (by an older
// fleetd) works: once loaded, the agent list, the agent and rollout status all answer.
TEST_F(AgentAdminTest, DataDirWithAnIllFormedStateServes) {
  env_.PutAgent("00000000000a", "linux", v1::AGENT_STATUS_OFFLINE, 0);
  env_.state.Forget("00000000000a");
  record::AgentStatusRecord cut;
  cut.set_status(v1::AGENT_STATUS_ONLINE);
  cut.set_policy("linux");
  cut.set_nacked_revision(1);
  cut.set_nack_reason(std::string(1023, 'x') + "\xe2\x82");
  ASSERT_OK(env_.store->PutState(
      {{layout::AgentStatusKey("00000000000a"), cut.SerializeAsString()}}, {}));
  ASSERT_OK(env_.state.Load());

  ASSERT_OK_AND_ASSIGN(v1::ListAgentsResponse listed, agents_.List({}));
  ASSERT_EQ(listed.agents_size(), 1);
  EXPECT_TRUE(IsValidUtf8(listed.agents(0).nack_reason()));
  EXPECT_EQ(listed.agents(0).nacked_revision(), 1);
  v1::GetAgentRequest get;
  get.set_id("00000000000a");
  EXPECT_OK(agents_.Get(get));
  v1::GetRolloutStatusRequest rollout;
  rollout.set_policy("linux");
  ASSERT_OK_AND_ASSIGN(v1::RolloutStatus status, rollouts_.Get(rollout));
  EXPECT_EQ(status.nacked(), 1);
  EXPECT_FALSE(status.complete());
}

// Enrollment tokens that do not parse are left out of the token list.
TEST_F(AgentAdminTest, UnreadableTokenIsLeftOutOfTheList) {
  v1::CreateEnrollmentTokenRequest create;
  create.set_policy("linux");
  ASSERT_OK(tokens_.Create(create, "ops"));
  PutRaw(*env_.store, layout::EnrollmentTokenKey("000000000000"), "\xff\xff");
  ASSERT_OK_AND_ASSIGN(v1::ListEnrollmentTokensResponse listed, tokens_.List({}));
  EXPECT_EQ(listed.tokens_size(), 1);
}

// Deleting a policy counts its agents in the directory: refused while one is assigned, allowed
// once it is reassigned away.
TEST_F(AgentAdminTest, DeletePolicyCountsAgentsWithoutAScan) {
  env_.PutAgent("00000000000a", "windows");
  v1::DeletePolicyRequest request;
  request.set_name("windows");
  absl::StatusOr<v1::DeletePolicyResponse> refused = policies_.Delete(request);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "has 1 agents assigned"))
      << refused.status();
  v1::ReassignAgentRequest reassign;
  reassign.set_id("00000000000a");
  reassign.set_policy("linux");
  ASSERT_OK(agents_.Reassign(reassign));
  EXPECT_OK(policies_.Delete(request));
}

// RotateAgentCredentials marks the named agents, or those a selector matches, or all, across
// several transactions' worth of agents; an unknown id marks nothing; a bad request is refused.
// GetAgent shows the request.
TEST_F(AgentAdminTest, RotateCredentialsMarksAgents) {
  const int kAgents = static_cast<int>(kRotationBatch) + 50;
  for (int i = 0; i < kAgents; ++i) {
    env_.PutAgent(absl::StrFormat("%012x", i), "linux", v1::AGENT_STATUS_ONLINE, 1,
                  {{"env", i % 2 == 0 ? "prod" : "dev"}});
  }
  v1::RotateAgentCredentialsRequest named;
  named.add_ids("000000000003");
  named.add_ids("000000000001");
  named.add_ids("000000000003");
  ASSERT_OK_AND_ASSIGN(v1::RotateAgentCredentialsResponse two, agents_.RotateCredentials(named));
  EXPECT_EQ(std::vector<std::string>(two.ids().begin(), two.ids().end()),
            (std::vector<std::string>{"000000000001", "000000000003"}));
  v1::GetAgentRequest get;
  get.set_id("000000000001");
  ASSERT_OK_AND_ASSIGN(v1::Agent marked, agents_.Get(get));
  EXPECT_EQ(marked.rotation_requested_at().seconds(), absl::ToUnixSeconds(env_.clock.Now()));
  get.set_id("000000000002");
  ASSERT_OK_AND_ASSIGN(v1::Agent unmarked, agents_.Get(get));
  EXPECT_FALSE(unmarked.has_rotation_requested_at());

  const int64_t before = env_.store->CurrentRevision();
  v1::RotateAgentCredentialsRequest all;
  all.set_all(true);
  ASSERT_OK_AND_ASSIGN(v1::RotateAgentCredentialsResponse everyone, agents_.RotateCredentials(all));
  EXPECT_EQ(everyone.ids_size(), kAgents);
  // One transaction per batch, not one per agent.
  EXPECT_EQ(env_.store->CurrentRevision() - before, 2);

  v1::RotateAgentCredentialsRequest selected;
  selected.set_selector("env=dev");
  ASSERT_OK_AND_ASSIGN(v1::RotateAgentCredentialsResponse dev, agents_.RotateCredentials(selected));
  EXPECT_EQ(dev.ids_size(), kAgents / 2);

  v1::RotateAgentCredentialsRequest unknown = named;
  unknown.add_ids("0000000fffff");
  const int64_t at = env_.store->CurrentRevision();
  EXPECT_EQ(agents_.RotateCredentials(unknown).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(env_.store->CurrentRevision(), at);
  EXPECT_EQ(agents_.RotateCredentials({}).status().code(), absl::StatusCode::kInvalidArgument);
  v1::RotateAgentCredentialsRequest both = named;
  both.set_all(true);
  EXPECT_EQ(agents_.RotateCredentials(both).status().code(), absl::StatusCode::kInvalidArgument);
  v1::RotateAgentCredentialsRequest bad_selector;
  bad_selector.set_selector("env in prod");
  EXPECT_EQ(agents_.RotateCredentials(bad_selector).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ListAgents' rollout filter sorts agents by how far they got with their own policy's latest
// revision: acked, nacked (refused it, applied neither) and pending (neither, online or not).
TEST_F(AgentAdminTest, ListAgentsFiltersByRolloutState) {
  v1::ApplyPolicyRequest second;
  second.set_name("linux");
  second.set_spec_json(R"({"v":2})");
  ASSERT_OK(policies_.Apply(second, "t"));  // linux at revision 2, windows at 1
  env_.PutAgent("00000000000a", "linux", v1::AGENT_STATUS_ONLINE, 2);
  env_.PutAgent("00000000000b", "linux", v1::AGENT_STATUS_ONLINE, 1);
  env_.PutAgent("00000000000c", "linux", v1::AGENT_STATUS_ONLINE, 1, {}, 2);
  env_.PutAgent("00000000000d", "linux", v1::AGENT_STATUS_OFFLINE, 0);
  env_.PutAgent("00000000000e", "windows", v1::AGENT_STATUS_ONLINE, 1);
  const auto ids = [&](v1::AgentRollout rollout) {
    v1::ListAgentsRequest request;
    request.set_rollout(rollout);
    std::vector<std::string> listed;
    absl::StatusOr<v1::ListAgentsResponse> response = agents_.List(request);
    EXPECT_OK(response.status());
    if (response.ok()) {
      for (const v1::Agent& agent : response->agents()) listed.push_back(agent.id());
    }
    return listed;
  };
  EXPECT_EQ(ids(v1::AGENT_ROLLOUT_ACKED),
            (std::vector<std::string>{"00000000000a", "00000000000e"}));
  EXPECT_EQ(ids(v1::AGENT_ROLLOUT_NACKED), (std::vector<std::string>{"00000000000c"}));
  EXPECT_EQ(ids(v1::AGENT_ROLLOUT_PENDING),
            (std::vector<std::string>{"00000000000b", "00000000000d"}));
  v1::ListAgentsRequest bad;
  bad.set_rollout(static_cast<v1::AgentRollout>(17));
  EXPECT_EQ(agents_.List(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

// The per-policy counts of ListPolicies are GetRolloutStatus's, from the tracker alone.
TEST_F(AgentAdminTest, RolloutStatusForAListedPolicy) {
  env_.PutAgent("00000000000a", "linux", v1::AGENT_STATUS_ONLINE, 1);
  env_.PutAgent("00000000000b", "linux", v1::AGENT_STATUS_OFFLINE, 0, {}, 1);
  const v1::RolloutStatus status = rollouts_.Status("linux", 1, 1);
  EXPECT_EQ(status.policy(), "linux");
  EXPECT_EQ(status.latest_revision(), 1);
  EXPECT_EQ(status.agents(), 2);
  EXPECT_EQ(status.acked(), 1);
  EXPECT_EQ(status.nacked(), 1);
  EXPECT_EQ(status.offline(), 1);
  v1::GetRolloutStatusRequest request;
  request.set_policy("linux");
  ASSERT_OK_AND_ASSIGN(v1::RolloutStatus got, rollouts_.Get(request));
  EXPECT_EQ(got.SerializeAsString(), status.SerializeAsString());
}

}  // namespace
}  // namespace fleet::server
