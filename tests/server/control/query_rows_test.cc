// SplitRows (query_rows.h): a result's rows as bounded JSON arrays that hold every element once,
// in order, cut only between elements.
#include "server/control/query_rows.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace fleet::server {
namespace {

TEST(QueryRowsTest, RowsThatFitStayAsTheyAre) {
  EXPECT_EQ(SplitRows(R"([{"a": 1}, {"b": 2}])", 100),
            (std::vector<std::string>{R"([{"a": 1}, {"b": 2}])"}));
  EXPECT_EQ(SplitRows("", 100), (std::vector<std::string>{""}));
}

// Commas, brackets and braces inside strings are no boundaries.
TEST(QueryRowsTest, SplitsBetweenElementsOnly) {
  const std::string rows = R"([{"s": "a,]}"}, {"t": [1, 2]}, {"u": "\"x\""}, {"v": {}}])";
  std::vector<std::string> arrays = SplitRows(rows, 24);
  ASSERT_GT(arrays.size(), 1u);
  nlohmann::json joined = nlohmann::json::array();
  for (const std::string& array : arrays) {
    EXPECT_LE(array.size(), 24u) << array;
    nlohmann::json parsed = nlohmann::json::parse(array);
    ASSERT_TRUE(parsed.is_array()) << array;
    for (const nlohmann::json& row : parsed) joined.push_back(row);
  }
  EXPECT_EQ(joined, nlohmann::json::parse(rows));
}

TEST(QueryRowsTest, AnElementLargerThanTheBoundGoesAlone) {
  const std::string big = R"({"big": ")" + std::string(50, 'x') + R"("})";
  std::vector<std::string> arrays = SplitRows("[{\"a\":1}," + big + ",{\"b\":2}]", 20);
  EXPECT_EQ(arrays, (std::vector<std::string>{"[{\"a\":1}]", "[" + big + "]", "[{\"b\":2}]"}));
}

TEST(QueryRowsTest, NoArrayGivesNoRows) {
  EXPECT_EQ(SplitRows(std::string(30, 'x'), 10), (std::vector<std::string>{"[]"}));
}

}  // namespace
}  // namespace fleet::server
