// The arguments of `fleetctl action create`: --arg KEY=VALUE and --args-json, merged or refused.
#include "cli/action_arguments.h"

#include "cli/exit_codes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::cli {
namespace {

using ::testing::HasSubstr;

// Refused input is a usage error (exit 2) whose message contains `text`.
void ExpectUsageError(const std::vector<std::string>& args, const std::string& json,
                      const std::string& text) {
  absl::StatusOr<std::string> built = BuildActionArguments(args, json);
  ASSERT_FALSE(built.ok()) << *built;
  EXPECT_TRUE(IsUsageError(built.status())) << built.status();
  EXPECT_THAT(built.status().message(), HasSubstr(text));
}

// No arguments at all: empty, which fleetd reads as {}.
TEST(BuildActionArgumentsTest, NoneIsEmpty) {
  absl::StatusOr<std::string> built = BuildActionArguments({}, "");
  ASSERT_TRUE(built.ok()) << built.status();
  EXPECT_EQ(*built, "");
}

// Every --arg value is a string, kept as typed: empty values and '=' in values included.
TEST(BuildActionArgumentsTest, ArgsAreStrings) {
  absl::StatusOr<std::string> built =
      BuildActionArguments({"version=1.4.2", "url=https://x/y?a=b", "note=", "count=3"}, "");
  ASSERT_TRUE(built.ok()) << built.status();
  EXPECT_EQ(*built, R"({"count":"3","note":"","url":"https://x/y?a=b","version":"1.4.2"})");
}

// --args-json carries typed values; with --arg the two are merged.
TEST(BuildActionArgumentsTest, JsonIsTypedAndMergedWithArgs) {
  absl::StatusOr<std::string> built =
      BuildActionArguments({"name=rotate-logs"}, R"( {"args": {"keep": 3, "gzip": true}} )");
  ASSERT_TRUE(built.ok()) << built.status();
  EXPECT_EQ(*built, R"({"args":{"gzip":true,"keep":3},"name":"rotate-logs"})");
  built = BuildActionArguments({}, "{}");
  ASSERT_TRUE(built.ok()) << built.status();
  EXPECT_EQ(*built, "{}");
}

// A malformed --arg names the flag and the form it wants.
TEST(BuildActionArgumentsTest, MalformedArgIsRefused) {
  ExpectUsageError({"version"}, "", R"(invalid --arg "version": want KEY=VALUE)");
  ExpectUsageError({"=1.2"}, "", R"(invalid --arg "=1.2")");
  ExpectUsageError({std::string("k=\xff")}, "", "not UTF-8");
}

// A key is given once: twice in --arg, or in both flags, is refused rather than one winning.
TEST(BuildActionArgumentsTest, KeyGivenTwiceIsRefused) {
  ExpectUsageError({"version=1", "version=2"}, "", "--arg version given twice");
  ExpectUsageError({"version=1"}, R"({"version": "2"})",
                   R"(--arg version and --args-json both set "version")");
}

// --args-json must be one JSON object, strictly I-JSON as fleetd requires.
TEST(BuildActionArgumentsTest, JsonMustBeAnIJsonObject) {
  ExpectUsageError({}, "[1, 2]", "invalid --args-json: want a JSON object");
  ExpectUsageError({}, "\"text\"", "invalid --args-json: want a JSON object");
  ExpectUsageError({}, "{\"a\": ", "invalid --args-json");
  ExpectUsageError({}, R"({"a": 1, "a": 2})", "invalid --args-json");
  ExpectUsageError({}, R"({"n": 12345678901234567890})", "cannot be represented exactly");
}

}  // namespace
}  // namespace fleet::cli
