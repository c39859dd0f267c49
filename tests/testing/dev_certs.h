// Test certificates made by the repository's own scripts/dev-certs (a CA, a server certificate
// for localhost/127.0.0.1/::1, an admin client certificate, agent certificates), so that tests
// use exactly what the demo and docs/tls.md hand operators. No GoogleTest here.
#ifndef FLEETD_TESTS_TESTING_DEV_CERTS_H_
#define FLEETD_TESTS_TESTING_DEV_CERTS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace fleet::testing {

// Runs `scripts/dev-certs DIR ARGS...` (see the script for the files it writes). INTERNAL, with
// what it printed, when it fails.
absl::Status RunDevCerts(const std::string& dir, const std::vector<std::string>& args = {});

}  // namespace fleet::testing

#endif  // FLEETD_TESTS_TESTING_DEV_CERTS_H_
