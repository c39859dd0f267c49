#include "common/metrics/registry.h"

#include <limits>
#include <string>

#include "common/metrics/text_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A small registry exposes exactly the text format 0.0.4: HELP and TYPE lines, families in the
// order registered, children in label order, histograms as cumulative _bucket lines with le and
// +Inf, then _sum and _count.
TEST(RegistryTest, ExposesTheTextFormat) {
  Registry registry;
  registry.AddCounter("requests_total", "Requests served.").Increment(3);
  Family<Counter>& sent = registry.AddCounterFamily("sent_total", "Sent, by kind.", {"kind"});
  sent.WithLabels({"full"}).Increment();
  sent.WithLabels({"delta"}).Increment(2);
  registry.AddGauge("temperature", "Degrees.").Set(-1.5);
  Histogram& latency = registry.AddHistogram("latency_seconds", "Latency.", {0.1, 1});
  latency.Observe(0.05);
  latency.Observe(0.1);
  latency.Observe(5);
  registry.AddCallback("revision", "The revision.", MetricType::kGauge, {"store"},
                       [] { return std::vector<Sample>{{.label_values = {"a"}, .value = 42}}; });

  EXPECT_EQ(registry.Expose(),
            "# HELP requests_total Requests served.\n"
            "# TYPE requests_total counter\n"
            "requests_total 3\n"
            "# HELP sent_total Sent, by kind.\n"
            "# TYPE sent_total counter\n"
            "sent_total{kind=\"delta\"} 2\n"
            "sent_total{kind=\"full\"} 1\n"
            "# HELP temperature Degrees.\n"
            "# TYPE temperature gauge\n"
            "temperature -1.5\n"
            "# HELP latency_seconds Latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{le=\"0.1\"} 2\n"
            "latency_seconds_bucket{le=\"1\"} 2\n"
            "latency_seconds_bucket{le=\"+Inf\"} 3\n"
            "latency_seconds_sum 5.15\n"
            "latency_seconds_count 3\n"
            "# HELP revision The revision.\n"
            "# TYPE revision gauge\n"
            "revision{store=\"a\"} 42\n");
}

// Help text and label values are escaped as the format requires: backslash and newline in HELP,
// and also the double quote in label values.
TEST(RegistryTest, EscapesHelpAndLabelValues) {
  Registry registry;
  registry.AddCounterFamily("odd_total", "Line one\nback\\slash \"quoted\"", {"v"})
      .WithLabels({"a\"b\\c\nd"})
      .Increment();
  EXPECT_EQ(registry.Expose(),
            "# HELP odd_total Line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE odd_total counter\n"
            "odd_total{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

// Registering a family again returns the same one, so that components can share it; a clash in
// type or label names gets a family that works but is never exposed.
TEST(RegistryTest, SameNameSharesAndClashesStayHidden) {
  Registry registry;
  Counter& first = registry.AddCounterFamily("c_total", "C.", {"listener"}).WithLabels({"a"});
  Counter& again = registry.AddCounterFamily("c_total", "C.", {"listener"}).WithLabels({"a"});
  EXPECT_EQ(&first, &again);
  registry.AddGauge("c_total", "Clash.").Set(7);
  registry.AddCounterFamily("c_total", "Clash.", {"other"}).WithLabels({"x"}).Increment();
  first.Increment();
  EXPECT_EQ(registry.Expose(),
            "# HELP c_total C.\n"
            "# TYPE c_total counter\n"
            "c_total{listener=\"a\"} 1\n");
}

// Values are written so that Prometheus reads them back exactly, with its spellings of the
// special values.
TEST(TextFormatTest, FormatsValues) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(2.5), "2.5");
  EXPECT_EQ(FormatValue(0.005), "0.005");
  EXPECT_EQ(FormatValue(1234567), "1234567");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

// A callback that reports nothing leaves its family with HELP and TYPE only.
TEST(RegistryTest, EmptyCallbackWritesNoSamples) {
  Registry registry;
  registry.AddCallback("gone", "Gone.", MetricType::kCounter, {},
                       [] { return std::vector<Sample>{}; });
  EXPECT_EQ(registry.Expose(), "# HELP gone Gone.\n# TYPE gone counter\n");
}

// A component given no registry records into one of its own, made once.
TEST(RegistryTest, RegistryOrMakesAPrivateOneOnce) {
  Registry shared;
  std::unique_ptr<Registry> own;
  EXPECT_EQ(&RegistryOr(&shared, own), &shared);
  EXPECT_EQ(own, nullptr);
  Registry& made = RegistryOr(nullptr, own);
  EXPECT_EQ(&RegistryOr(nullptr, own), &made);
  made.AddCounter("private_total", "Private.").Increment();
  EXPECT_THAT(shared.Expose(), Not(HasSubstr("private_total")));
}

}  // namespace
}  // namespace fleet::metrics
