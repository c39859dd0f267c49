// Agent credentials on disk: what Enroll returned, kept so that an agent enrolls once and
// reconnects as itself after a restart (agent.proto, "Life of an agent", step 1).
#ifndef FLEETD_AGENT_IDENTITY_STORE_H_
#define FLEETD_AGENT_IDENTITY_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fleet::agent {

// What an agent must remember from EnrollResponse.
struct AgentIdentity {
  std::string agent_id;
  std::string agent_secret;
  std::string policy;

  bool operator==(const AgentIdentity&) const = default;
};

// One small JSON file per agent name, `<dir>/<name>.json`, mode 0600, in a directory the store
// creates with mode 0700 when it is missing. A name is 1 to 100 characters of [A-Za-z0-9._-];
// any other name is INVALID_ARGUMENT. One directory holding thousands of names is expected (the
// simulator keeps every agent it plays in one).
//
// Thread-compatible per name: calls for different names may run concurrently; calls for the same
// name need outside synchronization (a Load racing a Save of that name still sees either the old
// or the new identity whole, never a mix, because Save replaces the file atomically).
class IdentityStore {
 public:
  // Opens the store in `dir`, creating missing directories (mode 0700). An error names the
  // directory and carries the errno's status code.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<IdentityStore>> Open(std::string dir);

  // The identity saved under `name`, or nullopt when there is none. DATA_LOSS naming the file
  // when it is there but not a whole identity (corrupt, truncated, fields missing); another
  // error when it cannot be read.
  [[nodiscard]] absl::StatusOr<std::optional<AgentIdentity>> Load(const std::string& name) const;

  // Saves `identity` under `name`, replacing what was there. Durable and atomic when it returns
  // OK: a temp file in the same directory is written and fsynced, renamed over the old file, and
  // the directory is fsynced. On failure the old file (if any) is untouched and no temp file is
  // left behind. An identity with an empty agent_id or agent_secret is INVALID_ARGUMENT.
  [[nodiscard]] absl::Status Save(const std::string& name, const AgentIdentity& identity);

  // Deletes what is saved under `name`; OK when nothing was.
  [[nodiscard]] absl::Status Remove(const std::string& name);

  const std::string& dir() const { return dir_; }
  // `<dir>/<name>.json`, for a valid name.
  std::string PathFor(const std::string& name) const;

 private:
  explicit IdentityStore(std::string dir) : dir_(std::move(dir)) {}

  // fsyncs the directory so that a rename or unlink in it survives a crash.
  absl::Status SyncDir() const;

  const std::string dir_;
};

}  // namespace fleet::agent

#endif  // FLEETD_AGENT_IDENTITY_STORE_H_
