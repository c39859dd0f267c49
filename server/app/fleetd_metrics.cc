#include "server/app/fleetd_metrics.h"

#include <string>
#include <vector>

#include "common/metrics/process_metrics.h"

namespace fleet::server {
namespace {

using metrics::Sample;
using Phase = ServingComponents::Phase;

// Calls `collect(parts)` for the samples while the parts are attached; none otherwise.
template <typename Collect>
std::vector<Sample> FromParts(ServingComponents& components, Collect collect) {
  return components.Visit([&](Phase, const ServingParts* parts) {
    return parts == nullptr ? std::vector<Sample>{} : collect(*parts);
  });
}

}  // namespace

void AddFleetdMetrics(metrics::Registry& registry, ServingComponents& components) {
  registry.AddCallback(
      "fleetd_agents_connected", "Agent streams open on this fleetd, by the agent's policy.",
      metrics::MetricType::kGauge, {"policy"}, [&components] {
        return FromParts(components, [](const ServingParts& parts) {
          std::vector<Sample> samples;
          for (const auto& [policy, size] : parts.control.hub().SizeByPolicy()) {
            samples.push_back({.label_values = {policy}, .value = static_cast<double>(size)});
          }
          return samples;
        });
      });
  registry.AddCallback("fleetd_live_queries",
                       "Live queries running on this fleetd (--max-concurrent-queries).",
                       metrics::MetricType::kGauge, {}, [&components] {
                         return FromParts(components, [](const ServingParts& parts) {
                           return std::vector<Sample>{
                               {.value = static_cast<double>(parts.control.queries().running())}};
                         });
                       });
  registry.AddCallback(
      "fleetd_store_revision", "The revision of the newest transaction committed to the store.",
      metrics::MetricType::kGauge, {}, [&components] {
        return FromParts(components, [](const ServingParts& parts) {
          return std::vector<Sample>{{.value = static_cast<double>(parts.store.CurrentRevision())}};
        });
      });
  registry.AddCallback(
      "fleetd_watch_restarts_total",
      "Times a Reflector listed its keys again after a watch error or a compaction, by "
      "Reflector.",
      metrics::MetricType::kCounter, {"reflector"}, [&components] {
        return FromParts(components, [](const ServingParts& parts) {
          return std::vector<Sample>{
              {.label_values = {"policy_engine"},
               .value = static_cast<double>(parts.control.engine().restarts())},
              {.label_values = {"agent_directory"},
               .value = static_cast<double>(parts.control.directory().restarts())}};
        });
      });
  metrics::AddProcessMetrics(registry);
}

}  // namespace fleet::server
