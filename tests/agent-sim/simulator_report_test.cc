#include <string>
#include <vector>

#include "agent-sim/simulator.h"
#include "gtest/gtest.h"

namespace fleet::agent {
namespace {

// The report is one object with exactly the documented fields, nested as documented.
TEST(SimulatorReportTest, JsonShape) {
  SimulatorReport report{.agents = 200,
                         .enrolled = 199,
                         .connected = 198,
                         .delta_updates = 3,
                         .full_updates = 4,
                         .acks = 5,
                         .nacks = 6,
                         .reconnects = 7,
                         .errors = 1,
                         .rotations = 8,
                         .latency_ms = {.p50 = 1.5, .p90 = 2, .p99 = 3, .max = 4},
                         .activity = {.actions_received = 10,
                                      .actions_repeated = 2,
                                      .actions_succeeded = 6,
                                      .actions_failed = 1,
                                      .actions_rejected = 2,
                                      .actions_cancelled = 1,
                                      .queries_received = 9,
                                      .queries_answered = 7,
                                      .queries_errored = 1,
                                      .queries_dropped = 1}};
  const nlohmann::json json = nlohmann::json::parse(report.ToJson().dump());
  std::vector<std::string> keys;
  for (const auto& [key, value] : json.items()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"acks", "actions", "agents", "connected", "enrolled",
                                            "errors", "latency_ms", "nacks", "queries",
                                            "reconnects", "rotations", "updates"}));
  EXPECT_EQ(json["agents"], 200);
  EXPECT_EQ(json["enrolled"], 199);
  EXPECT_EQ(json["connected"], 198);
  EXPECT_EQ(json["updates"], (nlohmann::json{{"delta", 3}, {"full", 4}}));
  EXPECT_EQ(json["acks"], 5);
  EXPECT_EQ(json["nacks"], 6);
  EXPECT_EQ(json["reconnects"], 7);
  EXPECT_EQ(json["errors"], 1);
  EXPECT_EQ(json["rotations"], 8);
  EXPECT_EQ(json["latency_ms"],
            (nlohmann::json{{"p50", 1.5}, {"p90", 2.0}, {"p99", 3.0}, {"max", 4.0}}));
  EXPECT_EQ(json["actions"], (nlohmann::json{{"received", 10},
                                             {"repeated", 2},
                                             {"succeeded", 6},
                                             {"failed", 1},
                                             {"rejected", 2},
                                             {"cancelled", 1}}));
  EXPECT_EQ(json["queries"],
            (nlohmann::json{{"received", 9}, {"answered", 7}, {"errored", 1}, {"dropped", 1}}));
}

// No samples: all zero.
TEST(SummarizeTest, Empty) {
  std::vector<double> samples;
  LatencySummary summary = Summarize(samples);
  EXPECT_EQ(summary.p50, 0);
  EXPECT_EQ(summary.max, 0);
}

// Nearest rank over 1..100 in any order: p50 is 50, p90 90, p99 99, max 100.
TEST(SummarizeTest, NearestRank) {
  std::vector<double> samples;
  for (int i = 100; i >= 1; --i) samples.push_back(i);
  LatencySummary summary = Summarize(samples);
  EXPECT_EQ(summary.p50, 50);
  EXPECT_EQ(summary.p90, 90);
  EXPECT_EQ(summary.p99, 99);
  EXPECT_EQ(summary.max, 100);
}

// One sample is every percentile; small sets round the rank up.
TEST(SummarizeTest, SmallSets) {
  std::vector<double> one = {7};
  LatencySummary single = Summarize(one);
  EXPECT_EQ(single.p50, 7);
  EXPECT_EQ(single.p99, 7);
  std::vector<double> three = {30, 10, 20};
  LatencySummary summary = Summarize(three);
  EXPECT_EQ(summary.p50, 20);
  EXPECT_EQ(summary.p90, 30);
  EXPECT_EQ(summary.max, 30);
}

}  // namespace
}  // namespace fleet::agent
