// What fleetctl prints: tables, the JSON shapes of resources, the rollout progress line.
#include "cli/output.h"

#include <sstream>

#include "cli/resource_json.h"
#include "cli/resource_tables.h"
#include "cli/table_writer.h"
#include "cli/terminal_text.h"
#include "gtest/gtest.h"

namespace fleet::cli {
namespace {

// Columns line up three spaces apart; short rows are padded; no trailing spaces.
TEST(TableWriterTest, AlignsColumns) {
  TableWriter table({"NAME", "REVISION", "DESCRIPTION"});
  table.AddRow({"linux-servers", "12", "All Linux"});
  table.AddRow({"a", "3"});
  std::ostringstream out;
  table.Write(out);
  EXPECT_EQ(out.str(),
            "NAME            REVISION   DESCRIPTION\n"
            "linux-servers   12         All Linux\n"
            "a               3\n");
}

// Rollout status JSON has every count, pending offline among them.
TEST(ResourceJsonTest, RolloutStatusHasEveryCount) {
  v1::RolloutStatus status;
  status.set_policy("p");
  status.set_agents(10);
  status.set_acked(4);
  status.set_nacked(1);
  status.set_pending(2);
  status.set_pending_offline(3);
  status.set_offline(5);
  EXPECT_EQ(RolloutStatusToJson(status).dump(),
            R"({"policy":"p","revision":0,"latestRevision":0,"agents":10,"acked":4,"nacked":1,)"
            R"("pending":2,"pendingOffline":3,"offline":5,"complete":false})");
}

// A hostname with a newline and escape sequences stays in its cell: no fake row, no screen
// clearing, no C1 controls, ill-formed bytes shown as \x escapes; columns align by characters.
TEST(TableWriterTest, EscapesTerminalControls) {
  TableWriter table({"ID", "HOSTNAME", "POLICY"});
  table.AddRow({"a1", "evil\n1f   fake-host   linux\x1b[2J\x1b]0;t\x07", "p"});
  table.AddRow({"a2",
                "c1\xc2\x9b"
                "31m bidi\xe2\x80\xae bad\xff\xfe",
                "p"});
  table.AddRow({"a3", "h\xc3\xa9", "p"});
  std::ostringstream out;
  table.Write(out);
  EXPECT_EQ(out.str(),
            "ID   HOSTNAME                                          POLICY\n"
            "a1   evil\\n1f   fake-host   linux\\x1b[2J\\x1b]0;t\\x07   p\n"
            "a2   c1\\u009b31m bidi\\u202e bad\\xff\\xfe                p\n"
            "a3   h\xc3\xa9                                                p\n");
}

// Escaping keeps printable text, including multi-byte characters, as it is.
TEST(EscapeForTerminalTest, KeepsPrintableText) {
  EXPECT_EQ(EscapeForTerminal("linux-01 \xe6\x97\xa5\xe6\x9c\xac \\ \"q\""),
            "linux-01 \xe6\x97\xa5\xe6\x9c\xac \\ \"q\"");
  EXPECT_EQ(EscapeForTerminal(std::string("a\0b\tc\r\x7f", 7)), "a\\x00b\\tc\\r\\x7f");
  EXPECT_EQ(EscapeForTerminal("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
  EXPECT_EQ(DisplayWidth("h\xc3\xa9"), 2u);
}

// Every field is present under its camelCase name, unset times as null, enums as words.
TEST(ResourceJsonTest, AgentHasEveryField) {
  v1::Agent agent;
  agent.set_id("0123456789ab");
  agent.set_status(v1::AGENT_STATUS_ONLINE);
  agent.set_health(v1::AGENT_HEALTH_DEGRADED);
  (*agent.mutable_labels())["b"] = "2";
  (*agent.mutable_labels())["a"] = "1";
  const nlohmann::ordered_json json = AgentToJson(agent);
  EXPECT_EQ(json.size(), 20u);
  EXPECT_EQ(json["status"], "online");
  EXPECT_TRUE(json["rotationRequestedAt"].is_null());
  EXPECT_EQ(json["secretRotations"], 0);
  EXPECT_EQ(json["health"], "degraded");
  EXPECT_TRUE(json["lastSeen"].is_null());
  EXPECT_EQ(json["labels"].dump(), R"({"a":"1","b":"2"})");
  EXPECT_EQ(json["appliedRevision"], 0);
}

// A policy prints as an apply-able document with a read-only status.
TEST(ResourceJsonTest, PolicyIsADocument) {
  v1::Policy policy;
  policy.set_name("p");
  policy.set_revision(2);
  policy.set_spec_json(R"({"a":1})");
  policy.mutable_created_at()->set_seconds(1714557600);
  const nlohmann::ordered_json json = PolicyToJson(policy);
  EXPECT_EQ(json["kind"], "Policy");
  EXPECT_EQ(json["metadata"].dump(), R"({"name":"p","description":""})");
  EXPECT_EQ(json["spec"].dump(), R"({"a":1})");
  EXPECT_EQ(json["status"]["revision"], 2);
  EXPECT_EQ(json["status"]["createdAt"], "2024-05-01T10:00:00Z");
  policy.clear_spec_json();
  EXPECT_TRUE(PolicyToJson(policy)["spec"].is_null());
}

// -o yaml quotes strings that would otherwise read back as numbers, booleans or dates.
TEST(WriteStructuredTest, YamlQuotesAmbiguousStrings) {
  std::ostringstream out;
  WriteStructured({{"a", "42"}, {"b", "yes"}, {"c", 42}, {"d", "plain"}}, OutputFormat::kYaml, out);
  EXPECT_EQ(out.str(), "a: \"42\"\nb: \"yes\"\nc: 42\nd: plain\n");
}

}  // namespace
}  // namespace fleet::cli
