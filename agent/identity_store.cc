#include "agent/identity_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace fleet::agent {
namespace {

constexpr size_t kMaxNameLength = 100;
// An identity file is a few hundred bytes; anything much bigger is not one.
constexpr size_t kMaxFileBytes = 64 * 1024;

absl::Status ValidateName(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(absl::StrCat("identity name must be 1 to ", kMaxNameLength,
                                                   " characters, not ", name.size()));
  }
  for (char c : name) {
    const bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!allowed) {
      return absl::InvalidArgumentError(absl::StrCat(
          "identity name \"", name, "\" may hold only letters, digits, '.', '_' and '-'"));
    }
  }
  return absl::OkStatus();
}

// Writes all of `data` to `fd`, retrying short writes and EINTR.
bool WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Reads `fd` to its end, or up to `limit` + 1 bytes so that the caller can tell "too big".
bool ReadUpTo(int fd, size_t limit, std::string& out) {
  char buffer[4096];
  while (out.size() <= limit) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) break;
    out.append(buffer, static_cast<size_t>(n));
  }
  return true;
}

// The string member `key` of `object`, or nullopt when it is missing or not a string.
std::optional<std::string> StringMember(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

absl::StatusOr<AgentIdentity> ParseIdentity(const std::string& text, const std::string& path) {
  auto corrupt = [&path](const std::string& why) {
    return absl::DataLossError(absl::StrCat("identity file ", path, " is corrupt: ", why));
  };
  if (text.size() > kMaxFileBytes) return corrupt("it is bigger than any identity");
  const nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return corrupt("it is not valid JSON (truncated?)");
  if (!value.is_object()) return corrupt("it is not a JSON object");
  std::optional<std::string> id = StringMember(value, "agent_id");
  std::optional<std::string> secret = StringMember(value, "agent_secret");
  std::optional<std::string> policy = StringMember(value, "policy");
  if (!id.has_value() || id->empty()) return corrupt("agent_id is missing");
  if (!secret.has_value() || secret->empty()) return corrupt("agent_secret is missing");
  if (!policy.has_value()) return corrupt("policy is missing");
  return AgentIdentity{*std::move(id), *std::move(secret), *std::move(policy)};
}

}  // namespace

absl::StatusOr<std::unique_ptr<IdentityStore>> IdentityStore::Open(std::string dir) {
  if (dir.empty()) return absl::InvalidArgumentError("identity directory must not be empty");
  // Each missing level is made 0700: the files below hold secrets.
  std::filesystem::path partial;
  for (const std::filesystem::path& part : std::filesystem::path(dir)) {
    partial /= part;
    if (mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::ErrnoToStatus(
          errno, absl::StrCat("cannot create identity directory ", partial.string()));
    }
  }
  struct stat info;
  if (stat(dir.c_str(), &info) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot open identity directory ", dir));
  }
  if (!S_ISDIR(info.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("identity directory ", dir, " is not a directory"));
  }
  return std::unique_ptr<IdentityStore>(new IdentityStore(std::move(dir)));
}

std::string IdentityStore::PathFor(const std::string& name) const {
  return absl::StrCat(dir_, "/", name, ".json");
}

absl::StatusOr<std::optional<AgentIdentity>> IdentityStore::Load(const std::string& name) const {
  if (absl::Status valid = ValidateName(name); !valid.ok()) return valid;
  const std::string path = PathFor(name);
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot open identity file ", path));
  }
  std::string text;
  const bool read_ok = ReadUpTo(fd, kMaxFileBytes, text);
  const int read_errno = errno;
  close(fd);
  if (!read_ok)
    return absl::ErrnoToStatus(read_errno, absl::StrCat("cannot read identity file ", path));
  absl::StatusOr<AgentIdentity> identity = ParseIdentity(text, path);
  if (!identity.ok()) return identity.status();
  return std::optional<AgentIdentity>(*std::move(identity));
}

absl::Status IdentityStore::Save(const std::string& name, const AgentIdentity& identity) {
  if (absl::Status valid = ValidateName(name); !valid.ok()) return valid;
  if (identity.agent_id.empty() || identity.agent_secret.empty()) {
    return absl::InvalidArgumentError("an identity needs an agent_id and an agent_secret");
  }
  const nlohmann::json value = {{"agent_id", identity.agent_id},
                                {"agent_secret", identity.agent_secret},
                                {"policy", identity.policy}};
  // Enroll's answers are ASCII; replacing stray invalid UTF-8 keeps dump() from throwing.
  const std::string text =
      value.dump(2, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace) + "\n";

  const std::string path = PathFor(name);
  // mkstemp's random suffix never ends in ".json", so a temp file is never taken for a name.
  std::string temp = path + ".tmp-XXXXXX";
  const int fd = mkstemp(temp.data());  // mode 0600
  if (fd < 0)
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot create a temp file for ", path));
  bool written = WriteAll(fd, text) && fsync(fd) == 0;
  int error = errno;
  if (close(fd) != 0 && written) {
    written = false;
    error = errno;
  }
  if (written && rename(temp.c_str(), path.c_str()) != 0) {
    written = false;
    error = errno;
  }
  if (!written) {
    unlink(temp.c_str());
    return absl::ErrnoToStatus(error, absl::StrCat("cannot write identity file ", path));
  }
  return SyncDir();
}

absl::Status IdentityStore::Remove(const std::string& name) {
  if (absl::Status valid = ValidateName(name); !valid.ok()) return valid;
  const std::string path = PathFor(name);
  if (unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot remove identity file ", path));
  }
  return SyncDir();
}

absl::Status IdentityStore::SyncDir() const {
  const int fd = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot open identity directory ", dir_));
  const bool synced = fsync(fd) == 0;
  const int error = errno;
  close(fd);
  if (!synced)
    return absl::ErrnoToStatus(error, absl::StrCat("cannot sync identity directory ", dir_));
  return absl::OkStatus();
}

}  // namespace fleet::agent
