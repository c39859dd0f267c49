#include "agent-sim/simulator.h"

#include <google/protobuf/util/time_util.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <random>
#include <thread>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fleet/v1/agent.grpc.pb.h"

#ifndef FLEETD_VERSION
#define FLEETD_VERSION "unknown"
#endif

namespace fleet::agent {
namespace {

using google::protobuf::util::TimeUtil;

constexpr absl::Duration kEnrollTimeout = absl::Seconds(10);
// At most this many completion queues (a thread each) carry the agents' streams, as many as they
// need (rpc::CqPool::QueuesFor): a queue's cost per operation grows with the operations
// outstanding on it (rpc/cq_pool.h).
constexpr int kMaxQueues = 32;
// fleetd refuses an enrollment with ABORTED when others with the same token keep winning the race
// for its use count; an agent retries that (and an unreachable or slow server) a bounded number
// of times, about 15 s in all.
constexpr int kEnrollAttempts = 10;
constexpr BackoffOptions kEnrollBackoff{.initial = absl::Milliseconds(100),
                                        .max = absl::Seconds(2)};

bool IsTransient(grpc::StatusCode code) {
  return code == grpc::StatusCode::ABORTED || code == grpc::StatusCode::UNAVAILABLE ||
         code == grpc::StatusCode::DEADLINE_EXCEEDED;
}

void StoreMax(std::atomic<int64_t>& target, int64_t value) {
  int64_t seen = target.load();
  while (seen < value && !target.compare_exchange_weak(seen, value)) {
  }
}

// The name agent `index`'s identity is kept under in the state directory, whatever its hostname.
std::string AgentName(int index) { return absl::StrCat("sim-", index); }

// `options.connections` channels (one per agent for 0) to `server`.
absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> MakeServerChannels(
    const SimulatorOptions& options, const std::string& server) {
  const int count = options.connections == 0 ? options.agents : options.connections;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  channels.reserve(count);
  for (int i = 0; i < count; ++i) {
    grpc::ChannelArguments args;
    // Without this, channels to the same address share one subchannel, hence one TCP connection.
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    // A channel whose connect failed comes back quickly rather than after gRPC's default
    // backoff of up to two minutes.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
    // gRPC reads this as the minimum connect timeout too: each attempt gets at least this long to
    // finish its handshake, and the next attempt does not start before it ends. gRPC's 20 s would
    // keep agents away long after a restarted fleetd serves again; much less than a few seconds
    // makes a busy server's slow handshakes time out, and every retry piles another half-open
    // connection onto it (a reconnect storm feeding itself).
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 3000);
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        CreateAgentChannel(server, options.tls, args);
    if (!channel.ok()) return channel.status();
    channels.push_back(*std::move(channel));
  }
  return channels;
}

// The servers of `options.server` ("A" or "A,B,C").
std::vector<std::string> Servers(const SimulatorOptions& options) {
  return absl::StrSplit(options.server, ',', absl::SkipWhitespace());
}

absl::StatusOr<std::vector<std::vector<std::shared_ptr<grpc::Channel>>>> MakeChannels(
    const SimulatorOptions& options) {
  std::vector<std::vector<std::shared_ptr<grpc::Channel>>> servers;
  for (const std::string& server : Servers(options)) {
    absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> channels =
        MakeServerChannels(options, server);
    if (!channels.ok()) return channels.status();
    servers.push_back(*std::move(channels));
  }
  return servers;
}
// Stream endings a healthy run sees: the server's clean close or GoAway, our own Stop(), a
// replaced stream, an unreachable server.
bool IsExpectedEnd(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kDeadlineExceeded:
      return true;
    default:
      return false;
  }
}

// One agent's own state, shared by its connection's hooks (all on that connection's thread).
struct AgentState {
  explicit AgentState(uint64_t seed) : nack_rng(seed) {}
  std::mt19937_64 nack_rng;
  bool connected_once = false;
  // The open stream got its Welcome.
  bool welcomed = false;
};

}  // namespace

nlohmann::ordered_json SimulatorReport::ToJson() const {
  return {{"agents", agents},
          {"enrolled", enrolled},
          {"connected", connected},
          {"updates", {{"delta", delta_updates}, {"full", full_updates}}},
          {"acks", acks},
          {"nacks", nacks},
          {"reconnects", reconnects},
          {"errors", errors},
          {"rotations", rotations},
          {"latency_ms",
           {{"p50", latency_ms.p50},
            {"p90", latency_ms.p90},
            {"p99", latency_ms.p99},
            {"max", latency_ms.max}}},
          {"actions",
           {{"received", activity.actions_received},
            {"repeated", activity.actions_repeated},
            {"succeeded", activity.actions_succeeded},
            {"failed", activity.actions_failed},
            {"rejected", activity.actions_rejected},
            {"cancelled", activity.actions_cancelled}}},
          {"queries",
           {{"received", activity.queries_received},
            {"answered", activity.queries_answered},
            {"errored", activity.queries_errored},
            {"dropped", activity.queries_dropped}}}};
}

LatencySummary Summarize(std::vector<double>& samples) {
  if (samples.empty()) return {};
  std::sort(samples.begin(), samples.end());
  const auto rank = [&samples](double q) {
    // Nearest rank: the smallest sample with at least q of all samples at or below it.
    const size_t n = samples.size();
    const size_t index = static_cast<size_t>(std::ceil(q * static_cast<double>(n)));
    return samples[std::clamp<size_t>(index, 1, n) - 1];
  };
  return {.p50 = rank(0.50), .p90 = rank(0.90), .p99 = rank(0.99), .max = samples.back()};
}

absl::Status ValidateOptions(const SimulatorOptions& options) {
  if (Servers(options).empty()) return absl::InvalidArgumentError("--server is required");
  if (options.agents < 1) return absl::InvalidArgumentError("--agents must be at least 1");
  if (options.connections < 0 || options.connections > options.agents) {
    return absl::InvalidArgumentError("--connections must be between 1 and --agents");
  }
  if (!(options.nack_rate >= 0.0 && options.nack_rate <= 1.0)) {
    return absl::InvalidArgumentError("--nack-rate must be between 0 and 1");
  }
  return ValidateBehavior(options.behavior);
}

absl::StatusOr<std::unique_ptr<Simulator>> Simulator::Create(SimulatorOptions options) {
  if (absl::Status valid = ValidateOptions(options); !valid.ok()) return valid;
  if (options.enroll_concurrency < 1) options.enroll_concurrency = 1;
  absl::StatusOr<std::vector<std::vector<std::shared_ptr<grpc::Channel>>>> channels =
      MakeChannels(options);
  if (!channels.ok()) return channels.status();
  absl::StatusOr<std::unique_ptr<IdentityStore>> identities =
      IdentityStore::Open(options.state_dir);
  if (!identities.ok()) return identities.status();
  return std::unique_ptr<Simulator>(
      new Simulator(std::move(options), *std::move(identities), *std::move(channels)));
}

Simulator::Simulator(SimulatorOptions options, std::unique_ptr<IdentityStore> identities,
                     std::vector<std::vector<std::shared_ptr<grpc::Channel>>> channels)
    : options_(std::move(options)),
      identities_(std::move(identities)),
      channels_(std::move(channels)),
      queues_(rpc::CqPool::ForClients(rpc::CqPool::QueuesFor(options_.agents, kMaxQueues))),
      timers_(std::make_unique<TimerThread>()),
      enrolled_(options_.agents) {}

Simulator::~Simulator() { Stop(); }

std::vector<std::shared_ptr<grpc::Channel>> Simulator::ChannelsOf(int index) const {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (size_t k = 0; k < channels_.size(); ++k) {
    const auto& server = channels_[(static_cast<size_t>(index) + k) % channels_.size()];
    channels.push_back(server[static_cast<size_t>(index) % server.size()]);
  }
  return channels;
}

absl::Status Simulator::Enroll() {
  // Any server will do: agents whose first server is away enroll through another.
  const absl::Time deadline = absl::Now() + options_.connect_timeout;
  for (bool reached = false; !reached;) {
    for (const auto& server : channels_) {
      reached = reached || server.front()->GetState(/*try_to_connect=*/true) == GRPC_CHANNEL_READY;
    }
    if (reached) break;
    if (absl::Now() >= deadline) {
      return absl::UnavailableError(absl::StrCat("cannot reach fleetd at ", options_.server,
                                                 " within ",
                                                 absl::FormatDuration(options_.connect_timeout)));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  std::atomic<int> next{0};
  absl::Mutex first_error_mu;
  absl::Status first_error;
  std::vector<std::thread> workers;
  const int worker_count = std::min(options_.enroll_concurrency, options_.agents);
  for (int w = 0; w < worker_count; ++w) {
    workers.emplace_back([&] {
      for (int index = next++; index < options_.agents; index = next++) {
        absl::StatusOr<AgentIdentity> identity = IdentityOf(index);
        if (identity.ok()) {
          absl::MutexLock lock(&mu_);
          enrolled_[index] = *std::move(identity);
          continue;
        }
        ++errors_;
        std::cerr << "agent-sim: " << identity.status().message() << "\n";
        absl::MutexLock lock(&first_error_mu);
        if (first_error.ok()) first_error = identity.status();
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  absl::MutexLock lock(&mu_);
  const bool any = std::any_of(enrolled_.begin(), enrolled_.end(),
                               [](const auto& identity) { return identity.has_value(); });
  absl::MutexLock error_lock(&first_error_mu);
  return any ? absl::OkStatus() : first_error;
}

absl::StatusOr<AgentIdentity> Simulator::IdentityOf(int index) {
  const std::string name = AgentName(index);
  absl::StatusOr<std::optional<AgentIdentity>> saved = identities_->Load(name);
  if (!saved.ok()) return saved.status();
  if (saved->has_value()) return **saved;

  absl::StatusOr<v1::EnrollResponse> response = EnrollWithRetries(index);
  if (!response.ok()) return response.status();
  AgentIdentity identity{.agent_id = response->agent_id(),
                         .agent_secret = response->agent_secret(),
                         .policy = response->policy()};
  if (absl::Status saved_now = identities_->Save(name, identity); !saved_now.ok()) {
    return saved_now;
  }
  return identity;
}

std::string Simulator::Hostname(int index) const {
  return absl::StrCat(options_.hostname_prefix, index);
}

absl::StatusOr<v1::EnrollResponse> Simulator::EnrollWithRetries(int index) {
  v1::EnrollRequest request;
  request.set_enrollment_token(options_.enroll_token);
  v1::AgentFacts& facts = *request.mutable_facts();
  facts.set_hostname(Hostname(index));
  facts.set_os("linux");
  facts.set_arch("amd64");
  facts.set_agent_version(FLEETD_VERSION);
  facts.mutable_labels()->insert(options_.labels.begin(), options_.labels.end());
  (*facts.mutable_labels())["sim"] = "true";
  const std::vector<std::shared_ptr<grpc::Channel>> servers = ChannelsOf(index);
  absl::BitGen rng;
  Backoff backoff(kEnrollBackoff, rng);
  for (int attempt = 1;; ++attempt) {
    // Each attempt after a failure goes to the next server.
    const auto stub = v1::AgentService::NewStub(servers[(attempt - 1) % servers.size()]);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kEnrollTimeout));
    // Waits (until the deadline) for a channel that is still connecting or reconnecting; with
    // other servers to try, fails at once instead.
    context.set_wait_for_ready(servers.size() == 1);
    v1::EnrollResponse response;
    const grpc::Status status = stub->Enroll(&context, request, &response);
    if (status.ok()) return response;
    if (attempt == kEnrollAttempts || !IsTransient(status.error_code())) {
      return absl::Status(
          FromGrpcStatus(status).code(),
          absl::StrCat("enrolling ", AgentName(index), ": ", status.error_message()));
    }
    absl::SleepFor(backoff.Next());
  }
}

std::unique_ptr<AgentConnection> Simulator::NewConnection(int index, const AgentIdentity& identity,
                                                          SimAgent& agent) {
  const uint64_t seed = options_.seed * 1'000'003 + static_cast<uint64_t>(index);
  auto state = std::make_shared<AgentState>(seed);
  AgentConnectionHooks hooks;
  if (options_.nack_rate > 0) {
    hooks.refuse = [state, rate = options_.nack_rate](const v1::PolicyUpdate&) {
      return std::bernoulli_distribution(rate)(state->nack_rng);
    };
  }
  hooks.on_update = [this](const UpdateEvent& event) {
    // The times first, then the counts: whoever sees a count sees a time at least as late.
    const int64_t received_us = absl::ToUnixMicros(event.received_at);
    StoreMax(last_received_us_, received_us);
    if (event.outcome.applied) StoreMax(last_acked_us_, absl::ToUnixMicros(event.applied_at));
    ++(event.update.kind() == v1::PolicyUpdate::DELTA ? delta_updates_ : full_updates_);
    if (!event.outcome.applied) {
      ++nacks_;
      return;
    }
    ++acks_;
    const absl::Time committed =
        absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(event.update.commit_time()));
    const double latency_ms = absl::ToDoubleMilliseconds(event.applied_at - committed);
    absl::MutexLock lock(&latencies_mu_);
    latencies_ms_.push_back(latency_ms);
  };
  hooks.on_connected = [this, state, &agent](const v1::Welcome&) {
    ++connected_now_;
    if (!state->connected_once) ++connected_ever_;
    state->connected_once = true;
    state->welcomed = true;
    agent.OnConnected();
  };
  hooks.on_repeated_action = [&agent](const v1::AgentAction&) { agent.OnRepeated(); };
  hooks.on_disconnected = [this, state](const absl::Status& status) {
    if (state->welcomed) --connected_now_;
    state->welcomed = false;
    if (status.code() != absl::StatusCode::kCancelled) ++reconnects_;
    if (!IsExpectedEnd(status.code())) ++errors_;
  };
  hooks.on_credentials = [this](const absl::Status& saved) {
    // A secret that could not be saved is not confirmed: the agent keeps its old one.
    ++(saved.ok() ? rotations_ : errors_);
  };
  AgentConnectionOptions options;
  options.protocol.status_after_connect.emplace();
  options.protocol.status_after_connect->set_health(v1::StatusReport::HEALTHY);
  options.protocol.status_after_connect->set_message("simulated");
  options.protocol.apply_cache = &apply_cache_;
  options.protocol.actions = &agent;
  options.protocol.queries = &agent;
  options.seed = seed;
  options.queue = queues_->queue(index);
  // One timer thread for every agent's heartbeat and reconnect rather than an alarm each: with
  // 100,000 alarms pending, gRPC's own timer bookkeeping took most of the simulator's CPU.
  options.timers = timers_.get();
  // Kept where the next run finds it: a restarted agent must hold its new secret.
  options.save_identity = [this, name = AgentName(index)](const AgentIdentity& rotated) {
    return identities_->Save(name, rotated);
  };
  return std::make_unique<AgentConnection>(ChannelsOf(index), identity, PolicyApplier(),
                                           std::move(hooks), std::move(options));
}

void Simulator::Start() {
  absl::MutexLock lock(&mu_);
  for (int index = 0; index < options_.agents; ++index) {
    if (!enrolled_[index].has_value()) continue;
    const uint64_t seed = options_.seed * 2'000'003 + static_cast<uint64_t>(index);
    sim_agents_.push_back(
        std::make_unique<SimAgent>(Hostname(index), options_.behavior, seed, *timers_, activity_));
    connections_.push_back(NewConnection(index, *enrolled_[index], *sim_agents_.back()));
    sim_agents_.back()->Attach(*connections_.back());
    connections_.back()->Start();
  }
}

void Simulator::Stop() {
  std::vector<std::unique_ptr<AgentConnection>> connections;
  std::vector<std::unique_ptr<SimAgent>> agents;
  {
    absl::MutexLock lock(&mu_);
    connections.swap(connections_);
    agents.swap(sim_agents_);
  }
  // No task (which reports through a connection) runs after this; the agents' handlers may still
  // be called, and what they schedule is dropped.
  timers_->Stop();
  // All are told first, so that they wind down together rather than one after another.
  for (auto& connection : connections) connection->Stop();
  // A loop that ended with UNAUTHENTICATED was counted as an error when its stream ended.
  for (auto& connection : connections) connection->Join();
  // The connections go before their handlers.
  connections.clear();
}

SimulatorReport Simulator::Report() const {
  SimulatorReport report;
  report.agents = options_.agents;
  report.connected = connected_ever_.load();
  report.delta_updates = delta_updates_.load();
  report.full_updates = full_updates_.load();
  report.acks = acks_.load();
  report.nacks = nacks_.load();
  report.reconnects = reconnects_.load();
  report.errors = errors_.load();
  report.rotations = rotations_.load();
  report.activity = activity_.Counts();
  std::vector<double> latencies;
  {
    absl::MutexLock lock(&mu_);
    report.enrolled = std::count_if(enrolled_.begin(), enrolled_.end(),
                                    [](const auto& identity) { return identity.has_value(); });
  }
  {
    absl::MutexLock lock(&latencies_mu_);
    latencies = latencies_ms_;
  }
  report.latency_ms = Summarize(latencies);
  return report;
}

}  // namespace fleet::agent
