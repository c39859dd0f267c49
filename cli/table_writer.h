// kubectl-style tables: an upper-case header row and aligned columns separated by three spaces.
#ifndef FLEETD_CLI_TABLE_WRITER_H_
#define FLEETD_CLI_TABLE_WRITER_H_

#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace fleet::cli {

// Not thread-safe. Rows shorter than the header are padded with empty cells.
class TableWriter {
 public:
  explicit TableWriter(std::vector<std::string> header) : header_(std::move(header)) {}

  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  // Writes the header and every row, each line ending in "\n", without trailing spaces.
  void Write(std::ostream& out) const;

 private:
  const std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace fleet::cli

#endif  // FLEETD_CLI_TABLE_WRITER_H_
