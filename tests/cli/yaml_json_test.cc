#include "cli/yaml_json.h"

#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace fleet::cli {
namespace {

using Json = nlohmann::json;

absl::StatusOr<Json> Convert(const std::string& yaml) { return YamlToJson(YAML::Load(yaml)); }

// Plain scalars follow YAML 1.2's core schema.
TEST(PlainScalarToJsonTest, CoreSchema) {
  EXPECT_EQ(PlainScalarToJson(""), Json(nullptr));
  EXPECT_EQ(PlainScalarToJson("~"), Json(nullptr));
  EXPECT_EQ(PlainScalarToJson("null"), Json(nullptr));
  EXPECT_EQ(PlainScalarToJson("NULL"), Json(nullptr));
  EXPECT_EQ(PlainScalarToJson("true"), Json(true));
  EXPECT_EQ(PlainScalarToJson("False"), Json(false));
  EXPECT_EQ(PlainScalarToJson("42"), Json(42));
  EXPECT_EQ(PlainScalarToJson("-7"), Json(-7));
  EXPECT_EQ(PlainScalarToJson("0x1f"), Json(31));
  EXPECT_EQ(PlainScalarToJson("0o17"), Json(15));
  EXPECT_EQ(PlainScalarToJson("18446744073709551615"), Json(18446744073709551615ull));
  EXPECT_TRUE(PlainScalarToJson("1e300").is_number_float());
  EXPECT_EQ(PlainScalarToJson("1.5"), Json(1.5));
  EXPECT_EQ(PlainScalarToJson(".5"), Json(0.5));
  EXPECT_EQ(PlainScalarToJson("1e3"), Json(1000.0));
}

// What YAML 1.1 would turn into booleans, dates or specials stays a string.
TEST(PlainScalarToJsonTest, EverythingElseIsAString) {
  for (const char* text : {"yes", "no", "on", "off", "y", "2024-05-01", ".inf", ".nan", "1_000",
                           "hello", "1.2.3", "0x", "tRUE"}) {
    EXPECT_EQ(PlainScalarToJson(text), Json(text)) << text;
  }
}

// Quoted and block scalars and !!str stay strings whatever they look like; plain ones resolve.
TEST(YamlToJsonTest, QuotedScalarsStayStrings) {
  ASSERT_OK_AND_ASSIGN(Json json, Convert("a: \"42\"\nb: 'true'\nc: !!str 7\nd: |\n  null\n"
                                          "e: 42\nf: true\ng: ~\nh:\ni: ''\n"));
  EXPECT_EQ(json, Json::parse(R"({"a": "42", "b": "true", "c": "7", "d": "null\n", "e": 42,
                                  "f": true, "g": null, "h": null, "i": ""})"));
}

// Nested maps and sequences convert; keys are their text even when they look like numbers.
TEST(YamlToJsonTest, NestedStructures) {
  ASSERT_OK_AND_ASSIGN(Json json, Convert("outputs:\n  - {type: es, port: 9200}\n  - []\n1: x\n"));
  EXPECT_EQ(json, Json::parse(R"({"outputs": [{"type": "es", "port": 9200}, []], "1": "x"})"));
}

// A key given twice is an error naming its line.
TEST(YamlToJsonTest, DuplicateKeyNamesTheLine) {
  absl::StatusOr<Json> json = Convert("a: 1\nb: 2\na: 3\n");
  ASSERT_FALSE(json.ok());
  EXPECT_EQ(json.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(json.status().message().find("line 3"), absl::string_view::npos) << json.status();
}

// Strings that would read back as something else need quotes; ordinary ones do not.
TEST(NeedsQuotesInYamlTest, QuotesWhatWouldChangeType) {
  for (const char* text : {"", "42", "0x1f", "0o17", "1e3", "true", "False", "null", "~", "yes",
                           "off", ".inf", "1.5", "2024-05-01", "2024-05-01T10:00:00Z"}) {
    EXPECT_TRUE(NeedsQuotesInYaml(text)) << text;
  }
  for (const char* text : {"hello", "linux-servers", "1.2.3", "v1"}) {
    EXPECT_FALSE(NeedsQuotesInYaml(text)) << text;
  }
}

}  // namespace
}  // namespace fleet::cli
