// The ha scenario: 3 fleetd replicas on a 3-member etcd cluster against the run's own fleetd on
// RocksDB, the same number of agents on each in the same run.
#include <signal.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bench/scale/scenarios.h"
#include "storage/etcd/etcd_connection.h"
#include "tests/testing/etcd_process.h"

namespace fleet::bench {
namespace {

constexpr int kReplicas = 3;
constexpr absl::Duration kRolloutTimeout = absl::Minutes(2);

// etcd's revision now and how many keys the fleet holds there (revisioned and state).
struct EtcdCount {
  int64_t revision = 0;
  int64_t keys = 0;
};

absl::StatusOr<EtcdCount> CountEtcd(const std::string& endpoint) {
  absl::StatusOr<std::unique_ptr<storage::etcd::EtcdConnection>> connection =
      storage::etcd::EtcdConnection::Open({.endpoints = {endpoint}});
  if (!connection.ok()) return connection.status();
  etcdserverpb::RangeRequest request;
  request.set_key("/fleetd/");
  request.set_range_end(storage::etcd::PrefixEnd("/fleetd/"));
  request.set_count_only(true);
  etcdserverpb::RangeResponse response;
  absl::Status status = (*connection)
                            ->Call("Range", storage::etcd::EtcdConnection::Kind::kRead,
                                   [&](const storage::etcd::EtcdConnection::Stubs& stubs,
                                       grpc::ClientContext& context) {
                                     return stubs.kv.Range(&context, request, &response);
                                   });
  if (!status.ok()) return status;
  return EtcdCount{.revision = response.header().revision(), .keys = response.count()};
}

// The HA fleet: the cluster, the replicas, and a BenchEnv on replica 0.
struct HaFleet {
  std::vector<std::unique_ptr<testing::EtcdProcess>> etcd;
  std::vector<std::unique_ptr<testing::FleetdProcess>> replicas;
  BenchEnv env;
  std::string agent_servers;  // "A,B,C"
};

absl::StatusOr<std::unique_ptr<HaFleet>> StartHaFleet(const BenchEnv& run) {
  auto fleet = std::make_unique<HaFleet>();
  absl::StatusOr<std::vector<std::unique_ptr<testing::EtcdProcess>>> etcd =
      testing::EtcdProcess::StartCluster(3);
  if (!etcd.ok()) return etcd.status();
  fleet->etcd = *std::move(etcd);
  std::vector<std::string> endpoints;
  for (const auto& member : fleet->etcd) endpoints.push_back(member->endpoint());
  const std::string store = "etcd://" + absl::StrJoin(endpoints, ",");
  std::vector<std::string> agents;
  for (int i = 0; i < kReplicas; ++i) {
    absl::StatusOr<std::unique_ptr<testing::FleetdProcess>> replica = testing::FleetdProcess::Start(
        {.binary = run.fleetd_binary,
         .data_dir = absl::StrCat(run.work_dir, "/ha-replica-", i),
         .extra_flags = {"--store", store},
         .log_path = absl::StrCat(run.work_dir, "/ha-replica-", i, ".log")});
    if (!replica.ok()) {
      return absl::Status(replica.status().code(),
                          absl::StrCat("starting replica ", i, ": ", replica.status().message()));
    }
    agents.push_back((*replica)->agent_address());
    fleet->replicas.push_back(*std::move(replica));
  }
  fleet->agent_servers = absl::StrJoin(agents, ",");
  BenchEnv& env = fleet->env;
  env.fleetd = fleet->replicas[0].get();
  env.policy = run.policy;
  env.state_dir = absl::StrCat(run.work_dir, "/ha-agents");
  env.scale = run.scale;
  env.rounds = run.rounds;
  env.payload_bytes = run.payload_bytes;
  if (absl::Status connected = ConnectEnv(env); !connected.ok()) return connected;
  Progress(absl::StrCat("ha: 3 etcd members, replicas serving agents at ", fleet->agent_servers));
  return fleet;
}

// Restarts each replica in turn (SIGTERM, then a start on the same ports and data dir), and after
// each, once it serves again, commits via replica 0 and waits until every agent acked: one
// sample of `rolling` per replica, from its stop. `writes` gets etcd's revisions over the whole
// restart per second per 10,000 of `agents`.
void RollingRestart(HaFleet& f, AgentPopulation& population, CaseResult& rolling,
                    CaseResult& writes, int agents) {
  const int64_t full_before = population.simulator().full_updates();
  const int64_t reconnects_before = population.simulator().Report().reconnects;
  const absl::Time started = absl::Now();
  absl::StatusOr<EtcdCount> before = CountEtcd(f.etcd[0]->endpoint());
  // Per replica: how long its stop and start took, of the round's time.
  nlohmann::ordered_json restart_seconds = nlohmann::ordered_json::object();
  RunRounds(rolling, kReplicas, [&](int round) -> absl::StatusOr<double> {
    const absl::Time stopped_at = absl::Now();
    if (absl::Status restarted = f.replicas[round]->Restart(); !restarted.ok()) {
      return absl::Status(restarted.code(),
                          absl::StrCat("restarting replica ", round, ": ", restarted.message()));
    }
    restart_seconds[absl::StrCat("replica_", round, "_restart_seconds")] =
        absl::ToDoubleSeconds(absl::Now() - stopped_at);
    // A fresh admin connection after replica 0 came back, rather than one in its reconnect
    // backoff.
    if (round == 0) {
      f.env.admin = cli::AdminClient::Create(f.env.fleetd->admin_address(), f.env.admin_token,
                                             absl::Seconds(30));
    }
    absl::StatusOr<absl::Duration> took =
        TimeRollout(f.env, population, Until::kAcked, kRolloutTimeout);
    if (!took.ok()) return took.status();
    return absl::ToDoubleSeconds(absl::Now() - stopped_at);
  });
  const absl::Duration window = absl::Now() - started;
  absl::StatusOr<EtcdCount> after = CountEtcd(f.etcd[0]->endpoint());
  if (!before.ok() || !after.ok()) {
    writes.error = std::string((before.ok() ? after.status() : before.status()).message());
    return;
  }
  writes.samples.push_back(static_cast<double>(after->revision - before->revision) /
                           absl::ToDoubleSeconds(window) * 10'000 / agents);
  writes.figures = {{"window_seconds", absl::ToDoubleSeconds(window)},
                    {"revisions", after->revision - before->revision}};
  rolling.figures = restart_seconds;
  rolling.figures.update(nlohmann::ordered_json{
      {"reconnects", population.simulator().Report().reconnects - reconnects_before},
      {"full_updates", population.simulator().full_updates() - full_before}});
}

}  // namespace

ScenarioResult RunHa(BenchEnv& env) {
  ScenarioResult scenario =
      NewScenario(env, "ha", "3 fleetd replicas on a 3-member etcd cluster, and one on RocksDB");
  const int agents = Scaled(env, 30'000);
  const int connections = std::max(kReplicas, Scaled(env, 300));
  const nlohmann::ordered_json params = {
      {"agents", agents}, {"connections", connections}, {"replicas", kReplicas}};
  CaseResult single = NewCase(absl::StrCat(PopulationName(agents, connections),
                                           ", one fleetd on RocksDB: commit to all acked"),
                              params, "commit_to_all_acked", "s");
  CaseResult ha = NewCase(absl::StrCat(PopulationName(agents, connections),
                                       " over 3 replicas: commit via replica 0 to all acked"),
                          params, "commit_to_all_acked", "s");
  CaseResult failover = NewCase(
      absl::StrCat("SIGKILL of replica 1 (", agents / kReplicas,
                   " agents): commit via replica 0 right after, until every agent acked it"),
      params, "kill_to_all_resynced", "s", Target{.stat = "p99", .op = "<", .value = 10});
  CaseResult writes =
      NewCase("etcd writes per second per 10,000 idle agents", params, "etcd_writes_per_s_per_10k",
              "writes/s", Target{.stat = "p99", .op = "<", .value = 10});
  CaseResult keys = NewCase("etcd keys per 10,000 agents", params, "etcd_keys_per_10k", "keys");
  CaseResult rolling = NewCase(
      "rolling restart, one replica after another (SIGTERM, start on the same ports): from each "
      "stop, a commit via replica 0 once it serves again, until every agent acked it",
      params, "restart_to_all_acked", "s");
  CaseResult rolling_writes =
      NewCase("etcd writes per second per 10,000 agents during the rolling restart", params,
              "etcd_writes_per_s_per_10k", "writes/s");

  // The same agents on the run's own fleetd first.
  {
    absl::StatusOr<std::unique_ptr<AgentPopulation>> population =
        StartPopulation(env, agents, connections);
    if (!population.ok()) {
      single.error = std::string(population.status().message());
    } else {
      RunRounds(single, RoundsOr(env, 5), [&](int) -> absl::StatusOr<double> {
        absl::StatusOr<absl::Duration> took =
            TimeRollout(env, **population, Until::kAcked, kRolloutTimeout);
        if (!took.ok()) return took.status();
        return absl::ToDoubleSeconds(*took);
      });
    }
  }

  absl::StatusOr<std::unique_ptr<HaFleet>> fleet = StartHaFleet(env);
  if (!fleet.ok()) {
    ha.error = failover.error = writes.error = keys.error = std::string(fleet.status().message());
  } else {
    HaFleet& f = **fleet;
    absl::StatusOr<std::unique_ptr<AgentPopulation>> population =
        AgentPopulation::Start({.server = f.agent_servers,
                                .enroll_token = f.env.enroll_token,
                                .state_dir = f.env.state_dir,
                                .agents = agents,
                                .connections = connections});
    if (!population.ok()) {
      ha.error = failover.error = writes.error = keys.error =
          std::string(population.status().message());
    } else {
      RunRounds(ha, RoundsOr(env, 5), [&](int) -> absl::StatusOr<double> {
        absl::StatusOr<absl::Duration> took =
            TimeRollout(f.env, **population, Until::kAcked, kRolloutTimeout);
        if (!took.ok()) return took.status();
        return absl::ToDoubleSeconds(*took);
      });
      // Idle: only last-seen times, the readiness probes and lease renewals are written.
      const absl::Duration idle = absl::Seconds(std::max(30.0, 120 * std::min(1.0, env.scale)));
      absl::SleepFor(absl::Seconds(30));  // the rollout's own writes settle
      absl::StatusOr<EtcdCount> before = CountEtcd(f.etcd[0]->endpoint());
      absl::SleepFor(idle);
      absl::StatusOr<EtcdCount> after = CountEtcd(f.etcd[0]->endpoint());
      if (!before.ok() || !after.ok()) {
        writes.error = keys.error =
            std::string((before.ok() ? after.status() : before.status()).message());
      } else {
        writes.samples.push_back(static_cast<double>(after->revision - before->revision) /
                                 absl::ToDoubleSeconds(idle) * 10'000 / agents);
        keys.samples.push_back(static_cast<double>(after->keys) * 10'000 / agents);
        writes.figures = {{"idle_seconds", absl::ToDoubleSeconds(idle)},
                          {"revisions", after->revision - before->revision}};
      }
      // One round: after it the killed replica's agents are elsewhere.
      RunRounds(failover, 1, [&](int) -> absl::StatusOr<double> {
        const absl::Time killed_at = absl::Now();
        kill(f.replicas[1]->pid(), SIGKILL);
        absl::StatusOr<absl::Duration> took =
            TimeRollout(f.env, **population, Until::kAcked, kRolloutTimeout);
        if (!took.ok()) return took.status();
        return absl::ToDoubleSeconds(absl::Now() - killed_at);
      });
      const agent::SimulatorReport report = (*population)->simulator().Report();
      failover.figures = {{"reconnects", report.reconnects},
                          {"full_updates", (*population)->simulator().full_updates()},
                          {"errors", report.errors}};
      // The killed replica back first, on its ports; then the rolling restart.
      (void)f.replicas[1]->Stop();  // it was SIGKILLed: not an exit of its own
      if (absl::Status back = f.replicas[1]->Restart(); !back.ok()) {
        rolling.error = rolling_writes.error = std::string(back.message());
      } else {
        RollingRestart(f, **population, rolling, rolling_writes, agents);
      }
    }
  }
  for (CaseResult* c : {&single, &ha, &failover, &writes, &keys, &rolling, &rolling_writes}) {
    scenario.cases.push_back(std::move(*c));
  }
  scenario.notes.push_back(
      "One run: the agents first on the run's own fleetd (RocksDB), then on 3 replicas sharing a "
      "3-member etcd cluster (agent i starts on replica i % 3). Commits go through replica 0; "
      "every agent, whichever replica holds it, counts. The failover round SIGKILLs replica 1 "
      "and commits through replica 0 at once: the time runs from the kill to the last agent's "
      "Ack, its 1/3 of the agents reconnecting to the other replicas and resuming by delta. etcd "
      "writes are etcd revisions over an idle window after the rounds; keys are every key under "
      "the fleet's prefix. Then the killed replica comes back and the rolling restart stops and "
      "starts each replica in turn on its ports (SIGTERM: its agents move to the others), "
      "committing through replica 0 after each; its etcd writes count everything over the "
      "restart, the three commits and their acks included.");
  scenario.duration = absl::Now() - scenario.started_at;
  return scenario;
}

}  // namespace fleet::bench
