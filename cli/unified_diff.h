// A line diff in the unified format of `diff -u` (POSIX, GNU diffutils), for `fleetctl diff`.
// Written here rather than by running diff(1): fleetctl runs where diffutils may be missing
// (containers, CI images), and a library keeps it testable.
#ifndef FLEETD_CLI_UNIFIED_DIFF_H_
#define FLEETD_CLI_UNIFIED_DIFF_H_

#include <string>

namespace fleet::cli {

// The unified diff that turns `before` into `after` ("" when they are equal): "--- " and "+++ "
// header lines with the labels, then hunks "@@ -l,n +l,n @@" of changed lines with `context`
// lines of context around them. Texts are split at "\n"; a last line without one is a line too
// (marked "\ No newline at end of file" when only one side lacks it).
//
// Minimal (a longest common subsequence) after the common start and end are set aside, as long
// as the lines left on each side multiply to at most 4,000,000; beyond, those lines are shown
// replaced as a whole, so that the cost stays bounded whatever the input.
std::string UnifiedDiff(const std::string& before, const std::string& after,
                        const std::string& before_label, const std::string& after_label,
                        int context = 3);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_UNIFIED_DIFF_H_
