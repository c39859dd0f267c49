#include "server/agent/agent_metrics.h"

namespace fleet::server {
namespace {

constexpr char kUpdatesSent[] = "fleetd_policy_updates_sent_total";
constexpr char kUpdatesSentHelp[] =
    "Policy updates written to agent streams, by kind (full document or delta).";
constexpr char kAnswers[] = "fleetd_agent_answers_total";
constexpr char kAnswersHelp[] = "Agents' answers to policy updates: ack or nack.";

}  // namespace

AgentMetrics::AgentMetrics(metrics::Registry& registry)
    : streams_opened(registry.AddCounter("fleetd_agent_streams_opened_total",
                                         "Connect streams opened by authenticated agents.")),
      full_updates(
          registry.AddCounterFamily(kUpdatesSent, kUpdatesSentHelp, {"kind"}).WithLabels({"full"})),
      delta_updates(registry.AddCounterFamily(kUpdatesSent, kUpdatesSentHelp, {"kind"})
                        .WithLabels({"delta"})),
      update_bytes(
          registry.AddCounter("fleetd_policy_update_bytes_total",
                              "Bytes of policy update messages written to agent streams.")),
      acks(registry.AddCounterFamily(kAnswers, kAnswersHelp, {"result"}).WithLabels({"ack"})),
      nacks(registry.AddCounterFamily(kAnswers, kAnswersHelp, {"result"}).WithLabels({"nack"})),
      // From 10 ms (an agent next door, online) to an hour (one that was offline).
      convergence(registry.AddHistogram(
          "fleetd_rollout_convergence_seconds",
          "Time from a policy revision's commit to an agent's ack of it, in seconds.",
          {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600})),
      enrollments(registry.AddCounterFamily(
          "fleetd_enrollments_total",
          "Enroll calls, by result: ok, or the gRPC code of the refusal in lowercase.",
          {"result"})) {}

void AgentMetrics::UpdateSent(bool full, size_t bytes) const {
  (full ? full_updates : delta_updates).Increment();
  update_bytes.Increment(bytes);
}

void AgentMetrics::Answered(bool acked, std::optional<absl::Duration> since_commit) const {
  (acked ? acks : nacks).Increment();
  if (since_commit.has_value()) convergence.Observe(absl::ToDoubleSeconds(*since_commit));
}

}  // namespace fleet::server
