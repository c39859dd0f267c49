#include "server/model/page_token.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace fleet::server {

absl::StatusOr<std::string> DecodePageToken(const std::string& token, const std::string& prefix) {
  if (token.empty()) return std::string();
  std::string continuation;
  if (!absl::WebSafeBase64Unescape(token, &continuation) ||
      !absl::StartsWith(continuation, prefix)) {
    return absl::InvalidArgumentError("page_token is not a token this listing returned");
  }
  return continuation;
}

std::string EncodePageToken(const std::string& continuation) {
  return continuation.empty() ? std::string() : absl::WebSafeBase64Escape(continuation);
}

absl::StatusOr<int32_t> EffectivePageSize(int32_t page_size) {
  if (page_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size must not be negative (got ", page_size, ")"));
  }
  return page_size == 0 ? kMaxPageSize : std::min(page_size, kMaxPageSize);
}

}  // namespace fleet::server
