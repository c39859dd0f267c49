// ActionEngine on a MemoryStore with a ManualClock: actions committed as CreateAction commits
// them reach their targets' mailboxes in rollout order, deliveries and reports move the targets'
// states (never backwards, never out of a final state), cancel and expiry end what is not final,
// the counts always add up, and results survive a restart of the engine, written in batches.
#include "server/control/action_engine.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fleet/v1/agent.pb.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "server/control/action_states.h"
#include "server/control/agent_mailbox.h"
#include "server/model/action_record.h"
#include "server/model/records.pb.h"
#include "server/model/store_layout.h"
#include "storage/memory_store.h"
#include "storage/store_wrapper.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

using google::protobuf::util::TimeUtil;

constexpr absl::Duration kWait = absl::Seconds(10);
// Results are written only when the test flushes (or the engine stops).
constexpr ActionEngineOptions kManualFlush{.flush_interval = absl::Hours(1),
                                           .expiry_poll = absl::Hours(1)};

std::vector<std::string> Agents(int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back(absl::StrFormat("a%011d", i));
  return ids;
}

v1::ActionStatus Status(const std::string& id, v1::ActionStatus::State state, int progress = 0,
                        const std::string& message = "") {
  v1::ActionStatus status;
  status.set_id(id);
  status.set_state(state);
  status.set_progress_percent(progress);
  status.set_message(message);
  return status;
}

// Counts PutState calls and the puts of each.
class CountingStore : public storage::StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;
  absl::Status PutState(const std::vector<std::pair<std::string, std::string>>& puts,
                        const std::vector<std::string>& deletes) override {
    calls.fetch_add(1);
    size_t seen = largest.load();
    while (puts.size() > seen && !largest.compare_exchange_weak(seen, puts.size())) {
    }
    return StoreWrapper::PutState(puts, deletes);
  }
  std::atomic<int> calls{0};
  std::atomic<size_t> largest{0};
};

class ActionEngineTest : public ::testing::Test {
 protected:
  ActionEngineTest() { Restart(); }
  ~ActionEngineTest() override { engine_.reset(); }

  // A new engine on the same store (the old one stopped first, writing its results).
  void Restart() {
    engine_.reset();
    engine_ = std::make_unique<ActionEngine>(store_, clock_, mailbox_, kManualFlush);
    ASSERT_OK(engine_->Start());
  }

  // Commits an action as CreateAction does and waits until the engine has it.
  void Create(const std::string& id, const std::vector<std::string>& agents,
              absl::Duration rollout = absl::ZeroDuration(),
              absl::Duration expires_in = absl::Hours(1)) {
    v1::Action action;
    action.set_id(id);
    action.set_type("restart");
    action.set_arguments_json("{}");
    *action.mutable_created_at() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(Now()));
    *action.mutable_expires_at() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(Now() + expires_in));
    *action.mutable_rollout_duration() =
        TimeUtil::MicrosecondsToDuration(absl::ToInt64Microseconds(rollout));
    absl::StatusOr<storage::TxnResult> result =
        store_.Txn({.success = ActionRecordOps(action, agents)});
    ASSERT_OK(result.status());
    ASSERT_TRUE(engine_->WaitForRevision(result->revision, kWait));
  }

  // Commits a cancel as CancelAction does.
  void Cancel(const std::string& id) {
    absl::StatusOr<std::optional<storage::KeyValue>> kv = store_.Get(layout::ActionKey(id));
    ASSERT_OK(kv.status());
    ASSERT_TRUE(kv->has_value());
    record::ActionRecord head;
    ASSERT_TRUE(head.ParseFromString((*kv)->value));
    *head.mutable_action()->mutable_cancelled_at() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(Now()));
    absl::StatusOr<storage::TxnResult> result = store_.Txn(
        {.success = {storage::Op::Put(layout::ActionKey(id), head.SerializeAsString())}});
    ASSERT_OK(result.status());
    ASSERT_TRUE(engine_->WaitForRevision(result->revision, kWait));
  }

  absl::Time Now() { return clock_.Now(); }

  // The next mail for `agent` after `after` due now: its kind and the message.
  std::optional<std::pair<Mail::Kind, v1::ServerMessage>> NextMail(const std::string& agent,
                                                                   uint64_t after = 0,
                                                                   uint64_t* seq = nullptr) {
    std::optional<AgentMailbox::Posted> posted = mailbox_.Next(agent, after);
    if (!posted.has_value()) return std::nullopt;
    if (seq != nullptr) *seq = posted->seq;
    v1::ServerMessage message;
    EXPECT_TRUE(message.ParseFromString(*posted->mail->bytes));
    return std::pair(posted->mail->kind, message);
  }

  // Hands the agent's next mail to the engine as its stream's write would.
  void Deliver(const std::string& agent) {
    std::optional<AgentMailbox::Posted> posted = mailbox_.Next(agent, 0);
    ASSERT_TRUE(posted.has_value()) << agent;
    ASSERT_NE(posted->mail->sender, nullptr);
    posted->mail->sender->Delivered(agent, *posted->mail);
  }

  v1::ActionTargetState StateOf(const std::string& action, const std::string& agent) {
    std::optional<ActionTargetPage> page =
        engine_->Targets(action, v1::ACTION_TARGET_STATE_UNSPECIFIED, "", 100'000);
    EXPECT_TRUE(page.has_value());
    if (!page.has_value()) return v1::ACTION_TARGET_STATE_UNSPECIFIED;
    for (const ActionTargetView& target : page->targets) {
      if (target.agent_id == agent) return target.state;
    }
    ADD_FAILURE() << agent << " is no target";
    return v1::ACTION_TARGET_STATE_UNSPECIFIED;
  }

  // The action's counts, checked to add up.
  v1::ActionCounts Counts(const std::string& id) {
    std::optional<v1::Action> action = engine_->Get(id);
    EXPECT_TRUE(action.has_value());
    if (!action.has_value()) return {};
    const v1::ActionCounts& c = action->counts();
    EXPECT_EQ(c.pending() + c.delivered() + c.running() + c.succeeded() + c.failed() +
                  c.rejected() + c.expired() + c.cancelled(),
              c.targets());
    return c;
  }

  std::unique_ptr<storage::Store> memory_ = storage::NewMemoryStore();
  CountingStore store_{*memory_};
  ManualClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  AgentMailbox mailbox_{clock_};
  std::unique_ptr<ActionEngine> engine_;
};

// Every target gets the action at once (one shared serialization), no one else does.
TEST_F(ActionEngineTest, PostsTheActionToEveryTargetAndNoOther) {
  Create("aaaaaaaaaaaa", {"a1", "a2"});
  for (const std::string agent : {"a1", "a2"}) {
    auto mail = NextMail(agent);
    ASSERT_TRUE(mail.has_value()) << agent;
    EXPECT_EQ(mail->first, Mail::Kind::kAction);
    EXPECT_EQ(mail->second.action().id(), "aaaaaaaaaaaa");
    EXPECT_EQ(mail->second.action().type(), "restart");
    EXPECT_EQ(mail->second.action().arguments_json(), "{}");
    EXPECT_EQ(TimeUtil::TimestampToMicroseconds(mail->second.action().expires_at()),
              absl::ToUnixMicros(Now() + absl::Hours(1)));
  }
  EXPECT_FALSE(NextMail("a3").has_value());
  EXPECT_EQ(Counts("aaaaaaaaaaaa").pending(), 2);
}

// With a rollout, target i of n becomes due at created_at + rollout * i / n, in order.
TEST_F(ActionEngineTest, RolloutSpreadsTheTargetsStartTimes) {
  const std::vector<std::string> agents = Agents(4);
  const absl::Time created = Now();
  Create("aaaaaaaaaaab", agents, absl::Seconds(40));
  std::optional<ActionTargetPage> page =
      engine_->Targets("aaaaaaaaaaab", v1::ACTION_TARGET_STATE_UNSPECIFIED, "", 10);
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->targets.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(page->targets[i].start_at, created + absl::Seconds(10 * i));
  }
  for (int step = 0; step < 4; ++step) {
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(NextMail(agents[i]).has_value(), i <= step) << "step " << step << " agent " << i;
    }
    clock_.Advance(absl::Seconds(10));
    mailbox_.WakeDue();
  }
}

// A write completed on a stream makes a pending target delivered; the same stream's cursor does
// not get it again, a new stream does.
TEST_F(ActionEngineTest, DeliveryMovesPendingToDeliveredOnce) {
  Create("aaaaaaaaaaac", {"a1", "a2"});
  uint64_t seq = 0;
  ASSERT_TRUE(NextMail("a1", 0, &seq).has_value());
  Deliver("a1");
  EXPECT_EQ(StateOf("aaaaaaaaaaac", "a1"), v1::ACTION_TARGET_DELIVERED);
  EXPECT_EQ(StateOf("aaaaaaaaaaac", "a2"), v1::ACTION_TARGET_PENDING);
  EXPECT_FALSE(NextMail("a1", seq).has_value());  // not again on the stream that wrote it
  EXPECT_TRUE(NextMail("a1", 0).has_value());     // again on a new stream: not final yet
  Deliver("a1");                                  // a second write changes nothing
  const v1::ActionCounts counts = Counts("aaaaaaaaaaac");
  EXPECT_EQ(counts.delivered(), 1);
  EXPECT_EQ(counts.pending(), 1);
}

// Reports move a target forward; one that would move it backwards keeps the state but its
// progress and message are taken; after a final state nothing changes, and its mail is gone.
TEST_F(ActionEngineTest, ReportsMoveForwardOnlyAndFinalStatesStay) {
  const std::string id = "aaaaaaaaaaad";
  Create(id, {"a1"});
  ASSERT_OK(engine_->ActionStatusReported("a1", Status(id, v1::ActionStatus::ACCEPTED)));
  EXPECT_EQ(StateOf(id, "a1"), v1::ACTION_TARGET_DELIVERED);
  ASSERT_OK(engine_->ActionStatusReported("a1", Status(id, v1::ActionStatus::RUNNING, 40)));
  ASSERT_OK(engine_->ActionStatusReported("a1", Status(id, v1::ActionStatus::ACCEPTED, 50, "x")));
  auto page = engine_->Targets(id, v1::ACTION_TARGET_STATE_UNSPECIFIED, "", 10);
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->targets[0].state, v1::ACTION_TARGET_RUNNING);
  EXPECT_EQ(page->targets[0].progress_percent, 50);
  EXPECT_EQ(page->targets[0].message, "x");
  ASSERT_OK(engine_->ActionStatusReported("a1", Status(id, v1::ActionStatus::SUCCEEDED, 100)));
  ASSERT_OK(engine_->ActionStatusReported("a1", Status(id, v1::ActionStatus::FAILED)));
  EXPECT_EQ(StateOf(id, "a1"), v1::ACTION_TARGET_SUCCEEDED);
  EXPECT_FALSE(NextMail("a1").has_value());
  std::optional<v1::Action> action = engine_->Get(id);
  ASSERT_TRUE(action.has_value());
  EXPECT_TRUE(action->done());
  EXPECT_EQ(ActionStateOf(*action), v1::ACTION_STATE_DONE);
}

// Reports of an agent that is no target, or of an unknown action, are NOT_FOUND.
TEST_F(ActionEngineTest, ReportsFromNonTargetsAreNotFound) {
  Create("aaaaaaaaaaae", {"a1"});
  EXPECT_EQ(engine_->ActionStatusReported("a2", Status("aaaaaaaaaaae", v1::ActionStatus::ACCEPTED))
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(engine_->ActionStatusReported("a1", Status("bbbbbbbbbbbb", v1::ActionStatus::ACCEPTED))
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(Counts("aaaaaaaaaaae").pending(), 1);
}

// A cancel before delivery: undelivered targets are cancelled and never get the action.
TEST_F(ActionEngineTest, CancelBeforeDeliveryStopsUndeliveredTargets) {
  const std::string id = "aaaaaaaaaaaf";
  const std::vector<std::string> agents = Agents(3);
  Create(id, agents, absl::Seconds(30));  // only the first is due
  Deliver(agents[0]);
  Cancel(id);
  EXPECT_EQ(StateOf(id, agents[0]), v1::ACTION_TARGET_DELIVERED);
  EXPECT_EQ(StateOf(id, agents[1]), v1::ACTION_TARGET_CANCELLED);
  EXPECT_EQ(StateOf(id, agents[2]), v1::ACTION_TARGET_CANCELLED);
  clock_.Advance(absl::Minutes(1));  // their slots passed: still nothing for them
  mailbox_.WakeDue();
  EXPECT_FALSE(NextMail(agents[1]).has_value());
  EXPECT_FALSE(NextMail(agents[2]).has_value());
  const v1::ActionCounts counts = Counts(id);
  EXPECT_EQ(counts.cancelled(), 2);
  EXPECT_EQ(counts.delivered(), 1);
}

// A cancel after delivery: the target gets an ActionCancel instead of the action; it stays
// delivered until the agent answers, CANCELLED or its final state.
TEST_F(ActionEngineTest, CancelAfterDeliverySendsActionCancel) {
  const std::string id = "aaaaaaaaaab0";
  Create(id, {"a1", "a2"});
  Deliver("a1");
  Deliver("a2");
  Cancel(id);
  for (const std::string agent : {"a1", "a2"}) {
    auto mail = NextMail(agent);
    ASSERT_TRUE(mail.has_value());
    EXPECT_EQ(mail->first, Mail::Kind::kActionCancel);
    EXPECT_EQ(mail->second.action_cancel().id(), id);
    EXPECT_EQ(StateOf(id, agent), v1::ACTION_TARGET_DELIVERED);
  }
  ASSERT_OK(engine_->ActionStatusReported("a1", Status(id, v1::ActionStatus::CANCELLED)));
  ASSERT_OK(engine_->ActionStatusReported("a2", Status(id, v1::ActionStatus::SUCCEEDED)));
  EXPECT_EQ(StateOf(id, "a1"), v1::ACTION_TARGET_CANCELLED);
  EXPECT_EQ(StateOf(id, "a2"), v1::ACTION_TARGET_SUCCEEDED);
  EXPECT_FALSE(NextMail("a1").has_value());
  std::optional<v1::Action> action = engine_->Get(id);
  ASSERT_TRUE(action.has_value());
  EXPECT_TRUE(action->done());
  EXPECT_EQ(ActionStateOf(*action), v1::ACTION_STATE_CANCELLED);
}

// At expires_at what is not final becomes expired, its mail is gone, and late reports are
// ignored; what finished before stays.
TEST_F(ActionEngineTest, ExpiryEndsWhatIsNotFinal) {
  const std::string id = "aaaaaaaaaab1";
  Create(id, {"a1", "a2", "a3"}, absl::ZeroDuration(), absl::Minutes(10));
  ASSERT_OK(engine_->ActionStatusReported("a1", Status(id, v1::ActionStatus::SUCCEEDED)));
  Deliver("a2");
  clock_.Advance(absl::Minutes(10));
  engine_->ExpireDue();
  EXPECT_EQ(StateOf(id, "a1"), v1::ACTION_TARGET_SUCCEEDED);
  EXPECT_EQ(StateOf(id, "a2"), v1::ACTION_TARGET_EXPIRED);
  EXPECT_EQ(StateOf(id, "a3"), v1::ACTION_TARGET_EXPIRED);
  EXPECT_FALSE(NextMail("a3").has_value());
  ASSERT_OK(engine_->ActionStatusReported("a2", Status(id, v1::ActionStatus::SUCCEEDED)));
  EXPECT_EQ(StateOf(id, "a2"), v1::ACTION_TARGET_EXPIRED);
  const v1::ActionCounts counts = Counts(id);
  EXPECT_EQ(counts.expired(), 2);
  EXPECT_EQ(counts.succeeded(), 1);
  std::optional<v1::Action> action = engine_->Get(id);
  ASSERT_TRUE(action.has_value());
  EXPECT_EQ(ActionStateOf(*action), v1::ACTION_STATE_EXPIRED);
}

// An action committed after its expiry (seen late, e.g. after downtime) is never posted.
TEST_F(ActionEngineTest, AnActionSeenAfterItsExpiryIsNeverPosted) {
  const std::string id = "aaaaaaaaaab2";
  Create(id, {"a1"}, absl::ZeroDuration(), absl::Minutes(1));
  clock_.Advance(absl::Minutes(2));
  Restart();
  EXPECT_FALSE(NextMail("a1").has_value());
  EXPECT_EQ(Counts(id).expired(), 1);
}

// Counts add up at every step of a mixed history.
TEST_F(ActionEngineTest, CountsAlwaysAddUp) {
  const std::string id = "aaaaaaaaaab3";
  const std::vector<std::string> agents = Agents(50);
  Create(id, agents);
  const v1::ActionStatus::State states[] = {
      v1::ActionStatus::ACCEPTED, v1::ActionStatus::RUNNING,  v1::ActionStatus::SUCCEEDED,
      v1::ActionStatus::FAILED,   v1::ActionStatus::REJECTED, v1::ActionStatus::CANCELLED};
  for (int i = 0; i < 50; ++i) {
    if (i % 3 == 0 && NextMail(agents[i]).has_value()) Deliver(agents[i]);
    ASSERT_OK(engine_->ActionStatusReported(agents[i], Status(id, states[i % 6])));
    ASSERT_OK(engine_->ActionStatusReported(agents[(i * 7) % 50], Status(id, states[(i + 1) % 6])));
    Counts(id);
  }
  Cancel(id);
  Counts(id);
  clock_.Advance(absl::Hours(2));
  engine_->ExpireDue();
  const v1::ActionCounts counts = Counts(id);
  EXPECT_EQ(counts.targets(), 50);
  EXPECT_EQ(counts.pending() + counts.delivered() + counts.running(), 0);
}

// Results written by one engine are what the next one on the same store starts from; an
// unfinished target gets the action again, a finished one does not.
TEST_F(ActionEngineTest, ResultsSurviveARestart) {
  const std::string id = "aaaaaaaaaab4";
  Create(id, {"a1", "a2", "a3"});
  v1::ActionStatus done = Status(id, v1::ActionStatus::SUCCEEDED, 100, "ok");
  done.set_output("the output");
  ASSERT_OK(engine_->ActionStatusReported("a1", done));
  ASSERT_OK(engine_->ActionStatusReported("a2", Status(id, v1::ActionStatus::RUNNING, 30)));
  Restart();  // stopping writes the results
  auto page = engine_->Targets(id, v1::ACTION_TARGET_STATE_UNSPECIFIED, "", 10);
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->targets.size(), 3u);
  EXPECT_EQ(page->targets[0].state, v1::ACTION_TARGET_SUCCEEDED);
  EXPECT_EQ(page->targets[0].message, "ok");
  EXPECT_EQ(page->targets[0].output, "the output");
  EXPECT_EQ(page->targets[1].state, v1::ACTION_TARGET_RUNNING);
  EXPECT_EQ(page->targets[1].progress_percent, 30);
  EXPECT_EQ(page->targets[2].state, v1::ACTION_TARGET_PENDING);
  const v1::ActionCounts counts = Counts(id);
  EXPECT_EQ(counts.succeeded(), 1);
  EXPECT_EQ(counts.running(), 1);
  EXPECT_EQ(counts.pending(), 1);
}

// A restart after a cancel: delivered targets still get the ActionCancel, pending ones stay
// cancelled.
TEST_F(ActionEngineTest, ACancelSurvivesARestart) {
  const std::string id = "aaaaaaaaaab5";
  Create(id, {"a1", "a2"});
  Deliver("a1");
  Cancel(id);
  Restart();
  EXPECT_EQ(StateOf(id, "a1"), v1::ACTION_TARGET_DELIVERED);
  EXPECT_EQ(StateOf(id, "a2"), v1::ACTION_TARGET_CANCELLED);
  auto mail = NextMail("a1");
  ASSERT_TRUE(mail.has_value());
  EXPECT_EQ(mail->first, Mail::Kind::kActionCancel);
}

// 25,000 results are written in three PutState calls of at most 10,000 puts, not one per agent.
TEST_F(ActionEngineTest, ResultsAreWrittenInBatches) {
  const std::string id = "aaaaaaaaaab6";
  const std::vector<std::string> agents = Agents(25'000);
  Create(id, agents);
  for (const std::string& agent : agents) {
    ASSERT_OK(engine_->ActionStatusReported(agent, Status(id, v1::ActionStatus::ACCEPTED)));
    ASSERT_OK(engine_->ActionStatusReported(agent, Status(id, v1::ActionStatus::SUCCEEDED)));
  }
  const int before = store_.calls.load();
  ASSERT_OK(engine_->FlushResults());
  EXPECT_EQ(store_.calls.load() - before, 3);
  EXPECT_LE(store_.largest.load(), storage::kMaxOpsPerTxn);
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> stored =
      memory_->RangeState(layout::ActionResultPrefix(id));
  ASSERT_OK(stored.status());
  EXPECT_EQ(stored->size(), agents.size());
  EXPECT_EQ(Counts(id).succeeded(), 25'000);
}

// A watcher of an action's version wakes on a change.
TEST_F(ActionEngineTest, AwaitChangeSeesAReport) {
  const std::string id = "aaaaaaaaaab7";
  Create(id, {"a1"});
  auto versioned = engine_->GetVersioned(id);
  ASSERT_TRUE(versioned.has_value());
  const int64_t version = versioned->second;
  ASSERT_OK(engine_->ActionStatusReported("a1", Status(id, v1::ActionStatus::RUNNING)));
  EXPECT_NE(engine_->AwaitChange(id, version, kWait), version);
  EXPECT_EQ(engine_->AwaitChange("ffffffffffff", 5, absl::ZeroDuration()), 0);
}

// Targets are listed in agent id order, page by page, with a state filter.
TEST_F(ActionEngineTest, TargetsPageInIdOrderWithAFilter) {
  const std::string id = "aaaaaaaaaab8";
  Create(id, {"c", "a", "b", "d"});
  ASSERT_OK(engine_->ActionStatusReported("b", Status(id, v1::ActionStatus::RUNNING)));
  auto first = engine_->Targets(id, v1::ACTION_TARGET_STATE_UNSPECIFIED, "", 2);
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->targets.size(), 2u);
  EXPECT_EQ(first->targets[0].agent_id, "a");
  EXPECT_EQ(first->targets[1].agent_id, "b");
  EXPECT_EQ(first->next_after, "b");
  auto second = engine_->Targets(id, v1::ACTION_TARGET_STATE_UNSPECIFIED, first->next_after, 2);
  ASSERT_TRUE(second.has_value());
  ASSERT_EQ(second->targets.size(), 2u);
  EXPECT_EQ(second->targets[0].agent_id, "c");
  EXPECT_TRUE(second->next_after.empty());
  auto pending = engine_->Targets(id, v1::ACTION_TARGET_PENDING, "", 10);
  ASSERT_TRUE(pending.has_value());
  EXPECT_EQ(pending->targets.size(), 3u);
  EXPECT_FALSE(engine_->Targets("ffffffffffff", v1::ACTION_TARGET_PENDING, "", 10).has_value());
}

}  // namespace
}  // namespace fleet::server
