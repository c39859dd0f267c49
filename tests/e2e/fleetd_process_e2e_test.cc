// End-to-end: the FleetdProcess helper that the other end-to-end tests and the scale benchmarks
// drive the real fleetd with: its output in a log file, restarts on the same ports, the figures it
// reads from /proc, and the errors of a fleetd that does not start.
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/testing/fleetd_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace fleet {
namespace {

using testing::FleetdProcess;
using testing::TempDir;

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  return std::string((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
}

int CountOf(const std::string& text, const std::string& needle) {
  int count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

// With a log file, fleetd's output goes there; a restart serves on the same two addresses and
// appends to the same file, and the bootstrap token stays in the same data dir.
TEST(FleetdProcessE2eTest, RestartKeepsAddressesAndAppendsToTheLog) {
  TempDir tmp;
  const std::string log = tmp.Sub("fleetd.log");
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<FleetdProcess> fleetd,
      FleetdProcess::Start({.binary = FLEETD_BIN, .data_dir = tmp.Sub("data"), .log_path = log}));
  const std::string admin = fleetd->admin_address();
  const std::string agent = fleetd->agent_address();
  EXPECT_TRUE(absl::StartsWith(admin, "127.0.0.1:")) << admin;
  EXPECT_NE(admin, "127.0.0.1:0");
  EXPECT_NE(admin, agent);
  EXPECT_TRUE(absl::StrContains(fleetd->startup_log(), "admin=" + admin)) << fleetd->startup_log();
  EXPECT_EQ(CountOf(ReadFile(log), "fleetd listening"), 1);
  const std::string token = ReadFile(fleetd->bootstrap_token_file());
  EXPECT_FALSE(token.empty());

  ASSERT_OK(fleetd->Restart());
  EXPECT_TRUE(fleetd->running());
  EXPECT_EQ(fleetd->admin_address(), admin);
  EXPECT_EQ(fleetd->agent_address(), agent);
  EXPECT_TRUE(absl::StrContains(fleetd->startup_log(), "agent=" + agent)) << fleetd->startup_log();
  const std::string both = ReadFile(log);
  EXPECT_EQ(CountOf(both, "fleetd listening"), 2) << both;
  EXPECT_EQ(CountOf(both, "fleetd stopped cleanly"), 1) << both;
  EXPECT_EQ(ReadFile(fleetd->bootstrap_token_file()), token);

  ASSERT_OK(fleetd->Stop());
  EXPECT_FALSE(fleetd->running());
  EXPECT_EQ(fleetd->pid(), -1);
}

// RssBytes, FdLimit and CpuSeconds read the running fleetd's /proc entries; once it is stopped
// they say so.
TEST(FleetdProcessE2eTest, ReadsFiguresOfTheRunningProcess) {
  TempDir tmp;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<FleetdProcess> fleetd,
                       FleetdProcess::Start(FLEETD_BIN, tmp.Sub("data")));
  ASSERT_OK_AND_ASSIGN(int64_t rss, fleetd->RssBytes());
  EXPECT_GT(rss, 1 << 20);
  ASSERT_OK_AND_ASSIGN(std::string limit, fleetd->FdLimit());
  const std::vector<std::string> soft_hard = absl::StrSplit(limit, '/');
  ASSERT_EQ(soft_hard.size(), 2u) << limit;
  // fleetd raises its soft limit to the hard one at start.
  EXPECT_EQ(soft_hard[0], soft_hard[1]) << limit;
  ASSERT_OK_AND_ASSIGN(double first, fleetd->CpuSeconds());
  EXPECT_GE(first, 0);
  ASSERT_OK_AND_ASSIGN(double later, fleetd->CpuSeconds());
  EXPECT_GE(later, first);

  ASSERT_OK(fleetd->Stop());
  EXPECT_EQ(fleetd->CpuSeconds().status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(fleetd->RssBytes().status().code(), absl::StatusCode::kFailedPrecondition);
}

// A fleetd that exits at start is an INTERNAL error carrying its exit code and what it printed,
// whether its output is piped or in a log file.
TEST(FleetdProcessE2eTest, FleetdThatExitsAtStartIsAnError) {
  TempDir tmp;
  for (const std::string& log_path : {std::string(), tmp.Sub("fleetd.log")}) {
    absl::StatusOr<std::unique_ptr<FleetdProcess>> fleetd =
        FleetdProcess::Start({.binary = FLEETD_BIN,
                              .data_dir = tmp.Sub("data"),
                              .extra_flags = {"--log-level", "loud"},
                              .log_path = log_path});
    ASSERT_FALSE(fleetd.ok()) << "log file: " << log_path;
    EXPECT_EQ(fleetd.status().code(), absl::StatusCode::kInternal);
    EXPECT_TRUE(absl::StrContains(fleetd.status().message(), "exited at start (exit code 2)"))
        << fleetd.status();
    EXPECT_TRUE(absl::StrContains(fleetd.status().message(), "--log-level")) << fleetd.status();
  }
}

}  // namespace
}  // namespace fleet
