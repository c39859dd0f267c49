#include "cli/connection.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace fleet::cli {
namespace {

constexpr char kLoginHint[] =
    "run fleetctl login --address HOST:PORT --token-file FILE, or pass --token-file";

// The first non-empty of `values`.
std::string FirstSet(std::initializer_list<std::string> values) {
  for (const std::string& value : values) {
    if (!value.empty()) return value;
  }
  return "";
}

}  // namespace

absl::StatusOr<Connection> ResolveConnection(const GlobalOptions& flags, const Environment& env,
                                             const Config& config) {
  Connection connection;
  connection.context = FirstSet({flags.context, env.context, config.current_context});
  Context context;
  if (!connection.context.empty()) {
    const Context* found = config.Find(connection.context);
    if (found == nullptr) {
      return absl::NotFoundError(absl::StrCat("context \"", connection.context,
                                              "\" is not in the config; see fleetctl config "
                                              "get-contexts"));
    }
    context = *found;
  }
  connection.address = FirstSet({flags.address, env.address, context.address, kDefaultAddress});
  connection.token_file = FirstSet({flags.token_file, env.token_file, context.token_file});
  return connection;
}

absl::StatusOr<std::string> ReadToken(const Connection& connection) {
  if (connection.token_file.empty()) {
    return absl::UnauthenticatedError(absl::StrCat("no admin token configured; ", kLoginHint));
  }
  std::ifstream in(connection.token_file);
  if (!in) {
    return absl::UnknownError(absl::StrCat("token file ", connection.token_file, ": ",
                                           std::strerror(errno),
                                           "; run fleetctl login or pass "
                                           "--token-file"));
  }
  std::stringstream text;
  text << in.rdbuf();
  std::string token(absl::StripAsciiWhitespace(text.str()));
  if (token.empty()) {
    return absl::UnauthenticatedError(
        absl::StrCat("token file ", connection.token_file, " is empty; ", kLoginHint));
  }
  return token;
}

std::string AbsolutePath(const std::string& path) {
  if (path.empty()) return path;
  std::error_code error;
  std::filesystem::path absolute = std::filesystem::absolute(path, error);
  return error ? path : absolute.lexically_normal().string();
}

}  // namespace fleet::cli
