// The pieces of Prometheus's text exposition format, version 0.0.4, that a Registry writes
// (https://prometheus.io/docs/instrumenting/exposition_formats/): escaping and number syntax.
#ifndef FLEETD_COMMON_METRICS_TEXT_FORMAT_H_
#define FLEETD_COMMON_METRICS_TEXT_FORMAT_H_

#include <string>
#include <string_view>
#include <vector>

namespace fleet::metrics {

// The Content-Type of a scrape's answer.
inline constexpr char kTextFormatContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// A HELP line's text: backslash and newline escaped.
std::string EscapeHelp(std::string_view help);
// A label value, inside its quotes: backslash, double quote and newline escaped.
std::string EscapeLabelValue(std::string_view value);
// A sample value or an `le` bound: the shortest text that reads back as `value`, and "+Inf",
// "-Inf" or "NaN" as Go's ParseFloat reads them.
std::string FormatValue(double value);
// `{name="value",...}` for the pairs of `names` and `values` (the same length), then `extra`
// ("le", its value) if given; empty when there are no labels at all.
std::string FormatLabels(const std::vector<std::string>& names,
                         const std::vector<std::string>& values, std::string_view extra_name = {},
                         std::string_view extra_value = {});

}  // namespace fleet::metrics

#endif  // FLEETD_COMMON_METRICS_TEXT_FORMAT_H_
