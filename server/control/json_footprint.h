// How much memory a parsed JSON value holds, for caches that are bounded by bytes (the policy
// engine's revision cache, policy_engine.h).
#ifndef FLEETD_SERVER_CONTROL_JSON_FOOTPRINT_H_
#define FLEETD_SERVER_CONTROL_JSON_FOOTPRINT_H_

#include <cstddef>

#include "nlohmann/json.hpp"

namespace fleet::server {

// The heap and inline bytes of `value` and everything in it, as libstdc++ and nlohmann::json lay
// them out (map nodes, vector capacity, strings past the small-string buffer, and an allocator's
// overhead per allocation): an estimate within a few percent of what malloc hands out. Walks the
// value without recursion, so any depth is fine.
size_t JsonFootprint(const nlohmann::json& value);

}  // namespace fleet::server

#endif  // FLEETD_SERVER_CONTROL_JSON_FOOTPRINT_H_
