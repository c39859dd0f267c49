// The tables of `get` and `describe`: kubectl's ages, the columns of -o table and -o wide, -o name,
// --no-headers, --sort-by and the default orders, and describe policy's rollout, revisions and
// tokens.
#include "cli/resource_tables.h"

#include <sstream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "cli/human_duration.h"
#include "cli/table_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

google::protobuf::Timestamp Ago(absl::Duration ago) {
  google::protobuf::Timestamp time;
  time.set_seconds(absl::ToUnixSeconds(kNow - ago));
  return time;
}

v1::Agent Agent(const std::string& id, const std::string& hostname, int64_t applied, int64_t nacked,
                absl::Duration enrolled_ago) {
  v1::Agent agent;
  agent.set_id(id);
  agent.set_hostname(hostname);
  agent.set_policy("linux");
  agent.set_applied_revision(applied);
  agent.set_nacked_revision(nacked);
  agent.set_status(v1::AGENT_STATUS_ONLINE);
  agent.set_health(v1::AGENT_HEALTH_HEALTHY);
  agent.set_os("linux");
  agent.set_arch("amd64");
  *agent.mutable_enrolled_at() = Ago(enrolled_ago);
  *agent.mutable_last_seen() = Ago(absl::Seconds(4));
  return agent;
}

std::string Print(const std::vector<v1::Agent>& agents, TableOptions options,
                  const std::string& sort_by = "") {
  std::vector<v1::Agent> rows = agents;
  SortRows(AgentTable(), sort_by, rows);
  std::ostringstream out;
  PrintRows(AgentTable(), rows, options, kNow, out);
  return out.str();
}

// Ages round down as kubectl's do, with the second unit only while it matters.
TEST(HumanDurationTest, RoundsAsKubectl) {
  EXPECT_EQ(HumanDuration(absl::Seconds(-1)), "0s");
  EXPECT_EQ(HumanDuration(absl::Seconds(-5)), "<invalid>");
  EXPECT_EQ(HumanDuration(absl::Seconds(45)), "45s");
  EXPECT_EQ(HumanDuration(absl::Seconds(119)), "119s");
  EXPECT_EQ(HumanDuration(absl::Seconds(190)), "3m10s");
  EXPECT_EQ(HumanDuration(absl::Minutes(3)), "3m");
  EXPECT_EQ(HumanDuration(absl::Minutes(65)), "65m");
  EXPECT_EQ(HumanDuration(absl::Hours(5)), "5h");
  EXPECT_EQ(HumanDuration(absl::Hours(5) + absl::Minutes(7)), "5h7m");
  EXPECT_EQ(HumanDuration(absl::Hours(30)), "30h");
  EXPECT_EQ(HumanDuration(absl::Hours(51)), "2d3h");
  EXPECT_EQ(HumanDuration(absl::Hours(48)), "2d");
  EXPECT_EQ(HumanDuration(absl::Hours(24 * 40)), "40d");
  EXPECT_EQ(HumanDuration(absl::Hours(24 * (365 * 3 + 2))), "3y2d");
  EXPECT_EQ(HumanDuration(absl::Hours(24 * 365 * 9)), "9y");
}

// Agents sort by hostname by default (not by their random ids), show NACKED and relative ages;
// -o wide adds OS and the other wide columns.
TEST(AgentTableTest, SortsByHostnameAndShowsNackedAndAges) {
  const std::vector<v1::Agent> agents = {Agent("a1", "web-2", 3, 0, absl::Hours(51)),
                                         Agent("b2", "db-1", 2, 3, absl::Minutes(3))};
  EXPECT_EQ(
      Print(agents, {}),
      "ID   HOSTNAME   POLICY   REVISION   NACKED   STATUS   HEALTH    LAST-SEEN   AGE    "
      "LABELS\n"
      "b2   db-1       linux    2          3        online   healthy   4s          3m     -\n"
      "a1   web-2      linux    3          -        online   healthy   4s          2d3h   -\n");
  const std::string wide = Print(agents, {.style = TableStyle::kWide});
  EXPECT_THAT(wide,
              HasSubstr("LABELS   OS      ARCH    VERSION   TOKEN   NACK-REASON   MESSAGE\n"));
  EXPECT_THAT(wide, HasSubstr("linux   amd64   -"));
}

// -o name prints KIND/ID lines; --no-headers drops the header row and its width.
TEST(AgentTableTest, NamesAndNoHeaders) {
  const std::vector<v1::Agent> agents = {Agent("a1", "web-2", 3, 0, absl::Hours(1)),
                                         Agent("b2", "db-1", 2, 0, absl::Hours(2))};
  EXPECT_EQ(Print(agents, {.style = TableStyle::kName}), "agent/b2\nagent/a1\n");
  const std::string bare = Print(agents, {.headers = false});
  EXPECT_THAT(bare, Not(HasSubstr("HOSTNAME")));
  EXPECT_THAT(bare, ::testing::StartsWith("b2   db-1    linux   2"));
}

// --sort-by takes any column in any case; numbers and times sort as such (10 after 9, the
// oldest first), not as text; ties sort by id.
TEST(AgentTableTest, SortsByTheNamedColumn) {
  const std::vector<v1::Agent> agents = {Agent("c3", "x", 10, 0, absl::Hours(1)),
                                         Agent("a1", "y", 9, 0, absl::Hours(30)),
                                         Agent("b2", "z", 9, 0, absl::Seconds(5))};
  EXPECT_EQ(Print(agents, {.style = TableStyle::kName}, "revision"),
            "agent/a1\nagent/b2\nagent/c3\n");
  EXPECT_EQ(Print(agents, {.style = TableStyle::kName}, "AGE"), "agent/a1\nagent/c3\nagent/b2\n");
  EXPECT_EQ(Print(agents, {.style = TableStyle::kName}, "id"), "agent/a1\nagent/b2\nagent/c3\n");
}

// A column --sort-by does not know is refused naming every column, wide ones too.
TEST(AgentTableTest, UnknownSortColumnNamesTheColumns) {
  EXPECT_THAT(CheckSortColumn(AgentTable(), "Hostname"), IsEmpty());
  EXPECT_EQ(CheckSortColumn(AgentTable(), "host"),
            "\"host\": not a column of agent tables; want one of id, "
            "hostname, policy, revision, nacked, status, health, last-seen, age, labels, os, "
            "arch, version, token, nack-reason, message");
}

// Policies show their rollout counts (PENDING counts offline agents too) and sort by name.
TEST(PolicyTableTest, ShowsRolloutCounts) {
  std::vector<PolicyRow> rows(2);
  rows[0].policy.set_name("web");
  rows[0].policy.set_revision(12);
  *rows[0].policy.mutable_created_at() = Ago(absl::Minutes(3));
  rows[0].rollout.emplace();
  rows[0].rollout->set_agents(5'000);
  rows[0].rollout->set_acked(4'000);
  rows[0].rollout->set_nacked(3);
  rows[0].rollout->set_pending(7);
  rows[0].rollout->set_pending_offline(990);
  rows[1].policy.set_name("db");
  rows[1].policy.set_revision(1);
  rows[1].policy.set_description("databases");
  SortRows(PolicyTable(), "", rows);
  std::ostringstream out;
  PrintRows(PolicyTable(), rows, {}, kNow, out);
  EXPECT_EQ(out.str(),
            "NAME   REVISION   AGENTS   ACKED   NACKED   PENDING   UPDATED   AGE   DESCRIPTION\n"
            "db     1          -        -       -        -         -         -     databases\n"
            "web    12         5,000    4,000   3        997       3m        -\n");
}

// describe policy shows the rollout of the revision, the newest revisions with ages and the
// tokens, or <none> without tokens.
TEST(DescribePolicyTest, ShowsRolloutRevisionsAndTokens) {
  PolicyDetail detail;
  detail.policy.set_name("web");
  detail.policy.set_revision(2);
  detail.policy.set_spec_json(R"({"a":1})");
  detail.rollout.set_revision(2);
  detail.rollout.set_latest_revision(2);
  detail.rollout.set_agents(3);
  detail.rollout.set_acked(2);
  detail.rollout.set_nacked(1);
  for (int revision : {2, 1}) {
    v1::Policy& added = detail.revisions.emplace_back();
    added.set_revision(revision);
    *added.mutable_created_at() = Ago(absl::Hours(4 * revision));
  }
  std::ostringstream out;
  DescribePolicy(detail, kNow, out);
  EXPECT_THAT(out.str(), HasSubstr("Revision:        2 (latest)\n"));
  EXPECT_THAT(out.str(), HasSubstr("Agents:          3 assigned, 0 offline\n"));
  EXPECT_THAT(out.str(), HasSubstr("Rollout:         revision 2: 2 acked, 1 nacked, 0 pending, "
                                   "0 pending offline\n"));
  EXPECT_THAT(out.str(), HasSubstr("Revisions (newest 2):\n  REVISION   SHA256   AGE   AUTHOR"));
  EXPECT_THAT(out.str(), HasSubstr("\n  2          -        8h    -"));
  EXPECT_THAT(out.str(), HasSubstr("Enrollment Tokens:  <none>\n"));

  v1::EnrollmentToken& token = detail.tokens.emplace_back();
  token.set_id("0123456789ab");
  token.set_max_uses(10);
  token.set_uses(4);
  *token.mutable_created_at() = Ago(absl::Seconds(50));
  std::ostringstream with_token;
  DescribePolicy(detail, kNow, with_token);
  EXPECT_THAT(with_token.str(),
              HasSubstr("Enrollment Tokens:\n  ID             USES   EXPIRES   STATE    AGE   "
                        "DESCRIPTION\n  0123456789ab   4/10   never     active   50s\n"));
}

}  // namespace
}  // namespace fleet::cli
