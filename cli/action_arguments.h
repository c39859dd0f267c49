// The arguments of `fleetctl action create`: --arg KEY=VALUE (repeatable, each value a string)
// and --args-json OBJECT (typed values), merged into the one JSON object CreateActionRequest
// takes (admin.proto).
#ifndef FLEETD_CLI_ACTION_ARGUMENTS_H_
#define FLEETD_CLI_ACTION_ARGUMENTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace fleet::cli {

// The arguments as compact JSON: the members of `args_json` (a JSON object, strictly I-JSON as
// fleetd requires; "" for none) and one string member per `args` entry "KEY=VALUE" (VALUE may be
// empty and may hold '='). "" when both are empty (fleetd reads it as {}). A usage error
// (exit_codes.h) naming the flag for an entry without '=' or with an empty KEY, a KEY given twice
// in --arg, a KEY both flags set (the merge never picks one silently), and --args-json that is
// not a JSON object or not I-JSON.
absl::StatusOr<std::string> BuildActionArguments(const std::vector<std::string>& args,
                                                 const std::string& args_json);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_ACTION_ARGUMENTS_H_
