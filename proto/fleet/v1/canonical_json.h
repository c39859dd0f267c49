// Part of the protocol (agent.proto): policy specs as fleetd stores, hashes and sends them, and as
// agents must hash what they applied. Canonical JSON gives the same document the same bytes and
// SHA-256 however a client formatted it. Shared by fleetd and the agent client core.
//
// Canonical form: no insignificant white space, object members sorted by name in byte order,
// strings as UTF-8 with JSON's minimal escapes, numbers as nlohmann::json prints them (integers
// exactly, floating point in the shortest round-tripping form).
#ifndef FLEETD_PROTO_FLEET_V1_CANONICAL_JSON_H_
#define FLEETD_PROTO_FLEET_V1_CANONICAL_JSON_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace fleet::v1 {

inline constexpr size_t kMaxSpecBytes = 1024 * 1024;
inline constexpr int kMaxSpecDepth = 64;

// Parses `text` as a JSON object of at most kMaxSpecBytes, nested at most kMaxSpecDepth levels.
// INVALID_ARGUMENT naming `field` when it is not valid JSON (with the parser's position), not an
// object, or nested too deep; RESOURCE_EXHAUSTED when it is too big.
absl::StatusOr<nlohmann::json> ParseJsonObject(std::string_view text, std::string_view field);

// The canonical text of `value`.
std::string CanonicalJson(const nlohmann::json& value);

// Lowercase hex SHA-256 of `data`: the content hash of the protocol (Policy.sha256,
// PolicyUpdate.sha256, Hello.applied_sha256), taken over canonical JSON.
std::string Sha256Hex(std::string_view data);

}  // namespace fleet::v1

#endif  // FLEETD_PROTO_FLEET_V1_CANONICAL_JSON_H_
