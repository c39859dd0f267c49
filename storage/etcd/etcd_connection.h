// The connection of an etcd client to a cluster: one gRPC channel per member endpoint, plaintext
// or TLS, and unary calls that fail over from a member that cannot serve them to the next one.
//
// What is retried, and where:
//  - a read (kRead), and any call that may be repeated harmlessly, is retried on any UNAVAILABLE
//    or DEADLINE_EXCEEDED, on the next endpoint;
//  - a write (kWrite) only when etcd cannot have acted on it: no connection to the member could
//    be made, or the member refused it for want of a leader (calls carry etcd's require-leader
//    metadata, so such a member answers "etcdserver: no leader" before it proposes anything).
//    Any other failure of a write leaves its outcome unknown; the error says so.
// Attempts go round the endpoints, with a short pause after each full round, until
// `retry_budget` is spent.
#ifndef FLEETD_STORAGE_ETCD_ETCD_CONNECTION_H_
#define FLEETD_STORAGE_ETCD_ETCD_CONNECTION_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "storage/etcd/etcd_api.grpc.pb.h"

namespace fleet::storage::etcd {

// PEM files for a TLS etcd. All empty: plaintext. `ca_file` alone: TLS, etcd's certificate
// checked against it. With `cert_file` and `key_file` too: a client certificate as well.
struct EtcdTlsFiles {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

struct EtcdConnectionOptions {
  // "host:port" of each member; at least one.
  std::vector<std::string> endpoints;
  EtcdTlsFiles tls;
  // The deadline of one attempt.
  absl::Duration call_timeout = absl::Seconds(5);
  // How long one call may take over all its attempts.
  absl::Duration retry_budget = absl::Seconds(15);
};

// A member to open a stream on.
struct EtcdEndpoint {
  std::shared_ptr<grpc::Channel> channel;
  std::string address;
  size_t index = 0;
};

// Thread-safe.
class EtcdConnection {
 public:
  // Reads the TLS files and makes the channels; connects lazily. INVALID_ARGUMENT for no
  // endpoints, an empty one, or a client certificate without its key (or the other way round);
  // NOT_FOUND / PERMISSION_DENIED naming a TLS file that cannot be read.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<EtcdConnection>> Open(
      const EtcdConnectionOptions& options);

  enum class Kind { kRead, kWrite };
  // The services of one member.
  struct Stubs {
    etcdserverpb::KV::Stub& kv;
    etcdserverpb::Lease::Stub& lease;
  };
  // One attempt: the call on one of `stubs` with `context` (deadline and metadata already set).
  using Attempt = std::function<grpc::Status(const Stubs& stubs, grpc::ClientContext& context)>;

  // Runs `attempt` on the current member and fails over as the header describes. Returns OK, or
  // the last failure as "etcd at ENDPOINT: CALL: ..." with gRPC's code (for a write whose outcome
  // is unknown, the message says so).
  absl::Status Call(absl::string_view call, Kind kind, const Attempt& attempt);

  // The member calls go to now.
  EtcdEndpoint Current() const;
  // Moves calls and new streams off member `index` to the next one, unless that already
  // happened.
  void FailedOver(size_t index);

  const std::vector<std::string>& endpoints() const { return endpoints_; }
  // "a,b,c", for messages.
  const std::string& endpoint_list() const { return endpoint_list_; }
  const EtcdConnectionOptions& options() const { return options_; }

 private:
  struct Member {
    std::string address;
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<etcdserverpb::KV::Stub> kv;
    std::unique_ptr<etcdserverpb::Lease::Stub> lease;
  };
  EtcdConnection(EtcdConnectionOptions options, std::vector<Member> members);

  const EtcdConnectionOptions options_;
  const std::vector<std::string> endpoints_;
  const std::string endpoint_list_;
  const std::vector<Member> members_;
  std::atomic<size_t> current_{0};
};

// Whether etcd cannot have acted on a call that failed with `status`: it never reached a member,
// or the member refused it for want of a leader.
bool NotSent(const grpc::Status& status);

// The end of `prefix`'s key range in etcd's terms: the smallest key greater than every key that
// starts with `prefix` ("\0" for a prefix of 0xff bytes only, which etcd reads as "every key
// from the start").
std::string PrefixEnd(std::string_view prefix);

}  // namespace fleet::storage::etcd

#endif  // FLEETD_STORAGE_ETCD_ETCD_CONNECTION_H_
