#include "storage/etcd/etcd_watch.h"

#include <grpcpp/client_context.h>
#include <grpcpp/support/client_callback.h>

#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "storage/errors.h"
#include "storage/etcd/etcd_api.grpc.pb.h"
#include "storage/etcd/etcd_client.h"

namespace fleet::storage::etcd {

class EtcdWatchStream::Reactor
    : public grpc::ClientBidiReactor<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse> {
 public:
  Reactor(std::shared_ptr<grpc::Channel> channel, std::string endpoint,
          const EtcdWatchOptions& options, EtcdWatchCallbacks callbacks)
      : channel_(std::move(channel)),
        endpoint_(std::move(endpoint)),
        key_(options.key),
        start_revision_(options.start_revision),
        callbacks_(std::move(callbacks)) {
    etcdserverpb::WatchCreateRequest& create = *create_request_.mutable_create_request();
    create.set_key(options.key);
    create.set_range_end(options.range_end);
    create.set_start_revision(options.start_revision);
    create.set_prev_kv(options.prev_kv);
    create.set_progress_notify(options.progress_notify);
    if (options.require_leader) context_.AddMetadata(kRequireLeaderKey, "true");
  }

  void Start() {
    etcdserverpb::Watch::NewStub(channel_)->async()->Watch(&context_, this);
    StartWrite(&create_request_);
    StartRead(&response_);
    StartCall();
  }

  void Cancel() {
    {
      absl::MutexLock lock(&mu_);
      if (done_) return;
      if (!end_status_.has_value()) {
        end_status_ = absl::CancelledError(
            absl::StrCat("etcd at ", endpoint_, ": Watch: cancelled by the client"));
      }
    }
    // Outside the lock: cancelling may run reactions on this thread.
    context_.TryCancel();
  }

  absl::Status WaitCreated(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(this, &Reactor::CreatedOrDone), timeout)) {
      return absl::DeadlineExceededError(
          absl::StrCat("etcd at ", endpoint_, ": the watch on \"", absl::CHexEscape(key_),
                       "\" was not created within ", absl::FormatDuration(timeout)));
    }
    if (created_) return absl::OkStatus();
    if (!final_status_.ok()) return final_status_;
    return absl::UnavailableError(
        absl::StrCat("etcd at ", endpoint_, ": Watch: the stream ended before the watch existed"));
  }

  std::optional<absl::Status> Wait(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithTimeout(absl::Condition(&done_), timeout)) return std::nullopt;
    return final_status_;
  }

  void WaitDone() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
  }

  // A failed write also fails the read in flight, and OnDone follows; nothing to do here.
  void OnWriteDone(bool /*ok*/) override {}

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream is over; OnDone follows
    if (response_.canceled()) {
      EndWith(CanceledByEtcd(response_));
      return;
    }
    if (response_.created()) {
      // The callback first, so that whoever WaitCreated() releases sees what it did.
      if (callbacks_.on_created) callbacks_.on_created(response_);
      absl::MutexLock lock(&mu_);
      created_ = true;
    } else if (callbacks_.on_events) {
      callbacks_.on_events(response_);
    }
    StartRead(&response_);
  }

  // Setting done_ is the last thing it does with the reactor: the handle's destructor may delete
  // the reactor as soon as it sees done_.
  void OnDone(const grpc::Status& status) override {
    absl::Status final_status;
    {
      absl::MutexLock lock(&mu_);
      final_status = end_status_.value_or(EtcdCallStatus(status, endpoint_, "Watch"));
    }
    if (callbacks_.on_done) callbacks_.on_done(final_status);
    absl::MutexLock lock(&mu_);
    final_status_ = std::move(final_status);
    done_ = true;
  }

 private:
  bool CreatedOrDone() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return created_ || done_; }

  // The status for etcd's cancellation of the watch.
  absl::Status CanceledByEtcd(const etcdserverpb::WatchResponse& response) const {
    if (response.compact_revision() != 0) {
      // etcd names the oldest revision it still has; the Store's compaction point is the one
      // before it.
      return CompactedError(start_revision_ - 1, response.compact_revision() - 1);
    }
    return absl::AbortedError(absl::StrCat(
        "etcd at ", endpoint_, ": Watch: etcd cancelled the watch: ", response.cancel_reason()));
  }

  // Ends the stream; OnDone reports `status` rather than the cancellation's own.
  void EndWith(absl::Status status) {
    {
      absl::MutexLock lock(&mu_);
      if (!end_status_.has_value()) end_status_ = std::move(status);
    }
    context_.TryCancel();
  }

  const std::shared_ptr<grpc::Channel> channel_;
  const std::string endpoint_;
  const std::string key_;
  const int64_t start_revision_;
  const EtcdWatchCallbacks callbacks_;

  // Owned by gRPC's reactions (one at a time), or set before the call starts.
  grpc::ClientContext context_;
  etcdserverpb::WatchRequest create_request_;
  etcdserverpb::WatchResponse response_;

  absl::Mutex mu_;
  bool created_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  // Why the stream is being ended on our side, when it is: it wins over gRPC's CANCELLED.
  std::optional<absl::Status> end_status_ ABSL_GUARDED_BY(mu_);
  absl::Status final_status_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<std::unique_ptr<EtcdWatchStream>> EtcdWatchStream::Open(
    std::shared_ptr<grpc::Channel> channel, std::string endpoint, EtcdWatchOptions options,
    EtcdWatchCallbacks callbacks) {
  if (options.key.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("etcd at ", endpoint, ": Watch: the key must not be empty"));
  }
  auto reactor = std::make_unique<Reactor>(std::move(channel), std::move(endpoint), options,
                                           std::move(callbacks));
  reactor->Start();
  return std::unique_ptr<EtcdWatchStream>(new EtcdWatchStream(std::move(reactor)));
}

EtcdWatchStream::EtcdWatchStream(std::unique_ptr<Reactor> reactor) : reactor_(std::move(reactor)) {}

EtcdWatchStream::~EtcdWatchStream() {
  reactor_->Cancel();
  reactor_->WaitDone();
  // reactor_ goes now, on this thread, and with it the channel references that it and its
  // ClientContext hold; see the header for why never on a gRPC thread.
}

absl::Status EtcdWatchStream::WaitCreated(absl::Duration timeout) {
  return reactor_->WaitCreated(timeout);
}

void EtcdWatchStream::Cancel() { reactor_->Cancel(); }

std::optional<absl::Status> EtcdWatchStream::Wait(absl::Duration timeout) {
  return reactor_->Wait(timeout);
}

}  // namespace fleet::storage::etcd
