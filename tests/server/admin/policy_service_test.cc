// PolicyService on a MemoryStore: revisions, idempotence, history, diff, rollback, deletion and
// every kind of bad input (which must write nothing).
#include "server/admin/policy_service.h"

#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/admin/agent_registry.h"
#include "server/admin/enrollment_token_service.h"
#include "tests/server/admin_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

class PolicyServiceTest : public ::testing::Test {
 protected:
  absl::StatusOr<v1::ApplyPolicyResponse> Apply(const std::string& name, const std::string& spec,
                                                const std::string& description = "") {
    v1::ApplyPolicyRequest request;
    request.set_name(name);
    request.set_spec_json(spec);
    request.set_description(description);
    return policies_.Apply(request, "tester");
  }

  AdminTestEnv env_;
  PolicyService policies_{*env_.store, env_.clock, {.history_limit = 3}, env_.directory};
};

// The first apply creates revision 1 with the canonical spec, its SHA-256, time and author.
TEST_F(PolicyServiceTest, ApplyCreatesFirstRevision) {
  ASSERT_OK_AND_ASSIGN(v1::ApplyPolicyResponse created,
                       Apply("linux", R"({ "b": 1, "a": {"y": true, "x": [1, 2]} })", "servers"));
  EXPECT_TRUE(created.changed());
  EXPECT_TRUE(created.created());
  const v1::Policy& policy = created.policy();
  EXPECT_EQ(policy.revision(), 1);
  EXPECT_EQ(policy.spec_json(), R"({"a":{"x":[1,2],"y":true},"b":1})");
  EXPECT_EQ(policy.sha256().size(), 64u);
  EXPECT_EQ(policy.author(), "tester");
  EXPECT_EQ(policy.description(), "servers");
  EXPECT_EQ(policy.created_at().seconds(), 1'800'000'000);
  EXPECT_GT(policy.store_revision(), 0);
}

// Applying the same content, however formatted, makes no new revision; a change makes the next.
TEST_F(PolicyServiceTest, ApplyIsIdempotent) {
  ASSERT_OK(Apply("linux", R"({"a":1,"b":2})"));
  const int64_t store_revision = env_.store->CurrentRevision();
  ASSERT_OK_AND_ASSIGN(v1::ApplyPolicyResponse same, Apply("linux", "{ \"b\" : 2,\n \"a\": 1 }"));
  EXPECT_FALSE(same.changed());
  EXPECT_EQ(same.policy().revision(), 1);
  EXPECT_EQ(env_.store->CurrentRevision(), store_revision);
  ASSERT_OK_AND_ASSIGN(v1::ApplyPolicyResponse changed, Apply("linux", R"({"a":1,"b":3})"));
  EXPECT_TRUE(changed.changed());
  EXPECT_FALSE(changed.created());
  EXPECT_EQ(changed.policy().revision(), 2);
}

// A change of the description alone makes no revision: the latest one's description changes in
// place (GetPolicy and the history show it), and the response says so.
TEST_F(PolicyServiceTest, DescriptionAloneIsUpdatedInPlace) {
  ASSERT_OK(Apply("linux", R"({"a":1})", "first"));
  ASSERT_OK_AND_ASSIGN(v1::ApplyPolicyResponse described,
                       Apply("linux", R"({ "a": 1 })", "now described"));
  EXPECT_FALSE(described.changed());
  EXPECT_TRUE(described.description_updated());
  EXPECT_EQ(described.policy().revision(), 1);
  EXPECT_EQ(described.policy().description(), "now described");
  v1::GetPolicyRequest get;
  get.set_name("linux");
  ASSERT_OK_AND_ASSIGN(v1::Policy latest, policies_.Get(get));
  EXPECT_EQ(latest.revision(), 1);
  EXPECT_EQ(latest.description(), "now described");
  EXPECT_EQ(latest.sha256(), described.policy().sha256());
  v1::GetPolicyHistoryRequest history;
  history.set_name("linux");
  ASSERT_OK_AND_ASSIGN(v1::GetPolicyHistoryResponse revisions, policies_.History(history));
  ASSERT_EQ(revisions.revisions_size(), 1);
  EXPECT_EQ(revisions.revisions(0).description(), "now described");
  // Applied again: nothing to update.
  ASSERT_OK_AND_ASSIGN(v1::ApplyPolicyResponse same, Apply("linux", R"({"a":1})", "now described"));
  EXPECT_FALSE(same.changed());
  EXPECT_FALSE(same.description_updated());
  // A dry run says what it would do and writes nothing.
  v1::ApplyPolicyRequest dry;
  dry.set_name("linux");
  dry.set_spec_json(R"({"a":1})");
  dry.set_description("dry");
  dry.set_dry_run(true);
  const int64_t store_revision = env_.store->CurrentRevision();
  ASSERT_OK_AND_ASSIGN(v1::ApplyPolicyResponse would, policies_.Apply(dry, "tester"));
  EXPECT_TRUE(would.description_updated());
  EXPECT_EQ(env_.store->CurrentRevision(), store_revision);
}

// A rollback to a revision whose spec is the latest's makes no revision either; only the
// description is taken over.
TEST_F(PolicyServiceTest, RollbackToTheSameSpecMakesNoRevision) {
  ASSERT_OK(Apply("linux", R"({"v":1})", "first"));
  ASSERT_OK(Apply("linux", R"({"v":2})", "second"));
  ASSERT_OK(Apply("linux", R"({"v":1})", "third"));
  v1::RollbackPolicyRequest request;
  request.set_name("linux");
  request.set_to_revision(1);
  ASSERT_OK_AND_ASSIGN(v1::ApplyPolicyResponse rolled, policies_.Rollback(request, "ops"));
  EXPECT_FALSE(rolled.changed());
  EXPECT_TRUE(rolled.description_updated());
  EXPECT_EQ(rolled.policy().revision(), 3);
  EXPECT_EQ(rolled.policy().description(), "first");
}

// A stale expected revision is refused with FAILED_PRECONDITION and changes nothing.
TEST_F(PolicyServiceTest, ExpectedRevisionGuardsConcurrentEdits) {
  v1::ApplyPolicyRequest request;
  request.set_name("linux");
  request.set_spec_json("{}");
  request.set_expected_revision(0);  // must not exist yet
  ASSERT_OK(policies_.Apply(request, "a"));
  request.set_spec_json(R"({"v":2})");
  const int64_t before = env_.store->CurrentRevision();
  EXPECT_EQ(policies_.Apply(request, "a").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(env_.store->CurrentRevision(), before);
  request.set_expected_revision(1);
  ASSERT_OK_AND_ASSIGN(v1::ApplyPolicyResponse applied, policies_.Apply(request, "a"));
  EXPECT_EQ(applied.policy().revision(), 2);
}

// A stale expected revision says who committed the revision it would overwrite, and when.
TEST_F(PolicyServiceTest, StaleExpectedRevisionNamesTheLatestAuthorAndTime) {
  ASSERT_OK(Apply("linux", R"({"v":1})"));
  v1::ApplyPolicyRequest request;
  request.set_name("linux");
  request.set_spec_json(R"({"v":2})");
  ASSERT_OK(policies_.Apply(request, "0123456789ab (alice)"));
  request.set_spec_json(R"({"v":3})");
  request.set_expected_revision(1);
  absl::StatusOr<v1::ApplyPolicyResponse> stale = policies_.Apply(request, "bob");
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(stale.status().message(),
            "policy \"linux\" is at revision 2, not the expected 1; revision 2 was committed by "
            "0123456789ab (alice) at 2027-01-15T08:00:00Z");
}

// Every kind of bad input gets a clear error naming the field, and nothing is written.
TEST_F(PolicyServiceTest, BadInputWritesNothing) {
  struct Case {
    std::string name, spec, description;
    absl::StatusCode code;
    std::string mentions;
  };
  const Case cases[] = {
      {"", "{}", "", absl::StatusCode::kInvalidArgument, "name is required"},
      {"Linux", "{}", "", absl::StatusCode::kInvalidArgument, "name \"Linux\""},
      {"-linux", "{}", "", absl::StatusCode::kInvalidArgument, "name"},
      {"linux-", "{}", "", absl::StatusCode::kInvalidArgument, "name"},
      {"a_b", "{}", "", absl::StatusCode::kInvalidArgument, "name"},
      {std::string(64, 'a'), "{}", "", absl::StatusCode::kInvalidArgument, "name"},
      {"linux", "[1,2]", "", absl::StatusCode::kInvalidArgument, "must be a JSON object"},
      {"linux", "\"text\"", "", absl::StatusCode::kInvalidArgument, "must be a JSON object"},
      {"linux", "{\"a\":", "", absl::StatusCode::kInvalidArgument, "not valid JSON"},
      {"linux", "", "", absl::StatusCode::kInvalidArgument, "not valid JSON"},
      {"linux", absl::StrCat("{\"a\":\"", std::string(1024 * 1024, 'x'), "\"}"), "",
       absl::StatusCode::kResourceExhausted, "limit"},
      {"linux", "{}", std::string(2000, 'd'), absl::StatusCode::kInvalidArgument, "description"},
      // Deep nesting would make serialization recurse without bound.
      {"linux", absl::StrCat("{\"a\":", std::string(100000, '['), std::string(100000, ']'), "}"),
       "", absl::StatusCode::kInvalidArgument, "levels deep"},
  };
  for (const Case& c : cases) {
    absl::Status status = Apply(c.name, c.spec, c.description).status();
    EXPECT_EQ(status.code(), c.code) << c.name << " " << c.spec.substr(0, 20) << ": " << status;
    EXPECT_NE(status.message().find(c.mentions), std::string::npos) << status;
  }
  EXPECT_EQ(env_.store->CurrentRevision(), 0);
}

// A dry run reports the would-be revision and writes nothing.
TEST_F(PolicyServiceTest, DryRunWritesNothing) {
  v1::ApplyPolicyRequest request;
  request.set_name("linux");
  request.set_spec_json(R"({"a":1})");
  request.set_dry_run(true);
  ASSERT_OK_AND_ASSIGN(v1::ApplyPolicyResponse response, policies_.Apply(request, "a"));
  EXPECT_TRUE(response.created());
  EXPECT_EQ(response.policy().revision(), 1);
  EXPECT_EQ(env_.store->CurrentRevision(), 0);
}

// History keeps the newest `history_limit` revisions, newest first; older ones are gone.
TEST_F(PolicyServiceTest, HistoryKeepsTheNewestRevisions) {
  for (int i = 1; i <= 5; ++i) ASSERT_OK(Apply("linux", absl::StrCat(R"({"v":)", i, "}")));
  v1::GetPolicyHistoryRequest request;
  request.set_name("linux");
  ASSERT_OK_AND_ASSIGN(v1::GetPolicyHistoryResponse history, policies_.History(request));
  ASSERT_EQ(history.revisions_size(), 3);
  EXPECT_EQ(history.revisions(0).revision(), 5);
  EXPECT_EQ(history.revisions(2).revision(), 3);
  EXPECT_TRUE(history.revisions(0).spec_json().empty());
  v1::GetPolicyRequest old;
  old.set_name("linux");
  old.set_revision(2);
  absl::Status status = policies_.Get(old).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(status.message().find("revisions 3 to 5"), std::string::npos) << status;
  old.set_revision(4);
  ASSERT_OK_AND_ASSIGN(v1::Policy four, policies_.Get(old));
  EXPECT_EQ(four.spec_json(), R"({"v":4})");
}

// Diff returns an RFC 6902 patch that turns one revision's spec into the other's.
TEST_F(PolicyServiceTest, DiffIsAJsonPatch) {
  ASSERT_OK(Apply("linux", R"({"keep":1,"drop":2,"change":"a"})"));
  ASSERT_OK(Apply("linux", R"({"keep":1,"change":"b","add":[1]})"));
  v1::DiffPolicyRequest request;
  request.set_name("linux");
  request.set_from_revision(1);
  request.set_to_revision(2);
  ASSERT_OK_AND_ASSIGN(v1::DiffPolicyResponse diff, policies_.Diff(request));
  nlohmann::json patch = nlohmann::json::parse(diff.patch_json());
  ASSERT_TRUE(patch.is_array());
  EXPECT_EQ(patch.size(), 3u);
  nlohmann::json from = nlohmann::json::parse(R"({"keep":1,"drop":2,"change":"a"})");
  EXPECT_EQ(from.patch(patch), nlohmann::json::parse(R"({"keep":1,"change":"b","add":[1]})"));
  request.set_to_revision(1);
  ASSERT_OK_AND_ASSIGN(v1::DiffPolicyResponse none, policies_.Diff(request));
  EXPECT_EQ(none.patch_json(), "[]");
  request.set_to_revision(9);
  EXPECT_EQ(policies_.Diff(request).status().code(), absl::StatusCode::kNotFound);
}

// A policy head or revision that does not parse is left out of ListPolicies and the history,
// which answer with the rest.
TEST_F(PolicyServiceTest, UnreadablePolicyRecordsAreSkipped) {
  ASSERT_OK(Apply("linux", R"({"v":1})"));
  ASSERT_OK(Apply("linux", R"({"v":2})"));
  ASSERT_OK(Apply("windows", "{}"));
  ASSERT_OK(env_.store->Txn(
      {.success = {storage::Op::Put(layout::PolicyKey("broken"), "\xff\xff"),
                   storage::Op::Put(layout::PolicyRevisionKey("linux", 1), "\xff\xff")}}));
  ASSERT_OK_AND_ASSIGN(v1::ListPoliciesResponse listed, policies_.List({}));
  ASSERT_EQ(listed.policies_size(), 2);
  EXPECT_EQ(listed.policies(0).name(), "linux");
  EXPECT_EQ(listed.policies(1).name(), "windows");
  v1::GetPolicyHistoryRequest history;
  history.set_name("linux");
  ASSERT_OK_AND_ASSIGN(v1::GetPolicyHistoryResponse revisions, policies_.History(history));
  ASSERT_EQ(revisions.revisions_size(), 1);
  EXPECT_EQ(revisions.revisions(0).revision(), 2);
}

// Every bad input is INVALID_ARGUMENT naming the field, and quotes at most 64 bytes of it: an
// 8 KB name, a selector term of 8 KB, a number beyond a double's range.
TEST_F(PolicyServiceTest, BadInputIsInvalidArgumentAndQuotedShort) {
  absl::StatusOr<v1::ApplyPolicyResponse> long_name = Apply(std::string(8192, 'A'), "{}");
  EXPECT_EQ(long_name.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(long_name.status().message(), "name ")) << long_name.status();
  EXPECT_LT(long_name.status().message().size(), 400u) << long_name.status();

  AgentRegistry agents(*env_.store, env_.clock, env_.state, absl::Seconds(91));
  v1::ListAgentsRequest list;
  list.set_selector(std::string(8192, 'x'));
  absl::Status selector = agents.List(list).status();
  EXPECT_EQ(selector.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_LT(selector.message().size(), 400u) << selector;
  list.set_selector("env=" + std::string(8192, 'x'));
  selector = agents.List(list).status();
  EXPECT_EQ(selector.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_LT(selector.message().size(), 400u) << selector;

  absl::StatusOr<v1::ApplyPolicyResponse> huge = Apply("linux", R"({"max":1e400})");
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kInvalidArgument) << huge.status();
  EXPECT_TRUE(absl::StrContains(huge.status().message(), "spec_json")) << huge.status();
}

// Rollback makes a new revision equal to the old one, and says where it came from.
TEST_F(PolicyServiceTest, RollbackMakesANewRevision) {
  ASSERT_OK(Apply("linux", R"({"v":1})", "first"));
  ASSERT_OK(Apply("linux", R"({"v":2})", "second"));
  v1::RollbackPolicyRequest request;
  request.set_name("linux");
  request.set_to_revision(1);
  ASSERT_OK_AND_ASSIGN(v1::ApplyPolicyResponse rolled, policies_.Rollback(request, "ops"));
  EXPECT_EQ(rolled.policy().revision(), 3);
  EXPECT_EQ(rolled.policy().spec_json(), R"({"v":1})");
  EXPECT_EQ(rolled.policy().description(), "first");
  EXPECT_EQ(rolled.policy().rolled_back_from(), 1);
  request.set_to_revision(7);
  EXPECT_EQ(policies_.Rollback(request, "ops").status().code(), absl::StatusCode::kNotFound);
}

// Delete refuses while agents are assigned, then removes the policy, its history and tokens.
TEST_F(PolicyServiceTest, DeleteRemovesEverythingOnce) {
  ASSERT_OK(Apply("linux", "{}"));
  ASSERT_OK(Apply("linux", R"({"a":1})"));
  EnrollmentTokenService tokens(*env_.store, env_.clock);
  v1::CreateEnrollmentTokenRequest token;
  token.set_policy("linux");
  ASSERT_OK(tokens.Create(token, "a"));
  env_.PutAgent("0123456789ab", "linux");
  v1::DeletePolicyRequest request;
  request.set_name("linux");
  absl::Status refused = policies_.Delete(request).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("1 agents"), std::string::npos) << refused;

  v1::UnenrollAgentRequest unenroll;
  unenroll.set_id("0123456789ab");
  ASSERT_OK(
      AgentRegistry(*env_.store, env_.clock, env_.state, absl::Seconds(91)).Unenroll(unenroll));
  ASSERT_OK_AND_ASSIGN(v1::DeletePolicyResponse deleted, policies_.Delete(request));
  EXPECT_EQ(deleted.revisions_deleted(), 2);
  EXPECT_EQ(deleted.enrollment_tokens_deleted(), 1);
  ASSERT_OK_AND_ASSIGN(storage::RangeResult left, env_.store->Range({}));
  EXPECT_TRUE(left.kvs.empty());
  EXPECT_EQ(policies_.Delete(request).status().code(), absl::StatusCode::kNotFound);
}

// List pages through policies in name order, latest revision each, without specs.
TEST_F(PolicyServiceTest, ListPaginates) {
  for (const char* name : {"c", "a", "b"}) ASSERT_OK(Apply(name, "{}"));
  ASSERT_OK(Apply("b", R"({"x":1})"));
  v1::ListPoliciesRequest request;
  request.set_page_size(2);
  ASSERT_OK_AND_ASSIGN(v1::ListPoliciesResponse first, policies_.List(request));
  ASSERT_EQ(first.policies_size(), 2);
  EXPECT_EQ(first.policies(0).name(), "a");
  EXPECT_EQ(first.policies(1).revision(), 2);
  EXPECT_TRUE(first.policies(1).spec_json().empty());
  request.set_page_token(first.next_page_token());
  ASSERT_OK_AND_ASSIGN(v1::ListPoliciesResponse second, policies_.List(request));
  ASSERT_EQ(second.policies_size(), 1);
  EXPECT_EQ(second.policies(0).name(), "c");
  request.set_page_token("garbage!");
  EXPECT_EQ(policies_.List(request).status().code(), absl::StatusCode::kInvalidArgument);
}

// Concurrent applies to one policy: each success gets its own revision, none is lost, and a
// loser of too many races gets ABORTED (retryable), never a half-applied change.
TEST_F(PolicyServiceTest, ConcurrentAppliesLoseNothing) {
  ASSERT_OK(Apply("linux", "{}"));
  std::atomic<int> successes{0};
  std::atomic<int> other_errors{0};
  absl::Mutex mu;
  std::string first_error;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        absl::Status status =
            Apply("linux", absl::StrCat(R"({"t":)", t, R"(,"i":)", i, "}")).status();
        if (status.ok()) {
          ++successes;
        } else if (status.code() != absl::StatusCode::kAborted) {
          ++other_errors;
          absl::MutexLock lock(&mu);
          if (first_error.empty()) first_error = status.ToString();
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(other_errors.load(), 0) << first_error;
  EXPECT_GT(successes.load(), 0);
  v1::GetPolicyRequest request;
  request.set_name("linux");
  ASSERT_OK_AND_ASSIGN(v1::Policy latest, policies_.Get(request));
  EXPECT_EQ(latest.revision(), 1 + successes.load());
}

// Each revision records its committer as an object and carries the policy's creation time;
// history keeps both.
TEST_F(PolicyServiceTest, RevisionsRecordCreatorAndPolicyCreation) {
  v1::Creator alice;
  alice.set_token_id("0123456789ab");
  alice.set_description("alice");
  v1::ApplyPolicyRequest request;
  request.set_name("linux");
  request.set_spec_json("{}");
  ASSERT_OK_AND_ASSIGN(v1::ApplyPolicyResponse first, policies_.Apply(request, "a", alice));
  EXPECT_EQ(first.policy().creator().SerializeAsString(), alice.SerializeAsString());
  EXPECT_EQ(first.policy().policy_created_at().seconds(), 1'800'000'000);
  env_.clock.Advance(absl::Seconds(60));
  request.set_spec_json(R"({"a":1})");
  ASSERT_OK_AND_ASSIGN(v1::ApplyPolicyResponse second, policies_.Apply(request, "b"));
  EXPECT_FALSE(second.policy().has_creator());  // none given
  EXPECT_EQ(second.policy().created_at().seconds(), 1'800'000'060);
  EXPECT_EQ(second.policy().policy_created_at().seconds(), 1'800'000'000);
  v1::GetPolicyHistoryRequest history;
  history.set_name("linux");
  ASSERT_OK_AND_ASSIGN(v1::GetPolicyHistoryResponse revisions, policies_.History(history));
  ASSERT_EQ(revisions.revisions_size(), 2);
  EXPECT_EQ(revisions.revisions(1).creator().token_id(), "0123456789ab");
  EXPECT_EQ(revisions.revisions(0).policy_created_at().seconds(), 1'800'000'000);
}

// Labels are the policy's metadata: a change of labels alone makes no revision (the content
// hash stays) and says labels_updated; a new revision keeps them; GetPolicy shows them.
TEST_F(PolicyServiceTest, LabelsOnlyChangeMakesNoRevision) {
  v1::ApplyPolicyRequest request;
  request.set_name("linux");
  request.set_spec_json(R"({"a":1})");
  (*request.mutable_labels())["env"] = "prod";
  ASSERT_OK_AND_ASSIGN(v1::ApplyPolicyResponse created, policies_.Apply(request, "t"));
  EXPECT_EQ(created.policy().labels().at("env"), "prod");
  EXPECT_FALSE(created.labels_updated());

  (*request.mutable_labels())["example.com/team"] = "core";
  request.set_dry_run(true);
  const int64_t at = env_.store->CurrentRevision();
  ASSERT_OK_AND_ASSIGN(v1::ApplyPolicyResponse dry, policies_.Apply(request, "t"));
  EXPECT_TRUE(dry.labels_updated());
  EXPECT_EQ(env_.store->CurrentRevision(), at);
  request.set_dry_run(false);
  ASSERT_OK_AND_ASSIGN(v1::ApplyPolicyResponse relabelled, policies_.Apply(request, "t"));
  EXPECT_TRUE(relabelled.labels_updated());
  EXPECT_FALSE(relabelled.changed());
  EXPECT_FALSE(relabelled.description_updated());
  EXPECT_EQ(relabelled.policy().revision(), 1);
  EXPECT_EQ(relabelled.policy().sha256(), created.policy().sha256());

  ASSERT_OK_AND_ASSIGN(v1::ApplyPolicyResponse same, policies_.Apply(request, "t"));
  EXPECT_FALSE(same.labels_updated());
  EXPECT_FALSE(same.changed());

  request.set_spec_json(R"({"a":2})");
  ASSERT_OK_AND_ASSIGN(v1::ApplyPolicyResponse next, policies_.Apply(request, "t"));
  EXPECT_EQ(next.policy().revision(), 2);
  v1::GetPolicyRequest get;
  get.set_name("linux");
  ASSERT_OK_AND_ASSIGN(v1::Policy latest, policies_.Get(get));
  EXPECT_EQ(latest.labels().size(), 2u);
  EXPECT_EQ(latest.labels().at("example.com/team"), "core");

  // Rollback restores content, not labels.
  v1::RollbackPolicyRequest rollback;
  rollback.set_name("linux");
  rollback.set_to_revision(1);
  ASSERT_OK_AND_ASSIGN(v1::ApplyPolicyResponse rolled, policies_.Rollback(rollback, "t"));
  EXPECT_EQ(rolled.policy().labels().size(), 2u);

  request.clear_labels();
  (*request.mutable_labels())["Bad Key"] = "x";
  EXPECT_EQ(policies_.Apply(request, "t").status().code(), absl::StatusCode::kInvalidArgument);
}

// ListPolicies filters by a label selector; a bad selector is INVALID_ARGUMENT.
TEST_F(PolicyServiceTest, ListPoliciesBySelector) {
  for (const auto& [name, env] :
       std::vector<std::pair<std::string, std::string>>{{"a", "prod"}, {"b", "dev"}, {"c", ""}}) {
    v1::ApplyPolicyRequest request;
    request.set_name(name);
    request.set_spec_json("{}");
    if (!env.empty()) (*request.mutable_labels())["env"] = env;
    ASSERT_OK(policies_.Apply(request, "t"));
  }
  v1::ListPoliciesRequest list;
  list.set_selector("env notin (dev)");
  ASSERT_OK_AND_ASSIGN(v1::ListPoliciesResponse selected, policies_.List(list));
  ASSERT_EQ(selected.policies_size(), 2);
  EXPECT_EQ(selected.policies(0).name(), "a");
  EXPECT_EQ(selected.policies(1).name(), "c");
  list.set_selector("env");
  ASSERT_OK_AND_ASSIGN(v1::ListPoliciesResponse labelled, policies_.List(list));
  EXPECT_EQ(labelled.policies_size(), 2);
  list.set_selector("env=(prod");
  EXPECT_EQ(policies_.List(list).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fleet::server
