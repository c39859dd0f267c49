// Ages for people, as kubectl prints them in its AGE columns: "45s", "3m10s", "5h", "2d3h".
#ifndef FLEETD_CLI_HUMAN_DURATION_H_
#define FLEETD_CLI_HUMAN_DURATION_H_

#include <string>

#include "absl/time/time.h"

namespace fleet::cli {

// `elapsed` rounded down as kubectl's HumanDuration does (k8s.io/apimachinery duration.go):
// seconds below 2 minutes, then minutes (with seconds below 10 minutes), hours (with minutes
// below 8 hours), days (with hours below 8 days), years (with days below 8 years). A little
// negative (clock skew under 2 s) is "0s"; more is "<invalid>".
std::string HumanDuration(absl::Duration elapsed);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_HUMAN_DURATION_H_
