// main() of every micro benchmark: Google Benchmark's, with abseil's mutex deadlock detection off
// (Debian's abseil has it on; it takes a global lock on every Mutex operation, and fleetd runs
// without it, so the benchmarks measure without it too).
#include <benchmark/benchmark.h>

#include "absl/synchronization/mutex.h"

int main(int argc, char** argv) {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
