// StoreCompactor keeps the newest revisions of the log and compacts the rest.
#include "server/app/store_compactor.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/errors.h"
#include "storage/memory_store.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

// Compaction keeps exactly `retain_revisions` and is a no-op while there are fewer.
TEST(StoreCompactorTest, KeepsTheNewestRevisions) {
  std::unique_ptr<storage::Store> store = storage::NewMemoryStore();
  StoreCompactor compactor(*store, {.retain_revisions = 10, .interval = absl::Hours(1)});
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(store->Txn({.success = {storage::Op::Put(absl::StrCat("k", i), "v")}}));
  }
  ASSERT_OK(compactor.CompactNow());
  EXPECT_EQ(store->CompactRevision(), 0);
  for (int i = 5; i < 25; ++i) {
    ASSERT_OK(store->Txn({.success = {storage::Op::Put(absl::StrCat("k", i), "v")}}));
  }
  ASSERT_OK(compactor.CompactNow());
  EXPECT_EQ(store->CompactRevision(), 15);
  EXPECT_TRUE(storage::IsCompacted(store->Watch("", 14).status()));
  EXPECT_OK(store->Watch("", 15));
}

}  // namespace
}  // namespace fleet::server
