// Ending an agent-sim process that an end-to-end test started, and reading its report.
#ifndef FLEETD_TESTS_TESTING_AGENT_SIM_PROCESS_H_
#define FLEETD_TESTS_TESTING_AGENT_SIM_PROCESS_H_

#include <string>

#include "nlohmann/json.hpp"
#include "tests/testing/subprocess.h"

namespace fleet::testing {

// Stops `sim` with SIGTERM (bounded: 90 s in all) and returns the report it wrote to `report`
// (its --report). Records a test failure when it does not exit 0 or the report does not parse,
// and then returns a discarded json value.
nlohmann::json StopAgentSim(Subprocess& sim, const std::string& report);

}  // namespace fleet::testing

#endif  // FLEETD_TESTS_TESTING_AGENT_SIM_PROCESS_H_
