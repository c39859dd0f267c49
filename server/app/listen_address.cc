#include "server/app/listen_address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace fleet::server {
namespace {

absl::Status Malformed(const std::string& flag, const std::string& text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(flag, " \"", text, "\" is not a valid HOST:PORT (",
                                                 why, "), e.g. 127.0.0.1:8221 or [::1]:8221"));
}

// The errno of binding a socket like gRPC's (SO_REUSEADDR, no SO_REUSEPORT) to `ai`, or 0.
int ProbeBind(const addrinfo& ai) {
  int fd = socket(ai.ai_family, ai.ai_socktype | SOCK_CLOEXEC, ai.ai_protocol);
  if (fd < 0) return errno;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int error_number = bind(fd, ai.ai_addr, ai.ai_addrlen) == 0 ? 0 : errno;
  close(fd);
  return error_number;
}

}  // namespace

std::string ListenAddress::ToString() const { return WithPort(port); }

std::string ListenAddress::WithPort(int other_port) const {
  if (absl::StrContains(host, ':')) return absl::StrCat("[", host, "]:", other_port);
  return absl::StrCat(host, ":", other_port);
}

absl::StatusOr<ListenAddress> ParseListenAddress(const std::string& flag, const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) return Malformed(flag, text, "no port");
  absl::string_view host = absl::string_view(text).substr(0, colon);
  absl::string_view port_text = absl::string_view(text).substr(colon + 1);
  if (absl::StartsWith(host, "[")) {
    if (!absl::EndsWith(host, "]")) return Malformed(flag, text, "unclosed [");
    host = host.substr(1, host.size() - 2);
  } else if (absl::StrContains(host, ':')) {
    return Malformed(flag, text, "an IPv6 host needs brackets");
  }
  if (host.empty()) return Malformed(flag, text, "no host");
  int port = 0;
  const bool all_digits = !port_text.empty() && port_text.size() <= 5 &&
                          std::all_of(port_text.begin(), port_text.end(), [](char c) {
                            return absl::ascii_isdigit(static_cast<unsigned char>(c));
                          });
  if (!all_digits || !absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return Malformed(flag, text, "the port must be a number from 0 to 65535");
  }
  return ListenAddress{.host = std::string(host), .port = port};
}

bool ListenAddress::IsLoopback() const {
  if (host == "localhost") return true;
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  return inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

absl::Status ExplainListenFailure(const std::string& flag, const ListenAddress& address) {
  const std::string where = absl::StrCat(flag, " ", address.ToString());
  addrinfo hints;
  std::memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* results = nullptr;
  const std::string port = absl::StrCat(address.port);
  int rc = getaddrinfo(address.host.c_str(), port.c_str(), &hints, &results);
  if (rc != 0) {
    return absl::InvalidArgumentError(absl::StrCat("cannot listen on ", where,
                                                   ": cannot resolve host \"", address.host,
                                                   "\": ", gai_strerror(rc)));
  }
  int error_number = 0;
  for (addrinfo* ai = results; ai != nullptr && error_number == 0; ai = ai->ai_next) {
    error_number = ProbeBind(*ai);
  }
  freeaddrinfo(results);
  switch (error_number) {
    case EADDRINUSE:
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", where,
                       ": address already in use by another process; stop it or "
                       "choose another port (port 0 picks a free one)"));
    case EADDRNOTAVAIL:
      return absl::InvalidArgumentError(absl::StrCat("cannot listen on ", where, ": ", address.host,
                                                     " is not an address of this machine"));
    case EACCES:
      return absl::PermissionDeniedError(absl::StrCat(
          "cannot listen on ", where, ": permission denied (ports below 1024 need privileges)"));
    case 0:
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", where, " (gRPC's log above may say why)"));
    default:
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", where, ": ", std::strerror(error_number)));
  }
}

}  // namespace fleet::server
