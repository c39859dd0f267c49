// How fleetd's log lines look: spdlog formatters for the two --log-format values, with the
// level names --log-level takes (trace, debug, info, warn, error) and the fields of LogEvent
// (log_fields.h).
//
//   text: 2026-12-01T14:32:57.123Z info admin mutation rpc=ApplyPolicy target=policy/web
//   json: {"time":"2026-12-01T14:32:57.123Z","level":"info","msg":"admin mutation",
//          "rpc":"ApplyPolicy","target":"policy/web"}   (one line)
//
// Times are RFC 3339 in UTC with milliseconds. Whatever a message or field holds, a line stays
// one line: ill-formed UTF-8 becomes U+FFFD and control characters are escaped (json: as JSON
// requires, so each line parses as a JSON object; text: \n, \t, \xNN).
#ifndef FLEETD_COMMON_LOG_FORMAT_H_
#define FLEETD_COMMON_LOG_FORMAT_H_

#include <memory>
#include <optional>
#include <string_view>

#include "spdlog/common.h"
#include "spdlog/formatter.h"

namespace fleet {

enum class LogFormat { kText, kJson };

// "text" or "json"; nullopt for anything else.
std::optional<LogFormat> ParseLogFormat(std::string_view name);

// The name a line shows for `level`, the same --log-level takes: "trace", "debug", "info",
// "warn", "error" (critical shows as "error"; fleetd has no level above it).
std::string_view LevelName(spdlog::level::level_enum level);

// A formatter writing `format`'s lines, each ending in "\n". Thread-compatible, as spdlog
// requires of formatters (each sink holds its own under its lock).
std::unique_ptr<spdlog::formatter> MakeLogFormatter(LogFormat format);

// Points spdlog's default logger at stderr in `format` at `level`: the one setup of fleetd's
// logs, called again when the flags are known. Not thread-safe against concurrent logging.
void SetUpStderrLog(LogFormat format, spdlog::level::level_enum level);

}  // namespace fleet

#endif  // FLEETD_COMMON_LOG_FORMAT_H_
