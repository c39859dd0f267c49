#include "common/metrics/process_metrics.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::metrics {
namespace {

using ::testing::ContainsRegex;

// Fields are counted from the command's last parenthesis, so a command with spaces and
// parentheses does not shift them.
TEST(ProcessMetricsTest, ParsesProcStatWithAnOddCommand) {
  const std::string text =
      "1234 (fleet d) (x)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 12 0 8000 "
      "104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  absl::StatusOr<ProcStat> stat = ParseProcStat(text);
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_EQ(stat->utime_ticks, 250);
  EXPECT_EQ(stat->stime_ticks, 75);
  EXPECT_EQ(stat->start_ticks, 8000);
  EXPECT_EQ(stat->vsize_bytes, 104857600);
  EXPECT_EQ(stat->rss_pages, 2560);
}

// A truncated line is refused rather than read as zeros.
TEST(ProcessMetricsTest, RefusesATruncatedStat) {
  EXPECT_FALSE(ParseProcStat("1234 (fleetd) S 1 2 3").ok());
  EXPECT_FALSE(ParseProcStat("no parenthesis").ok());
}

// This process's metrics are all there, with plausible values.
TEST(ProcessMetricsTest, ReportsThisProcess) {
  Registry registry;
  AddProcessMetrics(registry);
  const std::string text = registry.Expose();
  EXPECT_THAT(text, ContainsRegex("\nprocess_cpu_seconds_total [0-9.e+-]+\n"));
  EXPECT_THAT(text, ContainsRegex("\nprocess_resident_memory_bytes [1-9][0-9.e+]*\n"));
  EXPECT_THAT(text, ContainsRegex("\nprocess_virtual_memory_bytes [1-9][0-9.e+]*\n"));
  EXPECT_THAT(text, ContainsRegex("\nprocess_start_time_seconds [1-9][0-9.e+]*\n"));
  EXPECT_THAT(text, ContainsRegex("\nprocess_open_fds [1-9][0-9]*\n"));
  EXPECT_THAT(text, ContainsRegex("\nprocess_max_fds [1-9][0-9.e+]*\n"));
}

}  // namespace
}  // namespace fleet::metrics
