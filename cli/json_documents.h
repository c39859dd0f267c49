// Reads the JSON form of a `fleetctl apply -f` file: one document (an object) or an array of
// them, strictly I-JSON (RFC 7493) as fleetd will require, so that nothing is changed or refused
// only after it was sent.
#ifndef FLEETD_CLI_JSON_DOCUMENTS_H_
#define FLEETD_CLI_JSON_DOCUMENTS_H_

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/document_source.h"

namespace fleet::cli {

// The documents of `text`: the top-level value, or each element when it is an array. Each is
// returned whatever its type (the caller checks that it is an object). INVALID_ARGUMENT, the
// message starting with the 1-based line (document_source.h), for malformed JSON, ill-formed
// UTF-8 or a lone surrogate escape, a member name given twice in one object, an integer beyond
// +-kMaxExactInteger, a number outside double range, and a document nested deeper than
// kMaxDocumentDepth. Never throws; reading stops at the first problem, so 100,000 nested
// brackets cost 65 levels of work.
absl::StatusOr<std::vector<SourceDocument>> ReadJsonDocuments(std::string_view text);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_JSON_DOCUMENTS_H_
