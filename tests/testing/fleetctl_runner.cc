#include "tests/testing/fleetctl_runner.h"

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace fleet::testing {

CommandResult RunFleetctl(const std::string& fleetctl_bin, const FleetdProcess& fleetd,
                          const std::string& config_home, const std::vector<std::string>& args,
                          const std::string& token_file, const std::optional<std::string>& input) {
  std::vector<std::string> argv = {fleetctl_bin, "--address", fleetd.admin_address(),
                                   "--token-file",
                                   token_file.empty() ? fleetd.bootstrap_token_file() : token_file};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<CommandResult> result =
      RunCommand(argv, {"XDG_CONFIG_HOME=" + config_home}, input, absl::Seconds(60));
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : CommandResult{};
}

}  // namespace fleet::testing
