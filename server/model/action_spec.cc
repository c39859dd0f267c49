#include "server/model/action_spec.h"

#include <array>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "fleet/v1/canonical_json.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"

namespace fleet::server {
namespace {

using google::protobuf::util::TimeUtil;

constexpr std::array<std::string_view, 5> kTypes = {"upgrade", "restart", "unenroll", "diagnostics",
                                                    "custom"};

// Within what google.protobuf.Timestamp and Duration allow (years 1 to 9999, +-10,000 years).
bool ValidTimestamp(const google::protobuf::Timestamp& t) {
  return t.seconds() >= -62'135'596'800 && t.seconds() <= 253'402'300'799 && t.nanos() >= 0 &&
         t.nanos() < 1'000'000'000;
}
bool ValidDuration(const google::protobuf::Duration& d) {
  return d.seconds() >= -315'576'000'000 && d.seconds() <= 315'576'000'000 &&
         d.nanos() > -1'000'000'000 && d.nanos() < 1'000'000'000;
}

absl::Status Invalid(std::string_view field, std::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(std::string(field), ": ", std::string(problem)));
}

// Checks that `args` has a string member `name` (when `required`, or when present).
absl::Status CheckString(const nlohmann::json& args, const std::string& name, bool required) {
  const std::string field = absl::StrCat("arguments_json.", name);
  auto it = args.find(name);
  if (it == args.end()) {
    return required ? Invalid(field, "required (a string)") : absl::OkStatus();
  }
  if (!it->is_string()) return Invalid(field, "must be a string");
  if (required && it->get_ref<const std::string&>().empty()) {
    return Invalid(field, "must not be empty");
  }
  return absl::OkStatus();
}

absl::Status CheckArguments(std::string_view type, const nlohmann::json& args) {
  if (type == "upgrade") {
    if (absl::Status s = CheckString(args, "version", /*required=*/true); !s.ok()) return s;
    if (absl::Status s = CheckString(args, "url", /*required=*/false); !s.ok()) return s;
    if (absl::Status s = CheckString(args, "sha256", /*required=*/false); !s.ok()) return s;
    if (auto it = args.find("sha256"); it != args.end()) {
      const std::string& hex = it->get_ref<const std::string&>();
      bool ok = hex.size() == 64;
      for (char c : hex) ok = ok && absl::ascii_isxdigit(static_cast<unsigned char>(c));
      if (!ok) return Invalid("arguments_json.sha256", "must be 64 hexadecimal characters");
    }
  } else if (type == "custom") {
    if (absl::Status s = CheckString(args, "name", /*required=*/true); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ActionSpec> ValidateActionSpec(const v1::CreateActionRequest& request,
                                              absl::Time now) {
  ActionSpec spec;
  bool known = false;
  for (std::string_view type : kTypes) known = known || request.type() == type;
  if (!known) {
    return Invalid("type", absl::StrCat(QuoteForError(request.type()),
                                        " is not one of upgrade, restart, unenroll, "
                                        "diagnostics, custom"));
  }
  spec.type = request.type();

  // Input far beyond the limit is refused before it is parsed; formatted input a little over it
  // may still canonicalize within it.
  if (request.arguments_json().size() > 4 * kMaxActionArgumentsBytes) {
    return Invalid("arguments_json",
                   absl::StrCat(request.arguments_json().size(), " bytes; at most ",
                                kMaxActionArgumentsBytes, " in canonical form"));
  }
  nlohmann::json args = nlohmann::json::object();
  spec.arguments_json = "{}";
  if (!request.arguments_json().empty()) {
    absl::StatusOr<v1::CanonicalSpec> parsed =
        v1::ParseCanonicalSpec(request.arguments_json(), "arguments_json");
    if (!parsed.ok()) return absl::InvalidArgumentError(parsed.status().message());
    if (parsed->canonical.size() > kMaxActionArgumentsBytes) {
      return Invalid("arguments_json",
                     absl::StrCat(parsed->canonical.size(), " bytes in canonical form; at most ",
                                  kMaxActionArgumentsBytes));
    }
    args = std::move(parsed->value);
    spec.arguments_json = std::move(parsed->canonical);
  }
  if (absl::Status s = CheckArguments(spec.type, args); !s.ok()) return s;

  if (request.has_expires_at()) {
    if (!ValidTimestamp(request.expires_at())) {
      return Invalid("expires_at", "not a valid timestamp");
    }
    spec.expires_at = absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(request.expires_at()));
    if (spec.expires_at <= now) return Invalid("expires_at", "must be in the future");
    if (spec.expires_at > now + kMaxActionExpiry) {
      return Invalid("expires_at", "at most a year ahead");
    }
  } else {
    spec.expires_at = now + kDefaultActionExpiry;
  }

  spec.rollout_duration = absl::ZeroDuration();
  if (request.has_rollout_duration()) {
    if (!ValidDuration(request.rollout_duration())) {
      return Invalid("rollout_duration", "not a valid duration");
    }
    spec.rollout_duration =
        absl::Microseconds(TimeUtil::DurationToMicroseconds(request.rollout_duration()));
    if (spec.rollout_duration < absl::ZeroDuration()) {
      return Invalid("rollout_duration", "must not be negative");
    }
    if (spec.rollout_duration >= spec.expires_at - now) {
      return Invalid("rollout_duration", "must be shorter than the time to expires_at");
    }
  }
  return spec;
}

}  // namespace fleet::server
