#include "server/app/open_connections.h"

#include <sys/stat.h>

#include <algorithm>

namespace fleet::server {

void OpenConnections::Add(int fd) {
  struct stat info {};
  if (fstat(fd, &info) != 0) return;
  absl::MutexLock lock(&mu_);
  entries_.push_back(Entry{.fd = fd, .device = info.st_dev, .inode = info.st_ino});
}

uint64_t OpenConnections::Count() {
  absl::MutexLock lock(&mu_);
  std::erase_if(entries_, [](const Entry& entry) {
    struct stat info {};
    return fstat(entry.fd, &info) != 0 || info.st_dev != entry.device || info.st_ino != entry.inode;
  });
  return entries_.size();
}

}  // namespace fleet::server
