#include "cli/documents.h"

#include <sstream>
#include <string>
#include <variant>

#include "cli/output.h"
#include "cli/resource_json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace fleet::cli {
namespace {

using ::testing::HasSubstr;

std::string ErrorOf(const std::string& text) {
  absl::StatusOr<std::vector<Document>> documents = ParseDocuments(text, "policies.yaml");
  EXPECT_FALSE(documents.ok()) << text;
  if (documents.ok()) return "";
  EXPECT_EQ(documents.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(documents.status().message());
}

// A multi-document YAML file yields its policies and tokens in order, specs as sorted JSON.
TEST(ParseDocumentsTest, MultiDocumentYaml) {
  ASSERT_OK_AND_ASSIGN(std::vector<Document> documents, ParseDocuments(R"(
kind: Policy
metadata:
  name: linux-servers
  description: All Linux servers
spec:
  outputs: [{type: elasticsearch, port: 9200}]
  enabled: true
---
---
kind: EnrollmentToken
metadata: {description: for the lab}
spec: {policy: linux-servers, ttl: 24h, maxUses: 10}
)",
                                                                       "f.yaml"));
  ASSERT_EQ(documents.size(), 2u);
  const auto& policy = std::get<v1::ApplyPolicyRequest>(documents[0]);
  EXPECT_EQ(policy.name(), "linux-servers");
  EXPECT_EQ(policy.description(), "All Linux servers");
  EXPECT_EQ(policy.spec_json(),
            R"({"enabled":true,"outputs":[{"port":9200,"type":"elasticsearch"}]})");
  EXPECT_FALSE(policy.has_expected_revision());
  EXPECT_FALSE(policy.dry_run());
  const auto& token = std::get<v1::CreateEnrollmentTokenRequest>(documents[1]);
  EXPECT_EQ(token.policy(), "linux-servers");
  EXPECT_EQ(token.description(), "for the lab");
  EXPECT_EQ(token.ttl().seconds(), 24 * 3600);
  EXPECT_EQ(token.max_uses(), 10);
}

// A JSON array of documents, and a single JSON object, both parse.
TEST(ParseDocumentsTest, JsonArrayAndObject) {
  ASSERT_OK_AND_ASSIGN(std::vector<Document> array, ParseDocuments(R"([
    {"kind": "Policy", "metadata": {"name": "a"}, "spec": {}},
    {"kind": "Policy", "metadata": {"name": "b"}, "spec": {"x": 1.5}}
  ])",
                                                                   "f.json"));
  ASSERT_EQ(array.size(), 2u);
  EXPECT_EQ(std::get<v1::ApplyPolicyRequest>(array[1]).name(), "b");
  EXPECT_EQ(std::get<v1::ApplyPolicyRequest>(array[1]).spec_json(), R"({"x":1.5})");
  ASSERT_OK_AND_ASSIGN(
      std::vector<Document> one,
      ParseDocuments(R"({"kind": "EnrollmentToken", "spec": {"policy": "a"}})", "f.json"));
  ASSERT_EQ(one.size(), 1u);
  EXPECT_FALSE(std::get<v1::CreateEnrollmentTokenRequest>(one[0]).has_ttl());
}

// Malformed YAML and JSON name the file and the line.
TEST(ParseDocumentsTest, MalformedInputNamesTheLine) {
  EXPECT_THAT(ErrorOf("kind: Policy\nmetadata:\n  name: [a\nspec: {}\n"),
              HasSubstr("policies.yaml:4: malformed YAML"));
  EXPECT_THAT(ErrorOf("kind: Policy\nmetadata:\n  name: a\n b: c\n"), HasSubstr("malformed YAML"));
  const std::string json = ErrorOf("{\n  \"kind\": \"Policy\",\n  \"spec\": {,}\n}\n");
  EXPECT_THAT(json, HasSubstr("policies.yaml:3: malformed JSON"));
}

// Unknown kinds and misspelt fields are rejected with the document's line and number.
TEST(ParseDocumentsTest, UnknownKindAndFields) {
  EXPECT_THAT(ErrorOf("kind: Polcy\nmetadata: {name: a}\nspec: {}\n"),
              HasSubstr("policies.yaml:1: document 1: unknown kind \"Polcy\""));
  EXPECT_THAT(ErrorOf("kind: Policy\nmetadata: {name: a}\nspec: {}\n---\n"
                      "kind: Policy\nmetdata: {name: b}\nspec: {}\n"),
              HasSubstr("policies.yaml:5: document 2: unknown field \"metdata\""));
  EXPECT_THAT(ErrorOf("kind: Policy\nmetadata: {name: a, annotations: {}}\nspec: {}\n"),
              HasSubstr("unknown field \"annotations\" in metadata"));
  EXPECT_THAT(ErrorOf("kind: EnrollmentToken\nspec: {policy: a, uses: 3}\n"),
              HasSubstr("unknown field \"uses\" in spec"));
  EXPECT_THAT(ErrorOf("metadata: {name: a}\nspec: {}\n"), HasSubstr("kind is required"));
}

// A missing name, a spec that is not an object and bad token fields are rejected.
TEST(ParseDocumentsTest, BadValues) {
  EXPECT_THAT(ErrorOf("kind: Policy\nmetadata: {description: x}\nspec: {}\n"),
              HasSubstr("metadata.name is required"));
  EXPECT_THAT(ErrorOf("kind: Policy\nmetadata: {name: 5}\nspec: {}\n"),
              HasSubstr("metadata.name must be a string"));
  EXPECT_THAT(ErrorOf("kind: Policy\nmetadata: {name: a}\nspec: [1, 2]\n"),
              HasSubstr("spec must be an object"));
  EXPECT_THAT(ErrorOf("kind: Policy\nmetadata: {name: a}\n"), HasSubstr("spec is required"));
  EXPECT_THAT(ErrorOf("kind: EnrollmentToken\nspec: {policy: a, ttl: 1d}\n"),
              HasSubstr("spec.ttl: invalid duration \"1d\""));
  EXPECT_THAT(ErrorOf("kind: EnrollmentToken\nspec: {policy: a, maxUses: -1}\n"),
              HasSubstr("spec.maxUses"));
  EXPECT_THAT(ErrorOf("- 1\n- 2\n"), HasSubstr("document 1: not an object"));
  EXPECT_THAT(ErrorOf("# nothing\n"), HasSubstr("no documents"));
}

// One bad document fails the whole file: nothing is returned to apply.
TEST(ParseDocumentsTest, OneBadDocumentFailsAll) {
  absl::StatusOr<std::vector<Document>> documents =
      ParseDocuments("kind: Policy\nmetadata: {name: a}\nspec: {}\n---\nkind: Nope\n", "f.yaml");
  EXPECT_FALSE(documents.ok());
}

// What `get policy NAME -o yaml` prints reads back as the ApplyPolicy request for that policy.
TEST(ParseDocumentsTest, YamlOutputOfAPolicyRoundTrips) {
  v1::Policy policy;
  policy.set_name("linux-servers");
  policy.set_description("yes: it is \"quoted\"\nand multi-line");
  policy.set_spec_json(
      R"({"a":"42","b":"true","c":"","d":null,"e":[1,2.5,-3,"0x10","yes","~"],"f":{"g":{}},)"
      R"("h":"line1\nline2","i":"1e3","j":9007199254740991,"k":"null","l":false})");
  policy.set_revision(3);
  policy.set_sha256("ab12");
  policy.mutable_created_at()->set_seconds(1714557600);
  policy.set_author("0123456789ab (ci)");
  std::ostringstream yaml;
  WriteStructured(PolicyToJson(policy), OutputFormat::kYaml, yaml);

  ASSERT_OK_AND_ASSIGN(std::vector<Document> documents, ParseDocuments(yaml.str(), "out.yaml"));
  ASSERT_EQ(documents.size(), 1u);
  v1::ApplyPolicyRequest expected;
  expected.set_expected_revision(3);
  expected.set_name(policy.name());
  expected.set_description(policy.description());
  expected.set_spec_json(policy.spec_json());
  const auto& request = std::get<v1::ApplyPolicyRequest>(documents[0]);
  EXPECT_EQ(request.SerializeAsString(), expected.SerializeAsString()) << yaml.str() << "\n"
                                                                       << request.DebugString();
}

// Control characters in strings survive -o yaml and apply -f (fuzzing found a CR in a plain
// scalar read back as a space).
TEST(ParseDocumentsTest, YamlOutputKeepsControlCharacters) {
  v1::Policy policy;
  policy.set_name("a");
  policy.set_description("tab\there");
  policy.set_spec_json(
      "{\"a\":[\"l\\rl\",\"x\\ty\",\"\\u0001\",\"end \",\"\xef\xbb\xbf e\xcc\x81\"],\"k\\rk\":1,"
      "\"n\\nn: x\":{\"true\":2}}");
  std::ostringstream yaml;
  WriteStructured(PolicyToJson(policy), OutputFormat::kYaml, yaml);
  ASSERT_OK_AND_ASSIGN(std::vector<Document> documents, ParseDocuments(yaml.str(), "out.yaml"));
  const auto& request = std::get<v1::ApplyPolicyRequest>(documents[0]);
  EXPECT_EQ(request.spec_json(), policy.spec_json()) << yaml.str();
  EXPECT_EQ(request.description(), policy.description()) << yaml.str();
}

// The same holds for -o json.
TEST(ParseDocumentsTest, JsonOutputOfAPolicyRoundTrips) {
  v1::Policy policy;
  policy.set_name("a");
  policy.set_spec_json(R"({"x":[1,"2"]})");
  std::ostringstream json;
  WriteStructured(PolicyToJson(policy), OutputFormat::kJson, json);
  ASSERT_OK_AND_ASSIGN(std::vector<Document> documents, ParseDocuments(json.str(), "out.json"));
  ASSERT_EQ(documents.size(), 1u);
  EXPECT_EQ(std::get<v1::ApplyPolicyRequest>(documents[0]).spec_json(), policy.spec_json());
}

// What fleetd's parser refuses that the readers let through (a canonical form over 1 MiB: 1e-6
// is written 0.000001) is refused before sending too.
TEST(ParseDocumentsTest, WhatFleetdRefusesIsNotSent) {
  std::string spec = "{\"kind\": \"Policy\", \"metadata\": {\"name\": \"a\"}, \"spec\": {\"x\": [";
  for (int i = 0; i < 200000; ++i) spec += i == 0 ? "1e-6" : ",1e-6";
  spec += "]}}";
  ASSERT_LT(spec.size(), 1024u * 1024u);
  EXPECT_THAT(ErrorOf(spec), HasSubstr("policies.yaml:1: document 1: "));
}

// An export's status.revision becomes the expected revision; without one none is sent.
TEST(ParseDocumentsTest, StatusRevisionIsTheExpectedRevision) {
  ASSERT_OK_AND_ASSIGN(
      std::vector<Document> documents,
      ParseDocuments("kind: Policy\nmetadata: {name: a}\nspec: {}\nstatus: {revision: 7, "
                     "sha256: ab}\n---\nkind: Policy\nmetadata: {name: b}\nspec: {}\n"
                     "status: {sha256: ab}\n",
                     "f.yaml"));
  ASSERT_EQ(documents.size(), 2u);
  EXPECT_EQ(std::get<v1::ApplyPolicyRequest>(documents[0]).expected_revision(), 7);
  EXPECT_FALSE(std::get<v1::ApplyPolicyRequest>(documents[1]).has_expected_revision());
  EXPECT_THAT(ErrorOf("kind: Policy\nmetadata: {name: a}\nspec: {}\nstatus: {revision: x}\n"),
              HasSubstr("status.revision must be a non-negative integer"));
  EXPECT_THAT(ErrorOf("kind: Policy\nmetadata: {name: a}\nspec: {}\nstatus: {revision: -1}\n"),
              HasSubstr("status.revision must be a non-negative integer"));
}

// apiVersion fleet/v1 is accepted, as is none; another version is refused by name.
TEST(ParseDocumentsTest, ApiVersion) {
  ASSERT_OK(ParseDocuments("apiVersion: fleet/v1\nkind: Policy\nmetadata: {name: a}\nspec: {}\n",
                           "f.yaml"));
  EXPECT_THAT(ErrorOf("apiVersion: fleet/v2\nkind: Policy\nmetadata: {name: a}\nspec: {}\n"),
              HasSubstr("policies.yaml:1: document 1: apiVersion \"fleet/v2\" is not supported "
                        "(fleetctl reads fleet/v1)"));
  EXPECT_THAT(ErrorOf("apiVersion: v1\nkind: List\nitems: []\n"),
              HasSubstr("apiVersion \"v1\" is not supported"));
  EXPECT_THAT(ErrorOf("apiVersion: 1\nkind: Policy\nmetadata: {name: a}\nspec: {}\n"),
              HasSubstr("apiVersion must be a string"));
}

// What `get policies -o yaml` prints (a List of policies with read-only metadata and status)
// reads back as one ApplyPolicy per item, in order.
TEST(ParseDocumentsTest, PrintedListOfPoliciesRoundTrips) {
  std::vector<nlohmann::ordered_json> items;
  for (const char* name : {"b", "a"}) {
    v1::Policy policy;
    policy.set_name(name);
    policy.set_revision(2);
    policy.set_spec_json(R"({"x":1})");
    policy.mutable_created_at()->set_seconds(1714557600);
    policy.mutable_policy_created_at()->set_seconds(1714557000);
    policy.set_author("0123456789ab (ci)");
    policy.set_store_revision(9);
    items.push_back(PolicyToJson(policy));
  }
  for (OutputFormat format : {OutputFormat::kYaml, OutputFormat::kJson}) {
    std::ostringstream out;
    WriteStructured(ListToJson(items), format, out);
    ASSERT_OK_AND_ASSIGN(std::vector<Document> documents, ParseDocuments(out.str(), "out"));
    ASSERT_EQ(documents.size(), 2u) << out.str();
    const auto& first = std::get<v1::ApplyPolicyRequest>(documents[0]);
    EXPECT_EQ(first.name(), "b");
    EXPECT_EQ(first.spec_json(), R"({"x":1})");
    EXPECT_EQ(first.expected_revision(), 2);
    EXPECT_EQ(std::get<v1::ApplyPolicyRequest>(documents[1]).name(), "a");
  }
  ASSERT_OK_AND_ASSIGN(std::vector<Document> empty,
                       ParseDocuments("apiVersion: fleet/v1\nkind: List\nitems: []\n", "f"));
  EXPECT_TRUE(empty.empty());
}

// A List's bad item is named by its index; a List in a List and a printed token are refused.
TEST(ParseDocumentsTest, ListItemsAreCheckedOneByOne) {
  EXPECT_THAT(ErrorOf("kind: List\nitems:\n- {kind: Policy, metadata: {name: a}, spec: {}}\n"
                      "- {kind: Policy, metadata: {name: b}}\n"),
              HasSubstr("policies.yaml:1: document 1: items[1]: spec is required"));
  EXPECT_THAT(ErrorOf("kind: List\nitems: [{kind: List, items: []}]\n"),
              HasSubstr("items[0]: a List inside a List is not supported"));
  EXPECT_THAT(ErrorOf("kind: List\nitems: {}\n"), HasSubstr("items must be a list"));
  EXPECT_THAT(ErrorOf("kind: List\nitem: []\n"), HasSubstr("unknown field \"item\" in the List"));
  v1::EnrollmentToken token;
  token.set_id("fedcba987654");
  token.set_policy("a");
  std::ostringstream yaml;
  WriteStructured(ListToJson({EnrollmentTokenToJson(token)}), OutputFormat::kYaml, yaml);
  EXPECT_THAT(
      ErrorOf(yaml.str()),
      HasSubstr("items[0]: metadata.id: enrollment tokens cannot be changed, only created"));
  EXPECT_THAT(ErrorOf("kind: List\nitems: [{kind: Agent, metadata: {id: a1}, spec: {}}]\n"),
              HasSubstr("unknown kind \"Agent\" (known: Policy, EnrollmentToken, List)"));
}

// What crashed fleetctl or silently changed a value is an error naming the file and the line.
TEST(ParseDocumentsTest, HostileInputIsAnErrorWithFileAndLine) {
  const std::string policy = "kind: Policy\nmetadata: {name: a}\nspec:\n";
  EXPECT_EQ(ErrorOf(policy + "  limits:\n    max: 12345678901234567890\n"),
            "policies.yaml:5: spec.limits.max: 12345678901234567890 cannot be represented "
            "exactly; quote it as a string");
  EXPECT_EQ(ErrorOf(policy + "  x: 1e400\n"),
            "policies.yaml:4: spec.x: 1e400 is outside the range of a double; quote it as a "
            "string");
  EXPECT_EQ(ErrorOf(policy + "  x: \"\xff\"\n"), "policies.yaml:4: not well-formed UTF-8");
  EXPECT_EQ(ErrorOf(policy + "  a: 1\n  a: 2\n"),
            "policies.yaml:5: spec.a: given twice in one mapping (duplicate key)");
  EXPECT_THAT(ErrorOf(policy + "  x: " + std::string(100000, '[') + std::string(100000, ']')),
              HasSubstr("more than 64 levels deep"));
  EXPECT_EQ(ErrorOf("{\"kind\": \"Policy\", \"metadata\": {\"name\": \"a\"},\n\"spec\": {\"x\":\n" +
                    std::string(100000, '[') + std::string(100000, ']') + "}}"),
            "policies.yaml:3: spec.x[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]...: "
            "nests objects and arrays more than 64 levels deep (fleetd's limit for a spec)");
  EXPECT_EQ(ErrorOf("{\"kind\": \"Policy\", \"metadata\": {\"name\": \"a\"},\n"
                    "\"spec\": {\"limits\": {\"max\": 12345678901234567890}}}"),
            "policies.yaml:2: spec.limits.max: 12345678901234567890 cannot be represented "
            "exactly; quote it as a string");
}

}  // namespace
// metadata.labels is an object of strings, sent as the policy's labels; anything else is refused.
TEST(ParseDocumentsTest, PolicyLabels) {
  absl::StatusOr<std::vector<Document>> parsed = ParseDocuments(
      "kind: Policy\nmetadata: {name: a, labels: {env: prod, example.com/team: core}}\nspec: {}\n",
      "policies.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const auto& policy = std::get<v1::ApplyPolicyRequest>((*parsed)[0]);
  EXPECT_EQ(policy.labels().size(), 2u);
  EXPECT_EQ(policy.labels().at("example.com/team"), "core");
  EXPECT_THAT(ErrorOf("kind: Policy\nmetadata: {name: a, labels: [env]}\nspec: {}\n"),
              HasSubstr("metadata.labels must be an object of strings"));
  EXPECT_THAT(ErrorOf("kind: Policy\nmetadata: {name: a, labels: {n: 1}}\nspec: {}\n"),
              HasSubstr("metadata.labels.n must be a string"));
}

}  // namespace fleet::cli
