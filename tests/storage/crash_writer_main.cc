// Child process of the crash test: opens a RocksDB store and commits transactions from several
// threads as fast as it can, printing "ok THREAD SEQ REVISION" after each Txn returns OK. Each
// Txn writes three keys crash/THREAD/SEQ/{a,b,c} and moves crash/last/THREAD to SEQ under a
// compare on its previous value. Stops by itself after --max-txns per thread or --seconds.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "storage/rocksdb/rocksdb_store.h"

namespace {

absl::Mutex out_mu;

void Report(const std::string& line) {
  absl::MutexLock lock(&out_mu);
  // One write(2) per line, so that a SIGKILL never leaves a torn line behind.
  if (write(STDOUT_FILENO, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    std::_Exit(3);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s STORE_DIR THREADS MAX_TXNS SECONDS\n", argv[0]);
    return 2;
  }
  int threads = 0, max_txns = 0, seconds = 0;
  if (!absl::SimpleAtoi(argv[2], &threads) || !absl::SimpleAtoi(argv[3], &max_txns) ||
      !absl::SimpleAtoi(argv[4], &seconds)) {
    std::fprintf(stderr, "bad numbers\n");
    return 2;
  }
  auto store = fleet::storage::OpenRocksDbStore(argv[1]);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(seconds);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      using fleet::storage::Compare;
      using fleet::storage::Op;
      std::string last_key = absl::StrCat("crash/last/", t);
      for (int seq = 0; seq < max_txns && absl::Now() < deadline; ++seq) {
        std::string base = absl::StrCat("crash/", t, "/", seq, "/");
        std::string value = absl::StrCat(t, "-", seq, "-", std::string(200, 'x'));
        fleet::storage::TxnRequest request{
            .compares = {seq == 0 ? Compare::Missing(last_key)
                                  : Compare::ValueIs(last_key, absl::StrCat(seq - 1))},
            .success = {Op::Put(base + "a", value), Op::Put(base + "b", value),
                        Op::Put(base + "c", value), Op::Put(last_key, absl::StrCat(seq))}};
        auto result = (*store)->Txn(request);
        if (!result.ok() || !result->succeeded) {
          std::fprintf(stderr, "txn %d/%d failed\n", t, seq);
          std::_Exit(1);
        }
        Report(absl::StrCat("ok ", t, " ", seq, " ", result->revision, "\n"));
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  return 0;
}
