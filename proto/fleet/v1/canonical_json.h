// Part of the protocol (agent.proto): policy specs as fleetd accepts, stores, hashes and sends
// them, and as agents must hash what they applied. Shared by fleetd and the agent client core.
//
// The canonical form is RFC 8785's (the JSON Canonicalization Scheme, JCS), so that an agent can
// use any JCS library: no insignificant white space; object members sorted by the UTF-16 code
// units of their names; strings as raw UTF-8 escaping only '"', '\' and control characters below
// U+0020 (\b \t \n \f \r, else \u00xx in lowercase hex); numbers as ECMAScript's
// Number.prototype.toString writes the IEEE-754 double (shortest round trip: 1e+23, 1, 1e-7,
// 0.000001, -0 as 0).
//
// Accepted specs are I-JSON (RFC 7493): well-formed UTF-8, no lone surrogates (in \u escapes
// either), unique member names, finite doubles, and no integer a double cannot hold exactly
// (beyond +-(2^53-1)), so that every receiver reads the same values and the canonical form of
// an accepted spec parses again to itself.
#ifndef FLEETD_PROTO_FLEET_V1_CANONICAL_JSON_H_
#define FLEETD_PROTO_FLEET_V1_CANONICAL_JSON_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace fleet::v1 {

// The largest spec, input text and canonical form alike.
inline constexpr size_t kMaxSpecBytes = 1024 * 1024;
// The deepest nesting of objects and arrays in a spec (the top-level object is level 1).
inline constexpr int kMaxSpecDepth = 64;

// Parses `text` as an I-JSON object of at most kMaxSpecBytes, nested at most kMaxSpecDepth
// levels. RESOURCE_EXHAUSTED when it is too big. INVALID_ARGUMENT when it is not valid JSON (with
// the parser's line and column), not an object, nested too deep, holds ill-formed UTF-8 or a
// lone surrogate, a duplicate member name, a number outside the range of a double, or an integer
// beyond +-(2^53-1) (also one written with a fraction or exponent, such as 1e20, whose canonical
// form would be that integer). Each message starts with the JSON path of the offence under
// `field` (e.g. "spec.limits.max: 12345678901234567890 cannot be represented exactly; quote it
// as a string") and quotes at most 64 bytes of the input.
absl::StatusOr<nlohmann::json> ParseJsonObject(std::string_view text, std::string_view field);

// As ParseJsonObject, but for a spec fleetd stored before its canonical form was RFC 8785's:
// any finite number is accepted (integers beyond 2^53 then canonicalize to the nearest double)
// and the text may be bigger than kMaxSpecBytes.
absl::StatusOr<nlohmann::json> ParseStoredJsonObject(std::string_view text, std::string_view field);

// The RFC 8785 canonical text of `value`. Every integer is written as the double nearest to it;
// a non-finite double (which no parse yields) as null; a string of ill-formed UTF-8 (which no
// parse yields either) with U+FFFD for each bad byte. Recurses once per level of nesting:
// `value` must be nested no deeper than a few thousand levels (a parsed spec is 64 at most).
std::string CanonicalJson(const nlohmann::json& value);

// A spec as fleetd accepts it: parsed, and its canonical text.
struct CanonicalSpec {
  nlohmann::json value;
  std::string canonical;
};

// ParseJsonObject, then CanonicalJson; RESOURCE_EXHAUSTED naming both sizes when the canonical
// text exceeds kMaxSpecBytes (it can be longer than the input, e.g. 1e-6 is 0.000001).
absl::StatusOr<CanonicalSpec> ParseCanonicalSpec(std::string_view text, std::string_view field);

// Lowercase hex SHA-256 of `data`: the content hash of the protocol (Policy.sha256,
// PolicyUpdate.sha256, Hello.applied_sha256), taken over canonical JSON.
std::string Sha256Hex(std::string_view data);

}  // namespace fleet::v1

#endif  // FLEETD_PROTO_FLEET_V1_CANONICAL_JSON_H_
