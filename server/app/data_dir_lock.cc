#include "server/app/data_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace fleet::server {
namespace {

absl::Status ErrnoError(int error_number, const std::string& what) {
  return absl::ErrnoToStatus(error_number, what);
}

// mkdir -p with mode 0700 for every directory it creates; existing directories keep their mode.
absl::Status MakeDirectories(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat("data dir ", path, " exists but is not a directory"));
    }
    return absl::OkStatus();
  }
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && parent != path) {
    absl::Status status = MakeDirectories(parent.string());
    if (!status.ok()) return status;
  }
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoError(errno, absl::StrCat("cannot create data dir ", path));
  }
  return absl::OkStatus();
}

// The pid the current holder wrote, or 0 when the file holds none (yet).
int64_t ReadHolderPid(int fd) {
  char buffer[32];
  ssize_t n = pread(fd, buffer, sizeof(buffer) - 1, 0);
  if (n <= 0) return 0;
  int64_t pid = 0;
  if (!absl::SimpleAtoi(
          absl::StripAsciiWhitespace(absl::string_view(buffer, static_cast<size_t>(n))), &pid))
    return 0;
  return pid;
}

std::string AbsolutePath(const std::string& path) {
  std::error_code error;
  std::filesystem::path absolute = std::filesystem::absolute(path, error);
  return error ? path : absolute.lexically_normal().string();
}

}  // namespace

absl::StatusOr<std::unique_ptr<DataDirLock>> DataDirLock::Acquire(const std::string& data_dir) {
  absl::Status status = MakeDirectories(data_dir);
  if (!status.ok()) return status;

  const std::string lock_path = absl::StrCat(data_dir, "/", kLockFileName);
  int fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError(errno, absl::StrCat("cannot open lock file ", lock_path));

  int rc;
  do {
    rc = flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int error_number = errno;
    const int64_t holder = ReadHolderPid(fd);
    close(fd);
    if (error_number != EWOULDBLOCK) {
      return ErrnoError(error_number, absl::StrCat("cannot lock ", lock_path));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("data dir ", AbsolutePath(data_dir), " is in use by another fleetd (pid ",
                     holder > 0 ? absl::StrCat(holder) : std::string("unknown"),
                     "); stop that fleetd or choose another --data-dir"));
  }

  const std::string pid = absl::StrCat(getpid(), "\n");
  if (ftruncate(fd, 0) != 0 ||
      pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const int error_number = errno;
    close(fd);
    return ErrnoError(error_number, absl::StrCat("cannot write lock file ", lock_path));
  }
  return std::unique_ptr<DataDirLock>(new DataDirLock(data_dir, fd));
}

DataDirLock::DataDirLock(std::string data_dir, int fd) : data_dir_(std::move(data_dir)), fd_(fd) {}

DataDirLock::~DataDirLock() {
  // Closing the only descriptor of the open file description releases the flock.
  close(fd_);
}

}  // namespace fleet::server
