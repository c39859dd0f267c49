#include <memory>
#include <string>
#include <utility>

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

absl::StatusOr<Config> ReadConfig() {
  absl::StatusOr<std::string> path = ConfigPath(Environment::FromProcess());
  if (!path.ok()) return path.status();
  return LoadConfig(*path);
}

// The config as its file spells it, keys and all.
nlohmann::ordered_json ConfigToJson(const Config& config) {
  nlohmann::ordered_json contexts = nlohmann::ordered_json::array();
  for (const Context& context : config.contexts) {
    nlohmann::ordered_json item = {{"name", context.name}, {"address", context.address}};
    const TlsSettings& tls = context.tls;
    // What a context does not set is left out, as its file leaves it out.
    for (const auto& [key, value] : {std::pair("token-file", &context.token_file),
                                     std::pair("certificate-authority", &tls.certificate_authority),
                                     std::pair("client-certificate", &tls.client_certificate),
                                     std::pair("client-key", &tls.client_key),
                                     std::pair("tls-server-name", &tls.server_name)}) {
      if (!value->empty()) item[key] = *value;
    }
    if (tls.insecure_skip_verify) item["insecure-skip-tls-verify"] = true;
    contexts.push_back(std::move(item));
  }
  return {{"current-context", config.current_context}, {"contexts", contexts}};
}

absl::Status View(OutputFormat format, std::ostream& out) {
  absl::StatusOr<Config> config = ReadConfig();
  if (!config.ok()) return config.status();
  // YAML unless JSON is asked for, as the file is YAML (kubectl config view's default too).
  WriteStructured(ConfigToJson(*config),
                  format == OutputFormat::kJson ? OutputFormat::kJson : OutputFormat::kYaml, out);
  return absl::OkStatus();
}

absl::Status CurrentContext(std::ostream& out) {
  absl::StatusOr<Config> config = ReadConfig();
  if (!config.ok()) return config.status();
  if (config->current_context.empty()) {
    return absl::UnknownError(
        "no current context is set; see fleetctl config use-context NAME or fleetctl login");
  }
  out << config->current_context << "\n";
  return absl::OkStatus();
}

absl::Status GetContexts(OutputFormat format, std::ostream& out) {
  absl::StatusOr<Config> config = ReadConfig();
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
  SetExamples(command, {"fleetctl config use-context prod",
                        "# Which contexts there are\nfleetctl config get-contexts"});
  OnLocalCommand(command, action, [name](std::ostream& out) {
    absl::Status edited = EditConfig([&name](Config& config) {
      if (config.Find(*name) == nullptr) return UnknownContextError(*name);
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
  SetExamples(command, {"fleetctl config set-context lab --address 10.0.0.5:8221 --token-file "
                        "lab.token",
                        "# Trust a private CA for an existing context\n"
                        "fleetctl config set-context prod --certificate-authority ca.pem"});
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

void AddDeleteContext(CLI::App& config, CommandAction* action) {
  auto name = std::make_shared<std::string>();
  CLI::App* command = AddCommandWithArg(
      config, "delete-context",
      "Remove a context from the config (its token file stays where it is). Deleting the "
      "current context leaves none current.",
      "NAME", "The context's name.", name.get());
  SetExamples(command, {"fleetctl config delete-context lab",
                        "# Move away first when it is the current one\nfleetctl config use-context "
                        "prod && fleetctl config delete-context lab"});
  OnLocalCommand(command, action, [name](std::ostream& out) {
    bool was_current = false;
    absl::Status edited = EditConfig([&](Config& config) {
      if (config.Find(*name) == nullptr) return UnknownContextError(*name);
      std::erase_if(config.contexts, [&](const Context& context) { return context.name == *name; });
      was_current = config.current_context == *name;
      if (was_current) config.current_context.clear();
      return absl::OkStatus();
    });
    if (!edited.ok()) return edited;
    out << "Deleted context \"" << *name << "\"."
        << (was_current ? " It was the current context; pick another with fleetctl config "
                          "use-context NAME."
                        : "")
        << "\n";
    return absl::OkStatus();
  });
}

void AddRenameContext(CLI::App& config, CommandAction* action) {
  auto names = std::make_shared<std::pair<std::string, std::string>>();
  CLI::App* command = config.add_subcommand(
      "rename-context", "Rename a context; the current context stays current under its new name.");
  command->add_option("OLD", names->first, "The context's name.")->required();
  command->add_option("NEW", names->second, "Its new name.")->required();
  SetExamples(command, {"fleetctl config rename-context default prod",
                        "fleetctl config rename-context lab staging"});
  OnLocalCommand(command, action, [names](std::ostream& out) {
    const std::string& old_name = names->first;
    const std::string& new_name = names->second;
    absl::Status edited = EditConfig([&](Config& config) {
      const Context* found = config.Find(old_name);
      if (found == nullptr) return UnknownContextError(old_name);
      if (old_name == new_name) return absl::OkStatus();
      if (config.Find(new_name) != nullptr) {
        return absl::AlreadyExistsError(
            absl::StrCat("context \"", new_name, "\" exists already; delete or rename it first"));
      }
      Context renamed = *found;
      renamed.name = new_name;
      std::erase_if(config.contexts,
                    [&](const Context& context) { return context.name == old_name; });
      config.Upsert(renamed);
      if (config.current_context == old_name) config.current_context = new_name;
      return absl::OkStatus();
    });
    if (edited.ok()) out << "Context \"" << old_name << "\" renamed to \"" << new_name << "\".\n";
    return edited;
  });
}

}  // namespace

void AddConfigCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  CLI::App* config = AddGroup(
      app, "config",
      "Show and change the contexts in $XDG_CONFIG_HOME/fleetctl/config.yaml (default "
      "~/.config/fleetctl/config.yaml): named pairs of a fleetd address and a token file.");
  SetExamples(config, {"fleetctl config view", "fleetctl config get-contexts",
                       "fleetctl config use-context prod"});
  CLI::App* view = config->add_subcommand(
      "view",
      "Print the config file: YAML, or JSON with -o json. It holds the paths of token and key "
      "files, never a token or a key, so there is nothing to redact.");
  SetExamples(view, {"fleetctl config view", "fleetctl config view -o json"});
  OnLocalCommand(view, action, [&globals](std::ostream& out) { return View(globals.output, out); });
  CLI::App* current =
      config->add_subcommand("current-context", "Print the current context's name (exit 1: none).");
  SetExamples(current,
              {"fleetctl config current-context",
               "# In a prompt or a script\necho \"fleet: $(fleetctl config current-context)\""});
  OnLocalCommand(current, action, [](std::ostream& out) { return CurrentContext(out); });
  CLI::App* get_contexts =
      config->add_subcommand("get-contexts", "List the contexts; * marks the current one.");
  SetExamples(get_contexts,
              {"fleetctl config get-contexts", "fleetctl config get-contexts -o json"});
  OnLocalCommand(get_contexts, action,
                 [&globals](std::ostream& out) { return GetContexts(globals.output, out); });
  AddUseContext(*config, action);
  AddSetContext(*config, globals, action);
  AddDeleteContext(*config, action);
  AddRenameContext(*config, action);
}

}  // namespace fleet::cli
