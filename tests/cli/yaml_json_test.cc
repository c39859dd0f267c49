#include "cli/yaml_json.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace fleet::cli {
namespace {

using Json = nlohmann::json;

absl::StatusOr<Json> Convert(const std::string& yaml) { return YamlToJson(YAML::Load(yaml)); }

// The value of a plain scalar PlainScalarToJson accepts; a test failure otherwise.
Json Scalar(const std::string& text) {
  absl::StatusOr<Json> value = PlainScalarToJson(text);
  EXPECT_TRUE(value.ok()) << text << ": " << value.status();
  return value.ok() ? *value : Json();
}

// The message of a YAML document YamlToJson refuses.
std::string ErrorOf(const std::string& yaml, int64_t max_nodes = 1'000'000) {
  absl::StatusOr<Json> json = YamlToJson(YAML::Load(yaml), max_nodes);
  EXPECT_FALSE(json.ok()) << yaml;
  if (json.ok()) return "";
  EXPECT_EQ(json.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(json.status().message());
}

// Plain scalars follow YAML 1.2's core schema.
TEST(PlainScalarToJsonTest, CoreSchema) {
  EXPECT_EQ(Scalar(""), Json(nullptr));
  EXPECT_EQ(Scalar("~"), Json(nullptr));
  EXPECT_EQ(Scalar("null"), Json(nullptr));
  EXPECT_EQ(Scalar("NULL"), Json(nullptr));
  EXPECT_EQ(Scalar("true"), Json(true));
  EXPECT_EQ(Scalar("False"), Json(false));
  EXPECT_EQ(Scalar("42"), Json(42));
  EXPECT_EQ(Scalar("-7"), Json(-7));
  EXPECT_EQ(Scalar("0x1f"), Json(31));
  EXPECT_EQ(Scalar("0o17"), Json(15));
  EXPECT_EQ(Scalar("9007199254740991"), Json(9007199254740991));
  EXPECT_EQ(Scalar("-9007199254740991"), Json(-9007199254740991));
  EXPECT_EQ(Scalar("0x1fffffffffffff"), Json(9007199254740991));
  EXPECT_TRUE(Scalar("1e300").is_number_float());
  EXPECT_EQ(Scalar("1.5"), Json(1.5));
  EXPECT_EQ(Scalar(".5"), Json(0.5));
  EXPECT_EQ(Scalar("1e3"), Json(1000.0));
}

// What YAML 1.1 would turn into booleans, dates or specials stays a string.
TEST(PlainScalarToJsonTest, EverythingElseIsAString) {
  for (const char* text : {"yes", "no", "on", "off", "y", "2024-05-01", ".inf", ".nan", "1_000",
                           "hello", "1.2.3", "0x", "tRUE"}) {
    EXPECT_EQ(Scalar(text), Json(text)) << text;
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
  EXPECT_EQ(json.status().message(), "3: a: given twice in one mapping (duplicate key)");
}

// Numbers a JSON reader would change are refused with the line and path, not rounded (I-JSON).
TEST(PlainScalarToJsonTest, InexactNumbersAreRefused) {
  for (const char* text : {"9007199254740992", "-9007199254740992", "12345678901234567890",
                           "123456789012345678901234567890", "0x20000000000000",
                           "0xffffffffffffffffff", "0o777777777777777777777"}) {
    absl::StatusOr<Json> value = PlainScalarToJson(text);
    EXPECT_EQ(value.status().code(), absl::StatusCode::kOutOfRange) << text;
    EXPECT_EQ(value.status().message(),
              std::string(text) + " cannot be represented exactly; quote it as a string");
  }
  for (const char* text : {"1e20", "-9007199254740993.0", "9.5e20"}) {
    EXPECT_EQ(PlainScalarToJson(text).status().message(),
              std::string(text) + " cannot be represented exactly; quote it as a string");
  }
  EXPECT_TRUE(Scalar("1e21").is_number_float());
  for (const char* text : {"1e400", "-1e400", "1e999999"}) {
    absl::StatusOr<Json> value = PlainScalarToJson(text);
    EXPECT_EQ(value.status().message(),
              std::string(text) + " is outside the range of a double; quote it as a string");
  }
  EXPECT_EQ(ErrorOf("spec:\n  limits:\n    max: 12345678901234567890\n"),
            "3: spec.limits.max: 12345678901234567890 cannot be represented exactly; quote it "
            "as a string");
  EXPECT_EQ(ErrorOf("spec:\n  x: [1, 1e400]\n"),
            "2: spec.x[1]: 1e400 is outside the range of a double; quote it as a string");
  // Quoted, they are strings.
  ASSERT_OK_AND_ASSIGN(Json quoted, Convert("max: \"12345678901234567890\"\n"));
  EXPECT_EQ(quoted, Json::parse(R"({"max": "12345678901234567890"})"));
}

// Ill-formed UTF-8 in a value or a key is refused with its line, not passed on to crash dump().
TEST(YamlToJsonTest, IllFormedUtf8IsRefused) {
  EXPECT_EQ(ErrorOf("a: 1\nb: \"\xff\xfe\"\n"), "2: b: not well-formed UTF-8");
  EXPECT_EQ(ErrorOf("a:\n  - ok\n  - \xc3\n"), "3: a[1]: not well-formed UTF-8");
  EXPECT_THAT(ErrorOf("\xed\xa0\x80: 1\n"), ::testing::HasSubstr("not well-formed UTF-8"));
}

// Nesting deeper than a document with fleetd's deepest spec is refused before conversion.
TEST(YamlToJsonTest, DepthIsLimited) {
  // The document, then a spec of 64 levels: the deepest fleetd accepts.
  const auto nested = [](int levels) {
    return "spec: " + std::string(levels, '[') + std::string(levels, ']') + "\n";
  };
  ASSERT_OK(Convert("spec: {a: " + std::string(63, '[') + std::string(63, ']') + "}\n").status());
  EXPECT_THAT(ErrorOf(nested(65)),
              ::testing::HasSubstr("1: spec[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"));
  EXPECT_THAT(ErrorOf(nested(65)),
              ::testing::HasSubstr("nests objects and arrays more than 64 levels deep"));
}

// An alias to its own ancestor (an infinite tree) is refused by the depth limit, not followed.
TEST(YamlToJsonTest, SelfReferenceIsRefused) {
  EXPECT_THAT(ErrorOf("spec: &a\n  x: *a\n"), ::testing::HasSubstr("more than 64 levels deep"));
}

// A 400-byte alias bomb (9^9 strings) is refused once the node budget is spent, quickly.
TEST(YamlToJsonTest, AliasBombIsRefused) {
  std::string bomb = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  std::string previous = "a";
  for (const std::string name : {"b", "c", "d", "e", "f", "g", "h", "i"}) {
    bomb += name + ": &" + name + " [";
    for (int i = 0; i < 9; ++i) bomb += (i > 0 ? ", *" : "*") + previous;
    bomb += "]\n";
    previous = name;
  }
  ASSERT_LT(bomb.size(), 500u);
  EXPECT_THAT(ErrorOf(bomb, MaxYamlNodes(bomb)),
              ::testing::HasSubstr("the file expands to more than " +
                                   std::to_string(MaxYamlNodes(bomb)) + " YAML nodes"));
  // A few aliases, as people use them, are fine.
  ASSERT_OK_AND_ASSIGN(Json json, YamlToJson(YAML::Load("a: &x {p: 1}\nb: *x\nc: *x\n"), 16));
  EXPECT_EQ(json["c"], Json::parse(R"({"p": 1})"));
}

// Whole files: every document gets its start line; malformed YAML and deep nesting name a line.
TEST(ReadYamlDocumentsTest, LinesAndErrors) {
  ASSERT_OK_AND_ASSIGN(std::vector<SourceDocument> documents,
                       ReadYamlDocuments("a: 1\n---\n---\n# c\nb: 2\n"));
  ASSERT_EQ(documents.size(), 2u);
  EXPECT_EQ(documents[0].line, 1u);
  EXPECT_EQ(documents[1].line, 5u);
  absl::StatusOr<std::vector<SourceDocument>> malformed = ReadYamlDocuments("a: 1\nb: [\n");
  EXPECT_THAT(malformed.status().message(), ::testing::HasSubstr(": malformed YAML: "));
  // Fuzzing found that a NUL byte made yaml-cpp loop forever; such text never reaches it.
  absl::StatusOr<std::vector<SourceDocument>> nul =
      ReadYamlDocuments(std::string(",[\"k&&aa: \"\x06\0aaaaa1e20a: \"\x06\0[{", 30));
  EXPECT_EQ(nul.status().message(), "1: control character \\x06 (YAML allows only tab, CR and LF)");
  EXPECT_EQ(ReadYamlDocuments(std::string("a: 1\nb: \0\n", 11)).status().message(),
            "2: control character \\x00 (YAML allows only tab, CR and LF)");
  EXPECT_EQ(ReadYamlDocuments("a: 1\n\n# \xff\n").status().message(), "3: not well-formed UTF-8");
  ASSERT_OK(ReadYamlDocuments("a:\t1\r\nb: \"\xc3\xa9\"\r\n").status());
  // Fuzzing found text on which yaml-cpp's LoadAll never ends; it is refused instead.
  absl::StatusOr<std::vector<SourceDocument>> endless = ReadYamlDocuments(",0[[");
  EXPECT_EQ(endless.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(endless.status().message(), ::testing::HasSubstr("1: malformed YAML"));
  // Past yaml-cpp's own recursion guard.
  const std::string deep = "a: " + std::string(100000, '[') + std::string(100000, ']') + "\n";
  absl::StatusOr<std::vector<SourceDocument>> too_deep = ReadYamlDocuments(deep);
  EXPECT_EQ(too_deep.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(too_deep.status().message(), ::testing::HasSubstr("more than 64 levels deep"));
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
