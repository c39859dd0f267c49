#include "server/control/query_asks.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/model/store_layout.h"

namespace fleet::server {
namespace {

// What a target adds to an ask at most beyond its id: the field's tag and a length of up to
// five bytes.
constexpr size_t kAgentIdOverhead = 6;

}  // namespace

std::optional<AskKey> AskKey::Parse(const std::string& key) {
  if (!absl::StartsWith(key, layout::kQueryAsks)) return std::nullopt;
  std::vector<std::string> parts =
      absl::StrSplit(absl::string_view(key).substr(sizeof(layout::kQueryAsks) - 1), '/');
  if (parts.size() != 3 || parts[0].empty() || parts[1].empty() || parts[2].empty()) {
    return std::nullopt;
  }
  return AskKey{std::move(parts[0]), std::move(parts[1]), std::move(parts[2])};
}

std::string AskKey::name() const { return absl::StrCat(query_id, "/", part); }

void AppendAskParts(const std::string& query_id, const std::string& replica,
                    const record::QueryAsk& ask, const std::vector<std::string>& agent_ids,
                    size_t most_bytes, int64_t lease, std::vector<storage::Op>& puts) {
  const size_t bare = ask.ByteSizeLong() + layout::QueryAskKey(query_id, replica, 0).size();
  record::QueryAsk part = ask;
  int index = 0;
  size_t bytes = bare;
  auto put = [&] {
    puts.push_back(storage::Op::PutWithLease(layout::QueryAskKey(query_id, replica, index++),
                                             part.SerializeAsString(), lease));
    part.clear_agent_ids();
    bytes = bare;
  };
  for (const std::string& id : agent_ids) {
    const size_t size = id.size() + kAgentIdOverhead;
    if (part.agent_ids_size() > 0 && bytes + size > most_bytes) put();
    part.add_agent_ids(id);
    bytes += size;
  }
  if (part.agent_ids_size() > 0) put();
}

}  // namespace fleet::server
