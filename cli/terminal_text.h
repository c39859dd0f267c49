// Text from fleetd (an agent's hostname, labels, a server message) made safe to print on a
// terminal: an agent controls those strings, and raw control characters in them could fake table
// rows, clear the screen or retitle the window.
#ifndef FLEETD_CLI_TERMINAL_TEXT_H_
#define FLEETD_CLI_TERMINAL_TEXT_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace fleet::cli {

// `text` with everything a terminal would act on escaped, everything else unchanged: C0 controls
// and DEL as \n, \r, \t or \xNN; C1 controls (U+0080 to U+009F) and the line, paragraph and
// bidirectional controls (U+2028, U+2029, U+202A to U+202E, U+2066 to U+2069) as \uNNNN; each byte
// that is not part of well-formed UTF-8 as \xNN. The result is valid UTF-8 without control
// characters.
std::string EscapeForTerminal(std::string_view text);

// How many columns `text` takes when printed: its count of UTF-8 code points (an approximation:
// wide CJK characters take two).
size_t DisplayWidth(std::string_view text);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_TERMINAL_TEXT_H_
