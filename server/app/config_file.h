// fleetd's configuration file: a YAML map whose keys are the long names of the command line's
// options without their dashes (admin-addr: 0.0.0.0:8221), read into the same CLI11 options the
// command line sets, so that a new flag is a key with no code here. The command line wins: a key
// whose option the command line gave is skipped. Errors name the file, the line and the key.
#ifndef FLEETD_SERVER_APP_CONFIG_FILE_H_
#define FLEETD_SERVER_APP_CONFIG_FILE_H_

#include <string>
#include <string_view>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/types/span.h"

namespace fleet::server {

// Which of an app's options are keys: every option with a long name but --help, --version and
// those named in `excluded` (long names without dashes, such as "config").
struct ConfigKeys {
  absl::Span<const std::string_view> excluded;
};

// Sets the options of `app` (already parsed from the command line) from the YAML in `text`, read
// from `file_name` (for messages). OK with every key applied, the options' checks run and their
// variables set. INVALID_ARGUMENT "FILE:LINE: ..." for YAML that does not parse, a top level
// that is not a map, an unknown key (with the nearest known key, when one is close), a key given
// twice, or a value its option refuses (a map or list where one value goes, or a value of the
// wrong type). Keys before the failing one may have been applied.
absl::Status ApplyConfigText(CLI::App& app, std::string_view text, std::string_view file_name,
                             const ConfigKeys& keys);

// ApplyConfigText on the contents of the file at `path`; NOT_FOUND or PERMISSION_DENIED naming
// the file when it cannot be read.
absl::Status ApplyConfigFile(CLI::App& app, const std::string& path, const ConfigKeys& keys);

// The effective configuration of `app` after parsing (and ApplyConfig*) as YAML that
// ApplyConfigText reads back to the same: one line per key, in the order the options were
// added, defaults included. Values are the options' values as given (file paths as paths; no
// file is read). Call once the options' variables are final: it records their current values as
// the options' default strings.
std::string EffectiveConfigYaml(CLI::App& app, const ConfigKeys& keys);

}  // namespace fleet::server

#endif  // FLEETD_SERVER_APP_CONFIG_FILE_H_
