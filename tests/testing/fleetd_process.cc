#include "tests/testing/fleetd_process.h"

#include <signal.h>
#include <sys/wait.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace fleet::testing {

std::string ListeningField(const std::string& line, const std::string& key) {
  for (absl::string_view token : absl::StrSplit(line, ' ')) {
    if (absl::ConsumePrefix(&token, key + "=")) return std::string(token);
  }
  return "";
}

int ExitCode(std::optional<int> wait_status) {
  if (!wait_status.has_value() || !WIFEXITED(*wait_status)) return -1;
  return WEXITSTATUS(*wait_status);
}

absl::StatusOr<std::unique_ptr<FleetdProcess>> FleetdProcess::Start(
    const std::string& fleetd_bin, const std::string& data_dir,
    const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {fleetd_bin,    "--data-dir",   data_dir,     "--admin-addr",
                                   "127.0.0.1:0", "--agent-addr", "127.0.0.1:0"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(argv);
  if (!process.ok()) return process.status();
  std::optional<std::string> line =
      (*process)->WaitForStderr("fleetd listening", absl::Seconds(30));
  if (!line.has_value()) {
    return absl::InternalError(
        absl::StrCat("fleetd did not start: ", (*process)->DrainStderr(absl::Seconds(1))));
  }
  std::string admin = ListeningField(*line, "admin");
  std::string agent = ListeningField(*line, "agent");
  if (!absl::StartsWith(admin, "127.0.0.1:") || !absl::StartsWith(agent, "127.0.0.1:")) {
    return absl::InternalError(absl::StrCat("unexpected listening line: ", *line));
  }
  return std::unique_ptr<FleetdProcess>(
      new FleetdProcess(*std::move(process), data_dir, std::move(admin), std::move(agent)));
}

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

int FleetdProcess::Stop() {
  process_->Signal(SIGTERM);
  return ExitCode(process_->Wait(absl::Seconds(30)));
}

}  // namespace fleet::testing
