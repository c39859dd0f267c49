// Bearer secrets (admin, enrollment and agent tokens): "<kind>_<id>_<secret>", where
// kind is a fixed four-letter prefix that tells what the token is for (and lets secret scanners
// find leaked ones), id is 12 lowercase hex characters (6 random bytes) naming the record, and
// secret is 64 lowercase hex characters (32 random bytes, 256 bits). Only the SHA-256 of the
// secret is ever stored.
#ifndef FLEETD_SERVER_MODEL_SECRET_TOKEN_H_
#define FLEETD_SERVER_MODEL_SECRET_TOKEN_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace fleet::server {

inline constexpr char kAdminTokenKind[] = "fadm";
inline constexpr char kEnrollmentTokenKind[] = "fenr";
inline constexpr char kAgentSecretKind[] = "fagt";

struct MintedToken {
  std::string id;
  std::string token;          // the whole "<kind>_<id>_<secret>", to hand out once
  std::string secret_sha256;  // 32 raw bytes, to store
};

// A new token of `kind` from OpenSSL's CSPRNG. Aborts if the CSPRNG fails (nothing can be
// secure then).
MintedToken MintToken(std::string_view kind);
// The same with a given id: a new secret for the record `id` names (an agent's rotated secret).
MintedToken MintTokenFor(std::string_view kind, std::string_view id);

struct ParsedToken {
  std::string id;
  std::string secret;
};

// Splits a token of `kind`. UNAUTHENTICATED (without echoing the token) when it is malformed or
// of another kind.
absl::StatusOr<ParsedToken> ParseToken(std::string_view token, std::string_view kind);

// Whether SHA-256(secret) equals `stored_sha256`, compared in constant time.
bool SecretMatches(std::string_view secret, std::string_view stored_sha256);

// Raw 32-byte SHA-256.
std::string Sha256(std::string_view data);

}  // namespace fleet::server

#endif  // FLEETD_SERVER_MODEL_SECRET_TOKEN_H_
