// The TCP addresses fleetd listens on (--admin-addr, --agent-addr): parsing them, and telling the
// operator why one cannot be bound, which gRPC's ServerBuilder does not report.
#ifndef FLEETD_SERVER_APP_LISTEN_ADDRESS_H_
#define FLEETD_SERVER_APP_LISTEN_ADDRESS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fleet::server {

// HOST:PORT. HOST is an IPv4 address, a host name, or an IPv6 address in brackets ("[::1]:8221");
// PORT is 0 to 65535, where 0 asks the kernel for any free port.
struct ListenAddress {
  std::string host;  // without brackets
  int port = 0;

  // The address in gRPC's form, HOST:PORT with brackets around an IPv6 host.
  std::string ToString() const;
  // The same with another port, e.g. the one the kernel picked for port 0.
  std::string WithPort(int port) const;
  // Whether only this machine can reach it: "localhost", 127.0.0.0/8 or ::1 (not 0.0.0.0 or ::,
  // which listen on every interface).
  bool IsLoopback() const;
};

// Parses `text`, the value of the command-line flag `flag` (e.g. "--admin-addr"), which the
// error names. INVALID_ARGUMENT when `text` is not HOST:PORT.
absl::StatusOr<ListenAddress> ParseListenAddress(const std::string& flag, const std::string& text);

// Called after gRPC failed to listen on `address`: probes it with bind(2) and returns an error
// naming the flag, the address and the reason. UNAVAILABLE when the port is in use (or the
// reason is unknown), INVALID_ARGUMENT when the host does not resolve or is not an address of
// this machine, PERMISSION_DENIED for a privileged port.
absl::Status ExplainListenFailure(const std::string& flag, const ListenAddress& address);

}  // namespace fleet::server

#endif  // FLEETD_SERVER_APP_LISTEN_ADDRESS_H_
