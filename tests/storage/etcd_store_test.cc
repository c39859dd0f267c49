// What the etcd Store adds to the contract suite (store_contract_test.cc runs that on etcd too):
// failing over between the members of a real 3-member cluster, fleets sharing a cluster under
// their own prefixes, and etcd's limits.
#include "storage/etcd/etcd_store.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/errors.h"
#include "storage/etcd/etcd_client.h"
#include "tests/storage/store_test_util.h"
#include "tests/testing/dev_certs.h"
#include "tests/testing/etcd_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace fleet::storage::etcd {
namespace {

using testing::EtcdProcess;

// The index of the cluster's leader, once the members agree on one.
absl::StatusOr<size_t> Leader(const std::vector<std::unique_ptr<EtcdProcess>>& cluster) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    for (size_t i = 0; i < cluster.size(); ++i) {
      EtcdClient client(cluster[i]->endpoint());
      absl::StatusOr<EtcdMemberStatus> status = client.Status();
      if (status.ok() && status->IsLeader()) return i;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError("no member of the cluster became leader within 10 s");
}

// The store's endpoints with member `first` first: the member it talks to.
std::vector<std::string> EndpointsStartingWith(
    const std::vector<std::unique_ptr<EtcdProcess>>& cluster, size_t first) {
  std::vector<std::string> endpoints = {cluster[first]->endpoint()};
  for (size_t i = 0; i < cluster.size(); ++i) {
    if (i != first) endpoints.push_back(cluster[i]->endpoint());
  }
  return endpoints;
}

// What WriteThrough got done: the acknowledged writes' revisions, and how many writes failed
// saying their outcome is unknown.
struct Written {
  std::vector<int64_t> revisions;
  int unknown = 0;
};

// Writes keys under `prefix` with `store` for up to 30 s until `count` writes succeeded. A write
// may fail only as etcd_store.h allows when a member goes away: UNAVAILABLE or DEADLINE_EXCEEDED,
// saying its outcome is unknown.
Written WriteThrough(Store& store, const std::string& prefix, size_t count) {
  Written written;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (written.revisions.size() < count && absl::Now() < deadline) {
    absl::StatusOr<int64_t> revision =
        Put(store, absl::StrCat(prefix, written.revisions.size()), "v");
    if (revision.ok()) {
      written.revisions.push_back(*revision);
      continue;
    }
    ++written.unknown;
    EXPECT_TRUE(absl::IsUnavailable(revision.status()) ||
                absl::IsDeadlineExceeded(revision.status()))
        << revision.status();
    EXPECT_TRUE(absl::StrContains(revision.status().message(), "may or may not have been applied"))
        << revision.status();
  }
  EXPECT_EQ(written.revisions.size(), count) << "writes did not go through within 30 s";
  return written;
}

// Every write the store acknowledged under `prefix` reaches `watcher` once, in order; writes
// whose outcome was unknown may show up too (they did get applied).
void ExpectWatched(Watcher& watcher, const std::string& prefix,
                   const std::vector<int64_t>& acknowledged) {
  ASSERT_FALSE(acknowledged.empty());
  ASSERT_OK_AND_ASSIGN(std::vector<WatchBatch> batches,
                       CollectThrough(watcher, acknowledged.back()));
  std::vector<Event> events = Flatten(batches);
  size_t next = 0;
  int64_t last = 0;
  for (const Event& event : events) {
    EXPECT_GT(event.kv.mod_revision, last) << "repeated or out of order";
    last = event.kv.mod_revision;
    EXPECT_TRUE(event.kv.key.starts_with(prefix)) << event.kv.key;
    if (next < acknowledged.size() && event.kv.mod_revision == acknowledged[next]) ++next;
  }
  EXPECT_EQ(next, acknowledged.size()) << "an acknowledged write was not watched";
}

// Kills the member the store talks to (a follower): its calls and its watch go on on the others
// at once. Only a write already on its way to the killed member can fail, saying its outcome is
// unknown; reads never fail; the watch delivers every acknowledged write once, in order.
TEST(EtcdStoreTest, KilledMemberFailsOverToAnother) {
  ASSERT_OK_AND_ASSIGN(std::vector<std::unique_ptr<EtcdProcess>> cluster,
                       EtcdProcess::StartCluster(3));
  ASSERT_OK_AND_ASSIGN(size_t leader, Leader(cluster));
  const size_t follower = (leader + 1) % cluster.size();
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Store> store,
      OpenEtcdStore({.connection = {.endpoints = EndpointsStartingWith(cluster, follower)}}));
  ASSERT_OK_AND_ASSIGN(int64_t first, Put(*store, "k/before", "1"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> watcher, store->Watch("k/", first));

  cluster[follower]->Kill();

  const Written written = WriteThrough(*store, "k/after/", 5);
  EXPECT_LE(written.unknown, 1) << "writes after the first went to the killed member";
  ASSERT_EQ(written.revisions.size(), 5u);
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> read, store->Get("k/after/4"));
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->mod_revision, written.revisions.back());
  ASSERT_OK_AND_ASSIGN(RangeResult listing, store->Range({.prefix = "k/"}));
  EXPECT_EQ(listing.kvs.size(), 6u);
  ExpectWatched(*watcher, "k/after/", written.revisions);
}

// Kills the leader the store talks to: until the others elect a new one, writes fail saying
// their outcome is unknown (never silently); then they go through, and the watch, moved to
// another member, delivers every acknowledged write in order.
TEST(EtcdStoreTest, KilledLeaderFailsOverOnceANewOneIsElected) {
  ASSERT_OK_AND_ASSIGN(std::vector<std::unique_ptr<EtcdProcess>> cluster,
                       EtcdProcess::StartCluster(3));
  ASSERT_OK_AND_ASSIGN(size_t leader, Leader(cluster));
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Store> store,
      OpenEtcdStore({.connection = {.endpoints = EndpointsStartingWith(cluster, leader)}}));
  ASSERT_OK_AND_ASSIGN(int64_t first, Put(*store, "k/before", "1"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> watcher, store->Watch("k/", first));

  cluster[leader]->Kill();

  ExpectWatched(*watcher, "k/after/", WriteThrough(*store, "k/after/", 5).revisions);
}

// Two fleets on one cluster: neither sees the other's keys, state or watch events.
TEST(EtcdStoreTest, FleetsSharingAClusterStayApart) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EtcdProcess> etcd, EtcdProcess::Start());
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Store> a,
      OpenEtcdStore({.connection = {.endpoints = {etcd->endpoint()}}, .key_prefix = "/fleet-a/"}));
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Store> b,
      OpenEtcdStore({.connection = {.endpoints = {etcd->endpoint()}}, .key_prefix = "/fleet-b/"}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> b_watch, b->Watch("", b->CurrentRevision()));
  ASSERT_OK(Put(*a, "policies/p", "a's"));
  ASSERT_OK(a->PutState({{"status/x", "a's"}}, {}));
  ASSERT_OK_AND_ASSIGN(int64_t b_revision, Put(*b, "policies/q", "b's"));

  ASSERT_OK_AND_ASSIGN(RangeResult b_keys, b->Range({}));
  ASSERT_EQ(b_keys.kvs.size(), 1u);
  EXPECT_EQ(b_keys.kvs[0].key, "policies/q");
  ASSERT_OK_AND_ASSIGN(auto b_state, b->RangeState(""));
  EXPECT_TRUE(b_state.empty());
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> missing, b->Get("policies/p"));
  EXPECT_FALSE(missing.has_value());
  ASSERT_OK_AND_ASSIGN(std::vector<WatchBatch> seen, CollectThrough(*b_watch, b_revision));
  std::vector<Event> events = Flatten(seen);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kv.key, "policies/q");
}

// With etcd's default --max-txn-ops (128), a larger transaction is refused whole, naming the
// limit; a larger state write goes through in several transactions.
TEST(EtcdStoreTest, EtcdLimitsRefuseTransactionsAndSplitStateWrites) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EtcdProcess> etcd, EtcdProcess::Start());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store,
                       OpenEtcdStore({.connection = {.endpoints = {etcd->endpoint()}}}));
  TxnRequest big;
  for (size_t i = 0; i <= kEtcdDefaultMaxTxnOps; ++i) {
    big.success.push_back(Op::Put(absl::StrCat("k/", i), "v"));
  }
  absl::StatusOr<TxnResult> refused = store->Txn(big);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "--max-txn-ops")) << refused.status();
  ASSERT_OK_AND_ASSIGN(RangeResult none, store->Range({.prefix = "k/"}));
  EXPECT_TRUE(none.kvs.empty());

  std::vector<std::pair<std::string, std::string>> state;
  for (int i = 0; i < 300; ++i) state.emplace_back(absl::StrCat("s/", i), std::string(100, 'x'));
  ASSERT_OK(store->PutState(state, {}));
  ASSERT_OK_AND_ASSIGN(auto read, store->RangeState("s/"));
  EXPECT_EQ(read.size(), 300u);
}

// A store opened on a compacted cluster knows the compaction point, so a watch from before it
// fails at once with the Compacted error.
TEST(EtcdStoreTest, ReopenedStoreKnowsTheCompactionPoint) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EtcdProcess> etcd, EtcdProcess::Start());
  const EtcdStoreOptions options{.connection = {.endpoints = {etcd->endpoint()}}};
  int64_t compacted = 0;
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store, OpenEtcdStore(options));
    for (int i = 0; i < 20; ++i) ASSERT_OK(Put(*store, absl::StrCat("k/", i), "v"));
    compacted = store->CurrentRevision() - 5;
    ASSERT_OK(store->Compact(compacted));
  }
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> reopened, OpenEtcdStore(options));
  EXPECT_EQ(reopened->CompactRevision(), compacted);
  absl::StatusOr<std::unique_ptr<Watcher>> too_old = reopened->Watch("", compacted - 1);
  EXPECT_TRUE(IsCompacted(too_old.status())) << too_old.status();
}

// A key put with a lease lives while the lease is kept alive and goes, with a delete event, when
// it is not (after its TTL) or when it is revoked; a lease that ended takes no more keys.
TEST(EtcdStoreTest, LeasedKeysGoWithTheirLease) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EtcdProcess> etcd, EtcdProcess::Start());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store,
                       OpenEtcdStore({.connection = {.endpoints = {etcd->endpoint()}}}));
  EXPECT_TRUE(store->Shared());
  ASSERT_OK_AND_ASSIGN(int64_t kept, store->GrantLease(absl::Seconds(2)));
  ASSERT_OK_AND_ASSIGN(int64_t lapsed, store->GrantLease(absl::Seconds(2)));
  ASSERT_OK_AND_ASSIGN(int64_t revoked, store->GrantLease(absl::Seconds(60)));
  ASSERT_OK(store->Txn(
      {.success = {Op::PutWithLease("l/kept", "1", kept), Op::PutWithLease("l/lapsed", "2", lapsed),
                   Op::PutWithLease("l/revoked", "3", revoked)}}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> watcher,
                       store->Watch("l/", store->CurrentRevision()));

  ASSERT_OK(store->RevokeLease(revoked));
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> gone, store->Get("l/revoked"));
  EXPECT_FALSE(gone.has_value());
  // etcd expires leases on its own schedule: a 2 s lease ends within a few seconds.
  std::set<std::string> deleted;
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (deleted.count("l/lapsed") == 0 && absl::Now() < deadline) {
    ASSERT_OK(store->KeepAliveLease(kept));
    ASSERT_OK_AND_ASSIGN(WatchBatch batch, watcher->Next(absl::Milliseconds(500)));
    for (const Event& event : batch.events) {
      EXPECT_EQ(event.type, Event::Type::kDelete) << event.kv.key;
      deleted.insert(event.kv.key);
    }
  }
  EXPECT_EQ(deleted, (std::set<std::string>{"l/lapsed", "l/revoked"}));
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> still, store->Get("l/kept"));
  EXPECT_TRUE(still.has_value());

  EXPECT_EQ(store->KeepAliveLease(lapsed).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Txn({.success = {Op::PutWithLease("l/late", "4", lapsed)}}).status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_OK(store->RevokeLease(lapsed));  // ended already: nothing to do
}

// With --etcd-ca/--etcd-cert/--etcd-key's files (scripts/dev-certs), the store speaks TLS to an
// etcd that asks for client certificates; without a client certificate, or in plaintext, it
// cannot.
TEST(EtcdStoreTest, TlsWithClientCertificates) {
  testing::TempDir dir;
  const std::string certs = dir.Sub("certs");
  ASSERT_OK(testing::RunDevCerts(certs));
  auto file = [&](const char* name) { return certs + "/" + name; };
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EtcdProcess> etcd,
                       EtcdProcess::Start({.tls = {.cert_file = file("server.pem"),
                                                   .key_file = file("server-key.pem"),
                                                   .client_ca_file = file("ca.pem"),
                                                   .probe_cert_file = file("admin.pem"),
                                                   .probe_key_file = file("admin-key.pem")}}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store,
                       OpenEtcdStore({.connection = {.endpoints = {etcd->endpoint()},
                                                     .tls = {.ca_file = file("ca.pem"),
                                                             .cert_file = file("admin.pem"),
                                                             .key_file = file("admin-key.pem")}}}));
  ASSERT_OK_AND_ASSIGN(int64_t revision, Put(*store, "k/tls", "v"));
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> read, store->Get("k/tls"));
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->mod_revision, revision);

  const absl::Duration quick = absl::Seconds(1);
  EXPECT_EQ(OpenEtcdStore({.connection = {.endpoints = {etcd->endpoint()},
                                          .tls = {.ca_file = file("ca.pem")},
                                          .retry_budget = quick}})
                .status()
                .code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(OpenEtcdStore({.connection = {.endpoints = {etcd->endpoint()}, .retry_budget = quick}})
                .status()
                .code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(OpenEtcdStore({.connection = {.endpoints = {etcd->endpoint()},
                                          .tls = {.ca_file = file("missing.pem")}}})
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

// No member answers: opening fails with UNAVAILABLE naming the endpoints.
TEST(EtcdStoreTest, UnreachableClusterIsUnavailable) {
  absl::StatusOr<std::unique_ptr<Store>> store = OpenEtcdStore(
      {.connection = {.endpoints = {"127.0.0.1:1"}, .retry_budget = absl::Seconds(1)}});
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(store.status().message(), "127.0.0.1:1")) << store.status();
}

}  // namespace
}  // namespace fleet::storage::etcd
