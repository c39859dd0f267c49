// Durations as operators type them, Go style: "30s", "15m", "24h", "1h30m", "1.5h", "250ms".
#ifndef FLEETD_CLI_DURATION_H_
#define FLEETD_CLI_DURATION_H_

#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"

namespace fleet::cli {

// Parses a positive duration: one or more decimal numbers each followed by a unit ("ns", "us",
// "ms", "s", "m", "h"), without sign or spaces. INVALID_ARGUMENT, with a message quoting `text`
// and showing examples, for anything else, including zero.
absl::StatusOr<absl::Duration> ParseDuration(const std::string& text);

// A CLI11 validator that accepts what ParseDuration accepts, so that a bad duration flag is a
// usage error (exit 2).
CLI::Validator DurationValidator();

// `duration` as a google.protobuf.Duration.
google::protobuf::Duration ToProto(absl::Duration duration);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_DURATION_H_
