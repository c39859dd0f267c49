#include "storage/txn_planner.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/store.h"

namespace fleet::storage {
namespace {

absl::Status ValidateBranch(const std::vector<Op>& ops, const std::string& branch) {
  std::set<std::string_view> keys;
  std::vector<std::string_view> prefixes;
  for (size_t i = 0; i < ops.size(); ++i) {
    const Op& op = ops[i];
    auto where = [&] { return absl::StrCat(branch, " op ", i); };
    if (op.key.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where(), ": key must not be empty"));
    }
    if (op.key.size() > kMaxKeyBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), ": key is ", op.key.size(), " bytes; the limit is ", kMaxKeyBytes));
    }
    if (op.value.size() > kMaxValueBytes) {
      return absl::InvalidArgumentError(absl::StrCat(where(), ": value is ", op.value.size(),
                                                     " bytes; the limit is ", kMaxValueBytes));
    }
    if (op.type == Op::Type::kDeletePrefix) {
      prefixes.push_back(op.key);
    } else if (ops.size() > 1 && !keys.insert(op.key).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), ": key \"", op.key, "\" appears twice in one branch"));
    }
  }
  for (std::string_view prefix : prefixes) {
    for (std::string_view key : keys) {
      if (key.starts_with(prefix)) {
        return absl::InvalidArgumentError(
            absl::StrCat(branch, ": key \"", std::string(key), "\" is also deleted by prefix \"",
                         std::string(prefix), "\" in the same branch"));
      }
    }
  }
  return absl::OkStatus();
}

template <typename T>
bool CompareNumbers(T have, Compare::Op op, T want) {
  switch (op) {
    case Compare::Op::kEqual:
      return have == want;
    case Compare::Op::kNotEqual:
      return have != want;
    case Compare::Op::kLess:
      return have < want;
    case Compare::Op::kGreater:
      return have > want;
  }
  return false;
}

bool Holds(const Compare& compare, const std::optional<KeyValue>& kv) {
  switch (compare.target) {
    case Compare::Target::kVersion:
      return CompareNumbers<int64_t>(kv ? kv->version : 0, compare.op, compare.number);
    case Compare::Target::kCreateRevision:
      return CompareNumbers<int64_t>(kv ? kv->create_revision : 0, compare.op, compare.number);
    case Compare::Target::kModRevision:
      return CompareNumbers<int64_t>(kv ? kv->mod_revision : 0, compare.op, compare.number);
    case Compare::Target::kValue:
      return kv.has_value() &&
             CompareNumbers<std::string_view>(kv->value, compare.op, compare.value);
  }
  return false;
}

Event DeleteEvent(std::string key, int64_t revision) {
  Event event;
  event.type = Event::Type::kDelete;
  event.kv.key = std::move(key);
  event.kv.mod_revision = revision;
  return event;
}

}  // namespace

Compare Compare::Exists(std::string key) {
  return {.key = std::move(key), .target = Target::kVersion, .op = Op::kGreater, .number = 0};
}
Compare Compare::Missing(std::string key) {
  return {.key = std::move(key), .target = Target::kVersion, .op = Op::kEqual, .number = 0};
}
Compare Compare::ModRevisionIs(std::string key, int64_t revision) {
  return {
      .key = std::move(key), .target = Target::kModRevision, .op = Op::kEqual, .number = revision};
}
Compare Compare::VersionIs(std::string key, int64_t version) {
  return {.key = std::move(key), .target = Target::kVersion, .op = Op::kEqual, .number = version};
}
Compare Compare::ValueIs(std::string key, std::string value) {
  return {
      .key = std::move(key), .target = Target::kValue, .op = Op::kEqual, .value = std::move(value)};
}

Op Op::Put(std::string key, std::string value) {
  return {.type = Type::kPut, .key = std::move(key), .value = std::move(value)};
}
Op Op::PutWithLease(std::string key, std::string value, int64_t lease) {
  return {.type = Type::kPut, .key = std::move(key), .value = std::move(value), .lease = lease};
}
Op Op::Delete(std::string key) { return {.type = Type::kDelete, .key = std::move(key)}; }
Op Op::DeletePrefix(std::string prefix) {
  return {.type = Type::kDeletePrefix, .key = std::move(prefix)};
}

absl::Status ValidateTxn(const TxnRequest& request, bool leases) {
  if (!leases) {
    for (const std::vector<Op>* branch : {&request.success, &request.failure}) {
      for (const Op& op : *branch) {
        if (op.lease != 0) {
          return absl::InvalidArgumentError(
              "leases need a shared store (etcd); this one belongs to one fleetd");
        }
      }
    }
  }
  size_t ops = request.success.size() + request.failure.size();
  if (ops > kMaxOpsPerTxn) {
    return absl::InvalidArgumentError(
        absl::StrCat("transaction has ", ops, " ops; the limit is ", kMaxOpsPerTxn));
  }
  for (size_t i = 0; i < request.compares.size(); ++i) {
    const Compare& compare = request.compares[i];
    if (compare.key.empty() || compare.key.size() > kMaxKeyBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("compare ", i, ": key must be 1 to ", kMaxKeyBytes, " bytes"));
    }
  }
  if (absl::Status status = ValidateBranch(request.success, "success"); !status.ok()) {
    return status;
  }
  return ValidateBranch(request.failure, "failure");
}

absl::Status ValidateStateWrite(const std::vector<std::pair<std::string, std::string>>& puts,
                                const std::vector<std::string>& deletes) {
  if (puts.size() + deletes.size() > kMaxOpsPerTxn) {
    return absl::InvalidArgumentError(absl::StrCat("state write has ", puts.size() + deletes.size(),
                                                   " ops; the limit is ", kMaxOpsPerTxn));
  }
  auto check_key = [](const std::string& key) {
    return key.empty() || key.size() > kMaxKeyBytes
               ? absl::InvalidArgumentError(
                     absl::StrCat("state keys must be 1 to ", kMaxKeyBytes, " bytes"))
               : absl::OkStatus();
  };
  for (const auto& [key, value] : puts) {
    if (absl::Status s = check_key(key); !s.ok()) return s;
    if (value.size() > kMaxValueBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("state value is ", value.size(), " bytes; the limit is ", kMaxValueBytes));
    }
  }
  for (const std::string& key : deletes) {
    if (absl::Status s = check_key(key); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<TxnPlan> PlanTxn(const TxnRequest& request, int64_t revision, KeyReader& reader) {
  TxnPlan plan;
  plan.succeeded = true;
  for (const Compare& compare : request.compares) {
    absl::StatusOr<std::optional<KeyValue>> kv = reader.Get(compare.key);
    if (!kv.ok()) return kv.status();
    if (!Holds(compare, *kv)) {
      plan.succeeded = false;
      break;
    }
  }
  std::vector<Event>& events = plan.events;
  for (const Op& op : plan.succeeded ? request.success : request.failure) {
    if (op.type == Op::Type::kDeletePrefix) {
      absl::StatusOr<std::vector<std::string>> keys = reader.KeysWithPrefix(op.key);
      if (!keys.ok()) return keys.status();
      for (std::string& key : *keys) events.push_back(DeleteEvent(std::move(key), revision));
      continue;
    }
    absl::StatusOr<std::optional<KeyValue>> current = reader.Get(op.key);
    if (!current.ok()) return current.status();
    if (op.type == Op::Type::kDelete) {
      if (current->has_value()) events.push_back(DeleteEvent(op.key, revision));
      continue;
    }
    Event put;
    put.kv.key = op.key;
    put.kv.value = op.value;
    put.kv.mod_revision = revision;
    put.kv.create_revision = current->has_value() ? (*current)->create_revision : revision;
    put.kv.version = current->has_value() ? (*current)->version + 1 : 1;
    events.push_back(std::move(put));
  }
  // Key order; overlapping DeletePrefix ops may name a key twice (ValidateTxn rules out the rest).
  auto by_key = [](const Event& a, const Event& b) { return a.kv.key < b.kv.key; };
  std::sort(events.begin(), events.end(), by_key);
  events.erase(std::unique(events.begin(), events.end(),
                           [](const Event& a, const Event& b) { return a.kv.key == b.kv.key; }),
               events.end());
  return plan;
}

}  // namespace fleet::storage
