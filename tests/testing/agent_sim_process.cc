#include "tests/testing/agent_sim_process.h"

#include <signal.h>

#include <fstream>
#include <iterator>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/testing/fleetctl_runner.h"
#include "tests/testing/status_matchers.h"

namespace fleet::testing {

void AgentSimFleetd::Start(const std::string& policy_yaml, const std::string& policy,
                           const std::vector<std::string>& fleetd_flags) {
  ASSERT_OK_AND_ASSIGN(fleetd_, FleetdProcess::Start({.binary = binaries_.fleetd,
                                                      .data_dir = tmp_.Sub("data"),
                                                      .extra_flags = fleetd_flags,
                                                      .log_path = tmp_.Sub("fleetd.log")}));
  CommandResult applied = Fleetctl({"apply", "-f", "-"}, policy_yaml);
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  CommandResult token = Fleetctl({"token", "create", "--policy", policy, "-o", "json"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  std::ofstream(token_file_) << nlohmann::json::parse(token.out)["secret"].get<std::string>();
}

CommandResult AgentSimFleetd::Fleetctl(const std::vector<std::string>& args,
                                       const std::optional<std::string>& input) {
  return RunFleetctl(binaries_.fleetctl, *fleetd_, tmp_.Sub("config"), args, "", input);
}

std::unique_ptr<Subprocess> AgentSimFleetd::StartSim(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {binaries_.agent_sim, "--server", fleetd_->agent_address(),
                                   "--enroll-token-file", token_file_};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<std::unique_ptr<Subprocess>> sim = Subprocess::Start(argv);
  EXPECT_OK(sim);
  return sim.ok() ? *std::move(sim) : nullptr;
}

nlohmann::json StopAgentSim(Subprocess& sim, const std::string& report) {
  sim.Signal(SIGTERM);
  std::string out, err;
  sim.DrainBoth(absl::Seconds(60), out, err);
  EXPECT_EQ(ExitCode(sim.Wait(absl::Seconds(30))), 0) << err;
  std::ifstream file(report);
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  EXPECT_FALSE(json.is_discarded()) << "report: " << text << "\nstderr: " << err;
  return json;
}

}  // namespace fleet::testing
