// CommitInBatches (txn_batches.h): independent writes in as few transactions as the store takes,
// bounded by ops and bytes, in order, stopping at the first error.
#include "storage/txn_batches.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/memory_store.h"
#include "storage/store_wrapper.h"
#include "tests/testing/status_matchers.h"

namespace fleet::storage {
namespace {

// The MemoryStore a LimitedStore wraps, made before it.
struct OwnsMemoryStore {
  std::unique_ptr<Store> memory = NewMemoryStore();
};

// A MemoryStore that takes at most `ops` ops and `bytes` bytes per transaction, records each
// transaction's size, and fails the transaction numbered `fail_at` (0: none).
class LimitedStore final : private OwnsMemoryStore, public StoreWrapper {
 public:
  LimitedStore(size_t ops, size_t bytes, int fail_at = 0)
      : StoreWrapper(*memory), ops_(ops), bytes_(bytes), fail_at_(fail_at) {}

  absl::StatusOr<TxnResult> Txn(const TxnRequest& request) override {
    txn_sizes.push_back(request.success.size());
    if (static_cast<int>(txn_sizes.size()) == fail_at_) return absl::UnavailableError("down");
    return StoreWrapper::Txn(request);
  }
  size_t MaxTxnOps() const override { return ops_; }
  size_t MaxTxnBytes() const override { return bytes_; }

  std::vector<size_t> txn_sizes;

 private:
  const size_t ops_;
  const size_t bytes_;
  const int fail_at_;
};

// Ten puts of a 4-byte key ("/k/N") and a 6-byte value: 10 bytes each.
std::vector<Op> TenPuts() {
  std::vector<Op> ops;
  for (int i = 0; i < 10; ++i) ops.push_back(Op::Put(absl::StrCat("/k/", i), "vvvvvv"));
  return ops;
}

TEST(TxnBatchesTest, BoundedByTheCallersOpsAndTheStores) {
  LimitedStore store(/*ops=*/4, /*bytes=*/1000);
  ASSERT_OK(CommitInBatches(store, TenPuts(), /*max_ops=*/100));
  EXPECT_EQ(store.txn_sizes, (std::vector<size_t>{4, 4, 2}));
  LimitedStore caller(/*ops=*/100, /*bytes=*/1000);
  ASSERT_OK(CommitInBatches(caller, TenPuts(), /*max_ops=*/3));
  EXPECT_EQ(caller.txn_sizes, (std::vector<size_t>{3, 3, 3, 1}));
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> last, caller.Get("/k/9"));
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->value, "vvvvvv");
}

TEST(TxnBatchesTest, BoundedByTheStoresBytes) {
  LimitedStore store(/*ops=*/100, /*bytes=*/35);
  ASSERT_OK(CommitInBatches(store, TenPuts(), 100));
  EXPECT_EQ(store.txn_sizes, (std::vector<size_t>{3, 3, 3, 1}));
}

// An op larger than a transaction takes goes alone; the ones around it are batched as usual.
TEST(TxnBatchesTest, AnOversizedOpGoesAlone) {
  LimitedStore store(/*ops=*/100, /*bytes=*/25);
  std::vector<Op> ops = TenPuts();
  ops.insert(ops.begin() + 1, Op::Put("/big", std::string(100, 'b')));
  ASSERT_OK(CommitInBatches(store, std::move(ops), 100));
  EXPECT_EQ(store.txn_sizes, (std::vector<size_t>{1, 1, 2, 2, 2, 2, 1}));
}

TEST(TxnBatchesTest, StopsAtTheFirstErrorKeepingWhatWasCommitted) {
  LimitedStore store(/*ops=*/4, /*bytes=*/1000, /*fail_at=*/2);
  EXPECT_EQ(CommitInBatches(store, TenPuts(), 100).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store.txn_sizes, (std::vector<size_t>{4, 4}));
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> first, store.Get("/k/3"));
  EXPECT_TRUE(first.has_value());
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> after, store.Get("/k/4"));
  EXPECT_FALSE(after.has_value());
}

TEST(TxnBatchesTest, NothingToCommitCommitsNothing) {
  LimitedStore store(4, 1000);
  ASSERT_OK(CommitInBatches(store, {}, 100));
  EXPECT_TRUE(store.txn_sizes.empty());
}

}  // namespace
}  // namespace fleet::storage
