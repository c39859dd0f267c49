// The Store contract (storage/store.h), run against every backend. Revisions are counted from the
// store's revision when the test began (`R(n)`: the n-th transaction of the test), since etcd's
// start at 1 and the local stores' at 0.
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "storage/errors.h"
#include "tests/storage/etcd_backend.h"
#include "tests/storage/store_backends.h"
#include "tests/storage/store_test_util.h"
#include "tests/testing/status_matchers.h"

namespace fleet::storage {
namespace {

template <typename Backend>
class StoreContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OpenStore();
    base_ = store_->CurrentRevision();
  }

  void OpenStore(const StoreOptions& options = {}) {
    store_.reset();
    absl::StatusOr<std::unique_ptr<Store>> store = backend_.Open(options);
    ASSERT_OK(store);
    store_ = *std::move(store);
  }

  Store& store() { return *store_; }
  // The revision of the test's n-th transaction (R(0): the revision before the test).
  int64_t R(int64_t n) const { return base_ + n; }

  Backend backend_;
  std::unique_ptr<Store> store_;
  int64_t base_ = 0;
};

using Backends = ::testing::Types<MemoryBackend, RocksDbBackend, EtcdBackend>;
class BackendNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};
TYPED_TEST_SUITE(StoreContractTest, Backends, BackendNames);

// A new key gets version 1 and create = mod revision; a change bumps version and mod revision.
TYPED_TEST(StoreContractTest, PutAndGetTrackRevisionsAndVersions) {
  Store& store = this->store();
  EXPECT_EQ(store.CurrentRevision(), this->R(0));
  ASSERT_OK_AND_ASSIGN(int64_t first, Put(store, "a", "1"));
  ASSERT_OK_AND_ASSIGN(int64_t second, Put(store, "a", "2"));
  EXPECT_EQ(first, this->R(1));
  EXPECT_EQ(second, this->R(2));
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> kv, store.Get("a"));
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(*kv, (KeyValue{.key = "a",
                           .value = "2",
                           .create_revision = this->R(1),
                           .mod_revision = this->R(2),
                           .version = 2}));
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> missing, store.Get("b"));
  EXPECT_FALSE(missing.has_value());
  EXPECT_EQ(store.CurrentRevision(), this->R(2));
}

// All writes of one Txn share one revision and reach a watcher in one batch.
TYPED_TEST(StoreContractTest, MultiKeyTxnIsAtomicAtOneRevision) {
  Store& store = this->store();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> watcher, store.Watch("", 0));
  ASSERT_OK_AND_ASSIGN(
      TxnResult result,
      store.Txn({.success = {Op::Put("x/1", "a"), Op::Put("x/2", "b"), Op::Put("x/3", "c")}}));
  EXPECT_TRUE(result.succeeded);
  EXPECT_EQ(result.revision, this->R(1));
  for (const char* key : {"x/1", "x/2", "x/3"}) {
    ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> kv, store.Get(key));
    ASSERT_TRUE(kv.has_value()) << key;
    EXPECT_EQ(kv->mod_revision, this->R(1));
  }
  ASSERT_OK_AND_ASSIGN(std::vector<WatchBatch> batches, CollectThrough(*watcher, this->R(1)));
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].events.size(), 3u);
}

// A failed compare applies the failure branch only and reports succeeded=false.
TYPED_TEST(StoreContractTest, FailedCompareRunsFailureBranch) {
  Store& store = this->store();
  ASSERT_OK(Put(store, "k", "v1"));
  ASSERT_OK_AND_ASSIGN(TxnResult result, store.Txn({.compares = {Compare::ValueIs("k", "other")},
                                                    .success = {Op::Put("k", "v2")},
                                                    .failure = {Op::Put("conflicts", "1")}}));
  EXPECT_FALSE(result.succeeded);
  EXPECT_EQ(result.revision, this->R(2));
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> kv, store.Get("k"));
  EXPECT_EQ(kv->value, "v1");
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> conflicts, store.Get("conflicts"));
  EXPECT_TRUE(conflicts.has_value());
}

// Each compare target and operator decides the branch as documented, missing keys included.
TYPED_TEST(StoreContractTest, CompareTargetsAndOperators) {
  Store& store = this->store();
  ASSERT_OK(Put(store, "k", "v"));  // R(1)
  ASSERT_OK(Put(store, "k", "w"));  // R(2), version 2
  struct Case {
    Compare compare;
    bool holds;
  };
  const Case cases[] = {
      {Compare::Exists("k"), true},
      {Compare::Missing("k"), false},
      {Compare::Missing("nope"), true},
      {Compare::Exists("nope"), false},
      {Compare::ModRevisionIs("k", this->R(2)), true},
      {Compare::ModRevisionIs("k", this->R(1)), false},
      {Compare::VersionIs("k", 2), true},
      {Compare::ValueIs("k", "w"), true},
      {Compare::ValueIs("nope", ""), false},
      {{.key = "k", .target = Compare::Target::kCreateRevision, .number = this->R(1)}, true},
      {{.key = "k",
        .target = Compare::Target::kModRevision,
        .op = Compare::Op::kLess,
        .number = this->R(3)},
       true},
      {{.key = "k", .target = Compare::Target::kVersion, .op = Compare::Op::kGreater, .number = 2},
       false},
      {{.key = "k", .target = Compare::Target::kValue, .op = Compare::Op::kNotEqual, .value = "v"},
       true},
      {{.key = "nope",
        .target = Compare::Target::kValue,
        .op = Compare::Op::kNotEqual,
        .value = "v"},
       false},
  };
  for (const Case& c : cases) {
    ASSERT_OK_AND_ASSIGN(TxnResult result, store.Txn({.compares = {c.compare}}));
    EXPECT_EQ(result.succeeded, c.holds) << "compare on " << c.compare.key;
  }
}

// A transaction that changes nothing takes no revision.
TYPED_TEST(StoreContractTest, TxnWithoutChangesKeepsRevision) {
  Store& store = this->store();
  ASSERT_OK(Put(store, "k", "v"));
  ASSERT_OK_AND_ASSIGN(TxnResult empty, store.Txn({}));
  EXPECT_EQ(empty.revision, this->R(1));
  ASSERT_OK_AND_ASSIGN(TxnResult delete_missing, store.Txn({.success = {Op::Delete("nope")}}));
  EXPECT_EQ(delete_missing.revision, this->R(1));
  EXPECT_EQ(store.CurrentRevision(), this->R(1));
}

// Delete and DeletePrefix remove keys and emit delete events; a recreated key starts over.
TYPED_TEST(StoreContractTest, DeleteAndDeletePrefix) {
  Store& store = this->store();
  ASSERT_OK(store.Txn({.success = {Op::Put("p/a", "1"), Op::Put("p/b", "2"), Op::Put("q", "3")}}));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> watcher, store.Watch("", this->R(1)));
  ASSERT_OK_AND_ASSIGN(TxnResult deleted, store.Txn({.success = {Op::DeletePrefix("p/")}}));
  EXPECT_EQ(deleted.revision, this->R(2));
  ASSERT_OK_AND_ASSIGN(RangeResult rest, store.Range({}));
  ASSERT_EQ(rest.kvs.size(), 1u);
  EXPECT_EQ(rest.kvs[0].key, "q");
  ASSERT_OK(store.Txn({.success = {Op::Delete("q")}}));
  ASSERT_OK(Put(store, "q", "again"));
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> q, store.Get("q"));
  EXPECT_EQ(q->version, 1);
  EXPECT_EQ(q->create_revision, this->R(4));

  ASSERT_OK_AND_ASSIGN(std::vector<WatchBatch> batches, CollectThrough(*watcher, this->R(4)));
  std::vector<Event> events = Flatten(batches);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].type, Event::Type::kDelete);
  EXPECT_EQ(events[0].kv.key, "p/a");
  EXPECT_EQ(events[0].kv.mod_revision, this->R(2));
  EXPECT_EQ(events[1].kv.key, "p/b");
  EXPECT_EQ(events[2].type, Event::Type::kDelete);
  EXPECT_EQ(events[3].type, Event::Type::kPut);
}

// Range returns keys of the prefix only, in order, page by page, and every page is complete.
TYPED_TEST(StoreContractTest, RangePaginatesWithinPrefix) {
  Store& store = this->store();
  TxnRequest request;
  for (int i = 0; i < 25; ++i) {
    request.success.push_back(Op::Put(absl::StrFormat("agents/%03d", i), absl::StrCat(i)));
  }
  request.success.push_back(Op::Put("agentz", "outside"));
  request.success.push_back(Op::Put("a", "outside"));
  ASSERT_OK(store.Txn(request));

  std::vector<std::string> keys;
  RangeRequest page{.prefix = "agents/", .limit = 10};
  int pages = 0;
  do {
    ASSERT_OK_AND_ASSIGN(RangeResult result, store.Range(page));
    EXPECT_EQ(result.revision, this->R(1));
    for (const KeyValue& kv : result.kvs) keys.push_back(kv.key);
    page.continuation = result.continuation;
    ASSERT_LT(++pages, 10);
  } while (!page.continuation.empty());
  ASSERT_EQ(keys.size(), 25u);
  for (int i = 0; i < 25; ++i) EXPECT_EQ(keys[i], absl::StrFormat("agents/%03d", i));

  ASSERT_OK_AND_ASSIGN(RangeResult all, store.Range({.prefix = "agents/"}));
  EXPECT_EQ(all.kvs.size(), 25u);
  EXPECT_TRUE(all.continuation.empty());
}

// Range rejects a negative limit and a continuation from another prefix.
TYPED_TEST(StoreContractTest, RangeRejectsBadRequests) {
  Store& store = this->store();
  EXPECT_EQ(store.Range({.limit = -1}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.Range({.prefix = "a/", .continuation = "b/1"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Invalid transactions are refused whole: nothing is written and no revision is used.
TYPED_TEST(StoreContractTest, InvalidTxnWritesNothing) {
  Store& store = this->store();
  const TxnRequest bad[] = {
      {.success = {Op::Put("ok", "1"), Op::Put("", "empty key")}},
      {.success = {Op::Put("ok", "1"), Op::Put("dup", "1"), Op::Put("dup", "2")}},
      {.success = {Op::Put("ok", "1"), Op::Put("big", std::string(kMaxValueBytes + 1, 'x'))}},
      {.success = {Op::Put("ok", "1"), Op::Put(std::string(kMaxKeyBytes + 1, 'k'), "v")}},
      {.success = {Op::Put("p/x", "1"), Op::DeletePrefix("p/")}},
      {.compares = {Compare::Exists("")}, .success = {Op::Put("ok", "1")}},
      {.failure = {Op::Put("ok", "1"), Op::Delete("ok")}},
  };
  for (const TxnRequest& request : bad) {
    EXPECT_EQ(store.Txn(request).status().code(), absl::StatusCode::kInvalidArgument);
  }
  TxnRequest too_many;
  for (size_t i = 0; i <= kMaxOpsPerTxn; ++i)
    too_many.success.push_back(Op::Put(absl::StrCat(i), ""));
  EXPECT_EQ(store.Txn(too_many).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.CurrentRevision(), this->R(0));
  ASSERT_OK_AND_ASSIGN(RangeResult all, store.Range({}));
  EXPECT_TRUE(all.kvs.empty());
}

// A watch started in the past replays the log, then follows live commits, prefix only.
TYPED_TEST(StoreContractTest, WatchReplaysThenFollowsLive) {
  Store& store = this->store();
  ASSERT_OK(Put(store, "w/1", "a"));
  ASSERT_OK(Put(store, "other", "b"));
  ASSERT_OK(Put(store, "w/2", "c"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> watcher, store.Watch("w/", this->R(1)));
  ASSERT_OK_AND_ASSIGN(std::vector<WatchBatch> past, CollectThrough(*watcher, this->R(3)));
  std::vector<Event> events = Flatten(past);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kv.key, "w/2");
  EXPECT_EQ(events[0].kv.mod_revision, this->R(3));

  ASSERT_OK(Put(store, "w/3", "d"));
  ASSERT_OK(Put(store, "zzz", "e"));
  ASSERT_OK(Put(store, "w/1", "f"));
  ASSERT_OK_AND_ASSIGN(std::vector<WatchBatch> live, CollectThrough(*watcher, this->R(6)));
  events = Flatten(live);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kv.key, "w/3");
  EXPECT_EQ(events[1].kv, (KeyValue{.key = "w/1",
                                    .value = "f",
                                    .create_revision = this->R(1),
                                    .mod_revision = this->R(6),
                                    .version = 2}));
}

// A watch may start after a revision not reached yet: it delivers only what comes after it,
// and its progress never goes backwards.
TYPED_TEST(StoreContractTest, WatchFromTheFuture) {
  Store& store = this->store();
  ASSERT_OK(Put(store, "k", "1"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> watcher, store.Watch("", this->R(3)));
  ASSERT_OK_AND_ASSIGN(WatchBatch idle, watcher->Next(absl::Milliseconds(20)));
  EXPECT_TRUE(idle.events.empty());
  EXPECT_GE(idle.revision, this->R(3));
  ASSERT_OK(Put(store, "k", "2"));
  ASSERT_OK(Put(store, "k", "3"));
  ASSERT_OK(Put(store, "k", "4"));
  ASSERT_OK_AND_ASSIGN(std::vector<WatchBatch> batches, CollectThrough(*watcher, this->R(4)));
  std::vector<Event> events = Flatten(batches);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kv.value, "4");
}

// With nothing to deliver, Next returns empty batches naming the progress made, past commits
// outside the prefix too (etcd replays history on its own schedule, so the first batches may
// not have got there yet).
TYPED_TEST(StoreContractTest, WatchTimeoutReportsProgress) {
  Store& store = this->store();
  ASSERT_OK(Put(store, "elsewhere", "1"));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> watcher, store.Watch("w/", this->R(0)));
  ASSERT_OK_AND_ASSIGN(std::vector<WatchBatch> first, CollectThrough(*watcher, this->R(1)));
  EXPECT_TRUE(Flatten(first).empty());
  ASSERT_OK_AND_ASSIGN(WatchBatch idle, watcher->Next(absl::Milliseconds(50)));
  EXPECT_TRUE(idle.events.empty());
  EXPECT_EQ(idle.revision, this->R(1));
  ASSERT_OK(Put(store, "elsewhere", "2"));
  ASSERT_OK_AND_ASSIGN(std::vector<WatchBatch> second, CollectThrough(*watcher, this->R(2)));
  EXPECT_TRUE(Flatten(second).empty());
  ASSERT_OK_AND_ASSIGN(WatchBatch after, watcher->Next(absl::Milliseconds(50)));
  EXPECT_TRUE(after.events.empty());
  EXPECT_EQ(after.revision, this->R(2));
}

// 8 concurrent writers: a watcher from the start and one joining midway both see every
// revision exactly once, in order, each transaction whole in one batch.
TYPED_TEST(StoreContractTest, WatchHasNoGapsUnderConcurrentWriters) {
  Store& store = this->store();
  constexpr int kWriters = 8;
  constexpr int kTxnsPerWriter = 100;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> from_start, store.Watch("w/", this->R(0)));
  std::atomic<int> committed{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kTxnsPerWriter; ++i) {
        std::string base = absl::StrFormat("w/%d/%03d/", w, i);
        if (!store.Txn({.success = {Op::Put(base + "x", "1"), Op::Put(base + "y", "2")}}).ok()) {
          ++failures;
        }
        ++committed;
      }
    });
  }
  while (committed.load() < kWriters * kTxnsPerWriter / 2) absl::SleepFor(absl::Milliseconds(1));
  const int64_t midway = store.CurrentRevision();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> joining, store.Watch("w/", midway));
  for (std::thread& t : writers) t.join();
  ASSERT_EQ(failures.load(), 0);
  const int64_t last = store.CurrentRevision();
  ASSERT_EQ(last, this->R(kWriters * kTxnsPerWriter));

  for (auto [watcher, after] : {std::pair{from_start.get(), this->R(0)}, {joining.get(), midway}}) {
    ASSERT_OK_AND_ASSIGN(std::vector<WatchBatch> batches, CollectThrough(*watcher, last));
    int64_t expected = after + 1;
    std::map<int, int> next_index_per_writer;
    for (const WatchBatch& batch : batches) {
      ASSERT_EQ(batch.events.size() % 2, 0u) << "a transaction was split across batches";
      for (size_t e = 0; e < batch.events.size(); e += 2) {
        const Event& x = batch.events[e];
        const Event& y = batch.events[e + 1];
        ASSERT_EQ(x.kv.mod_revision, expected) << "gap or reordering";
        ASSERT_EQ(y.kv.mod_revision, expected);
        ++expected;
        int writer = 0, index = 0;
        ASSERT_EQ(std::sscanf(x.kv.key.c_str(), "w/%d/%d/x", &writer, &index), 2) << x.kv.key;
        if (after == this->R(0)) {
          EXPECT_EQ(index, next_index_per_writer[writer]++);
        }
      }
    }
    EXPECT_EQ(expected, last + 1) << "watch from " << after;
  }
}

// Concurrent compare-and-swap increments of one key: every success is counted exactly once,
// so each transaction saw the ones committed before it (also within one commit group).
TYPED_TEST(StoreContractTest, ConcurrentCompareAndSwapLosesNoUpdate) {
  Store& store = this->store();
  constexpr int kThreads = 8;
  constexpr int kIncrementsPerThread = 50;
  ASSERT_OK(Put(store, "counter", "0"));
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int done = 0; done < kIncrementsPerThread;) {
        absl::StatusOr<std::optional<KeyValue>> current = store.Get("counter");
        if (!current.ok() || !current->has_value()) {
          ++errors;
          return;
        }
        int value = std::stoi((*current)->value);
        absl::StatusOr<TxnResult> result =
            store.Txn({.compares = {Compare::ModRevisionIs("counter", (*current)->mod_revision)},
                       .success = {Op::Put("counter", absl::StrCat(value + 1))}});
        if (!result.ok()) {
          ++errors;
          return;
        }
        if (result->succeeded) ++done;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(errors.load(), 0);
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> counter, store.Get("counter"));
  EXPECT_EQ(counter->value, absl::StrCat(kThreads * kIncrementsPerThread));
  EXPECT_EQ(counter->version, kThreads * kIncrementsPerThread + 1);
  EXPECT_EQ(store.CurrentRevision(), this->R(kThreads * kIncrementsPerThread + 1));
}

// A watcher that reads nothing never holds writers up; when it reads, it catches up from the log
// without gaps and then follows live again.
TYPED_TEST(StoreContractTest, SlowWatcherDoesNotBlockWriters) {
  this->OpenStore({.watch_buffer_bytes = 2048});
  Store& store = this->store();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> slow, store.Watch("", this->R(0)));
  ASSERT_OK_AND_ASSIGN(WatchBatch initial, slow->Next(absl::ZeroDuration()));
  EXPECT_EQ(initial.revision, this->R(0));  // caught up and live now
  for (int i = 0; i < 300; ++i) ASSERT_OK(Put(store, absl::StrCat("k", i), std::string(100, 'v')));
  ASSERT_OK(Put(store, "after", "x"));
  ASSERT_OK_AND_ASSIGN(std::vector<WatchBatch> batches, CollectThrough(*slow, this->R(301)));
  std::vector<Event> events = Flatten(batches);
  ASSERT_EQ(events.size(), 301u);
  for (int i = 0; i < 301; ++i) EXPECT_EQ(events[i].kv.mod_revision, this->R(i + 1));
  ASSERT_OK(Put(store, "live", "y"));
  ASSERT_OK_AND_ASSIGN(std::vector<WatchBatch> live, CollectThrough(*slow, this->R(302)));
  ASSERT_EQ(Flatten(live).size(), 1u);
}

// Watching from before the compaction point fails with Compacted, carrying the point; a
// re-list at the current revision and a watch from there see everything after.
TYPED_TEST(StoreContractTest, CompactedWatchAndRelist) {
  Store& store = this->store();
  for (int i = 0; i < 10; ++i) ASSERT_OK(Put(store, absl::StrCat("k/", i), "v"));
  ASSERT_OK(store.Compact(this->R(5)));
  EXPECT_EQ(store.CompactRevision(), this->R(5));
  absl::StatusOr<std::unique_ptr<Watcher>> too_old = store.Watch("k/", this->R(3));
  ASSERT_TRUE(IsCompacted(too_old.status())) << too_old.status();
  EXPECT_EQ(CompactedRevision(too_old.status()), this->R(5));
  EXPECT_FALSE(IsCompacted(absl::OutOfRangeError("something else")));

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> from_point, store.Watch("k/", this->R(5)));
  ASSERT_OK_AND_ASSIGN(std::vector<WatchBatch> rest, CollectThrough(*from_point, this->R(10)));
  EXPECT_EQ(Flatten(rest).size(), 5u);

  ASSERT_OK_AND_ASSIGN(RangeResult listing, store.Range({.prefix = "k/"}));
  EXPECT_EQ(listing.kvs.size(), 10u);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> relisted, store.Watch("k/", listing.revision));
  ASSERT_OK(Put(store, "k/new", "v"));
  ASSERT_OK_AND_ASSIGN(std::vector<WatchBatch> after, CollectThrough(*relisted, this->R(11)));
  ASSERT_EQ(Flatten(after).size(), 1u);
}

// A watcher that lags behind a compaction learns it from Next, with the compaction revision.
TYPED_TEST(StoreContractTest, LaggingWatcherSeesCompaction) {
  this->OpenStore({.watch_buffer_bytes = 512});
  Store& store = this->store();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> lagging, store.Watch("", this->R(0)));
  ASSERT_OK(lagging->Next(absl::ZeroDuration()));  // live from here
  for (int i = 0; i < 50; ++i) ASSERT_OK(Put(store, absl::StrCat("k", i), std::string(64, 'v')));
  ASSERT_OK(store.Compact(this->R(40)));
  absl::StatusOr<WatchBatch> batch = lagging->Next(absl::Seconds(5));
  ASSERT_TRUE(IsCompacted(batch.status())) << batch.status();
  EXPECT_EQ(CompactedRevision(batch.status()), this->R(40));
}

// Compaction beyond the current revision is refused; compacting again lower is a no-op.
TYPED_TEST(StoreContractTest, CompactValidatesRevision) {
  Store& store = this->store();
  ASSERT_OK(Put(store, "a", "1"));
  ASSERT_OK(Put(store, "a", "2"));
  EXPECT_EQ(store.Compact(this->R(3)).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_OK(store.Compact(this->R(2)));
  ASSERT_OK(store.Compact(this->R(1)));
  EXPECT_EQ(store.CompactRevision(), this->R(2));
  EXPECT_EQ(store.Watch("", -1).status().code(), absl::StatusCode::kInvalidArgument);
}

// Cancel ends a blocked Next; destroying the store ends every watcher still open.
TYPED_TEST(StoreContractTest, CancelAndCloseEndWatches) {
  Store& store = this->store();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> cancelled, store.Watch("", this->R(0)));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> orphaned, store.Watch("", this->R(0)));
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(50));
    cancelled->Cancel();
  });
  absl::StatusOr<WatchBatch> first = cancelled->Next(absl::Seconds(30));
  while (first.ok()) first = cancelled->Next(absl::Seconds(30));
  canceller.join();
  EXPECT_EQ(first.status().code(), absl::StatusCode::kCancelled);

  ASSERT_OK(orphaned->Next(absl::ZeroDuration()));
  this->store_.reset();
  EXPECT_EQ(orphaned->Next(absl::Seconds(5)).status().code(), absl::StatusCode::kCancelled);
}

// Unlogged state is written, ranged and deleted apart from the revisioned keys: it takes no
// revision, makes no watch event and is invisible to Get and Range.
TYPED_TEST(StoreContractTest, StateStaysOffTheLog) {
  Store& store = this->store();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> watcher, store.Watch("", this->R(0)));
  ASSERT_OK(store.PutState({{"s/a", "1"}, {"s/b", "2"}, {"t/c", "3"}}, {}));
  ASSERT_OK(store.PutState({{"s/a", "10"}}, {"s/b"}));
  ASSERT_OK_AND_ASSIGN(auto state, store.RangeState("s/"));
  ASSERT_EQ(state.size(), 1u);
  EXPECT_EQ(state[0], (std::pair<std::string, std::string>{"s/a", "10"}));
  EXPECT_EQ(store.CurrentRevision(), this->R(0));
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> kv, store.Get("s/a"));
  EXPECT_FALSE(kv.has_value());
  ASSERT_OK_AND_ASSIGN(WatchBatch batch, watcher->Next(absl::Milliseconds(20)));
  EXPECT_TRUE(batch.events.empty());
  EXPECT_EQ(store.PutState({{"", "x"}}, {}).code(), absl::StatusCode::kInvalidArgument);
}

// Leases belong to shared stores: a local one has none and refuses a put with one, writing
// nothing; a shared one grants them.
TYPED_TEST(StoreContractTest, LeasesOnlyOnASharedStore) {
  Store& store = this->store();
  if (store.Shared()) {
    ASSERT_OK_AND_ASSIGN(int64_t lease, store.GrantLease(absl::Seconds(5)));
    ASSERT_OK(store.Txn({.success = {Op::PutWithLease("leased", "v", lease)}}));
    ASSERT_OK(store.RevokeLease(lease));
  } else {
    EXPECT_EQ(store.GrantLease(absl::Seconds(5)).status().code(), absl::StatusCode::kUnimplemented);
    EXPECT_EQ(store.KeepAliveLease(1).code(), absl::StatusCode::kUnimplemented);
    EXPECT_EQ(store.Txn({.success = {Op::PutWithLease("leased", "v", 1)}}).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(store.CurrentRevision(), this->R(0));
  }
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> kv, store.Get("leased"));
  EXPECT_FALSE(kv.has_value());
}

}  // namespace
}  // namespace fleet::storage
