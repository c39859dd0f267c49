// The bulk agent changes (admin.proto UnenrollAgents, ReassignAgents, LabelAgents, and
// RotateAgentCredentials' dry run) on a MemoryStore: selection by ids or selector, all-or-nothing
// checks, "unchanged" agents, dry runs that write nothing, batches beyond one transaction.
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "server/admin/agent_registry.h"
#include "server/admin/policy_service.h"
#include "tests/server/admin_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

class AgentBulkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"linux", "windows"}) {
      v1::ApplyPolicyRequest request;
      request.set_name(name);
      request.set_spec_json("{}");
      ASSERT_OK(policies_.Apply(request, "t"));
    }
    env_.PutAgent("00000000000a", "linux", v1::AGENT_STATUS_ONLINE, 1, {{"env", "prod"}});
    env_.PutAgent("00000000000b", "linux", v1::AGENT_STATUS_ONLINE, 1, {{"env", "dev"}});
    env_.PutAgent("00000000000c", "windows", v1::AGENT_STATUS_ONLINE, 1, {});
  }

  static v1::AgentSelection Ids(std::initializer_list<const char*> ids) {
    v1::AgentSelection selection;
    for (const char* id : ids) selection.add_ids(id);
    return selection;
  }
  static v1::AgentSelection Selector(const std::string& selector) {
    v1::AgentSelection selection;
    selection.set_selector(selector);
    return selection;
  }

  std::string LabelOf(const std::string& id, const std::string& key) {
    v1::GetAgentRequest get;
    get.set_id(id);
    absl::StatusOr<v1::Agent> agent = agents_.Get(get);
    if (!agent.ok()) return "<" + std::string(agent.status().message()) + ">";
    auto it = agent->labels().find(key);
    return it == agent->labels().end() ? "<none>" : it->second;
  }

  AdminTestEnv env_;
  PolicyService policies_{*env_.store, env_.clock, {}, env_.directory};
  AgentRegistry agents_{*env_.store, env_.clock, env_.state, absl::Seconds(91)};
};

// Labels set on agents a selector picks; one already so is reported unchanged and not written.
TEST_F(AgentBulkTest, LabelBySelectorReportsUnchanged) {
  v1::LabelAgentsRequest request;
  *request.mutable_agents() = Selector("env in (prod,dev)");
  (*request.mutable_set())["tier"] = "web";
  ASSERT_OK_AND_ASSIGN(v1::AgentChangesResponse first, agents_.LabelMany(request));
  ASSERT_EQ(first.changes_size(), 2);
  EXPECT_EQ(first.changes(0).agent().id(), "00000000000a");
  EXPECT_TRUE(first.changes(0).changed());
  EXPECT_EQ(first.changes(0).agent().labels().at("tier"), "web");
  EXPECT_EQ(LabelOf("00000000000b", "tier"), "web");
  EXPECT_EQ(LabelOf("00000000000c", "tier"), "<none>");

  const int64_t at = env_.store->CurrentRevision();
  ASSERT_OK_AND_ASSIGN(v1::AgentChangesResponse again, agents_.LabelMany(request));
  ASSERT_EQ(again.changes_size(), 2);
  EXPECT_FALSE(again.changes(0).changed());
  EXPECT_FALSE(again.changes(1).changed());
  EXPECT_EQ(env_.store->CurrentRevision(), at);
}

// A value that would change needs overwrite; with several agents, one conflict changes none,
// and the error names the agent, key, old and new value.
TEST_F(AgentBulkTest, LabelConflictChangesNothingWithoutOverwrite) {
  v1::LabelAgentsRequest request;
  *request.mutable_agents() = Ids({"00000000000c", "00000000000b"});
  (*request.mutable_set())["env"] = "staging";
  const int64_t at = env_.store->CurrentRevision();
  absl::Status refused = agents_.LabelMany(request).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(refused.message(), "agent 00000000000b has label env=\"dev\""))
      << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "\"staging\"")) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "--overwrite")) << refused;
  EXPECT_EQ(env_.store->CurrentRevision(), at);
  EXPECT_EQ(LabelOf("00000000000c", "env"), "<none>");

  request.set_overwrite(true);
  ASSERT_OK_AND_ASSIGN(v1::AgentChangesResponse changed, agents_.LabelMany(request));
  EXPECT_EQ(changed.changes_size(), 2);
  EXPECT_EQ(LabelOf("00000000000b", "env"), "staging");
  EXPECT_EQ(LabelOf("00000000000c", "env"), "staging");
}

// Removing a label the agent lacks changes nothing; removing one it has does.
TEST_F(AgentBulkTest, LabelRemove) {
  v1::LabelAgentsRequest request;
  *request.mutable_agents() = Ids({"00000000000a", "00000000000c"});
  request.add_remove("env");
  ASSERT_OK_AND_ASSIGN(v1::AgentChangesResponse removed, agents_.LabelMany(request));
  ASSERT_EQ(removed.changes_size(), 2);
  EXPECT_TRUE(removed.changes(0).changed());
  EXPECT_FALSE(removed.changes(1).changed());
  EXPECT_EQ(LabelOf("00000000000a", "env"), "<none>");
}

// A dry run answers what would change and writes nothing, for each bulk call.
TEST_F(AgentBulkTest, DryRunsWriteNothing) {
  const int64_t at = env_.store->CurrentRevision();
  v1::LabelAgentsRequest label;
  *label.mutable_agents() = Selector("env");
  (*label.mutable_set())["env"] = "x";
  label.set_overwrite(true);
  label.set_dry_run(true);
  ASSERT_OK_AND_ASSIGN(v1::AgentChangesResponse labelled, agents_.LabelMany(label));
  ASSERT_EQ(labelled.changes_size(), 2);
  EXPECT_EQ(labelled.changes(0).agent().labels().at("env"), "x");

  v1::ReassignAgentsRequest reassign;
  *reassign.mutable_agents() = Selector("!env");
  reassign.set_policy("linux");
  reassign.set_dry_run(true);
  ASSERT_OK_AND_ASSIGN(v1::AgentChangesResponse moved, agents_.ReassignMany(reassign));
  ASSERT_EQ(moved.changes_size(), 1);
  EXPECT_EQ(moved.changes(0).agent().policy(), "linux");

  v1::UnenrollAgentsRequest unenroll;
  *unenroll.mutable_agents() = Ids({"00000000000a", "00000000000b"});
  unenroll.set_dry_run(true);
  ASSERT_OK_AND_ASSIGN(v1::AgentChangesResponse gone, agents_.UnenrollMany(unenroll));
  EXPECT_EQ(gone.changes_size(), 2);

  v1::RotateAgentCredentialsRequest rotate;
  rotate.set_all(true);
  rotate.set_dry_run(true);
  ASSERT_OK_AND_ASSIGN(v1::RotateAgentCredentialsResponse rotated,
                       agents_.RotateCredentials(rotate));
  EXPECT_EQ(rotated.ids_size(), 3);

  EXPECT_EQ(env_.store->CurrentRevision(), at);
  EXPECT_EQ(LabelOf("00000000000a", "env"), "prod");
}

// Reassign moves those not there yet; unenroll removes them all; an unknown id or policy
// refuses the whole request.
TEST_F(AgentBulkTest, ReassignAndUnenroll) {
  v1::ReassignAgentsRequest reassign;
  *reassign.mutable_agents() = Ids({"00000000000a", "00000000000c"});
  reassign.set_policy("windows");
  ASSERT_OK_AND_ASSIGN(v1::AgentChangesResponse moved, agents_.ReassignMany(reassign));
  ASSERT_EQ(moved.changes_size(), 2);
  EXPECT_TRUE(moved.changes(0).changed());
  EXPECT_FALSE(moved.changes(1).changed());
  EXPECT_EQ(moved.changes(0).agent().policy(), "windows");

  reassign.set_policy("nope");
  EXPECT_EQ(agents_.ReassignMany(reassign).status().code(), absl::StatusCode::kNotFound);

  v1::UnenrollAgentsRequest unenroll;
  *unenroll.mutable_agents() = Ids({"00000000000a", "0000000fffff"});
  const int64_t at = env_.store->CurrentRevision();
  absl::Status unknown = agents_.UnenrollMany(unenroll).status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(unknown.message(), "0000000fffff")) << unknown;
  EXPECT_EQ(env_.store->CurrentRevision(), at);

  *unenroll.mutable_agents() = Selector("env");
  ASSERT_OK_AND_ASSIGN(v1::AgentChangesResponse gone, agents_.UnenrollMany(unenroll));
  EXPECT_EQ(gone.changes_size(), 2);
  EXPECT_EQ(LabelOf("00000000000a", "env").substr(0, 1), "<");  // not found
  EXPECT_EQ(LabelOf("00000000000c", "env"), "<none>");          // still there
}

// The selection must be exactly one of ids and a non-blank selector, and a bad selector is
// refused with the message fleetctl turns into a usage error.
TEST_F(AgentBulkTest, SelectionIsChecked) {
  v1::UnenrollAgentsRequest request;
  EXPECT_EQ(agents_.UnenrollMany(request).status().code(), absl::StatusCode::kInvalidArgument);
  *request.mutable_agents() = Selector("  ");
  EXPECT_EQ(agents_.UnenrollMany(request).status().code(), absl::StatusCode::kInvalidArgument);
  *request.mutable_agents() = Ids({"00000000000a"});
  request.mutable_agents()->set_selector("env");
  EXPECT_EQ(agents_.UnenrollMany(request).status().code(), absl::StatusCode::kInvalidArgument);
  *request.mutable_agents() = Selector("env in prod");
  absl::Status bad = agents_.UnenrollMany(request).status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(bad.message(), "selector ")) << bad;
  v1::LabelAgentsRequest nothing;
  *nothing.mutable_agents() = Ids({"00000000000a"});
  EXPECT_EQ(agents_.LabelMany(nothing).status().code(), absl::StatusCode::kInvalidArgument);
}

// More agents than one transaction holds are written in several, all of them.
TEST_F(AgentBulkTest, ManyAgentsInBatches) {
  for (int i = 0; i < 250; ++i) {
    env_.PutAgent(absl::StrFormat("1%011x", i), "linux", v1::AGENT_STATUS_ONLINE, 1,
                  {{"fleet", "big"}});
  }
  const int64_t at = env_.store->CurrentRevision();
  v1::LabelAgentsRequest request;
  *request.mutable_agents() = Selector("fleet=big");
  (*request.mutable_set())["wave"] = "1";
  ASSERT_OK_AND_ASSIGN(v1::AgentChangesResponse changed, agents_.LabelMany(request));
  EXPECT_EQ(changed.changes_size(), 250);
  EXPECT_EQ(env_.store->CurrentRevision(), at + 3);  // 100 + 100 + 50
  EXPECT_EQ(LabelOf("1000000000f9", "wave"), "1");
}

}  // namespace
}  // namespace fleet::server
