#include "server/model/secret_token.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace fleet::server {
namespace {

constexpr size_t kIdBytes = 6;
constexpr size_t kSecretBytes = 32;

std::string RandomHex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
    std::fprintf(stderr, "fleetd: OpenSSL's random generator failed; cannot mint secrets\n");
    std::abort();
  }
  return absl::BytesToHexString(raw);
}

bool IsLowerHex(std::string_view text, size_t length) {
  if (text.size() != length) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string Sha256(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

MintedToken MintToken(std::string_view kind) { return MintTokenFor(kind, RandomHex(kIdBytes)); }

MintedToken MintTokenFor(std::string_view kind, std::string_view id) {
  MintedToken minted;
  minted.id = std::string(id);
  std::string secret = RandomHex(kSecretBytes);
  minted.token = absl::StrCat(std::string(kind), "_", minted.id, "_", secret);
  minted.secret_sha256 = Sha256(secret);
  return minted;
}

absl::StatusOr<ParsedToken> ParseToken(std::string_view token, std::string_view kind) {
  const size_t id_length = 2 * kIdBytes, secret_length = 2 * kSecretBytes;
  if (token.size() != kind.size() + 2 + id_length + secret_length ||
      token.substr(0, kind.size()) != kind || token[kind.size()] != '_' ||
      token[kind.size() + 1 + id_length] != '_') {
    return absl::UnauthenticatedError(
        absl::StrCat("malformed token: expected ", std::string(kind), "_<id>_<secret>"));
  }
  std::string_view id = token.substr(kind.size() + 1, id_length);
  std::string_view secret = token.substr(kind.size() + 2 + id_length);
  if (!IsLowerHex(id, id_length) || !IsLowerHex(secret, secret_length)) {
    return absl::UnauthenticatedError("malformed token: id and secret must be lowercase hex");
  }
  return ParsedToken{.id = std::string(id), .secret = std::string(secret)};
}

bool SecretMatches(std::string_view secret, std::string_view stored_sha256) {
  std::string digest = Sha256(secret);
  return stored_sha256.size() == digest.size() &&
         CRYPTO_memcmp(digest.data(), stored_sha256.data(), digest.size()) == 0;
}

}  // namespace fleet::server
