// Exclusive ownership of a fleetd data directory, so that two fleetd processes never share one
// store. The lock is an advisory flock(2) on DATA_DIR/fleetd.lock, which also holds the owner's
// pid for the error message a second fleetd prints. The kernel drops the lock when the owner
// exits, however it exits, so there is never a stale lock to clean up.
#ifndef FLEETD_SERVER_APP_DATA_DIR_LOCK_H_
#define FLEETD_SERVER_APP_DATA_DIR_LOCK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace fleet::server {

// Thread-compatible. Holding the object is holding the lock.
class DataDirLock {
 public:
  // The lock file's name inside the data directory.
  static constexpr char kLockFileName[] = "fleetd.lock";

  // Creates `data_dir` (and missing parents) with mode 0700 when absent, then takes the lock and
  // writes our pid into the lock file. Errors, each naming the directory:
  // FAILED_PRECONDITION when another holder has the lock ("... is in use by another fleetd
  // (pid N) ..."), or when `data_dir` exists but is not a directory; the errno's code (e.g.
  // PERMISSION_DENIED) when the directory or the file cannot be created or opened.
  // The lock belongs to the open file description, so a second Acquire of the same directory
  // fails even in the process that already holds it.
  static absl::StatusOr<std::unique_ptr<DataDirLock>> Acquire(const std::string& data_dir);

  // Releases the lock. The lock file stays: deleting it would let a third process lock a new
  // file while a second one still waits on the old inode.
  ~DataDirLock();

  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;

  // The directory as passed to Acquire.
  const std::string& data_dir() const { return data_dir_; }

 private:
  DataDirLock(std::string data_dir, int fd);

  const std::string data_dir_;
  const int fd_;  // the open lock file; the lock lives as long as it is open
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_APP_DATA_DIR_LOCK_H_
