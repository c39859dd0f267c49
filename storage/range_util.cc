#include "storage/range_util.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace fleet::storage {

absl::StatusOr<std::string> RangeStartKey(const RangeRequest& request) {
  if (request.limit < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("range limit must not be negative (got ", request.limit, ")"));
  }
  if (request.continuation.empty()) return request.prefix;
  if (!std::string_view(request.continuation).starts_with(request.prefix)) {
    return absl::InvalidArgumentError("range continuation does not belong to this prefix");
  }
  // The continuation is the last key returned; the smallest key after it appends a zero byte.
  std::string start = request.continuation;
  start.push_back('\0');
  return start;
}

bool RangePageFull(const RangeRequest& request, RangeResult& result) {
  if (request.limit == 0 || static_cast<int64_t>(result.kvs.size()) < request.limit) return false;
  result.continuation = result.kvs.back().key;
  return true;
}

}  // namespace fleet::storage
