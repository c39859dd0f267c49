// What a scenario measured, and the JSON file it becomes (bench/results/SCENARIO.json; the schema
// is in bench/README.md, and scripts/bench-report turns the files into plots and SUMMARY.md).
#ifndef FLEETD_BENCH_SCALE_RESULTS_H_
#define FLEETD_BENCH_SCALE_RESULTS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace fleet::bench {

// A budget from docs/architecture.md (Performance budget): `stat` ("median" or "p99") `op` ("<" or
// ">") `value`.
struct Target {
  std::string stat;
  std::string op;
  double value = 0;
};

struct CaseResult {
  std::string name;
  nlohmann::ordered_json params = nlohmann::ordered_json::object();
  std::string metric;
  // "s", "ms", "KB", "per_s", "count", "ratio" or "cpu_s" (CPU seconds, user plus system).
  std::string unit;
  // One per round (or per operation, for latencies).
  std::vector<double> samples;
  std::optional<Target> target;
  nlohmann::ordered_json figures = nlohmann::ordered_json::object();
  // Set when the case failed; its samples are then whatever was measured before.
  std::optional<std::string> error;
};

struct ScenarioResult {
  std::string scenario;
  std::string title;
  absl::Time started_at;
  absl::Duration duration;
  nlohmann::ordered_json conditions = nlohmann::ordered_json::object();
  std::vector<CaseResult> cases;
  std::vector<std::string> notes;
};

// A case with its description and no samples yet.
CaseResult NewCase(std::string name, nlohmann::ordered_json params, std::string metric,
                   std::string unit, std::optional<Target> target = std::nullopt);

// The median (mean of the middle two for an even count) and the nearest-rank 99th percentile;
// 0 for no samples.
double Median(std::vector<double> samples);
double P99(std::vector<double> samples);

// Whether `samples` meet `target`; false without samples.
bool Meets(const Target& target, const std::vector<double>& samples);

nlohmann::ordered_json ToJson(const CaseResult& result);
nlohmann::ordered_json ToJson(const ScenarioResult& result);

// Writes DIR/SCENARIO.json (through a temp file and a rename, so a reader never sees half).
absl::Status WriteResult(const ScenarioResult& result, const std::string& dir);

}  // namespace fleet::bench

#endif  // FLEETD_BENCH_SCALE_RESULTS_H_
