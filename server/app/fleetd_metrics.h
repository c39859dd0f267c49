// The metrics fleetd computes when scraped rather than records as it goes (docs/operations.md
// lists every metric): agents connected by policy, the store's revision, the Reflectors'
// restarts, and the process_* metrics.
#ifndef FLEETD_SERVER_APP_FLEETD_METRICS_H_
#define FLEETD_SERVER_APP_FLEETD_METRICS_H_

#include "common/metrics/registry.h"
#include "server/app/serving_components.h"

namespace fleet::server {

// Registers them on `registry`; they read `components` (not owned, outliving `registry`) and
// report nothing while it has no parts attached.
void AddFleetdMetrics(metrics::Registry& registry, ServingComponents& components);

}  // namespace fleet::server

#endif  // FLEETD_SERVER_APP_FLEETD_METRICS_H_
