// Field checks shared by the admin services. Each returns OK or INVALID_ARGUMENT naming the
// field and what a valid value looks like.
#ifndef FLEETD_SERVER_MODEL_VALIDATION_H_
#define FLEETD_SERVER_MODEL_VALIDATION_H_

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"

namespace fleet::server {

inline constexpr size_t kMaxDescriptionBytes = 1024;

// A DNS label (RFC 1123): 1-63 of a-z, 0-9, "-", starting and ending with a letter or digit.
absl::Status ValidateName(std::string_view field, std::string_view name);

// At most kMaxDescriptionBytes.
absl::Status ValidateDescription(std::string_view field, std::string_view description);

// Kubernetes' label rules. Keys: NAME or PREFIX/NAME, NAME 1-63 of a-z, A-Z, 0-9, "-", "_", "."
// starting and ending with a letter or digit, PREFIX a DNS subdomain (RFC 1123) of at most 253
// characters. Values: empty, or as NAME.
absl::Status ValidateLabelKey(std::string_view field, std::string_view key);
absl::Status ValidateLabelValue(std::string_view field, std::string_view value);

// A record id as minted by secret_token.h: 12 lowercase hex characters.
absl::Status ValidateId(std::string_view field, std::string_view id);

}  // namespace fleet::server

#endif  // FLEETD_SERVER_MODEL_VALIDATION_H_
