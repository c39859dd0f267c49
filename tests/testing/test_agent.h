// One agent's Connect stream to a fleetd, driven step by step by a test: enroll, Hello, read the
// next update, apply it with the agent client core (agent/policy_applier.h) and answer; read
// actions and report on them.
#ifndef FLEETD_TESTS_TESTING_TEST_AGENT_H_
#define FLEETD_TESTS_TESTING_TEST_AGENT_H_

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/policy_applier.h"
#include "fleet/v1/agent.grpc.pb.h"
#include "gtest/gtest.h"

namespace fleet::testing {

// Trades `token` for an agent identity at the agent API over `channel` (e.g. TLS).
inline grpc::Status EnrollAgent(const std::shared_ptr<grpc::Channel>& channel,
                                const std::string& token, const std::string& hostname,
                                v1::EnrollResponse* response) {
  auto stub = v1::AgentService::NewStub(channel);
  v1::EnrollRequest request;
  request.set_enrollment_token(token);
  request.mutable_facts()->set_hostname(hostname);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  return stub->Enroll(&context, request, response);
}

// The same in plaintext at `address`.
inline grpc::Status EnrollAgent(const std::string& address, const std::string& token,
                                const std::string& hostname, v1::EnrollResponse* response) {
  return EnrollAgent(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()), token,
                     hostname, response);
}

// Thread-compatible: one test thread drives it.
class TestAgent {
 public:
  // Opens the stream with the identity's credentials (or another secret); the stream ends by
  // itself after `deadline`.
  TestAgent(const std::string& address, const v1::EnrollResponse& identity,
            const std::string& secret_override = "", absl::Duration deadline = absl::Seconds(60))
      : TestAgent(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()), identity,
                  secret_override, deadline) {}
  // The same over `channel` (e.g. TLS, with the agent's client certificate).
  TestAgent(const std::shared_ptr<grpc::Channel>& channel, const v1::EnrollResponse& identity,
            const std::string& secret_override = "", absl::Duration deadline = absl::Seconds(60))
      : stub_(v1::AgentService::NewStub(channel)) {
    context_.AddMetadata("x-fleet-agent-id", identity.agent_id());
    context_.AddMetadata(
        "authorization",
        "Bearer " + (secret_override.empty() ? identity.agent_secret() : secret_override));
    context_.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    stream_ = stub_->Connect(&context_);
  }

  bool Send(const v1::AgentMessage& message) { return stream_->Write(message); }
  bool Hello() {
    v1::AgentMessage message;
    *message.mutable_hello() = applier.HelloMessage();
    return Send(message);
  }
  // The next message, or nullopt when the stream ended.
  std::optional<v1::ServerMessage> Read() {
    v1::ServerMessage message;
    if (!stream_->Read(&message)) return std::nullopt;
    return message;
  }
  // Reads up to the next PolicyUpdate, applies it (or refuses it) and answers; returns it.
  // The next PolicyUpdate, neither applied nor answered; nullopt when the stream ends first.
  std::optional<v1::PolicyUpdate> NextUpdate() {
    while (std::optional<v1::ServerMessage> message = Read()) {
      if (message->has_policy_update()) return message->policy_update();
    }
    return std::nullopt;
  }
  std::optional<v1::PolicyUpdate> ApplyNext(bool refuse = false) {
    while (std::optional<v1::ServerMessage> message = Read()) {
      if (!message->has_policy_update()) continue;
      const v1::PolicyUpdate& update = message->policy_update();
      if (refuse) {
        v1::AgentMessage nack;
        nack.mutable_nack()->set_revision(update.target_revision());
        nack.mutable_nack()->set_reason("cannot run it");
        Send(nack);
      } else {
        agent::ApplyOutcome outcome = applier.Apply(update);
        EXPECT_TRUE(outcome.applied) << outcome.nack_reason;
        Send(outcome.Reply());
      }
      return update;
    }
    return std::nullopt;
  }
  // The next action or action cancel (other messages skipped); nullopt when the stream ends
  // first.
  std::optional<v1::ServerMessage> NextActionMessage() {
    while (std::optional<v1::ServerMessage> message = Read()) {
      if (message->has_action() || message->has_action_cancel()) return message;
    }
    return std::nullopt;
  }
  // The next AgentAction (other messages skipped); nullopt when the stream ends first.
  std::optional<v1::AgentAction> NextAction() {
    while (std::optional<v1::ServerMessage> message = Read()) {
      if (message->has_action()) return message->action();
    }
    return std::nullopt;
  }
  // Reports where the agent is with action `id`.
  bool ReportAction(const std::string& id, v1::ActionStatus::State state, int progress = 0,
                    const std::string& text = "", const std::string& output = "") {
    v1::AgentMessage message;
    v1::ActionStatus& status = *message.mutable_action_status();
    status.set_id(id);
    status.set_state(state);
    status.set_progress_percent(progress);
    status.set_message(text);
    status.set_output(output);
    return Send(message);
  }
  // Half-closes, drains and returns the stream's status.
  grpc::Status End() {
    stream_->WritesDone();
    while (Read()) {
    }
    return stream_->Finish();
  }
  // After the server ended the stream.
  grpc::Status Status() {
    while (Read()) {
    }
    return stream_->Finish();
  }

  agent::PolicyApplier applier;

 private:
  std::unique_ptr<v1::AgentService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::AgentMessage, v1::ServerMessage>> stream_;
};

}  // namespace fleet::testing

#endif  // FLEETD_TESTS_TESTING_TEST_AGENT_H_
