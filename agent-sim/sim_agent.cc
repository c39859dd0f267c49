#include "agent-sim/sim_agent.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace fleet::agent {
namespace {

using google::protobuf::util::TimeUtil;

// Rows per result message: well under the 1 MiB fleetd takes (agent.proto, QueryResult).
constexpr size_t kRowsBytesPerResult = 512 * 1024;
// agent.proto, Hello.agent_version.
constexpr size_t kMaxVersionBytes = 64;
// Bounds of SimBehavior.
constexpr int kMaxProgressSteps = 100;
constexpr int kMaxQueryRows = 1'000'000;

absl::Time ToTime(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(timestamp));
}

v1::ActionStatus StatusOf(const std::string& id, v1::ActionStatus::State state, int progress,
                          std::string message) {
  v1::ActionStatus status;
  status.set_id(id);
  status.set_state(state);
  status.set_progress_percent(progress);
  status.set_message(std::move(message));
  return status;
}

bool Restarts(const std::string& type) { return type == "upgrade" || type == "restart"; }

}  // namespace

absl::Status ValidateBehavior(const SimBehavior& behavior) {
  const auto is_delay = [](absl::Duration d) {
    return d >= absl::ZeroDuration() && d != absl::InfiniteDuration();
  };
  const auto is_rate = [](double rate) { return rate >= 0.0 && rate <= 1.0; };
  if (!is_delay(behavior.action_duration)) {
    return absl::InvalidArgumentError("--action-duration must be zero or a finite duration");
  }
  if (behavior.action_progress_steps < 0 || behavior.action_progress_steps > kMaxProgressSteps) {
    return absl::InvalidArgumentError("--action-progress-steps must be between 0 and 100");
  }
  if (!is_rate(behavior.action_failure_rate)) {
    return absl::InvalidArgumentError("--action-failure-rate must be between 0 and 1");
  }
  if (!is_delay(behavior.query_latency)) {
    return absl::InvalidArgumentError("--query-latency must be zero or a finite duration");
  }
  if (!is_rate(behavior.query_error_rate)) {
    return absl::InvalidArgumentError("--query-error-rate must be between 0 and 1");
  }
  if (behavior.query_rows < 0 || behavior.query_rows > kMaxQueryRows) {
    return absl::InvalidArgumentError("--query-rows must be between 0 and 1000000");
  }
  return absl::OkStatus();
}

bool IsSimActionType(const std::string& type) {
  return type == "upgrade" || type == "restart" || type == "unenroll" || type == "diagnostics" ||
         type == "custom";
}

SimActivityCounts SimActivity::Counts() const {
  return {.actions_received = actions_received.load(),
          .actions_repeated = actions_repeated.load(),
          .actions_succeeded = actions_succeeded.load(),
          .actions_failed = actions_failed.load(),
          .actions_rejected = actions_rejected.load(),
          .actions_cancelled = actions_cancelled.load(),
          .queries_received = queries_received.load(),
          .queries_answered = queries_answered.load(),
          .queries_errored = queries_errored.load(),
          .queries_dropped = queries_dropped.load()};
}

SimAgent::SimAgent(std::string hostname, const SimBehavior& behavior, uint64_t seed,
                   TaskScheduler& scheduler, SimActivity& activity)
    : hostname_(std::move(hostname)),
      hostname_json_(nlohmann::json(hostname_).dump()),
      behavior_(behavior),
      scheduler_(scheduler),
      activity_(activity),
      rng_(seed) {}

void SimAgent::Attach(AgentOutbox& outbox) { outbox_ = &outbox; }

std::string SimAgent::version() const {
  absl::MutexLock lock(&mu_);
  return version_;
}

v1::ActionStatus SimAgent::OnAction(const v1::AgentAction& action) {
  ++activity_.actions_received;
  const auto reject = [&](std::string message) {
    ++activity_.actions_rejected;
    return StatusOf(action.id(), v1::ActionStatus::REJECTED, 0, std::move(message));
  };
  if (!IsSimActionType(action.type())) {
    return reject(absl::StrCat("agent-sim does not run actions of type \"", action.type(),
                               "\" (it runs upgrade, restart, unenroll, diagnostics, custom)"));
  }
  const absl::Time now = scheduler_.Now();
  if (action.has_expires_at() && ToTime(action.expires_at()) < now) {
    return reject("expired before it could start");
  }
  Running running{.type = action.type()};
  if (action.type() == "upgrade") {
    const nlohmann::json arguments =
        nlohmann::json::parse(action.arguments_json(), nullptr, /*allow_exceptions=*/false);
    const bool valid = arguments.is_object() && arguments.contains("version") &&
                       arguments["version"].is_string() &&
                       !arguments["version"].get<std::string>().empty() &&
                       arguments["version"].get<std::string>().size() <= kMaxVersionBytes;
    if (!valid) return reject("upgrade needs arguments.version, a string of 1 to 64 bytes");
    running.version = arguments["version"].get<std::string>();
  }
  running.start = action.has_not_before() ? std::max(now, ToTime(action.not_before())) : now;
  const absl::Time first = StepTime(running.start, 1);
  {
    absl::MutexLock lock(&mu_);
    // Done the moment it comes (no duration, no steps, no restart): answered with its final
    // status alone, as agent.proto allows, rather than ACCEPTED and the end right after it.
    if (first <= now && behavior_.action_progress_steps == 0 && !Restarts(running.type)) {
      const bool fails = std::bernoulli_distribution(behavior_.action_failure_rate)(rng_);
      return Finished(action.id(), running, fails);
    }
    running_.insert_or_assign(action.id(), std::move(running));
  }
  scheduler_.At(first, [this, id = action.id()] { Step(id); });
  return StatusOf(action.id(), v1::ActionStatus::ACCEPTED, 0, "accepted by agent-sim");
}

absl::Time SimAgent::StepTime(absl::Time start, int step) const {
  const int64_t parts = behavior_.action_progress_steps + 1;
  return start + behavior_.action_duration * std::min<int64_t>(step, parts) / parts;
}

void SimAgent::Step(const std::string& id) {
  std::optional<v1::ActionStatus> report;
  std::optional<std::string> restart_as;
  {
    absl::MutexLock lock(&mu_);
    const auto it = running_.find(id);
    // Cancelled meanwhile.
    if (it == running_.end()) return;
    Running& running = it->second;
    const int steps = behavior_.action_progress_steps;
    if (running.steps_done < steps) {
      ++running.steps_done;
      report = StatusOf(id, v1::ActionStatus::RUNNING, 100 * running.steps_done / (steps + 1),
                        absl::StrCat("step ", running.steps_done, " of ", steps + 1));
      scheduler_.At(StepTime(running.start, running.steps_done + 1), [this, id] { Step(id); });
    } else if (const bool fails = std::bernoulli_distribution(behavior_.action_failure_rate)(rng_);
               !fails && Restarts(running.type)) {
      // It succeeds once the agent is back (OnConnected).
      const std::string version = running.type == "upgrade" ? running.version : version_;
      restarting_.push_back({.id = id, .version = version});
      running_.erase(it);
      restart_as = version;
    } else {
      const Running finished = std::move(running);
      running_.erase(it);
      report = Finished(id, finished, fails);
    }
  }
  // Outside the lock: the connection's lock is taken inside, and its handlers take ours.
  if (report.has_value()) Report(*std::move(report));
  if (restart_as.has_value()) outbox_->Restart(*std::move(restart_as));
}

v1::ActionStatus SimAgent::Finished(const std::string& id, const Running& running, bool fails) {
  if (fails) {
    ++activity_.actions_failed;
    return StatusOf(id, v1::ActionStatus::FAILED, 100, "simulated failure");
  }
  v1::ActionStatus done = StatusOf(
      id, v1::ActionStatus::SUCCEEDED, 100,
      running.type == "unenroll" ? "simulated: the agent keeps running" : "done by agent-sim");
  if (running.type == "diagnostics") {
    done.set_output(nlohmann::json{
        {"host", hostname_}, {"version", version_}, {"actions_running", running_.size()}}
                        .dump());
  }
  ++activity_.actions_succeeded;
  return done;
}

void SimAgent::Report(v1::ActionStatus status) {
  // NOT_FOUND or FAILED_PRECONDITION would mean the simulator answered an action it was not
  // sent, or twice: the connection keeps either from going out, and there is nothing to redo.
  outbox_->ReportAction(std::move(status)).IgnoreError();
}

std::optional<v1::ActionStatus> SimAgent::OnCancel(const std::string& id) {
  absl::MutexLock lock(&mu_);
  // Restarting (or unknown): too late to stop; its final state follows.
  if (running_.erase(id) == 0) return std::nullopt;
  ++activity_.actions_cancelled;
  return StatusOf(id, v1::ActionStatus::CANCELLED, 0, "cancelled before it finished");
}

void SimAgent::OnConnected() {
  std::vector<Restarting> back;
  {
    absl::MutexLock lock(&mu_);
    if (restarting_.empty()) return;
    back.swap(restarting_);
    version_ = back.back().version;
  }
  // Reported from a task: this runs inside the connection's event, where reporting would
  // deadlock.
  for (Restarting& restarted : back) {
    scheduler_.At(scheduler_.Now(), [this, restarted = std::move(restarted)] {
      ++activity_.actions_succeeded;
      Report(StatusOf(restarted.id, v1::ActionStatus::SUCCEEDED, 100,
                      restarted.version.empty()
                          ? "restarted"
                          : absl::StrCat("restarted as version ", restarted.version)));
    });
  }
}

void SimAgent::OnRepeated() { ++activity_.actions_repeated; }

std::optional<v1::QueryResult> SimAgent::OnQuery(const v1::AgentQuery& query) {
  ++activity_.queries_received;
  if (behavior_.query_latency <= absl::ZeroDuration()) {
    // An answer at once that fits in one result is the handler's own return: no task, no hop.
    bool error = false;
    auto results = std::make_shared<std::vector<v1::QueryResult>>(AnswerOf(query.id(), error));
    if (results->size() == 1) {
      ++(error ? activity_.queries_errored : activity_.queries_answered);
      return std::move(results->front());
    }
    scheduler_.At(scheduler_.Now(), [this, results, error] { Send(*results, error); });
    return std::nullopt;
  }
  scheduler_.At(scheduler_.Now() + behavior_.query_latency,
                [this, id = query.id()] { Answer(id); });
  return std::nullopt;
}

std::vector<v1::QueryResult> SimAgent::AnswerOf(const std::string& id, bool& error) {
  {
    absl::MutexLock lock(&mu_);
    error = std::bernoulli_distribution(behavior_.query_error_rate)(rng_);
  }
  std::vector<v1::QueryResult> results;
  if (error) {
    results.emplace_back();
    results.back().set_id(id);
    results.back().set_error("simulated query error");
    results.back().set_last(true);
  } else {
    results = Rows(id);
  }
  const google::protobuf::Duration took =
      TimeUtil::MicrosecondsToDuration(absl::ToInt64Microseconds(behavior_.query_latency));
  for (v1::QueryResult& result : results) *result.mutable_duration() = took;
  return results;
}

void SimAgent::Answer(const std::string& id) {
  bool error = false;
  std::vector<v1::QueryResult> results = AnswerOf(id, error);
  Send(results, error);
}

void SimAgent::Send(std::vector<v1::QueryResult>& results, bool error) {
  for (v1::QueryResult& result : results) {
    // The stream ended or the deadline passed: the rest would be dropped as well.
    if (!outbox_->SendQueryResult(std::move(result)).ok()) {
      ++activity_.queries_dropped;
      return;
    }
  }
  ++(error ? activity_.queries_errored : activity_.queries_answered);
}

std::vector<v1::QueryResult> SimAgent::Rows(const std::string& id) const {
  std::vector<v1::QueryResult> results;
  std::string rows = "[";
  const auto flush = [&](bool last) {
    rows.push_back(']');
    v1::QueryResult& result = results.emplace_back();
    result.set_id(id);
    result.set_rows_json(std::move(rows));
    result.set_last(last);
    rows.assign(1, '[');
  };
  for (int i = 0; i < behavior_.query_rows; ++i) {
    if (rows.size() > 1) rows.push_back(',');
    absl::StrAppend(&rows, "{\"host\":", hostname_json_, ",\"n\":", i, "}");
    if (rows.size() >= kRowsBytesPerResult && i + 1 < behavior_.query_rows) flush(false);
  }
  flush(true);
  return results;
}

}  // namespace fleet::agent
