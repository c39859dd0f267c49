// Opaque page tokens for the admin API's List calls: the Store's range continuation, encoded
// so that clients treat it as a token and cannot hand-craft keys outside the listing.
#ifndef FLEETD_SERVER_MODEL_PAGE_TOKEN_H_
#define FLEETD_SERVER_MODEL_PAGE_TOKEN_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace fleet::server {

inline constexpr int32_t kMaxPageSize = 500;

// The continuation in `token` (empty for an empty token); INVALID_ARGUMENT for a token not made
// by EncodePageToken for `prefix`.
absl::StatusOr<std::string> DecodePageToken(const std::string& token, const std::string& prefix);
std::string EncodePageToken(const std::string& continuation);

// page_size 0 means kMaxPageSize; INVALID_ARGUMENT when negative; capped at kMaxPageSize.
absl::StatusOr<int32_t> EffectivePageSize(int32_t page_size);

}  // namespace fleet::server

#endif  // FLEETD_SERVER_MODEL_PAGE_TOKEN_H_
