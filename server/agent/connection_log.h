// What the log says of agent streams: a debug line for each connect and disconnect, and counts
// for the summary line at info that fleetd writes every minute (connected now, connects and
// disconnects since the last summary), so that at info a fleet of thousands is a line a minute.
#ifndef FLEETD_SERVER_AGENT_CONNECTION_LOG_H_
#define FLEETD_SERVER_AGENT_CONNECTION_LOG_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fleet::server {

// Thread-safe; lock-free, as it runs on completion-queue threads.
class AgentConnectionLog {
 public:
  // A stream of `agent_id` on `policy` started.
  void Connected(std::string_view agent_id, std::string_view policy);
  // A stream of `agent_id` ended; `replaced` when a newer stream of the agent had taken over.
  void Disconnected(std::string_view agent_id, bool replaced);

  struct Counts {
    int64_t connects = 0;
    int64_t disconnects = 0;
  };
  // The counts since the last call, which start again from zero.
  Counts Take();

  // Writes the summary line at info: `connected` streams now, and `counts`.
  static void LogSummary(size_t connected, Counts counts);

 private:
  std::atomic<int64_t> connects_{0};
  std::atomic<int64_t> disconnects_{0};
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_AGENT_CONNECTION_LOG_H_
