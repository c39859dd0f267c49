// The flags that name the targets of an action or a live query (admin.proto Targets): --agent ID
// (repeatable, or comma-separated), -l/--selector SELECTOR, --policy NAME. At least one is
// needed; given together, a target must match every one. fleetd resolves them when the action
// or query starts.
#ifndef FLEETD_CLI_TARGET_FLAGS_H_
#define FLEETD_CLI_TARGET_FLAGS_H_

#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "fleet/v1/admin.pb.h"

namespace fleet::cli {

struct TargetFlags {
  std::vector<std::string> agents;
  std::vector<std::string> selectors;
  std::string policy;
};

// Adds the three flags to `command`, parsed into `*flags`, which must outlive the parse and the
// run.
void AddTargetFlags(CLI::App* command, TargetFlags* flags);

// For a parse_complete_callback: throws CLI::ValidationError (a usage error naming the flags)
// when none of them was given; `what` names what they pick, e.g. "the action".
void CheckTargetFlags(const TargetFlags& flags, const std::string& what);

v1::Targets TargetsOf(const TargetFlags& flags);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_TARGET_FLAGS_H_
