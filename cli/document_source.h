// What the two readers of `fleetctl apply -f` files (json_documents.h, yaml_json.h) share: the
// documents they produce, the limits they enforce before anything recursive touches a value, and
// how they name a value's place in messages. Their errors are INVALID_ARGUMENT, the message
// starting with the 1-based line ("12: ..."), so that ParseDocuments can print "FILE:12: ...".
#ifndef FLEETD_CLI_DOCUMENT_SOURCE_H_
#define FLEETD_CLI_DOCUMENT_SOURCE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "fleet/v1/canonical_json.h"
#include "nlohmann/json.hpp"

namespace fleet::cli {

// One document of a file, as JSON, with the 1-based line it starts on.
struct SourceDocument {
  nlohmann::json value;
  size_t line = 0;
};

// How many objects and arrays may nest in one document: the document itself, then its spec as
// deep as fleetd allows a spec (fleet::v1::kMaxSpecDepth). Checked while reading, so that
// nothing deeper ever reaches a recursive conversion, dump or destructor.
inline constexpr int kMaxDocumentDepth = v1::kMaxSpecDepth + 1;

// The largest magnitude an integer may have (RFC 7493, I-JSON): 2^53 - 1, the last integer every
// JSON reader (a double) holds exactly.
inline constexpr int64_t kMaxExactInteger = (int64_t{1} << 53) - 1;

// A value's place in a document for messages: the keys and indexes from the document's root,
// e.g. {"spec", "outputs", "[0]", "port"} is "spec.outputs[0].port"; "the document" when empty.
std::string PathText(const std::vector<std::string>& path);

// The index segment for `path`: "[3]".
std::string IndexSegment(size_t index);

// Whether a number written with a fraction or an exponent (a double) is one fleetd refuses as an
// integer beyond kMaxExactInteger: from 2^53 on every double is an integer, and up to 1e21
// RFC 8785 writes it as one (9007199254740993.0 would be sent as 9007199254740992).
bool IsInexactDouble(double value);

// What is wrong with a number JSON cannot carry exactly (RFC 7493): "TEXT cannot be represented
// exactly; quote it as a string" for an integer beyond kMaxExactInteger; "TEXT is outside the
// range of a double; quote it as a string" for one beyond a double's range. TEXT is cut at 64
// bytes.
std::string InexactInteger(absl::string_view text);
std::string OutsideDoubleRange(absl::string_view text);

// "nests objects and arrays more than 64 levels deep (fleetd's limit for a spec)".
std::string TooDeep();

// INVALID_ARGUMENT "LINE: PATH: WHAT".
absl::Status ErrorAt(size_t line, const std::vector<std::string>& path, absl::string_view what);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_DOCUMENT_SOURCE_H_
