// UTF-8 and quoting helpers for text that crosses a trust boundary: what an agent or an admin
// client sends, before it is stored, shown or echoed back in an error.
#ifndef FLEETD_COMMON_UTF8_H_
#define FLEETD_COMMON_UTF8_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace fleet {

// Whether `text` is well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates (U+D800 to
// U+DFFF), nothing above U+10FFFF, no truncated sequence.
bool IsValidUtf8(std::string_view text);

// The longest prefix of `text` of at most `max_bytes` bytes that does not end inside a UTF-8
// sequence. For valid UTF-8 input the result is valid UTF-8.
std::string_view TruncateUtf8(std::string_view text, size_t max_bytes);

// `text` made safe to store and show: each ill-formed UTF-8 byte replaced by U+FFFD, then cut
// as TruncateUtf8 does. Always valid UTF-8.
std::string SanitizeUtf8(std::string_view text, size_t max_bytes);

// `text` for an error message: in double quotes, at most `max_bytes` (64 by default) bytes of
// it, control characters, quotes, backslashes and ill-formed bytes escaped (\n, \x1b, ...), and
// "..." after the quote when it was cut, e.g. "abc\x1b[2J"... . Never longer than about four
// times `max_bytes`.
std::string QuoteForError(std::string_view text, size_t max_bytes = 64);

}  // namespace fleet

#endif  // FLEETD_COMMON_UTF8_H_
