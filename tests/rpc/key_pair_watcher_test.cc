// The watched key pair: a replaced pair becomes current, a replacement that does not load keeps
// the previous one (warned once per change), unchanged files are not reloaded. The checks are
// made with CheckNow, not by waiting for the thread.
#include "rpc/key_pair_watcher.h"

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/ringbuffer_sink.h"
#include "spdlog/spdlog.h"
#include "tests/testing/dev_certs.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace fleet::rpc {
namespace {

using ::testing::HasSubstr;

class KeyPairWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(testing::RunDevCerts(tmp_.path()));
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", log_));
  }
  void TearDown() override { spdlog::set_default_logger(previous_logger_); }

  // The warnings logged so far.
  int Warnings() const {
    int warnings = 0;
    for (const std::string& line : log_->last_formatted()) {
      warnings += line.find("[warning]") != std::string::npos ? 1 : 0;
    }
    return warnings;
  }

  // Replaces `path` by a file holding `text`, renamed into place.
  void Replace(const std::string& path, const std::string& text) {
    const std::string staged = path + ".new";
    std::ofstream(staged) << text;
    ASSERT_EQ(std::rename(staged.c_str(), path.c_str()), 0);
  }

  testing::TempDir tmp_;
  const FlagFile cert_{.flag = "--tls-cert", .path = tmp_.Sub("server.pem")};
  const FlagFile key_{.flag = "--tls-key", .path = tmp_.Sub("server-key.pem")};
  const std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> log_ =
      std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  const std::shared_ptr<spdlog::logger> previous_logger_ = spdlog::default_logger();
};

// A new pair renamed into place is current after the next look; unchanged files are not reloaded.
TEST_F(KeyPairWatcherTest, ReplacedPairBecomesCurrent) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<KeyPairWatcher> watcher,
                       KeyPairWatcher::Start(cert_, key_, absl::Hours(1)));
  const std::shared_ptr<const KeyPair> first = watcher->Current();
  ASSERT_NE(first, nullptr);
  EXPECT_FALSE(watcher->CheckNow());
  EXPECT_EQ(watcher->Current(), first);
  ASSERT_OK(testing::RunDevCerts(tmp_.path(), {"server"}));
  EXPECT_TRUE(watcher->CheckNow());
  EXPECT_NE(watcher->Current(), first);
  EXPECT_EQ(Warnings(), 0);
}

// A certificate replaced by one that does not parse, then by another's certificate (the key no
// longer matching), keeps the pair in use, with one warning for each of the two changes.
TEST_F(KeyPairWatcherTest, BadReplacementKeepsThePreviousPair) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<KeyPairWatcher> watcher,
                       KeyPairWatcher::Start(cert_, key_, absl::Hours(1)));
  const std::shared_ptr<const KeyPair> first = watcher->Current();
  ASSERT_NO_FATAL_FAILURE(Replace(cert_.path, "not a certificate\n"));
  EXPECT_FALSE(watcher->CheckNow());
  EXPECT_FALSE(watcher->CheckNow());
  EXPECT_EQ(watcher->Current(), first);
  EXPECT_EQ(Warnings(), 1);
  std::string admin_cert;
  {
    std::ifstream in(tmp_.Sub("admin.pem"));
    admin_cert.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_NO_FATAL_FAILURE(Replace(cert_.path, admin_cert));
  EXPECT_FALSE(watcher->CheckNow());
  EXPECT_EQ(watcher->Current(), first);
  EXPECT_EQ(Warnings(), 2);
  EXPECT_THAT(log_->last_formatted().back(), HasSubstr("is not the key of the certificate"));
}

// Files that do not load at start are the errors of KeyPair::Load, naming the flag.
TEST_F(KeyPairWatcherTest, UnloadableAtStartIsInvalidArgument) {
  absl::StatusOr<std::unique_ptr<KeyPairWatcher>> watcher =
      KeyPairWatcher::Start(cert_, {.flag = "--tls-key", .path = tmp_.Sub("missing-key.pem")});
  ASSERT_FALSE(watcher.ok());
  EXPECT_EQ(watcher.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(watcher.status().message()), HasSubstr("--tls-key"));
}

}  // namespace
}  // namespace fleet::rpc
