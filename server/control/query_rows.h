// The rows of a live query's result (agent.proto QueryResult.rows_json: a JSON array of row
// objects), counted and cut without parsing them into a document: the router counts every
// result's rows against --query-max-rows-per-agent on a completion-queue thread, so it only
// scans the bytes once and keeps the agent's own text of the rows it keeps.
#ifndef FLEETD_SERVER_CONTROL_QUERY_ROWS_H_
#define FLEETD_SERVER_CONTROL_QUERY_ROWS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fleet::server {

struct CountedRows {
  // How many elements the array has.
  int64_t rows = 0;
  // The array of its first `max_rows` elements, when it has more ("[]" for max_rows 0); empty
  // when nothing was cut.
  std::string kept;
  bool cut = false;
};

// Counts the elements of `rows_json`, a JSON array (empty counts as none), and cuts it to its
// first `max_rows` (>= 0). Text that is no JSON array (which the agent stream's checks refuse
// before it gets here) counts as no rows. Thread-safe; linear in the size of the text.
CountedRows CountRows(std::string_view rows_json, int64_t max_rows);

// `rows_json`, a JSON array, as JSON arrays of at most `max_bytes` each that hold its elements in
// order (an element larger than that alone in its own): `rows_json` itself when it fits, "[]" for
// text that is no JSON array. Never empty. For a result that must travel in bounded pieces.
std::vector<std::string> SplitRows(std::string_view rows_json, size_t max_bytes);

}  // namespace fleet::server

#endif  // FLEETD_SERVER_CONTROL_QUERY_ROWS_H_
