#include "cli/json_documents.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace fleet::cli {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

std::string ErrorOf(const std::string& text) {
  absl::StatusOr<std::vector<SourceDocument>> documents = ReadJsonDocuments(text);
  EXPECT_FALSE(documents.ok()) << text;
  if (documents.ok()) return "";
  EXPECT_EQ(documents.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(documents.status().message());
}

// One object is one document; an array holds one document per element, each with its line.
TEST(ReadJsonDocumentsTest, DocumentsAndTheirLines) {
  ASSERT_OK_AND_ASSIGN(std::vector<SourceDocument> one, ReadJsonDocuments("\n\n{\"a\": [1, 2.5]}"));
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].line, 3u);
  EXPECT_EQ(one[0].value, Json::parse(R"({"a": [1, 2.5]})"));
  ASSERT_OK_AND_ASSIGN(std::vector<SourceDocument> array,
                       ReadJsonDocuments("[\n  {\"a\": 1},\n  7,\n\n  {\"b\": {\"c\": null}}\n]"));
  ASSERT_EQ(array.size(), 3u);
  EXPECT_EQ(array[0].line, 2u);
  EXPECT_EQ(array[1].value, Json(7));
  EXPECT_EQ(array[2].line, 5u);
  EXPECT_EQ(array[2].value, Json::parse(R"({"b": {"c": null}})"));
}

// Integers up to 2^53 - 1 are kept exactly; beyond, or beyond 64 bits, they are refused.
TEST(ReadJsonDocumentsTest, IntegersMustBeExact) {
  ASSERT_OK_AND_ASSIGN(std::vector<SourceDocument> exact,
                       ReadJsonDocuments(R"({"a": 9007199254740991, "b": -9007199254740991})"));
  EXPECT_EQ(exact[0].value["a"], Json(9007199254740991));
  EXPECT_EQ(ErrorOf("{\"spec\": {\"limits\":\n {\"max\": 12345678901234567890}}}"),
            "2: spec.limits.max: 12345678901234567890 cannot be represented exactly; quote it as "
            "a string");
  EXPECT_EQ(ErrorOf(R"({"a": [0, -9007199254740992]})"),
            "1: a[1]: -9007199254740992 cannot be represented exactly; quote it as a string");
  EXPECT_EQ(ErrorOf(R"({"a": 123456789012345678901234567890})"),
            "1: a: 123456789012345678901234567890 cannot be represented exactly; quote it as a "
            "string");
  ASSERT_OK_AND_ASSIGN(std::vector<SourceDocument> quoted,
                       ReadJsonDocuments(R"({"a": "12345678901234567890", "b": 1e21})"));
  EXPECT_EQ(quoted[0].value["a"], Json("12345678901234567890"));
  // Written as a double, an integer beyond 2^53 that RFC 8785 would write as an integer is
  // refused as fleetd refuses it; from 1e21 on it is written with an exponent and kept.
  EXPECT_EQ(ErrorOf(R"({"a": 1e20})"),
            "1: a: 1e20 cannot be represented exactly; quote it as a string");
  EXPECT_THAT(ErrorOf(R"({"a": -9007199254740993.0})"), HasSubstr("cannot be represented"));
  ASSERT_OK(ReadJsonDocuments(R"({"a": 9007199254740991.0, "b": 1.5e300})").status());
}

// A number beyond a double's range is refused, not thrown (it was an uncaught out_of_range).
TEST(ReadJsonDocumentsTest, NumbersOutsideDoubleRange) {
  EXPECT_EQ(ErrorOf("{\"a\":\n  {\"b\": 1e400}}"),
            "2: a.b: 1e400 is outside the range of a double; quote it as a string");
  EXPECT_THAT(ErrorOf("[{\"a\": -1e999}]"), HasSubstr("-1e999 is outside the range of a double"));
}

// A member name given twice in one object is refused (I-JSON); in two objects it is fine.
TEST(ReadJsonDocumentsTest, DuplicateMemberNames) {
  EXPECT_EQ(ErrorOf("{\"a\": 1,\n \"a\": 2}"),
            "2: a: given twice in one object (duplicate member name)");
  ASSERT_OK(ReadJsonDocuments(R"({"a": {"x": 1}, "b": {"x": 1}})").status());
}

// Ill-formed UTF-8 and lone surrogates are malformed JSON, with the line.
TEST(ReadJsonDocumentsTest, IllFormedStrings) {
  EXPECT_THAT(ErrorOf("{\n\"a\": \"\xff\"}"), HasSubstr("2: malformed JSON"));
  EXPECT_THAT(ErrorOf("{\"a\":\n \"\\ud800\"}"), HasSubstr("2: malformed JSON"));
  // What was read last is shown escaped, never raw.
  EXPECT_EQ(ErrorOf("{\"a\": \"\x1b[2J\"}").find('\x1b'), std::string::npos);
  ASSERT_OK_AND_ASSIGN(std::vector<SourceDocument> pair,
                       ReadJsonDocuments(R"({"a": "\ud83d\ude00"})"));
  EXPECT_EQ(pair[0].value["a"], Json("\xF0\x9F\x98\x80"));
}

// Nesting is bounded while reading: 65 levels per document pass, 100,000 are refused at once.
TEST(ReadJsonDocumentsTest, DepthIsLimited) {
  const auto nested = [](int levels) {
    return absl::StrCat("{\"spec\": ", std::string(levels, '['), std::string(levels, ']'), "}");
  };
  ASSERT_OK(ReadJsonDocuments(nested(64)).status());
  ASSERT_OK(ReadJsonDocuments(absl::StrCat("[", nested(64), "]")).status());
  EXPECT_THAT(ErrorOf(nested(65)), HasSubstr("more than 64 levels deep"));
  EXPECT_THAT(ErrorOf(absl::StrCat("[", nested(65), "]")), HasSubstr("more than 64 levels deep"));
  EXPECT_THAT(ErrorOf(nested(100000)),
              HasSubstr("1: spec[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]...: "
                        "nests objects and arrays more than 64 levels deep"));
}

// Malformed JSON names the line where the parser stopped.
TEST(ReadJsonDocumentsTest, MalformedJson) {
  EXPECT_THAT(ErrorOf("{\n  \"kind\": \"Policy\",\n  \"spec\": {,}\n}\n"),
              HasSubstr("3: malformed JSON: syntax error"));
  EXPECT_THAT(ErrorOf("{\"a\": 1} trailing"), HasSubstr("1: malformed JSON"));
}

}  // namespace
}  // namespace fleet::cli
