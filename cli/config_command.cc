#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/config_store.h"
#include "cli/connection.h"
#include "cli/environment.h"
#include "cli/table_writer.h"

namespace fleet::cli {
namespace {

// Loads the config, lets `change` edit it (or fail), and saves it.
absl::Status EditConfig(const std::function<absl::Status(Config&)>& change) {
  absl::StatusOr<std::string> path = ConfigPath(Environment::FromProcess());
  if (!path.ok()) return path.status();
  absl::StatusOr<Config> config = LoadConfig(*path);
  if (!config.ok()) return config.status();
  if (absl::Status changed = change(*config); !changed.ok()) return changed;
  return SaveConfig(*path, *config);
}

absl::Status GetContexts(OutputFormat format, std::ostream& out) {
  absl::StatusOr<std::string> path = ConfigPath(Environment::FromProcess());
  if (!path.ok()) return path.status();
  absl::StatusOr<Config> config = LoadConfig(*path);
  if (!config.ok()) return config.status();
  if (format != OutputFormat::kTable) {
    nlohmann::ordered_json contexts = nlohmann::ordered_json::array();
    for (const Context& context : config->contexts) {
      contexts.push_back({{"name", context.name},
                          {"address", context.address},
                          {"tokenFile", context.token_file},
                          {"certificateAuthority", context.tls.certificate_authority},
                          {"clientCertificate", context.tls.client_certificate},
                          {"clientKey", context.tls.client_key},
                          {"tlsServerName", context.tls.server_name},
                          {"insecureSkipTlsVerify", context.tls.insecure_skip_verify}});
    }
    WriteStructured({{"currentContext", config->current_context}, {"contexts", contexts}}, format,
                    out);
    return absl::OkStatus();
  }
  TableWriter table({"CURRENT", "NAME", "ADDRESS", "TOKEN-FILE", "TLS"});
  for (const Context& context : config->contexts) {
    const char* tls = !context.tls.enabled()             ? "no"
                      : context.tls.insecure_skip_verify ? "unverified"
                                                         : "yes";
    table.AddRow({context.name == config->current_context ? "*" : "", context.name, context.address,
                  context.token_file, tls});
  }
  table.Write(out);
  return absl::OkStatus();
}

void AddUseContext(CLI::App& config, CommandAction* action) {
  auto name = std::make_shared<std::string>();
  CLI::App* command = AddCommandWithArg(config, "use-context", "Make a context the current one.",
                                        "NAME", "The context's name.", name.get());
  OnLocalCommand(command, action, [name](std::ostream& out) {
    absl::Status edited = EditConfig([&name](Config& config) {
      if (config.Find(*name) == nullptr) {
        return absl::NotFoundError(absl::StrCat("context \"", *name, "\" is not in the config"));
      }
      config.current_context = *name;
      return absl::OkStatus();
    });
    if (edited.ok()) out << "Switched to context \"" << *name << "\".\n";
    return edited;
  });
}

void AddSetContext(CLI::App& config, const GlobalOptions& globals, CommandAction* action) {
  auto name = std::make_shared<std::string>();
  CLI::App* command = AddCommandWithArg(
      config, "set-context",
      "Create or change a context: --address (required for a new one), --token-file and the TLS "
      "flags (--certificate-authority, --client-certificate, --client-key, --tls-server-name, "
      "--insecure-skip-tls-verify; files stored as absolute paths). Only the flags given change. "
      "The first context becomes the current one.",
      "NAME", "The context's name.", name.get());
  OnLocalCommand(command, action, [name, &globals](std::ostream& out) {
    bool created = false;
    absl::Status edited = EditConfig([&](Config& config) {
      const Context* existing = config.Find(*name);
      created = existing == nullptr;
      Context context = created ? Context{.name = *name} : *existing;
      if (!globals.address.empty()) context.address = globals.address;
      if (!globals.token_file.empty()) context.token_file = AbsolutePath(globals.token_file);
      const TlsSettings tls = AbsoluteTlsPaths(globals.tls);
      for (const auto& [given, kept] :
           {std::pair(&tls.certificate_authority, &context.tls.certificate_authority),
            std::pair(&tls.client_certificate, &context.tls.client_certificate),
            std::pair(&tls.client_key, &context.tls.client_key),
            std::pair(&tls.server_name, &context.tls.server_name)}) {
        if (!given->empty()) *kept = *given;
      }
      if (tls.insecure_skip_verify) context.tls.insecure_skip_verify = true;
      if (context.address.empty()) {
        return absl::InvalidArgumentError("a new context needs --address HOST:PORT");
      }
      config.Upsert(context);
      if (config.current_context.empty()) config.current_context = *name;
      return absl::OkStatus();
    });
    if (edited.ok())
      out << "Context \"" << *name << "\" " << (created ? "created" : "modified") << ".\n";
    return edited;
  });
}

}  // namespace

void AddConfigCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  CLI::App* config = AddGroup(
      app, "config",
      "Show and change the contexts in $XDG_CONFIG_HOME/fleetctl/config.yaml (default "
      "~/.config/fleetctl/config.yaml): named pairs of a fleetd address and a token file.");
  CLI::App* get_contexts =
      config->add_subcommand("get-contexts", "List the contexts; * marks the current one.");
  OnLocalCommand(get_contexts, action,
                 [&globals](std::ostream& out) { return GetContexts(globals.output, out); });
  AddUseContext(*config, action);
  AddSetContext(*config, globals, action);
}

}  // namespace fleet::cli
