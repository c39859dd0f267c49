#include "server/agent/connection_log.h"

#include "common/log_fields.h"
#include "spdlog/spdlog.h"

namespace fleet::server {

void AgentConnectionLog::Connected(std::string_view agent_id, std::string_view policy) {
  connects_.fetch_add(1, std::memory_order_relaxed);
  LogEvent(spdlog::level::debug, "agent connected", {{"agent_id", agent_id}, {"policy", policy}});
}

void AgentConnectionLog::Disconnected(std::string_view agent_id, bool replaced) {
  disconnects_.fetch_add(1, std::memory_order_relaxed);
  LogEvent(spdlog::level::debug, "agent disconnected",
           {{"agent_id", agent_id}, {"replaced", replaced}});
}

AgentConnectionLog::Counts AgentConnectionLog::Take() {
  return Counts{.connects = connects_.exchange(0, std::memory_order_relaxed),
                .disconnects = disconnects_.exchange(0, std::memory_order_relaxed)};
}

void AgentConnectionLog::LogSummary(size_t connected, Counts counts) {
  LogEvent(spdlog::level::info, "agent connections",
           {{"connected", connected},
            {"connects", counts.connects},
            {"disconnects", counts.disconnects}});
}

}  // namespace fleet::server
