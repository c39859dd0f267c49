// Structured log lines: a message with named fields, written through spdlog so that levels and
// sinks stay spdlog's. The fields reach the formatter (log_format.h), which writes them after the
// message (text) or as members of the line's object (json), by a thread-local: spdlog's
// synchronous loggers format on the thread that logs, which is the only kind fleetd uses.
#ifndef FLEETD_COMMON_LOG_FIELDS_H_
#define FLEETD_COMMON_LOG_FIELDS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/types/span.h"
#include "spdlog/common.h"

namespace fleet {

// One named value of a log line: a string, an integer or a boolean. Holds views: what it names
// must outlive the LogEvent call (temporaries of the calling expression do).
class LogField {
 public:
  enum class Kind { kString, kInteger, kBool };

  LogField(std::string_view key, std::string_view value)
      : key_(key), kind_(Kind::kString), text_(value) {}
  LogField(std::string_view key, const char* value) : LogField(key, std::string_view(value)) {}
  LogField(std::string_view key, const std::string& value)
      : LogField(key, std::string_view(value)) {}
  LogField(std::string_view key, bool value) : key_(key), kind_(Kind::kBool), integer_(value) {}
  template <typename T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
      LogField(std::string_view key, T value)
      : key_(key), kind_(Kind::kInteger), integer_(static_cast<int64_t>(value)) {}

  std::string_view key() const { return key_; }
  Kind kind() const { return kind_; }
  std::string_view text() const { return text_; }  // kString
  int64_t integer() const { return integer_; }     // kInteger; kBool as 0 or 1

 private:
  std::string_view key_;
  Kind kind_;
  std::string_view text_;
  int64_t integer_ = 0;
};

// Logs `message` at `level` on spdlog's default logger with `fields` (keys other than "time",
// "level" and "msg", which the json format uses). Nothing is formatted when the level is off.
void LogEvent(spdlog::level::level_enum level, std::string_view message,
              absl::Span<const LogField> fields);

// The fields of the LogEvent being formatted on this thread; empty for plain spdlog calls.
absl::Span<const LogField> CurrentLogFields();

}  // namespace fleet

#endif  // FLEETD_COMMON_LOG_FIELDS_H_
