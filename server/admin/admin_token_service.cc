#include "server/admin/admin_token_service.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "server/admin/admin_auth.h"
#include "server/model/record_io.h"
#include "server/model/records.pb.h"
#include "server/model/secret_token.h"
#include "server/model/store_layout.h"
#include "server/model/validation.h"

namespace fleet::server {
namespace {

using storage::Compare;
using storage::Op;

record::AdminTokenRecord NewRecord(const MintedToken& minted, v1::Role role,
                                   const std::string& description, const std::string& author,
                                   const v1::Creator& creator, absl::Time now) {
  record::AdminTokenRecord record;
  v1::AdminToken& token = *record.mutable_token();
  token.set_id(minted.id);
  token.set_role(role);
  token.set_description(description);
  *token.mutable_created_at() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
  token.set_created_by(author);
  if (!creator.token_id().empty()) *token.mutable_creator() = creator;
  record.set_secret_sha256(minted.secret_sha256);
  return record;
}

absl::Status ErrnoError(const std::string& what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// Writes `contents` to `path` with mode 0600, durably: temp file, fsync, rename, fsync dir.
absl::Status WriteSecretFile(const std::string& dir, const std::string& path,
                             const std::string& contents) {
  const std::string temp = path + ".tmp";
  int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError(absl::StrCat("cannot create ", temp));
  bool ok = fchmod(fd, 0600) == 0 &&
            write(fd, contents.data(), contents.size()) == static_cast<ssize_t>(contents.size()) &&
            fsync(fd) == 0;
  absl::Status status = ok ? absl::OkStatus() : ErrnoError(absl::StrCat("cannot write ", temp));
  close(fd);
  if (status.ok() && rename(temp.c_str(), path.c_str()) != 0) {
    status = ErrnoError(absl::StrCat("cannot rename ", temp, " to ", path));
  }
  if (!status.ok()) {
    unlink(temp.c_str());
    return status;
  }
  int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    fsync(dir_fd);  // best effort: the token is stored only after this anyway
    close(dir_fd);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::CreateAdminTokenResponse> AdminTokenService::Create(
    const v1::CreateAdminTokenRequest& request, const std::string& author,
    const v1::Creator& creator) {
  if (request.role() != v1::ROLE_VIEWER && request.role() != v1::ROLE_OPERATOR &&
      request.role() != v1::ROLE_ADMIN) {
    return absl::InvalidArgumentError("role is required: viewer, operator or admin");
  }
  if (absl::Status s = ValidateDescription("description", request.description()); !s.ok()) {
    return s;
  }
  MintedToken minted = MintToken(kAdminTokenKind);
  record::AdminTokenRecord record =
      NewRecord(minted, request.role(), request.description(), author, creator, clock_.Now());
  const std::string key = layout::AdminTokenKey(minted.id);
  absl::StatusOr<storage::TxnResult> result = store_.Txn(
      {.compares = {Compare::Missing(key)}, .success = {Op::Put(key, record.SerializeAsString())}});
  if (!result.ok()) return result.status();
  if (!result->succeeded) return absl::AbortedError("token id collision; try again");
  v1::CreateAdminTokenResponse response;
  *response.mutable_token() = record.token();
  response.set_secret(minted.token);
  return response;
}

absl::StatusOr<v1::ListAdminTokensResponse> AdminTokenService::List() {
  absl::StatusOr<std::vector<StoredRecord<record::AdminTokenRecord>>> records =
      ReadAllRecords<record::AdminTokenRecord>(store_, layout::kAdminTokens);
  if (!records.ok()) return records.status();
  v1::ListAdminTokensResponse response;
  for (const auto& stored : *records) *response.add_tokens() = stored.record.token();
  return response;
}

absl::Status AdminTokenService::Revoke(const v1::RevokeAdminTokenRequest& request) {
  if (absl::Status s = ValidateId("id", request.id()); !s.ok()) return s;
  absl::StatusOr<std::vector<StoredRecord<record::AdminTokenRecord>>> records =
      ReadAllRecords<record::AdminTokenRecord>(store_, layout::kAdminTokens);
  if (!records.ok()) return records.status();
  const StoredRecord<record::AdminTokenRecord>* target = nullptr;
  // Every other admin-role token must still exist when the revocation commits, so that two
  // concurrent revocations cannot remove the last two.
  std::vector<Compare> other_admins;
  for (const auto& stored : *records) {
    const v1::AdminToken& token = stored.record.token();
    const std::string key = layout::AdminTokenKey(token.id());
    if (token.id() == request.id()) {
      target = &stored;
    } else if (token.role() == v1::ROLE_ADMIN) {
      other_admins.push_back(Compare::ModRevisionIs(key, stored.mod_revision));
    }
  }
  if (target == nullptr) {
    return absl::NotFoundError(absl::StrCat("admin token ", request.id(), " not found"));
  }
  if (target->record.token().role() == v1::ROLE_ADMIN && other_admins.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("admin token ", request.id(),
                     " is the last admin-role token; create another admin token first"));
  }
  const std::string key = layout::AdminTokenKey(request.id());
  storage::TxnRequest txn{.compares = std::move(other_admins)};
  txn.compares.push_back(Compare::ModRevisionIs(key, target->mod_revision));
  txn.success.push_back(Op::Delete(key));
  absl::StatusOr<storage::TxnResult> result = store_.Txn(txn);
  if (!result.ok()) return result.status();
  if (!result->succeeded) return absl::AbortedError("admin tokens changed meanwhile; try again");
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> AdminTokenService::EnsureBootstrapToken(
    const std::string& data_dir) {
  absl::StatusOr<storage::RangeResult> existing =
      store_.Range({.prefix = layout::kAdminTokens, .limit = 1});
  if (!existing.ok()) return existing.status();
  if (!existing->kvs.empty()) return std::nullopt;
  MintedToken minted = MintToken(kAdminTokenKind);
  const std::string path = absl::StrCat(data_dir, "/", kBootstrapTokenFile);
  if (absl::Status s = WriteSecretFile(data_dir, path, minted.token + "\n"); !s.ok()) return s;
  record::AdminTokenRecord record =
      NewRecord(minted, v1::ROLE_ADMIN, "bootstrap", "bootstrap", v1::Creator(), clock_.Now());
  absl::StatusOr<storage::TxnResult> result = store_.Txn(
      {.compares = {Compare::Missing(layout::AdminTokenKey(minted.id))},
       .success = {Op::Put(layout::AdminTokenKey(minted.id), record.SerializeAsString())}});
  if (!result.ok()) return result.status();
  return path;
}

}  // namespace fleet::server
