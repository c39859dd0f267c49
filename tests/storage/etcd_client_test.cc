// The etcd client, watch stream and fan-out measurement against a real etcd child process.
#include "storage/etcd/etcd_client.h"

#include <grpcpp/channel.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "storage/etcd/etcd_watch.h"
#include "tests/testing/etcd_fanout.h"
#include "tests/testing/etcd_process.h"
#include "tests/testing/status_matchers.h"

namespace fleet::storage::etcd {
namespace {

constexpr absl::Duration kWait = absl::Seconds(10);

// Records a watch stream's responses for the test thread to wait on.
class WatchRecorder {
 public:
  EtcdWatchCallbacks Callbacks() {
    return {.on_created = [this](const etcdserverpb::WatchResponse&) { Add(&created_, 1); },
            .on_events =
                [this](const etcdserverpb::WatchResponse& response) {
                  absl::MutexLock lock(&mu_);
                  for (const etcdserverpb::Event& event : response.events()) {
                    events_.push_back(event);
                  }
                },
            .on_done = [this](const absl::Status&) { Add(&done_, 1); }};
  }

  // The first `n` events, once that many arrived; fewer when kWait passed first.
  std::vector<etcdserverpb::Event> WaitForEvents(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return events_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), kWait);
    return events_;
  }

  int created() {
    absl::MutexLock lock(&mu_);
    return created_;
  }
  int done() {
    absl::MutexLock lock(&mu_);
    return done_;
  }

 private:
  void Add(int* counter, int n) {
    absl::MutexLock lock(&mu_);
    *counter += n;
  }

  absl::Mutex mu_;
  int created_ ABSL_GUARDED_BY(mu_) = 0;
  int done_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<etcdserverpb::Event> events_ ABSL_GUARDED_BY(mu_);
};

// A loopback port bound but not listening, held for the test's life: connecting to it is refused
// and nobody else can take it meanwhile.
class ClosedPort {
 public:
  ClosedPort() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
  }
  ~ClosedPort() {
    if (fd_ >= 0) close(fd_);
  }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class EtcdClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<fleet::testing::EtcdProcess>> started =
        fleet::testing::EtcdProcess::Start();
    if (started.ok()) {
      etcd_ = started->release();
    } else {
      start_error_ = new absl::Status(started.status());
    }
  }
  static void TearDownTestSuite() {
    delete etcd_;
    etcd_ = nullptr;
    delete start_error_;
    start_error_ = nullptr;
  }

  void SetUp() override {
    if (start_error_ != nullptr && absl::IsNotFound(*start_error_)) {
      GTEST_SKIP() << "no etcd to test against: " << *start_error_;
    }
    ASSERT_NE(etcd_, nullptr) << *start_error_;
    client_ = std::make_unique<EtcdClient>(etcd_->endpoint());
  }

  // A key of this test's own.
  std::string Key(const std::string& suffix = "") const {
    return std::string("/etcd-client-test/") +
           ::testing::UnitTest::GetInstance()->current_test_info()->name() + suffix;
  }

  absl::StatusOr<std::unique_ptr<EtcdWatchStream>> Watch(WatchRecorder& recorder,
                                                         const std::string& key,
                                                         int64_t start_revision = 0) {
    return EtcdWatchStream::Open(client_->channel(), etcd_->endpoint(),
                                 {.key = key, .start_revision = start_revision},
                                 recorder.Callbacks());
  }

  static fleet::testing::EtcdProcess* etcd_;
  static absl::Status* start_error_;
  std::unique_ptr<EtcdClient> client_;
};

fleet::testing::EtcdProcess* EtcdClientTest::etcd_ = nullptr;
absl::Status* EtcdClientTest::start_error_ = nullptr;

// The etcd under test reports its version.
TEST_F(EtcdClientTest, ProcessReportsVersion) {
  EXPECT_TRUE(absl::StartsWith(etcd_->Version(), "3.")) << etcd_->Version();
}

// A Put's value comes back from Get, with the Put's revision as its mod revision.
TEST_F(EtcdClientTest, PutThenGetRoundTrips) {
  ASSERT_OK_AND_ASSIGN(int64_t first, client_->Put(Key(), "one"));
  ASSERT_OK_AND_ASSIGN(int64_t second, client_->Put(Key(), "two"));
  EXPECT_GT(first, 0);
  EXPECT_GT(second, first);
  ASSERT_OK_AND_ASSIGN(EtcdValue value, client_->Get(Key()));
  EXPECT_EQ(value.value, "two");
  EXPECT_EQ(value.mod_revision, second);
}

// A key that was never written is NOT_FOUND.
TEST_F(EtcdClientTest, GetOfMissingKeyIsNotFound) {
  absl::StatusOr<EtcdValue> value = client_->Get(Key("/never-written"));
  EXPECT_EQ(value.status().code(), absl::StatusCode::kNotFound) << value.status();
}

// etcd's own refusal keeps its code: an empty key is INVALID_ARGUMENT, naming etcd.
TEST_F(EtcdClientTest, EtcdErrorsKeepTheirCode) {
  absl::StatusOr<int64_t> revision = client_->Put("", "value");
  EXPECT_EQ(revision.status().code(), absl::StatusCode::kInvalidArgument) << revision.status();
  EXPECT_TRUE(absl::StrContains(revision.status().message(), "etcd at " + etcd_->endpoint()))
      << revision.status();
}

// A watch reports its creation, then a put made after it with the put's value and revision.
TEST_F(EtcdClientTest, WatchSeesLaterPut) {
  WatchRecorder recorder;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EtcdWatchStream> stream, Watch(recorder, Key()));
  ASSERT_OK(stream->WaitCreated(kWait));
  EXPECT_EQ(recorder.created(), 1);
  ASSERT_OK_AND_ASSIGN(int64_t revision, client_->Put(Key(), "after"));
  std::vector<etcdserverpb::Event> events = recorder.WaitForEvents(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type(), etcdserverpb::Event::PUT);
  EXPECT_EQ(events[0].kv().key(), Key());
  EXPECT_EQ(events[0].kv().value(), "after");
  EXPECT_EQ(events[0].kv().mod_revision(), revision);
}

// A watch from an old revision replays the puts made since, in order.
TEST_F(EtcdClientTest, WatchFromStartRevisionReplaysEarlierPuts) {
  ASSERT_OK_AND_ASSIGN(int64_t first, client_->Put(Key(), "a"));
  ASSERT_OK_AND_ASSIGN(int64_t second, client_->Put(Key(), "b"));
  WatchRecorder recorder;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EtcdWatchStream> stream, Watch(recorder, Key(), first));
  std::vector<etcdserverpb::Event> events = recorder.WaitForEvents(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kv().value(), "a");
  EXPECT_EQ(events[0].kv().mod_revision(), first);
  EXPECT_EQ(events[1].kv().value(), "b");
  EXPECT_EQ(events[1].kv().mod_revision(), second);
  EXPECT_OK(stream->WaitCreated(absl::ZeroDuration()));
}

// A cancelled stream ends CANCELLED, runs on_done once, and sees no later puts.
TEST_F(EtcdClientTest, CancelEndsTheStream) {
  WatchRecorder recorder;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EtcdWatchStream> stream, Watch(recorder, Key()));
  ASSERT_OK(stream->WaitCreated(kWait));
  EXPECT_FALSE(stream->Wait(absl::ZeroDuration()).has_value());
  stream->Cancel();
  std::optional<absl::Status> end = stream->Wait(kWait);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->code(), absl::StatusCode::kCancelled) << *end;
  EXPECT_EQ(recorder.done(), 1);
  stream->Cancel();  // harmless once ended
  ASSERT_OK(client_->Put(Key(), "unseen"));
  EXPECT_TRUE(recorder.WaitForEvents(0).empty());
}

// A destroyed stream has let go of its channel, even when it held the only reference: the channel
// is never left for gRPC's callback thread to release. Repeated, because a stream that left it
// there would still pass whenever that thread happened to be done first.
TEST_F(EtcdClientTest, DestroyedStreamHasReleasedItsChannel) {
  constexpr int kStreams = 20;
  for (int i = 0; i < kStreams; ++i) {
    std::shared_ptr<grpc::Channel> channel = NewEtcdChannel(etcd_->endpoint());
    const std::weak_ptr<grpc::Channel> watched = channel;
    WatchRecorder recorder;
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<EtcdWatchStream> stream,
                         EtcdWatchStream::Open(std::move(channel), etcd_->endpoint(),
                                               {.key = Key()}, recorder.Callbacks()));
    ASSERT_OK(stream->WaitCreated(kWait));
    stream.reset();
    EXPECT_EQ(recorder.done(), 1) << "stream " << i;
    EXPECT_TRUE(watched.expired()) << "stream " << i;
  }
}

// A watch on an empty key is refused before anything is sent.
TEST_F(EtcdClientTest, WatchOfEmptyKeyIsInvalid) {
  WatchRecorder recorder;
  absl::StatusOr<std::unique_ptr<EtcdWatchStream>> stream = Watch(recorder, "");
  EXPECT_EQ(stream.status().code(), absl::StatusCode::kInvalidArgument) << stream.status();
}

// Nothing listening: calls and watches fail UNAVAILABLE, naming etcd and the endpoint.
TEST(EtcdClientUnreachableTest, ClosedPortIsUnavailable) {
  ClosedPort closed;
  ASSERT_NE(closed.port(), 0);
  EtcdClient client(closed.endpoint());
  absl::StatusOr<int64_t> put = client.Put("/key", "value");
  EXPECT_EQ(put.status().code(), absl::StatusCode::kUnavailable) << put.status();
  EXPECT_TRUE(absl::StrContains(put.status().message(), "etcd at " + closed.endpoint()))
      << put.status();
  absl::StatusOr<EtcdValue> get = client.Get("/key");
  EXPECT_EQ(get.status().code(), absl::StatusCode::kUnavailable) << get.status();

  WatchRecorder recorder;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EtcdWatchStream> stream,
                       EtcdWatchStream::Open(client.channel(), closed.endpoint(), {.key = "/key"},
                                             recorder.Callbacks()));
  std::optional<absl::Status> end = stream->Wait(kWait);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->code(), absl::StatusCode::kUnavailable) << *end;
  EXPECT_TRUE(absl::StrContains(end->message(), "etcd at " + closed.endpoint())) << *end;
  EXPECT_EQ(stream->WaitCreated(absl::ZeroDuration()).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(recorder.created(), 0);
}

// A stopped etcd ends its watch streams and refuses calls; it wrote its log to the log file.
TEST_F(EtcdClientTest, StoppedEtcdEndsStreamsAndRefusesCalls) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<fleet::testing::EtcdProcess> other,
                       fleet::testing::EtcdProcess::Start());
  EtcdClient client(other->endpoint());
  ASSERT_OK(client.Put("/key", "value"));
  WatchRecorder recorder;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EtcdWatchStream> stream,
                       EtcdWatchStream::Open(client.channel(), other->endpoint(), {.key = "/key"},
                                             recorder.Callbacks()));
  ASSERT_OK(stream->WaitCreated(kWait));

  ASSERT_OK(other->Stop());
  std::optional<absl::Status> end = stream->Wait(kWait);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->code(), absl::StatusCode::kUnavailable) << *end;
  absl::StatusOr<int64_t> put = client.Put("/key", "again");
  EXPECT_EQ(put.status().code(), absl::StatusCode::kUnavailable) << put.status();
  EXPECT_GT(std::filesystem::file_size(other->log_path()), 0u);
}

// A small fan-out run: every watcher sees every round, one positive sample per round.
TEST_F(EtcdClientTest, FanoutMeasuresEveryRound) {
  ASSERT_OK_AND_ASSIGN(testing::EtcdFanoutResult result,
                       testing::MeasureEtcdFanout({.endpoint = etcd_->endpoint(),
                                                   .streams = 20,
                                                   .connections = 4,
                                                   .payload = "payload",
                                                   .rounds = 3,
                                                   .round_timeout = kWait,
                                                   .open_timeout = kWait,
                                                   .key = Key()}));
  ASSERT_EQ(result.round_seconds.size(), 3u);
  for (double seconds : result.round_seconds) EXPECT_GT(seconds, 0.0);
  EXPECT_GT(result.open_seconds, 0.0);
  EXPECT_EQ(result.error_count, 0) << (result.errors.empty() ? "" : result.errors.front());
  ASSERT_OK_AND_ASSIGN(EtcdValue last, client_->Get(Key()));
  EXPECT_EQ(last.value, "payload#00000002");
}

// The fan-out refuses counts it cannot run with.
TEST(EtcdFanoutTest, RejectsNonPositiveCounts) {
  absl::StatusOr<testing::EtcdFanoutResult> result =
      testing::MeasureEtcdFanout({.endpoint = "127.0.0.1:1", .streams = 0});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
}

}  // namespace
}  // namespace fleet::storage::etcd
