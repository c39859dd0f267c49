#include "storage/etcd/etcd_keyspace.h"

#include <utility>

#include "storage/etcd/etcd_connection.h"

namespace fleet::storage::etcd {

EtcdKeyspace::EtcdKeyspace(std::string prefix)
    : prefix_(std::move(prefix)),
      kv_prefix_(prefix_ + "k/"),
      kv_end_(PrefixEnd(kv_prefix_)),
      state_prefix_(prefix_ + "s/") {}

std::optional<std::string_view> EtcdKeyspace::StoreKey(std::string_view etcd_key) const {
  if (!etcd_key.starts_with(kv_prefix_)) return std::nullopt;
  return etcd_key.substr(kv_prefix_.size());
}

KeyValue EtcdKeyspace::ToStore(const etcdserverpb::KeyValue& kv) const {
  return KeyValue{.key = std::string(StoreKey(kv.key()).value_or(kv.key())),
                  .value = kv.value(),
                  .create_revision = kv.create_revision(),
                  .mod_revision = kv.mod_revision(),
                  .version = kv.version()};
}

Event EtcdKeyspace::ToStore(const etcdserverpb::Event& event) const {
  if (event.type() == etcdserverpb::Event::DELETE) {
    return Event{.type = Event::Type::kDelete,
                 .kv = KeyValue{.key = std::string(StoreKey(event.kv().key()).value_or("")),
                                .mod_revision = event.kv().mod_revision()}};
  }
  return Event{.type = Event::Type::kPut, .kv = ToStore(event.kv())};
}

}  // namespace fleet::storage::etcd
