// What the Connect protocol records in its instruments (server/agent/agent_metrics.h): updates by
// kind and size, answers, and the time from a revision's commit to its Ack on the injected clock.
#include "server/agent/agent_metrics.h"

#include "common/metrics/registry.h"
#include "gtest/gtest.h"
#include "server/agent/agent_protocol.h"
#include "tests/server/agent/agent_protocol_test_env.h"

namespace fleet::server {
namespace {

class AgentMetricsTest : public AgentProtocolTest {
 protected:
  AgentProtocolDeps MeteredDeps() {
    AgentProtocolDeps deps = Deps();
    deps.metrics = &metrics_;
    return deps;
  }

  metrics::Registry registry_;
  AgentMetrics metrics_{registry_};
};

// A FULL update acked 3 s after its commit, then a DELTA nacked: one of each kind, their bytes,
// one ack and one nack, and one convergence of 3 s (a Nack converges nothing).
TEST_F(AgentMetricsTest, RecordsUpdatesAnswersAndConvergence) {
  updates_.CommitTime(clock_.Now());
  updates_.Commit("p", 1);
  AgentProtocol protocol(MeteredDeps(), kAgent, "p");
  AgentProtocol::ReadOutcome hello = protocol.OnMessage(Hello("p", 0));
  ASSERT_TRUE(Written(hello.action).has_welcome());
  AgentProtocol::Action full = protocol.OnWriteDone(true);
  const size_t full_bytes = full.bytes->size();
  EXPECT_EQ(WrittenUpdate(full).kind(), v1::PolicyUpdate::FULL);
  ExpectNothing(protocol.OnWriteDone(true));
  clock_.Advance(absl::Seconds(3));
  ExpectNothing(protocol.OnMessage(Ack(1, Sha("p", 1))).action);

  updates_.Commit("p", 2);
  AgentProtocol::Action delta = protocol.OnPolicyChanged();
  const size_t delta_bytes = delta.bytes->size();
  EXPECT_EQ(WrittenUpdate(delta).kind(), v1::PolicyUpdate::DELTA);
  ExpectNothing(protocol.OnWriteDone(true));
  ExpectNothing(protocol.OnMessage(Nack(2, "no")).action);

  EXPECT_EQ(metrics_.full_updates.value(), 1);
  EXPECT_EQ(metrics_.delta_updates.value(), 1);
  EXPECT_EQ(metrics_.update_bytes.value(), full_bytes + delta_bytes);
  EXPECT_EQ(metrics_.acks.value(), 1);
  EXPECT_EQ(metrics_.nacks.value(), 1);
  const metrics::Histogram::Snapshot convergence = metrics_.convergence.Read();
  EXPECT_EQ(convergence.count, 1);
  EXPECT_DOUBLE_EQ(convergence.sum, 3);
}

// An update that says nothing of its commit counts its Ack, but no convergence.
TEST_F(AgentMetricsTest, NoCommitTimeNoConvergence) {
  AgentProtocol protocol(MeteredDeps(), kAgent, "p");
  ASSERT_TRUE(Written(protocol.OnMessage(Hello("p", 0)).action).has_welcome());
  WrittenUpdate(protocol.OnWriteDone(true));
  ExpectNothing(protocol.OnWriteDone(true));
  ExpectNothing(protocol.OnMessage(Ack(1, Sha("p", 1))).action);
  EXPECT_EQ(metrics_.acks.value(), 1);
  EXPECT_EQ(metrics_.convergence.Read().count, 0);
}

}  // namespace
}  // namespace fleet::server
