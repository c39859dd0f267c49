// What the agent-sim end-to-end tests share: a fleetd set up for agent-sim to enroll against, and
// ending an agent-sim process and reading its report.
#ifndef FLEETD_TESTS_TESTING_AGENT_SIM_PROCESS_H_
#define FLEETD_TESTS_TESTING_AGENT_SIM_PROCESS_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/testing/fleetd_process.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace fleet::testing {

struct AgentSimBinaries {
  std::string fleetd;
  std::string fleetctl;
  std::string agent_sim;
};

// A real fleetd in a temp dir of its own, with one policy and an enrollment token for it in a
// file (agent-sim's --enroll-token-file). Not thread-safe; for a test's own thread.
class AgentSimFleetd {
 public:
  explicit AgentSimFleetd(AgentSimBinaries binaries) : binaries_(std::move(binaries)) {}

  // Starts fleetd with its log in a file (an info line per enrollment would fill a pipe nobody
  // reads), applies `policy_yaml` (a Policy named `policy`) and writes a new token for `policy`
  // to token_file(). `fleetd_flags` go to fleetd after ours. Fails the test (call it under
  // ASSERT_NO_FATAL_FAILURE) when a step fails.
  void Start(const std::string& policy_yaml, const std::string& policy,
             const std::vector<std::string>& fleetd_flags = {});

  // fleetctl with `args` (and `input` on stdin) as the bootstrap admin (RunFleetctl).
  CommandResult Fleetctl(const std::vector<std::string>& args,
                         const std::optional<std::string>& input = std::nullopt);

  // agent-sim against this fleetd with its token, then `args`; a failure to start it is a test
  // failure (and null).
  std::unique_ptr<Subprocess> StartSim(const std::vector<std::string>& args);

  // After Start:
  FleetdProcess& process() { return *fleetd_; }
  const std::string& token_file() const { return token_file_; }

 private:
  const AgentSimBinaries binaries_;
  TempDir tmp_;
  const std::string token_file_ = tmp_.Sub("enroll.token");
  std::unique_ptr<FleetdProcess> fleetd_;
};

// Stops `sim` with SIGTERM (bounded: 90 s in all) and returns the report it wrote to `report`
// (its --report). Records a test failure when it does not exit 0 or the report does not parse,
// and then returns a discarded json value.
nlohmann::json StopAgentSim(Subprocess& sim, const std::string& report);

}  // namespace fleet::testing

#endif  // FLEETD_TESTS_TESTING_AGENT_SIM_PROCESS_H_
