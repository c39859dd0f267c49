// Runs the real fleetctl against a FleetdProcess, for end-to-end tests.
#ifndef FLEETD_TESTS_TESTING_FLEETCTL_RUNNER_H_
#define FLEETD_TESTS_TESTING_FLEETCTL_RUNNER_H_

#include <optional>
#include <string>
#include <vector>

#include "tests/testing/fleetd_process.h"
#include "tests/testing/subprocess.h"

namespace fleet::testing {

// Runs `fleetctl_bin` against `fleetd` (--address, and --token-file: `token_file`, or the
// bootstrap admin token when empty) with `args`, `input` on stdin, and `config_home` as its
// XDG_CONFIG_HOME so that no operator's config leaks in; killed after 60 s. A failure to run it
// at all is a test failure (and an empty result).
CommandResult RunFleetctl(const std::string& fleetctl_bin, const FleetdProcess& fleetd,
                          const std::string& config_home, const std::vector<std::string>& args,
                          const std::string& token_file = "",
                          const std::optional<std::string>& input = std::nullopt);

}  // namespace fleet::testing

#endif  // FLEETD_TESTS_TESTING_FLEETCTL_RUNNER_H_
