#include "server/app/data_dir_lock.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace fleet::server {
namespace {

using ::fleet::testing::TempDir;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// A missing data dir is created, with its missing parents, with mode 0700; the lock file holds
// our pid.
TEST(DataDirLockTest, CreatesDirectoryAndWritesPid) {
  TempDir tmp;
  const std::string dir = tmp.Sub("parent/data");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DataDirLock> lock, DataDirLock::Acquire(dir));
  struct stat st;
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(ReadFile(absl::StrCat(dir, "/", DataDirLock::kLockFileName)),
            absl::StrCat(getpid(), "\n"));
  EXPECT_EQ(lock->data_dir(), dir);
}

// flock belongs to the open file description, so even the holding process cannot lock the
// directory a second time; the error names the holder's pid and the way out.
TEST(DataDirLockTest, SecondAcquireInSameProcessIsRefused) {
  TempDir tmp;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DataDirLock> lock, DataDirLock::Acquire(tmp.path()));
  absl::StatusOr<std::unique_ptr<DataDirLock>> second = DataDirLock::Acquire(tmp.path());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string message(second.status().message());
  EXPECT_NE(message.find(absl::StrCat("data dir ", tmp.path(), " is in use by another fleetd (pid ",
                                      getpid(), ")")),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("--data-dir"), std::string::npos) << message;
}

// Destroying the lock releases it: the next Acquire succeeds.
TEST(DataDirLockTest, ReleasedOnDestruction) {
  TempDir tmp;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DataDirLock> lock, DataDirLock::Acquire(tmp.path()));
  lock.reset();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DataDirLock> again, DataDirLock::Acquire(tmp.path()));
}

// A lock held by another process refuses us with that process's pid, and is released when that
// process exits.
TEST(DataDirLockTest, LockHeldByAnotherProcessIsRefusedUntilItExits) {
  TempDir tmp;
  int locked[2], release[2];
  ASSERT_EQ(pipe(locked), 0);
  ASSERT_EQ(pipe(release), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(locked[0]);
    close(release[1]);
    absl::StatusOr<std::unique_ptr<DataDirLock>> lock = DataDirLock::Acquire(tmp.path());
    const char ok = lock.ok() ? 'y' : 'n';
    if (write(locked[1], &ok, 1) != 1) _exit(2);
    char ignored;
    while (read(release[0], &ignored, 1) > 0) {
    }
    _exit(0);  // exiting, not destroying the lock, releases it
  }
  close(locked[1]);
  close(release[0]);
  char child_locked = 0;
  ASSERT_EQ(read(locked[0], &child_locked, 1), 1);
  ASSERT_EQ(child_locked, 'y');

  absl::StatusOr<std::unique_ptr<DataDirLock>> refused = DataDirLock::Acquire(tmp.path());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find(absl::StrCat("(pid ", child, ")")),
            absl::string_view::npos)
      << refused.status();

  close(release[1]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  close(locked[0]);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<DataDirLock> lock, DataDirLock::Acquire(tmp.path()));
}

// A data dir path that names a regular file is refused, naming the path.
TEST(DataDirLockTest, RegularFileIsNotADataDir) {
  TempDir tmp;
  const std::string file = tmp.Sub("file");
  std::ofstream(file) << "x";
  absl::StatusOr<std::unique_ptr<DataDirLock>> lock = DataDirLock::Acquire(file);
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(lock.status().message().find(file), absl::string_view::npos) << lock.status();
}

}  // namespace
}  // namespace fleet::server
