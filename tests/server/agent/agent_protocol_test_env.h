// The test environment of AgentProtocol's unit tests (agent_protocol_test.cc: the rules of the
// Connect stream; agent_protocol_untrusted_test.cc: what an agent may not do to its state): a
// fake update source, message builders, and a fixture with a real AgentStateTracker on a
// MemoryStore and a manual clock.
#ifndef FLEETD_TESTS_SERVER_AGENT_AGENT_PROTOCOL_TEST_ENV_H_
#define FLEETD_TESTS_SERVER_AGENT_AGENT_PROTOCOL_TEST_ENV_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/utf8.h"
#include "gtest/gtest.h"
#include "server/agent/agent_protocol.h"
#include "server/model/store_layout.h"
#include "storage/memory_store.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {

using Kind = AgentProtocol::Action::Kind;

inline constexpr char kAgent[] = "0123456789ab";
inline constexpr absl::Duration kHeartbeat = absl::Seconds(15);

// The hash of a revision's content, as the fake source and a good agent compute it.
inline std::string Sha(const std::string& policy, int64_t revision) {
  return absl::StrCat(policy, "@", revision);
}

// Updates as the PolicyEngine hands them out: to the latest revision, a DELTA from the agent's
// revision when it is on the policy with the right hash, else FULL; each (policy, base, target)
// prepared once and shared. Used from the test's thread only.
class FakeUpdateSource final : public UpdateSource {
 public:
  void Commit(const std::string& policy, int64_t revision) { latest_[policy] = revision; }
  // Updates prepared from now on say they were committed at `time` (by default they say nothing).
  void CommitTime(absl::Time time) { commit_time_ = time; }
  // UpdateFor answers `status` (OK: updates again).
  void FailWith(absl::Status status) { failure_ = std::move(status); }
  // Runs `hook` inside the next UpdateFor, before it answers.
  void DuringNextAsk(std::function<void()> hook) { hook_ = std::move(hook); }
  int asks() const { return asks_; }

  absl::StatusOr<PreparedUpdatePtr> UpdateFor(const std::string& policy,
                                              const AgentPosition& from) override {
    ++asks_;
    if (hook_ != nullptr) std::exchange(hook_, nullptr)();
    if (!failure_.ok()) return failure_;
    auto latest = latest_.find(policy);
    if (latest == latest_.end()) return absl::NotFoundError(policy);
    const int64_t target = latest->second;
    const bool delta = from.policy == policy && !from.needs_full && from.revision > 0 &&
                       from.revision <= target && from.sha256 == Sha(policy, from.revision);
    if (delta && from.revision == target) return nullptr;
    const int64_t base = delta ? from.revision : 0;
    PreparedUpdatePtr& prepared = prepared_[{policy, base, target}];
    if (prepared == nullptr) prepared = Prepare(policy, base, target, commit_time_);
    return prepared;
  }

 private:
  static PreparedUpdatePtr Prepare(const std::string& policy, int64_t base, int64_t target,
                                   std::optional<absl::Time> commit_time) {
    auto prepared = std::make_shared<PreparedUpdate>();
    prepared->from_revision = base;
    v1::PolicyUpdate& update = prepared->update;
    update.set_kind(base == 0 ? v1::PolicyUpdate::FULL : v1::PolicyUpdate::DELTA);
    update.set_policy(policy);
    update.set_base_revision(base);
    update.set_target_revision(target);
    update.set_sha256(Sha(policy, target));
    if (commit_time.has_value()) {
      update.mutable_commit_time()->set_seconds(absl::ToUnixSeconds(*commit_time));
    }
    v1::ServerMessage message;
    *message.mutable_policy_update() = update;
    prepared->serialized_message = message.SerializeAsString();
    return prepared;
  }

  std::map<std::string, int64_t> latest_;
  std::map<std::tuple<std::string, int64_t, int64_t>, PreparedUpdatePtr> prepared_;
  std::optional<absl::Time> commit_time_;
  absl::Status failure_;
  std::function<void()> hook_;
  int asks_ = 0;
};

inline v1::AgentMessage Hello(const std::string& policy, int64_t revision) {
  v1::AgentMessage message;
  message.mutable_hello()->set_policy(policy);
  message.mutable_hello()->set_applied_revision(revision);
  if (revision != 0) message.mutable_hello()->set_applied_sha256(Sha(policy, revision));
  return message;
}

inline v1::AgentMessage Ack(int64_t revision, const std::string& sha256) {
  v1::AgentMessage message;
  message.mutable_ack()->set_revision(revision);
  message.mutable_ack()->set_sha256(sha256);
  return message;
}

inline v1::AgentMessage Nack(int64_t revision, const std::string& reason, bool needs_full = false) {
  v1::AgentMessage message;
  message.mutable_nack()->set_revision(revision);
  message.mutable_nack()->set_reason(reason);
  message.mutable_nack()->set_needs_full(needs_full);
  return message;
}

inline v1::AgentMessage Heartbeat() {
  v1::AgentMessage message;
  message.mutable_heartbeat();
  return message;
}

// The message `action` writes; an empty one when it writes nothing.
inline v1::ServerMessage Written(const AgentProtocol::Action& action) {
  v1::ServerMessage message;
  EXPECT_EQ(action.kind, Kind::kWrite);
  if (action.kind == Kind::kWrite) {
    EXPECT_TRUE(message.ParseFromString(*action.bytes));
  }
  return message;
}

// The update `action` writes; an empty one when it writes none.
inline v1::PolicyUpdate WrittenUpdate(const AgentProtocol::Action& action) {
  v1::ServerMessage message = Written(action);
  EXPECT_TRUE(message.has_policy_update()) << message.ShortDebugString();
  return message.policy_update();
}

inline void ExpectNothing(const AgentProtocol::Action& action) {
  EXPECT_EQ(action.kind, Kind::kNone);
}

inline void ExpectFinish(const AgentProtocol::Action& action, absl::StatusCode code) {
  EXPECT_EQ(action.kind, Kind::kFinish);
  EXPECT_EQ(action.status.code(), code) << action.status;
}

class AgentProtocolTest : public ::testing::Test {
 protected:
  AgentProtocolTest() { updates_.Commit("p", 1); }

  // Says Hello and lands the Welcome: returns what follows it (the update, if any).
  AgentProtocol::Action Open(const v1::AgentMessage& hello) {
    AgentProtocol::ReadOutcome outcome = protocol_.OnMessage(hello);
    EXPECT_TRUE(outcome.read_next);
    EXPECT_TRUE(Written(outcome.action).has_welcome());
    return protocol_.OnWriteDone(true);
  }

  // Opens the stream of an agent at p@1, the latest revision, then commits `revision` and
  // delivers its DELTA: returns it.
  v1::PolicyUpdate AtOneThenDeliver(int64_t revision) {
    ExpectNothing(Open(Hello("p", 1)));
    updates_.Commit("p", revision);
    v1::PolicyUpdate update = WrittenUpdate(protocol_.OnPolicyChanged());
    ExpectNothing(protocol_.OnWriteDone(true));
    return update;
  }

  // The agent's message, which must keep the stream reading and write nothing.
  void Say(const v1::AgentMessage& message) {
    AgentProtocol::ReadOutcome outcome = protocol_.OnMessage(message);
    EXPECT_TRUE(outcome.read_next) << message.ShortDebugString();
    ExpectNothing(outcome.action);
  }

  // The agent's state as the next flush writes it; nullopt when none is written.
  std::optional<record::AgentStatusRecord> Stored() {
    EXPECT_OK(state_.Flush());
    absl::StatusOr<std::vector<std::pair<std::string, std::string>>> range =
        store_->RangeState(layout::AgentStatusKey(kAgent));
    EXPECT_OK(range);
    if (!range.ok() || range->empty()) return std::nullopt;
    record::AgentStatusRecord state;
    EXPECT_TRUE(state.ParseFromString(range->front().second));
    return state;
  }

  std::unique_ptr<storage::Store> store_ = storage::NewMemoryStore();
  ManualClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  // Flushes only when asked.
  AgentStateTracker state_{*store_, clock_, {.flush_interval = absl::Hours(1)}};
  FakeUpdateSource updates_;
  AgentProtocolDeps Deps() {
    return {
        .updates = updates_, .state = state_, .clock = clock_, .heartbeat_interval = kHeartbeat};
  }

  AgentProtocol protocol_{Deps(), kAgent, "p"};
};

}  // namespace fleet::server

#endif  // FLEETD_TESTS_SERVER_AGENT_AGENT_PROTOCOL_TEST_ENV_H_
