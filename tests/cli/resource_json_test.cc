// The JSON shapes fleetctl prints (docs/output.md), pinned whole: one golden per kind, with every
// field set and with none set, so that a renamed, moved or sentinel field fails here.
#include "cli/resource_json.h"

#include <string>

#include "gtest/gtest.h"

namespace fleet::cli {
namespace {

google::protobuf::Timestamp At(int64_t seconds) {
  google::protobuf::Timestamp time;
  time.set_seconds(seconds);
  return time;
}

v1::Creator Alice() {
  v1::Creator creator;
  creator.set_token_id("0123456789ab");
  creator.set_description("alice");
  return creator;
}

std::string Pretty(const nlohmann::ordered_json& json) { return json.dump(2); }

// A policy revision with everything set: the apply-able document plus read-only parts.
TEST(ResourceJsonTest, PolicyGolden) {
  v1::Policy policy;
  policy.set_name("linux-servers");
  policy.set_description("All Linux servers");
  policy.set_revision(3);
  policy.set_spec_json(R"({"logs":{"level":"info"}})");
  policy.set_sha256("ab12");
  *policy.mutable_policy_created_at() = At(1714557600);
  *policy.mutable_created_at() = At(1714561200);
  policy.set_author("0123456789ab (alice)");
  *policy.mutable_creator() = Alice();
  policy.set_store_revision(17);
  policy.set_rolled_back_from(1);
  EXPECT_EQ(Pretty(PolicyToJson(policy)), R"({
  "apiVersion": "fleet/v1",
  "kind": "Policy",
  "metadata": {
    "name": "linux-servers",
    "description": "All Linux servers",
    "labels": {},
    "createdAt": "2024-05-01T10:00:00Z",
    "updatedAt": "2024-05-01T11:00:00Z",
    "creator": {
      "id": "0123456789ab",
      "description": "alice"
    }
  },
  "spec": {
    "logs": {
      "level": "info"
    }
  },
  "status": {
    "revision": 3,
    "sha256": "ab12",
    "storeRevision": 17,
    "rolledBackFrom": 1
  }
})");
}

// Nothing set: null for every value fleetd has not got, never 0 or ""; no spec when the answer
// carried none (ListPolicies, GetPolicyHistory).
TEST(ResourceJsonTest, PolicyWithoutValuesIsNullNotSentinels) {
  v1::Policy policy;
  policy.set_name("p");
  EXPECT_EQ(PolicyToJson(policy).dump(),
            R"({"apiVersion":"fleet/v1","kind":"Policy","metadata":{"name":"p","description":null,)"
            R"("labels":{},"createdAt":null,"updatedAt":null,"creator":null},"status":{)"
            R"("revision":null,"sha256":null,"storeRevision":null,"rolledBackFrom":null}})");
}

// Records written by an older fleetd have only the "ID (DESCRIPTION)" text: the creator object
// is read from it; the bootstrap token has none.
TEST(ResourceJsonTest, CreatorFromTheLegacyAuthorText) {
  EXPECT_EQ(CreatorToJson(v1::Creator(), "0123456789ab (ci (nightly))").dump(),
            R"j({"id":"0123456789ab","description":"ci (nightly)"})j");
  EXPECT_EQ(CreatorToJson(v1::Creator(), "0123456789ab").dump(),
            R"({"id":"0123456789ab","description":null})");
  EXPECT_TRUE(CreatorToJson(v1::Creator(), "bootstrap").is_null());
  EXPECT_TRUE(CreatorToJson(v1::Creator(), "").is_null());
  EXPECT_EQ(CreatorToJson(Alice(), "something else").dump(),
            R"({"id":"0123456789ab","description":"alice"})");
}

// An enrollment token: what was asked for in spec, uses and revocation in status; unlimited
// uses and no expiry are null.
TEST(ResourceJsonTest, EnrollmentTokenGolden) {
  v1::EnrollmentToken token;
  token.set_id("fedcba987654");
  token.set_policy("linux-servers");
  token.set_description("rack 4");
  *token.mutable_created_at() = At(1714557600);
  *token.mutable_expires_at() = At(1714644000);
  token.set_max_uses(10);
  token.set_uses(0);
  token.set_created_by("0123456789ab (alice)");
  *token.mutable_creator() = Alice();
  EXPECT_EQ(Pretty(EnrollmentTokenToJson(token)), R"({
  "apiVersion": "fleet/v1",
  "kind": "EnrollmentToken",
  "metadata": {
    "id": "fedcba987654",
    "description": "rack 4",
    "createdAt": "2024-05-01T10:00:00Z",
    "creator": {
      "id": "0123456789ab",
      "description": "alice"
    }
  },
  "spec": {
    "policy": "linux-servers",
    "expiresAt": "2024-05-02T10:00:00Z",
    "maxUses": 10
  },
  "status": {
    "uses": 0,
    "revoked": false
  }
})");
  token.clear_expires_at();
  token.set_max_uses(0);
  token.clear_description();
  const nlohmann::ordered_json json = EnrollmentTokenToJson(token);
  EXPECT_TRUE(json["spec"]["expiresAt"].is_null());
  EXPECT_TRUE(json["spec"]["maxUses"].is_null());
  EXPECT_TRUE(json["metadata"]["description"].is_null());
}

// An agent: labels in metadata, its policy in spec, what it reports in status.
TEST(ResourceJsonTest, AgentGolden) {
  v1::Agent agent;
  agent.set_id("a1b2c3d4e5f6");
  agent.set_hostname("web-1");
  agent.set_os("linux");
  agent.set_arch("amd64");
  agent.set_agent_version("0.1.0");
  (*agent.mutable_labels())["zone"] = "b";
  (*agent.mutable_labels())["env"] = "prod";
  agent.set_policy("linux-servers");
  agent.set_applied_revision(2);
  agent.set_status(v1::AGENT_STATUS_ONLINE);
  agent.set_health(v1::AGENT_HEALTH_DEGRADED);
  agent.set_health_message("disk 91% full");
  *agent.mutable_enrolled_at() = At(1714557600);
  *agent.mutable_last_seen() = At(1714561200);
  agent.set_nacked_revision(3);
  agent.set_nack_reason("bad path");
  agent.set_enrollment_token_id("fedcba987654");
  *agent.mutable_secret_issued_at() = At(1714557600);
  agent.set_secret_rotations(1);
  EXPECT_EQ(Pretty(AgentToJson(agent)), R"({
  "apiVersion": "fleet/v1",
  "kind": "Agent",
  "metadata": {
    "id": "a1b2c3d4e5f6",
    "labels": {
      "env": "prod",
      "zone": "b"
    },
    "createdAt": "2024-05-01T10:00:00Z"
  },
  "spec": {
    "policy": "linux-servers"
  },
  "status": {
    "connection": "online",
    "health": "degraded",
    "healthMessage": "disk 91% full",
    "hostname": "web-1",
    "os": "linux",
    "arch": "amd64",
    "agentVersion": "0.1.0",
    "appliedRevision": 2,
    "nackedRevision": 3,
    "nackReason": "bad path",
    "lastSeen": "2024-05-01T11:00:00Z",
    "enrollmentTokenId": "fedcba987654",
    "secretIssuedAt": "2024-05-01T10:00:00Z",
    "secretRotations": 1,
    "rotationRequestedAt": null,
    "rotationPendingSince": null
  }
})");
}

// An agent that never reported: no revision, health or status is 0 or "unknown", all null;
// counts are numbers.
TEST(ResourceJsonTest, AgentWithoutReportsIsNull) {
  v1::Agent agent;
  agent.set_id("a1");
  agent.set_hostname("h");
  agent.set_policy("p");
  const nlohmann::ordered_json status = AgentToJson(agent)["status"];
  for (const char* key : {"connection", "health", "healthMessage", "appliedRevision",
                          "nackedRevision", "nackReason", "lastSeen", "agentVersion"}) {
    EXPECT_TRUE(status[key].is_null()) << key;
  }
  EXPECT_EQ(status["secretRotations"], 0);
  EXPECT_EQ(AgentToJson(agent)["metadata"]["labels"].dump(), "{}");
}

// An admin token: its role is what was asked for (spec); the bootstrap token has no creator.
TEST(ResourceJsonTest, AdminTokenGolden) {
  v1::AdminToken token;
  token.set_id("0123456789ab");
  token.set_role(v1::ROLE_ADMIN);
  token.set_description("bootstrap");
  *token.mutable_created_at() = At(1714557600);
  token.set_created_by("bootstrap");
  EXPECT_EQ(Pretty(AdminTokenToJson(token)), R"({
  "apiVersion": "fleet/v1",
  "kind": "AdminToken",
  "metadata": {
    "id": "0123456789ab",
    "description": "bootstrap",
    "createdAt": "2024-05-01T10:00:00Z",
    "creator": null
  },
  "spec": {
    "role": "admin"
  }
})");
}

// Rollout status: the policy as its name, the revision asked about in spec, every count (zero
// included) in status.
TEST(ResourceJsonTest, RolloutStatusGolden) {
  v1::RolloutStatus status;
  status.set_policy("linux-servers");
  status.set_revision(2);
  status.set_latest_revision(3);
  status.set_agents(10);
  status.set_acked(4);
  status.set_nacked(1);
  status.set_pending(2);
  status.set_pending_offline(3);
  status.set_offline(5);
  EXPECT_EQ(Pretty(RolloutStatusToJson(status)), R"({
  "apiVersion": "fleet/v1",
  "kind": "RolloutStatus",
  "metadata": {
    "name": "linux-servers"
  },
  "spec": {
    "revision": 2
  },
  "status": {
    "latestRevision": 3,
    "agents": 10,
    "acked": 4,
    "nacked": 1,
    "pending": 2,
    "pendingOffline": 3,
    "offline": 5,
    "complete": false
  }
})");
}

// whoami: the calling token as metadata, its role as spec.
TEST(ResourceJsonTest, WhoAmIGolden) {
  v1::WhoAmIResponse whoami;
  whoami.set_token_id("0123456789ab");
  whoami.set_role(v1::ROLE_VIEWER);
  EXPECT_EQ(WhoAmIToJson(whoami).dump(),
            R"({"apiVersion":"fleet/v1","kind":"WhoAmI","metadata":{"id":"0123456789ab",)"
            R"("description":null},"spec":{"role":"viewer"}})");
}

// A list is kubectl's List, empty or not, items in the order given.
TEST(ResourceJsonTest, ListGolden) {
  EXPECT_EQ(ListToJson({}).dump(), R"({"apiVersion":"fleet/v1","kind":"List","items":[]})");
  EXPECT_EQ(ListToJson({{{"kind", "A"}}, {{"kind", "B"}}}).dump(),
            R"({"apiVersion":"fleet/v1","kind":"List","items":[{"kind":"A"},{"kind":"B"}]})");
}

}  // namespace
}  // namespace fleet::cli
