// AgentDirectory on a MemoryStore: authenticates from memory, tells observers of every
// assignment (enrolled, reassigned, unenrolled) in order, counts a policy's agents, and heals
// after its watch breaks.
#include "server/control/agent_directory.h"

#include <map>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "server/model/agent_credentials.h"
#include "server/model/records.pb.h"
#include "server/model/secret_token.h"
#include "server/model/store_layout.h"
#include "storage/memory_store.h"
#include "tests/testing/fault_injecting_store.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

class Recorder final : public AgentDirectoryObserver {
 public:
  void AgentAssigned(const std::string& agent_id, const std::string& policy) override {
    absl::MutexLock lock(&mu_);
    seen_.emplace_back(agent_id, policy);
  }
  void RotationRequested(const std::string& agent_id) override {
    absl::MutexLock lock(&mu_);
    rotations_.push_back(agent_id);
  }
  std::vector<std::pair<std::string, std::string>> seen() {
    absl::MutexLock lock(&mu_);
    return seen_;
  }
  std::vector<std::string> rotations() {
    absl::MutexLock lock(&mu_);
    return rotations_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::pair<std::string, std::string>> seen_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> rotations_ ABSL_GUARDED_BY(mu_);
};

class AgentDirectoryTest : public ::testing::Test {
 protected:
  // Writes the agent's record (policy empty: deletes it) and returns the revision.
  int64_t Put(const std::string& id, const std::string& policy, const std::string& secret = "s") {
    storage::Op op = storage::Op::Delete(layout::AgentKey(id));
    if (!policy.empty()) {
      record::AgentRecord record;
      record.mutable_agent()->set_id(id);
      record.mutable_agent()->set_policy(policy);
      record.set_secret_sha256(Sha256(secret));
      op = storage::Op::Put(layout::AgentKey(id), record.SerializeAsString());
    }
    absl::StatusOr<storage::TxnResult> result = memory_->Txn({.success = {op}});
    EXPECT_OK(result);
    return result.ok() ? result->revision : 0;
  }

  std::unique_ptr<storage::Store> memory_ = storage::NewMemoryStore();
  fleet::testing::FaultInjectingStore store_{*memory_};
  Recorder recorder_;
};

// The listing and every later change reach the observer; Authenticate answers from memory.
TEST_F(AgentDirectoryTest, FollowsAssignmentsAndAuthenticates) {
  Put("a", "linux", "secret-a");
  AgentDirectory directory(store_);
  directory.AddObserver(recorder_);
  ASSERT_OK(directory.Start());
  // One at a time: changes that arrive in one batch are told once, with the newest assignment.
  int64_t last = 0;
  for (const auto& [id, policy] : std::vector<std::pair<std::string, std::string>>{
           {"b", "linux"}, {"a", "windows"}, {"b", ""}}) {
    last = Put(id, policy, id == "a" ? "secret-a" : "s");
    ASSERT_TRUE(directory.WaitForRevision(last, absl::Seconds(10)));
  }
  EXPECT_EQ(recorder_.seen(), (std::vector<std::pair<std::string, std::string>>{
                                  {"a", "linux"}, {"b", "linux"}, {"a", "windows"}, {"b", ""}}));
  ASSERT_OK_AND_ASSIGN(AuthenticatedAgent agent, directory.Authenticate("a", "secret-a"));
  EXPECT_EQ(agent.policy, "windows");
  EXPECT_EQ(agent.pending_sha256, "");
  EXPECT_EQ(directory.Authenticate("a", "wrong").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(directory.Authenticate("b", "s").status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(*directory.AgentsOn("windows", last), 1);
  EXPECT_EQ(*directory.AgentsOn("linux", last), 0);
}

// After its watch breaks, the directory lists again: an unenrollment committed meanwhile is
// still told to the observer (once), and Authenticate refuses the agent.
TEST_F(AgentDirectoryTest, HealsAfterTheWatchBreaks) {
  Put("a", "linux");
  AgentDirectory directory(store_);
  directory.AddObserver(recorder_);
  ASSERT_OK(directory.Start());
  store_.SetUnavailable(true);
  store_.BreakWatches(absl::UnavailableError("injected"));
  const int64_t gone = Put("a", "");
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (directory.restarts() < 2 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(directory.Authenticate("a", "s").status().code(), absl::StatusCode::kUnavailable);
  store_.SetUnavailable(false);
  ASSERT_TRUE(directory.WaitForRevision(gone, absl::Seconds(20)));
  while (!directory.synced() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(recorder_.seen(),
            (std::vector<std::pair<std::string, std::string>>{{"a", "linux"}, {"a", ""}}));
  EXPECT_EQ(directory.Authenticate("a", "s").status().code(), absl::StatusCode::kUnauthenticated);
}

// Both the current and the pending secret authenticate, the pending one saying so; a rotation
// request is told to observers once per request, and only a new request is told again.
TEST_F(AgentDirectoryTest, AuthenticatesPendingSecretsAndTellsRotationRequests) {
  record::AgentRecord record;
  record.mutable_agent()->set_id("a");
  record.mutable_agent()->set_policy("linux");
  record.set_secret_sha256(Sha256("old"));
  auto write = [&] {
    absl::StatusOr<storage::TxnResult> result = memory_->Txn(
        {.success = {storage::Op::Put(layout::AgentKey("a"), record.SerializeAsString())}});
    EXPECT_OK(result);
    return result.ok() ? result->revision : 0;
  };
  write();
  AgentDirectory directory(store_);
  directory.AddObserver(recorder_);
  ASSERT_OK(directory.Start());
  EXPECT_FALSE(directory.RotationRequested("a"));

  RequestRotation(record, absl::FromUnixSeconds(100));
  ASSERT_TRUE(directory.WaitForRevision(write(), absl::Seconds(10)));
  EXPECT_TRUE(directory.RotationRequested("a"));
  StartRotation(record, Sha256("new"), absl::FromUnixSeconds(101));
  ASSERT_TRUE(directory.WaitForRevision(write(), absl::Seconds(10)));
  EXPECT_EQ(recorder_.rotations(), std::vector<std::string>{"a"});

  ASSERT_OK_AND_ASSIGN(AuthenticatedAgent old_secret, directory.Authenticate("a", "old"));
  EXPECT_EQ(old_secret.pending_sha256, "");
  EXPECT_TRUE(old_secret.rotation_requested);
  ASSERT_OK_AND_ASSIGN(AuthenticatedAgent new_secret, directory.Authenticate("a", "new"));
  EXPECT_EQ(new_secret.pending_sha256, Sha256("new"));

  ASSERT_OK(PromotePending(record, Sha256("new"), absl::FromUnixSeconds(102)));
  ASSERT_TRUE(directory.WaitForRevision(write(), absl::Seconds(10)));
  EXPECT_EQ(directory.Authenticate("a", "old").status().code(), absl::StatusCode::kUnauthenticated);
  ASSERT_OK_AND_ASSIGN(AuthenticatedAgent promoted, directory.Authenticate("a", "new"));
  EXPECT_EQ(promoted.pending_sha256, "");
  EXPECT_FALSE(promoted.rotation_requested);
  EXPECT_EQ(promoted.secret_issued_at, absl::FromUnixSeconds(102));

  RequestRotation(record, absl::FromUnixSeconds(103));
  ASSERT_TRUE(directory.WaitForRevision(write(), absl::Seconds(10)));
  EXPECT_EQ(recorder_.rotations(), (std::vector<std::string>{"a", "a"}));
}

}  // namespace
// Select picks by what the record says (labels, policy), answers with id and hostname in id
// order, and sees a change committed just before it is called.
TEST_F(AgentDirectoryTest, SelectsByLabelsAndPolicyInIdOrder) {
  const auto put = [this](const std::string& id, const std::string& policy,
                          const std::string& role) {
    record::AgentRecord record;
    record.mutable_agent()->set_id(id);
    record.mutable_agent()->set_policy(policy);
    record.mutable_agent()->set_hostname("host-" + id);
    (*record.mutable_agent()->mutable_labels())["role"] = role;
    absl::StatusOr<storage::TxnResult> result = memory_->Txn(
        {.success = {storage::Op::Put(layout::AgentKey(id), record.SerializeAsString())}});
    EXPECT_OK(result);
    return result.ok() ? result->revision : 0;
  };
  put("c", "linux", "web");
  put("a", "linux", "web");
  put("b", "windows", "web");
  AgentDirectory directory(store_);
  ASSERT_OK(directory.Start());
  const auto web_on_linux = [](const DirectoryAgent& agent) {
    auto role = agent.labels.find("role");
    return agent.policy == "linux" && role != agent.labels.end() && role->second == "web";
  };
  using Selected = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(directory.Select(store_.CurrentRevision(), web_on_linux).value(),
            (Selected{{"a", "host-a"}, {"c", "host-c"}}));

  const int64_t revision = put("a", "linux", "db");
  EXPECT_EQ(directory.Select(revision, web_on_linux).value(), (Selected{{"c", "host-c"}}));
  // A revision the store never reaches: the directory cannot have seen it.
  EXPECT_EQ(directory.Select(revision + 100, web_on_linux).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace fleet::server
