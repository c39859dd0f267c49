#include "cli/completion_source.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cli/action_outcome.h"
#include "cli/admin_client.h"
#include "cli/config_store.h"
#include "cli/connection.h"
#include "cli/environment.h"
#include "cli/resource_json.h"

namespace fleet::cli {
namespace {

class FleetdSource : public DynamicSource {
 public:
  std::vector<Candidate> List(Dynamic kind, const GlobalOptions& globals) override {
    const Environment env = Environment::FromProcess();
    absl::StatusOr<std::string> path = ConfigPath(env);
    absl::StatusOr<Config> config = path.ok() ? LoadConfig(*path) : Config();
    if (!config.ok()) return {};
    if (kind == Dynamic::kContexts) {
      std::vector<Candidate> contexts;
      for (const Context& context : config->contexts) {
        contexts.push_back({context.name, context.address});
      }
      return contexts;
    }
    absl::StatusOr<Connection> connection = ResolveConnection(globals, env, *config);
    if (!connection.ok()) return {};
    std::string token;
    if (!connection->token_file.empty()) {
      absl::StatusOr<std::string> read = ReadToken(*connection);
      if (!read.ok()) return {};
      token = *std::move(read);
    }
    absl::StatusOr<std::unique_ptr<AdminClient>> client = AdminClient::Create(
        connection->address, token, ClientTls(connection->tls), kCompletionRpcTimeout);
    if (!client.ok()) return {};
    absl::StatusOr<std::vector<Candidate>> listed = ListFrom(**client, kind);
    return listed.ok() ? *std::move(listed) : std::vector<Candidate>();
  }

 private:
  static absl::StatusOr<std::vector<Candidate>> ListFrom(AdminClient& client, Dynamic kind) {
    std::vector<Candidate> found;
    switch (kind) {
      case Dynamic::kPolicies: {
        absl::StatusOr<v1::ListPoliciesResponse> listed =
            client.ListPolicies(v1::ListPoliciesRequest());
        if (!listed.ok()) return listed.status();
        for (const v1::Policy& policy : listed->policies()) {
          found.push_back({policy.name(), FirstSentence(policy.description())});
        }
        break;
      }
      case Dynamic::kAgents: {
        absl::StatusOr<v1::ListAgentsResponse> listed = client.ListAgents(v1::ListAgentsRequest());
        if (!listed.ok()) return listed.status();
        for (const v1::Agent& agent : listed->agents()) {
          found.push_back({agent.id(), agent.hostname()});
        }
        break;
      }
      case Dynamic::kEnrollmentTokens: {
        absl::StatusOr<v1::ListEnrollmentTokensResponse> listed =
            client.ListEnrollmentTokens(v1::ListEnrollmentTokensRequest());
        if (!listed.ok()) return listed.status();
        for (const v1::EnrollmentToken& token : listed->tokens()) {
          found.push_back({token.id(), token.policy()});
        }
        break;
      }
      case Dynamic::kAdminTokens: {
        absl::StatusOr<v1::ListAdminTokensResponse> listed = client.ListAdminTokens();
        if (!listed.ok()) return listed.status();
        for (const v1::AdminToken& token : listed->tokens()) {
          found.push_back({token.id(), RoleName(token.role())});
        }
        break;
      }
      case Dynamic::kActions: {
        absl::StatusOr<v1::ListActionsResponse> listed =
            client.ListActions(v1::ListActionsRequest());
        if (!listed.ok()) return listed.status();
        for (const v1::Action& action : listed->actions()) {
          found.push_back({action.id(), absl::StrCat(action.type(), ", ", ActionStateOf(action))});
        }
        break;
      }
      case Dynamic::kContexts:
      case Dynamic::kNone:
        break;
    }
    return found;
  }
};

}  // namespace

std::unique_ptr<DynamicSource> NewFleetdSource() { return std::make_unique<FleetdSource>(); }

}  // namespace fleet::cli
