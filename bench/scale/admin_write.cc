// The admin-write scenario: durable policy applies.
#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "bench/scale/scenarios.h"

namespace fleet::bench {
namespace {

constexpr int kWriters = 16;
constexpr absl::Duration kThroughputRound = absl::Seconds(3);

// A spec for writer `writer`'s `n`th apply: distinct every time, so every apply commits.
std::string WriterSpec(int writer, int64_t n) {
  return nlohmann::ordered_json{{"writer", writer}, {"n", n}, {"inputs", {{{"type", "logfile"}}}}}
      .dump();
}

}  // namespace

ScenarioResult RunAdminWrite(BenchEnv& env) {
  ScenarioResult scenario = NewScenario(env, "admin-write", "Durable policy applies");
  const int applies = Scaled(env, 500);
  CaseResult latency =
      NewCase("apply latency, one writer", {{"applies", applies}}, "apply_latency", "ms");
  for (int i = 0; i < applies && !latency.error.has_value(); ++i) {
    v1::ApplyPolicyRequest request;
    request.set_name("bench-admin-0");
    request.set_spec_json(WriterSpec(0, i));
    const absl::Time start = absl::Now();
    absl::StatusOr<v1::ApplyPolicyResponse> response = env.admin->ApplyPolicy(request);
    if (!response.ok()) {
      latency.error = std::string(response.status().message());
      break;
    }
    latency.samples.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
  }
  Progress(absl::StrCat("  ", latency.name, ": median ", Median(latency.samples), " ms, p99 ",
                        P99(latency.samples), " ms"));

  CaseResult throughput;
  throughput.name = absl::StrCat("applies per second, ", kWriters, " writers");
  throughput.params = {{"writers", kWriters}, {"round_s", absl::ToDoubleSeconds(kThroughputRound)}};
  throughput.metric = "applies_per_second";
  throughput.unit = "per_s";
  std::atomic<int64_t> counter{1'000'000};
  RunRounds(throughput, RoundsOr(env, 5), [&](int) -> absl::StatusOr<double> {
    std::atomic<int64_t> done{0};
    std::atomic<int> failures{0};
    const absl::Time start = absl::Now();
    const absl::Time end = start + kThroughputRound;
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        while (absl::Now() < end) {
          v1::ApplyPolicyRequest request;
          request.set_name(absl::StrCat("bench-admin-", w));
          request.set_spec_json(WriterSpec(w, counter++));
          if (env.admin->ApplyPolicy(request).ok()) {
            ++done;
          } else {
            ++failures;
          }
        }
      });
    }
    for (std::thread& writer : writers) writer.join();
    if (failures > 0) return absl::InternalError(absl::StrCat(failures.load(), " applies failed"));
    return done / absl::ToDoubleSeconds(absl::Now() - start);
  });
  scenario.cases.push_back(std::move(latency));
  scenario.cases.push_back(std::move(throughput));
  scenario.notes.push_back(
      "ApplyPolicy through the admin API with a bearer token; each apply commits a new policy "
      "revision durably (fsync) before it answers. Latency is per apply with one writer; "
      "throughput has 16 writers, each on its own policy.");
  scenario.duration = absl::Now() - scenario.started_at;
  return scenario;
}

}  // namespace fleet::bench
