// PolicyService and specs as the protocol defines them (fleet/v1/canonical_json.h): stored in
// RFC 8785 form, refused when not I-JSON or too big in canonical form, DiffPolicy bounded, and a
// revision stored before RFC 8785 read and served in RFC 8785 form, agreeing with the engine.
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "fleet/v1/canonical_json.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/admin/policy_service.h"
#include "server/control/policy_engine.h"
#include "server/model/store_layout.h"
#include "tests/server/admin_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

using nlohmann::json;

class PolicySpecTest : public ::testing::Test {
 protected:
  absl::StatusOr<v1::ApplyPolicyResponse> Apply(const std::string& spec) {
    v1::ApplyPolicyRequest request;
    request.set_name("p");
    request.set_spec_json(spec);
    return policies_.Apply(request, "tester");
  }

  absl::StatusOr<v1::Policy> Get(int64_t revision = 0) {
    v1::GetPolicyRequest request;
    request.set_name("p");
    request.set_revision(revision);
    return policies_.Get(request);
  }

  absl::StatusOr<v1::DiffPolicyResponse> Diff(int64_t from, int64_t to) {
    v1::DiffPolicyRequest request;
    request.set_name("p");
    request.set_from_revision(from);
    request.set_to_revision(to);
    return policies_.Diff(request);
  }

  // Rewrites the stored revision as a fleetd from before RFC 8785 wrote it: nlohmann's dump of
  // the spec, and the hash of that. Returns the old text.
  std::string RewriteInTheOldForm(int64_t revision, const std::string& spec) {
    absl::StatusOr<v1::Policy> policy = Get(revision);
    EXPECT_OK(policy);
    policy->clear_store_revision();
    policy->set_spec_json(json::parse(spec).dump());
    policy->set_sha256(v1::Sha256Hex(policy->spec_json()));
    const std::string key = layout::PolicyRevisionKey("p", revision);
    EXPECT_OK(env_.store->Txn({.success = {storage::Op::Put(key, policy->SerializeAsString())}}));
    return policy->spec_json();
  }

  AdminTestEnv env_;
  PolicyService policies_{*env_.store, env_.clock, {.history_limit = 10}, env_.directory};
};

// The stored spec is RFC 8785's canonical form, and the hash is of it.
TEST_F(PolicySpecTest, StoresTheRfc8785Form) {
  ASSERT_OK_AND_ASSIGN(
      v1::ApplyPolicyResponse applied,
      Apply(R"({"n":[1e23,1234567890123456.7,1.0,1e-7],"\u00e9":"\ud83d\ude00"})"));
  EXPECT_EQ(applied.policy().spec_json(),
            "{\"n\":[1e+23,1234567890123456.8,1,1e-7],\"\xC3\xA9\":\"\xF0\x9F\x98\x80\"}");
  EXPECT_EQ(applied.policy().sha256(), v1::Sha256Hex(applied.policy().spec_json()));
}

// Specs that are not I-JSON are refused with INVALID_ARGUMENT naming the path under spec_json,
// and nothing is written.
TEST_F(PolicySpecTest, RefusesWhatIsNotIJson) {
  struct Case {
    std::string spec;
    std::string message_start;
  };
  for (const Case& c : std::initializer_list<Case>{
           {R"({"limits":{"max":12345678901234567890}})",
            "spec_json.limits.max: 12345678901234567890 cannot be represented exactly; quote it "
            "as a string"},
           {R"({"x":1e400})", "spec_json.x: 1e400 is outside the range"},
           {R"({"x":-1e400})", "spec_json.x: -1e400 is outside the range"},
           {R"({"a":1,"a":2})", "spec_json.a: duplicate member name"},
           {R"({"s":"\ud800"})", "spec_json.s: not valid JSON"},
           {"{\"s\":\"\xC3\"}", "spec_json.s: not valid JSON"},
       }) {
    const absl::Status status = Apply(c.spec).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.spec;
    EXPECT_TRUE(absl::StartsWith(status.message(), c.message_start)) << status.message();
  }
  EXPECT_EQ(Get().status().code(), absl::StatusCode::kNotFound);
}

// The 1 MiB limit applies to the canonical form: a spec under it as written but over it in
// canonical form is refused with RESOURCE_EXHAUSTED naming both sizes.
TEST_F(PolicySpecTest, LimitAppliesToTheCanonicalForm) {
  std::string spec = "{\"a\":[1e9";
  while (spec.size() < v1::kMaxSpecBytes - 10) spec += ",1e9";
  spec += "]}";
  const absl::Status status = Apply(spec).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(absl::StrContains(status.message(), absl::StrCat("spec_json is ", spec.size())))
      << status.message();
  EXPECT_EQ(Get().status().code(), absl::StatusCode::kNotFound);
}

// DiffPolicy's patch is canonical JSON; one bigger than its documented bound is refused with
// RESOURCE_EXHAUSTED naming the sizes, rather than sent.
TEST_F(PolicySpecTest, DiffIsBounded) {
  // 100,000 numbers of 6 digits: 0.7 MB a revision. Every one changes, and each "replace"
  // operation takes about 47 bytes: a patch of 4.7 MB.
  auto spec = [](int offset) {
    std::string text = "{\"a\":[";
    for (int i = 0; i < 100000; ++i) absl::StrAppend(&text, i == 0 ? "" : ",", offset + i);
    return text + "]}";
  };
  ASSERT_OK(Apply(spec(100000)));
  ASSERT_OK(Apply(spec(300000)));
  const absl::Status status = Diff(1, 2).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(absl::StrContains(status.message(), "the limit is 4128768")) << status.message();
  ASSERT_OK(Apply(R"({"b":1})"));
  ASSERT_OK_AND_ASSIGN(v1::DiffPolicyResponse small, Diff(2, 3));
  EXPECT_EQ(small.patch_json(),
            R"([{"op":"remove","path":"/a"},{"op":"add","path":"/b","value":1}])");
}

// A revision stored before RFC 8785 reads (GetPolicy, history) in RFC 8785 form with that form's
// hash; applying the same spec again changes nothing; DiffPolicy and rollback work on it.
TEST_F(PolicySpecTest, RevisionOfTheOldFormReadsInRfc8785Form) {
  const std::string spec = R"({"b":[1e23,1.0,1e-7],"a":"x"})";
  ASSERT_OK_AND_ASSIGN(v1::ApplyPolicyResponse applied, Apply(spec));
  const std::string canonical = applied.policy().spec_json();
  const std::string old_form = RewriteInTheOldForm(1, spec);
  ASSERT_NE(old_form, canonical);

  ASSERT_OK_AND_ASSIGN(v1::Policy read, Get());
  EXPECT_EQ(read.spec_json(), canonical);
  EXPECT_EQ(read.sha256(), v1::Sha256Hex(canonical));
  ASSERT_OK_AND_ASSIGN(v1::ApplyPolicyResponse again, Apply(spec));
  EXPECT_FALSE(again.changed());
  EXPECT_EQ(again.policy().revision(), 1);

  v1::GetPolicyHistoryRequest history;
  history.set_name("p");
  ASSERT_OK_AND_ASSIGN(v1::GetPolicyHistoryResponse revisions, policies_.History(history));
  ASSERT_EQ(revisions.revisions_size(), 1);
  EXPECT_EQ(revisions.revisions(0).sha256(), v1::Sha256Hex(canonical));

  ASSERT_OK(Apply(R"({"a":"y"})"));
  ASSERT_OK_AND_ASSIGN(v1::DiffPolicyResponse diff, Diff(1, 2));
  const json expected = {{"a", "y"}};
  EXPECT_EQ(json::parse(canonical).patch(json::parse(diff.patch_json())), expected);
  v1::RollbackPolicyRequest rollback;
  rollback.set_name("p");
  rollback.set_to_revision(1);
  ASSERT_OK_AND_ASSIGN(v1::ApplyPolicyResponse rolled_back, policies_.Rollback(rollback, "t"));
  EXPECT_EQ(rolled_back.policy().spec_json(), canonical);
}

// An agent holding the content of a revision stored before RFC 8785 (its old hash) gets one FULL
// document, with the hash GetPolicy shows, and is then up to date.
TEST_F(PolicySpecTest, AgentWithOldContentResynchronizesWithOneFullDocument) {
  const std::string spec = R"({"limits":{"ratio":0.1,"big":1e23},"on":true})";
  ASSERT_OK(Apply(spec));
  const std::string old_form = RewriteInTheOldForm(1, spec);
  ASSERT_OK_AND_ASSIGN(v1::Policy read, Get());

  absl::Mutex mu;
  int announced = 0;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PolicyEngine> engine,
                       PolicyEngine::Start(*env_.store, [&](const std::string&, int64_t) {
                         absl::MutexLock lock(&mu);
                         ++announced;
                       }));
  const AgentPosition old_agent{.policy = "p", .revision = 1, .sha256 = v1::Sha256Hex(old_form)};
  // Asked again after each announcement while the engine loads the revision, as a stream would.
  absl::StatusOr<PreparedUpdatePtr> update;
  for (int attempt = 0; attempt < 100; ++attempt) {
    int heard = 0;
    {
      absl::MutexLock lock(&mu);
      heard = announced;
    }
    update = engine->UpdateFor("p", old_agent);
    if (!absl::IsUnavailable(update.status())) break;
    absl::MutexLock lock(&mu);
    auto more = [&] {
      mu.AssertHeld();
      return announced > heard;
    };
    mu.AwaitWithTimeout(absl::Condition(&more), absl::Seconds(10));
  }
  ASSERT_OK(update);
  ASSERT_NE(*update, nullptr);
  EXPECT_EQ((*update)->update.kind(), v1::PolicyUpdate::FULL);
  EXPECT_EQ((*update)->update.document_json(), read.spec_json());
  EXPECT_EQ((*update)->update.sha256(), read.sha256());
  EXPECT_EQ((*update)->update.sha256(), v1::Sha256Hex(v1::CanonicalJson(json::parse(old_form))));
  const AgentPosition synced{.policy = "p", .revision = 1, .sha256 = read.sha256()};
  ASSERT_OK_AND_ASSIGN(PreparedUpdatePtr none, engine->UpdateFor("p", synced));
  EXPECT_EQ(none, nullptr);
}

}  // namespace
}  // namespace fleet::server
