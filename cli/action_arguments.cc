#include "cli/action_arguments.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/exit_codes.h"
#include "cli/json_documents.h"
#include "common/utf8.h"
#include "nlohmann/json.hpp"

namespace fleet::cli {

absl::StatusOr<std::string> BuildActionArguments(const std::vector<std::string>& args,
                                                 const std::string& args_json) {
  nlohmann::json merged = nlohmann::json::object();
  if (!absl::StripAsciiWhitespace(args_json).empty()) {
    if (!absl::StartsWith(absl::StripLeadingAsciiWhitespace(args_json), "{")) {
      return UsageError(
          "invalid --args-json: want a JSON object, e.g. --args-json '{\"version\": \"1.2.3\"}'");
    }
    absl::StatusOr<std::vector<SourceDocument>> read = ReadJsonDocuments(args_json);
    if (!read.ok()) {
      return UsageError(absl::StrCat("invalid --args-json: line ", read.status().message()));
    }
    if (read->size() != 1 || !(*read)[0].value.is_object()) {
      return UsageError("invalid --args-json: want one JSON object");
    }
    merged = std::move((*read)[0].value);
  }
  const bool from_json = !merged.empty();
  nlohmann::json from_args = nlohmann::json::object();
  for (const std::string& arg : args) {
    const size_t equals = arg.find('=');
    if (equals == std::string::npos || equals == 0) {
      return UsageError(absl::StrCat("invalid --arg \"", arg,
                                     "\": want KEY=VALUE, e.g. --arg version=1.2.3 (--args-json "
                                     "for values that are not strings)"));
    }
    if (!IsValidUtf8(arg)) {
      return UsageError("invalid --arg: not UTF-8 text; --args-json takes \\u escapes");
    }
    const std::string key = arg.substr(0, equals);
    if (from_args.contains(key)) {
      return UsageError(absl::StrCat("--arg ", key, " given twice; give each key once"));
    }
    if (from_json && merged.contains(key)) {
      return UsageError(absl::StrCat("--arg ", key, " and --args-json both set \"", key,
                                     "\"; give it in one of them"));
    }
    from_args[key] = arg.substr(equals + 1);
  }
  for (auto& [key, value] : from_args.items()) merged[key] = std::move(value);
  if (merged.empty() && args_json.empty()) return std::string();
  return merged.dump();
}

}  // namespace fleet::cli
