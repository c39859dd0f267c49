#include "rpc/key_pair_watcher.h"

#include <sys/stat.h>

#include <utility>

#include "spdlog/spdlog.h"

namespace fleet::rpc {

absl::StatusOr<std::unique_ptr<KeyPairWatcher>> KeyPairWatcher::Start(FlagFile cert, FlagFile key,
                                                                      absl::Duration interval) {
  // Stamped before loading: a file replaced while it loads is loaded again at the next look.
  const Stamps stamps{.cert = StampOf(cert.path), .key = StampOf(key.path)};
  absl::StatusOr<std::shared_ptr<const KeyPair>> pair = KeyPair::Load(cert, key);
  if (!pair.ok()) return pair.status();
  return std::unique_ptr<KeyPairWatcher>(
      new KeyPairWatcher(std::move(cert), std::move(key), interval, stamps, *std::move(pair)));
}

KeyPairWatcher::KeyPairWatcher(FlagFile cert, FlagFile key, absl::Duration interval, Stamps stamps,
                               std::shared_ptr<const KeyPair> pair)
    : cert_(std::move(cert)), key_(std::move(key)), interval_(interval) {
  {
    absl::MutexLock check(&check_mu_);
    seen_ = stamps;
  }
  {
    absl::MutexLock lock(&mu_);
    current_ = std::move(pair);
  }
  thread_ = std::thread([this] { Run(); });
}

KeyPairWatcher::~KeyPairWatcher() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

std::shared_ptr<const KeyPair> KeyPairWatcher::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

KeyPairWatcher::Stamp KeyPairWatcher::StampOf(const std::string& path) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) return {};
  return {.device = info.st_dev,
          .inode = info.st_ino,
          .size = info.st_size,
          .modified_ns =
              static_cast<int64_t>(info.st_mtim.tv_sec) * 1'000'000'000 + info.st_mtim.tv_nsec};
}

bool KeyPairWatcher::CheckNow() {
  absl::MutexLock check(&check_mu_);
  const Stamps now = Look();
  if (now == seen_) return false;
  seen_ = now;
  absl::StatusOr<std::shared_ptr<const KeyPair>> pair = KeyPair::Load(cert_, key_);
  if (!pair.ok()) {
    // Files written one after the other (the key, then its certificate) fail here in between;
    // the next look, after the second write, loads them.
    spdlog::warn(
        "TLS certificate files changed but do not load, still serving the previous pair: {}",
        std::string(pair.status().message()));
    return false;
  }
  spdlog::info("TLS certificate reloaded from {} (key {})", cert_.path, key_.path);
  absl::MutexLock lock(&mu_);
  current_ = *std::move(pair);
  return true;
}

void KeyPairWatcher::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval_)) return;
    }
    CheckNow();
  }
}

}  // namespace fleet::rpc
