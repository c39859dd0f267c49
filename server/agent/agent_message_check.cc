#include "server/agent/agent_message_check.h"

#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "server/model/validation.h"

namespace fleet::server {
namespace {

absl::Status CheckSha256(const char* field, const std::string& sha256) {
  if (sha256.size() <= kMaxSha256Bytes) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, " is ", sha256.size(), " bytes; a SHA-256 in hex is ", kMaxSha256Bytes));
}

absl::Status CheckHello(const v1::Hello& hello) {
  // The length first: a name is short, and the check quotes what it refuses.
  if (!hello.policy().empty() &&
      (hello.policy().size() > 63 || !ValidateName("Hello.policy", hello.policy()).ok())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Hello.policy ", QuoteForError(hello.policy()),
        " is not a policy name: send the policy of the update you applied, or nothing"));
  }
  if (hello.applied_revision() < 0) {
    return absl::InvalidArgumentError(absl::StrCat("Hello.applied_revision is ",
                                                   hello.applied_revision(),
                                                   "; send 0 when nothing is applied"));
  }
  return CheckSha256("Hello.applied_sha256", hello.applied_sha256());
}

bool IsComponentKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxComponentKeyBytes || !IsValidUtf8(key)) return false;
  for (char c : key) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return false;
  }
  return true;
}

absl::Status CheckStatusReport(const v1::StatusReport& report) {
  if (!v1::StatusReport::Health_IsValid(report.health())) {
    return absl::InvalidArgumentError(absl::StrCat("StatusReport.health is ", report.health(),
                                                   ", not a value of StatusReport.Health"));
  }
  if (report.components_size() > static_cast<int>(kMaxComponents)) {
    return absl::InvalidArgumentError(absl::StrCat("StatusReport.components has ",
                                                   report.components_size(), " entries; at most ",
                                                   kMaxComponents));
  }
  for (const auto& [key, value] : report.components()) {
    if (!IsComponentKey(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat("StatusReport.components key ", QuoteForError(key), " (", key.size(),
                       " bytes) is invalid: use 1 to ", kMaxComponentKeyBytes,
                       " bytes of UTF-8 without control characters"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckAgentMessage(const v1::AgentMessage& message) {
  switch (message.message_case()) {
    case v1::AgentMessage::kHello:
      return CheckHello(message.hello());
    case v1::AgentMessage::kAck:
      return CheckSha256("Ack.sha256", message.ack().sha256());
    case v1::AgentMessage::kStatus:
      return CheckStatusReport(message.status());
    case v1::AgentMessage::kCredentialsConfirmed:
      if (message.credentials_confirmed().agent_secret().size() > kMaxAgentSecretBytes) {
        return absl::InvalidArgumentError(
            absl::StrCat("CredentialsConfirmed.agent_secret is ",
                         message.credentials_confirmed().agent_secret().size(), " bytes; at most ",
                         kMaxAgentSecretBytes));
      }
      return absl::OkStatus();
    default:
      return absl::OkStatus();
  }
}

void KeepStatusReport(const v1::StatusReport& report, record::AgentStatusRecord& state) {
  // StatusReport.Health and AgentHealth share their numbers.
  state.set_health(static_cast<v1::AgentHealth>(report.health()));
  state.set_health_message(SanitizeUtf8(report.message(), kMaxAgentTextBytes));
  auto& components = *state.mutable_components();
  components.clear();
  for (const auto& [key, value] : report.components()) {
    components[key] = SanitizeUtf8(value, kMaxComponentValueBytes);
  }
}

}  // namespace fleet::server
