#include "agent/identity_store.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace fleet::agent {
namespace {

const AgentIdentity kIdentity{
    .agent_id = "0123456789ab", .agent_secret = "fagt_0123456789ab_c2VjcmV0", .policy = "laptops"};

mode_t Mode(const std::string& path) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0) return 0;
  return info.st_mode & 07777;
}

std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
}

class IdentityStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = IdentityStore::Open(temp_.Sub("ids"));
    ASSERT_OK(store);
    store_ = *std::move(store);
  }

  // Asserts that loading `name` is DATA_LOSS naming its file.
  void ExpectDataLoss(const std::string& name) {
    absl::StatusOr<std::optional<AgentIdentity>> loaded = store_->Load(name);
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss) << loaded.status();
    EXPECT_NE(loaded.status().message().find(store_->PathFor(name)), absl::string_view::npos)
        << loaded.status();
  }

  fleet::testing::TempDir temp_;
  std::unique_ptr<IdentityStore> store_;
};

// What Save stored, Load returns, also through a second store opened on the same directory.
TEST_F(IdentityStoreTest, SaveThenLoadRoundTrips) {
  ASSERT_OK(store_->Save("agent-0001", kIdentity));
  ASSERT_OK_AND_ASSIGN(std::optional<AgentIdentity> loaded, store_->Load("agent-0001"));
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(*loaded, kIdentity);

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<IdentityStore> reopened,
                       IdentityStore::Open(temp_.Sub("ids")));
  ASSERT_OK_AND_ASSIGN(loaded, reopened->Load("agent-0001"));
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(*loaded, kIdentity);
}

// Open creates missing directories with mode 0700; saved files are 0600 and named <name>.json.
TEST_F(IdentityStoreTest, DirectoryIs0700AndFilesAre0600) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<IdentityStore> nested,
                       IdentityStore::Open(temp_.Sub("a/b/c")));
  EXPECT_EQ(Mode(temp_.Sub("a")), 0700u);
  EXPECT_EQ(Mode(temp_.Sub("a/b/c")), 0700u);
  ASSERT_OK(nested->Save("host.example_1", kIdentity));
  EXPECT_EQ(nested->PathFor("host.example_1"), temp_.Sub("a/b/c/host.example_1.json"));
  EXPECT_EQ(Mode(temp_.Sub("a/b/c/host.example_1.json")), 0600u);
}

// A name never saved loads as nullopt, not as an error.
TEST_F(IdentityStoreTest, MissingIsNullopt) {
  ASSERT_OK_AND_ASSIGN(std::optional<AgentIdentity> loaded, store_->Load("never-saved"));
  EXPECT_FALSE(loaded.has_value());
}

// Garbage, a truncated file, an empty file, a non-object and missing fields are DATA_LOSS.
TEST_F(IdentityStoreTest, CorruptFilesAreDataLoss) {
  ASSERT_OK(store_->Save("truncated", kIdentity));
  std::string whole;
  {
    std::ifstream in(store_->PathFor("truncated"));
    whole.assign(std::istreambuf_iterator<char>(in), {});
  }
  WriteFile(store_->PathFor("truncated"), whole.substr(0, whole.size() / 2));
  ExpectDataLoss("truncated");

  WriteFile(store_->PathFor("garbage"), "\x01\x02not json at all");
  ExpectDataLoss("garbage");
  WriteFile(store_->PathFor("empty"), "");
  ExpectDataLoss("empty");
  WriteFile(store_->PathFor("array"), "[1, 2]");
  ExpectDataLoss("array");
  WriteFile(store_->PathFor("no-secret"), R"({"agent_id": "0123456789ab", "policy": "p"})");
  ExpectDataLoss("no-secret");
  WriteFile(store_->PathFor("wrong-type"),
            R"({"agent_id": 12, "agent_secret": "fagt_x", "policy": "p"})");
  ExpectDataLoss("wrong-type");
  WriteFile(store_->PathFor("huge"), std::string(1 << 20, ' '));
  ExpectDataLoss("huge");
}

// Names outside [A-Za-z0-9._-]{1,100} are refused by every method, before touching the disk.
TEST_F(IdentityStoreTest, BadNamesAreInvalidArgument) {
  for (const std::string& name :
       {std::string(), std::string(101, 'a'), std::string("../escape"), std::string("a/b"),
        std::string("sp ace"), std::string("nul\0x", 5), std::string("h\xc3\xa9")}) {
    EXPECT_EQ(store_->Save(name, kIdentity).code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_EQ(store_->Load(name).status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_EQ(store_->Remove(name).code(), absl::StatusCode::kInvalidArgument) << name;
  }
  EXPECT_TRUE(FilesIn(store_->dir()).empty());
  EXPECT_OK(store_->Save(std::string(100, 'z'), kIdentity));
}

// An identity without an id or a secret is not saved.
TEST_F(IdentityStoreTest, IncompleteIdentityIsInvalidArgument) {
  EXPECT_EQ(store_->Save("a", {.agent_secret = "s"}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Save("a", {.agent_id = "i"}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(FilesIn(store_->dir()).empty());
}

// Saving again replaces the identity whole and leaves no temp file behind.
TEST_F(IdentityStoreTest, SaveReplacesAtomically) {
  ASSERT_OK(store_->Save("agent", kIdentity));
  AgentIdentity moved = kIdentity;
  moved.policy = "servers";
  moved.agent_secret = "fagt_0123456789ab_bmV3";
  ASSERT_OK(store_->Save("agent", moved));
  ASSERT_OK_AND_ASSIGN(std::optional<AgentIdentity> loaded, store_->Load("agent"));
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(*loaded, moved);
  EXPECT_EQ(FilesIn(store_->dir()), std::vector<std::string>{"agent.json"});
  EXPECT_EQ(Mode(store_->PathFor("agent")), 0600u);
}

// A failed Save (the target is a directory, so rename fails) keeps nothing half-written around.
TEST_F(IdentityStoreTest, FailedSaveLeavesNoTempFile) {
  std::filesystem::create_directory(store_->PathFor("blocked"));
  EXPECT_FALSE(store_->Save("blocked", kIdentity).ok());
  EXPECT_EQ(FilesIn(store_->dir()), std::vector<std::string>{"blocked.json"});
}

// Remove deletes one name's file, keeps the others, and is OK for a name not there.
TEST_F(IdentityStoreTest, RemoveDeletesOnlyThatName) {
  ASSERT_OK(store_->Save("one", kIdentity));
  ASSERT_OK(store_->Save("two", kIdentity));
  ASSERT_OK(store_->Remove("one"));
  ASSERT_OK_AND_ASSIGN(std::optional<AgentIdentity> one, store_->Load("one"));
  EXPECT_FALSE(one.has_value());
  ASSERT_OK_AND_ASSIGN(std::optional<AgentIdentity> two, store_->Load("two"));
  EXPECT_TRUE(two.has_value());
  EXPECT_OK(store_->Remove("one"));
  EXPECT_EQ(FilesIn(store_->dir()), std::vector<std::string>{"two.json"});
}

// Many identities share one directory, each under its own name.
TEST_F(IdentityStoreTest, ManyNamesInOneDirectory) {
  for (int i = 0; i < 200; ++i) {
    AgentIdentity identity = kIdentity;
    identity.agent_id = "id-" + std::to_string(i);
    ASSERT_OK(store_->Save("sim-" + std::to_string(i), identity));
  }
  for (int i = 0; i < 200; ++i) {
    ASSERT_OK_AND_ASSIGN(std::optional<AgentIdentity> loaded,
                         store_->Load("sim-" + std::to_string(i)));
    ASSERT_TRUE(loaded.has_value());
    EXPECT_EQ(loaded->agent_id, "id-" + std::to_string(i));
  }
  EXPECT_EQ(FilesIn(store_->dir()).size(), 200u);
}

// Open refuses a path that is a file, not a directory.
TEST(IdentityStoreOpenTest, FileInsteadOfDirectoryIsAnError) {
  fleet::testing::TempDir temp;
  WriteFile(temp.Sub("file"), "x");
  EXPECT_FALSE(IdentityStore::Open(temp.Sub("file")).ok());
  EXPECT_EQ(IdentityStore::Open("").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fleet::agent
