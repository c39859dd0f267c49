#include "storage/etcd/etcd_connection.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "storage/etcd/etcd_client.h"

namespace fleet::storage::etcd {
namespace {

// Responses larger than gRPC's 4 MiB default: a Range page of large values. etcd is trusted not
// to send more than it was asked for.
constexpr int kMaxResponseBytes = 256 * 1024 * 1024;
// A dead member is noticed by keepalive pings even when its host stops answering.
constexpr int kKeepaliveTimeMs = 10'000;
constexpr int kKeepaliveTimeoutMs = 5'000;
// The pause after every endpoint failed once.
constexpr absl::Duration kRoundPause = absl::Milliseconds(200);

absl::StatusOr<std::string> ReadPem(const char* what, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    std::string message =
        absl::StrCat("cannot read the etcd ", what, " file ", path, ": ", std::strerror(error));
    return error == EACCES ? absl::PermissionDeniedError(message) : absl::NotFoundError(message);
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("the etcd ", what, " file ", path, " is empty"));
  }
  return text.str();
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(const EtcdTlsFiles& tls) {
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        "an etcd client certificate needs its key, and a key its certificate: give both or "
        "neither");
  }
  if (tls.ca_file.empty() && tls.cert_file.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  if (!tls.ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPem("CA", tls.ca_file);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
  }
  if (!tls.cert_file.empty()) {
    absl::StatusOr<std::string> cert = ReadPem("certificate", tls.cert_file);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem("key", tls.key_file);
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *std::move(cert);
    ssl.pem_private_key = *std::move(key);
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace

bool NotSent(const grpc::Status& status) {
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return false;
  const std::string& message = status.error_message();
  return absl::StrContains(message, "failed to connect to all addresses") ||
         absl::StrContains(message, "etcdserver: no leader");
}

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) != 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

absl::StatusOr<std::unique_ptr<EtcdConnection>> EtcdConnection::Open(
    const EtcdConnectionOptions& options) {
  if (options.endpoints.empty()) {
    return absl::InvalidArgumentError("etcd: no endpoints given; name at least one HOST:PORT");
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials = Credentials(options.tls);
  if (!credentials.ok()) return credentials.status();
  std::vector<Member> members;
  for (const std::string& address : options.endpoints) {
    if (address.empty()) {
      return absl::InvalidArgumentError("etcd: an endpoint is empty; give HOST:PORT");
    }
    grpc::ChannelArguments args;
    // A connection of its own per store, not one shared with every channel to the address.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetMaxReceiveMessageSize(kMaxResponseBytes);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(address, *credentials, args);
    members.push_back(Member{.address = address,
                             .channel = channel,
                             .kv = etcdserverpb::KV::NewStub(channel),
                             .lease = etcdserverpb::Lease::NewStub(channel)});
  }
  return std::unique_ptr<EtcdConnection>(new EtcdConnection(options, std::move(members)));
}

EtcdConnection::EtcdConnection(EtcdConnectionOptions options, std::vector<Member> members)
    : options_(std::move(options)),
      endpoints_(options_.endpoints),
      endpoint_list_(absl::StrJoin(options_.endpoints, ",")),
      members_(std::move(members)) {}

EtcdEndpoint EtcdConnection::Current() const {
  const size_t index = current_.load() % members_.size();
  return {.channel = members_[index].channel, .address = members_[index].address, .index = index};
}

void EtcdConnection::FailedOver(size_t index) {
  size_t expected = index;
  current_.compare_exchange_strong(expected, (index + 1) % members_.size());
}

absl::Status EtcdConnection::Call(absl::string_view call, Kind kind, const Attempt& attempt) {
  const absl::Time give_up = absl::Now() + options_.retry_budget;
  absl::Status last;
  for (size_t tried = 0;; ++tried) {
    if (tried > 0 && tried % members_.size() == 0) absl::SleepFor(kRoundPause);
    const EtcdEndpoint member = Current();
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(
        std::min(absl::Now() + options_.call_timeout, std::max(give_up, absl::Now()))));
    context.AddMetadata(kRequireLeaderKey, "true");
    const Member& target = members_[member.index];
    const grpc::Status status = attempt({.kv = *target.kv, .lease = *target.lease}, context);
    if (status.ok()) return absl::OkStatus();
    last = EtcdCallStatus(status, member.address, call);
    const bool retryable = kind == Kind::kRead
                               ? status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                                     status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
                               : NotSent(status);
    if (!retryable) {
      const bool unknown =
          kind == Kind::kWrite && (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                                   status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
                                   status.error_code() == grpc::StatusCode::UNKNOWN);
      if (unknown) {
        FailedOver(member.index);
        return absl::Status(last.code(),
                            absl::StrCat(last.message(),
                                         " (the write may or may not have been applied; read "
                                         "the keys again before retrying)"));
      }
      return last;
    }
    FailedOver(member.index);
    if (absl::Now() >= give_up) {
      return absl::Status(last.code(),
                          absl::StrCat(last.message(), " (gave up after trying ", tried + 1,
                                       " times over ", endpoint_list_, ")"));
    }
  }
}

}  // namespace fleet::storage::etcd
