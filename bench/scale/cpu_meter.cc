#include "bench/scale/cpu_meter.h"

#include <sys/resource.h>

#include <fstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/scale/results.h"

namespace fleet::bench {
namespace {

double Seconds(const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; }

double HarnessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return Seconds(usage.ru_utime) + Seconds(usage.ru_stime);
}

// /proc/net/snmp has a line of Tcp field names, then one of their values.
absl::StatusOr<int64_t> TcpSegmentsSent() {
  std::ifstream snmp("/proc/net/snmp");
  std::string line;
  std::vector<std::string> names;
  while (std::getline(snmp, line)) {
    if (!absl::StartsWith(line, "Tcp: ")) continue;
    std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (names.empty()) {
      names = std::move(fields);
      continue;
    }
    for (size_t i = 0; i < names.size() && i < fields.size(); ++i) {
      int64_t value = 0;
      if (names[i] == "OutSegs" && absl::SimpleAtoi(fields[i], &value)) return value;
    }
    break;
  }
  return absl::UnavailableError("/proc/net/snmp has no Tcp OutSegs");
}

absl::StatusOr<CpuUsed> Now(const testing::FleetdProcess& fleetd) {
  absl::StatusOr<double> fleetd_s = fleetd.CpuSeconds();
  if (!fleetd_s.ok()) return fleetd_s.status();
  absl::StatusOr<int64_t> segments = TcpSegmentsSent();
  if (!segments.ok()) return segments.status();
  return CpuUsed{
      .fleetd_s = *fleetd_s, .harness_s = HarnessCpuSeconds(), .tcp_segments = *segments};
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
                 .harness_s = now->harness_s - start_.harness_s,
                 .tcp_segments = now->tcp_segments - start_.tcp_segments};
}

absl::Status CpuRounds::AddSince(const CpuMeter& meter) {
  absl::StatusOr<CpuUsed> used = meter.Used();
  if (!used.ok()) return used.status();
  fleetd_s_.push_back(used->fleetd_s);
  harness_s_.push_back(used->harness_s);
  tcp_segments_.push_back(static_cast<double>(used->tcp_segments));
  return absl::OkStatus();
}

void CpuRounds::AddFiguresTo(nlohmann::ordered_json& figures) const {
  figures["fleetd_cpu_s_median"] = Median(fleetd_s_);
  figures["harness_cpu_s_median"] = Median(harness_s_);
  figures["tcp_segments_median"] = Median(tcp_segments_);
}

std::string CpuFiguresNote(absl::string_view until) {
  return absl::StrCat(
      "fleetd_cpu_s_median and harness_cpu_s_median: the CPU time (user and system) fleetd and the "
      "harness (the simulated agents and the admin client) used from just before the call ",
      until,
      ", medians over the rounds; tcp_segments_median: the TCP segments the machine sent "
      "meanwhile (all on loopback, between them). On a shared machine they vary much less between "
      "runs than the times do.");
}

}  // namespace fleet::bench
