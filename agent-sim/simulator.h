// The agent simulator: N agents, each enrolled once and remembered in a state directory, on M
// gRPC channels, each applying policy updates with the agent client core and acking (or nacking
// at a chosen rate), running actions and answering live queries as sim_agent.h plays them,
// counting what happened and how long commit-to-apply took.
#ifndef FLEETD_AGENT_SIM_SIMULATOR_H_
#define FLEETD_AGENT_SIM_SIMULATOR_H_

#include <grpcpp/channel.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent-sim/sim_agent.h"
#include "agent-sim/task_scheduler.h"
#include "agent/agent_channel.h"
#include "agent/agent_connection.h"
#include "agent/identity_store.h"
#include "nlohmann/json.hpp"
#include "rpc/cq_pool.h"

namespace fleet::agent {

struct SimulatorOptions {
  // fleetd's agent address, HOST:PORT, or several (replicas of one fleet) separated by commas:
  // agent i goes to server i % S first and moves on to the next one when its stream fails for
  // want of its server (agent_connection.h).
  std::string server;
  // TLS (--ca, --cert, --key); plaintext when none is set. Every channel presents the same
  // certificate, so with mTLS it names one agent: run one agent per certificate.
  AgentTlsFiles tls;
  // The enrollment token ("fenr_..."), for agents without an identity in `state_dir`.
  std::string enroll_token;
  // How many agents; at least 1.
  int agents = 1;
  // How many gRPC channels (each its own TCP connection) carry the agents' streams to each
  // server; agent i uses channel i % connections. 0 means one per agent.
  int connections = 0;
  // Where identities live, one file per agent ("sim-<i>.json"), so that a second run resumes as
  // the same agents without enrolling again.
  std::string state_dir = "agent-sim-state";
  // Agent i enrolls with the hostname hostname_prefix + i.
  std::string hostname_prefix = "sim-";
  // Labels every agent enrolls with, besides sim=true.
  std::map<std::string, std::string> labels;
  // Each agent nacks an update with this probability (0 to 1), from a generator seeded per agent,
  // so that a run repeats the same choices.
  double nack_rate = 0.0;
  uint64_t seed = 1;
  // How many Enroll calls run at once.
  int enroll_concurrency = 32;
  // How long to wait for the server at the start before giving up.
  absl::Duration connect_timeout = absl::Seconds(10);
  // How the agents play actions and queries.
  SimBehavior behavior;
};

// Commit-to-apply latency percentiles, in milliseconds.
struct LatencySummary {
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double max = 0;
};

// What a run did; `ToJson` is the report agent-sim prints.
struct SimulatorReport {
  int64_t agents = 0;
  // Agents with an identity (enrolled in this run or an earlier one).
  int64_t enrolled = 0;
  // Agents whose stream was accepted (a Welcome) at least once.
  int64_t connected = 0;
  int64_t delta_updates = 0;
  int64_t full_updates = 0;
  int64_t acks = 0;
  int64_t nacks = 0;
  // Streams that ended other than by Stop() (the agent reconnects after each, except after
  // UNAUTHENTICATED).
  int64_t reconnects = 0;
  // Failed enrollments, refused credentials, and streams that ended with a code a healthy run
  // does not see (anything but OK, CANCELLED, UNAVAILABLE, ABORTED, DEADLINE_EXCEEDED).
  int64_t errors = 0;
  // New secrets the server sent (credential rotation) that were saved in the state directory
  // and confirmed.
  int64_t rotations = 0;
  LatencySummary latency_ms;
  // Actions and queries.
  SimActivityCounts activity;

  // {"agents","enrolled","connected","updates":{"delta","full"},"acks","nacks","reconnects",
  //  "errors","rotations","latency_ms":{"p50","p90","p99","max"},
  //  "actions":{"received","repeated","succeeded","failed","rejected","cancelled"},
  //  "queries":{"received","answered","errored","dropped"}}
  nlohmann::ordered_json ToJson() const;
};

// The nearest-rank percentiles of `samples` (reordered in place); all zero when empty.
LatencySummary Summarize(std::vector<double>& samples);

// OK, or INVALID_ARGUMENT naming the flag of the first option out of range.
[[nodiscard]] absl::Status ValidateOptions(const SimulatorOptions& options);

// Thread-safe: Stop() and the accessors may be called from any thread while agents run.
class Simulator {
 public:
  // Checks the options (ValidateOptions) and opens the state directory; the state directory's
  // error when it cannot be opened.
  // INVALID_ARGUMENT naming --ca, --cert or --key when a TLS file does not load.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Simulator>> Create(SimulatorOptions options);

  // Stops and joins every agent.
  ~Simulator();

  // Waits (up to connect_timeout) for the server, then enrolls every agent that has no identity
  // yet, `enroll_concurrency` at a time, saving each identity. UNAVAILABLE when the server cannot
  // be reached; when no agent ends up with an identity, the first enrollment error. Failed
  // enrollments of some agents count as errors and those agents do not run.
  [[nodiscard]] absl::Status Enroll();

  // Starts every enrolled agent's Connect loop. Call once, after Enroll().
  void Start();

  // Ends every agent's loop and waits for them (promptly: streams are cancelled).
  void Stop();

  // What the agents did with actions and queries so far.
  SimActivityCounts activity() const { return activity_.Counts(); }

  // Agents with a stream open now, updates read off streams, and updates applied (acked) so far.
  int64_t connected_now() const { return connected_now_.load(); }
  int64_t received() const { return delta_updates_.load() + full_updates_.load(); }
  int64_t applied() const { return acks_.load(); }
  int64_t full_updates() const { return full_updates_.load(); }
  // When the latest update was read off a stream, and when the latest Ack was queued to send;
  // InfinitePast() before the first. With received() and applied(), a benchmark learns when the
  // last of N agents got (or acked) a change without watching each agent.
  absl::Time last_received_at() const { return absl::FromUnixMicros(last_received_us_.load()); }
  absl::Time last_acked_at() const { return absl::FromUnixMicros(last_acked_us_.load()); }

  SimulatorReport Report() const;

 private:
  Simulator(SimulatorOptions options, std::unique_ptr<IdentityStore> identities,
            std::vector<std::vector<std::shared_ptr<grpc::Channel>>> channels);
  // Enrolls agent `index`, or returns its saved identity.
  absl::StatusOr<AgentIdentity> IdentityOf(int index);
  // Enroll for agent `index`, retrying transient refusals a bounded number of times.
  absl::StatusOr<v1::EnrollResponse> EnrollWithRetries(int index);
  // Agent `index`'s hostname: options_.hostname_prefix and the index.
  std::string Hostname(int index) const;
  // The connection of agent `index`, its actions and queries handled by `agent`.
  std::unique_ptr<AgentConnection> NewConnection(int index, const AgentIdentity& identity,
                                                 SimAgent& agent);

  const SimulatorOptions options_;
  const std::unique_ptr<IdentityStore> identities_;
  // channels_[s][c]: channel c to server s; neither level empty.
  const std::vector<std::vector<std::shared_ptr<grpc::Channel>>> channels_;
  // Agent `index`'s channel to each server, its first server first.
  std::vector<std::shared_ptr<grpc::Channel>> ChannelsOf(int index) const;
  // The queues the connections run on; outlives them.
  const std::unique_ptr<rpc::CqPool> queues_;
  // Agents in the same state given the same update reach the same content: it is computed and
  // checked once, then shared (the simulator's CPU goes to the protocol, not to N identical
  // JSON patches).
  ApplyCache apply_cache_;
  // Every agent's timed steps of actions and queries, and its connection's timers.
  const std::unique_ptr<TimerThread> timers_;
  SimActivity activity_;

  mutable absl::Mutex mu_;
  // Agent index -> its identity, for enrolled agents.
  std::vector<std::optional<AgentIdentity>> enrolled_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<AgentConnection>> connections_ ABSL_GUARDED_BY(mu_);
  // The handlers of connections_, one per connection; they outlive their connection.
  std::vector<std::unique_ptr<SimAgent>> sim_agents_ ABSL_GUARDED_BY(mu_);
  // A leaf lock of its own: the connections' hooks take it with their connection's lock held, and
  // Start() holds mu_ while it starts connections.
  mutable absl::Mutex latencies_mu_;
  std::vector<double> latencies_ms_ ABSL_GUARDED_BY(latencies_mu_);

  std::atomic<int64_t> connected_ever_{0};
  std::atomic<int64_t> connected_now_{0};
  std::atomic<int64_t> delta_updates_{0};
  std::atomic<int64_t> full_updates_{0};
  std::atomic<int64_t> acks_{0};
  std::atomic<int64_t> nacks_{0};
  std::atomic<int64_t> reconnects_{0};
  std::atomic<int64_t> errors_{0};
  std::atomic<int64_t> rotations_{0};
  std::atomic<int64_t> last_received_us_{absl::ToUnixMicros(absl::InfinitePast())};
  std::atomic<int64_t> last_acked_us_{absl::ToUnixMicros(absl::InfinitePast())};
};

}  // namespace fleet::agent

#endif  // FLEETD_AGENT_SIM_SIMULATOR_H_
