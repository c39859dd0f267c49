// Tells systemd how fleetd is doing, for a unit with Type=notify (packaging/fleetd.service):
// the sd_notify protocol, a datagram of "KEY=VALUE" lines to the unix socket that NOTIFY_SOCKET
// names ('@' first: an abstract socket). Hand-written so that fleetd needs no libsystemd.
#ifndef FLEETD_SERVER_APP_SD_NOTIFY_H_
#define FLEETD_SERVER_APP_SD_NOTIFY_H_

#include <string_view>

#include "absl/status/status.h"

namespace fleet::server {

// Sends `state` (such as "READY=1" or "STOPPING=1") to the socket at `socket_path`. OK when
// sent; INVALID_ARGUMENT for a path that is not absolute or abstract or is too long; the error
// of socket or sendto otherwise (UNAVAILABLE).
absl::Status NotifyTo(std::string_view socket_path, std::string_view state);

// NotifyTo the socket NOTIFY_SOCKET names; OK and nothing sent when it is unset or empty (not
// run by systemd, or by a unit that is not Type=notify).
absl::Status SdNotify(std::string_view state);

}  // namespace fleet::server

#endif  // FLEETD_SERVER_APP_SD_NOTIFY_H_
