#include "cli/connection.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli/address_list.h"
#include "cli/admin_client.h"
#include "cli/exit_codes.h"

namespace fleet::cli {
namespace {

constexpr char kLoginHint[] =
    "run fleetctl login --address HOST:PORT --token-file FILE, or pass --token-file";

// The first non-empty of `values`.
std::string FirstSet(std::initializer_list<std::string> values) {
  for (const std::string& value : values) {
    if (!value.empty()) return value;
  }
  return "";
}

}  // namespace

absl::Status UnknownContextError(const std::string& name) {
  return UsageError(absl::StrCat("context \"", name,
                                 "\" is not in the config; see fleetctl config get-contexts"));
}

absl::Status CheckAddress(const std::string& address, const std::string& source) {
  if (address.find(',') != std::string::npos) {
    // Several replicas: gRPC tries them in order and moves on from one it cannot reach, which it
    // can do only for addresses it need not resolve.
    std::optional<bool> ipv4;
    for (const std::string& one : SplitAddresses(address)) {
      if (absl::Status s = CheckAddress(one, source); !s.ok()) return s;
      const std::string host = HostOf(one);
      const bool four = IsIpv4Address(host);
      if ((!four && host.find(':') == std::string::npos) || (ipv4.has_value() && *ipv4 != four)) {
        return UsageError(absl::StrCat(
            source, " \"", address,
            "\": several addresses (replicas) must all be IPv4 or all IPv6 IP:PORT, e.g. "
            "10.0.0.1:8221,10.0.0.2:8221; put host names behind one name or a load balancer"));
      }
      ipv4 = four;
    }
    return absl::OkStatus();
  }
  // gRPC's own Unix-socket targets pass as they are.
  if (absl::StartsWith(address, "unix:") || absl::StartsWith(address, "unix-abstract:")) {
    return absl::OkStatus();
  }
  const std::string quoted = absl::StrCat(source, " \"", address, "\"");
  if (const size_t scheme = address.find("://"); scheme != std::string::npos) {
    return UsageError(absl::StrCat(quoted, ": want HOST:PORT without \"",
                                   address.substr(0, scheme + 3), "\", e.g. ", kDefaultAddress));
  }
  const size_t colon = address.rfind(':');
  const std::string host = colon == std::string::npos ? address : address.substr(0, colon);
  if (host.find(':') != std::string::npos && host.front() != '[') {
    return UsageError(absl::StrCat(quoted, ": an IPv6 address goes in brackets, e.g. [::1]:8221"));
  }
  if (colon == std::string::npos || address.back() == ']') {
    return UsageError(
        absl::StrCat(quoted, " has no port; want HOST:PORT, e.g. ", address, ":8221"));
  }
  if (host.empty()) {
    return UsageError(absl::StrCat(quoted, " has no host; want HOST:PORT, e.g. ", kDefaultAddress));
  }
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 1 || port > 65535) {
    return UsageError(absl::StrCat(quoted, ": the port must be a number from 1 to 65535"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Connection> ResolveConnection(const GlobalOptions& flags, const Environment& env,
                                             const Config& config) {
  Connection connection;
  connection.context = FirstSet({flags.context, env.context, config.current_context});
  Context context;
  if (!connection.context.empty()) {
    const Context* found = config.Find(connection.context);
    if (found == nullptr) {
      return UnknownContextError(connection.context);
    }
    context = *found;
  }
  connection.address = FirstSet({flags.address, env.address, context.address, kDefaultAddress});
  const std::string source = !flags.address.empty() ? "--address"
                             : !env.address.empty()
                                 ? "FLEETCTL_ADDRESS"
                                 : absl::StrCat("context \"", connection.context, "\"'s address");
  if (absl::Status checked = CheckAddress(connection.address, source); !checked.ok()) {
    return checked;
  }
  connection.token_file = FirstSet({flags.token_file, env.token_file, context.token_file});
  connection.tls = TlsSettings{
      .certificate_authority =
          FirstSet({flags.tls.certificate_authority, context.tls.certificate_authority}),
      .client_certificate =
          FirstSet({flags.tls.client_certificate, context.tls.client_certificate}),
      .client_key = FirstSet({flags.tls.client_key, context.tls.client_key}),
      .server_name = FirstSet({flags.tls.server_name, context.tls.server_name}),
      .insecure_skip_verify = flags.tls.insecure_skip_verify || context.tls.insecure_skip_verify};
  return connection;
}

absl::StatusOr<std::string> ReadToken(const Connection& connection) {
  if (connection.token_file.empty()) {
    return absl::UnauthenticatedError(absl::StrCat("no admin token configured; ", kLoginHint));
  }
  std::ifstream in(connection.token_file);
  if (!in) {
    return absl::UnknownError(absl::StrCat("token file ", connection.token_file, ": ",
                                           std::strerror(errno),
                                           "; run fleetctl login or pass "
                                           "--token-file"));
  }
  std::stringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  if (absl::EndsWith(token, "\r\n")) {
    token.resize(token.size() - 2);
  } else if (absl::EndsWith(token, "\n")) {
    token.pop_back();
  }
  const std::string where = absl::StrCat("token file ", connection.token_file);
  if (token.empty())
    return absl::UnauthenticatedError(absl::StrCat(where, " is empty; ", kLoginHint));
  // Say where the problem is, never what the bytes are: they are (part of) a secret.
  if (const size_t newline = token.find_first_of("\r\n"); newline != std::string::npos) {
    return absl::UnauthenticatedError(
        absl::StrCat(where, ": more than one line (a line break at byte ", newline + 1,
                     "); it must hold the token alone, on one line"));
  }
  if (!AdminClient::IsSendableToken(token)) {
    const auto bad =
        std::find_if(token.begin(), token.end(), [](char c) { return c < 0x20 || c > 0x7E; });
    return absl::UnauthenticatedError(
        absl::StrCat(where, ": byte ", bad - token.begin() + 1,
                     " is not printable ASCII; the file must hold the token alone, on one line"));
  }
  return token;
}

std::optional<rpc::ClientTlsOptions> ClientTls(const TlsSettings& tls) {
  if (!tls.enabled()) return std::nullopt;
  return rpc::ClientTlsOptions{
      .ca = {.flag = "--certificate-authority", .path = tls.certificate_authority},
      .cert = {.flag = "--client-certificate", .path = tls.client_certificate},
      .key = {.flag = "--client-key", .path = tls.client_key},
      .server_name = tls.server_name,
      .insecure_skip_verify = tls.insecure_skip_verify};
}

TlsSettings AbsoluteTlsPaths(TlsSettings tls) {
  tls.certificate_authority = AbsolutePath(tls.certificate_authority);
  tls.client_certificate = AbsolutePath(tls.client_certificate);
  tls.client_key = AbsolutePath(tls.client_key);
  return tls;
}

std::string AbsolutePath(const std::string& path) {
  if (path.empty()) return path;
  std::error_code error;
  std::filesystem::path absolute = std::filesystem::absolute(path, error);
  return error ? path : absolute.lexically_normal().string();
}

}  // namespace fleet::cli
