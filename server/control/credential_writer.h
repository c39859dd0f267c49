// The durable steps of agents' credential rotations (agent.proto, "Credential rotation";
// agent_credentials.h) for the agent streams, which may not block on the store: each change is
// queued and committed off the caller's thread, in the manner of a group commit (whatever is
// queued when the writer gets to it goes in one transaction), and reported only once the agent
// directory has seen it, so that Connect accepts a new secret by the time the agent can use it.
#ifndef FLEETD_SERVER_CONTROL_CREDENTIAL_WRITER_H_
#define FLEETD_SERVER_CONTROL_CREDENTIAL_WRITER_H_

#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "server/control/agent_directory.h"
#include "storage/store.h"

namespace fleet::server {

// One step of one agent's rotation.
struct CredentialChange {
  enum class Kind {
    // Commit `secret_sha256` as the agent's pending secret (StartRotation), before it is sent.
    kStartRotation,
    // The agent holds the pending secret `secret_sha256`: make it the current one
    // (PromotePending).
    kPromote,
  };
  Kind kind = Kind::kStartRotation;
  std::string agent_id;
  std::string secret_sha256;  // raw SHA-256 of the secret part
};

// Thread-safe.
class CredentialWriter {
 public:
  // Called once per change, on the writer's thread, with no lock of the writer held: OK once the
  // change is durable (and, for a promotion, the directory has seen it or a few seconds passed);
  // UNAVAILABLE for a rotation's start the directory has not seen within those seconds (the
  // secret must not be sent: the agent could not connect with it); NOT_FOUND when the
  // agent is gone; FAILED_PRECONDITION when a promotion's secret is no longer the pending one;
  // the store's error; UNAVAILABLE when the writer stopped first. `rotation_requested` says
  // whether the record as written (or, when the change was refused, as read) asks for a
  // rotation: after a promotion, a request made while that rotation was pending; false when the
  // record was not read or not written.
  using Done = std::function<void(const absl::Status& status, bool rotation_requested)>;

  // Starts the writer's thread. `store`, `clock` and `directory` are not owned and outlive it.
  CredentialWriter(storage::Store& store, Clock& clock, AgentDirectory& directory);
  // Commits nothing more: what is queued is answered UNAVAILABLE; joins the thread.
  ~CredentialWriter();

  CredentialWriter(const CredentialWriter&) = delete;
  CredentialWriter& operator=(const CredentialWriter&) = delete;

  // Queues `change`; `done` follows. Never blocks on I/O.
  void Commit(CredentialChange change, Done done);

 private:
  struct Item {
    CredentialChange change;
    Done done;
    absl::Status result;
    bool rotation_requested = false;
  };

  void Run();
  // Decides every item of `batch` (at most one per agent) by setting its result; returns the
  // revision the directory must reach before they are told, 0 for none.
  int64_t CommitBatch(std::vector<Item>& batch);
  // Commits one item alone, after its batch lost a race with another writer.
  void CommitAlone(Item& item, int64_t& revision);

  storage::Store& store_;      // not owned
  Clock& clock_;               // not owned
  AgentDirectory& directory_;  // not owned

  absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_CONTROL_CREDENTIAL_WRITER_H_
