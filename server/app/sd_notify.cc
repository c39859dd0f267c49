#include "server/app/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace fleet::server {

absl::Status NotifyTo(std::string_view socket_path, std::string_view state) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.size() < 2 || (socket_path[0] != '/' && socket_path[0] != '@') ||
      socket_path.size() > sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("NOTIFY_SOCKET must be an absolute path or start with @, of at most ",
                     sizeof(address.sun_path), " bytes; it is \"", std::string(socket_path), "\""));
  }
  std::memcpy(address.sun_path, socket_path.data(), socket_path.size());
  // An abstract socket's name starts with a NUL and is exactly as long as the address says.
  if (socket_path[0] == '@') address.sun_path[0] = '\0';
  const socklen_t length =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path.size());
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("sd_notify: socket: ", std::strerror(errno)));
  }
  const ssize_t sent = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                              reinterpret_cast<const sockaddr*>(&address), length);
  const int error_number = errno;
  close(fd);
  if (sent < 0) {
    return absl::UnavailableError(
        absl::StrCat("sd_notify to ", std::string(socket_path), ": ", std::strerror(error_number)));
  }
  return absl::OkStatus();
}

absl::Status SdNotify(std::string_view state) {
  const char* socket_path = std::getenv("NOTIFY_SOCKET");
  if (socket_path == nullptr || *socket_path == '\0') return absl::OkStatus();
  return NotifyTo(socket_path, state);
}

}  // namespace fleet::server
