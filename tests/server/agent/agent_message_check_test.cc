// CheckAgentMessage's shape check of QueryResult.rows_json: a JSON array of objects, read
// without building a document.
#include "server/agent/agent_message_check.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::server {
namespace {

using ::testing::HasSubstr;

absl::Status CheckRows(const std::string& rows_json) {
  v1::AgentMessage message;
  v1::QueryResult& result = *message.mutable_query_result();
  result.set_id("fqry_0123456789ab");
  result.set_rows_json(rows_json);
  result.set_last(true);
  return CheckAgentMessage(message);
}

TEST(AgentMessageCheckTest, RowsThatAreAnArrayOfObjectsPass) {
  for (const std::string rows :
       {"", "[]", " [ ] ", "[{}]", R"([{"pid": 1, "name": "sshd"}, {"pid": 2}])",
        R"([{"nested": [1, [2, {"deep": null}], {"x": true}]}])", R"([{"s": "]}[{"}])"}) {
    EXPECT_TRUE(CheckRows(rows).ok()) << rows << ": " << CheckRows(rows);
  }
}

TEST(AgentMessageCheckTest, RowsOfAnyOtherShapeAreRefusedNamingTheField) {
  for (const std::string rows :
       {"5", "null", R"("text")", "{}", R"({"pid": 1})", "[1]", "[null]", "[[]]",
        R"([{"pid": 1}, 2])", R"([{"pid": 1}, []])", "[{}", "[{}]]", "[{}] [{}]", "[{}] x",
        "not json", R"([{"pid": 1,}])", "[{'pid': 1}]"}) {
    const absl::Status status = CheckRows(rows);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << rows;
    EXPECT_THAT(status.message(), HasSubstr("QueryResult.rows_json")) << rows;
  }
}

}  // namespace
}  // namespace fleet::server
