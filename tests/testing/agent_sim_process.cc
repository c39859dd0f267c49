#include "tests/testing/agent_sim_process.h"

#include <signal.h>

#include <fstream>
#include <iterator>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace fleet::testing {

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
