#include "storage/etcd/etcd_store.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/etcd/etcd_watcher.h"
#include "storage/range_util.h"
#include "storage/txn_planner.h"

namespace fleet::storage::etcd {
namespace {

using Kind = EtcdConnection::Kind;

// Keys per page when a listing without a limit is read in pages.
constexpr int64_t kListPage = 1000;

etcdserverpb::Compare ToEtcd(const EtcdKeyspace& keyspace, const Compare& compare) {
  etcdserverpb::Compare out;
  out.set_key(keyspace.KvKey(compare.key));
  switch (compare.op) {
    case Compare::Op::kEqual:
      out.set_result(etcdserverpb::Compare::EQUAL);
      break;
    case Compare::Op::kNotEqual:
      out.set_result(etcdserverpb::Compare::NOT_EQUAL);
      break;
    case Compare::Op::kLess:
      out.set_result(etcdserverpb::Compare::LESS);
      break;
    case Compare::Op::kGreater:
      out.set_result(etcdserverpb::Compare::GREATER);
      break;
  }
  switch (compare.target) {
    case Compare::Target::kVersion:
      out.set_target(etcdserverpb::Compare::VERSION);
      out.set_version(compare.number);
      break;
    case Compare::Target::kCreateRevision:
      out.set_target(etcdserverpb::Compare::CREATE);
      out.set_create_revision(compare.number);
      break;
    case Compare::Target::kModRevision:
      out.set_target(etcdserverpb::Compare::MOD);
      out.set_mod_revision(compare.number);
      break;
    case Compare::Target::kValue:
      out.set_target(etcdserverpb::Compare::VALUE);
      out.set_value(compare.value);
      break;
  }
  return out;
}

etcdserverpb::RequestOp ToEtcd(const EtcdKeyspace& keyspace, const Op& op) {
  etcdserverpb::RequestOp out;
  switch (op.type) {
    case Op::Type::kPut: {
      etcdserverpb::PutRequest& put = *out.mutable_request_put();
      put.set_key(keyspace.KvKey(op.key));
      put.set_value(op.value);
      put.set_lease(op.lease);
      break;
    }
    case Op::Type::kDelete:
      out.mutable_request_delete_range()->set_key(keyspace.KvKey(op.key));
      break;
    case Op::Type::kDeletePrefix: {
      etcdserverpb::DeleteRangeRequest& del = *out.mutable_request_delete_range();
      del.set_key(keyspace.KvKey(op.key));
      del.set_range_end(PrefixEnd(del.key()));
      break;
    }
  }
  return out;
}

// Whether the applied branch changed a key (a put, or a delete that found something).
bool Changed(const etcdserverpb::TxnResponse& response) {
  return std::any_of(response.responses().begin(), response.responses().end(),
                     [](const etcdserverpb::ResponseOp& op) {
                       return op.has_response_put() || (op.has_response_delete_range() &&
                                                        op.response_delete_range().deleted() > 0);
                     });
}

class EtcdStore final : public Store {
 public:
  EtcdStore(std::shared_ptr<EtcdStoreState> state, const EtcdStoreOptions& options)
      : state_(std::move(state)),
        max_txn_ops_(options.max_txn_ops),
        max_request_bytes_(options.max_request_bytes) {}

  ~EtcdStore() override { state_->closed.store(true); }

  absl::StatusOr<std::optional<KeyValue>> Get(std::string_view key) override {
    etcdserverpb::RangeRequest request;
    request.set_key(keyspace().KvKey(key));
    absl::StatusOr<etcdserverpb::RangeResponse> response = Range("Range", request);
    if (!response.ok()) return response.status();
    if (response->kvs().empty()) return std::nullopt;
    return keyspace().ToStore(response->kvs(0));
  }

  absl::StatusOr<RangeResult> Range(const RangeRequest& request) override {
    absl::StatusOr<std::string> start = RangeStartKey(request);
    if (!start.ok()) return start.status();
    const std::string end = PrefixEnd(keyspace().KvKey(request.prefix));
    RangeResult result;
    absl::Status status = List(
        keyspace().KvKey(*start), end, request.limit,
        [&](const etcdserverpb::KeyValue& kv) { result.kvs.push_back(keyspace().ToStore(kv)); },
        &result.revision, &result.continuation);
    if (!status.ok()) return status;
    if (!result.continuation.empty()) result.continuation = result.kvs.back().key;
    return result;
  }

  absl::StatusOr<TxnResult> Txn(const TxnRequest& request) override {
    if (absl::Status s = ValidateTxn(request, /*leases=*/true); !s.ok()) return s;
    for (const auto& [branch, ops] :
         {std::pair{"success", &request.success}, std::pair{"failure", &request.failure}}) {
      if (ops->size() > max_txn_ops_) {
        return absl::InvalidArgumentError(absl::StrCat(
            "the transaction's ", branch, " branch has ", ops->size(), " ops; etcd takes at most ",
            max_txn_ops_, " (its --max-txn-ops; raise both it and fleetd's --etcd-max-txn-ops)"));
      }
    }
    etcdserverpb::TxnRequest txn;
    for (const Compare& compare : request.compares) {
      *txn.add_compare() = ToEtcd(keyspace(), compare);
    }
    for (const Op& op : request.success) *txn.add_success() = ToEtcd(keyspace(), op);
    for (const Op& op : request.failure) *txn.add_failure() = ToEtcd(keyspace(), op);
    absl::StatusOr<etcdserverpb::TxnResponse> response = Commit(txn);
    if (!response.ok()) return response.status();
    TxnResult result{.succeeded = response->succeeded()};
    if (Changed(*response)) {
      result.revision = response->header().revision();
      state_->SawRevision(result.revision);
    } else {
      result.revision = CurrentRevision();
    }
    return result;
  }

  absl::StatusOr<std::unique_ptr<Watcher>> Watch(std::string_view prefix,
                                                 int64_t after_revision) override {
    absl::StatusOr<std::unique_ptr<EtcdWatcher>> watcher =
        EtcdWatcher::Start(state_, std::string(prefix), after_revision);
    if (!watcher.ok()) return watcher.status();
    return std::unique_ptr<Watcher>(*std::move(watcher));
  }

  absl::Status Compact(int64_t revision) override {
    if (revision > CurrentRevision()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot compact at ", revision, ": the current revision is ", CurrentRevision()));
    }
    if (revision <= CompactRevision()) return absl::OkStatus();
    // The Store's Compact(R) drops R itself: etcd's compaction at R + 1. When R is etcd's newest
    // revision, etcd can only compact at R, which keeps R's entry a little longer.
    absl::Status status = CompactEtcd(revision + 1);
    if (absl::StrContains(status.message(), "future revision")) status = CompactEtcd(revision);
    if (!status.ok() && !absl::StrContains(status.message(), "has been compacted")) return status;
    state_->SawCompaction(revision);
    return absl::OkStatus();
  }

  bool Shared() const override { return true; }
  size_t MaxTxnOps() const override { return max_txn_ops_; }
  // Room is left for each op's framing, which callers do not count.
  size_t MaxTxnBytes() const override { return max_request_bytes_ / 4 * 3; }

  absl::StatusOr<int64_t> GrantLease(absl::Duration ttl) override {
    etcdserverpb::LeaseGrantRequest request;
    request.set_ttl(std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(ttl, absl::Seconds(1)))));
    etcdserverpb::LeaseGrantResponse response;
    // A lease granted by an attempt whose answer was lost is never used and expires by itself.
    absl::Status status = state_->connection->Call(
        "LeaseGrant", Kind::kRead,
        [&](const EtcdConnection::Stubs& stubs, grpc::ClientContext& context) {
          return stubs.lease.LeaseGrant(&context, request, &response);
        });
    if (!status.ok()) return status;
    if (!response.error().empty()) {
      return absl::InternalError(absl::StrCat("etcd: LeaseGrant: ", response.error()));
    }
    return response.id();
  }

  absl::Status KeepAliveLease(int64_t lease) override {
    etcdserverpb::LeaseKeepAliveResponse response;
    absl::Status status = state_->connection->Call(
        "LeaseKeepAlive", Kind::kRead,
        [&](const EtcdConnection::Stubs& stubs, grpc::ClientContext& context) {
          auto stream = stubs.lease.LeaseKeepAlive(&context);
          etcdserverpb::LeaseKeepAliveRequest request;
          request.set_id(lease);
          if (stream->Write(request) && stream->Read(&response)) {
            stream->WritesDone();
            context.TryCancel();  // one renewal per call; the stream is done with
            return grpc::Status::OK;
          }
          return stream->Finish();
        });
    if (!status.ok()) return status;
    if (response.ttl() <= 0) {
      return absl::NotFoundError(absl::StrCat("etcd lease ", absl::Hex(lease), " has ended"));
    }
    return absl::OkStatus();
  }

  absl::Status RevokeLease(int64_t lease) override {
    etcdserverpb::LeaseRevokeRequest request;
    request.set_id(lease);
    absl::Status status = state_->connection->Call(
        "LeaseRevoke", Kind::kRead,
        [&](const EtcdConnection::Stubs& stubs, grpc::ClientContext& context) {
          etcdserverpb::LeaseRevokeResponse response;
          return stubs.lease.LeaseRevoke(&context, request, &response);
        });
    if (absl::IsNotFound(status)) return absl::OkStatus();  // it had ended already
    return status;
  }

  int64_t CurrentRevision() override { return state_->head.load(); }
  int64_t CompactRevision() override { return state_->compacted.load(); }

  absl::Status PutState(const std::vector<std::pair<std::string, std::string>>& puts,
                        const std::vector<std::string>& deletes) override {
    if (absl::Status s = ValidateStateWrite(puts, deletes); !s.ok()) return s;
    // etcd refuses a key twice in one transaction: the last write of each key wins, deletes
    // after puts, as on the other backends.
    std::map<std::string, std::optional<std::string>> writes;
    for (const auto& [key, value] : puts) writes.insert_or_assign(key, value);
    for (const std::string& key : deletes) writes.insert_or_assign(key, std::nullopt);
    etcdserverpb::TxnRequest batch;
    for (const auto& [key, value] : writes) {
      etcdserverpb::RequestOp op;
      if (value.has_value()) {
        op.mutable_request_put()->set_key(keyspace().StateKey(key));
        op.mutable_request_put()->set_value(*value);
      } else {
        op.mutable_request_delete_range()->set_key(keyspace().StateKey(key));
      }
      const size_t op_bytes = op.ByteSizeLong() + 8;
      if (op_bytes > max_request_bytes_) {
        return absl::InvalidArgumentError(absl::StrCat(
            "state key ", key.substr(0, 64), " with its value is ", op_bytes,
            " bytes; etcd takes requests of at most ", max_request_bytes_,
            " (its --max-request-bytes; raise both it and fleetd's --etcd-max-request-bytes)"));
      }
      if (batch.success_size() > 0 && (static_cast<size_t>(batch.success_size()) >= max_txn_ops_ ||
                                       batch.ByteSizeLong() + op_bytes > max_request_bytes_)) {
        if (absl::Status s = Commit(batch).status(); !s.ok()) return s;
        batch.Clear();
      }
      *batch.add_success() = std::move(op);
    }
    if (batch.success_size() == 0) return absl::OkStatus();
    return Commit(batch).status();
  }

  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> RangeState(
      std::string_view prefix) override {
    const std::string begin = keyspace().StateKey(prefix);
    std::vector<std::pair<std::string, std::string>> found;
    absl::Status status = List(begin, PrefixEnd(begin), 0, [&](const etcdserverpb::KeyValue& kv) {
      found.emplace_back(kv.key().substr(keyspace().state_prefix().size()), kv.value());
    });
    if (!status.ok()) return status;
    return found;
  }

 private:
  const EtcdKeyspace& keyspace() const { return state_->keyspace; }

  absl::StatusOr<etcdserverpb::RangeResponse> Range(absl::string_view call,
                                                    const etcdserverpb::RangeRequest& request) {
    etcdserverpb::RangeResponse response;
    absl::Status status = state_->connection->Call(
        call, Kind::kRead, [&](const EtcdConnection::Stubs& stubs, grpc::ClientContext& context) {
          response.Clear();
          return stubs.kv.Range(&context, request, &response);
        });
    if (!status.ok()) return status;
    return response;
  }

  // Reads [begin, end) in key order: at most `limit` keys (0: all of them, in pages read at one
  // revision). Sets `revision` to the revision read at and `more` to a non-empty string when
  // keys beyond the limit exist.
  template <typename OnKey>
  absl::Status List(std::string begin, const std::string& end, int64_t limit, OnKey on_key,
                    int64_t* revision = nullptr, std::string* more = nullptr) {
    int64_t at = 0;
    for (;;) {
      etcdserverpb::RangeRequest request;
      request.set_key(begin);
      request.set_range_end(end);
      request.set_limit(limit > 0 ? limit : kListPage);
      request.set_revision(at);
      absl::StatusOr<etcdserverpb::RangeResponse> response = Range("Range", request);
      if (!response.ok()) return response.status();
      if (at == 0) at = response->header().revision();
      for (const etcdserverpb::KeyValue& kv : response->kvs()) on_key(kv);
      if (!response->more() || response->kvs().empty()) break;
      if (limit > 0) {
        if (more != nullptr) *more = "more";
        break;
      }
      begin = response->kvs(response->kvs_size() - 1).key();
      begin.push_back('\0');
    }
    if (revision != nullptr) *revision = at;
    return absl::OkStatus();
  }

  absl::StatusOr<etcdserverpb::TxnResponse> Commit(const etcdserverpb::TxnRequest& txn) {
    if (const size_t bytes = txn.ByteSizeLong(); bytes > max_request_bytes_) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the transaction is ", bytes, " bytes; etcd takes requests of at most ",
          max_request_bytes_,
          " (its --max-request-bytes; raise both it and fleetd's --etcd-max-request-bytes)"));
    }
    etcdserverpb::TxnResponse response;
    absl::Status status = state_->connection->Call(
        "Txn", Kind::kWrite, [&](const EtcdConnection::Stubs& stubs, grpc::ClientContext& context) {
          response.Clear();
          return stubs.kv.Txn(&context, txn, &response);
        });
    if (!status.ok()) return status;
    return response;
  }

  absl::Status CompactEtcd(int64_t revision) {
    etcdserverpb::CompactionRequest request;
    request.set_revision(revision);
    request.set_physical(true);
    // Compacting again at the same revision changes nothing: retried like a read.
    return state_->connection->Call(
        "Compact", Kind::kRead,
        [&](const EtcdConnection::Stubs& stubs, grpc::ClientContext& context) {
          etcdserverpb::CompactionResponse response;
          return stubs.kv.Compact(&context, request, &response);
        });
  }

  const std::shared_ptr<EtcdStoreState> state_;
  const size_t max_txn_ops_;
  const size_t max_request_bytes_;
};

// The oldest revision etcd can still read (its compaction point; 1 when never compacted), found
// by bisecting reads at old revisions: etcd names no compaction point in any answer.
absl::StatusOr<int64_t> OldestReadable(EtcdConnection& connection, const EtcdKeyspace& keyspace,
                                       int64_t current) {
  auto readable = [&](int64_t revision) -> absl::StatusOr<bool> {
    etcdserverpb::RangeRequest request;
    request.set_key(keyspace.kv_begin());
    request.set_count_only(true);
    request.set_revision(revision);
    absl::Status status =
        connection.Call("Range", Kind::kRead,
                        [&](const EtcdConnection::Stubs& stubs, grpc::ClientContext& context) {
                          etcdserverpb::RangeResponse response;
                          return stubs.kv.Range(&context, request, &response);
                        });
    if (status.ok()) return true;
    if (absl::StrContains(status.message(), "has been compacted")) return false;
    return status;
  };
  int64_t low = 1, high = current;  // high is always readable
  absl::StatusOr<bool> first = readable(low);
  if (!first.ok()) return first.status();
  if (*first) return low;
  while (high - low > 1) {
    const int64_t mid = low + (high - low) / 2;
    absl::StatusOr<bool> ok = readable(mid);
    if (!ok.ok()) return ok.status();
    (*ok ? high : low) = mid;
  }
  return high;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenEtcdStore(const EtcdStoreOptions& options) {
  if (options.max_txn_ops == 0 || options.max_request_bytes == 0) {
    return absl::InvalidArgumentError("etcd: max_txn_ops and max_request_bytes must be positive");
  }
  absl::StatusOr<std::unique_ptr<EtcdConnection>> connection =
      EtcdConnection::Open(options.connection);
  if (!connection.ok()) return connection.status();
  EtcdKeyspace keyspace(options.key_prefix);
  etcdserverpb::RangeRequest probe;
  probe.set_key(keyspace.kv_begin());
  probe.set_range_end(keyspace.kv_end());
  probe.set_count_only(true);
  etcdserverpb::RangeResponse response;
  absl::Status status =
      (*connection)
          ->Call("Range", Kind::kRead,
                 [&](const EtcdConnection::Stubs& stubs, grpc::ClientContext& context) {
                   return stubs.kv.Range(&context, probe, &response);
                 });
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "cannot reach etcd at ", (*connection)->endpoint_list(), ": ", status.message()));
  }
  const int64_t current = response.header().revision();
  absl::StatusOr<int64_t> oldest = OldestReadable(**connection, keyspace, current);
  if (!oldest.ok()) return oldest.status();
  auto state =
      std::make_shared<EtcdStoreState>(*std::move(connection), std::move(keyspace), options.store);
  state->head.store(current);
  state->compacted.store(*oldest - 1);
  return std::unique_ptr<Store>(new EtcdStore(std::move(state), options));
}

}  // namespace fleet::storage::etcd
