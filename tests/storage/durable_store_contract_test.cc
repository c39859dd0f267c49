// The part of the Store contract only durable backends keep: data survives closing and
// reopening, and a process killed mid-write loses no acknowledged Txn and leaves none half done.
#include <signal.h>
#include <sys/wait.h>

#include <map>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/errors.h"
#include "tests/storage/store_backends.h"
#include "tests/storage/store_test_util.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"

namespace fleet::storage {
namespace {

template <typename Backend>
class DurableStoreContractTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> Open() {
    absl::StatusOr<std::unique_ptr<Store>> store = backend_.Open({});
    EXPECT_OK(store);
    return store.ok() ? *std::move(store) : nullptr;
  }

  Backend backend_;
};

using DurableBackends = ::testing::Types<RocksDbBackend>;
TYPED_TEST_SUITE(DurableStoreContractTest, DurableBackends);

// Keys, revisions, the revision log and the compaction point are all there after a reopen.
TYPED_TEST(DurableStoreContractTest, StateSurvivesReopen) {
  {
    std::unique_ptr<Store> store = this->Open();
    ASSERT_NE(store, nullptr);
    ASSERT_OK(Put(*store, "a", "1"));
    ASSERT_OK(store->Txn({.success = {Op::Put("a", "2"), Op::Put("b", "3")}}));
    ASSERT_OK(store->Txn({.success = {Op::Delete("b")}}));
    ASSERT_OK(Put(*store, "c", "4"));
    ASSERT_OK(store->Compact(1));
    ASSERT_OK(store->PutState({{"state/x", "kept"}}, {}));
  }
  std::unique_ptr<Store> store = this->Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->CurrentRevision(), 4);
  EXPECT_EQ(store->CompactRevision(), 1);
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> a, store->Get("a"));
  EXPECT_EQ(
      *a,
      (KeyValue{.key = "a", .value = "2", .create_revision = 1, .mod_revision = 2, .version = 2}));
  ASSERT_OK_AND_ASSIGN(std::optional<KeyValue> b, store->Get("b"));
  EXPECT_FALSE(b.has_value());
  EXPECT_TRUE(IsCompacted(store->Watch("", 0).status()));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> watcher, store->Watch("", 1));
  ASSERT_OK_AND_ASSIGN(std::vector<WatchBatch> batches, CollectThrough(*watcher, 4));
  std::vector<Event> events = Flatten(batches);
  ASSERT_EQ(events.size(), 4u);  // rev 2: a, b; rev 3: delete b; rev 4: c
  EXPECT_EQ(events[2].type, Event::Type::kDelete);
  ASSERT_OK_AND_ASSIGN(auto state, store->RangeState("state/"));
  ASSERT_EQ(state.size(), 1u);
  EXPECT_EQ(state[0].second, "kept");
  ASSERT_OK_AND_ASSIGN(int64_t next, Put(*store, "d", "5"));
  EXPECT_EQ(next, 5);
}

// A writer process killed with SIGKILL in the middle of a write storm: after reopen every Txn it
// reported committed is present, no Txn is half applied, and the log agrees with the keys.
TYPED_TEST(DurableStoreContractTest, CrashLosesNoAcknowledgedTxn) {
  constexpr int kThreads = 8;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<testing::Subprocess> child,
                       testing::Subprocess::Start({CRASH_WRITER_BIN, this->backend_.path(),
                                                   absl::StrCat(kThreads), "100000", "60"}));
  std::vector<std::string> lines;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (lines.size() < 1500 && absl::Now() < deadline) {
    std::optional<std::string> line = child->ReadStdoutLine(absl::Seconds(5));
    if (!line.has_value()) break;
    lines.push_back(*line);
  }
  ASSERT_GE(lines.size(), 100u) << "the writer did not get going: "
                                << child->DrainStderr(absl::Seconds(1));
  child->Signal(SIGKILL);
  std::optional<int> status = child->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.has_value());
  ASSERT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL) << "writer ended early";
  std::istringstream rest(child->DrainStdout(absl::Seconds(5)));
  for (std::string line; std::getline(rest, line);) lines.push_back(line);

  std::map<int, int> last_acked;  // thread -> highest acknowledged seq
  int64_t max_acked_revision = 0;
  for (const std::string& line : lines) {
    int thread = 0, seq = 0;
    long long revision = 0;
    ASSERT_EQ(std::sscanf(line.c_str(), "ok %d %d %lld", &thread, &seq, &revision), 3) << line;
    last_acked[thread] = std::max(last_acked[thread], seq);
    max_acked_revision = std::max<int64_t>(max_acked_revision, revision);
  }

  std::unique_ptr<Store> store = this->Open();
  ASSERT_NE(store, nullptr);
  EXPECT_GE(store->CurrentRevision(), max_acked_revision);
  ASSERT_OK_AND_ASSIGN(RangeResult all, store->Range({.prefix = "crash/"}));
  std::map<std::string, int> parts;  // "thread/seq" -> keys present
  std::map<int, int> last_stored;
  for (const KeyValue& kv : all.kvs) {
    int thread = 0, seq = 0;
    if (std::sscanf(kv.key.c_str(), "crash/last/%d", &thread) == 1) {
      last_stored[thread] = std::stoi(kv.value);
      continue;
    }
    char part = 0;
    ASSERT_EQ(std::sscanf(kv.key.c_str(), "crash/%d/%d/%c", &thread, &seq, &part), 3) << kv.key;
    EXPECT_EQ(kv.value.substr(0, kv.value.find('-', kv.value.find('-') + 1)),
              absl::StrCat(thread, "-", seq));
    ++parts[absl::StrCat(thread, "/", seq)];
  }
  for (const auto& [txn, count] : parts) EXPECT_EQ(count, 3) << "half-applied txn " << txn;
  for (const auto& [thread, seq] : last_acked) {
    ASSERT_TRUE(last_stored.contains(thread));
    EXPECT_GE(last_stored[thread], seq) << "acknowledged txn lost on thread " << thread;
    for (int s = 0; s <= last_stored[thread]; ++s) {
      EXPECT_EQ(parts[absl::StrCat(thread, "/", s)], 3) << thread << "/" << s;
    }
  }
  // The log holds each transaction whole: four events per revision, all revisions present.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Watcher> watcher, store->Watch("", 0));
  ASSERT_OK_AND_ASSIGN(std::vector<WatchBatch> batches,
                       CollectThrough(*watcher, store->CurrentRevision()));
  std::map<int64_t, int> events_per_revision;
  for (const Event& event : Flatten(batches)) ++events_per_revision[event.kv.mod_revision];
  EXPECT_EQ(static_cast<int64_t>(events_per_revision.size()), store->CurrentRevision());
  for (const auto& [revision, count] : events_per_revision) EXPECT_EQ(count, 4) << revision;
}

}  // namespace
}  // namespace fleet::storage
