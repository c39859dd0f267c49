#include "server/agent/agent_message_check.h"

#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "nlohmann/json.hpp"
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
  if (hello.agent_version().size() > kMaxAgentVersionBytes) {
    return absl::InvalidArgumentError(absl::StrCat("Hello.agent_version is ",
                                                   hello.agent_version().size(), " bytes; at most ",
                                                   kMaxAgentVersionBytes));
  }
  return CheckSha256("Hello.applied_sha256", hello.applied_sha256());
}

absl::Status CheckReportId(const char* field, const std::string& id) {
  if (id.empty() || id.size() > kMaxReportIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is ", id.size(), " bytes: send the id of the message answered"));
  }
  return absl::OkStatus();
}

absl::Status CheckActionStatus(const v1::ActionStatus& status) {
  if (absl::Status s = CheckReportId("ActionStatus.id", status.id()); !s.ok()) return s;
  if (status.state() == v1::ActionStatus::STATE_UNSPECIFIED ||
      !v1::ActionStatus::State_IsValid(status.state())) {
    return absl::InvalidArgumentError(
        absl::StrCat("ActionStatus.state is ", status.state(),
                     ": send ACCEPTED, RUNNING, SUCCEEDED, FAILED, REJECTED or CANCELLED"));
  }
  if (status.progress_percent() < 0 || status.progress_percent() > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("ActionStatus.progress_percent is ", status.progress_percent(), "; 0 to 100"));
  }
  if (status.output().size() > kMaxActionOutputBytes) {
    return absl::InvalidArgumentError(absl::StrCat("ActionStatus.output is ",
                                                   status.output().size(), " bytes; at most ",
                                                   kMaxActionOutputBytes));
  }
  return absl::OkStatus();
}

// Accepts JSON text that is an array whose elements are all objects, as the parser reads it:
// nothing of it is built into a document, since every query result of every agent is checked on a
// completion-queue thread.
class ArrayOfObjects final : public nlohmann::json_sax<nlohmann::json> {
 public:
  // The text was one whole array (sax_parse fails on anything after it).
  bool complete() const { return done_; }

  bool null() override { return Scalar(); }
  bool boolean(bool) override { return Scalar(); }
  bool number_integer(number_integer_t) override { return Scalar(); }
  bool number_unsigned(number_unsigned_t) override { return Scalar(); }
  bool number_float(number_float_t, const string_t&) override { return Scalar(); }
  bool string(string_t&) override { return Scalar(); }
  bool binary(binary_t&) override { return Scalar(); }
  bool start_object(std::size_t) override { return Open(/*array=*/false); }
  bool key(string_t&) override { return true; }
  bool end_object() override { return Close(); }
  bool start_array(std::size_t) override { return Open(/*array=*/true); }
  bool end_array() override { return Close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  // Depth 0 must be the array and depth 1 its objects; anything deeper is a row's own.
  bool Scalar() const { return depth_ >= 2; }
  bool Open(bool array) {
    if ((depth_ == 0 && !array) || (depth_ == 1 && array) || done_) return false;
    ++depth_;
    return true;
  }
  bool Close() {
    if (--depth_ == 0) done_ = true;
    return true;
  }

  int depth_ = 0;
  bool done_ = false;
};

absl::Status CheckQueryResult(const v1::QueryResult& result) {
  if (absl::Status s = CheckReportId("QueryResult.id", result.id()); !s.ok()) return s;
  if (result.rows_json().size() > kMaxQueryRowsBytes) {
    return absl::InvalidArgumentError(absl::StrCat("QueryResult.rows_json is ",
                                                   result.rows_json().size(), " bytes; at most ",
                                                   kMaxQueryRowsBytes,
                                                   ": send the rest in "
                                                   "further QueryResults"));
  }
  if (result.rows_json().empty()) return absl::OkStatus();
  ArrayOfObjects shape;
  if (!nlohmann::json::sax_parse(result.rows_json(), &shape) || !shape.complete()) {
    return absl::InvalidArgumentError(
        "QueryResult.rows_json is not a JSON array of objects, e.g. [{\"pid\": 1}]");
  }
  return absl::OkStatus();
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
    case v1::AgentMessage::kActionStatus:
      return CheckActionStatus(message.action_status());
    case v1::AgentMessage::kQueryResult:
      return CheckQueryResult(message.query_result());
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

v1::ActionStatus KeptActionStatus(const v1::ActionStatus& status) {
  v1::ActionStatus kept = status;
  kept.set_message(SanitizeUtf8(status.message(), kMaxAgentTextBytes));
  return kept;
}

v1::QueryResult KeptQueryResult(const v1::QueryResult& result) {
  v1::QueryResult kept = result;
  kept.set_error(SanitizeUtf8(result.error(), kMaxAgentTextBytes));
  return kept;
}

}  // namespace fleet::server
