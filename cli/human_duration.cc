#include "cli/human_duration.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace fleet::cli {
namespace {

// "5h" when the remainder is 0, else "5h12m".
std::string Pair(int64_t big, const char* big_unit, int64_t small, const char* small_unit) {
  if (small == 0) return absl::StrCat(big, big_unit);
  return absl::StrCat(big, big_unit, small, small_unit);
}

}  // namespace

std::string HumanDuration(absl::Duration elapsed) {
  const int64_t seconds = absl::ToInt64Seconds(elapsed);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 2 * 60) return absl::StrCat(seconds, "s");
  const int64_t minutes = seconds / 60;
  if (minutes < 10) return Pair(minutes, "m", seconds % 60, "s");
  if (minutes < 3 * 60) return absl::StrCat(minutes, "m");
  const int64_t hours = minutes / 60;
  if (hours < 8) return Pair(hours, "h", minutes % 60, "m");
  if (hours < 48) return absl::StrCat(hours, "h");
  const int64_t days = hours / 24;
  if (hours < 24 * 8) return Pair(days, "d", hours % 24, "h");
  if (hours < 24 * 365 * 2) return absl::StrCat(days, "d");
  const int64_t years = days / 365;
  if (hours < 24 * 365 * 8) return Pair(years, "y", days % 365, "d");
  return absl::StrCat(years, "y");
}

}  // namespace fleet::cli
