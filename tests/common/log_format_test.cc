#include "common/log_format.h"

#include <string>

#include "common/log_fields.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"
#include "tests/testing/log_capture.h"

namespace fleet {
namespace {

using ::testing::MatchesRegex;

// The one line `capture` holds, parsed.
nlohmann::json OnlyLine(const testing::LogCapture& capture) {
  const std::string line = capture.text();
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  return nlohmann::json::parse(line);
}

// A json line carries time, level, message and each field with its JSON type.
TEST(LogFormatTest, JsonLineHasTheFieldsTyped) {
  testing::LogCapture capture(LogFormat::kJson);
  LogEvent(spdlog::level::info, "admin mutation",
           {{"rpc", "ApplyPolicy"}, {"revision", int64_t{42}}, {"dry_run", false}});
  const nlohmann::json line = OnlyLine(capture);
  EXPECT_EQ(line["level"], "info");
  EXPECT_EQ(line["msg"], "admin mutation");
  EXPECT_EQ(line["rpc"], "ApplyPolicy");
  EXPECT_EQ(line["revision"], 42);
  EXPECT_EQ(line["dry_run"], false);
  EXPECT_THAT(line["time"].get<std::string>(),
              MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"));
}

// Warnings say "warn", the name --log-level takes, in both formats (spdlog's own is "warning").
TEST(LogFormatTest, WarnIsCalledWarn) {
  {
    testing::LogCapture capture(LogFormat::kJson);
    spdlog::warn("careful");
    EXPECT_EQ(OnlyLine(capture)["level"], "warn");
  }
  testing::LogCapture capture(LogFormat::kText);
  spdlog::warn("careful");
  EXPECT_THAT(capture.text(), MatchesRegex("[-0-9T:.]+Z warn careful\n"));
}

// Control characters, quotes and ill-formed UTF-8 in a message or a field still make one line
// of valid JSON that holds the same text (ill-formed bytes as U+FFFD).
TEST(LogFormatTest, JsonEscapesWhatever) {
  testing::LogCapture capture(LogFormat::kJson);
  const std::string nasty = std::string("a\"b\\c\nd\x1b[2J\x7f") + "\xff\xc3(" + "é" + '\0' + "z";
  LogEvent(spdlog::level::warn, nasty, {{"agent_id", nasty}});
  const nlohmann::json line = OnlyLine(capture);
  const std::string want =
      std::string("a\"b\\c\nd\x1b[2J\x7f") + "\xEF\xBF\xBD\xEF\xBF\xBD(" + "é" + '\0' + "z";
  EXPECT_EQ(line["msg"], want);
  EXPECT_EQ(line["agent_id"], want);
}

// A text line stays one line whatever the message holds, and quotes field values with spaces.
TEST(LogFormatTest, TextEscapesAndQuotes) {
  testing::LogCapture capture(LogFormat::kText);
  LogEvent(spdlog::level::err, "bad\nline",
           {{"reason", "no such token"}, {"id", "abc"}, {"empty", ""}, {"n", 3}});
  EXPECT_THAT(capture.text(),
              MatchesRegex("[-0-9T:.]+Z error bad\\\\nline reason=\"no such token\" id=abc "
                           "empty=\"\" n=3\n"));
}

// Plain spdlog calls have no fields, and fields of an earlier event do not leak into them.
TEST(LogFormatTest, PlainLinesHaveNoFields) {
  testing::LogCapture capture(LogFormat::kJson);
  LogEvent(spdlog::level::info, "first", {{"secret_looking", "x"}});
  spdlog::info("second {}", 2);
  const std::string text = capture.text();
  const std::string second = text.substr(text.find('\n') + 1);
  const nlohmann::json line = nlohmann::json::parse(second);
  EXPECT_EQ(line["msg"], "second 2");
  EXPECT_EQ(line.size(), 3u);
}

// A level below the logger's writes nothing at all.
TEST(LogFormatTest, FilteredLevelsWriteNothing) {
  testing::LogCapture capture(LogFormat::kJson);
  spdlog::default_logger()->set_level(spdlog::level::info);
  LogEvent(spdlog::level::debug, "agent connected", {{"agent_id", "a"}});
  EXPECT_EQ(capture.text(), "");
}

// The two names --log-format takes, and nothing else.
TEST(LogFormatTest, ParsesFormatNames) {
  EXPECT_EQ(ParseLogFormat("text"), LogFormat::kText);
  EXPECT_EQ(ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(ParseLogFormat("JSON"), std::nullopt);
}

// Every level's name parses back to the level with spdlog's from_str, as --log-level does.
TEST(LogFormatTest, LevelNamesParseBack) {
  for (auto level : {spdlog::level::trace, spdlog::level::debug, spdlog::level::info,
                     spdlog::level::warn, spdlog::level::err}) {
    EXPECT_EQ(spdlog::level::from_str(std::string(LevelName(level))), level);
  }
}

}  // namespace
}  // namespace fleet
