// A real fleetd child process for end-to-end tests: started on a data dir with both APIs on
// 127.0.0.1:0, ready once its "fleetd listening" line names the ports it got.
#ifndef FLEETD_TESTS_TESTING_FLEETD_PROCESS_H_
#define FLEETD_TESTS_TESTING_FLEETD_PROCESS_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/testing/subprocess.h"

namespace fleet::testing {

class FleetdProcess {
 public:
  // Starts `fleetd_bin` with --data-dir `data_dir`, both addresses on 127.0.0.1:0, and `extra`
  // flags, and waits (up to 30 s) until it serves. An error carries what fleetd printed.
  static absl::StatusOr<std::unique_ptr<FleetdProcess>> Start(
      const std::string& fleetd_bin, const std::string& data_dir,
      const std::vector<std::string>& extra = {});

  const std::string& admin_address() const { return admin_address_; }
  const std::string& agent_address() const { return agent_address_; }
  const std::string& data_dir() const { return data_dir_; }
  // DATA_DIR/bootstrap-admin.token.
  std::string bootstrap_token_file() const { return data_dir_ + "/bootstrap-admin.token"; }
  Subprocess& process() { return *process_; }

  // Sends SIGTERM and returns the exit code (-1 when killed or still running after 30 s).
  int Stop();

 private:
  FleetdProcess(std::unique_ptr<Subprocess> process, std::string data_dir, std::string admin,
                std::string agent)
      : process_(std::move(process)),
        data_dir_(std::move(data_dir)),
        admin_address_(std::move(admin)),
        agent_address_(std::move(agent)) {}

  std::unique_ptr<Subprocess> process_;
  std::string data_dir_;
  std::string admin_address_;
  std::string agent_address_;
};

// Runs `fleetctl_bin` against `fleetd` (--address, and --token-file: `token_file`, or the
// bootstrap admin token when empty) with `args`, `input` on stdin, and `config_home` as its
// XDG_CONFIG_HOME so that no operator's config leaks in. A failure to run it at all is a test
// failure (and an empty result).
CommandResult RunFleetctl(const std::string& fleetctl_bin, const FleetdProcess& fleetd,
                          const std::string& config_home, const std::vector<std::string>& args,
                          const std::string& token_file = "",
                          const std::optional<std::string>& input = std::nullopt);

// The exit code of a child that exited, or -1 for one killed by a signal or still running.
int ExitCode(std::optional<int> wait_status);

// The value of `key=` in a "fleetd listening: admin=... agent=... data-dir=..." line.
std::string ListeningField(const std::string& line, const std::string& key);

}  // namespace fleet::testing

#endif  // FLEETD_TESTS_TESTING_FLEETD_PROCESS_H_
