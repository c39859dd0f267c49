// Where a fleet's Store keys live in etcd, so that several fleets can share one cluster: under
// the fleet's prefix, the revisioned keys in one range and the unlogged state in another.
//
//   PREFIX "k/" KEY   a revisioned key (storage/store.h); watches follow this range
//   PREFIX "s/" KEY   an unlogged state key (Store::PutState)
#ifndef FLEETD_STORAGE_ETCD_ETCD_KEYSPACE_H_
#define FLEETD_STORAGE_ETCD_ETCD_KEYSPACE_H_

#include <optional>
#include <string>
#include <string_view>

#include "storage/etcd/etcd_api.pb.h"
#include "storage/types.h"

namespace fleet::storage::etcd {

// Immutable, so freely shared.
class EtcdKeyspace {
 public:
  // `prefix` should end in "/" by convention ("/fleetd/"); it may be empty.
  explicit EtcdKeyspace(std::string prefix);

  std::string KvKey(std::string_view key) const { return kv_prefix_ + std::string(key); }
  std::string StateKey(std::string_view key) const { return state_prefix_ + std::string(key); }
  // The revisioned keys' range: [kv_begin(), kv_end()).
  const std::string& kv_begin() const { return kv_prefix_; }
  const std::string& kv_end() const { return kv_end_; }
  const std::string& state_prefix() const { return state_prefix_; }
  const std::string& prefix() const { return prefix_; }

  // The Store key of an etcd key in the revisioned range; nullopt for any other key.
  std::optional<std::string_view> StoreKey(std::string_view etcd_key) const;
  // The Store's view of an etcd KeyValue of the revisioned range.
  KeyValue ToStore(const etcdserverpb::KeyValue& kv) const;
  // The same for a watch event (a delete carries the key and the deleting revision only).
  Event ToStore(const etcdserverpb::Event& event) const;

 private:
  const std::string prefix_;
  const std::string kv_prefix_;
  const std::string kv_end_;
  const std::string state_prefix_;
};

}  // namespace fleet::storage::etcd

#endif  // FLEETD_STORAGE_ETCD_ETCD_KEYSPACE_H_
