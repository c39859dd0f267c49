// Interoperability: an agent written in JavaScript from proto/fleet/v1/agent.proto alone, with
// standard libraries (@grpc/grpc-js, fast-json-patch for RFC 6902, canonicalize for RFC 8785;
// tests/interop/js_agent/agent.mjs), follows a real fleetd's policy updates and reproduces every
// content hash, numbers and member names that tell canonicalization schemes apart included.
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "fleet/v1/admin.grpc.pb.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/fleetd_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace fleet {
namespace {

using testing::FleetdProcess;
using testing::Subprocess;
using testing::TempDir;

// Numbers whose shortest round-trip forms differ between printers (RFC 8785 appendix B), and
// member names whose order differs between UTF-16 code units and UTF-8 bytes.
constexpr char kTrickySpec[] = R"json({
  "numbers": [1e23, 1.0, 1e-7, 1234567890123456.7, 0.000001, 5e-324, -0, 9007199254740991,
              1e21, 9.999999999999997e-7, 333333333.3333332, 1.7976931348623157e308, -1.5e-300],
  "names": {"\u20ac": 1, "\ud83d\ude00": 2, "\ufb33": 3, "a": 4, "A": 5, "1": 6, "\u0080": 7,
            "\r": 8, "\u00f6": 9},
  "strings": ["\u001f\u0000\t\n\b\f\r\"\\/", "\u2028\u2029", "caf\u00e9", "\ud83d\ude00"],
  "nested": {"z": {"y": [true, false, null, {}], "x": []}}
})json";

class JsAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(std::string(JS_AGENT_DIR) + "/node_modules"))
        << JS_AGENT_DIR << "/node_modules is missing: run scripts/install-deps";
    ASSERT_OK_AND_ASSIGN(fleetd_, FleetdProcess::Start(FLEETD_BIN, tmp_.Sub("data")));
    std::ifstream token_file(fleetd_->bootstrap_token_file());
    std::stringstream token;
    token << token_file.rdbuf();
    admin_token_ = std::string(absl::StripTrailingAsciiWhitespace(token.str()));
    admin_ = v1::AdminService::NewStub(
        grpc::CreateChannel(fleetd_->admin_address(), grpc::InsecureChannelCredentials()));
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->AddMetadata("authorization", "Bearer " + admin_token_);
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return context;
  }

  // Applies `spec_json` as policy "web"; its new revision.
  int64_t Apply(const std::string& spec_json) {
    v1::ApplyPolicyRequest request;
    request.set_name("web");
    request.set_spec_json(spec_json);
    v1::ApplyPolicyResponse response;
    grpc::Status status = admin_->ApplyPolicy(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.policy().revision();
  }

  std::string EnrollmentToken() {
    v1::CreateEnrollmentTokenRequest request;
    request.set_policy("web");
    v1::CreateEnrollmentTokenResponse response;
    grpc::Status status = admin_->CreateEnrollmentToken(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.secret();
  }

  void StartAgent() {
    ASSERT_OK_AND_ASSIGN(
        agent_, Subprocess::Start({NODE_BIN, std::string(JS_AGENT_DIR) + "/agent.mjs", "--addr",
                                   fleetd_->agent_address(), "--token", EnrollmentToken()}));
  }

  // The agent's next "applied" or "nack" event; fails the test on a nack or when none comes.
  std::optional<nlohmann::json> NextApplied() {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      std::optional<std::string> line = agent_->ReadStdoutLine(deadline - absl::Now());
      if (!line.has_value()) break;
      nlohmann::json event = nlohmann::json::parse(*line, nullptr, false);
      if (event.is_discarded()) continue;
      if (event["event"] == "applied") return event;
      if (event["event"] == "nack" || event["event"] == "enroll-error") {
        ADD_FAILURE() << "the JavaScript agent refused an update: " << *line;
        return std::nullopt;
      }
    }
    ADD_FAILURE() << "the JavaScript agent applied nothing within 30 s; its stderr: "
                  << agent_->DrainStderr(absl::Seconds(1));
    return std::nullopt;
  }

  // The rollout status of "web" once every agent acked `revision` (bounded).
  v1::RolloutStatus AwaitAcked(int64_t revision) {
    v1::RolloutStatus status;
    for (int attempt = 0; attempt < 100; ++attempt) {
      v1::GetRolloutStatusRequest request;
      request.set_policy("web");
      request.set_revision(revision);
      if (admin_->GetRolloutStatus(Context().get(), request, &status).ok() &&
          status.acked() == status.agents() && status.agents() > 0) {
        return status;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    ADD_FAILURE() << "revision " << revision << " never acked: " << status.ShortDebugString();
    return status;
  }

  TempDir tmp_;
  std::unique_ptr<FleetdProcess> fleetd_;
  std::string admin_token_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
  std::unique_ptr<Subprocess> agent_;
};

// The FULL document and a DELTA from it both hash, under a standard RFC 8785 library, to what
// fleetd sent; fleetd records both acks.
TEST_F(JsAgentTest, ReproducesHashesOfFullAndDelta) {
  ASSERT_EQ(Apply(kTrickySpec), 1);
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  std::optional<nlohmann::json> full = NextApplied();
  ASSERT_TRUE(full.has_value());
  EXPECT_EQ((*full)["kind"], "FULL");
  EXPECT_EQ((*full)["revision"], 1);
  AwaitAcked(1);

  nlohmann::json changed = nlohmann::json::parse(kTrickySpec);
  changed["numbers"][0] = 1.0000000000000001e23;
  changed["numbers"].push_back(0.1);
  changed["names"]["\xF0\x9F\x98\x81"] = 10;  // U+1F601
  ASSERT_EQ(Apply(changed.dump()), 2);
  std::optional<nlohmann::json> delta = NextApplied();
  ASSERT_TRUE(delta.has_value());
  EXPECT_EQ((*delta)["kind"], "DELTA");
  EXPECT_EQ((*delta)["revision"], 2);
  AwaitAcked(2);
}

// When every element of a large array changes, the patch would outweigh the document: fleetd
// sends the FULL document instead, and the agent applies it.
TEST_F(JsAgentTest, LargeRewriteArrivesAsFull) {
  nlohmann::json spec = {{"rules", nlohmann::json::array()}};
  for (int i = 0; i < 20000; ++i) spec["rules"].push_back(absl::StrCat("rule-", i));
  ASSERT_EQ(Apply(spec.dump()), 1);
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  ASSERT_TRUE(NextApplied().has_value());

  for (int i = 0; i < 20000; ++i) spec["rules"][i] = absl::StrCat("changed-", i);
  ASSERT_EQ(Apply(spec.dump()), 2);
  std::optional<nlohmann::json> update = NextApplied();
  ASSERT_TRUE(update.has_value());
  EXPECT_EQ((*update)["kind"], "FULL");
  EXPECT_EQ((*update)["revision"], 2);
  AwaitAcked(2);
}

}  // namespace
}  // namespace fleet
