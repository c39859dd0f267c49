#include "tests/testing/dev_certs.h"

#include "absl/strings/str_cat.h"
#include "tests/testing/subprocess.h"

namespace fleet::testing {

absl::Status RunDevCerts(const std::string& dir, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {FLEETD_DEV_CERTS, dir};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<CommandResult> result = RunCommand(argv);
  if (!result.ok()) return result.status();
  if (result->exit_code != 0) {
    return absl::InternalError(
        absl::StrCat("scripts/dev-certs exited ", result->exit_code, ": ", result->err));
  }
  return absl::OkStatus();
}

}  // namespace fleet::testing
