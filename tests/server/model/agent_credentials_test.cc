// The rotation steps of an agent record (agent_credentials.h): what each sets and clears, and
// the rules a writer relies on (a promotion needs the pending secret; a request made while a
// rotation is pending asks for another one).
#include "server/model/agent_credentials.h"

#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

using google::protobuf::util::TimeUtil;

const absl::Time kEnrolled = absl::FromUnixSeconds(1'800'000'000);

record::AgentRecord Enrolled() {
  record::AgentRecord record;
  *record.mutable_agent()->mutable_enrolled_at() =
      TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(kEnrolled));
  record.set_secret_sha256("old");
  return record;
}

// A record from before rotation has no secret_issued_at: its enrollment time stands in, in the
// age and in views.
TEST(AgentCredentialsTest, SecretIssuedAtFallsBackToEnrollment) {
  record::AgentRecord record = Enrolled();
  EXPECT_EQ(SecretIssuedAt(record.agent()), kEnrolled);
  EXPECT_FALSE(RotationDue(record, kEnrolled + absl::Hours(1000), absl::ZeroDuration()));
  EXPECT_FALSE(RotationDue(record, kEnrolled + absl::Hours(23), absl::Hours(24)));
  EXPECT_TRUE(RotationDue(record, kEnrolled + absl::Hours(24), absl::Hours(24)));
  ShowSecretIssuedAt(*record.mutable_agent());
  EXPECT_EQ(TimeUtil::TimestampToSeconds(record.agent().secret_issued_at()),
            absl::ToUnixSeconds(kEnrolled));
}

// Request, start, promote: the pending secret becomes the current one, the request is settled,
// the times and the count move.
TEST(AgentCredentialsTest, RequestStartPromote) {
  record::AgentRecord record = Enrolled();
  RequestRotation(record, kEnrolled + absl::Seconds(1));
  EXPECT_TRUE(RotationDue(record, kEnrolled, absl::ZeroDuration()));
  StartRotation(record, "new", kEnrolled + absl::Seconds(2));
  EXPECT_EQ(record.pending_secret_sha256(), "new");
  EXPECT_EQ(record.secret_sha256(), "old");
  ASSERT_OK(PromotePending(record, "new", kEnrolled + absl::Seconds(3)));
  EXPECT_EQ(record.secret_sha256(), "new");
  EXPECT_EQ(record.pending_secret_sha256(), "");
  EXPECT_FALSE(record.agent().has_rotation_requested_at());
  EXPECT_FALSE(record.agent().has_rotation_pending_since());
  EXPECT_EQ(SecretIssuedAt(record.agent()), kEnrolled + absl::Seconds(3));
  EXPECT_EQ(record.agent().secret_rotations(), 1);
  EXPECT_FALSE(RotationDue(record, kEnrolled + absl::Seconds(4), absl::ZeroDuration()));
}

// A promotion of anything but the pending secret is refused and changes nothing: none pending,
// another one, or one promoted already.
TEST(AgentCredentialsTest, PromoteNeedsThePendingSecret) {
  record::AgentRecord record = Enrolled();
  EXPECT_EQ(PromotePending(record, "new", kEnrolled).code(), absl::StatusCode::kFailedPrecondition);
  StartRotation(record, "first", kEnrolled);
  StartRotation(record, "second", kEnrolled);  // the agent never saved the first
  EXPECT_EQ(PromotePending(record, "first", kEnrolled).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(record.secret_sha256(), "old");
  ASSERT_OK(PromotePending(record, "second", kEnrolled));
  EXPECT_EQ(PromotePending(record, "second", kEnrolled).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(record.agent().secret_rotations(), 1);
}

// A request made after the pending secret was committed outlives its promotion: the operator
// asked for a secret newer than the one in flight.
TEST(AgentCredentialsTest, RequestDuringAPendingRotationAsksForAnother) {
  record::AgentRecord record = Enrolled();
  StartRotation(record, "new", kEnrolled + absl::Seconds(1));
  RequestRotation(record, kEnrolled + absl::Seconds(2));
  ASSERT_OK(PromotePending(record, "new", kEnrolled + absl::Seconds(3)));
  EXPECT_TRUE(record.agent().has_rotation_requested_at());
  EXPECT_TRUE(RotationDue(record, kEnrolled + absl::Seconds(4), absl::ZeroDuration()));
}

}  // namespace
}  // namespace fleet::server
