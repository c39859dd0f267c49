#include "cli/resource_tables.h"

#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "cli/resource_json.h"
#include "cli/table_writer.h"

namespace fleet::cli {
namespace {

// A cell for an optional value: "-" when empty.
std::string OrDash(const std::string& text) { return text.empty() ? "-" : text; }

std::string ShortSha(const std::string& sha256) { return OrDash(sha256.substr(0, 12)); }

std::string Revision(int64_t revision) { return revision == 0 ? "-" : absl::StrCat(revision); }

std::string TokenUses(const v1::EnrollmentToken& token) {
  return absl::StrCat(token.uses(), "/",
                      token.max_uses() == 0 ? "unlimited" : absl::StrCat(token.max_uses()));
}

std::string TokenState(const v1::EnrollmentToken& token) {
  if (token.revoked()) return "revoked";
  if (token.has_expires_at() && token.expires_at().seconds() <= absl::ToUnixSeconds(absl::Now())) {
    return "expired";
  }
  if (token.max_uses() != 0 && token.uses() >= token.max_uses()) return "used-up";
  return "active";
}

// "k1=v1,k2=v2" in key order.
std::string Labels(const v1::Agent& agent) {
  const std::map<std::string, std::string> sorted(agent.labels().begin(), agent.labels().end());
  return absl::StrJoin(sorted, ",", absl::PairFormatter("="));
}

}  // namespace

std::string WithThousands(int64_t value) {
  const std::string digits = absl::StrCat(value < 0 ? -value : value);
  std::string out = value < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

void WritePolicyTable(const Items<v1::Policy>& policies, std::ostream& out) {
  TableWriter table({"NAME", "REVISION", "SHA256", "UPDATED", "AUTHOR", "DESCRIPTION"});
  for (const v1::Policy& policy : policies) {
    table.AddRow({policy.name(), absl::StrCat(policy.revision()), ShortSha(policy.sha256()),
                  OrDash(FormatTimestamp(policy.created_at())), OrDash(policy.author()),
                  policy.description()});
  }
  table.Write(out);
}

void WritePolicyHistoryTable(const Items<v1::Policy>& revisions, std::ostream& out) {
  TableWriter table({"REVISION", "SHA256", "CREATED", "AUTHOR", "ROLLBACK-OF", "DESCRIPTION"});
  for (const v1::Policy& policy : revisions) {
    table.AddRow({absl::StrCat(policy.revision()), ShortSha(policy.sha256()),
                  OrDash(FormatTimestamp(policy.created_at())), OrDash(policy.author()),
                  Revision(policy.rolled_back_from()), policy.description()});
  }
  table.Write(out);
}

void WriteEnrollmentTokenTable(const Items<v1::EnrollmentToken>& tokens, std::ostream& out) {
  TableWriter table({"ID", "POLICY", "USES", "EXPIRES", "STATE", "CREATED-BY", "DESCRIPTION"});
  for (const v1::EnrollmentToken& token : tokens) {
    const std::string expires = FormatTimestamp(token.expires_at());
    table.AddRow({token.id(), token.policy(), TokenUses(token), expires.empty() ? "never" : expires,
                  TokenState(token), OrDash(token.created_by()), token.description()});
  }
  table.Write(out);
}

void WriteAgentTable(const Items<v1::Agent>& agents, std::ostream& out) {
  TableWriter table(
      {"ID", "HOSTNAME", "POLICY", "REVISION", "STATUS", "HEALTH", "LAST-SEEN", "LABELS"});
  for (const v1::Agent& agent : agents) {
    table.AddRow({agent.id(), agent.hostname(), agent.policy(), Revision(agent.applied_revision()),
                  AgentStatusName(agent.status()), AgentHealthName(agent.health()),
                  OrDash(FormatTimestamp(agent.last_seen())), OrDash(Labels(agent))});
  }
  table.Write(out);
}

void WriteAdminTokenTable(const Items<v1::AdminToken>& tokens, std::ostream& out) {
  TableWriter table({"ID", "ROLE", "CREATED", "CREATED-BY", "DESCRIPTION"});
  for (const v1::AdminToken& token : tokens) {
    table.AddRow({token.id(), RoleName(token.role()), OrDash(FormatTimestamp(token.created_at())),
                  OrDash(token.created_by()), token.description()});
  }
  table.Write(out);
}

void PrintResult(OutputFormat format, const std::string& kind, const std::string& id,
                 const std::string& verb, std::ostream& out) {
  if (format == OutputFormat::kTable) {
    out << absl::AsciiStrToLower(kind) << "/" << id << " " << verb << "\n";
    return;
  }
  WriteStructured({{"kind", kind}, {"id", id}, {"result", verb}}, format, out);
}

void PrintSecret(OutputFormat format, nlohmann::ordered_json token, const std::string& secret,
                 const std::string& note, std::ostream& out) {
  if (format == OutputFormat::kTable) {
    std::cerr << note << "\n";
    out << secret << "\n";
    return;
  }
  WriteStructured({{"token", std::move(token)}, {"secret", secret}}, format, out);
}

void DescribePolicy(const v1::Policy& policy, std::ostream& out) {
  WriteKeyValueTable({{"Name", policy.name()},
                      {"Description", OrDash(policy.description())},
                      {"Revision", absl::StrCat(policy.revision())},
                      {"SHA256", OrDash(policy.sha256())},
                      {"Created", OrDash(FormatTimestamp(policy.created_at()))},
                      {"Author", OrDash(policy.author())},
                      {"Store Revision", absl::StrCat(policy.store_revision())},
                      {"Rollback Of", Revision(policy.rolled_back_from())}},
                     out);
  const nlohmann::ordered_json spec = PolicyToJson(policy)["spec"];
  out << "Spec:\n  "
      << absl::StrReplaceAll(
             spec.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace),
             {{"\n", "\n  "}})
      << "\n";
}

void DescribeAgent(const v1::Agent& agent, std::ostream& out) {
  const std::string nacked =
      agent.nacked_revision() == 0
          ? "-"
          : absl::StrCat(agent.nacked_revision(), " (", agent.nack_reason(), ")");
  WriteKeyValueTable(
      {{"ID", agent.id()},
       {"Hostname", agent.hostname()},
       {"OS/Arch", absl::StrCat(agent.os(), "/", agent.arch())},
       {"Agent Version", OrDash(agent.agent_version())},
       {"Labels", OrDash(Labels(agent))},
       {"Policy", agent.policy()},
       {"Applied Revision", Revision(agent.applied_revision())},
       {"Nacked Revision", nacked},
       {"Status", AgentStatusName(agent.status())},
       {"Health", AgentHealthName(agent.health())},
       {"Health Message", OrDash(agent.health_message())},
       {"Enrolled", OrDash(FormatTimestamp(agent.enrolled_at()))},
       {"Last Seen", OrDash(FormatTimestamp(agent.last_seen()))},
       {"Enrollment Token", OrDash(agent.enrollment_token_id())},
       {"Secret Issued", OrDash(FormatTimestamp(agent.secret_issued_at()))},
       {"Secret Rotations", absl::StrCat(agent.secret_rotations())},
       {"Rotation Requested", OrDash(FormatTimestamp(agent.rotation_requested_at()))},
       {"Rotation Pending", OrDash(FormatTimestamp(agent.rotation_pending_since()))}},
      out);
}

}  // namespace fleet::cli
