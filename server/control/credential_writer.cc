#include "server/control/credential_writer.h"

#include <algorithm>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/model/agent_credentials.h"
#include "server/model/record_io.h"
#include "server/model/records.pb.h"
#include "server/model/store_layout.h"

namespace fleet::server {
namespace {

// Changes per transaction: a record and a compare each, under etcd's default of 128 operations
// per transaction for the ops.
constexpr size_t kMaxBatch = 100;
// How long a committed change waits for the directory before it is reported anyway: the
// directory follows the store within milliseconds, and the agent retries a refused Connect.
constexpr absl::Duration kDirectoryCatchUp = absl::Seconds(5);

std::string AgentName(const std::string& id) { return absl::StrCat("agent ", id); }

absl::Status Apply(const CredentialChange& change, record::AgentRecord& record, absl::Time now) {
  switch (change.kind) {
    case CredentialChange::Kind::kStartRotation:
      StartRotation(record, change.secret_sha256, now);
      return absl::OkStatus();
    case CredentialChange::Kind::kPromote:
      return PromotePending(record, change.secret_sha256, now);
  }
  return absl::InternalError("unknown credential change");
}

}  // namespace

CredentialWriter::CredentialWriter(storage::Store& store, Clock& clock, AgentDirectory& directory)
    : store_(store), clock_(clock), directory_(directory), thread_([this] { Run(); }) {}

CredentialWriter::~CredentialWriter() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void CredentialWriter::Commit(CredentialChange change, Done done) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(Item{.change = std::move(change), .done = std::move(done)});
}

void CredentialWriter::Run() {
  while (true) {
    std::vector<Item> batch;
    bool stopping = false;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](CredentialWriter* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->stopping_ || !self->queue_.empty();
          },
          this));
      stopping = stopping_;
      if (stopping) {
        batch.assign(std::make_move_iterator(queue_.begin()),
                     std::make_move_iterator(queue_.end()));
        queue_.clear();
      } else {
        // One change per agent per transaction (a transaction may write a key once); a second
        // one of the same agent waits for the next, in order.
        std::set<std::string> agents;
        for (auto it = queue_.begin(); it != queue_.end() && batch.size() < kMaxBatch;) {
          if (!agents.insert(it->change.agent_id).second) {
            ++it;
            continue;
          }
          batch.push_back(std::move(*it));
          it = queue_.erase(it);
        }
      }
    }
    if (stopping) {
      for (Item& item : batch) item.done(absl::UnavailableError("fleetd is shutting down"), false);
      return;
    }
    const int64_t revision = CommitBatch(batch);
    if (revision > 0 && !directory_.WaitForRevision(revision, kDirectoryCatchUp)) {
      // A secret the directory does not know yet would be refused if the agent reconnected with
      // it: it is not sent, and the next try replaces the pending one.
      for (Item& item : batch) {
        if (item.result.ok() && item.change.kind == CredentialChange::Kind::kStartRotation) {
          item.result = absl::UnavailableError(
              "the agent directory has not caught up with the new secret; rotation retried later");
        }
      }
    }
    for (Item& item : batch) item.done(item.result, item.rotation_requested);
  }
}

int64_t CredentialWriter::CommitBatch(std::vector<Item>& batch) {
  const absl::Time now = clock_.Now();
  storage::TxnRequest txn;
  std::vector<Item*> written;
  for (Item& item : batch) {
    const std::string key = layout::AgentKey(item.change.agent_id);
    absl::StatusOr<std::optional<StoredRecord<record::AgentRecord>>> stored =
        ReadRecord<record::AgentRecord>(store_, key);
    if (!stored.ok()) {
      item.result = stored.status();
      continue;
    }
    if (!stored->has_value()) {
      item.result = absl::NotFoundError(AgentName(item.change.agent_id) + " not found");
      continue;
    }
    record::AgentRecord& record = (*stored)->record;
    const absl::Status applied = Apply(item.change, record, now);
    // A refused change leaves the record as read, which is still worth reporting.
    item.rotation_requested = record.agent().has_rotation_requested_at();
    if (!applied.ok()) {
      item.result = applied;
      continue;
    }
    txn.compares.push_back(storage::Compare::ModRevisionIs(key, (*stored)->mod_revision));
    txn.success.push_back(storage::Op::Put(key, record.SerializeAsString()));
    written.push_back(&item);
  }
  if (written.empty()) return 0;
  absl::StatusOr<storage::TxnResult> result = store_.Txn(txn);
  if (!result.ok()) {
    for (Item* item : written) {
      item->result = result.status();
      item->rotation_requested = false;
    }
    return 0;
  }
  if (result->succeeded) return result->revision;
  // Some record changed meanwhile (an operator's edit, another replica): each on its own, read
  // again.
  int64_t revision = 0;
  for (Item* item : written) CommitAlone(*item, revision);
  return revision;
}

void CredentialWriter::CommitAlone(Item& item, int64_t& revision) {
  const absl::Time now = clock_.Now();
  absl::StatusOr<record::AgentRecord> updated = UpdateRecord<record::AgentRecord>(
      store_, layout::AgentKey(item.change.agent_id), AgentName(item.change.agent_id),
      [&](record::AgentRecord& record) { return Apply(item.change, record, now); });
  item.result = updated.status();
  item.rotation_requested = updated.ok() && updated->agent().has_rotation_requested_at();
  // UpdateRecord does not say its revision; the store's current one is at least as new.
  if (updated.ok()) revision = std::max(revision, store_.CurrentRevision());
}

}  // namespace fleet::server
