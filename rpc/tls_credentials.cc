#include "rpc/tls_credentials.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/utf8.h"

namespace fleet::rpc {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Certificate = std::unique_ptr<X509, X509Free>;
using PrivateKey = std::unique_ptr<EVP_PKEY, KeyFree>;

std::string Describe(const FlagFile& file) { return absl::StrCat(file.flag, " ", file.path); }

// The file's bytes; INVALID_ARGUMENT naming the flag and the system's reason when unreadable.
absl::StatusOr<std::string> ReadFile(const FlagFile& file) {
  std::ifstream in(file.path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(Describe(file), ": cannot read: ", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Bio MemoryBio(const std::string& pem) {
  return Bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The certificates of the PEM file, leaf first; INVALID_ARGUMENT when it has none.
absl::StatusOr<std::vector<Certificate>> ReadCertificates(const FlagFile& file) {
  absl::StatusOr<std::string> pem = ReadFile(file);
  if (!pem.ok()) return pem.status();
  Bio bio = MemoryBio(*pem);
  std::vector<Certificate> chain;
  // Bounded by the file: every certificate read consumes some of it.
  while (Certificate cert{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
    chain.push_back(std::move(cert));
  }
  ERR_clear_error();
  if (chain.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        Describe(file), ": holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")"));
  }
  return chain;
}

absl::StatusOr<PrivateKey> ReadPrivateKey(const FlagFile& file) {
  absl::StatusOr<std::string> pem = ReadFile(file);
  if (!pem.ok()) return pem.status();
  Bio bio = MemoryBio(*pem);
  PrivateKey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(Describe(file),
                     ": holds no unencrypted PEM private key (\"-----BEGIN PRIVATE KEY-----\")"));
  }
  return key;
}

}  // namespace

absl::StatusOr<ClientAuth> ParseClientAuth(std::string_view flag, std::string_view text) {
  if (text == "none") return ClientAuth::kNone;
  if (text == "optional") return ClientAuth::kOptional;
  if (text == "required") return ClientAuth::kRequired;
  return absl::InvalidArgumentError(absl::StrCat(
      std::string(flag), " must be none, optional or required (got ", QuoteForError(text), ")"));
}

const char* ClientAuthName(ClientAuth auth) {
  switch (auth) {
    case ClientAuth::kNone:
      return "none";
    case ClientAuth::kOptional:
      return "optional";
    case ClientAuth::kRequired:
      return "required";
  }
  return "none";
}

absl::StatusOr<std::shared_ptr<const KeyPair>> KeyPair::Load(const FlagFile& cert,
                                                             const FlagFile& key) {
  absl::StatusOr<std::vector<Certificate>> chain = ReadCertificates(cert);
  if (!chain.ok()) return chain.status();
  absl::StatusOr<PrivateKey> private_key = ReadPrivateKey(key);
  if (!private_key.ok()) return private_key.status();
  const bool match = X509_check_private_key(chain->front().get(), private_key->get()) == 1;
  ERR_clear_error();
  if (!match) {
    return absl::InvalidArgumentError(
        absl::StrCat(Describe(key), " is not the key of the certificate in ", Describe(cert)));
  }
  std::vector<X509*> intermediates;
  for (size_t i = 1; i < chain->size(); ++i) intermediates.push_back((*chain)[i].release());
  return std::shared_ptr<const KeyPair>(
      new KeyPair(chain->front().release(), std::move(intermediates), private_key->release()));
}

KeyPair::KeyPair(X509* leaf, std::vector<X509*> intermediates, EVP_PKEY* key)
    : leaf_(leaf), intermediates_(std::move(intermediates)), key_(key) {}

KeyPair::~KeyPair() {
  X509_free(leaf_);
  for (X509* cert : intermediates_) X509_free(cert);
  EVP_PKEY_free(key_);
}

bool KeyPair::UseFor(SSL* ssl) const {
  if (SSL_use_certificate(ssl, leaf_) != 1 || SSL_use_PrivateKey(ssl, key_) != 1) return false;
  // Replaces, not extends, a chain an earlier handshake on this SSL (a renegotiation) set.
  if (SSL_clear_chain_certs(ssl) != 1) return false;
  for (X509* cert : intermediates_) {
    if (SSL_add1_chain_cert(ssl, cert) != 1) return false;
  }
  return true;
}

absl::Status CheckKeyPairFiles(const FlagFile& cert, const FlagFile& key) {
  return KeyPair::Load(cert, key).status();
}

absl::Status CheckCaFile(const FlagFile& ca) { return ReadCertificates(ca).status(); }

absl::Status CheckBothOrNeither(const FlagFile& cert, const FlagFile& key) {
  if (cert.path.empty() == key.path.empty()) return absl::OkStatus();
  const FlagFile& given = cert.path.empty() ? key : cert;
  const FlagFile& missing = cert.path.empty() ? cert : key;
  return absl::InvalidArgumentError(
      absl::StrCat(given.flag, " needs ", missing.flag, " too (a certificate and its key)"));
}

std::shared_ptr<grpc::ServerCredentials> ServerTlsCredentials(const ServerTlsOptions& options) {
  const bool verify_clients = options.client_auth != ClientAuth::kNone;
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      options.key_file, options.cert_file, verify_clients ? options.client_ca_file : "",
      static_cast<unsigned int>(absl::ToInt64Seconds(kCertificateRefreshInterval)));
  grpc::experimental::TlsServerCredentialsOptions tls(provider);
  tls.watch_identity_key_cert_pairs();
  switch (options.client_auth) {
    case ClientAuth::kNone:
      tls.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
      break;
    case ClientAuth::kOptional:
      tls.watch_root_certs();
      tls.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
      break;
    case ClientAuth::kRequired:
      tls.watch_root_certs();
      tls.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
      break;
  }
  return grpc::experimental::TlsServerCredentials(tls);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateTlsChannel(const std::string& address,
                                                                const ClientTlsOptions& options,
                                                                grpc::ChannelArguments args) {
  if (!options.ca.path.empty()) {
    if (absl::Status ca = CheckCaFile(options.ca); !ca.ok()) return ca;
  }
  if (absl::Status whole = CheckBothOrNeither(options.cert, options.key); !whole.ok()) {
    return whole;
  }
  if (!options.cert.path.empty()) {
    if (absl::Status pair = CheckKeyPairFiles(options.cert, options.key); !pair.ok()) return pair;
  }

  grpc::experimental::TlsChannelCredentialsOptions tls;
  const bool has_identity = !options.cert.path.empty();
  if (has_identity || !options.ca.path.empty()) {
    // Watching the files lets a long-lived agent pick up its renewed certificate, and a new CA,
    // on its next connection.
    tls.set_certificate_provider(
        std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
            options.key.path, options.cert.path, options.ca.path,
            static_cast<unsigned int>(absl::ToInt64Seconds(kCertificateRefreshInterval))));
  }
  // Without a CA file gRPC verifies against the system's roots.
  if (!options.ca.path.empty()) tls.watch_root_certs();
  if (has_identity) tls.watch_identity_key_cert_pairs();
  if (options.insecure_skip_verify) {
    tls.set_verify_server_certs(false);
    tls.set_certificate_verifier(std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
    tls.set_check_call_host(false);
  }
  if (!options.server_name.empty()) args.SetSslTargetNameOverride(options.server_name);
  return grpc::CreateCustomChannel(address, grpc::experimental::TlsCredentials(tls), args);
}

std::string DescribeTlsFailure(std::string_view message, const ClientTlsOptions& options) {
  const std::string lower = absl::AsciiStrToLower(std::string(message));
  if (absl::StrContains(lower, "certificate_verify_failed") ||
      absl::StrContains(lower, "certificate verify failed")) {
    return options.ca.path.empty()
               ? absl::StrCat("fleetd's certificate is not trusted: pass ", options.ca.flag,
                              " FILE with the CA that signed it")
               : absl::StrCat("fleetd's certificate is not signed by the CA in ", options.ca.flag,
                              " ", options.ca.path, ": pass the CA that signed it");
  }
  if (absl::StrContains(lower, "hostname") || absl::StrContains(lower, "host name") ||
      absl::StrContains(lower, "subject alternative name")) {
    return "fleetd's certificate does not name the host in the address: connect by a name it "
           "holds, or pass --tls-server-name NAME";
  }
  // Under TLS 1.3 the client finishes its side of the handshake before the server has checked
  // the client's certificate; a refusal then looks like the server hanging up.
  if (absl::StrContains(lower, "certificate_required") || absl::StrContains(lower, "alert") ||
      absl::StrContains(lower, "socket closed") || absl::StrContains(lower, "connection reset")) {
    return options.cert.path.empty()
               ? absl::StrCat(
                     "fleetd hung up during the TLS handshake; if it asks for a client "
                     "certificate, pass ",
                     options.cert.flag, " FILE and ", options.key.flag, " FILE")
               : absl::StrCat("fleetd hung up on the client certificate in ", options.cert.flag,
                              " ", options.cert.path,
                              ": it must be signed by the CA fleetd trusts for clients");
  }
  if (absl::StrContains(lower, "handshake") || absl::StrContains(lower, "ssl")) {
    return "the TLS handshake with fleetd failed: check that fleetd serves TLS on this address "
           "and that the certificate flags are right";
  }
  return "";
}

}  // namespace fleet::rpc
