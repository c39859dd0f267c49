#include "server/app/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace fleet::server {
namespace {

// A datagram socket bound where NOTIFY_SOCKET would name, as systemd holds one.
class NotifyListener {
 public:
  // `name`: a path, or '@' and an abstract name.
  explicit NotifyListener(const std::string& name) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd_, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, name.data(), name.size());
    if (name[0] == '@') address.sun_path[0] = '\0';
    EXPECT_EQ(bind(fd_, reinterpret_cast<const sockaddr*>(&address),
                   static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size())),
              0)
        << std::strerror(errno);
  }
  ~NotifyListener() { close(fd_); }

  // The next datagram; the test's NotifyTo has sent it already, so it does not block.
  std::string Receive() {
    char buffer[256];
    const ssize_t n = recv(fd_, buffer, sizeof(buffer), MSG_DONTWAIT);
    return n < 0 ? std::string("(nothing: ") + std::strerror(errno) + ")"
                 : std::string(buffer, static_cast<size_t>(n));
  }

 private:
  int fd_ = -1;
};

// The state reaches a socket named by path.
TEST(SdNotifyTest, SendsToAPathSocket) {
  testing::TempDir dir;
  const std::string path = dir.Sub("notify");
  NotifyListener listener(path);
  ASSERT_OK(NotifyTo(path, "READY=1"));
  EXPECT_EQ(listener.Receive(), "READY=1");
}

// '@' names an abstract socket, as systemd's NOTIFY_SOCKET may.
TEST(SdNotifyTest, SendsToAnAbstractSocket) {
  const std::string name = "@fleetd-sd-notify-test-" + std::to_string(getpid());
  NotifyListener listener(name);
  ASSERT_OK(NotifyTo(name, "STOPPING=1"));
  EXPECT_EQ(listener.Receive(), "STOPPING=1");
}

// SdNotify follows NOTIFY_SOCKET, and without it sends nothing and succeeds.
TEST(SdNotifyTest, FollowsTheEnvironment) {
  testing::TempDir dir;
  const std::string path = dir.Sub("notify");
  NotifyListener listener(path);
  ASSERT_EQ(setenv("NOTIFY_SOCKET", path.c_str(), 1), 0);
  ASSERT_OK(SdNotify("READY=1"));
  EXPECT_EQ(listener.Receive(), "READY=1");
  ASSERT_EQ(unsetenv("NOTIFY_SOCKET"), 0);
  EXPECT_OK(SdNotify("READY=1"));
}

// A relative name is refused, and a socket nobody listens on is an error.
TEST(SdNotifyTest, BadSockets) {
  EXPECT_EQ(NotifyTo("relative/notify", "READY=1").code(), absl::StatusCode::kInvalidArgument);
  testing::TempDir dir;
  EXPECT_EQ(NotifyTo(dir.Sub("nobody"), "READY=1").code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace fleet::server
