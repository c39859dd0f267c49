#include "bench/scale/results.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace fleet::bench {

CaseResult NewCase(std::string name, nlohmann::ordered_json params, std::string metric,
                   std::string unit, std::optional<Target> target) {
  CaseResult result;
  result.name = std::move(name);
  result.params = std::move(params);
  result.metric = std::move(metric);
  result.unit = std::move(unit);
  result.target = std::move(target);
  return result;
}

double Median(std::vector<double> samples) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const size_t n = samples.size();
  return n % 2 == 1 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
}

double P99(std::vector<double> samples) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const size_t rank = static_cast<size_t>(std::ceil(0.99 * static_cast<double>(samples.size())));
  return samples[std::clamp<size_t>(rank, 1, samples.size()) - 1];
}

bool Meets(const Target& target, const std::vector<double>& samples) {
  if (samples.empty()) return false;
  const double value = target.stat == "p99" ? P99(samples) : Median(samples);
  return target.op == "<" ? value < target.value : value > target.value;
}

nlohmann::ordered_json ToJson(const CaseResult& result) {
  nlohmann::ordered_json json;
  json["name"] = result.name;
  json["params"] = result.params;
  json["metric"] = result.metric;
  json["unit"] = result.unit;
  json["samples"] = result.samples;
  json["median"] = Median(result.samples);
  json["p99"] = P99(result.samples);
  if (result.target.has_value()) {
    json["target"] = {
        {"stat", result.target->stat}, {"op", result.target->op}, {"value", result.target->value}};
    json["met"] = !result.error.has_value() && Meets(*result.target, result.samples);
  } else {
    json["target"] = nullptr;
    json["met"] = nullptr;
  }
  json["figures"] = result.figures;
  json["error"] = result.error.has_value() ? nlohmann::ordered_json(*result.error) : nullptr;
  return json;
}

nlohmann::ordered_json ToJson(const ScenarioResult& result) {
  nlohmann::ordered_json json;
  json["scenario"] = result.scenario;
  json["title"] = result.title;
  json["started_at"] =
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", result.started_at, absl::UTCTimeZone());
  json["duration_s"] = absl::ToDoubleSeconds(result.duration);
  json["conditions"] = result.conditions;
  json["cases"] = nlohmann::ordered_json::array();
  for (const CaseResult& c : result.cases) json["cases"].push_back(ToJson(c));
  json["notes"] = result.notes;
  return json;
}

absl::Status WriteResult(const ScenarioResult& result, const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/", result.scenario, ".json");
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    out << ToJson(result).dump(2) << "\n";
    out.close();
    if (!out) return absl::ErrnoToStatus(errno, absl::StrCat("cannot write ", temp));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot rename ", temp, " to ", path));
  }
  return absl::OkStatus();
}

}  // namespace fleet::bench
