// PolicyContent and PrepareUpdate: a revision read as stored (also one written before the
// canonical form was RFC 8785's), and the update built from it: a DELTA only when its patch is
// smaller than the FULL document.
#include "server/control/policy_content.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fleet/v1/admin.pb.h"
#include "fleet/v1/canonical_json.h"
#include "gtest/gtest.h"
#include "server/model/store_layout.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

using nlohmann::json;

// The revision record as PolicyService writes it, with `spec_json` and its hash as given.
storage::KeyValue Revision(int64_t revision, const std::string& spec_json) {
  v1::Policy policy;
  policy.set_name("p");
  policy.set_revision(revision);
  policy.set_spec_json(spec_json);
  policy.set_sha256(v1::Sha256Hex(spec_json));
  return {.key = layout::PolicyRevisionKey("p", revision), .value = policy.SerializeAsString()};
}

PolicyContentPtr Content(int64_t revision, const json& spec) {
  absl::StatusOr<PolicyContentPtr> content =
      ParsePolicyContent(Revision(revision, v1::CanonicalJson(spec)));
  EXPECT_OK(content);
  return content.ok() ? *content : nullptr;
}

// A spec of `count` strings of 40 bytes, each naming `version`: about 44 bytes per element.
json BigSpec(int count, int version) {
  json items = json::array();
  for (int i = 0; i < count; ++i) {
    items.push_back(absl::StrCat("item-", i, "-version-", version, "-", std::string(20, 'x')));
  }
  return json{{"items", items}, {"version", version}};
}

// A small change to a big document is a DELTA: a canonical patch that turns the base into the
// target, with the target's hash.
TEST(PolicyContentTest, SmallChangeIsADelta) {
  json changed = BigSpec(20000, 1);
  changed["version"] = 2;
  PolicyContentPtr from = Content(1, BigSpec(20000, 1));
  PolicyContentPtr to = Content(2, changed);
  ASSERT_NE(from, nullptr);
  ASSERT_NE(to, nullptr);
  PreparedUpdatePtr update = PrepareUpdate(*to, from.get());
  ASSERT_EQ(update->update.kind(), v1::PolicyUpdate::DELTA);
  EXPECT_EQ(update->update.base_revision(), 1);
  EXPECT_EQ(update->update.patch_json(), R"([{"op":"replace","path":"/version","value":2}])");
  EXPECT_EQ(update->update.sha256(), v1::Sha256Hex(to->canonical));
  EXPECT_LT(update->serialized_message.size(), 200u);
}

// A 0.9 MB document whose every array element changes makes a patch bigger than the document:
// the update is the FULL document, so no message is bigger than the document.
TEST(PolicyContentTest, PatchBiggerThanTheDocumentIsFull) {
  PolicyContentPtr from = Content(1, BigSpec(20000, 1));
  PolicyContentPtr to = Content(2, BigSpec(20000, 2));
  ASSERT_NE(from, nullptr);
  ASSERT_NE(to, nullptr);
  ASSERT_GT(to->canonical.size(), 800'000u);
  ASSERT_GT(json::diff(from->spec, to->spec).dump().size(), to->canonical.size());
  PreparedUpdatePtr update = PrepareUpdate(*to, from.get());
  EXPECT_EQ(update->update.kind(), v1::PolicyUpdate::FULL);
  EXPECT_EQ(update->update.document_json(), to->canonical);
  EXPECT_TRUE(update->update.patch_json().empty());
  EXPECT_EQ(update->update.sha256(), v1::Sha256Hex(to->canonical));
  EXPECT_LT(update->serialized_message.size(), to->canonical.size() + 200);
}

// A patch exactly as long as the document is not smaller: FULL; without a base: FULL.
TEST(PolicyContentTest, NoBaseOrNoGainIsFull) {
  PolicyContentPtr from = Content(1, json{{"a", 1}});
  PolicyContentPtr to = Content(2, json{{"a", 2}});
  ASSERT_NE(to, nullptr);
  EXPECT_EQ(PrepareUpdate(*to, nullptr)->update.kind(), v1::PolicyUpdate::FULL);
  // {"a":2} is 7 bytes; its patch from {"a":1} is 44.
  EXPECT_EQ(PrepareUpdate(*to, from.get())->update.kind(), v1::PolicyUpdate::FULL);
}

// A revision written before RFC 8785 (nlohmann's dump: 9.999999999999999e+22, 1.0, 1e-07) is
// read in RFC 8785 form with that form's hash, which is not the stored one.
TEST(PolicyContentTest, RevisionOfTheOldFormIsReadInRfc8785Form) {
  const std::string old_form = json::parse(R"({"b":[1e23,1.0,1e-7],"a":"x"})").dump();
  ASSERT_EQ(old_form, R"({"a":"x","b":[9.999999999999999e+22,1.0,1e-07]})");
  ASSERT_OK_AND_ASSIGN(PolicyContentPtr content, ParsePolicyContent(Revision(3, old_form)));
  EXPECT_EQ(content->revision, 3);
  EXPECT_EQ(content->canonical, R"({"a":"x","b":[1e+23,1,1e-7]})");
  EXPECT_EQ(content->sha256, v1::Sha256Hex(content->canonical));
  EXPECT_NE(content->sha256, v1::Sha256Hex(old_form));
  EXPECT_EQ(PrepareUpdate(*content, nullptr)->update.document_json(), content->canonical);
}

// A stored revision whose canonical form exceeds the limit (only one stored before the limit
// applied to it can) is not served: DATA_LOSS naming the key, as for one that does not parse.
TEST(PolicyContentTest, StoredRevisionOverTheLimitIsDataLoss) {
  std::string spec = "{\"a\":[1e9";
  while (spec.size() < v1::kMaxSpecBytes - 10) spec += ",1e9";
  spec += "]}";
  const absl::StatusOr<PolicyContentPtr> content = ParsePolicyContent(Revision(1, spec));
  EXPECT_EQ(content.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(content.status().message(), layout::PolicyRevisionKey("p", 1)))
      << content.status();
  EXPECT_EQ(ParsePolicyContent(Revision(1, "{\"a\":")).status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace fleet::server
