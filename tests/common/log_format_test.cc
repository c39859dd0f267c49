#include "common/log_format.h"

#include <memory>
#include <sstream>
#include <string>

#include "common/log_fields.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"

namespace fleet {
namespace {

using ::testing::MatchesRegex;

// Makes spdlog's default logger write `format` lines into a string, for one test.
class LogCapture {
 public:
  explicit LogCapture(LogFormat format) : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out_);
    sink->set_formatter(MakeLogFormatter(format));
    auto logger = std::make_shared<spdlog::logger>("test", sink);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }

  std::string text() const { return out_.str(); }
  // The one line written, parsed.
  nlohmann::json Json() const {
    const std::string line = out_.str();
    EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
    return nlohmann::json::parse(line);
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

// A json line carries time, level, message and each field with its JSON type.
TEST(LogFormatTest, JsonLineHasTheFieldsTyped) {
  LogCapture capture(LogFormat::kJson);
  LogEvent(spdlog::level::info, "admin mutation",
           {{"rpc", "ApplyPolicy"}, {"revision", int64_t{42}}, {"dry_run", false}});
  const nlohmann::json line = capture.Json();
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
    LogCapture capture(LogFormat::kJson);
    spdlog::warn("careful");
    EXPECT_EQ(capture.Json()["level"], "warn");
  }
  LogCapture capture(LogFormat::kText);
  spdlog::warn("careful");
  EXPECT_THAT(capture.text(), MatchesRegex("[-0-9T:.]+Z warn careful\n"));
}

// Control characters, quotes and ill-formed UTF-8 in a message or a field still make one line
// of valid JSON that holds the same text (ill-formed bytes as U+FFFD).
TEST(LogFormatTest, JsonEscapesWhatever) {
  LogCapture capture(LogFormat::kJson);
  const std::string nasty = std::string("a\"b\\c\nd\x1b[2J\x7f") + "\xff\xc3(" + "é" + '\0' + "z";
  LogEvent(spdlog::level::warn, nasty, {{"agent_id", nasty}});
  const nlohmann::json line = capture.Json();
  const std::string want =
      std::string("a\"b\\c\nd\x1b[2J\x7f") + "\xEF\xBF\xBD\xEF\xBF\xBD(" + "é" + '\0' + "z";
  EXPECT_EQ(line["msg"], want);
  EXPECT_EQ(line["agent_id"], want);
}

// A text line stays one line whatever the message holds, and quotes field values with spaces.
TEST(LogFormatTest, TextEscapesAndQuotes) {
  LogCapture capture(LogFormat::kText);
  LogEvent(spdlog::level::err, "bad\nline",
           {{"reason", "no such token"}, {"id", "abc"}, {"empty", ""}, {"n", 3}});
  EXPECT_THAT(capture.text(),
              MatchesRegex("[-0-9T:.]+Z error bad\\\\nline reason=\"no such token\" id=abc "
                           "empty=\"\" n=3\n"));
}

// Plain spdlog calls have no fields, and fields of an earlier event do not leak into them.
TEST(LogFormatTest, PlainLinesHaveNoFields) {
  LogCapture capture(LogFormat::kJson);
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
  LogCapture capture(LogFormat::kJson);
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
