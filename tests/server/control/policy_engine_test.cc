// PolicyEngine on a MemoryStore: FULL and DELTA updates that reproduce the server's content and
// hash, computed once per (policy, from, to), and change notifications in commit order.
#include "server/control/policy_engine.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "fleet/v1/canonical_json.h"
#include "gtest/gtest.h"
#include "server/admin/policy_service.h"
#include "tests/server/admin_test_env.h"
#include "tests/testing/fault_injecting_store.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

class PolicyEngineTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(Apply("linux", R"({"level":"info","paths":["/a"]})")); }

  // `spec` with a member that no revision changes, big enough that a patch of the other members
  // is smaller than the document: so updates between revisions are DELTAs (PrepareUpdate sends
  // FULL when the patch is not smaller).
  static nlohmann::json WithNotes(const std::string& spec) {
    nlohmann::json value = nlohmann::json::parse(spec);
    value["notes"] = std::string(200, 'n');
    return value;
  }

  // The canonical text of the document `spec` is applied as.
  static std::string Document(const std::string& spec) {
    return v1::CanonicalJson(WithNotes(spec));
  }

  absl::Status Apply(const std::string& name, const std::string& spec) {
    v1::ApplyPolicyRequest request;
    request.set_name(name);
    request.set_spec_json(WithNotes(spec).dump());
    return policies_.Apply(request, "t").status();
  }

  // Starts the engine on the test's store, or on `store` (a fault-injecting wrapper of it).
  void StartEngine(storage::Store* store = nullptr) {
    ASSERT_OK_AND_ASSIGN(engine_, PolicyEngine::Start(store != nullptr ? *store : *env_.store,
                                                      [this](const std::string& p, int64_t latest) {
                                                        absl::MutexLock lock(&mu_);
                                                        notified_.emplace_back(p, latest);
                                                      }));
  }

  // How many announcements the listener heard so far.
  size_t Announcements() {
    absl::MutexLock lock(&mu_);
    return notified_.size();
  }

  // UpdateFor, asked again after each announcement while the engine prepares the answer, as a
  // stream kicked by the hub would.
  absl::StatusOr<PreparedUpdatePtr> UpdateForWhenReady(const std::string& policy,
                                                       const AgentPosition& from) {
    for (int attempt = 0; attempt < 100; ++attempt) {
      const size_t heard = Announcements();
      absl::StatusOr<PreparedUpdatePtr> update = engine_->UpdateFor(policy, from);
      if (update.status().code() != absl::StatusCode::kUnavailable) return update;
      absl::MutexLock lock(&mu_);
      auto announced = [&] {
        mu_.AssertHeld();
        return notified_.size() > heard;
      };
      mu_.AwaitWithTimeout(absl::Condition(&announced), absl::Seconds(10));
    }
    return absl::DeadlineExceededError("the engine never prepared the update");
  }

  // Waits until the listener heard that `policy` is at `revision`.
  void AwaitNotified(const std::string& policy, int64_t revision) {
    absl::MutexLock lock(&mu_);
    auto heard = [&] {
      mu_.AssertHeld();
      for (const auto& [p, r] : notified_) {
        if (p == policy && r == revision) return true;
      }
      return false;
    };
    EXPECT_TRUE(mu_.AwaitWithTimeout(absl::Condition(&heard), absl::Seconds(10)))
        << policy << " at " << revision << " never announced";
  }

  static AgentPosition At(const PreparedUpdate& update) {
    return {.policy = update.update.policy(),
            .revision = update.update.target_revision(),
            .sha256 = update.update.sha256()};
  }

  AdminTestEnv env_;
  PolicyService policies_{*env_.store, env_.clock, {.history_limit = 20}, env_.directory};
  absl::Mutex mu_;
  std::vector<std::pair<std::string, int64_t>> notified_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<PolicyEngine> engine_;
};

// A new agent gets the FULL document: the canonical spec and its hash.
TEST_F(PolicyEngineTest, NewAgentGetsFullDocument) {
  StartEngine();
  ASSERT_OK_AND_ASSIGN(PreparedUpdatePtr update, engine_->UpdateFor("linux", {}));
  ASSERT_NE(update, nullptr);
  EXPECT_EQ(update->update.kind(), v1::PolicyUpdate::FULL);
  EXPECT_EQ(update->update.target_revision(), 1);
  EXPECT_EQ(update->update.document_json(), Document(R"({"level":"info","paths":["/a"]})"));
  EXPECT_EQ(update->update.sha256(), v1::Sha256Hex(update->update.document_json()));
  v1::ServerMessage parsed;
  ASSERT_TRUE(parsed.ParseFromString(update->serialized_message));
  EXPECT_EQ(parsed.policy_update().target_revision(), 1);
  ASSERT_OK_AND_ASSIGN(PreparedUpdatePtr none, engine_->UpdateFor("linux", At(*update)));
  EXPECT_EQ(none, nullptr);
}

// A commit is announced; an agent on the previous revision gets a DELTA that reproduces it.
TEST_F(PolicyEngineTest, CommitIsAnnouncedAndServedAsDelta) {
  StartEngine();
  ASSERT_OK_AND_ASSIGN(PreparedUpdatePtr first, engine_->UpdateFor("linux", {}));
  ASSERT_OK(Apply("linux", R"({"level":"debug","paths":["/a","/b"]})"));
  AwaitNotified("linux", 2);
  EXPECT_EQ(engine_->LatestRevision("linux"), 2);
  ASSERT_OK_AND_ASSIGN(PreparedUpdatePtr delta, engine_->UpdateFor("linux", At(*first)));
  ASSERT_NE(delta, nullptr);
  EXPECT_EQ(delta->update.kind(), v1::PolicyUpdate::DELTA);
  EXPECT_EQ(delta->update.base_revision(), 1);
  nlohmann::json patched = nlohmann::json::parse(first->update.document_json())
                               .patch(nlohmann::json::parse(delta->update.patch_json()));
  EXPECT_EQ(v1::Sha256Hex(v1::CanonicalJson(patched)), delta->update.sha256());
}

// Many agents at the same place share one update, computed and serialized before the change was
// announced: the fan-out that follows computes nothing.
TEST_F(PolicyEngineTest, UpdatesAreComputedOncePerFromAndTo) {
  StartEngine();
  ASSERT_OK_AND_ASSIGN(PreparedUpdatePtr first, engine_->UpdateFor("linux", {}));
  const int64_t before_change = engine_->updates_computed();
  ASSERT_OK(Apply("linux", R"({"level":"warn"})"));
  AwaitNotified("linux", 2);
  const int64_t before = engine_->updates_computed();
  EXPECT_EQ(before, before_change + 2);  // the FULL document and the DELTA from revision 1
  PreparedUpdatePtr shared;
  for (int agent = 0; agent < 1000; ++agent) {
    ASSERT_OK_AND_ASSIGN(PreparedUpdatePtr update, engine_->UpdateFor("linux", At(*first)));
    if (agent == 0) shared = update;
    ASSERT_EQ(update.get(), shared.get());
  }
  EXPECT_EQ(engine_->updates_computed(), before);
}

// A base the agent does not really have (wrong hash), a request for FULL, or another policy
// gets the FULL document.
TEST_F(PolicyEngineTest, UnusableBasesGetFull) {
  ASSERT_OK(Apply("windows", R"({"x":1})"));
  StartEngine();
  ASSERT_OK_AND_ASSIGN(PreparedUpdatePtr first, engine_->UpdateFor("linux", {}));
  ASSERT_OK(Apply("linux", R"({"level":"warn"})"));
  AwaitNotified("linux", 2);
  AgentPosition wrong_hash = At(*first);
  wrong_hash.sha256 = std::string(64, '0');
  AgentPosition wants_full = At(*first);
  wants_full.needs_full = true;
  AgentPosition other_policy = {
      .policy = "windows", .revision = 1, .sha256 = first->update.sha256()};
  for (const AgentPosition& from : {wrong_hash, wants_full, other_policy}) {
    ASSERT_OK_AND_ASSIGN(PreparedUpdatePtr update, engine_->UpdateFor("linux", from));
    ASSERT_NE(update, nullptr);
    EXPECT_EQ(update->update.kind(), v1::PolicyUpdate::FULL);
  }
}

// An old base beyond the in-memory window is not read on the caller's thread: the caller is told
// to ask again, the engine loads and diffs it and announces the policy, and then it is a DELTA.
// A pruned base gets FULL.
TEST_F(PolicyEngineTest, OldBasesComeFromTheStoreUntilPruned) {
  StartEngine();
  ASSERT_OK_AND_ASSIGN(PreparedUpdatePtr first, engine_->UpdateFor("linux", {}));
  for (int i = 2; i <= 15; ++i) ASSERT_OK(Apply("linux", absl::StrCat(R"({"level":)", i, "}")));
  AwaitNotified("linux", 15);
  EXPECT_EQ(engine_->UpdateFor("linux", At(*first)).status().code(),
            absl::StatusCode::kUnavailable);
  ASSERT_OK_AND_ASSIGN(PreparedUpdatePtr old, UpdateForWhenReady("linux", At(*first)));
  EXPECT_EQ(old->update.kind(), v1::PolicyUpdate::DELTA);
  EXPECT_EQ(old->update.base_revision(), 1);
  for (int i = 16; i <= 25; ++i) ASSERT_OK(Apply("linux", absl::StrCat(R"({"level":)", i, "}")));
  AwaitNotified("linux", 25);
  ASSERT_OK_AND_ASSIGN(PreparedUpdatePtr pruned, UpdateForWhenReady("linux", At(*first)));
  EXPECT_EQ(pruned->update.kind(), v1::PolicyUpdate::FULL);
}

// Agents coming back from several old bases, one after the other, each get their DELTA: a base
// evicted from memory by a later one is served from the update prepared for it, never answered
// "not ready" again (which would kick the policy's streams in a loop).
TEST_F(PolicyEngineTest, SeveralOldBasesAreServedOneAfterTheOther) {
  StartEngine();
  std::vector<AgentPosition> positions;
  ASSERT_OK_AND_ASSIGN(PreparedUpdatePtr first, engine_->UpdateFor("linux", {}));
  positions.push_back(At(*first));
  for (int i = 2; i <= 12; ++i) {
    ASSERT_OK(Apply("linux", absl::StrCat(R"({"level":)", i, "}")));
    AwaitNotified("linux", i);
    ASSERT_OK_AND_ASSIGN(PreparedUpdatePtr update, UpdateForWhenReady("linux", positions.back()));
    positions.push_back(At(*update));
  }
  for (int round = 0; round < 2; ++round) {
    for (int base = 0; base < 4; ++base) {
      ASSERT_OK_AND_ASSIGN(PreparedUpdatePtr update, UpdateForWhenReady("linux", positions[base]));
      EXPECT_EQ(update->update.kind(), v1::PolicyUpdate::DELTA) << "base " << base + 1;
      EXPECT_EQ(update->update.base_revision(), base + 1);
    }
  }
  // The second round found everything prepared.
  for (int base = 0; base < 4; ++base) {
    EXPECT_OK(engine_->UpdateFor("linux", positions[base]));
  }
}

// A policy deleted and made again while the engine could not see the store starts over: its
// revision numbers repeat with other content, and the engine serves the new content.
TEST_F(PolicyEngineTest, PolicyMadeAgainDuringAnOutageServesTheNewContent) {
  fleet::testing::FaultInjectingStore faulty(*env_.store);
  StartEngine(&faulty);
  ASSERT_OK_AND_ASSIGN(PreparedUpdatePtr old, engine_->UpdateFor("linux", {}));
  faulty.SetUnavailable(true);
  faulty.BreakWatches(absl::UnavailableError("injected: store down"));
  v1::DeletePolicyRequest remove;
  remove.set_name("linux");
  ASSERT_OK(policies_.Delete(remove));
  ASSERT_OK(Apply("linux", R"({"level":"reborn"})"));
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (engine_->restarts() < 1 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  faulty.SetUnavailable(false);
  ASSERT_TRUE(engine_->WaitSynced(absl::Seconds(20)));
  ASSERT_OK_AND_ASSIGN(PreparedUpdatePtr now, UpdateForWhenReady("linux", {}));
  EXPECT_EQ(now->update.target_revision(), 1);
  EXPECT_EQ(now->update.document_json(), Document(R"({"level":"reborn"})"));
  EXPECT_NE(now->update.sha256(), old->update.sha256());
}

// A deleted policy is announced with revision 0 and then unknown.
TEST_F(PolicyEngineTest, DeletionIsAnnounced) {
  StartEngine();
  v1::DeletePolicyRequest request;
  request.set_name("linux");
  ASSERT_OK(policies_.Delete(request));
  AwaitNotified("linux", 0);
  EXPECT_EQ(engine_->UpdateFor("linux", {}).status().code(), absl::StatusCode::kNotFound);
}

// Store failures of every kind under the engine's watch: each time it lists again and keeps
// serving, so a change committed after (or during) the failure still reaches the agents: it is
// announced, and an agent on the previous revision gets it as a DELTA.
class PolicyEngineFaultTest : public PolicyEngineTest,
                              public ::testing::WithParamInterface<std::string> {};

TEST_P(PolicyEngineFaultTest, ChangesStillReachAgentsAfterTheFailure) {
  fleet::testing::FaultInjectingStore faulty(*env_.store);
  StartEngine(&faulty);
  ASSERT_OK_AND_ASSIGN(PreparedUpdatePtr first, engine_->UpdateFor("linux", {}));
  const std::string fault = GetParam();
  ASSERT_OK(faulty.InjectWatchFault(fault));
  // Committed while the engine's watch is broken (through the store underneath).
  ASSERT_OK(Apply("linux", R"({"level":"during"})"));
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  // While unavailable it keeps trying; otherwise one fresh listing heals it.
  const int64_t restarts = fault == "unavailable" ? 3 : 1;
  while (engine_->restarts() < restarts && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_GE(engine_->restarts(), restarts);
  faulty.SetUnavailable(false);
  AwaitNotified("linux", 2);
  ASSERT_OK(Apply("linux", R"({"level":"after"})"));
  AwaitNotified("linux", 3);
  EXPECT_TRUE(engine_->WaitSynced(absl::Seconds(20)));
  ASSERT_OK_AND_ASSIGN(PreparedUpdatePtr second, UpdateForWhenReady("linux", At(*first)));
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->update.target_revision(), 3);
  EXPECT_EQ(second->update.kind(), v1::PolicyUpdate::DELTA);
}

INSTANTIATE_TEST_SUITE_P(Faults, PolicyEngineFaultTest,
                         ::testing::ValuesIn(fleet::testing::FaultInjectingStore::WatchFaults()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace fleet::server
