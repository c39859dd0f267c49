// Enrollment on a MemoryStore and on a RocksDB store: tokens are honored (revocation, expiry,
// use limits, also under concurrency and across replicas), facts are validated, concurrent
// enrollments with one token are decided each on its own, and the agent's secret is stored only
// as a hash.
#include "server/agent/enrollment_service.h"

#include <atomic>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "server/admin/agent_registry.h"
#include "server/admin/enrollment_token_service.h"
#include "server/admin/policy_service.h"
#include "storage/memory_store.h"
#include "storage/rocksdb/rocksdb_store.h"
#include "tests/server/admin_test_env.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace fleet::server {
namespace {

enum class Backend { kMemory, kRocksDb };

std::unique_ptr<storage::Store> OpenStore(Backend backend, const fleet::testing::TempDir& dir) {
  if (backend == Backend::kMemory) return storage::NewMemoryStore();
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::OpenRocksDbStore(dir.Sub("store"));
  if (!store.ok()) std::abort();
  return *std::move(store);
}

// Forwards to another store; before each of the first `interfere` Txns it runs `before_txn`,
// which plays another replica committing in between a read and the Txn that depends on it.
class InterferingStore final : public storage::Store {
 public:
  InterferingStore(storage::Store& base, int interfere, std::function<void()> before_txn)
      : base_(base), interfere_(interfere), before_txn_(std::move(before_txn)) {}

  absl::StatusOr<std::optional<storage::KeyValue>> Get(std::string_view key) override {
    return base_.Get(key);
  }
  absl::StatusOr<storage::RangeResult> Range(const storage::RangeRequest& request) override {
    return base_.Range(request);
  }
  absl::StatusOr<storage::TxnResult> Txn(const storage::TxnRequest& request) override {
    if (interfere_.fetch_sub(1) > 0) before_txn_();
    return base_.Txn(request);
  }
  absl::StatusOr<std::unique_ptr<storage::Watcher>> Watch(std::string_view prefix,
                                                          int64_t after_revision) override {
    return base_.Watch(prefix, after_revision);
  }
  absl::Status Compact(int64_t revision) override { return base_.Compact(revision); }
  int64_t CurrentRevision() override { return base_.CurrentRevision(); }
  int64_t CompactRevision() override { return base_.CompactRevision(); }
  absl::Status PutState(const std::vector<std::pair<std::string, std::string>>& puts,
                        const std::vector<std::string>& deletes) override {
    return base_.PutState(puts, deletes);
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> RangeState(
      std::string_view prefix) override {
    return base_.RangeState(prefix);
  }

 private:
  storage::Store& base_;  // not owned
  std::atomic<int> interfere_;
  const std::function<void()> before_txn_;
};

class EnrollmentServiceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    v1::ApplyPolicyRequest policy;
    policy.set_name("linux");
    policy.set_spec_json("{}");
    ASSERT_OK(PolicyService(*env_.store, env_.clock, {}, env_.directory).Apply(policy, "t"));
  }

  std::string CreateToken(int64_t max_uses = 0, int64_t ttl_seconds = 0) {
    v1::CreateEnrollmentTokenRequest request;
    request.set_policy("linux");
    request.set_max_uses(max_uses);
    if (ttl_seconds > 0) request.mutable_ttl()->set_seconds(ttl_seconds);
    absl::StatusOr<v1::CreateEnrollmentTokenResponse> created = tokens_.Create(request, "t");
    EXPECT_OK(created);
    return created.ok() ? created->secret() : "";
  }

  static v1::EnrollRequest Request(const std::string& token, const std::string& hostname = "h1") {
    v1::EnrollRequest request;
    request.set_enrollment_token(token);
    request.mutable_facts()->set_hostname(hostname);
    request.mutable_facts()->set_os("linux");
    (*request.mutable_facts()->mutable_labels())["env"] = "prod";
    return request;
  }

  // Runs `enroll(i)` for i in [0, n) on n threads at once, released together.
  template <typename Enroll>
  static void AllAtOnce(int n, Enroll enroll) {
    absl::Mutex mu;
    bool go = false;
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        {
          absl::MutexLock lock(&mu);
          mu.Await(absl::Condition(&go));
        }
        enroll(i);
      });
    }
    {
      absl::MutexLock lock(&mu);
      go = true;
    }
    for (std::thread& thread : threads) thread.join();
  }

  int64_t TokenUses(const std::string& token) {
    absl::StatusOr<v1::ListEnrollmentTokensResponse> listed = tokens_.List({});
    EXPECT_OK(listed);
    if (!listed.ok()) return -1;
    for (const v1::EnrollmentToken& listed_token : listed->tokens()) {
      if (listed_token.id() == token.substr(5, 12)) return listed_token.uses();
    }
    ADD_FAILURE() << "no token " << token.substr(5, 12);
    return -1;
  }

  int AgentCount() {
    absl::StatusOr<v1::ListAgentsResponse> agents = agents_.List({});
    EXPECT_OK(agents);
    return agents.ok() ? agents->agents_size() : -1;
  }

  fleet::testing::TempDir dir_;
  AdminTestEnv env_{OpenStore(GetParam(), dir_)};
  EnrollmentTokenService tokens_{*env_.store, env_.clock};
  EnrollmentService enrollment_{*env_.store, env_.clock};
  AgentRegistry agents_{*env_.store, env_.clock, env_.state, absl::Seconds(91)};
};

// A valid token enrolls an agent on the token's policy and counts one use.
TEST_P(EnrollmentServiceTest, EnrollsAnAgent) {
  std::string token = CreateToken();
  ASSERT_OK_AND_ASSIGN(v1::EnrollResponse enrolled, enrollment_.Enroll(Request(token)));
  EXPECT_EQ(enrolled.policy(), "linux");
  EXPECT_EQ(enrolled.agent_id().size(), 12u);
  EXPECT_EQ(enrolled.agent_secret().substr(0, 5), "fagt_");
  v1::GetAgentRequest get;
  get.set_id(enrolled.agent_id());
  ASSERT_OK_AND_ASSIGN(v1::Agent agent, agents_.Get(get));
  EXPECT_EQ(agent.hostname(), "h1");
  EXPECT_EQ(agent.policy(), "linux");
  EXPECT_EQ(agent.labels().at("env"), "prod");
  EXPECT_EQ(agent.status(), v1::AGENT_STATUS_OFFLINE);
  EXPECT_EQ(agent.enrollment_token_id(), token.substr(5, 12));
  ASSERT_OK_AND_ASSIGN(v1::ListEnrollmentTokensResponse listed, tokens_.List({}));
  EXPECT_EQ(listed.tokens(0).uses(), 1);
  ASSERT_OK_AND_ASSIGN(storage::RangeResult all, env_.store->Range({}));
  for (const storage::KeyValue& kv : all.kvs) {
    EXPECT_EQ(kv.value.find(enrolled.agent_secret().substr(18)), std::string::npos) << kv.key;
  }
}

// Malformed, unknown, wrong-secret, revoked and expired tokens are refused; nothing is written.
TEST_P(EnrollmentServiceTest, RefusesBadTokens) {
  std::string token = CreateToken(0, 60);
  std::string wrong = token;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  const int64_t before = env_.store->CurrentRevision();
  for (const std::string& bad : {std::string(""), std::string("fenr_x"), wrong,
                                 "fenr_000000000000_" + std::string(64, '0')}) {
    EXPECT_EQ(enrollment_.Enroll(Request(bad)).status().code(), absl::StatusCode::kUnauthenticated)
        << bad;
  }
  env_.clock.Advance(absl::Seconds(61));
  absl::Status expired = enrollment_.Enroll(Request(token)).status();
  EXPECT_EQ(expired.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(expired.message().find("expired"), std::string::npos) << expired;
  EXPECT_EQ(env_.store->CurrentRevision(), before);

  std::string revocable = CreateToken();
  v1::RevokeEnrollmentTokenRequest revoke;
  revoke.set_id(revocable.substr(5, 12));
  ASSERT_OK(tokens_.Revoke(revoke));
  absl::Status revoked = enrollment_.Enroll(Request(revocable)).status();
  EXPECT_EQ(revoked.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(revoked.message().find("revoked"), std::string::npos) << revoked;
}

// Bad facts are refused with the field named.
TEST_P(EnrollmentServiceTest, RefusesBadFacts) {
  std::string token = CreateToken();
  v1::EnrollRequest no_host = Request(token, "");
  absl::Status status = enrollment_.Enroll(no_host).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("hostname"), std::string::npos) << status;
  v1::EnrollRequest bad_label = Request(token);
  (*bad_label.mutable_facts()->mutable_labels())["no spaces"] = "x";
  EXPECT_EQ(enrollment_.Enroll(bad_label).status().code(), absl::StatusCode::kInvalidArgument);
}

// Agents enrolling at once never exceed a token's max_uses: exactly that many get in.
TEST_P(EnrollmentServiceTest, MaxUsesHoldsUnderConcurrency) {
  std::string token = CreateToken(/*max_uses=*/20);
  std::atomic<int> enrolled{0}, exhausted{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        absl::Status status = enrollment_.Enroll(Request(token)).status();
        if (status.ok()) {
          ++enrolled;
        } else if (status.code() == absl::StatusCode::kResourceExhausted) {
          ++exhausted;
        } else {
          ++other;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(enrolled.load(), 20);
  EXPECT_EQ(exhausted.load(), 20);
  EXPECT_EQ(other.load(), 0);
  ASSERT_OK_AND_ASSIGN(v1::ListAgentsResponse agents, agents_.List({}));
  EXPECT_EQ(agents.agents_size(), 20);
}

// Many agents enrolling at once with one token all get in, each with its own id, and the token
// counts every one of them.
TEST_P(EnrollmentServiceTest, ConcurrentEnrollmentsWithOneTokenAllSucceed) {
  constexpr int kThreads = 64, kEach = 4;
  std::string token = CreateToken();
  absl::Mutex mu;
  std::set<std::string> ids;
  std::vector<absl::Status> failures;
  AllAtOnce(kThreads, [&](int t) {
    for (int i = 0; i < kEach; ++i) {
      absl::StatusOr<v1::EnrollResponse> enrolled =
          enrollment_.Enroll(Request(token, absl::StrCat("h", t)));
      absl::MutexLock lock(&mu);
      if (enrolled.ok()) {
        ids.insert(enrolled->agent_id());
      } else {
        failures.push_back(enrolled.status());
      }
    }
  });
  EXPECT_TRUE(failures.empty()) << failures.front();
  EXPECT_EQ(ids.size(), size_t{kThreads * kEach});
  EXPECT_EQ(TokenUses(token), kThreads * kEach);
  EXPECT_EQ(AgentCount(), kThreads * kEach);
}

// With more agents enrolling at once than the token has uses, exactly max_uses get in and every
// other one is told the uses are spent.
TEST_P(EnrollmentServiceTest, MaxUsesHoldsWhenAllArriveTogether) {
  constexpr int kMaxUses = 10, kAgents = 64;
  std::string token = CreateToken(kMaxUses);
  std::atomic<int> enrolled{0}, exhausted{0};
  absl::Mutex mu;
  std::vector<absl::Status> other;
  AllAtOnce(kAgents, [&](int) {
    absl::Status status = enrollment_.Enroll(Request(token)).status();
    if (status.ok()) {
      ++enrolled;
    } else if (status.code() == absl::StatusCode::kResourceExhausted &&
               status.message() == "the enrollment token's 10 uses are spent") {
      ++exhausted;
    } else {
      absl::MutexLock lock(&mu);
      other.push_back(status);
    }
  });
  EXPECT_EQ(enrolled.load(), kMaxUses);
  EXPECT_EQ(exhausted.load(), kAgents - kMaxUses);
  EXPECT_TRUE(other.empty()) << other.front();
  EXPECT_EQ(TokenUses(token), kMaxUses);
  EXPECT_EQ(AgentCount(), kMaxUses);
}

// A revoked token fails every one of many agents enrolling with it at once; nothing is written.
TEST_P(EnrollmentServiceTest, RevokedTokenFailsEveryConcurrentEnrollment) {
  std::string token = CreateToken();
  v1::RevokeEnrollmentTokenRequest revoke;
  revoke.set_id(token.substr(5, 12));
  ASSERT_OK(tokens_.Revoke(revoke));
  const int64_t before = env_.store->CurrentRevision();
  std::atomic<int> revoked{0};
  AllAtOnce(32, [&](int) {
    absl::Status status = enrollment_.Enroll(Request(token)).status();
    if (status.code() == absl::StatusCode::kUnauthenticated &&
        status.message() == "the enrollment token was revoked") {
      ++revoked;
    }
  });
  EXPECT_EQ(revoked.load(), 32);
  EXPECT_EQ(env_.store->CurrentRevision(), before);
  EXPECT_EQ(AgentCount(), 0);
}

// Bad facts and a wrong secret fail only their own enrollment; the agents enrolling with the
// same token at the same moment get in.
TEST_P(EnrollmentServiceTest, BadRequestsFailAloneAmongConcurrentOnes) {
  constexpr int kAgents = 48;
  std::string token = CreateToken();
  std::string wrong = token;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  std::atomic<int> enrolled{0}, bad_facts{0}, bad_secret{0}, unexpected{0};
  AllAtOnce(kAgents, [&](int i) {
    if (i % 6 == 1) {
      absl::Status status = enrollment_.Enroll(Request(token, "")).status();
      (status.code() == absl::StatusCode::kInvalidArgument &&
               status.message().find("facts.hostname") != std::string::npos
           ? bad_facts
           : unexpected)++;
    } else if (i % 6 == 2) {
      absl::Status status = enrollment_.Enroll(Request(wrong)).status();
      (status.code() == absl::StatusCode::kUnauthenticated &&
               status.message() == "unknown enrollment token"
           ? bad_secret
           : unexpected)++;
    } else {
      (enrollment_.Enroll(Request(token)).ok() ? enrolled : unexpected)++;
    }
  });
  EXPECT_EQ(bad_facts.load(), kAgents / 6);
  EXPECT_EQ(bad_secret.load(), kAgents / 6);
  EXPECT_EQ(enrolled.load(), kAgents - 2 * kAgents / 6);
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_EQ(TokenUses(token), kAgents - 2 * kAgents / 6);
  EXPECT_EQ(AgentCount(), kAgents - 2 * kAgents / 6);
}

// When another replica uses the token between this one's read and its commit, this one reads it
// again and still honors max_uses: the replica took one of two uses, this one gets the other,
// and the next is refused.
TEST_P(EnrollmentServiceTest, RereadsTheTokenAfterAnotherReplicaUsedIt) {
  std::string token = CreateToken(/*max_uses=*/2);
  EnrollmentService other_replica(*env_.store, env_.clock);
  absl::Status other_status = absl::UnknownError("did not run");
  InterferingStore racing(*env_.store, /*interfere=*/1,
                          [&] { other_status = other_replica.Enroll(Request(token)).status(); });
  EnrollmentService replica(racing, env_.clock);
  ASSERT_OK(replica.Enroll(Request(token)));
  EXPECT_OK(other_status);
  EXPECT_EQ(replica.Enroll(Request(token)).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(TokenUses(token), 2);
  EXPECT_EQ(AgentCount(), 2);
}

// A token that another replica changes before every commit makes the enrollment give up with
// ABORTED rather than retry forever; nothing of it is written.
TEST_P(EnrollmentServiceTest, GivesUpWhenTheTokenKeepsChanging) {
  std::string token = CreateToken();
  EnrollmentService other_replica(*env_.store, env_.clock);
  std::atomic<int> other_enrolled{0};
  InterferingStore racing(*env_.store, /*interfere=*/1'000'000, [&] {
    if (other_replica.Enroll(Request(token)).ok()) ++other_enrolled;
  });
  EnrollmentService replica(racing, env_.clock);
  absl::Status status = replica.Enroll(Request(token)).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted) << status;
  EXPECT_EQ(TokenUses(token), other_enrolled.load());
  EXPECT_EQ(AgentCount(), other_enrolled.load());
}

INSTANTIATE_TEST_SUITE_P(Backends, EnrollmentServiceTest,
                         ::testing::Values(Backend::kMemory, Backend::kRocksDb),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param == Backend::kMemory ? "Memory" : "RocksDb";
                         });

}  // namespace
}  // namespace fleet::server
