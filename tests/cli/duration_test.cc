#include "cli/duration.h"

#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace fleet::cli {
namespace {

// Go's spellings parse to the durations they name.
TEST(ParseDurationTest, AcceptsGoDurations) {
  ASSERT_OK_AND_ASSIGN(absl::Duration thirty_seconds, ParseDuration("30s"));
  EXPECT_EQ(thirty_seconds, absl::Seconds(30));
  ASSERT_OK_AND_ASSIGN(absl::Duration fifteen_minutes, ParseDuration("15m"));
  EXPECT_EQ(fifteen_minutes, absl::Minutes(15));
  ASSERT_OK_AND_ASSIGN(absl::Duration day, ParseDuration("24h"));
  EXPECT_EQ(day, absl::Hours(24));
  ASSERT_OK_AND_ASSIGN(absl::Duration mixed, ParseDuration("1h30m"));
  EXPECT_EQ(mixed, absl::Minutes(90));
  ASSERT_OK_AND_ASSIGN(absl::Duration fraction, ParseDuration("1.5h"));
  EXPECT_EQ(fraction, absl::Minutes(90));
  ASSERT_OK_AND_ASSIGN(absl::Duration millis, ParseDuration("250ms"));
  EXPECT_EQ(millis, absl::Milliseconds(250));
}

// Anything else is INVALID_ARGUMENT with a message quoting the text and showing examples.
TEST(ParseDurationTest, RejectsEverythingElse) {
  for (const char* text : {"", "30", "5x", "1d", "-5m", "+5m", "0s", "0", "inf", " 5m", "5m ",
                           "1h 30m", "h", "m5", "5M"}) {
    absl::StatusOr<absl::Duration> parsed = ParseDuration(text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_NE(parsed.status().message().find(absl::StrCat("\"", text, "\"")),
              absl::string_view::npos)
        << parsed.status();
    EXPECT_NE(parsed.status().message().find("1h30m"), absl::string_view::npos) << parsed.status();
  }
}

// The proto form keeps seconds and the nanosecond remainder.
TEST(ParseDurationTest, ConvertsToProto) {
  const google::protobuf::Duration proto = ToProto(absl::Seconds(90) + absl::Milliseconds(5));
  EXPECT_EQ(proto.seconds(), 90);
  EXPECT_EQ(proto.nanos(), 5'000'000);
}

}  // namespace
}  // namespace fleet::cli
