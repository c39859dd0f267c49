// Policies with history: every change of a spec is one Store transaction that writes the next
// per-policy revision (canonical spec, SHA-256, time, author) and moves the policy's head, pruning
// revisions beyond the history limit, so no update is ever half applied. A change of the
// description alone is written in place on the latest revision: agents never see descriptions,
// so it makes no revision for them to receive. No gRPC here: AdminService authenticates and
// calls in.
#ifndef FLEETD_SERVER_ADMIN_POLICY_SERVICE_H_
#define FLEETD_SERVER_ADMIN_POLICY_SERVICE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "fleet/v1/admin.pb.h"
#include "server/control/agent_directory.h"
#include "server/model/record_io.h"
#include "server/model/records.pb.h"
#include "storage/store.h"

namespace fleet::server {

struct PolicyOptions {
  // How many revisions of each policy are kept (the newest ones); at least 1.
  int64_t history_limit = 100;
};

// Thread-safe: concurrent changes to one policy are serialized by compares in the store (the
// loser retries, and gets ABORTED if it keeps losing).
class PolicyService {
 public:
  // `store`, `clock` and `agents` are not owned and outlive the service. `agents` counts the
  // agents of a policy to be deleted (it need not be started for anything else).
  PolicyService(storage::Store& store, Clock& clock, PolicyOptions options, AgentDirectory& agents);

  // See AdminService in admin.proto for each call's contract. Errors: INVALID_ARGUMENT (naming
  // the field), RESOURCE_EXHAUSTED (spec too big), NOT_FOUND, FAILED_PRECONDITION (stale
  // expected revision; agents still assigned), ABORTED (lost races), and the store's errors.
  // `author` is who commits, as text (Principal::Author), `creator` the same as an object
  // (Principal::Creator; unset: the revision records none).
  absl::StatusOr<v1::ApplyPolicyResponse> Apply(const v1::ApplyPolicyRequest& request,
                                                const std::string& author,
                                                const v1::Creator& creator = v1::Creator());
  absl::StatusOr<v1::Policy> Get(const v1::GetPolicyRequest& request);
  absl::StatusOr<v1::ListPoliciesResponse> List(const v1::ListPoliciesRequest& request);
  absl::StatusOr<v1::DeletePolicyResponse> Delete(const v1::DeletePolicyRequest& request);
  absl::StatusOr<v1::GetPolicyHistoryResponse> History(const v1::GetPolicyHistoryRequest& request);
  absl::StatusOr<v1::DiffPolicyResponse> Diff(const v1::DiffPolicyRequest& request);
  absl::StatusOr<v1::ApplyPolicyResponse> Rollback(const v1::RollbackPolicyRequest& request,
                                                   const std::string& author,
                                                   const v1::Creator& creator = v1::Creator());

 private:
  // The content of a revision to commit.
  struct Content {
    std::string description;
    std::string spec_json;  // canonical
    int64_t rolled_back_from = 0;
    // The policy's labels after the change; nullopt keeps those it has.
    std::optional<google::protobuf::Map<std::string, std::string>> labels;
  };

  absl::StatusOr<v1::ApplyPolicyResponse> Commit(const std::string& name, const Content& content,
                                                 std::optional<int64_t> expected_revision,
                                                 bool dry_run, const std::string& author,
                                                 const v1::Creator& creator);
  // Sets the description of `latest`, the revision `head` names latest, in place, and the
  // policy's labels in its head (unless `dry_run`): no new revision, nothing for agents. True
  // when written (or dry_run), false when the head changed since it was read; errors are the
  // store's.
  absl::StatusOr<bool> UpdateMetadata(const std::string& name,
                                      const StoredRecord<record::PolicyHead>& head,
                                      const std::string& description,
                                      const google::protobuf::Map<std::string, std::string>& labels,
                                      bool dry_run, v1::Policy& latest);
  // One revision; NOT_FOUND naming what is retained when it is not.
  absl::StatusOr<v1::Policy> ReadRevision(const std::string& name, int64_t revision,
                                          const record::PolicyHead& head);
  // The latest revision of an existing policy, read again when a concurrent change pruned it
  // between reading the head and the revision. NOT_FOUND when the policy does not exist.
  absl::StatusOr<v1::Policy> ReadLatest(const std::string& name);
  // The head of an existing policy; NOT_FOUND otherwise.
  absl::StatusOr<record::PolicyHead> ReadHead(const std::string& name, int64_t* mod_revision);

  storage::Store& store_;  // not owned
  Clock& clock_;           // not owned
  const PolicyOptions options_;
  AgentDirectory& agents_;  // not owned
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_ADMIN_POLICY_SERVICE_H_
