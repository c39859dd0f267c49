// A client of one etcd server's v3 API (storage/etcd/etcd_api.proto): Put and Get of single
// keys and the member's Status, each a unary gRPC call with a deadline. Errors keep gRPC's code and
// name etcd, the endpoint and the call, so "etcd at 127.0.0.1:2379: Put: failed to connect" tells
// an operator where to look.
#ifndef FLEETD_STORAGE_ETCD_ETCD_CLIENT_H_
#define FLEETD_STORAGE_ETCD_ETCD_CLIENT_H_

#include <grpcpp/channel.h>
#include <grpcpp/support/status.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "storage/etcd/etcd_api.grpc.pb.h"

namespace fleet::storage::etcd {

// The request metadata that makes etcd refuse a call (UNAVAILABLE, "etcdserver: no leader")
// before it acts on it when the member has no leader.
inline constexpr char kRequireLeaderKey[] = "hasleader";

// An insecure channel to `endpoint` ("host:port"). It connects lazily, on the first call. With
// `own_connection`, the channel keeps its subchannels to itself (grpc.use_local_subchannel_pool),
// so it is a TCP connection of its own instead of sharing one with every other channel to the
// same address.
std::shared_ptr<grpc::Channel> NewEtcdChannel(const std::string& endpoint,
                                              bool own_connection = false);

// The absl::Status for the failed gRPC `call` ("Put", "Watch", ...) to etcd at `endpoint`: the
// same code, and a message "etcd at ENDPOINT: CALL: what gRPC said". OK for an OK status.
absl::Status EtcdCallStatus(const grpc::Status& status, absl::string_view endpoint,
                            absl::string_view call);

struct EtcdClientOptions {
  // The deadline of each call; DEADLINE_EXCEEDED when etcd takes longer.
  absl::Duration call_timeout = absl::Seconds(5);
};

// A key's current value.
struct EtcdValue {
  std::string value;
  // The revision of the write that set it.
  int64_t mod_revision = 0;
};

// What a member says of itself and its cluster.
struct EtcdMemberStatus {
  uint64_t member_id = 0;
  // The leader's member id; 0 while the member knows of none.
  uint64_t leader_id = 0;
  uint64_t raft_term = 0;
  std::string version;

  bool IsLeader() const { return leader_id != 0 && leader_id == member_id; }
};

// Thread-safe: every method may be called concurrently. Calls fail fast: while etcd cannot be
// reached they return UNAVAILABLE at once rather than waiting out the deadline.
class EtcdClient {
 public:
  // A client on a channel of its own to `endpoint` ("host:port"). Never fails; an unreachable
  // endpoint shows as UNAVAILABLE on the first call.
  explicit EtcdClient(std::string endpoint, EtcdClientOptions options = {});
  // A client on `channel`, which leads to `endpoint` (named in errors) and may be shared with
  // other clients and watch streams; the client keeps a reference.
  EtcdClient(std::shared_ptr<grpc::Channel> channel, std::string endpoint,
             EtcdClientOptions options = {});

  // Sets `key` to `value`. Returns the revision of the write (etcd's store revision after it).
  // Errors: etcd's, e.g. INVALID_ARGUMENT for an empty key; UNAVAILABLE when etcd is not
  // reachable; DEADLINE_EXCEEDED.
  [[nodiscard]] absl::StatusOr<int64_t> Put(std::string_view key, std::string_view value);

  // The current value of `key`. NOT_FOUND when it has none; otherwise the errors of Put.
  [[nodiscard]] absl::StatusOr<EtcdValue> Get(std::string_view key);

  // The member's status (Maintenance.Status). The errors of Put.
  [[nodiscard]] absl::StatusOr<EtcdMemberStatus> Status();

  const std::string& endpoint() const { return endpoint_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  const std::string endpoint_;
  const EtcdClientOptions options_;
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<etcdserverpb::KV::Stub> stub_;
  const std::unique_ptr<etcdserverpb::Maintenance::Stub> maintenance_;
};

}  // namespace fleet::storage::etcd

#endif  // FLEETD_STORAGE_ETCD_ETCD_CLIENT_H_
