#include "bench/scale/cpu_meter.h"

#include <sys/resource.h>

#include "absl/strings/str_cat.h"
#include "bench/scale/results.h"

namespace fleet::bench {
namespace {

double Seconds(const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; }

double HarnessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return Seconds(usage.ru_utime) + Seconds(usage.ru_stime);
}

absl::StatusOr<CpuUsed> Now(const testing::FleetdProcess& fleetd) {
  absl::StatusOr<double> fleetd_s = fleetd.CpuSeconds();
  if (!fleetd_s.ok()) return fleetd_s.status();
  return CpuUsed{.fleetd_s = *fleetd_s, .harness_s = HarnessCpuSeconds()};
}

}  // namespace

absl::StatusOr<CpuMeter> CpuMeter::Start(const testing::FleetdProcess& fleetd) {
  absl::StatusOr<CpuUsed> now = Now(fleetd);
  if (!now.ok()) return now.status();
  return CpuMeter(fleetd, *now);
}

absl::StatusOr<CpuUsed> CpuMeter::Used() const {
  absl::StatusOr<CpuUsed> now = Now(*fleetd_);
  if (!now.ok()) return now.status();
  return CpuUsed{.fleetd_s = now->fleetd_s - start_.fleetd_s,
                 .harness_s = now->harness_s - start_.harness_s};
}

absl::Status CpuRounds::AddSince(const CpuMeter& meter) {
  absl::StatusOr<CpuUsed> used = meter.Used();
  if (!used.ok()) return used.status();
  fleetd_s_.push_back(used->fleetd_s);
  harness_s_.push_back(used->harness_s);
  return absl::OkStatus();
}

void CpuRounds::AddFiguresTo(nlohmann::ordered_json& figures) const {
  figures["fleetd_cpu_s_median"] = Median(fleetd_s_);
  figures["harness_cpu_s_median"] = Median(harness_s_);
}

std::string CpuFiguresNote(absl::string_view until) {
  return absl::StrCat(
      "fleetd_cpu_s_median and harness_cpu_s_median: the CPU time (user and system) fleetd and the "
      "harness (the simulated agents and the admin client) used from just before the call ",
      until,
      ", medians over the rounds. On a shared machine they vary much less between runs than the "
      "times do.");
}

}  // namespace fleet::bench
