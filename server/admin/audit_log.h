// The audit line of an admin mutation: one line at info per RPC that writes, once its caller is
// authenticated, whatever its result, so that the log answers who changed what, when, and with
// what outcome. Never a secret: a token appears by its id, and created tokens' secrets, which
// only the response carries, are not looked at.
#ifndef FLEETD_SERVER_ADMIN_AUDIT_LOG_H_
#define FLEETD_SERVER_ADMIN_AUDIT_LOG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/log_fields.h"
#include "server/admin/admin_auth.h"

namespace fleet::server {

// What a mutation acted on: "policy/NAME", "agent/ID", "enrollment-token/ID",
// "admin-token/ID"; and whether it only said what it would do (ApplyPolicy's dry_run).
struct AuditTarget {
  std::string target;
  bool dry_run = false;
};

// The message of every audit line, for whoever filters the log for them.
inline constexpr std::string_view kAuditMessage = "admin mutation";

// One audit line's fields: rpc, actor_token_id, actor_role, target, code (the gRPC code name,
// e.g. "OK", "NOT_FOUND"), error (the status message; only when not OK), revision (the store's
// revision after the call), dry_run (only when true). The target is cut to 256 bytes.
// Not copyable: the fields view the line's own strings.
class AuditLine {
 public:
  AuditLine(std::string_view rpc, const Principal& actor, const AuditTarget& target,
            const absl::Status& result, int64_t revision);
  AuditLine(const AuditLine&) = delete;
  AuditLine& operator=(const AuditLine&) = delete;

  const std::vector<LogField>& fields() const { return fields_; }

  // Writes the line at info.
  void Log() const;

 private:
  const std::string role_;
  const std::string target_;
  const std::string code_;
  const std::string error_;
  std::vector<LogField> fields_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_ADMIN_AUDIT_LOG_H_
