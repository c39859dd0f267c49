#include "common/log_fields.h"

#include "spdlog/spdlog.h"

namespace fleet {
namespace {

thread_local absl::Span<const LogField> current_fields;

}  // namespace

void LogEvent(spdlog::level::level_enum level, std::string_view message,
              absl::Span<const LogField> fields) {
  spdlog::logger& logger = *spdlog::default_logger_raw();
  if (!logger.should_log(level)) return;
  // Restored rather than cleared, should a sink ever log from inside a format.
  const absl::Span<const LogField> outer = current_fields;
  current_fields = fields;
  logger.log(level, spdlog::string_view_t(message.data(), message.size()));
  current_fields = outer;
}

absl::Span<const LogField> CurrentLogFields() { return current_fields; }

}  // namespace fleet
