// RunQuery (admin.proto): checks the request, resolves its targets (target_resolver.h), runs
// the query on the QueryRouter (server/control/query_router.h) and streams its events to the
// caller: started, results as they come (what came while the last event was written goes in one
// `results` event), progress when the counts change (at most every 100 ms), and the summary last.
#ifndef FLEETD_SERVER_ADMIN_QUERY_SERVICE_H_
#define FLEETD_SERVER_ADMIN_QUERY_SERVICE_H_

#include <functional>

#include "absl/status/status.h"
#include "common/clock.h"
#include "fleet/v1/admin.pb.h"
#include "server/control/agent_directory.h"
#include "server/control/query_router.h"
#include "storage/store.h"

namespace fleet::server {

// Thread-safe.
class QueryService {
 public:
  // `store`, `clock`, `directory` (which targets are resolved against) and `router` are not owned
  // and outlive the service.
  QueryService(storage::Store& store, Clock& clock, AgentDirectory& directory, QueryRouter& router)
      : store_(store), clock_(clock), directory_(directory), router_(router) {}

  // Runs `request`, calling send(event) for each event, until the summary is sent (then OK),
  // send returns false or cancelled() returns true (looked at least every 100 ms; the query is
  // cancelled, OK). INVALID_ARGUMENT naming "query" (empty, over 16 KiB, not UTF-8) or "timeout"
  // (not above zero, over 10 minutes); the resolver's errors for the targets; RESOURCE_EXHAUSTED
  // when the router runs as many queries as it allows.
  absl::Status Run(const v1::RunQueryRequest& request,
                   const std::function<bool(const v1::QueryEvent&)>& send,
                   const std::function<bool()>& cancelled);

 private:
  storage::Store& store_;      // not owned
  Clock& clock_;               // not owned
  AgentDirectory& directory_;  // not owned
  QueryRouter& router_;        // not owned
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_ADMIN_QUERY_SERVICE_H_
