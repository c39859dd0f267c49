// Kubernetes' selector grammar (label_selector.h): every operator's meaning, DNS-prefixed keys,
// the label rules, and errors that quote the bad requirement and name its column.
#include "server/model/label_selector.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/model/validation.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

using ::testing::HasSubstr;
using Labels = google::protobuf::Map<std::string, std::string>;

Labels Make(std::initializer_list<std::pair<const std::string, std::string>> labels) {
  Labels map;
  for (const auto& [key, value] : labels) map[key] = value;
  return map;
}

bool Selects(std::string_view selector, const Labels& labels) {
  absl::StatusOr<LabelSelector> parsed = LabelSelector::Parse(selector);
  EXPECT_TRUE(parsed.ok()) << selector << ": " << parsed.status();
  return parsed.ok() && parsed->Matches(labels);
}

std::string ErrorOf(std::string_view selector) {
  absl::StatusOr<LabelSelector> parsed = LabelSelector::Parse(selector);
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << selector;
  return std::string(parsed.status().message());
}

const Labels kProdWeb = Make({{"env", "prod"}, {"tier", "web"}, {"example.com/team", "core"}});

// An empty or blank selector matches everything, labelled or not.
TEST(LabelSelectorTest, EmptyMatchesEverything) {
  EXPECT_TRUE(Selects("", Labels()));
  EXPECT_TRUE(Selects("  ", kProdWeb));
}

// =, == and != compare values; != and notin also match agents without the label.
TEST(LabelSelectorTest, EqualityOperators) {
  EXPECT_TRUE(Selects("env=prod", kProdWeb));
  EXPECT_TRUE(Selects("env==prod", kProdWeb));
  EXPECT_FALSE(Selects("env=dev", kProdWeb));
  EXPECT_FALSE(Selects("env=prod", Labels()));
  EXPECT_TRUE(Selects("env!=dev", kProdWeb));
  EXPECT_FALSE(Selects("env!=prod", kProdWeb));
  EXPECT_TRUE(Selects("env!=prod", Labels()));
  EXPECT_TRUE(Selects("env=", Make({{"env", ""}})));
  EXPECT_FALSE(Selects("env=", kProdWeb));
}

// in and notin take a parenthesized list; white space around anything is ignored.
TEST(LabelSelectorTest, SetOperators) {
  EXPECT_TRUE(Selects("env in (dev,prod)", kProdWeb));
  EXPECT_TRUE(Selects(" env  in(dev , prod) ", kProdWeb));
  EXPECT_FALSE(Selects("env in (dev,staging)", kProdWeb));
  EXPECT_FALSE(Selects("env in (prod)", Labels()));
  EXPECT_TRUE(Selects("env notin (dev,staging)", kProdWeb));
  EXPECT_FALSE(Selects("env notin (prod)", kProdWeb));
  EXPECT_TRUE(Selects("env notin (prod)", Labels()));
}

// A bare key asks that the label exists, !key that it does not.
TEST(LabelSelectorTest, ExistenceOperators) {
  EXPECT_TRUE(Selects("tier", kProdWeb));
  EXPECT_FALSE(Selects("tier", Labels()));
  EXPECT_TRUE(Selects("!owner", kProdWeb));
  EXPECT_FALSE(Selects("!tier", kProdWeb));
  EXPECT_TRUE(Selects("! tier", Labels()));
}

// Requirements are ANDed, and keys may have a DNS prefix.
TEST(LabelSelectorTest, ConjunctionAndPrefixedKeys) {
  EXPECT_TRUE(Selects("env=prod,tier in (web),example.com/team=core,!owner", kProdWeb));
  EXPECT_FALSE(Selects("env=prod,example.com/team!=core", kProdWeb));
  EXPECT_TRUE(Selects("example.com/team", kProdWeb));
}

// Each syntax error quotes the requirement at fault and the column where it goes wrong.
TEST(LabelSelectorTest, SyntaxErrorsNameRequirementAndColumn) {
  EXPECT_EQ(ErrorOf("env=prod,tier in web"),
            "selector requirement \"tier in web\" at column 18: expected \"(\" after \"in\", "
            "found \"w\"");
  EXPECT_THAT(ErrorOf("env=prod,"), HasSubstr("at column 10: expected a label key"));
  EXPECT_THAT(ErrorOf("env=prod,,tier"), HasSubstr("at column 10: expected a label key"));
  EXPECT_THAT(ErrorOf("env=a=b"), HasSubstr("\"env=a=b\" at column 6: expected \",\""));
  EXPECT_THAT(ErrorOf("env!prod"), HasSubstr("at column 4: expected \"!=\""));
  EXPECT_THAT(ErrorOf("env like prod"),
              HasSubstr("at column 5: expected =, ==, !=, in or notin after the key"));
  EXPECT_THAT(ErrorOf("env in (a b)"),
              HasSubstr("at column 11: expected \",\" or \")\" in the value list"));
  EXPECT_THAT(ErrorOf("env in (a"), HasSubstr("found the end of the selector"));
  EXPECT_THAT(ErrorOf("!env=prod"), HasSubstr("at column 5: expected \",\" or the end"));
}

// Keys and values follow Kubernetes' rules: 63-character names, 253-character DNS prefixes,
// alphanumeric ends; the error says which rule.
TEST(LabelSelectorTest, KeysAndValuesAreValidated) {
  const std::string name63(63, 'a');
  EXPECT_OK(LabelSelector::Parse(name63 + "=" + name63).status());
  EXPECT_THAT(ErrorOf(name63 + "a=x"), HasSubstr("at column 1: label key"));
  EXPECT_THAT(ErrorOf("env=" + name63 + "a"), HasSubstr("at column 5: label value"));
  EXPECT_THAT(ErrorOf("env=-prod"), HasSubstr("starting and ending with a letter or digit"));
  EXPECT_THAT(ErrorOf("Example.com/team=x"), HasSubstr("DNS subdomain"));
  EXPECT_THAT(ErrorOf("/team=x"), HasSubstr("label key"));
  EXPECT_THAT(ErrorOf("example.com/=x"), HasSubstr("label key"));
  const std::string prefix253 = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                                std::string(63, 'c') + "." + std::string(61, 'd');
  ASSERT_EQ(prefix253.size(), 253u);
  EXPECT_OK(LabelSelector::Parse(prefix253 + "/team").status());
  EXPECT_THAT(ErrorOf(prefix253 + "d/team"), HasSubstr("DNS subdomain"));
}

// The label rules themselves, as agents' and policies' labels are checked.
TEST(ValidationTest, LabelRules) {
  EXPECT_OK(ValidateLabelKey("k", "example.com/team"));
  EXPECT_OK(ValidateLabelKey("k", "a.b_c-D"));
  EXPECT_OK(ValidateLabelValue("v", ""));
  EXPECT_FALSE(ValidateLabelKey("k", "").ok());
  EXPECT_FALSE(ValidateLabelKey("k", "a/b/c").ok());
  EXPECT_FALSE(ValidateLabelKey("k", "exa_mple.com/team").ok());
  EXPECT_FALSE(ValidateLabelValue("v", "prod-").ok());
  EXPECT_FALSE(ValidateLabelValue("v", "a b").ok());
}

}  // namespace
}  // namespace fleet::server
