// fleet-bench: the scale benchmarks behind `scripts/bench`. Starts fleetd on a temp dir, enrolls
// and runs simulated agents in this process, runs the chosen scenarios and writes
// OUT/SCENARIO.json for each. See --help.
#include <grpcpp/grpcpp.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "bench/scale/scenarios.h"
#include "common/fd_limit.h"
#include "tests/testing/fleetd_process.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace fleet::bench {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

struct Flags {
  std::vector<std::string> scenarios;
  std::string fleetd = "build/bin/fleetd";
  std::string etcd = "etcd";
  std::string out = "bench/results";
  double scale = 1;
  int rounds = 0;
  int payload_bytes = 1024;
  bool no_http = false;
  std::string baseline_fleetd;
};

std::string FirstLineOf(const std::vector<std::string>& argv) {
  absl::StatusOr<testing::CommandResult> result =
      testing::RunCommand(argv, {}, std::nullopt, absl::Seconds(10));
  if (!result.ok() || result->exit_code != 0) return "unknown";
  return result->out.substr(0, result->out.find('\n'));
}

nlohmann::ordered_json Conditions(const Flags& flags, const fleet::FdLimit& limit,
                                  const testing::FleetdProcess& fleetd) {
  utsname name{};
  uname(&name);
  absl::StatusOr<std::string> fleetd_limit = fleetd.FdLimit();
  return {{"cores", std::thread::hardware_concurrency()},
          {"fd_limit_soft", limit.soft},
          {"fd_limit_hard", limit.hard},
          {"fleetd_fd_limit", fleetd_limit.ok() ? *fleetd_limit : "unknown"},
          {"fleetd_version", FirstLineOf({flags.fleetd, "--version"})},
          {"grpc_version", grpc::Version()},
          {"etcd_version", FirstLineOf({flags.etcd, "--version"})},
          {"kernel", absl::StrCat(name.sysname, " ", name.release)},
          {"agents_on_same_machine", true}};
}

const Scenario* FindScenario(const std::string& name) {
  for (const Scenario& scenario : AllScenarios()) {
    if (scenario.name == name) return &scenario;
  }
  return nullptr;
}

int Run(const Flags& flags) {
  std::vector<const Scenario*> chosen;
  for (const std::string& name : flags.scenarios) {
    const Scenario* scenario = FindScenario(name);
    if (scenario == nullptr) {
      std::vector<std::string> names;
      for (const Scenario& s : AllScenarios()) names.push_back(s.name);
      std::cerr << "fleet-bench: error: unknown scenario \"" << name
                << "\"; choose from: " << absl::StrJoin(names, ", ") << "\n";
      return kExitUsage;
    }
    chosen.push_back(scenario);
  }
  if (chosen.empty()) {
    for (const Scenario& s : AllScenarios()) chosen.push_back(&s);
  }
  // The agents' connections are this process's descriptors.
  absl::StatusOr<fleet::FdLimit> limit = fleet::RaiseFdLimit();
  if (!limit.ok()) {
    std::cerr << "fleet-bench: error: " << limit.status().message() << "\n";
    return kExitFailed;
  }
  Progress(absl::StrCat("open-file limit ", limit->soft, " (hard ", limit->hard, ")"));
  std::error_code error;
  std::filesystem::create_directories(flags.out, error);
  if (error) {
    std::cerr << "fleet-bench: error: cannot create " << flags.out << ": " << error.message()
              << "\n";
    return kExitFailed;
  }
  // fleetd's store on disk (fsync is part of what is measured); agent identities in memory-backed
  // /dev/shm when there is one, because their fsyncs are the simulator's cost, not fleetd's.
  testing::TempDir work;
  const std::string shm_base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : work.path();
  const std::string state_dir = absl::StrCat(shm_base, "/fleet-bench-agents-", getpid());
  struct RemoveState {
    std::string dir;
    ~RemoveState() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } remove_state{state_dir};

  absl::StatusOr<std::unique_ptr<testing::FleetdProcess>> fleetd =
      testing::FleetdProcess::Start({.binary = flags.fleetd,
                                     .data_dir = work.path() + "/fleetd-data",
                                     .log_path = work.path() + "/fleetd.log",
                                     .http = !flags.no_http});
  if (!fleetd.ok()) {
    std::cerr << "fleet-bench: error: " << fleetd.status().message() << "\n";
    return kExitFailed;
  }
  Progress(absl::StrCat("fleetd serving: admin ", (*fleetd)->admin_address(), ", agents ",
                        (*fleetd)->agent_address(), ", http ", (*fleetd)->http_address(), ", log ",
                        (*fleetd)->log_path()));
  BenchEnv env;
  env.fleetd = fleetd->get();
  env.policy = "bench";
  env.state_dir = state_dir;
  env.etcd_binary = flags.etcd;
  env.fleetd_binary = flags.fleetd;
  env.work_dir = work.path();
  env.baseline_fleetd = flags.baseline_fleetd;
  env.scale = flags.scale;
  env.rounds = flags.rounds;
  env.payload_bytes = flags.payload_bytes;
  env.conditions = Conditions(flags, *limit, **fleetd);

  if (absl::Status connected = ConnectEnv(env); !connected.ok()) {
    std::cerr << "fleet-bench: error: " << connected.message() << "\n";
    return kExitFailed;
  }

  int failed_cases = 0;
  for (const Scenario* scenario : chosen) {
    ScenarioResult result = scenario->run(env);
    for (const CaseResult& c : result.cases) failed_cases += c.error.has_value() ? 1 : 0;
    if (absl::Status written = WriteResult(result, flags.out); !written.ok()) {
      std::cerr << "fleet-bench: error: " << written.message() << "\n";
      return kExitFailed;
    }
    Progress(absl::StrCat("wrote ", flags.out, "/", result.scenario, ".json (",
                          absl::FormatDuration(absl::Trunc(result.duration, absl::Seconds(1))),
                          ")"));
  }
  if (absl::Status stopped = (*fleetd)->Stop(); !stopped.ok()) {
    std::cerr << "fleet-bench: error: " << stopped.message() << "\n";
    return kExitFailed;
  }
  if (failed_cases > 0) {
    std::cerr << "fleet-bench: " << failed_cases << " case(s) failed; see their \"error\"\n";
    return kExitFailed;
  }
  return 0;
}

}  // namespace
}  // namespace fleet::bench

int main(int argc, char** argv) {
  // Debian's abseil is built with mutex deadlock detection on, which keeps a global lock graph
  // and takes a global lock on every Mutex operation: correctness tooling that tests keep, and
  // that a server (or a benchmark) pays for on every lock.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  fleet::bench::Flags flags;
  CLI::App app{
      "Runs fleetd's scale benchmarks: starts fleetd on a temp dir (and etcd for vs-etcd), runs "
      "simulated agents in this process over real gRPC streams, and writes OUT/SCENARIO.json per "
      "scenario (figures, medians, p99s, targets and the conditions). Every wait is bounded.\n"
      "Exit codes: 0 all cases ran, 1 a case or the setup failed, 2 bad flags.",
      "fleet-bench"};
  app.add_option("scenarios", flags.scenarios,
                 "Scenarios to run, in order (default: all): fanout, memory, reconnect, enroll, "
                 "admin-write, rollout-watch, vs-etcd, fanout-metrics, action, query, "
                 "query-concurrency, ha");
  app.add_option("--fleetd", flags.fleetd, "The fleetd binary (default: build/bin/fleetd)");
  app.add_option("--etcd", flags.etcd, "The etcd binary for vs-etcd (default: etcd on PATH)");
  app.add_option("--out", flags.out, "Where the JSON files go (default: bench/results)");
  app.add_option("--scale", flags.scale,
                 "Multiplies every agent and stream count, e.g. 0.1 for a quick run (default 1)")
      ->check(CLI::Range(0.001, 1.0));
  app.add_option("--rounds", flags.rounds,
                 "Rounds per case instead of each scenario's own (default: theirs)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--payload-bytes", flags.payload_bytes,
                 "Bytes of the value that changes in each policy revision (default 1024)")
      ->check(CLI::Range(16, 1 << 20));
  app.add_flag("--no-http", flags.no_http,
               "Start fleetd without --http-addr, for fleetd builds older than it (default: "
               "fleetd serves HTTP on a free port, reported in the progress line)");
  app.add_option("--baseline-fleetd", flags.baseline_fleetd,
                 "fanout-metrics: the fleetd that the one under test, with /metrics scraped, is "
                 "compared with, e.g. a build from before a change (default: the same binary with "
                 "its HTTP endpoint off, --http-addr '')");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : fleet::bench::kExitUsage;
  }
  return fleet::bench::Run(flags);
}
