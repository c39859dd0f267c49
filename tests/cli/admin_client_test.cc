// AdminClient without a fleetd: what it refuses to send.
#include "cli/admin_client.h"

#include <memory>

#include "gtest/gtest.h"

namespace fleet::cli {
namespace {

// A token that is not printable ASCII is never put into gRPC metadata (gRPC aborted on it and
// printed the whole token); the call fails UNAUTHENTICATED without quoting it.
TEST(AdminClientTest, InvalidTokenIsNeverSent) {
  for (const std::string token :
       {"fadm_id_s3cr3t\nsecond", "fadm_id_s3cr3t\x01", "fadm_\xc3\xa9_s3cr3t"}) {
    std::unique_ptr<AdminClient> client = AdminClient::Create("127.0.0.1:1", token);
    absl::StatusOr<v1::VersionResponse> version = client->Version();
    EXPECT_EQ(version.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(version.status().message().find("s3cr3t"), absl::string_view::npos);
    absl::Status watch = client->WatchRolloutStatus(v1::GetRolloutStatusRequest(), absl::Seconds(1),
                                                    [](const v1::RolloutStatus&) { return false; });
    EXPECT_EQ(watch.code(), absl::StatusCode::kUnauthenticated);
  }
}

// Printable ASCII, and no token at all, are sendable.
TEST(AdminClientTest, SendableTokens) {
  EXPECT_TRUE(AdminClient::IsSendableToken("fadm_0123456789ab_" + std::string(64, 'f')));
  EXPECT_TRUE(AdminClient::IsSendableToken(""));
  EXPECT_FALSE(AdminClient::IsSendableToken("a\tb"));
  EXPECT_FALSE(AdminClient::IsSendableToken("a\x7f"));
}

}  // namespace
}  // namespace fleet::cli
