#include "server/app/connection_summary.h"

namespace fleet::server {

ConnectionSummary::ConnectionSummary(AgentHub& hub, absl::Duration interval)
    : hub_(hub), interval_(interval), thread_([this] { Run(); }) {}

ConnectionSummary::~ConnectionSummary() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void ConnectionSummary::LogNow() {
  AgentConnectionLog::LogSummary(hub_.size(), hub_.connection_log().Take());
}

void ConnectionSummary::Run() {
  absl::MutexLock lock(&mu_);
  auto stopping = [this] {
    mu_.AssertHeld();
    return stopping_;
  };
  while (!mu_.AwaitWithTimeout(absl::Condition(&stopping), interval_)) {
    mu_.Unlock();
    LogNow();
    mu_.Lock();
  }
}

}  // namespace fleet::server
