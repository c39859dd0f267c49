// The CPU time fleetd and the harness (whose simulated agents share the machine's cores with
// fleetd) use over one round, and the TCP segments the machine sends meanwhile (all of them on
// loopback, between the two). On a shared machine a round's wall time moves with what else runs
// and with the time the hypervisor steals; the CPU time a round costs moves far less, and the
// segments not at all, so two runs compare by them where their times cannot.
#ifndef FLEETD_BENCH_SCALE_CPU_METER_H_
#define FLEETD_BENCH_SCALE_CPU_METER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "tests/testing/fleetd_process.h"

namespace fleet::bench {

struct CpuUsed {
  double fleetd_s = 0;
  // This process: the simulated agents, the admin client and the harness's own bookkeeping.
  double harness_s = 0;
  // Sent by every process of the machine (/proc/net/snmp's Tcp OutSegs).
  int64_t tcp_segments = 0;
};

// Not thread-safe. Reads fleetd's CPU time from /proc and the harness's with getrusage, user plus
// system, at the kernel's clock tick resolution (usually 10 ms).
class CpuMeter {
 public:
  // Starts measuring. `fleetd` is not owned and outlives the meter.
  static absl::StatusOr<CpuMeter> Start(const testing::FleetdProcess& fleetd);
  // What each used since Start.
  absl::StatusOr<CpuUsed> Used() const;

 private:
  CpuMeter(const testing::FleetdProcess& fleetd, CpuUsed start) : fleetd_(&fleetd), start_(start) {}

  const testing::FleetdProcess* fleetd_;
  CpuUsed start_;
};

// What the rounds of a case used, one sample per round.
class CpuRounds {
 public:
  // Adds one round: what was used since `meter` started. The meter's error, if any.
  absl::Status AddSince(const CpuMeter& meter);
  // Adds fleetd_cpu_s_median, harness_cpu_s_median and tcp_segments_median to a case's figures.
  void AddFiguresTo(nlohmann::ordered_json& figures) const;

 private:
  std::vector<double> fleetd_s_;
  std::vector<double> harness_s_;
  std::vector<double> tcp_segments_;
};

// The scenario note that says what those figures are; `until` ends the round ("to the last
// result").
std::string CpuFiguresNote(absl::string_view until);

}  // namespace fleet::bench

#endif  // FLEETD_BENCH_SCALE_CPU_METER_H_
