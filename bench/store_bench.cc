// Store micro benchmarks on the RocksDB backend: durable Txn latency, durable commit throughput
// with 1, 8 and 64 concurrent writers (group commit), Range scans, and watch delivery from the
// log and live. Run with: build/bin/store_bench (see bench/README.md for the recorded figures).
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "storage/rocksdb/rocksdb_store.h"

namespace fleet::storage {
namespace {

// One store per benchmark run, in a fresh directory under $TMPDIR (or /tmp): the disk that
// fsync lands on matters, so run from the disk you want measured.
std::unique_ptr<Store> g_store;
std::string g_dir;

void OpenFresh(const benchmark::State&) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/store-bench-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) std::abort();
  g_dir = pattern;
  absl::StatusOr<std::unique_ptr<Store>> store = OpenRocksDbStore(g_dir + "/store");
  if (!store.ok()) std::abort();
  g_store = *std::move(store);
}

void Close(const benchmark::State&) {
  g_store.reset();
  std::filesystem::remove_all(g_dir);
}

const std::string& Value() {
  static const std::string value(256, 'v');
  return value;
}

void Fail(benchmark::State& state, const absl::Status& status) {
  state.SkipWithError(std::string(status.message()).c_str());
}

// One writer: the latency of a durable single-key Txn (one fsync each).
void BM_DurableTxnLatency(benchmark::State& state) {
  int64_t i = 0;
  for (auto _ : state) {
    auto result = g_store->Txn({.success = {Op::Put(absl::StrCat("k/", i++), Value())}});
    if (!result.ok()) return Fail(state, result.status());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DurableTxnLatency)->Setup(OpenFresh)->Teardown(Close)->UseRealTime();

// N concurrent writers, each committing durable Txns: commits/s shows group commit at work.
// Five repetitions each; compare the medians of the 64- and 1-writer rows from one run.
void BM_DurableCommits(benchmark::State& state) {
  int64_t i = 0;
  const std::string prefix = absl::StrCat("w/", state.thread_index(), "/");
  for (auto _ : state) {
    auto result = g_store->Txn({.success = {Op::Put(absl::StrCat(prefix, i++), Value())}});
    if (!result.ok()) return Fail(state, result.status());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DurableCommits)
    ->Setup(OpenFresh)
    ->Teardown(Close)
    ->Threads(1)
    ->Threads(8)
    ->Threads(64)
    ->UseRealTime()
    ->MinTime(1.0)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);

void Fill(benchmark::State& state, int keys) {
  for (int i = 0; i < keys; i += 1000) {
    TxnRequest request;
    for (int j = i; j < i + 1000 && j < keys; ++j) {
      request.success.push_back(Op::Put(absl::StrFormat("scan/%08d", j), Value()));
    }
    if (absl::Status status = g_store->Txn(request).status(); !status.ok()) {
      return Fail(state, status);
    }
  }
}

// Reading every key of a 10,000-key prefix, 1,000 per page.
void BM_RangeScan(benchmark::State& state) {
  constexpr int kKeys = 10'000;
  Fill(state, kKeys);
  for (auto _ : state) {
    RangeRequest request{.prefix = "scan/", .limit = 1000};
    int64_t seen = 0;
    do {
      absl::StatusOr<RangeResult> page = g_store->Range(request);
      if (!page.ok()) return Fail(state, page.status());
      seen += static_cast<int64_t>(page->kvs.size());
      request.continuation = page->continuation;
    } while (!request.continuation.empty());
    if (seen != kKeys) return Fail(state, absl::InternalError("short scan"));
  }
  state.SetItemsProcessed(state.iterations() * kKeys);
}
BENCHMARK(BM_RangeScan)->Setup(OpenFresh)->Teardown(Close);

// A new watcher replaying 10,000 single-key transactions from the revision log.
void BM_WatchCatchUp(benchmark::State& state) {
  constexpr int kTxns = 10'000;
  {
    // Many small transactions, committed concurrently so the fill is quick.
    std::vector<std::thread> writers;
    for (int t = 0; t < 16; ++t) {
      writers.emplace_back([t] {
        for (int i = t; i < kTxns; i += 16) {
          // A failed fill shows up below as missing events.
          g_store->Txn({.success = {Op::Put(absl::StrCat("log/", i), Value())}}).IgnoreError();
        }
      });
    }
    for (std::thread& writer : writers) writer.join();
  }
  const int64_t last = g_store->CurrentRevision();
  for (auto _ : state) {
    absl::StatusOr<std::unique_ptr<Watcher>> watcher = g_store->Watch("log/", 0);
    if (!watcher.ok()) return Fail(state, watcher.status());
    int64_t events = 0, revision = 0;
    while (revision < last) {
      absl::StatusOr<WatchBatch> batch = (*watcher)->Next(absl::Seconds(10));
      if (!batch.ok()) return Fail(state, batch.status());
      events += static_cast<int64_t>(batch->events.size());
      revision = batch->revision;
    }
    if (events != kTxns) return Fail(state, absl::InternalError("missing events"));
  }
  state.SetItemsProcessed(state.iterations() * kTxns);
}
BENCHMARK(BM_WatchCatchUp)->Setup(OpenFresh)->Teardown(Close)->Unit(benchmark::kMillisecond);

// A live watcher: from a durable commit to the event in the watcher's hands.
void BM_WatchLive(benchmark::State& state) {
  absl::StatusOr<std::unique_ptr<Watcher>> watcher = g_store->Watch("live/", 0);
  if (!watcher.ok()) return Fail(state, watcher.status());
  int64_t i = 0;
  for (auto _ : state) {
    absl::StatusOr<TxnResult> result =
        g_store->Txn({.success = {Op::Put(absl::StrCat("live/", i++), Value())}});
    if (!result.ok()) return Fail(state, result.status());
    int64_t revision = 0;
    while (revision < result->revision) {
      absl::StatusOr<WatchBatch> batch = (*watcher)->Next(absl::Seconds(10));
      if (!batch.ok()) return Fail(state, batch.status());
      revision = batch->revision;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WatchLive)->Setup(OpenFresh)->Teardown(Close)->UseRealTime();

}  // namespace
}  // namespace fleet::storage
