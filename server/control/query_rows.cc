#include "server/control/query_rows.h"

namespace fleet::server {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

CountedRows CountRows(std::string_view rows_json, int64_t max_rows) {
  CountedRows counted;
  size_t i = 0;
  while (i < rows_json.size() && IsSpace(rows_json[i])) ++i;
  if (i == rows_json.size() || rows_json[i] != '[') return counted;
  ++i;
  // Depth 1 is inside the array; an element is whatever stands between commas there.
  int depth = 1;
  bool in_element = false;
  bool in_string = false;
  bool escaped = false;
  size_t element_end = 0;  // just after the last character of the current element
  size_t cut_at = std::string_view::npos;
  auto end_element = [&] {
    in_element = false;
    if (counted.rows == max_rows) cut_at = element_end;
  };
  for (; i < rows_json.size() && depth > 0; ++i) {
    const char c = rows_json[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      element_end = i + 1;
      continue;
    }
    if (IsSpace(c)) continue;
    if (depth == 1 && (c == ',' || c == ']')) {
      if (in_element) end_element();
      if (c == ']') depth = 0;
      continue;
    }
    if (depth == 1 && !in_element) {
      in_element = true;
      ++counted.rows;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      --depth;
    }
    element_end = i + 1;
  }
  if (counted.rows > max_rows) {
    counted.cut = true;
    counted.kept = max_rows == 0 || cut_at == std::string_view::npos
                       ? std::string("[]")
                       : std::string(rows_json.substr(0, cut_at)) + "]";
  }
  return counted;
}

}  // namespace fleet::server
