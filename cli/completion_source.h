// The dynamic candidates of completion (completion.h) as fleetd and the config file know them.
#ifndef FLEETD_CLI_COMPLETION_SOURCE_H_
#define FLEETD_CLI_COMPLETION_SOURCE_H_

#include <memory>
#include <vector>

#include "absl/time/time.h"
#include "cli/completion.h"

namespace fleet::cli {

// How long a completion may wait for fleetd: a shell waits for it at every TAB, and a fleetd
// that does not answer within this is better not asked.
inline constexpr absl::Duration kCompletionRpcTimeout = absl::Milliseconds(500);

// Contexts come from the config file; everything else from one list RPC to the fleetd that
// `globals`, the environment and the config select (as for any command), with the token file if
// one is configured, and kCompletionRpcTimeout: its first page (up to 500), which is as many
// as a shell shows. Policies carry their description, agents their hostname, enrollment tokens
// their policy, admin tokens their role, actions their type and state, contexts their
// address. Every error (no config, an
// unreachable or refusing fleetd, a missing token) is an empty list, and nothing is printed.
std::unique_ptr<DynamicSource> NewFleetdSource();

}  // namespace fleet::cli

#endif  // FLEETD_CLI_COMPLETION_SOURCE_H_
