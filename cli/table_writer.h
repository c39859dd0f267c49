// kubectl-style tables: an upper-case header row and aligned columns separated by three spaces.
#ifndef FLEETD_CLI_TABLE_WRITER_H_
#define FLEETD_CLI_TABLE_WRITER_H_

#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace fleet::cli {

// Not thread-safe. Rows shorter than the header are padded with empty cells. Cells are printed
// through EscapeForTerminal (terminal_text.h): a cell with a newline or an escape sequence stays
// one cell of one row.
class TableWriter {
 public:
  explicit TableWriter(std::vector<std::string> header) : header_(std::move(header)) {}

  void AddRow(const std::vector<std::string>& row);

  // Writes the header (unless !header: --no-headers) and every row, each line ending in "\n",
  // without trailing spaces; columns are aligned by code points, not bytes, the header's width
  // counted only when it is written.
  void Write(std::ostream& out, bool header = true) const;

 private:
  const std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace fleet::cli

#endif  // FLEETD_CLI_TABLE_WRITER_H_
