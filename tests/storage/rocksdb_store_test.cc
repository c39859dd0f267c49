// RocksDB backend specifics: what it does with directories that are not its own.
#include "storage/rocksdb/rocksdb_store.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/storage/store_test_util.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace fleet::storage {
namespace {

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

// A directory with someone else's files is refused, and the files are left alone.
TEST(RocksDbStoreTest, RefusesNonEmptyForeignDirectory) {
  testing::TempDir dir;
  WriteFile(dir.Sub("notes.txt"), "mine");
  absl::StatusOr<std::unique_ptr<Store>> store = OpenRocksDbStore(dir.path());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("holds no fleetd store"), std::string::npos)
      << store.status();
  EXPECT_EQ(std::filesystem::directory_iterator(dir.path())->path().filename(), "notes.txt");
}

// A RocksDB database of another program is recognised and refused.
TEST(RocksDbStoreTest, RefusesForeignRocksDb) {
  testing::TempDir dir;
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir.path(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "k", "v").ok());
  }
  absl::StatusOr<std::unique_ptr<Store>> store = OpenRocksDbStore(dir.path());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("not a fleetd store"), std::string::npos)
      << store.status();
}

// Garbage where the store's manifest should be gives a clear error, never a crash.
TEST(RocksDbStoreTest, CorruptStoreGivesError) {
  testing::TempDir dir;
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store, OpenRocksDbStore(dir.path()));
    ASSERT_OK(Put(*store, "k", "v"));
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.path().filename().string().starts_with("MANIFEST-")) {
      WriteFile(entry.path(), std::string(4096, '\x5a'));
    }
  }
  absl::StatusOr<std::unique_ptr<Store>> store = OpenRocksDbStore(dir.path());
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find(dir.path()), std::string::npos) << store.status();
}

// A first start killed before the format marker was written (our column families, no commits)
// opens as a new store instead of being refused forever.
TEST(RocksDbStoreTest, FinishesAnInterruptedCreation) {
  testing::TempDir dir;
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const char* name : {"default", "kv", "log", "meta"}) families.emplace_back(name, options);
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir.path(), families, &handles, &raw).ok());
    for (auto* handle : handles) ASSERT_TRUE(raw->DestroyColumnFamilyHandle(handle).ok());
    delete raw;
  }
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store, OpenRocksDbStore(dir.path()));
  ASSERT_OK(Put(*store, "k", "v"));
}

// A store already open is refused to a second opener.
TEST(RocksDbStoreTest, SecondOpenIsRefused) {
  testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> first, OpenRocksDbStore(dir.path()));
  absl::StatusOr<std::unique_ptr<Store>> second = OpenRocksDbStore(dir.path());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  EXPECT_NE(second.status().message().find("in use"), std::string::npos) << second.status();
}

// A missing directory (and its parents) is created.
TEST(RocksDbStoreTest, CreatesMissingDirectory) {
  testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Store> store, OpenRocksDbStore(dir.Sub("a/b/store")));
  ASSERT_OK(Put(*store, "k", "v"));
}

}  // namespace
}  // namespace fleet::storage
