// TLS for fleetd's listeners and for its clients (fleetctl, agents), on gRPC's TLS credentials
// with file-watching certificate providers: the PEM files are read again every
// kCertificateRefreshInterval, so that replaced files are used by the next handshakes without a
// restart (connections already open keep the certificate they started with).
//
// gRPC reports a file it cannot read only in its log, and then serves nothing: every file is
// checked here first (it parses, the key matches the certificate), so that a mistake is an error
// naming the flag before anything starts.
#ifndef FLEETD_RPC_TLS_CREDENTIALS_H_
#define FLEETD_RPC_TLS_CREDENTIALS_H_

#include <grpcpp/channel.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <openssl/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace fleet::rpc {

// How often the certificate providers look at their files. A replaced pair serves new handshakes
// within this long (plus the time gRPC takes to swap it in, well under a second).
inline constexpr absl::Duration kCertificateRefreshInterval = absl::Seconds(2);

// Whether a server asks its clients for certificates. kOptional verifies a certificate the client
// presents and admits a client that presents none; kRequired refuses the handshake without one.
enum class ClientAuth { kNone, kOptional, kRequired };

// "none", "optional" or "required", the value of `flag`; INVALID_ARGUMENT naming the flag and the
// accepted values otherwise.
absl::StatusOr<ClientAuth> ParseClientAuth(std::string_view flag, std::string_view text);
const char* ClientAuthName(ClientAuth auth);

// A file named by a flag: the flag goes into every error about the file.
struct FlagFile {
  std::string flag;  // e.g. "--tls-cert"
  std::string path;  // empty: not given
};

// OK when `cert` holds at least one PEM certificate, `key` a PEM private key, and the key is the
// one of the first (leaf) certificate. INVALID_ARGUMENT naming the flag (and file) otherwise:
// unreadable (with the system's reason), no certificate or key in it, or the two do not match.
absl::Status CheckKeyPairFiles(const FlagFile& cert, const FlagFile& key);
// A certificate chain and its private key, read from PEM files and checked as CheckKeyPairFiles
// does: what a TLS server outside gRPC (the HTTP endpoint) serves. Immutable after Load, so one
// pair may be shared by handshakes on any number of threads.
class KeyPair {
 public:
  // The pair in `cert` (leaf first, then any intermediates) and `key`; the errors of
  // CheckKeyPairFiles.
  static absl::StatusOr<std::shared_ptr<const KeyPair>> Load(const FlagFile& cert,
                                                             const FlagFile& key);
  ~KeyPair();
  KeyPair(const KeyPair&) = delete;
  KeyPair& operator=(const KeyPair&) = delete;

  // Makes the handshake of `ssl` present this pair (for an SSL_CTX certificate callback). false,
  // with OpenSSL's error queue holding why, when OpenSSL refuses it.
  bool UseFor(SSL* ssl) const;

 private:
  KeyPair(X509* leaf, std::vector<X509*> intermediates, EVP_PKEY* key);

  X509* const leaf_;                        // owned
  const std::vector<X509*> intermediates_;  // owned
  EVP_PKEY* const key_;                     // owned
};

// OK when `ca` holds at least one PEM certificate; INVALID_ARGUMENT naming the flag otherwise.
absl::Status CheckCaFile(const FlagFile& ca);
// OK when both or neither of `cert` and `key` are given; INVALID_ARGUMENT naming the flag of
// the missing one otherwise. Reads nothing.
absl::Status CheckBothOrNeither(const FlagFile& cert, const FlagFile& key);

// What a TLS listener serves. The files must have passed the checks above.
struct ServerTlsOptions {
  std::string cert_file;  // certificate chain, leaf first
  std::string key_file;
  // The CA bundle client certificates must chain to; needed unless client_auth is kNone.
  std::string client_ca_file;
  ClientAuth client_auth = ClientAuth::kNone;
};

// Credentials for a grpc::ServerBuilder (or an external connection acceptor), re-reading the
// files every kCertificateRefreshInterval. A file that becomes unreadable or invalid later is
// reported in gRPC's log, and the last good pair keeps serving.
std::shared_ptr<grpc::ServerCredentials> ServerTlsCredentials(const ServerTlsOptions& options);

// How a client reaches a TLS server. The flags are named in errors.
struct ClientTlsOptions {
  // The CA bundle the server's certificate must chain to; empty for the system's roots.
  FlagFile ca;
  // The client's own certificate and key, for servers that ask for one; both or neither.
  FlagFile cert;
  FlagFile key;
  // The name the server's certificate must hold, instead of the host of the address (e.g. when
  // connecting by IP address to a certificate issued for a DNS name); empty for the host.
  std::string server_name;
  // Accepts any server certificate. For tests against throw-away servers only: anyone on the
  // path can then read and change the traffic, tokens and secrets included.
  bool insecure_skip_verify = false;
};

// A channel to `address` over TLS, with `args` and, when set, the server name override.
// INVALID_ARGUMENT naming the flag when a file fails its check above, or a certificate is given
// without its key or a key without its certificate. The channel connects lazily: an untrusted
// server certificate fails the first call (UNAVAILABLE; see DescribeTlsFailure).
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateTlsChannel(const std::string& address,
                                                                const ClientTlsOptions& options,
                                                                grpc::ChannelArguments args = {});

// For a call that failed with `message` over a TLS channel: a hint saying what to do when the
// message shows the handshake failed (the server's certificate is not trusted, does not name the
// server, or the server refused the client's certificate), naming the client's flags; empty
// when it does not look like a TLS failure.
std::string DescribeTlsFailure(std::string_view message, const ClientTlsOptions& options);

}  // namespace fleet::rpc

#endif  // FLEETD_RPC_TLS_CREDENTIALS_H_
