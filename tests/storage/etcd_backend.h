// The etcd backend for the Store contract suites: a real single-member etcd (Debian's
// etcd-server, tests/testing/etcd_process.h) started for each test, and the etcd Store on it.
// Open() again opens a new store on the same cluster and prefix, as a restarted fleetd would.
#ifndef FLEETD_TESTS_STORAGE_ETCD_BACKEND_H_
#define FLEETD_TESTS_STORAGE_ETCD_BACKEND_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "storage/etcd/etcd_store.h"
#include "storage/store.h"
#include "tests/testing/etcd_process.h"

namespace fleet::storage {

// etcd runs with the Store contract's limits (store.h) rather than its own smaller defaults.
inline constexpr size_t kTestEtcdMaxRequestBytes = kMaxValueBytes + 1024 * 1024;

struct EtcdBackend {
  static constexpr char kName[] = "etcd";
  absl::StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& options) {
    if (etcd == nullptr) {
      absl::StatusOr<std::unique_ptr<testing::EtcdProcess>> started = testing::EtcdProcess::Start(
          {.extra_flags = {absl::StrCat("--max-txn-ops=", kMaxOpsPerTxn),
                           absl::StrCat("--max-request-bytes=", kTestEtcdMaxRequestBytes)}});
      if (!started.ok()) return started.status();
      etcd = *std::move(started);
    }
    return etcd::OpenEtcdStore({.connection = {.endpoints = {etcd->endpoint()}},
                                .key_prefix = "/contract/",
                                .max_txn_ops = kMaxOpsPerTxn,
                                .max_request_bytes = kTestEtcdMaxRequestBytes,
                                .store = options});
  }
  std::unique_ptr<testing::EtcdProcess> etcd;
};

}  // namespace fleet::storage

#endif  // FLEETD_TESTS_STORAGE_ETCD_BACKEND_H_
