// The certificate and key a TLS server outside gRPC serves (fleetd's HTTP endpoint), re-read
// when the files change, as gRPC's FileWatcherCertificateProvider does for the gRPC listeners
// (tls_credentials.h): a thread looks at the files every kCertificateRefreshInterval, so that
// replaced files serve new handshakes within that long, without a restart.
#ifndef FLEETD_RPC_KEY_PAIR_WATCHER_H_
#define FLEETD_RPC_KEY_PAIR_WATCHER_H_

#include <sys/types.h>

#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "rpc/tls_credentials.h"

namespace fleet::rpc {

// Thread-safe.
class KeyPairWatcher {
 public:
  // Loads the pair in `cert` and `key` (the errors of KeyPair::Load) and looks at the files
  // again every `interval` until destroyed.
  static absl::StatusOr<std::unique_ptr<KeyPairWatcher>> Start(
      FlagFile cert, FlagFile key, absl::Duration interval = kCertificateRefreshInterval);
  // Stops the thread.
  ~KeyPairWatcher();

  KeyPairWatcher(const KeyPairWatcher&) = delete;
  KeyPairWatcher& operator=(const KeyPairWatcher&) = delete;

  // The pair to serve now; never null. Handshakes hold their own reference, so a reload never
  // frees a pair under a handshake.
  std::shared_ptr<const KeyPair> Current() const ABSL_LOCKS_EXCLUDED(mu_);

  // What the thread does every interval: when either file changed since the last look (another
  // inode, size or modification time), loads the pair; one that loads becomes Current (logged
  // at info), one that does not leaves Current as it was and is logged as a warning, once per
  // change. Returns whether Current changed.
  bool CheckNow() ABSL_LOCKS_EXCLUDED(check_mu_, mu_);

 private:
  // What identifies a version of a file; all zero when it cannot be stat'ed.
  struct Stamp {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    int64_t modified_ns = 0;
    bool operator==(const Stamp&) const = default;
  };
  struct Stamps {
    Stamp cert;
    Stamp key;
    bool operator==(const Stamps&) const = default;
  };

  KeyPairWatcher(FlagFile cert, FlagFile key, absl::Duration interval, Stamps stamps,
                 std::shared_ptr<const KeyPair> pair);
  static Stamp StampOf(const std::string& path);
  Stamps Look() const { return {.cert = StampOf(cert_.path), .key = StampOf(key_.path)}; }
  void Run() ABSL_LOCKS_EXCLUDED(mu_);

  const FlagFile cert_;
  const FlagFile key_;
  const absl::Duration interval_;

  // Serialises CheckNow (the thread's and a caller's) without holding mu_ while files are read.
  absl::Mutex check_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  Stamps seen_ ABSL_GUARDED_BY(check_mu_);

  mutable absl::Mutex mu_;
  std::shared_ptr<const KeyPair> current_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  std::thread thread_;  // runs Run; joined by the destructor
};

}  // namespace fleet::rpc

#endif  // FLEETD_RPC_KEY_PAIR_WATCHER_H_
