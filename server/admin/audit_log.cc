#include "server/admin/audit_log.h"

#include "common/utf8.h"
#include "spdlog/spdlog.h"

namespace fleet::server {
namespace {

// Targets hold names from requests, which fail validation when they are too long: bounded here
// so that such a request cannot make a huge line.
constexpr size_t kMaxTargetBytes = 256;

// gRPC's names of the codes, which absl shares: what fleetctl shows and scripts check.
std::string CodeName(absl::StatusCode code) {
  return code == absl::StatusCode::kOk ? "OK" : absl::StatusCodeToString(code);
}

}  // namespace

AuditLine::AuditLine(std::string_view rpc, const Principal& actor, const AuditTarget& target,
                     const absl::Status& result, int64_t revision)
    : role_(RoleName(actor.role)),
      target_(TruncateUtf8(target.target, kMaxTargetBytes)),
      code_(CodeName(result.code())),
      error_(result.message()) {
  fields_ = {{"rpc", rpc},
             {"actor_token_id", actor.token_id},
             {"actor_role", role_},
             {"target", target_},
             {"code", code_}};
  if (!result.ok()) fields_.emplace_back("error", error_);
  fields_.emplace_back("revision", revision);
  if (target.dry_run) fields_.emplace_back("dry_run", true);
}

void AuditLine::Log() const { LogEvent(spdlog::level::info, kAuditMessage, fields_); }

}  // namespace fleet::server
