// How fleetctl prints actions: the `get actions` table (-o wide adds every state), the Action's
// JSON shape (docs/output.md), and `describe action`.
#include <sstream>

#include "cli/resource_json.h"
#include "cli/resource_tables.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::cli {
namespace {

using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1'714'557'600);  // 2024-05-01T10:00:00Z

v1::Action Sample() {
  v1::Action action;
  action.set_id("3f9c2a7b1e04");
  action.set_type("upgrade");
  action.set_arguments_json(R"({"version":"1.4.2"})");
  action.mutable_targets()->set_selector("env=prod");
  action.mutable_targets()->add_agent_ids("0123456789ab");
  action.mutable_created_at()->set_seconds(absl::ToUnixSeconds(kNow - absl::Minutes(5)));
  action.mutable_created_by()->set_token_id("abcdefabcdef");
  action.mutable_created_by()->set_description("alice");
  action.mutable_expires_at()->set_seconds(absl::ToUnixSeconds(kNow + absl::Hours(24)));
  action.mutable_rollout_duration()->set_seconds(600);
  v1::ActionCounts* counts = action.mutable_counts();
  counts->set_targets(1000);
  counts->set_pending(100);
  counts->set_delivered(20);
  counts->set_running(30);
  counts->set_succeeded(840);
  counts->set_failed(5);
  counts->set_rejected(3);
  counts->set_expired(0);
  counts->set_cancelled(2);
  return action;
}

std::string Table(const v1::Action& action, TableStyle style) {
  std::ostringstream out;
  PrintRows(ActionTable(), std::vector<v1::Action>{action}, TableOptions{.style = style}, kNow,
            out);
  return out.str();
}

// The table: the main states by default; -o wide adds the others, which then add up to
// TARGETS, and the expiry, rollout and creator; -o name prints action/ID.
TEST(ActionTableTest, Columns) {
  EXPECT_EQ(
      Table(Sample(), TableStyle::kNormal),
      "ID             TYPE      STATE    TARGETS   SUCCEEDED   FAILED   PENDING   RUNNING   AGE\n"
      "3f9c2a7b1e04   upgrade   active   1,000     840         5        100       30        "
      "5m\n");
  const std::string wide = Table(Sample(), TableStyle::kWide);
  EXPECT_THAT(wide, HasSubstr("AGE   DELIVERED   REJECTED   EXPIRED   CANCELLED   EXPIRES"));
  EXPECT_THAT(
      wide,
      HasSubstr("5m    20          3          0         2           2024-05-02T10:00:00Z   10m"));
  EXPECT_THAT(wide, HasSubstr("abcdefabcdef (alice)"));
  EXPECT_EQ(Table(Sample(), TableStyle::kName), "action/3f9c2a7b1e04\n");
}

// --sort-by takes the action columns, counts as numbers.
TEST(ActionTableTest, SortsByCounts) {
  v1::Action small = Sample();
  small.set_id("000000000001");
  small.mutable_counts()->set_targets(9);
  std::vector<v1::Action> rows = {Sample(), small};
  SortRows(ActionTable(), "targets", rows);
  EXPECT_EQ(rows[0].id(), "000000000001");
  EXPECT_EQ(CheckSortColumn(ActionTable(), "succeeded"), "");
  EXPECT_THAT(CheckSortColumn(ActionTable(), "bogus"), HasSubstr("not a column of action tables"));
}

// The Action shape: metadata, spec as requested (arguments parsed, targets, expiry, rollout in
// protobuf's JSON form), status with every count; null for what fleetd has no value for.
TEST(ActionToJsonTest, Shape) {
  v1::Action action = Sample();
  action.mutable_created_at()->set_seconds(absl::ToUnixSeconds(kNow));
  action.mutable_expires_at()->set_seconds(absl::ToUnixSeconds(kNow + absl::Hours(24 * 3650)));
  EXPECT_EQ(ActionToJson(action).dump(),
            R"({"apiVersion":"fleet/v1","kind":"Action",)"
            R"("metadata":{"id":"3f9c2a7b1e04","createdAt":)"
            R"("2024-05-01T10:00:00Z","creator":{"id":"abcdefabcdef",)"
            R"("description":"alice"}},"spec":{"type":"upgrade",)"
            R"("arguments":{"version":"1.4.2"},"targets":{"agentIds":)"
            R"(["0123456789ab"],"selector":"env=prod","policy":null},)"
            R"("expiresAt":"2034-04-29T10:00:00Z","rolloutDuration":)"
            R"("600s"},"status":{"state":"active","cancelledAt":null,)"
            R"("done":false,"counts":{"targets":1000,"pending":100,)"
            R"("delivered":20,"running":30,"succeeded":840,"failed":5,)"
            R"("rejected":3,"expired":0,"cancelled":2}}})");
  v1::Action bare;
  bare.set_id("000000000001");
  bare.set_type("restart");
  const nlohmann::ordered_json json = ActionToJson(bare);
  EXPECT_EQ(json["spec"]["arguments"], nlohmann::ordered_json::object());
  EXPECT_TRUE(json["spec"]["rolloutDuration"].is_null());
  EXPECT_TRUE(json["metadata"]["creator"].is_null());
  EXPECT_TRUE(json["spec"]["targets"]["selector"].is_null());
}

// A target: state as a word, null for what it has not reported.
TEST(ActionToJsonTest, Target) {
  v1::ActionTarget target;
  target.set_agent_id("0123456789ab");
  target.set_state(v1::ACTION_TARGET_FAILED);
  target.set_progress_percent(40);
  target.set_message("disk full");
  EXPECT_EQ(ActionTargetToJson(target).dump(),
            R"({"agentId":"0123456789ab","hostname":null,"state":"failed","progressPercent":40,)"
            R"("message":"disk full","output":null,"updatedAt":null,"startAt":null})");
}

// describe action: the details and counts, then the targets that have not succeeded, and how
// many more there are.
TEST(DescribeActionTest, DetailsAndTargetsNotSucceeded) {
  ActionDetail detail{.action = Sample()};
  v1::ActionTarget& failed = detail.targets.emplace_back();
  failed.set_agent_id("0123456789ab");
  failed.set_hostname("web-1");
  failed.set_state(v1::ACTION_TARGET_FAILED);
  failed.set_progress_percent(40);
  failed.set_message("disk full");
  failed.mutable_updated_at()->set_seconds(absl::ToUnixSeconds(kNow - absl::Seconds(30)));
  detail.more_targets = 159;
  std::ostringstream out;
  DescribeAction(detail, kNow, out);
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("Type:        upgrade\n"));
  EXPECT_THAT(text, HasSubstr("Arguments:   {\"version\":\"1.4.2\"}\n"));
  EXPECT_THAT(text, HasSubstr("Targets:     selector env=prod; agent 0123456789ab\n"));
  EXPECT_THAT(text, HasSubstr("Expires:     2024-05-02T10:00:00Z (in 24h)\n"));
  EXPECT_THAT(text, HasSubstr("Rollout:     start times spread over 10m\n"));
  EXPECT_THAT(text, HasSubstr("Counts:      1,000 targets: 840 succeeded, 5 failed, 3 rejected, "
                              "0 expired, 2 cancelled, 30 running, 20 delivered, 100 pending\n"));
  EXPECT_THAT(text, HasSubstr("AGENT          HOSTNAME   STATE    PROGRESS   UPDATED   MESSAGE"));
  EXPECT_THAT(text, HasSubstr("0123456789ab   web-1      failed   40%        30s       disk full"));
  EXPECT_THAT(text, HasSubstr("... and 159 more (--limit 0 lists them all)"));
  ActionDetail none{.action = Sample()};
  std::ostringstream empty;
  DescribeAction(none, kNow, empty);
  EXPECT_THAT(empty.str(), HasSubstr("Targets Not Succeeded:  <none>\n"));
}

}  // namespace
}  // namespace fleet::cli
