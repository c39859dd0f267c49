// The asks of a live query forwarded to other replicas of a shared store (query_relay.h): their
// keys, /query_asks/QUERY/REPLICA/PART, and how the targets a replica holds are split into parts
// that each fit one transaction of the store.
#ifndef FLEETD_SERVER_CONTROL_QUERY_ASKS_H_
#define FLEETD_SERVER_CONTROL_QUERY_ASKS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/model/records.pb.h"
#include "storage/types.h"

namespace fleet::server {

// The parts of /query_asks/QUERY/REPLICA/PART.
struct AskKey {
  std::string query_id;
  std::string replica;
  std::string part;

  // The parts of an ask's key, or nullopt for another key (or one with an empty part).
  static std::optional<AskKey> Parse(const std::string& key);
  // "QUERY/PART": one part's name among those a replica was asked.
  std::string name() const;
};

// `ask` (text, origin and deadline; no targets) to `agent_ids` on `replica`, as puts under
// `lease` appended to `puts`: parts 0, 1, ... of at most about `most_bytes` of key and value each,
// in the order of `agent_ids`, every target in exactly one part and at least one in each (a
// target that alone exceeds `most_bytes` gets a part of its own). No part for no targets.
void AppendAskParts(const std::string& query_id, const std::string& replica,
                    const record::QueryAsk& ask, const std::vector<std::string>& agent_ids,
                    size_t most_bytes, int64_t lease, std::vector<storage::Op>& puts);

}  // namespace fleet::server

#endif  // FLEETD_SERVER_CONTROL_QUERY_ASKS_H_
