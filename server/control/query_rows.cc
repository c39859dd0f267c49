#include "server/control/query_rows.h"

namespace fleet::server {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Calls element(begin, end) with the span of each element of `rows_json`, a JSON array, in
// order, without its surrounding spaces. Text that is no JSON array has no elements.
template <typename Element>
void ForEachElement(std::string_view rows_json, Element&& element) {
  size_t i = 0;
  while (i < rows_json.size() && IsSpace(rows_json[i])) ++i;
  if (i == rows_json.size() || rows_json[i] != '[') return;
  ++i;
  // Depth 1 is inside the array; an element is whatever stands between commas there.
  int depth = 1;
  bool in_element = false;
  bool in_string = false;
  bool escaped = false;
  size_t element_begin = 0;
  size_t element_end = 0;  // just after the last character of the current element
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
      if (in_element) {
        in_element = false;
        element(element_begin, element_end);
      }
      if (c == ']') depth = 0;
      continue;
    }
    if (depth == 1 && !in_element) {
      in_element = true;
      element_begin = i;
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
}

}  // namespace

CountedRows CountRows(std::string_view rows_json, int64_t max_rows) {
  CountedRows counted;
  size_t cut_at = std::string_view::npos;
  ForEachElement(rows_json, [&](size_t /*begin*/, size_t end) {
    if (++counted.rows == max_rows) cut_at = end;
  });
  if (counted.rows > max_rows) {
    counted.cut = true;
    counted.kept = max_rows == 0 || cut_at == std::string_view::npos
                       ? std::string("[]")
                       : std::string(rows_json.substr(0, cut_at)) + "]";
  }
  return counted;
}

std::vector<std::string> SplitRows(std::string_view rows_json, size_t max_bytes) {
  if (rows_json.size() <= max_bytes) return {std::string(rows_json)};
  std::vector<std::string> arrays;
  std::string array;
  ForEachElement(rows_json, [&](size_t begin, size_t end) {
    const std::string_view element = rows_json.substr(begin, end - begin);
    // "[" and "]", or "," and "]".
    if (!array.empty() && array.size() + element.size() + 2 > max_bytes) {
      arrays.push_back(array + "]");
      array.clear();
    }
    array += array.empty() ? "[" : ",";
    array += element;
  });
  arrays.push_back(array.empty() ? std::string("[]") : array + "]");
  return arrays;
}

}  // namespace fleet::server
