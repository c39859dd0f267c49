#include "agent/policy_applier.h"

#include <string>
#include <string_view>

#include "fleet/v1/canonical_json.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace fleet::agent {
namespace {

using nlohmann::json;

json Parse(std::string_view spec) { return v1::ParseJsonObject(spec, "spec").value(); }

// The hash fleetd gives `spec`, computed with the protocol's own helpers.
std::string ServerHash(std::string_view spec) {
  return v1::Sha256Hex(v1::CanonicalJson(Parse(spec)));
}

v1::PolicyUpdate Full(const std::string& policy, int64_t revision, const std::string& spec) {
  v1::PolicyUpdate update;
  update.set_kind(v1::PolicyUpdate::FULL);
  update.set_policy(policy);
  update.set_target_revision(revision);
  update.set_document_json(spec);
  update.set_sha256(ServerHash(spec));
  return update;
}

// A DELTA as fleetd builds it: json::diff between the two revisions' specs.
v1::PolicyUpdate Delta(const std::string& policy, int64_t base, int64_t revision,
                       std::string_view from, std::string_view to) {
  v1::PolicyUpdate update;
  update.set_kind(v1::PolicyUpdate::DELTA);
  update.set_policy(policy);
  update.set_base_revision(base);
  update.set_target_revision(revision);
  update.set_patch_json(json::diff(Parse(from), Parse(to)).dump());
  update.set_sha256(ServerHash(to));
  return update;
}

v1::PolicyUpdate WithPatch(v1::PolicyUpdate update, const std::string& patch) {
  update.set_patch_json(patch);
  return update;
}

constexpr std::string_view kRev1 = R"({"inputs": [{"type": "logfile", "paths": ["/var/log/*"]}],
                                       "outputs": {"default": {"hosts": ["es:9200"]}}})";
constexpr std::string_view kRev2 = R"({"inputs": [{"type": "logfile", "paths": ["/var/log/*"]},
                                                  {"type": "system", "period": "10s"}],
                                       "outputs": {"default": {"hosts": ["es:9200"]}}})";
constexpr std::string_view kRev5 = R"({"inputs": [{"type": "system", "period": "30s"}],
                                       "agent": {"logging": "debug"}})";

// Expects that `applier` holds `spec` as `revision` of `policy`, and says so in Hello.
void ExpectApplied(const PolicyApplier& applier, const std::string& policy, int64_t revision,
                   std::string_view spec) {
  EXPECT_EQ(applier.policy(), policy);
  EXPECT_EQ(applier.revision(), revision);
  EXPECT_EQ(applier.document(), Parse(spec));
  EXPECT_EQ(applier.canonical_json(), v1::CanonicalJson(Parse(spec)));
  EXPECT_EQ(applier.sha256(), ServerHash(spec));
  const v1::Hello hello = applier.HelloMessage();
  EXPECT_EQ(hello.policy(), policy);
  EXPECT_EQ(hello.applied_revision(), revision);
  EXPECT_EQ(hello.applied_sha256(), ServerHash(spec));
}

// Expects a Nack of `revision` asking (or not) for FULL, and the Nack message to match.
void ExpectNack(const ApplyOutcome& outcome, int64_t revision, bool needs_full) {
  EXPECT_FALSE(outcome.applied);
  EXPECT_EQ(outcome.revision, revision);
  EXPECT_FALSE(outcome.nack_reason.empty());
  EXPECT_EQ(outcome.needs_full, needs_full) << outcome.nack_reason;
  const v1::AgentMessage reply = outcome.Reply();
  ASSERT_TRUE(reply.has_nack());
  EXPECT_EQ(reply.nack().revision(), revision);
  EXPECT_EQ(reply.nack().reason(), outcome.nack_reason);
  EXPECT_EQ(reply.nack().needs_full(), needs_full);
}

// Expects an Ack of `revision` with the server's hash of `spec`.
void ExpectAck(const ApplyOutcome& outcome, int64_t revision, std::string_view spec) {
  EXPECT_TRUE(outcome.applied) << outcome.nack_reason;
  EXPECT_EQ(outcome.revision, revision);
  EXPECT_EQ(outcome.sha256, ServerHash(spec));
  const v1::AgentMessage reply = outcome.Reply();
  ASSERT_TRUE(reply.has_ack());
  EXPECT_EQ(reply.ack().revision(), revision);
  EXPECT_EQ(reply.ack().sha256(), ServerHash(spec));
}

// A fresh agent has nothing applied: Hello says no policy, revision 0 and no hash.
TEST(PolicyApplierTest, StartsWithNothingApplied) {
  PolicyApplier applier;
  EXPECT_FALSE(applier.has_policy());
  EXPECT_EQ(applier.document(), json::object());
  const v1::Hello hello = applier.HelloMessage();
  EXPECT_EQ(hello.policy(), "");
  EXPECT_EQ(hello.applied_revision(), 0);
  EXPECT_EQ(hello.applied_sha256(), "");
}

// FULL at revision 1, then DELTAs 1 -> 2 and 2 -> 5, each acknowledged with the server's hash.
TEST(PolicyApplierTest, FullThenDeltaChain) {
  PolicyApplier applier;
  ExpectAck(applier.Apply(Full("laptops", 1, std::string(kRev1))), 1, kRev1);
  ExpectApplied(applier, "laptops", 1, kRev1);
  ExpectAck(applier.Apply(Delta("laptops", 1, 2, kRev1, kRev2)), 2, kRev2);
  ExpectApplied(applier, "laptops", 2, kRev2);
  ExpectAck(applier.Apply(Delta("laptops", 2, 5, kRev2, kRev5)), 5, kRev5);
  ExpectApplied(applier, "laptops", 5, kRev5);
}

// A hash that does not match keeps the last good policy and asks for FULL; the FULL then applies.
TEST(PolicyApplierTest, HashMismatchKeepsLastGoodAndAsksForFull) {
  PolicyApplier applier;
  ExpectAck(applier.Apply(Full("laptops", 1, std::string(kRev1))), 1, kRev1);
  v1::PolicyUpdate bad = Delta("laptops", 1, 2, kRev1, kRev2);
  bad.set_sha256(ServerHash(kRev5));
  const ApplyOutcome outcome = applier.Apply(bad);
  ExpectNack(outcome, 2, /*needs_full=*/true);
  EXPECT_NE(outcome.nack_reason.find(ServerHash(kRev2)), std::string::npos) << outcome.nack_reason;
  ExpectApplied(applier, "laptops", 1, kRev1);

  v1::PolicyUpdate bad_full = Full("laptops", 2, std::string(kRev2));
  bad_full.set_sha256("");
  ExpectNack(applier.Apply(bad_full), 2, /*needs_full=*/true);
  ExpectApplied(applier, "laptops", 1, kRev1);

  ExpectAck(applier.Apply(Full("laptops", 2, std::string(kRev2))), 2, kRev2);
  ExpectApplied(applier, "laptops", 2, kRev2);
}

// A DELTA from a revision other than the applied one is refused, naming both, asking for FULL.
TEST(PolicyApplierTest, WrongBaseRevisionAsksForFull) {
  PolicyApplier applier;
  ExpectAck(applier.Apply(Full("laptops", 2, std::string(kRev2))), 2, kRev2);
  const ApplyOutcome outcome = applier.Apply(Delta("laptops", 3, 5, kRev2, kRev5));
  ExpectNack(outcome, 5, /*needs_full=*/true);
  EXPECT_EQ(outcome.nack_reason, "base revision 3 is not the applied revision 2");
  ExpectApplied(applier, "laptops", 2, kRev2);
}

// Patches that do not apply or are not patches are refused asking for FULL, keeping the policy.
TEST(PolicyApplierTest, InvalidPatchKeepsLastGoodAndAsksForFull) {
  PolicyApplier applier;
  ExpectAck(applier.Apply(Full("laptops", 1, std::string(kRev1))), 1, kRev1);
  const v1::PolicyUpdate delta = Delta("laptops", 1, 2, kRev1, kRev2);
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  for (const std::string& patch : {
           std::string(R"([{"op": "remove", "path": "/no/such/path"}])"),
           std::string(R"([{"op": "test", "path": "/outputs", "value": 1}])"),
           std::string(R"([{"op": "frobnicate", "path": "/outputs"}])"),
           std::string(R"([{"op": "add", "path": "missing-slash", "value": 1}])"),
           std::string(R"([{"op": "replace", "path": "", "value": [1, 2]}])"),
           std::string(R"({"op": "remove", "path": "/outputs"})"),
           std::string(R"([{"op": "remove", "path": "/outputs"})"),
           std::string(""),
           R"([{"op": "add", "path": "/x", "value": )" + deep + "}]",
       }) {
    SCOPED_TRACE(patch.substr(0, 80));
    ExpectNack(applier.Apply(WithPatch(delta, patch)), 2, /*needs_full=*/true);
    ExpectApplied(applier, "laptops", 1, kRev1);
  }
}

// A DELTA that brings in a subtree as deep as a spec may be (64 levels with the document) nests
// two levels more in the patch (its array and the operation): the agent applies it.
TEST(PolicyApplierTest, DeltaWithTheDeepestSubtreeApplies) {
  std::string deepest = "{\"a\":";
  for (int level = 2; level < v1::kMaxSpecDepth; ++level) deepest += "{\"b\":";
  deepest += "[]" + std::string(v1::kMaxSpecDepth - 1, '}');
  ASSERT_OK(v1::ParseJsonObject(deepest, "spec"));
  PolicyApplier applier;
  ExpectAck(applier.Apply(Full("p", 1, R"({"a":1})")), 1, R"({"a":1})");
  ExpectAck(applier.Apply(Delta("p", 1, 2, R"({"a":1})", deepest)), 2, deepest);
  // A patch whose result nests deeper than a spec may is refused, though the hash matches.
  PolicyApplier deeper;
  ExpectAck(deeper.Apply(Full("p", 1, deepest)), 1, deepest);
  std::string innermost = "/a";
  for (int level = 2; level < v1::kMaxSpecDepth; ++level) innermost += "/b";
  const json patch = json::array({{{"op", "add"}, {"path", innermost + "/0"}, {"value", {1}}}});
  v1::PolicyUpdate update = WithPatch(Delta("p", 1, 2, deepest, deepest), patch.dump());
  update.set_sha256(v1::Sha256Hex(v1::CanonicalJson(Parse(deepest).patch(patch))));
  const ApplyOutcome outcome = deeper.Apply(update);
  ExpectNack(outcome, 2, /*needs_full=*/true);
  EXPECT_NE(outcome.nack_reason.find("levels deep"), std::string::npos) << outcome.nack_reason;
}

// A patch that turns the document into a non-object is refused even when the hash matches it.
TEST(PolicyApplierTest, PatchToANonObjectIsRefused) {
  PolicyApplier applier;
  ExpectAck(applier.Apply(Full("laptops", 1, std::string(kRev1))), 1, kRev1);
  v1::PolicyUpdate update = WithPatch(Delta("laptops", 1, 2, kRev1, kRev2),
                                      R"([{"op": "replace", "path": "", "value": [1, 2]}])");
  update.set_sha256(v1::Sha256Hex("[1,2]"));
  ExpectNack(applier.Apply(update), 2, /*needs_full=*/true);
  ExpectApplied(applier, "laptops", 1, kRev1);
}

// A FULL whose document is not a JSON object is refused; a FULL would not help, so none is asked.
TEST(PolicyApplierTest, FullThatIsNotAnObjectIsRefused) {
  PolicyApplier applier;
  ExpectAck(applier.Apply(Full("laptops", 1, std::string(kRev1))), 1, kRev1);
  for (const char* document : {"[1, 2]", "\"text\"", "42", "{\"a\": ", ""}) {
    SCOPED_TRACE(document);
    v1::PolicyUpdate update = Full("laptops", 2, std::string(kRev2));
    update.set_document_json(document);
    ExpectNack(applier.Apply(update), 2, /*needs_full=*/false);
    ExpectApplied(applier, "laptops", 1, kRev1);
  }
}

// Numbers and non-ASCII strings hash as fleetd hashes them (RFC 8785: -0.0 is 0, 1.50 is 1.5),
// however the document was written, and whether it arrives as FULL (as written or canonical) or
// as a DELTA.
TEST(PolicyApplierTest, NumbersAndUnicodeHashLikeTheServer) {
  const std::string written =
      R"({"s": "h\u00e9llo", "f": 1.50, "i": 100, "z": -0.0, "nz": -0, "big": 1e300,
          "neg": -12.25, "u": "héllo ✓", "esc": "tab\tquote\"", "k\u00e9y": true})";
  const std::string canonical =
      "{\"big\":1e+300,\"esc\":\"tab\\tquote\\\"\",\"f\":1.5,\"i\":100,\"kéy\":true,"
      "\"neg\":-12.25,\"nz\":0,\"s\":\"héllo\",\"u\":\"héllo ✓\",\"z\":0}";
  ASSERT_EQ(v1::CanonicalJson(Parse(written)), canonical);

  PolicyApplier as_written;
  ExpectAck(as_written.Apply(Full("p", 1, written)), 1, written);
  EXPECT_EQ(as_written.canonical_json(), canonical);

  PolicyApplier from_canonical;
  ExpectAck(from_canonical.Apply(Full("p", 1, canonical)), 1, written);
  EXPECT_EQ(from_canonical.sha256(), v1::Sha256Hex(canonical));

  PolicyApplier by_delta;
  ExpectAck(by_delta.Apply(Full("p", 1, R"({"s": "plain", "f": 2})")), 1,
            R"({"s": "plain", "f": 2})");
  ExpectAck(by_delta.Apply(Delta("p", 1, 2, R"({"s": "plain", "f": 2})", written)), 2, written);
  EXPECT_EQ(by_delta.canonical_json(), canonical);
}

// Reassignment comes as FULL with another policy name (its revisions count on their own); a
// DELTA naming another policy than the applied one is refused asking for FULL.
TEST(PolicyApplierTest, ReassignmentComesAsFull) {
  PolicyApplier applier;
  ExpectAck(applier.Apply(Full("laptops", 7, std::string(kRev1))), 7, kRev1);
  const ApplyOutcome cross = applier.Apply(Delta("servers", 7, 8, kRev1, kRev2));
  ExpectNack(cross, 8, /*needs_full=*/true);
  ExpectApplied(applier, "laptops", 7, kRev1);

  ExpectAck(applier.Apply(Full("servers", 2, std::string(kRev5))), 2, kRev5);
  ExpectApplied(applier, "servers", 2, kRev5);
  ExpectNack(applier.Apply(Delta("laptops", 2, 8, kRev5, kRev2)), 8, /*needs_full=*/true);
  ExpectAck(applier.Apply(Delta("servers", 2, 3, kRev5, kRev2)), 3, kRev2);
  ExpectApplied(applier, "servers", 3, kRev2);
}

// Before any FULL, a DELTA has nothing to patch, even one claiming base revision 0.
TEST(PolicyApplierTest, DeltaWithNothingAppliedAsksForFull) {
  PolicyApplier applier;
  ExpectNack(applier.Apply(Delta("laptops", 0, 1, "{}", kRev1)), 1, /*needs_full=*/true);
  EXPECT_FALSE(applier.has_policy());
  EXPECT_EQ(applier.HelloMessage().applied_sha256(), "");
}

// Updates out of protocol are refused: an unknown kind asks for FULL; a missing policy name or a
// non-positive target revision is a server error that FULL would not cure.
TEST(PolicyApplierTest, MalformedUpdatesAreRefused) {
  PolicyApplier applier;
  ExpectAck(applier.Apply(Full("laptops", 1, std::string(kRev1))), 1, kRev1);
  v1::PolicyUpdate unknown = Full("laptops", 2, std::string(kRev2));
  unknown.set_kind(v1::PolicyUpdate::KIND_UNSPECIFIED);
  ExpectNack(applier.Apply(unknown), 2, /*needs_full=*/true);
  v1::PolicyUpdate nameless = Full("", 2, std::string(kRev2));
  ExpectNack(applier.Apply(nameless), 2, /*needs_full=*/false);
  ExpectNack(applier.Apply(Full("laptops", 0, std::string(kRev2))), 0, /*needs_full=*/false);
  ExpectNack(applier.Apply(Full("laptops", -3, std::string(kRev2))), -3, /*needs_full=*/false);
  ExpectApplied(applier, "laptops", 1, kRev1);
}

// A Nack reason fits Nack.reason's 1,024 bytes, cut on a UTF-8 character boundary.
TEST(PolicyApplierTest, LongNackReasonIsTruncatedOnACharacterBoundary) {
  PolicyApplier applier;
  ExpectAck(applier.Apply(Full("laptops", 1, std::string(kRev1))), 1, kRev1);
  std::string key;
  for (int i = 0; i < 2000; ++i) key += "é";
  const ApplyOutcome outcome = applier.Apply(WithPatch(
      Delta("laptops", 1, 2, kRev1, kRev2), R"([{"op": "remove", "path": "/)" + key + "\"}]"));
  ExpectNack(outcome, 2, /*needs_full=*/true);
  EXPECT_LE(outcome.nack_reason.size(), 1024u);
  EXPECT_GE(outcome.nack_reason.size(), 1000u);
  EXPECT_NO_THROW(json(outcome.nack_reason).dump());  // strict: throws on broken UTF-8
}

// State restored from disk says so in Hello, and a DELTA from that revision applies to it.
TEST(PolicyApplierTest, CacheSharesContentBetweenAppliersInTheSameState) {
  ApplyCache cache;
  PolicyApplier first;
  PolicyApplier second;
  for (PolicyApplier* applier : {&first, &second}) {
    ExpectAck(applier->Apply(Full("base", 1, std::string(kRev1)), &cache), 1, kRev1);
    ExpectAck(applier->Apply(Delta("base", 1, 2, kRev1, kRev2), &cache), 2, kRev2);
  }
  // The second applier got the content the first made, not a copy.
  EXPECT_EQ(&first.document(), &second.document());
  EXPECT_EQ(second.canonical_json(), v1::CanonicalJson(Parse(kRev2)));
}

TEST(PolicyApplierTest, CacheIsNotUsedWhereTheUpdateWouldBeRefused) {
  ApplyCache cache;
  PolicyApplier ahead;
  ExpectAck(ahead.Apply(Full("base", 1, std::string(kRev1)), &cache), 1, kRev1);
  ExpectAck(ahead.Apply(Delta("base", 1, 2, kRev1, kRev2), &cache), 2, kRev2);
  // Same content as `ahead` had at revision 1, but restored as revision 3: the DELTA's base is
  // wrong for it, so the cached result must not apply.
  PolicyApplier elsewhere = PolicyApplier::Restore("base", 3, kRev1).value();
  ExpectNack(elsewhere.Apply(Delta("base", 1, 2, kRev1, kRev2), &cache), 2, /*needs_full=*/true);
  EXPECT_EQ(elsewhere.revision(), 3);
}

TEST(PolicyApplierTest, RestoreResumesFromPersistedState) {
  ASSERT_OK_AND_ASSIGN(PolicyApplier applier,
                       PolicyApplier::Restore("laptops", 4, std::string(kRev2)));
  ExpectApplied(applier, "laptops", 4, kRev2);
  ExpectAck(applier.Apply(Delta("laptops", 4, 5, kRev2, kRev5)), 5, kRev5);
  ExpectApplied(applier, "laptops", 5, kRev5);
}

// Restore refuses state no agent could have applied.
TEST(PolicyApplierTest, RestoreRefusesInvalidState) {
  EXPECT_EQ(PolicyApplier::Restore("", 1, "{}").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PolicyApplier::Restore("p", 0, "{}").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PolicyApplier::Restore("p", 1, "[]").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PolicyApplier::Restore("p", 1, "{").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fleet::agent
