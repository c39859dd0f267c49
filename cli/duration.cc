#include "cli/duration.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/utf8.h"

namespace fleet::cli {

absl::StatusOr<absl::Duration> ParseDuration(const std::string& text) {
  // absl::ParseDuration also takes signs, "0" and "inf", none of which is a sensible TTL or
  // timeout; past those it reads exactly Go's syntax.
  absl::Duration duration;
  const bool plain = !text.empty() && absl::ascii_isdigit(static_cast<unsigned char>(text[0]));
  if (!plain || !absl::ParseDuration(text, &duration) || duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid duration ", QuoteForError(text),
                     ": want a positive number and a unit, e.g. 30s, 15m, 24h or 1h30m"));
  }
  return duration;
}

CLI::Validator DurationValidator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        absl::StatusOr<absl::Duration> duration = ParseDuration(text);
        return duration.ok() ? "" : std::string(duration.status().message());
      },
      "DURATION");
}

google::protobuf::Duration ToProto(absl::Duration duration) {
  google::protobuf::Duration proto;
  const int64_t seconds = absl::ToInt64Seconds(duration);
  proto.set_seconds(seconds);
  proto.set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(duration - absl::Seconds(seconds))));
  return proto;
}

}  // namespace fleet::cli
