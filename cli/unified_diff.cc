#include "cli/unified_diff.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace fleet::cli {
namespace {

constexpr size_t kMaxLcsCells = 4'000'000;

enum class Op { kKeep, kRemove, kAdd };

struct Edit {
  Op op;
  size_t before;  // index into the before lines (kKeep, kRemove)
  size_t after;   // index into the after lines (kKeep, kAdd)
};

std::vector<absl::string_view> Lines(const std::string& text) {
  if (text.empty()) return {};
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  if (text.back() == '\n') lines.pop_back();
  return lines;
}

// The edits that turn a[a_begin, a_end) into b[b_begin, b_end): a longest common subsequence by
// dynamic programming when small enough, else all removed then all added.
void MiddleEdits(const std::vector<absl::string_view>& a, const std::vector<absl::string_view>& b,
                 size_t a_begin, size_t a_end, size_t b_begin, size_t b_end,
                 std::vector<Edit>& edits) {
  const size_t n = a_end - a_begin;
  const size_t m = b_end - b_begin;
  if (n == 0 || m == 0 || n * m > kMaxLcsCells) {
    for (size_t i = a_begin; i < a_end; ++i) edits.push_back({Op::kRemove, i, b_begin});
    for (size_t j = b_begin; j < b_end; ++j) edits.push_back({Op::kAdd, a_end, j});
    return;
  }
  // lcs[i][j]: the LCS length of a[a_begin + i, a_end) and b[b_begin + j, b_end).
  std::vector<uint32_t> lcs((n + 1) * (m + 1), 0);
  const auto at = [m](size_t i, size_t j) { return i * (m + 1) + j; };
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      lcs[at(i, j)] = a[a_begin + i] == b[b_begin + j]
                          ? lcs[at(i + 1, j + 1)] + 1
                          : std::max(lcs[at(i + 1, j)], lcs[at(i, j + 1)]);
    }
  }
  size_t i = 0;
  size_t j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[a_begin + i] == b[b_begin + j]) {
      edits.push_back({Op::kKeep, a_begin + i++, b_begin + j++});
    } else if (j == m || (i < n && lcs[at(i + 1, j)] >= lcs[at(i, j + 1)])) {
      // Removals before additions within a change, as diff -u prints them.
      edits.push_back({Op::kRemove, a_begin + i++, b_begin + j});
    } else {
      edits.push_back({Op::kAdd, a_begin + i, b_begin + j++});
    }
  }
}

std::vector<Edit> Edits(const std::vector<absl::string_view>& a,
                        const std::vector<absl::string_view>& b) {
  size_t prefix = 0;
  while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) ++prefix;
  size_t suffix = 0;
  while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
         a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix]) {
    ++suffix;
  }
  std::vector<Edit> edits;
  for (size_t i = 0; i < prefix; ++i) edits.push_back({Op::kKeep, i, i});
  MiddleEdits(a, b, prefix, a.size() - suffix, prefix, b.size() - suffix, edits);
  for (size_t k = suffix; k > 0; --k) {
    edits.push_back({Op::kKeep, a.size() - k, b.size() - k});
  }
  return edits;
}

// "l,n" of a hunk side, as diff -u writes it: "l" alone when n is 1, and the line before when
// n is 0.
std::string Range(size_t first, size_t count) {
  if (count == 1) return absl::StrCat(first + 1);
  return absl::StrCat(count == 0 ? first : first + 1, ",", count);
}

}  // namespace

std::string UnifiedDiff(const std::string& before, const std::string& after,
                        const std::string& before_label, const std::string& after_label,
                        int context) {
  if (before == after) return "";
  const std::vector<absl::string_view> a = Lines(before);
  const std::vector<absl::string_view> b = Lines(after);
  const bool a_newline = before.empty() || before.back() == '\n';
  const bool b_newline = after.empty() || after.back() == '\n';
  const std::vector<Edit> edits = Edits(a, b);
  const auto line_of = [&](const Edit& edit) {
    std::string line;
    const bool from_a = edit.op != Op::kAdd;
    const absl::string_view text = from_a ? a[edit.before] : b[edit.after];
    absl::StrAppend(&line,
                    edit.op == Op::kKeep     ? " "
                    : edit.op == Op::kRemove ? "-"
                                             : "+",
                    text, "\n");
    // The last line of a side without a final newline; a kept one only when the sides differ.
    const bool last_a = from_a && edit.before + 1 == a.size() && !a_newline;
    const bool last_b = edit.op != Op::kRemove && edit.after + 1 == b.size() && !b_newline;
    if ((edit.op == Op::kKeep && last_a != last_b) ||
        (edit.op != Op::kKeep && (last_a || last_b))) {
      line.append("\\ No newline at end of file\n");
    }
    return line;
  };
  std::string out = absl::StrCat("--- ", before_label, "\n+++ ", after_label, "\n");
  const size_t span = static_cast<size_t>(std::max(context, 0));
  size_t k = 0;
  while (k < edits.size()) {
    if (edits[k].op == Op::kKeep) {
      ++k;
      continue;
    }
    // A hunk: from `span` kept lines before this change to `span` after the last change that is
    // within 2 * span kept lines of the one before it.
    const size_t start = k >= span ? k - span : 0;
    size_t end = k;
    size_t kept_run = 0;
    for (size_t x = k; x < edits.size(); ++x) {
      if (edits[x].op == Op::kKeep) {
        if (++kept_run > 2 * span) break;
      } else {
        kept_run = 0;
        end = x + 1;
      }
    }
    end = std::min(edits.size(), end + span);
    size_t a_count = 0;
    size_t b_count = 0;
    std::string body;
    for (size_t x = start; x < end; ++x) {
      if (edits[x].op != Op::kAdd) ++a_count;
      if (edits[x].op != Op::kRemove) ++b_count;
      body += line_of(edits[x]);
    }
    absl::StrAppend(&out, "@@ -", Range(edits[start].before, a_count), " +",
                    Range(edits[start].after, b_count), " @@\n", body);
    k = end;
  }
  return out;
}

}  // namespace fleet::cli
