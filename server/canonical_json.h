// Policy specs as fleetd stores and hashes them: canonical JSON, so that the same document
// always has the same bytes and SHA-256 however a client formatted it.
//
// Canonical form: no insignificant white space, object members sorted by name in byte order,
// strings as UTF-8 with JSON's minimal escapes, numbers as nlohmann::json prints them (integers
// exactly, floating point in the shortest round-tripping form).
#ifndef FLEETD_SERVER_CANONICAL_JSON_H_
#define FLEETD_SERVER_CANONICAL_JSON_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace fleet::server {

inline constexpr size_t kMaxSpecBytes = 1024 * 1024;
inline constexpr int kMaxSpecDepth = 64;

// Parses `text` as a JSON object of at most kMaxSpecBytes, nested at most kMaxSpecDepth levels.
// INVALID_ARGUMENT naming `field` when it is not valid JSON (with the parser's position), not an
// object, or nested too deep; RESOURCE_EXHAUSTED when it is too big.
absl::StatusOr<nlohmann::json> ParseJsonObject(std::string_view text, std::string_view field);

// The canonical text of `value`.
std::string CanonicalJson(const nlohmann::json& value);

}  // namespace fleet::server

#endif  // FLEETD_SERVER_CANONICAL_JSON_H_
