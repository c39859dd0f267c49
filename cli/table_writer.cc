#include "cli/table_writer.h"

#include <algorithm>

#include "cli/terminal_text.h"

namespace fleet::cli {
namespace {

constexpr size_t kGap = 3;

void WriteRow(const std::vector<std::string>& row, const std::vector<size_t>& widths,
              std::ostream& out) {
  std::string line;
  for (size_t i = 0; i < widths.size(); ++i) {
    const std::string cell = i < row.size() ? row[i] : "";
    line += cell;
    if (i + 1 < widths.size()) line += std::string(widths[i] - DisplayWidth(cell) + kGap, ' ');
  }
  line.erase(line.find_last_not_of(' ') + 1);
  out << line << "\n";
}

}  // namespace

void TableWriter::AddRow(const std::vector<std::string>& row) {
  std::vector<std::string> escaped;
  escaped.reserve(row.size());
  for (const std::string& cell : row) escaped.push_back(EscapeForTerminal(cell));
  rows_.push_back(std::move(escaped));
}

void TableWriter::Write(std::ostream& out, bool header) const {
  std::vector<size_t> widths(header_.size());
  for (size_t i = 0; i < header_.size(); ++i) {
    widths[i] = header ? DisplayWidth(header_[i]) : 0;
    for (const auto& row : rows_) {
      if (i < row.size()) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  }
  if (header) WriteRow(header_, widths, out);
  for (const auto& row : rows_) WriteRow(row, widths, out);
}

}  // namespace fleet::cli
