#include "cli/resource_tables.h"

#include <cstdint>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cli/action_outcome.h"
#include "cli/human_duration.h"
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
std::string Labels(const google::protobuf::Map<std::string, std::string>& labels) {
  const std::map<std::string, std::string> sorted(labels.begin(), labels.end());
  return absl::StrJoin(sorted, ",", absl::PairFormatter("="));
}

// An age column's cell: how long ago `time` was, "-" when unset.
std::string Age(const google::protobuf::Timestamp& time, absl::Time now) {
  if (time.seconds() == 0 && time.nanos() == 0) return "-";
  return HumanDuration(now - absl::FromUnixSeconds(time.seconds()));
}

SortKey TimeKey(const google::protobuf::Timestamp& time) { return {.number = time.seconds()}; }
SortKey NumberKey(int64_t number) { return {.number = number}; }

// A rollout count of a policy row, "-" without its rollout.
std::string Count(const PolicyRow& row, int64_t (v1::RolloutStatus::*count)() const) {
  return row.rollout.has_value() ? WithThousands(((*row.rollout).*count)()) : "-";
}
SortKey CountKey(const PolicyRow& row, int64_t (v1::RolloutStatus::*count)() const) {
  return NumberKey(row.rollout.has_value() ? ((*row.rollout).*count)() : -1);
}

int64_t PendingAll(const v1::RolloutStatus& status) {
  return status.pending() + status.pending_offline();
}

// Writes `table` with every line indented by two spaces.
void Indented(const TableWriter& table, std::ostream& out) {
  std::ostringstream text;
  table.Write(text);
  for (absl::string_view line : absl::StrSplit(text.str(), '\n', absl::SkipEmpty())) {
    out << "  " << line << "\n";
  }
}

template <typename T>
std::vector<T> Rows(const Items<T>& items) {
  return std::vector<T>(items.begin(), items.end());
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

const TableSpec<PolicyRow>& PolicyTable() {
  using Row = PolicyRow;
  static const auto* const spec = new TableSpec<PolicyRow>{
      .kind = "policy",
      .name = [](const Row& row) { return row.policy.name(); },
      .columns =
          {{"NAME", [](const Row& row, absl::Time) { return row.policy.name(); }},
           {"REVISION",
            [](const Row& row, absl::Time) { return absl::StrCat(row.policy.revision()); },
            [](const Row& row) { return NumberKey(row.policy.revision()); }},
           {"AGENTS",
            [](const Row& row, absl::Time) { return Count(row, &v1::RolloutStatus::agents); },
            [](const Row& row) { return CountKey(row, &v1::RolloutStatus::agents); }},
           {"ACKED",
            [](const Row& row, absl::Time) { return Count(row, &v1::RolloutStatus::acked); },
            [](const Row& row) { return CountKey(row, &v1::RolloutStatus::acked); }},
           {"NACKED",
            [](const Row& row, absl::Time) { return Count(row, &v1::RolloutStatus::nacked); },
            [](const Row& row) { return CountKey(row, &v1::RolloutStatus::nacked); }},
           {"PENDING",
            [](const Row& row, absl::Time) {
              return row.rollout.has_value() ? WithThousands(PendingAll(*row.rollout)) : "-";
            },
            [](const Row& row) {
              return NumberKey(row.rollout.has_value() ? PendingAll(*row.rollout) : -1);
            }},
           {"UPDATED",
            [](const Row& row, absl::Time now) { return Age(row.policy.created_at(), now); },
            [](const Row& row) { return TimeKey(row.policy.created_at()); }},
           // Since the policy's first revision ("-" for policies older than that record).
           {"AGE",
            [](const Row& row, absl::Time now) { return Age(row.policy.policy_created_at(), now); },
            [](const Row& row) { return TimeKey(row.policy.policy_created_at()); }},
           {"DESCRIPTION", [](const Row& row, absl::Time) { return row.policy.description(); }},
           {"LABELS",
            [](const Row& row, absl::Time) { return OrDash(Labels(row.policy.labels())); },
            {},
            true},
           {"OFFLINE",
            [](const Row& row, absl::Time) { return Count(row, &v1::RolloutStatus::offline); },
            [](const Row& row) { return CountKey(row, &v1::RolloutStatus::offline); }, true},
           {"SHA256",
            [](const Row& row, absl::Time) { return ShortSha(row.policy.sha256()); },
            {},
            true},
           {"AUTHOR",
            [](const Row& row, absl::Time) { return OrDash(row.policy.author()); },
            {},
            true}},
      .default_sort = "NAME"};
  return *spec;
}

const TableSpec<v1::Agent>& AgentTable() {
  using Row = v1::Agent;
  static const auto* const spec = new TableSpec<v1::Agent>{
      .kind = "agent",
      .name = [](const Row& agent) { return agent.id(); },
      .columns =
          {{"ID", [](const Row& agent, absl::Time) { return agent.id(); }},
           {"HOSTNAME", [](const Row& agent, absl::Time) { return agent.hostname(); }},
           {"POLICY", [](const Row& agent, absl::Time) { return agent.policy(); }},
           {"REVISION",
            [](const Row& agent, absl::Time) { return Revision(agent.applied_revision()); },
            [](const Row& agent) { return NumberKey(agent.applied_revision()); }},
           {"NACKED",
            [](const Row& agent, absl::Time) { return Revision(agent.nacked_revision()); },
            [](const Row& agent) { return NumberKey(agent.nacked_revision()); }},
           {"STATUS", [](const Row& agent, absl::Time) { return AgentStatusName(agent.status()); }},
           {"HEALTH", [](const Row& agent, absl::Time) { return AgentHealthName(agent.health()); }},
           {"LAST-SEEN",
            [](const Row& agent, absl::Time now) { return Age(agent.last_seen(), now); },
            [](const Row& agent) { return TimeKey(agent.last_seen()); }},
           {"AGE", [](const Row& agent, absl::Time now) { return Age(agent.enrolled_at(), now); },
            [](const Row& agent) { return TimeKey(agent.enrolled_at()); }},
           {"LABELS", [](const Row& agent, absl::Time) { return OrDash(Labels(agent.labels())); }},
           {"OS", [](const Row& agent, absl::Time) { return OrDash(agent.os()); }, {}, true},
           {"ARCH", [](const Row& agent, absl::Time) { return OrDash(agent.arch()); }, {}, true},
           {"VERSION",
            [](const Row& agent, absl::Time) { return OrDash(agent.agent_version()); },
            {},
            true},
           {"TOKEN",
            [](const Row& agent, absl::Time) { return OrDash(agent.enrollment_token_id()); },
            {},
            true},
           {"NACK-REASON",
            [](const Row& agent, absl::Time) { return OrDash(agent.nack_reason()); },
            {},
            true},
           {"MESSAGE",
            [](const Row& agent, absl::Time) { return OrDash(agent.health_message()); },
            {},
            true}},
      .default_sort = "HOSTNAME"};
  return *spec;
}

const TableSpec<v1::EnrollmentToken>& EnrollmentTokenTable() {
  using Row = v1::EnrollmentToken;
  static const auto* const spec = new TableSpec<v1::EnrollmentToken>{
      .kind = "enrollmenttoken",
      .name = [](const Row& token) { return token.id(); },
      .columns =
          {{"ID", [](const Row& token, absl::Time) { return token.id(); }},
           {"POLICY", [](const Row& token, absl::Time) { return token.policy(); }},
           {"USES", [](const Row& token, absl::Time) { return TokenUses(token); },
            [](const Row& token) { return NumberKey(token.uses()); }},
           {"EXPIRES",
            [](const Row& token, absl::Time) {
              const std::string expires = FormatTimestamp(token.expires_at());
              return expires.empty() ? "never" : expires;
            },
            [](const Row& token) {
              return NumberKey(token.has_expires_at() ? token.expires_at().seconds()
                                                      : std::numeric_limits<int64_t>::max());
            }},
           {"STATE", [](const Row& token, absl::Time) { return TokenState(token); }},
           {"CREATED-BY", [](const Row& token, absl::Time) { return OrDash(token.created_by()); }},
           {"AGE", [](const Row& token, absl::Time now) { return Age(token.created_at(), now); },
            [](const Row& token) { return TimeKey(token.created_at()); }},
           {"DESCRIPTION", [](const Row& token, absl::Time) { return token.description(); }}},
      .default_sort = "AGE"};
  return *spec;
}

const TableSpec<v1::AdminToken>& AdminTokenTable() {
  using Row = v1::AdminToken;
  static const auto* const spec = new TableSpec<v1::AdminToken>{
      .kind = "admintoken",
      .name = [](const Row& token) { return token.id(); },
      .columns =
          {{"ID", [](const Row& token, absl::Time) { return token.id(); }},
           {"ROLE", [](const Row& token, absl::Time) { return RoleName(token.role()); },
            [](const Row& token) { return NumberKey(token.role()); }},
           {"CREATED-BY", [](const Row& token, absl::Time) { return OrDash(token.created_by()); }},
           {"AGE", [](const Row& token, absl::Time now) { return Age(token.created_at(), now); },
            [](const Row& token) { return TimeKey(token.created_at()); }},
           {"DESCRIPTION", [](const Row& token, absl::Time) { return token.description(); }}},
      .default_sort = "AGE"};
  return *spec;
}

namespace {

int64_t CountOf(const v1::Action& action, int64_t (v1::ActionCounts::*count)() const) {
  return (action.counts().*count)();
}

// A count column of the actions table.
Column<v1::Action> ActionCount(std::string header, int64_t (v1::ActionCounts::*count)() const,
                               bool wide = false) {
  return {std::move(header),
          [count](const v1::Action& action, absl::Time) {
            return WithThousands(CountOf(action, count));
          },
          [count](const v1::Action& action) { return NumberKey(CountOf(action, count)); }, wide};
}

std::string ActionCreator(const v1::Action& action) {
  const v1::Creator& creator = action.created_by();
  if (creator.token_id().empty()) return "-";
  if (creator.description().empty()) return creator.token_id();
  return absl::StrCat(creator.token_id(), " (", creator.description(), ")");
}

absl::Duration FromProto(const google::protobuf::Duration& duration) {
  return absl::Seconds(duration.seconds()) + absl::Nanoseconds(duration.nanos());
}

std::string Rollout(const v1::Action& action) {
  const absl::Duration rollout = FromProto(action.rollout_duration());
  return rollout <= absl::ZeroDuration() ? "-" : HumanDuration(rollout);
}

// "selector env=prod, policy linux-servers, agents a1b2c3d4e5f6, 0f0e0d0c0b0a": the criteria as
// given (an agent must match each).
std::string TargetsText(const v1::Targets& targets) {
  std::vector<std::string> parts;
  if (!targets.selector().empty()) parts.push_back(absl::StrCat("selector ", targets.selector()));
  if (!targets.policy().empty()) parts.push_back(absl::StrCat("policy ", targets.policy()));
  if (!targets.agent_ids().empty()) {
    parts.push_back(absl::StrCat(targets.agent_ids_size() == 1 ? "agent " : "agents ",
                                 absl::StrJoin(targets.agent_ids(), ", ")));
  }
  return parts.empty() ? "-" : absl::StrJoin(parts, "; ");
}

}  // namespace

const TableSpec<v1::Action>& ActionTable() {
  using Row = v1::Action;
  using Counts = v1::ActionCounts;
  static const auto* const spec = new TableSpec<v1::Action>{
      .kind = "action",
      .name = [](const Row& action) { return action.id(); },
      .columns = {{"ID", [](const Row& action, absl::Time) { return action.id(); }},
                  {"TYPE", [](const Row& action, absl::Time) { return action.type(); }},
                  {"STATE", [](const Row& action, absl::Time) { return ActionStateOf(action); },
                   [](const Row& action) { return SortKey{.text = ActionStateOf(action)}; }},
                  ActionCount("TARGETS", &Counts::targets),
                  ActionCount("SUCCEEDED", &Counts::succeeded),
                  ActionCount("FAILED", &Counts::failed),
                  ActionCount("PENDING", &Counts::pending),
                  ActionCount("RUNNING", &Counts::running),
                  {"AGE",
                   [](const Row& action, absl::Time now) { return Age(action.created_at(), now); },
                   [](const Row& action) { return TimeKey(action.created_at()); }},
                  ActionCount("DELIVERED", &Counts::delivered, true),
                  ActionCount("REJECTED", &Counts::rejected, true),
                  ActionCount("EXPIRED", &Counts::expired, true),
                  ActionCount("CANCELLED", &Counts::cancelled, true),
                  {"EXPIRES",
                   [](const Row& action, absl::Time) {
                     return OrDash(FormatTimestamp(action.expires_at()));
                   },
                   [](const Row& action) { return TimeKey(action.expires_at()); }, true},
                  {"ROLLOUT", [](const Row& action, absl::Time) { return Rollout(action); },
                   [](const Row& action) {
                     return NumberKey(absl::ToInt64Seconds(FromProto(action.rollout_duration())));
                   },
                   true},
                  {"CREATED-BY",
                   [](const Row& action, absl::Time) { return ActionCreator(action); },
                   {},
                   true}},
      .default_sort = "AGE"};
  return *spec;
}

void WritePolicyTable(const Items<v1::Policy>& policies, std::ostream& out) {
  std::vector<PolicyRow> rows;
  for (const v1::Policy& policy : policies) rows.push_back({policy, std::nullopt});
  PrintRows(PolicyTable(), rows, {}, absl::Now(), out);
}

void WriteEnrollmentTokenTable(const Items<v1::EnrollmentToken>& tokens, std::ostream& out) {
  PrintRows(EnrollmentTokenTable(), Rows(tokens), {}, absl::Now(), out);
}

void WriteAgentTable(const Items<v1::Agent>& agents, std::ostream& out) {
  PrintRows(AgentTable(), Rows(agents), {}, absl::Now(), out);
}

void WriteAdminTokenTable(const Items<v1::AdminToken>& tokens, std::ostream& out) {
  PrintRows(AdminTokenTable(), Rows(tokens), {}, absl::Now(), out);
}

void WriteActionTable(const Items<v1::Action>& actions, std::ostream& out) {
  PrintRows(ActionTable(), Rows(actions), {}, absl::Now(), out);
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

void DescribePolicy(const PolicyDetail& detail, absl::Time now, std::ostream& out) {
  const v1::Policy& policy = detail.policy;
  const v1::RolloutStatus& rollout = detail.rollout;
  const std::string created = FormatTimestamp(policy.created_at());
  WriteKeyValueTable(
      {{"Name", policy.name()},
       {"Description", OrDash(policy.description())},
       {"Revision",
        absl::StrCat(policy.revision(),
                     rollout.latest_revision() == policy.revision()
                         ? " (latest)"
                         : absl::StrCat(" (latest is ", rollout.latest_revision(), ")"))},
       {"SHA256", OrDash(policy.sha256())},
       {"Created", created.empty()
                       ? "-"
                       : absl::StrCat(created, " (", Age(policy.created_at(), now), " ago)")},
       {"Author", OrDash(policy.author())},
       {"Store Revision", absl::StrCat(policy.store_revision())},
       {"Rollback Of", Revision(policy.rolled_back_from())},
       {"Agents", absl::StrCat(WithThousands(rollout.agents()), " assigned, ",
                               WithThousands(rollout.offline()), " offline")},
       {"Rollout",
        absl::StrCat("revision ", rollout.revision(), ": ", WithThousands(rollout.acked()),
                     " acked, ", WithThousands(rollout.nacked()), " nacked, ",
                     WithThousands(rollout.pending()), " pending, ",
                     WithThousands(rollout.pending_offline()), " pending offline",
                     rollout.complete() ? " (complete)" : "")}},
      out);
  const nlohmann::ordered_json spec = PolicyToJson(policy)["spec"];
  out << "Spec:\n  "
      << absl::StrReplaceAll(
             spec.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace),
             {{"\n", "\n  "}})
      << "\n";

  out << "Revisions (newest " << detail.revisions.size() << "):\n";
  TableWriter revisions({"REVISION", "SHA256", "AGE", "AUTHOR", "ROLLBACK-OF", "DESCRIPTION"});
  for (const v1::Policy& revision : detail.revisions) {
    revisions.AddRow({absl::StrCat(revision.revision()), ShortSha(revision.sha256()),
                      Age(revision.created_at(), now), OrDash(revision.author()),
                      Revision(revision.rolled_back_from()), revision.description()});
  }
  Indented(revisions, out);

  out << "Enrollment Tokens:";
  if (detail.tokens.empty()) {
    out << "  <none>\n";
    return;
  }
  out << "\n";
  TableWriter tokens({"ID", "USES", "EXPIRES", "STATE", "AGE", "DESCRIPTION"});
  for (const v1::EnrollmentToken& token : detail.tokens) {
    const std::string expires = FormatTimestamp(token.expires_at());
    tokens.AddRow({token.id(), TokenUses(token), expires.empty() ? "never" : expires,
                   TokenState(token), Age(token.created_at(), now), token.description()});
  }
  Indented(tokens, out);
}

void DescribeAction(const ActionDetail& detail, absl::Time now, std::ostream& out) {
  const v1::Action& action = detail.action;
  const v1::ActionCounts& counts = action.counts();
  const auto when = [now](const google::protobuf::Timestamp& time) {
    const std::string text = FormatTimestamp(time);
    if (text.empty()) return std::string("-");
    const absl::Time at = absl::FromUnixSeconds(time.seconds());
    return at <= now ? absl::StrCat(text, " (", HumanDuration(now - at), " ago)")
                     : absl::StrCat(text, " (in ", HumanDuration(at - now), ")");
  };
  WriteKeyValueTable(
      {{"ID", action.id()},
       {"Type", action.type()},
       {"Arguments", action.arguments_json().empty() ? "{}" : action.arguments_json()},
       {"Targets", TargetsText(action.targets())},
       {"State", ActionStateOf(action)},
       {"Created", when(action.created_at())},
       {"Created By", ActionCreator(action)},
       {"Expires", when(action.expires_at())},
       {"Rollout",
        Rollout(action) == "-" ? "-" : absl::StrCat("start times spread over ", Rollout(action))},
       {"Cancelled", when(action.cancelled_at())},
       {"Counts",
        absl::StrCat(
            WithThousands(counts.targets()), " targets: ", WithThousands(counts.succeeded()),
            " succeeded, ", WithThousands(counts.failed()), " failed, ",
            WithThousands(counts.rejected()), " rejected, ", WithThousands(counts.expired()),
            " expired, ", WithThousands(counts.cancelled()), " cancelled, ",
            WithThousands(counts.running()), " running, ", WithThousands(counts.delivered()),
            " delivered, ", WithThousands(counts.pending()), " pending")}},
      out);
  out << "Targets Not Succeeded:";
  if (detail.targets.empty()) {
    out << "  <none>\n";
    return;
  }
  out << "\n";
  TableWriter targets({"AGENT", "HOSTNAME", "STATE", "PROGRESS", "UPDATED", "MESSAGE"});
  for (const v1::ActionTarget& target : detail.targets) {
    targets.AddRow({target.agent_id(), OrDash(target.hostname()),
                    ActionTargetStateName(target.state()),
                    absl::StrCat(target.progress_percent(), "%"), Age(target.updated_at(), now),
                    OrDash(target.message())});
  }
  Indented(targets, out);
  if (detail.more_targets > 0) {
    out << "  ... and " << WithThousands(detail.more_targets)
        << " more (--limit 0 lists them all)\n";
  }
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
       {"Labels", OrDash(Labels(agent.labels()))},
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
