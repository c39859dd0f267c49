#include "cli/config_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "yaml-cpp/yaml.h"

namespace fleet::cli {
namespace {

absl::Status SystemError(const std::string& what, const std::string& path) {
  return absl::UnknownError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// mkdir -p with mode 0700 for the directories it makes.
absl::Status MakeParentDirectories(const std::string& path) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    const std::string dir = path.substr(0, slash);
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return SystemError("cannot create directory", dir);
    }
  }
  return absl::OkStatus();
}

std::string ToYaml(const Config& config) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "current-context" << YAML::Value << config.current_context
      << YAML::Key << "contexts" << YAML::Value << YAML::BeginSeq;
  for (const Context& context : config.contexts) {
    out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << context.name << YAML::Key
        << "address" << YAML::Value << context.address << YAML::Key << "token-file" << YAML::Value
        << context.token_file;
    // Only what is set, so that a plaintext context reads as before.
    const TlsSettings& tls = context.tls;
    for (const auto& [key, value] : {std::pair("certificate-authority", &tls.certificate_authority),
                                     std::pair("client-certificate", &tls.client_certificate),
                                     std::pair("client-key", &tls.client_key),
                                     std::pair("tls-server-name", &tls.server_name)}) {
      if (!value->empty()) out << YAML::Key << key << YAML::Value << *value;
    }
    if (tls.insecure_skip_verify) {
      out << YAML::Key << "insecure-skip-tls-verify" << YAML::Value << true;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  return absl::StrCat(out.c_str(), "\n");
}

std::string StringField(const YAML::Node& map, const char* key) {
  const YAML::Node value = map[key];
  // A missing key yields an undefined node, which throws if asked anything else.
  return value.IsDefined() && value.IsScalar() ? value.Scalar() : "";
}

Config FromYaml(const YAML::Node& root) {
  Config config;
  if (!root.IsMap()) return config;
  config.current_context = StringField(root, "current-context");
  for (const YAML::Node& item : root["contexts"]) {
    if (!item.IsMap()) continue;
    config.contexts.push_back(Context{
        .name = StringField(item, "name"),
        .address = StringField(item, "address"),
        .token_file = StringField(item, "token-file"),
        .tls = {.certificate_authority = StringField(item, "certificate-authority"),
                .client_certificate = StringField(item, "client-certificate"),
                .client_key = StringField(item, "client-key"),
                .server_name = StringField(item, "tls-server-name"),
                .insecure_skip_verify = StringField(item, "insecure-skip-tls-verify") == "true"}});
  }
  return config;
}

}  // namespace

const Context* Config::Find(const std::string& name) const {
  for (const Context& context : contexts) {
    if (context.name == name) return &context;
  }
  return nullptr;
}

void Config::Upsert(const Context& context) {
  for (Context& existing : contexts) {
    if (existing.name == context.name) {
      existing = context;
      return;
    }
  }
  contexts.push_back(context);
}

absl::StatusOr<std::string> ConfigPath(const Environment& env) {
  if (!env.xdg_config_home.empty()) return env.xdg_config_home + "/fleetctl/config.yaml";
  if (!env.home.empty()) return env.home + "/.config/fleetctl/config.yaml";
  return absl::FailedPreconditionError(
      "cannot locate the fleetctl config: neither XDG_CONFIG_HOME nor HOME is set");
}

absl::StatusOr<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return Config();
    return SystemError("cannot read config", path);
  }
  std::stringstream text;
  text << in.rdbuf();
  try {
    return FromYaml(YAML::Load(text.str()));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("config ", path, ":", e.mark.line + 1, ": ", e.msg));
  }
}

absl::Status SaveConfig(const std::string& path, const Config& config) {
  if (absl::Status made = MakeParentDirectories(path); !made.ok()) return made;
  std::string temp = path + ".XXXXXX";
  const int fd = mkstemp(temp.data());
  if (fd < 0) return SystemError("cannot write config", path);
  const std::string text = ToYaml(config);
  const bool written = fchmod(fd, 0600) == 0 &&
                       write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                       fsync(fd) == 0;
  const int write_errno = errno;
  close(fd);
  if (!written || rename(temp.c_str(), path.c_str()) != 0) {
    if (!written) errno = write_errno;
    absl::Status error = SystemError("cannot write config", path);
    unlink(temp.c_str());
    return error;
  }
  return absl::OkStatus();
}

}  // namespace fleet::cli
