// The vs-etcd scenario: fleetd's fan-out next to etcd's watch fan-out, same streams, same
// payload, same machine, one run.
#include "absl/strings/str_cat.h"
#include "bench/scale/scenarios.h"
#include "tests/testing/etcd_fanout.h"
#include "tests/testing/etcd_process.h"

namespace fleet::bench {
namespace {

constexpr absl::Duration kRoundTimeout = absl::Seconds(60);
// Streams per TCP connection, for both: etcd's Watch streams and fleetd's Connect streams.
constexpr int kStreamsPerConnection = 100;

struct Pair {
  CaseResult etcd;
  CaseResult fleetd;
  CaseResult ratio;
};

Pair RunSize(BenchEnv& env, const testing::EtcdProcess& etcd, int streams, int rounds) {
  const int connections = std::max(1, streams / kStreamsPerConnection);
  const nlohmann::ordered_json params = {{"streams", streams}, {"connections", connections}};
  Pair pair{
      .etcd = NewCase(absl::StrCat("etcd, ", streams, " watch streams"), params,
                      "write_to_all_received", "s"),
      .fleetd = NewCase(absl::StrCat("fleetd, ", streams, " agent streams"), params,
                        "write_to_all_received", "s"),
      .ratio = NewCase(absl::StrCat("fleetd/etcd, ", streams, " streams"), params, "median_ratio",
                       "ratio", Target{.stat = "median", .op = "<", .value = 0.5})};

  // The same bytes etcd's watchers get: a whole policy document as fleetd stores it.
  const std::string payload = NextPolicySpec(env);
  Progress(absl::StrCat("  etcd: ", streams, " watch streams over ", connections, " connections"));
  absl::StatusOr<testing::EtcdFanoutResult> measured =
      testing::MeasureEtcdFanout({.endpoint = etcd.endpoint(),
                                  .streams = streams,
                                  .connections = connections,
                                  .payload = payload,
                                  .rounds = rounds,
                                  .round_timeout = kRoundTimeout});
  if (measured.ok()) {
    pair.etcd.samples = measured->round_seconds;
    pair.etcd.figures = {{"open_s", measured->open_seconds}, {"errors", measured->error_count}};
    Progress(absl::StrCat("  etcd: median ", Median(pair.etcd.samples), " s"));
  } else {
    pair.etcd.error = std::string(measured.status().message());
  }

  absl::StatusOr<std::unique_ptr<AgentPopulation>> population =
      StartPopulation(env, streams, connections);
  if (!population.ok()) {
    pair.fleetd.error = std::string(population.status().message());
  } else {
    RunRounds(pair.fleetd, rounds, [&](int) -> absl::StatusOr<double> {
      absl::SleepFor(absl::Milliseconds(300));
      absl::StatusOr<absl::Duration> took =
          TimeRollout(env, **population, Until::kReceived, kRoundTimeout);
      if (!took.ok()) return took.status();
      return absl::ToDoubleSeconds(*took);
    });
  }
  if (pair.etcd.error.has_value() || pair.fleetd.error.has_value()) {
    pair.ratio.error = "a side failed; see its case";
  } else {
    const double ratio = Median(pair.fleetd.samples) / Median(pair.etcd.samples);
    pair.ratio.samples = {ratio};
    pair.ratio.figures = {{"fleetd_median_s", Median(pair.fleetd.samples)},
                          {"etcd_median_s", Median(pair.etcd.samples)}};
    Progress(absl::StrCat("  fleetd/etcd = ", ratio));
  }
  return pair;
}

}  // namespace

ScenarioResult RunVsEtcd(BenchEnv& env) {
  ScenarioResult scenario = NewScenario(
      env, "vs-etcd", "One write to every stream: fleetd next to etcd's watch, same streams");
  absl::StatusOr<std::unique_ptr<testing::EtcdProcess>> etcd =
      testing::EtcdProcess::Start({.etcd_bin = env.etcd_binary});
  if (!etcd.ok()) {
    CaseResult failed =
        NewCase("etcd", nlohmann::ordered_json::object(), "write_to_all_received", "s");
    failed.error = absl::StrCat("cannot start etcd: ", etcd.status().message());
    scenario.cases.push_back(std::move(failed));
    scenario.duration = absl::Now() - scenario.started_at;
    return scenario;
  }
  scenario.conditions["etcd_version"] = (*etcd)->Version();
  const int rounds = RoundsOr(env, 10);
  for (int streams : {1'000, 10'000}) {
    Pair pair = RunSize(env, **etcd, Scaled(env, streams), rounds);
    scenario.cases.push_back(std::move(pair.etcd));
    scenario.cases.push_back(std::move(pair.fleetd));
    scenario.cases.push_back(std::move(pair.ratio));
  }
  (void)(*etcd)->Stop();
  scenario.notes.push_back(
      "etcd: one Put of a policy-sized value to a key that every Watch stream watches; fleetd: "
      "one ApplyPolicy of a document of the same size (agents get it as a delta). Both times run "
      "from just before the write call (each durable: etcd's raft log fsync, fleetd's RocksDB "
      "fsync) to the last stream's receipt, with 100 streams per TCP connection on both sides. "
      "The ratio is fleetd's median over etcd's, from the same run.");
  scenario.duration = absl::Now() - scenario.started_at;
  return scenario;
}

}  // namespace fleet::bench
