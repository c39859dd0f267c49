// A resource's table as data, for `get`: its columns (some only in -o wide), how -o name names a
// row, the column rows are sorted by unless --sort-by names another; and printing rows in the
// table styles (-o table, wide, name; --no-headers).
#ifndef FLEETD_CLI_TABLE_SPEC_H_
#define FLEETD_CLI_TABLE_SPEC_H_

#include <algorithm>
#include <compare>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "cli/output.h"
#include "cli/table_writer.h"

namespace fleet::cli {

// What --sort-by orders by: `number` first, then `text`. Numeric columns (revisions, counts,
// times) set the number, so that 10 sorts after 9 and "2d" after "5h".
struct SortKey {
  int64_t number = 0;
  std::string text;
  auto operator<=>(const SortKey&) const = default;
};

template <typename T>
struct Column {
  std::string header;  // upper-case, e.g. "LAST-SEEN"
  std::function<std::string(const T&, absl::Time now)> cell;
  // How --sort-by orders by this column; when empty, by the cell's text.
  std::function<SortKey(const T&)> key;
  bool wide = false;  // shown by -o wide only
};

template <typename T>
struct TableSpec {
  std::string kind;                           // for -o name, lower-case: "policy"
  std::function<std::string(const T&)> name;  // the row's name or id; ties sort by it
  std::vector<Column<T>> columns;
  std::string default_sort;  // the header of the column rows are sorted by by default
};

struct TableOptions {
  TableStyle style = TableStyle::kNormal;
  bool headers = true;  // false: --no-headers
};

// The column headers --sort-by takes, lower-case, in table order (wide ones included).
template <typename T>
std::vector<std::string> SortColumns(const TableSpec<T>& spec) {
  std::vector<std::string> names;
  for (const Column<T>& column : spec.columns)
    names.push_back(absl::AsciiStrToLower(column.header));
  return names;
}

// Empty when `sort_by` names a column of `spec` (any case), else a usage error message naming
// the columns: what --sort-by's validator answers (CLI11 puts "--sort-by: " before it).
template <typename T>
std::string CheckSortColumn(const TableSpec<T>& spec, const std::string& sort_by) {
  const std::vector<std::string> names = SortColumns(spec);
  if (std::find(names.begin(), names.end(), absl::AsciiStrToLower(sort_by)) != names.end()) {
    return "";
  }
  return absl::StrCat("\"", sort_by, "\": not a column of ", spec.kind, " tables; want one of ",
                      absl::StrJoin(names, ", "));
}

// Sorts `rows` by the column `sort_by` names (any case; empty: spec.default_sort), ascending,
// ties by name. A `sort_by` that names no column (CheckSortColumn) sorts by name alone.
template <typename T>
void SortRows(const TableSpec<T>& spec, const std::string& sort_by, std::vector<T>& rows) {
  const std::string wanted = absl::AsciiStrToLower(sort_by.empty() ? spec.default_sort : sort_by);
  std::function<SortKey(const T&)> key = [](const T&) { return SortKey{}; };
  for (const Column<T>& column : spec.columns) {
    if (absl::AsciiStrToLower(column.header) != wanted) continue;
    key = column.key ? column.key : [cell = column.cell](const T& row) {
      return SortKey{.text = cell(row, absl::InfinitePast())};
    };
  }
  std::vector<std::pair<SortKey, std::string>> keys;
  std::vector<size_t> order(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    keys.emplace_back(key(rows[i]), spec.name(rows[i]));
    order[i] = i;
  }
  std::stable_sort(order.begin(), order.end(),
                   [&keys](size_t a, size_t b) { return keys[a] < keys[b]; });
  std::vector<T> sorted;
  sorted.reserve(rows.size());
  for (size_t i : order) sorted.push_back(std::move(rows[i]));
  rows = std::move(sorted);
}

// Prints `rows` as they are ordered: with kName "KIND/NAME" lines, else a table of the columns
// (the wide ones too with kWide), its header row unless !options.headers. Ages are relative to
// `now`.
template <typename T>
void PrintRows(const TableSpec<T>& spec, const std::vector<T>& rows, const TableOptions& options,
               absl::Time now, std::ostream& out) {
  if (options.style == TableStyle::kName) {
    TableWriter names({""});
    for (const T& row : rows) names.AddRow({absl::StrCat(spec.kind, "/", spec.name(row))});
    names.Write(out, /*header=*/false);
    return;
  }
  std::vector<const Column<T>*> shown;
  std::vector<std::string> header;
  for (const Column<T>& column : spec.columns) {
    if (column.wide && options.style != TableStyle::kWide) continue;
    shown.push_back(&column);
    header.push_back(column.header);
  }
  TableWriter table(std::move(header));
  for (const T& row : rows) {
    std::vector<std::string> cells;
    for (const Column<T>* column : shown) cells.push_back(column->cell(row, now));
    table.AddRow(cells);
  }
  table.Write(out, options.headers);
}

}  // namespace fleet::cli

#endif  // FLEETD_CLI_TABLE_SPEC_H_
