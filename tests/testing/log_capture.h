// Captures what spdlog's default logger writes, in fleetd's text or json format, for the tests
// of log lines. Header-only: a test that uses it links fleet_log and nlohmann_json.
#ifndef FLEETD_TESTS_TESTING_LOG_CAPTURE_H_
#define FLEETD_TESTS_TESTING_LOG_CAPTURE_H_

#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/log_format.h"
#include "nlohmann/json.hpp"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"

namespace fleet::testing {

// Replaces the default logger (at trace) while it lives; not thread-safe against lines logged
// by other threads while it is made or destroyed.
class LogCapture {
 public:
  explicit LogCapture(LogFormat format = LogFormat::kJson)
      : previous_(spdlog::default_logger()), previous_level_(spdlog::get_level()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    sink->set_formatter(MakeLogFormatter(format));
    auto logger = std::make_shared<spdlog::logger>("test", sink);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() {
    spdlog::set_default_logger(previous_);
    spdlog::set_level(previous_level_);
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // Everything written so far.
  std::string text() const { return out_.str(); }

  // The json lines written so far, parsed (a line that does not parse is a null value).
  std::vector<nlohmann::json> Lines() const {
    std::vector<nlohmann::json> lines;
    std::istringstream in(out_.str());
    for (std::string line; std::getline(in, line);) {
      lines.push_back(nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false));
    }
    return lines;
  }

  // The parsed lines whose "msg" is `message`.
  std::vector<nlohmann::json> LinesWithMessage(std::string_view message) const {
    std::vector<nlohmann::json> found;
    for (nlohmann::json& line : Lines()) {
      if (line.is_object() && line.value("msg", "") == message) found.push_back(std::move(line));
    }
    return found;
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
  spdlog::level::level_enum previous_level_;
};

}  // namespace fleet::testing

#endif  // FLEETD_TESTS_TESTING_LOG_CAPTURE_H_
