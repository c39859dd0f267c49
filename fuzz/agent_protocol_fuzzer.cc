// The server's Connect protocol (server/agent/agent_protocol.h), fed arbitrary sequences of agent
// messages and server events, with a real PolicyEngine and AgentStateTracker on a MemoryStore
// behind it, and this file playing a transport that keeps the protocol's contract (one write in
// flight, a read only when asked for, OnEnded last). The input is a sequence of events, one
// opcode byte each with its operands from the bytes after it (see Fuzz::Step); among them is a
// raw AgentMessage (two length bytes, then the serialized message), so anything the wire can
// carry reaches the protocol, while the other opcodes make well-formed sessions likely (a Hello
// with a real revision's hash, the Ack of the update in flight). Up to 8 streams of the agent
// follow each other in one input.
//
// Properties, after every event:
//  - nothing crashes (ASan, UBSan);
//  - the protocol keeps its side of the contract: no write while one is in flight, one Finish;
//  - the agent's state is valid UTF-8 and within agent_message_check.h's bounds, and parses back;
//  - an applied revision is recorded only with a proof: an Ack with the hash of an update of that
//    revision written to the agent, or a Hello with the real hash of that revision.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/utf8.h"
#include "fleet/v1/agent.pb.h"
#include "fuzz/fuzz_check.h"
#include "server/admin/policy_service.h"
#include "server/agent/agent_message_check.h"
#include "server/agent/agent_protocol.h"
#include "server/control/agent_directory.h"
#include "server/control/agent_state.h"
#include "server/control/policy_content.h"
#include "server/control/policy_engine.h"
#include "server/model/store_layout.h"
#include "storage/memory_store.h"

namespace fleet::server {
namespace {

constexpr char kAgent[] = "0123456789ab";
constexpr int kMaxStreams = 8;

// A revision the store had, with its hash: what a truthful Hello names.
struct Revision {
  std::string policy;
  int64_t revision = 0;
  std::string sha256;
};

// Built once for the whole run: committing revisions and starting the engine take far longer
// than an input. Policies: p at revisions 1..5 (1 and 2 pruned, history 3), q at 1..2, r at 1..2
// (every array element changed: FULL rather than a bigger DELTA); "gone" never exists.
struct Env {
  Env() {
    if (!directory.Start().ok()) std::abort();
    auto apply = [&](const std::string& name, const std::string& spec) {
      v1::ApplyPolicyRequest request;
      request.set_name(name);
      request.set_spec_json(spec);
      absl::StatusOr<v1::ApplyPolicyResponse> response = policies.Apply(request, "fuzz");
      if (!response.ok()) std::abort();
      revisions.push_back({name, response->policy().revision(), response->policy().sha256()});
    };
    for (int i = 1; i <= 5; ++i) apply("p", absl::StrCat(R"({"level":)", i, R"(,"paths":["/a"]})"));
    apply("q", R"({"mode":"audit"})");
    apply("q", R"({"mode":"enforce"})");
    std::string before;
    std::string after;
    for (int i = 0; i < 100; ++i) {
      absl::StrAppend(&before, i == 0 ? "" : ",", i);
      absl::StrAppend(&after, i == 0 ? "" : ",", i + 1000);
    }
    apply("r", absl::StrCat(R"({"n":[)", before, "]}"));
    apply("r", absl::StrCat(R"({"n":[)", after, "]}"));
    // No room for old revisions: every old base goes through the worker's load.
    absl::StatusOr<std::unique_ptr<PolicyEngine>> started = PolicyEngine::Start(
        *store, [this](const std::string&, int64_t) { kicked = true; }, absl::Seconds(30), 0);
    if (!started.ok()) std::abort();
    engine = *std::move(started);
  }

  std::unique_ptr<storage::Store> store = storage::NewMemoryStore();
  ManualClock clock{absl::FromUnixSeconds(1'800'000'000)};
  AgentDirectory directory{*store};
  PolicyService policies{*store, clock, {.history_limit = 3}, directory};
  AgentStateTracker state{*store, clock, {.flush_interval = absl::Hours(1)}};
  std::unique_ptr<PolicyEngine> engine;
  std::vector<Revision> revisions;
  // The engine announced a policy (an update it could not answer is ready): kick the stream.
  std::atomic<bool> kicked = false;
};

Env& TheEnv() {
  static Env* const env = new Env();  // lives for the run, like fleetd's control plane
  return *env;
}

// Reads operands off the input; past its end, zeros.
class Reader {
 public:
  explicit Reader(std::string_view input) : input_(input) {}
  bool done() const { return input_.empty(); }
  uint8_t Byte() {
    if (input_.empty()) return 0;
    const auto byte = static_cast<uint8_t>(input_.front());
    input_.remove_prefix(1);
    return byte;
  }
  std::string Bytes(size_t size) {
    const std::string_view taken = input_.substr(0, size);
    input_.remove_prefix(taken.size());
    return std::string(taken);
  }
  // A length, mostly short, sometimes past the bounds agent_message_check.h sets.
  size_t Length() {
    const uint8_t byte = Byte();
    return byte < 200 ? byte : 1000 + (byte - 200) * 10;
  }

 private:
  std::string_view input_;
};

class Fuzz {
 public:
  explicit Fuzz(Env& env) : env_(env) {
    env_.state.Forget(kAgent);
    Open();
  }
  ~Fuzz() {
    EndStream();
    env_.state.Forget(kAgent);
  }

  // One event; false once no stream is left to drive.
  bool Step(Reader& in) {
    if (stream_ == nullptr) return false;
    if (env_.kicked.exchange(false)) Perform(stream_->OnPolicyChanged());
    switch (in.Byte() % 16) {
      case 0: {  // a raw AgentMessage, as the wire carries it
        const size_t size = (size_t{in.Byte()} << 8) | in.Byte();
        const std::string bytes = in.Bytes(size);
        v1::AgentMessage message;
        if (message.ParseFromString(bytes)) {
          Send(message);
        } else if (reading_) {
          Read(stream_->OnUnreadableMessage());
        }
        break;
      }
      case 1: {  // Hello naming a revision the store had, truthfully or not
        const Revision& known = env_.revisions[in.Byte() % env_.revisions.size()];
        v1::AgentMessage message;
        v1::Hello& hello = *message.mutable_hello();
        hello.set_policy(known.policy);
        hello.set_applied_revision(known.revision);
        hello.set_applied_sha256(known.sha256);
        const uint8_t lie = in.Byte() % 4;
        if (lie == 1) hello.set_applied_sha256(std::string(64, 'b'));
        if (lie == 2) hello.set_applied_revision(1'000'000'000'000'000);
        if (lie == 3) hello.clear_applied_revision();
        Send(message);
        break;
      }
      case 2:    // the Ack of the update in flight, with its hash
      case 3: {  // or with another
        v1::AgentMessage message;
        message.mutable_ack()->set_revision(last_update_.target_revision());
        message.mutable_ack()->set_sha256(in.Byte() % 2 == 0 ? last_update_.sha256() : "other");
        Send(message);
        break;
      }
      case 4: {  // a Nack of the update in flight
        v1::AgentMessage message;
        const uint8_t flags = in.Byte();
        message.mutable_nack()->set_revision(last_update_.target_revision() + (flags & 2 ? 1 : 0));
        message.mutable_nack()->set_needs_full(flags & 1);
        message.mutable_nack()->set_reason(in.Bytes(in.Length()));
        Send(message);
        break;
      }
      case 5: {  // a status report
        v1::AgentMessage message;
        v1::StatusReport& report = *message.mutable_status();
        report.set_health(static_cast<v1::StatusReport::Health>(in.Byte() % 6));
        report.set_message(in.Bytes(in.Length()));
        const size_t components = in.Byte() % 70;
        for (size_t i = 0; i < components && !in.done(); ++i) {
          std::string key = in.Bytes(in.Byte() % 70);
          (*report.mutable_components())[std::move(key)] = in.Bytes(in.Length());
        }
        Send(message);
        break;
      }
      case 6: {
        v1::AgentMessage message;
        message.mutable_heartbeat();
        Send(message);
        break;
      }
      case 7:
        if (writing_) {
          writing_ = false;
          Perform(stream_->OnWriteDone(in.Byte() % 8 != 0));
        }
        break;
      case 8:
        Perform(stream_->OnPolicyChanged());
        break;
      case 9: {
        static const char* const kPolicies[] = {"p", "q", "r", "gone"};
        Perform(stream_->OnReassigned(kPolicies[in.Byte() % 4]));
        break;
      }
      case 10:
        env_.clock.Advance(absl::Seconds(in.Byte()) * 30);
        break;
      case 11:
        if (reading_) {
          reading_ = false;
          Perform(stream_->OnAgentClosed());
        }
        break;
      case 12:
        Perform(stream_->OnShutdown());
        break;
      case 13:
        current_ = false;
        Perform(stream_->OnReplaced());
        break;
      case 14:
        unenrolled_ = true;
        Perform(stream_->OnUnenrolled());
        break;
      default:  // the stream breaks: a read fails
        if (reading_) {
          reading_ = false;
          Perform(stream_->OnAgentClosed());
        }
        break;
    }
    CheckState();
    if (finished_ && !writing_) {
      EndStream();
      if (++streams_ < kMaxStreams) Open();
    }
    return stream_ != nullptr;
  }

 private:
  void Open() {
    stream_ =
        std::make_unique<AgentProtocol>(AgentProtocolDeps{.updates = *env_.engine,
                                                          .state = env_.state,
                                                          .clock = env_.clock,
                                                          .heartbeat_interval = absl::Seconds(30)},
                                        kAgent, "p");
    reading_ = true;
    writing_ = false;
    finished_ = false;
    current_ = true;
    last_update_.Clear();
  }

  void EndStream() {
    if (stream_ == nullptr) return;
    stream_->OnEnded(current_);
    stream_.reset();
    if (unenrolled_) proven_.clear();  // the agent's state is gone
    unenrolled_ = false;
    CheckState();
  }

  // The agent sends `message` (if the transport is reading), noting what it proves.
  void Send(const v1::AgentMessage& message) {
    if (!reading_) return;
    if (message.has_hello()) {
      const v1::Hello& hello = message.hello();
      for (const Revision& known : env_.revisions) {
        if (known.policy == hello.policy() && known.revision == hello.applied_revision() &&
            known.sha256 == hello.applied_sha256()) {
          proven_.insert({known.policy, known.revision});
        }
      }
    }
    if (message.has_ack()) {
      for (const v1::PolicyUpdate& sent : written_) {
        if (sent.target_revision() == message.ack().revision() &&
            sent.sha256() == message.ack().sha256()) {
          proven_.insert({sent.policy(), sent.target_revision()});
        }
      }
    }
    Read(stream_->OnMessage(message));
  }

  void Read(AgentProtocol::ReadOutcome outcome) {
    reading_ = outcome.read_next;
    Perform(std::move(outcome.action));
  }

  void Perform(const AgentProtocol::Action& action) {
    switch (action.kind) {
      case AgentProtocol::Action::Kind::kWrite: {
        FUZZ_CHECK(!writing_, "a second write while one is in flight");
        FUZZ_CHECK(!finished_, "a write after the Finish");
        FUZZ_CHECK(action.bytes != nullptr, "a write without bytes");
        writing_ = true;
        v1::ServerMessage message;
        FUZZ_CHECK(message.ParseFromString(*action.bytes), "a write that does not parse");
        if (message.has_policy_update()) {
          last_update_ = message.policy_update();
          written_.push_back(last_update_);
        }
        break;
      }
      case AgentProtocol::Action::Kind::kFinish:
        FUZZ_CHECK(!writing_, "a Finish while a write is in flight");
        FUZZ_CHECK(!finished_, "a second Finish");
        finished_ = true;
        break;
      case AgentProtocol::Action::Kind::kNone:
        break;
    }
  }

  static void CheckText(const std::string& text, size_t bound, const char* field) {
    FUZZ_CHECK(IsValidUtf8(text), absl::StrCat(field, " is not UTF-8: ", QuoteForError(text)));
    FUZZ_CHECK(text.size() <= bound, absl::StrCat(field, " is ", text.size(), " bytes"));
  }

  void CheckState() {
    const std::optional<record::AgentStatusRecord> state = env_.state.Get(kAgent);
    if (!state.has_value()) return;
    CheckText(state->health_message(), kMaxAgentTextBytes, "health_message");
    CheckText(state->nack_reason(), kMaxAgentTextBytes, "nack_reason");
    CheckText(state->policy(), 63, "policy");
    FUZZ_CHECK(state->components_size() <= static_cast<int>(kMaxComponents),
               absl::StrCat(state->components_size(), " components"));
    for (const auto& [key, value] : state->components()) {
      CheckText(key, kMaxComponentKeyBytes, "a component key");
      FUZZ_CHECK(!key.empty(), "an empty component key");
      CheckText(value, kMaxComponentValueBytes, "a component value");
    }
    FUZZ_CHECK(state->health() >= v1::AGENT_HEALTH_UNSPECIFIED &&
                   state->health() <= v1::AGENT_HEALTH_ERROR,
               absl::StrCat("health ", state->health()));
    record::AgentStatusRecord parsed;
    FUZZ_CHECK(parsed.ParseFromString(state->SerializeAsString()), "the state does not parse back");
    FUZZ_CHECK(state->applied_revision() == 0 ||
                   proven_.contains({state->policy(), state->applied_revision()}),
               absl::StrCat("applied ", state->policy(), "@", state->applied_revision(),
                            " recorded without a matching hash"));
  }

  Env& env_;
  std::unique_ptr<AgentProtocol> stream_;
  int streams_ = 0;
  // The transport's view of the stream.
  bool reading_ = false;
  bool writing_ = false;
  bool finished_ = false;
  bool current_ = true;
  bool unenrolled_ = false;
  // The updates written to the agent, over all its streams; the last one.
  std::vector<v1::PolicyUpdate> written_;
  v1::PolicyUpdate last_update_;
  // The (policy, revision) pairs the agent proved it applied.
  std::set<std::pair<std::string, int64_t>> proven_;
};

}  // namespace
}  // namespace fleet::server

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fleet::server::Reader in(std::string_view(reinterpret_cast<const char*>(data), size));
  fleet::server::Fuzz fuzz(fleet::server::TheEnv());
  // Every loop bounded: each step takes at least one byte of the input.
  while (!in.done() && fuzz.Step(in)) {
  }
  return 0;
}
