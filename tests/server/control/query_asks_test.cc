// A forwarded live query's asks (query_asks.h): keys that parse back, and targets split into
// parts that each fit the bound, every target in exactly one part, in order.
#include "server/control/query_asks.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/model/store_layout.h"

namespace fleet::server {
namespace {

constexpr int64_t kLease = 7;

record::QueryAsk Ask() {
  record::QueryAsk ask;
  ask.set_origin("frep_origin");
  ask.set_text("SELECT * FROM os_version");
  ask.set_deadline_unix_micros(1'800'000'000'000'000);
  return ask;
}

std::vector<std::string> Agents(int count) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) ids.push_back(absl::StrCat("fagt_", 100000 + i));
  return ids;
}

TEST(QueryAsksTest, KeysParseBack) {
  std::optional<AskKey> key = AskKey::Parse(layout::QueryAskKey("fq_1", "frep_b", 12));
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->query_id, "fq_1");
  EXPECT_EQ(key->replica, "frep_b");
  EXPECT_EQ(key->part, "0012");
  EXPECT_EQ(key->name(), "fq_1/0012");
  for (const std::string& other :
       {std::string("/query_asks/fq_1/frep_b"), std::string("/query_asks/fq_1/frep_b/"),
        std::string("/query_asks//frep_b/0000"), std::string("/query_asks/fq_1/frep_b/0/x"),
        std::string("/query_results/fq_1/frep_b/0000")}) {
    EXPECT_FALSE(AskKey::Parse(other).has_value()) << other;
  }
}

TEST(QueryAsksTest, FewTargetsMakeOnePart) {
  std::vector<storage::Op> puts;
  AppendAskParts("fq_1", "frep_b", Ask(), Agents(3), 1 << 20, kLease, puts);
  ASSERT_EQ(puts.size(), 1u);
  EXPECT_EQ(puts[0].key, layout::QueryAskKey("fq_1", "frep_b", 0));
  EXPECT_EQ(puts[0].lease, kLease);
  record::QueryAsk part;
  ASSERT_TRUE(part.ParseFromString(puts[0].value));
  EXPECT_EQ(part.text(), "SELECT * FROM os_version");
  EXPECT_EQ(part.origin(), "frep_origin");
  EXPECT_EQ(part.agent_ids_size(), 3);
}

TEST(QueryAsksTest, ManyTargetsSplitIntoPartsWithinTheBound) {
  constexpr size_t kBound = 2048;
  const std::vector<std::string> agents = Agents(1000);
  std::vector<storage::Op> puts;
  AppendAskParts("fq_1", "frep_b", Ask(), agents, kBound, kLease, puts);
  ASSERT_GE(puts.size(), 8u);  // 1,000 ids of 11 bytes, at most 2 KiB a part
  std::vector<std::string> asked;
  for (size_t i = 0; i < puts.size(); ++i) {
    EXPECT_EQ(puts[i].key, layout::QueryAskKey("fq_1", "frep_b", static_cast<int>(i)));
    EXPECT_LE(puts[i].key.size() + puts[i].value.size(), kBound);
    record::QueryAsk part;
    ASSERT_TRUE(part.ParseFromString(puts[i].value));
    EXPECT_EQ(part.text(), "SELECT * FROM os_version");
    EXPECT_GT(part.agent_ids_size(), 0);
    asked.insert(asked.end(), part.agent_ids().begin(), part.agent_ids().end());
  }
  EXPECT_EQ(asked, agents);
}

// Parts of several replicas go to one list, each replica's numbered from 0.
TEST(QueryAsksTest, EachReplicaNumbersItsOwnParts) {
  std::vector<storage::Op> puts;
  AppendAskParts("fq_1", "frep_b", Ask(), Agents(2), 1 << 20, kLease, puts);
  AppendAskParts("fq_1", "frep_c", Ask(), Agents(2), 1 << 20, kLease, puts);
  AppendAskParts("fq_1", "frep_d", Ask(), {}, 1 << 20, kLease, puts);
  ASSERT_EQ(puts.size(), 2u);
  EXPECT_EQ(puts[1].key, layout::QueryAskKey("fq_1", "frep_c", 0));
}

// A bound too small for even one target still asks every target, one per part.
TEST(QueryAsksTest, ABoundBelowOneTargetGivesEachItsOwnPart) {
  std::vector<storage::Op> puts;
  AppendAskParts("fq_1", "frep_b", Ask(), Agents(4), 10, kLease, puts);
  EXPECT_EQ(puts.size(), 4u);
}

}  // namespace
}  // namespace fleet::server
