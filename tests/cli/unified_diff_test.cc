// UnifiedDiff against what GNU diff -u prints for the same texts.
#include "cli/unified_diff.h"

#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace fleet::cli {
namespace {

std::string Lines(const std::string& letters) {
  std::string text;
  for (const char c : letters) text += std::string(1, c) + "\n";
  return text;
}

// Equal texts have no diff at all.
TEST(UnifiedDiffTest, EqualTextsHaveNone) {
  EXPECT_EQ(UnifiedDiff("a\nb\n", "a\nb\n", "x", "y"), "");
  EXPECT_EQ(UnifiedDiff("", "", "x", "y"), "");
}

// Two changes more than six lines apart make two hunks, with three lines of context each, as
// `diff -u` prints them.
TEST(UnifiedDiffTest, HunksWithContextAsDiffU) {
  EXPECT_EQ(UnifiedDiff(Lines("abcdefghijklm"), Lines("abcDefghijklmn"), "before", "after"),
            "--- before\n+++ after\n"
            "@@ -1,7 +1,7 @@\n a\n b\n c\n-d\n+D\n e\n f\n g\n"
            "@@ -11,3 +11,4 @@\n k\n l\n m\n+n\n");
  // Closer together: one hunk.
  EXPECT_EQ(UnifiedDiff(Lines("abcdefgh"), Lines("aBcdefGh"), "before", "after"),
            "--- before\n+++ after\n"
            "@@ -1,8 +1,8 @@\n a\n-b\n+B\n c\n d\n e\n f\n-g\n+G\n h\n");
}

// A new text is all added from line 0; a removed one all removed.
TEST(UnifiedDiffTest, FromAndToNothing) {
  EXPECT_EQ(UnifiedDiff("", "x\ny\n", "/dev/null", "f"),
            "--- /dev/null\n+++ f\n@@ -0,0 +1,2 @@\n+x\n+y\n");
  EXPECT_EQ(UnifiedDiff("x\n", "", "f", "g"), "--- f\n+++ g\n@@ -1 +0,0 @@\n-x\n");
}

// Counts the lines a diff removes and adds.
std::pair<int, int> Changed(const std::string& diff) {
  std::pair<int, int> changed;
  for (absl::string_view line : absl::StrSplit(diff, '\n')) {
    if (absl::StartsWith(line, "---") || absl::StartsWith(line, "+++")) continue;
    if (absl::StartsWith(line, "-")) ++changed.first;
    if (absl::StartsWith(line, "+")) ++changed.second;
  }
  return changed;
}

// The diff is minimal: the classic example (the longest common subsequence has 4 lines) removes
// 3 lines and adds 2, as diff -u does.
TEST(UnifiedDiffTest, MinimalChanges) {
  EXPECT_EQ(Changed(UnifiedDiff(Lines("abcabba"), Lines("cbabac"), "a", "b", 0)),
            std::make_pair(3, 2));
}

// Inputs too big for the quadratic table still give a correct (if not minimal) diff quickly.
TEST(UnifiedDiffTest, HugeInputsStayBounded) {
  std::string before;
  std::string after;
  for (int i = 0; i < 5000; ++i) {
    absl::StrAppend(&before, "line ", i, "\n");
    absl::StrAppend(&after, "line ", i % 2 == 0 ? i : -i, "\n");
  }
  const std::string diff = UnifiedDiff(before, after, "a", "b");
  const auto [removed, added] = Changed(diff);
  EXPECT_EQ(removed, added);
  EXPECT_GE(removed, 2500);
  EXPECT_LE(removed, 5000);
}

}  // namespace
}  // namespace fleet::cli
