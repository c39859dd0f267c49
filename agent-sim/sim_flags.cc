#include "agent-sim/sim_flags.h"

#include <cerrno>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace fleet::agent {

void AddSimFlags(CLI::App& app, SimFlags& flags) {
  app.add_option(
         "--server", flags.server,
         "fleetd's agent address, HOST:PORT, or several replicas' as HOST:PORT,HOST:PORT,...: "
         "agent i connects to server i % N first and moves on to the next when its "
         "stream fails for want of its server")
      ->required();
  app.add_option("--enroll-token-file", flags.enroll_token_file,
                 "File holding the enrollment token (fenr_...) that agents without a saved "
                 "identity enroll with")
      ->required();
  app.add_option("--agents", flags.agents, "How many agents to simulate (at least 1)")->required();
  app.add_option("--connections", flags.connections,
                 "How many gRPC connections carry the agents' streams; agent i uses connection "
                 "i % M (default: one per agent)");
  app.add_option("--state-dir", flags.state_dir,
                 "Where each agent's identity is kept (sim-<i>.json), so that another run "
                 "resumes as the same agents without enrolling again")
      ->capture_default_str();
  app.add_option("--hostname-prefix", flags.hostname_prefix,
                 "Agent i enrolls with the hostname PREFIX<i>; give each agent-sim run against one "
                 "fleetd its own, so that its agents can be told apart")
      ->capture_default_str();
  app.add_option("--label", flags.labels,
                 "KEY=VALUE, repeatable: a label every agent enrolls with, besides sim=true (an "
                 "agent resumed from --state-dir keeps the labels it has)")
      ->type_name("KEY=VALUE");
  app.add_option("--duration", flags.duration,
                 "How long to run, e.g. 30s, 5m, 1h (default: until SIGINT or SIGTERM)");
  app.add_option("--nack-rate", flags.nack_rate,
                 "Probability (0 to 1) that an agent refuses an update and nacks it; each agent "
                 "draws from its own seeded generator, so runs repeat")
      ->capture_default_str();
  app.add_option("--seed", flags.seed, "Seed of the agents' random choices")->capture_default_str();
  app.add_option("--report", flags.report,
                 "Write the final JSON report to this file (default: stdout)");
  app.add_option("--ca", flags.tls.ca_file,
                 "Connect over TLS, trusting fleetd's certificate if this PEM CA bundle signed it "
                 "(default: plaintext; with only --cert/--key, the system's roots)");
  app.add_option("--cert", flags.tls.cert_file,
                 "A client certificate (PEM) every channel presents, for fleetd's "
                 "--agent-client-ca; fleetd admits it only for the agent it names, so use it "
                 "with --agents 1 (see docs/tls.md). Needs --key");
  app.add_option("--key", flags.tls.key_file, "The private key (PEM) of --cert");
  app.add_option("--action-duration", flags.action_duration,
                 "How long each action runs, from ACCEPTED to its final state, e.g. 2s, 500ms, "
                 "0 (at once: answered with its final state alone unless it has progress steps "
                 "or restarts the agent)")
      ->capture_default_str();
  app.add_option("--action-progress-steps", flags.action_progress_steps,
                 "RUNNING reports with progress, spread evenly over --action-duration (0 to 100)")
      ->capture_default_str();
  app.add_option("--action-failure-rate", flags.action_failure_rate,
                 "Probability (0 to 1) that an action ends FAILED rather than SUCCEEDED")
      ->capture_default_str();
  app.add_option("--query-latency", flags.query_latency,
                 "How long each live query takes to answer, e.g. 50ms, 1s, 0")
      ->capture_default_str();
  app.add_option("--query-error-rate", flags.query_error_rate,
                 "Probability (0 to 1) that a live query is answered with an error")
      ->capture_default_str();
  app.add_option("--query-rows", flags.query_rows,
                 "Synthetic rows {\"host\": HOSTNAME, \"n\": i} in each query answer (0 to "
                 "1000000)")
      ->capture_default_str();
}

absl::StatusOr<absl::Duration> ParseDelay(const std::string& flag, const std::string& text) {
  absl::Duration delay;
  if (!absl::ParseDuration(text, &delay) || delay < absl::ZeroDuration() ||
      delay == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": \"", text, "\" is not a duration such as 0, 250ms or 2s (zero or more)"));
  }
  return delay;
}

absl::StatusOr<std::optional<absl::Duration>> ParseRunDuration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  absl::Duration duration;
  if (!absl::ParseDuration(text, &duration) || duration <= absl::ZeroDuration() ||
      duration == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--duration: \"", text, "\" is not a positive duration such as 30s or 5m"));
  }
  return duration;
}

absl::StatusOr<SimulatorOptions> SimulatorOptionsFrom(const SimFlags& flags,
                                                      std::string enroll_token) {
  SimulatorOptions options{.server = flags.server,
                           .tls = flags.tls,
                           .enroll_token = std::move(enroll_token),
                           .agents = flags.agents,
                           .connections = flags.connections,
                           .state_dir = flags.state_dir,
                           .nack_rate = flags.nack_rate,
                           .seed = flags.seed};
  options.hostname_prefix = flags.hostname_prefix;
  for (const std::string& label : flags.labels) {
    const size_t equals = label.find('=');
    if (equals == 0 || equals == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--label: \"", label, "\" is not KEY=VALUE, e.g. ring=canary"));
    }
    options.labels[label.substr(0, equals)] = label.substr(equals + 1);
  }
  absl::StatusOr<absl::Duration> action_duration =
      ParseDelay("--action-duration", flags.action_duration);
  if (!action_duration.ok()) return action_duration.status();
  absl::StatusOr<absl::Duration> query_latency = ParseDelay("--query-latency", flags.query_latency);
  if (!query_latency.ok()) return query_latency.status();
  options.behavior = {.action_duration = *action_duration,
                      .action_progress_steps = flags.action_progress_steps,
                      .action_failure_rate = flags.action_failure_rate,
                      .query_latency = *query_latency,
                      .query_error_rate = flags.query_error_rate,
                      .query_rows = flags.query_rows};
  if (absl::Status valid = ValidateOptions(options); !valid.ok()) return valid;
  return options;
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream file(path);
  if (!file) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot read token file ", path));
  }
  std::ostringstream content;
  content << file.rdbuf();
  std::string token(absl::StripAsciiWhitespace(content.str()));
  if (token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("token file ", path, " is empty"));
  }
  return token;
}

}  // namespace fleet::agent
