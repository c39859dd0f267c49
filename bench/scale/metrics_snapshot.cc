#include "bench/scale/metrics_snapshot.h"

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "httplib.h"

namespace fleet::bench {

absl::StatusOr<MetricsSnapshot> MetricsSnapshot::Take(const std::string& http_address) {
  httplib::Client client("http://" + http_address);
  client.set_connection_timeout(5);
  client.set_read_timeout(5);
  httplib::Result result = client.Get("/metrics");
  if (!result) {
    return absl::UnavailableError(absl::StrCat("GET http://", http_address,
                                               "/metrics: ", httplib::to_string(result.error())));
  }
  if (result->status != 200) {
    return absl::UnavailableError(
        absl::StrCat("GET http://", http_address, "/metrics answered ", result->status));
  }
  return Parse(result->body);
}

MetricsSnapshot MetricsSnapshot::Parse(std::string_view text) {
  MetricsSnapshot snapshot;
  // Debian's abseil has a string_view of its own.
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(text.data(), text.size()), '\n', absl::SkipEmpty())) {
    if (line.front() == '#') continue;
    // The value follows the last space (label values may hold spaces, the value cannot).
    const size_t space = line.rfind(' ');
    if (space == std::string_view::npos || space == 0) continue;
    double value = 0;
    if (!absl::SimpleAtod(line.substr(space + 1), &value)) continue;
    snapshot.samples_[std::string(line.substr(0, space))] = value;
  }
  return snapshot;
}

double MetricsSnapshot::Value(std::string_view series) const {
  const auto it = samples_.find(series);
  return it == samples_.end() ? 0 : it->second;
}

double MetricsSnapshot::Sum(std::string_view name) const {
  double sum = 0;
  for (auto it = samples_.lower_bound(name); it != samples_.end(); ++it) {
    const std::string_view series = it->first;
    if (series.substr(0, name.size()) != name) break;
    if (series.size() == name.size() || series[name.size()] == '{') sum += it->second;
  }
  return sum;
}

}  // namespace fleet::bench
