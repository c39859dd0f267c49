#include "server/app/config_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "yaml-cpp/yaml.h"

namespace fleet::server {
namespace {

// A file's keys are long names: "admin-addr" for --admin-addr.
std::string KeyOf(const CLI::Option& option) { return option.get_lnames().front(); }

std::vector<CLI::Option*> KeyOptions(CLI::App& app, const ConfigKeys& keys) {
  return app.get_options([&](CLI::Option* option) {
    if (option == app.get_help_ptr() || option == app.get_help_all_ptr() ||
        option == app.get_version_ptr() || option->get_lnames().empty()) {
      return false;
    }
    return std::find(keys.excluded.begin(), keys.excluded.end(), KeyOf(*option)) ==
           keys.excluded.end();
  });
}

bool IsFlag(const CLI::Option& option) { return option.get_expected_max() == 0; }
bool TakesSeveral(const CLI::Option& option) { return option.get_items_expected_max() > 1; }

// Levenshtein distance, for suggesting the key an unknown one was probably meant to be.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// " (did you mean \"admin-addr\"?)" when a key is within a few edits of `unknown`, else "".
std::string Suggestion(std::string_view unknown, const std::vector<CLI::Option*>& options) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, unknown.size() / 3) + 1;
  for (const CLI::Option* option : options) {
    const std::string key = KeyOf(*option);
    if (const size_t distance = EditDistance(unknown, key); distance < best_distance) {
      best = key;
      best_distance = distance;
    }
  }
  return best.empty() ? "" : absl::StrCat(" (did you mean \"", best, "\"?)");
}

absl::Status ErrorAt(std::string_view file_name, const YAML::Mark& mark, std::string_view what) {
  // yaml-cpp counts lines from 0; editors from 1.
  return absl::InvalidArgumentError(
      absl::StrCat(std::string(file_name), ":", mark.line + 1, ": ", std::string(what)));
}

// The strings the option gets from `value`, or an error at its line.
absl::StatusOr<std::vector<std::string>> ValuesOf(const CLI::Option& option, std::string_view key,
                                                  const YAML::Mark& key_mark,
                                                  const YAML::Node& value,
                                                  std::string_view file_name) {
  std::vector<std::string> values;
  if (value.IsScalar()) {
    values.push_back(value.Scalar());
  } else if (value.IsSequence() && TakesSeveral(option)) {
    for (const YAML::Node& item : value) {
      if (!item.IsScalar()) {
        return ErrorAt(file_name, item.Mark(),
                       absl::StrCat(std::string(key), ": each item must be one value"));
      }
      values.push_back(item.Scalar());
    }
  } else if (value.IsNull()) {
    // A missing value has no mark of its own.
    return ErrorAt(file_name, key_mark, absl::StrCat(std::string(key), ": no value"));
  } else {
    return ErrorAt(file_name, value.Mark(),
                   absl::StrCat(std::string(key), ": takes ",
                                TakesSeveral(option) ? "a list of values" : "one value", ", not a ",
                                value.IsMap() ? "map" : "list"));
  }
  return values;
}

// The option's value as it stands, in the form ApplyConfigText reads back.
YAML::Node CurrentValue(CLI::Option& option) {
  if (IsFlag(option)) return YAML::Node(option.count() > 0 && option.as<bool>());
  if (TakesSeveral(option)) {
    YAML::Node list(YAML::NodeType::Sequence);
    for (const std::string& result : option.results()) list.push_back(result);
    return list;
  }
  // The option's variable, printed as CLI11 prints defaults in --help.
  option.capture_default_str();
  return YAML::Node(option.get_default_str());
}

}  // namespace

absl::Status ApplyConfigText(CLI::App& app, std::string_view text, std::string_view file_name,
                             const ConfigKeys& keys) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return ErrorAt(file_name, e.mark, absl::StrCat("not YAML: ", e.msg));
  }
  if (root.IsNull()) return absl::OkStatus();  // an empty file (or only comments)
  if (!root.IsMap()) {
    return ErrorAt(file_name, root.Mark(),
                   "the configuration must be a map of keys such as \"admin-addr: 0.0.0.0:8221\"");
  }
  const std::vector<CLI::Option*> options = KeyOptions(app, keys);
  std::set<std::string> seen;
  for (const auto& entry : root) {
    const YAML::Node& key_node = entry.first;
    if (!key_node.IsScalar()) return ErrorAt(file_name, key_node.Mark(), "keys must be names");
    const std::string key = key_node.Scalar();
    auto found = std::find_if(options.begin(), options.end(),
                              [&](const CLI::Option* option) { return KeyOf(*option) == key; });
    if (found == options.end()) {
      return ErrorAt(file_name, key_node.Mark(),
                     absl::StrCat("unknown key ", QuoteForError(key), Suggestion(key, options)));
    }
    if (!seen.insert(key).second) {
      return ErrorAt(file_name, key_node.Mark(), absl::StrCat(key, " is given twice"));
    }
    CLI::Option& option = **found;
    // The command line overrides the file.
    if (option.count() > 0) continue;
    absl::StatusOr<std::vector<std::string>> values =
        ValuesOf(option, key, key_node.Mark(), entry.second, file_name);
    if (!values.ok()) return values.status();
    // An empty value for an option still at its empty default (an unset file path, as
    // EffectiveConfigYaml prints it) changes nothing, and must not meet checks such as "the file
    // exists".
    if (*values == std::vector<std::string>{""} && !IsFlag(option) && !TakesSeveral(option) &&
        option.capture_default_str()->get_default_str().empty()) {
      continue;
    }
    try {
      for (std::string& value : *values) option.add_result(std::move(value));
      option.run_callback();
    } catch (const CLI::Error& e) {
      return ErrorAt(file_name, entry.second.Mark(), absl::StrCat(key, ": ", e.what()));
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyConfigFile(CLI::App& app, const std::string& path, const ConfigKeys& keys) {
  std::ifstream in(path);
  if (!in) {
    const int error_number = errno;
    const std::string what = absl::StrCat("cannot read the configuration file ", path, ": ",
                                          std::strerror(error_number));
    return error_number == EACCES ? absl::PermissionDeniedError(what) : absl::NotFoundError(what);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return ApplyConfigText(app, text.str(), path, keys);
}

std::string EffectiveConfigYaml(CLI::App& app, const ConfigKeys& keys) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  for (CLI::Option* option : KeyOptions(app, keys)) {
    out << YAML::Key << KeyOf(*option) << YAML::Value << CurrentValue(*option);
  }
  out << YAML::EndMap;
  return absl::StrCat(out.c_str(), "\n");
}

}  // namespace fleet::server
