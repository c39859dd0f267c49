// The unparsed-request interceptor on a real gRPC server: a request whose string field is not
// UTF-8 gets INVALID_ARGUMENT naming the request type, for unary and server-streaming admin calls
// and for Enroll, instead of gRPC's INTERNAL with no message; a request that parses reaches the
// handler, whose status passes unchanged.
#include "rpc/unparsed_request_interceptor.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fleet/v1/admin.grpc.pb.h"
#include "fleet/v1/agent.grpc.pb.h"
#include "gtest/gtest.h"

namespace fleet::rpc {
namespace {

constexpr char kNotUtf8[] = "web\xff\xfe";

// Handlers that answer from the request, so that a test sees whether they ran.
class Admin final : public v1::AdminService::Service {
 public:
  grpc::Status ApplyPolicy(grpc::ServerContext*, const v1::ApplyPolicyRequest* request,
                           v1::ApplyPolicyResponse*) override {
    return grpc::Status(grpc::StatusCode::INTERNAL, "handler saw " + request->name());
  }
  grpc::Status WatchRolloutStatus(grpc::ServerContext*, const v1::GetRolloutStatusRequest*,
                                  grpc::ServerWriter<v1::RolloutStatus>* writer) override {
    writer->Write(v1::RolloutStatus());
    return grpc::Status::OK;
  }
};

class Agent final : public v1::AgentService::Service {
 public:
  grpc::Status Enroll(grpc::ServerContext*, const v1::EnrollRequest*,
                      v1::EnrollResponse* response) override {
    response->set_agent_id("0123456789ab");
    return grpc::Status::OK;
  }
};

class UnparsedRequestInterceptorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&admin_);
    builder.RegisterService(&agent_);
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(NewUnparsedRequestInterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(creators));
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  }

  void TearDown() override { server_->Shutdown(); }

  static void Bound(grpc::ClientContext& context) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  }

  Admin admin_;
  Agent agent_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

// A unary admin request with a string that is not UTF-8 (the client's protobuf sends it all the
// same) is INVALID_ARGUMENT naming the request type; the handler never runs.
TEST_F(UnparsedRequestInterceptorTest, UnaryRequestThatDoesNotParseIsInvalidArgument) {
  auto stub = v1::AdminService::NewStub(channel_);
  v1::ApplyPolicyRequest request;
  request.set_name(kNotUtf8);
  grpc::ClientContext context;
  Bound(context);
  v1::ApplyPolicyResponse response;
  const grpc::Status status = stub->ApplyPolicy(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "the request is not a valid fleet.v1.ApplyPolicyRequest: a string field is not UTF-8, "
            "or the bytes are not that message");
}

// A request that parses reaches the handler, and the handler's own INTERNAL is left alone.
TEST_F(UnparsedRequestInterceptorTest, RequestThatParsesIsLeftAlone) {
  auto stub = v1::AdminService::NewStub(channel_);
  v1::ApplyPolicyRequest request;
  request.set_name("web");
  grpc::ClientContext context;
  Bound(context);
  v1::ApplyPolicyResponse response;
  const grpc::Status status = stub->ApplyPolicy(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(status.error_message(), "handler saw web");
}

// The same for a server-streaming call: its one request does not parse.
TEST_F(UnparsedRequestInterceptorTest, ServerStreamingRequestThatDoesNotParseIsInvalidArgument) {
  auto stub = v1::AdminService::NewStub(channel_);
  v1::GetRolloutStatusRequest request;
  request.set_policy(kNotUtf8);
  grpc::ClientContext context;
  Bound(context);
  std::unique_ptr<grpc::ClientReader<v1::RolloutStatus>> reader =
      stub->WatchRolloutStatus(&context, request);
  v1::RolloutStatus status;
  EXPECT_FALSE(reader->Read(&status));
  const grpc::Status finished = reader->Finish();
  EXPECT_EQ(finished.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(finished.error_message(), "fleet.v1.GetRolloutStatusRequest"))
      << finished.error_message();
}

// Enroll, on the agent API, too; a well-formed Enroll still enrolls.
TEST_F(UnparsedRequestInterceptorTest, EnrollThatDoesNotParseIsInvalidArgument) {
  auto stub = v1::AgentService::NewStub(channel_);
  v1::EnrollRequest request;
  request.mutable_facts()->set_hostname(kNotUtf8);
  grpc::ClientContext context;
  Bound(context);
  v1::EnrollResponse response;
  const grpc::Status status = stub->Enroll(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "fleet.v1.EnrollRequest"))
      << status.error_message();

  request.mutable_facts()->set_hostname("web");
  grpc::ClientContext again;
  Bound(again);
  EXPECT_TRUE(stub->Enroll(&again, request, &response).ok());
  EXPECT_EQ(response.agent_id(), "0123456789ab");
}

}  // namespace
}  // namespace fleet::rpc
