#include "server/control/action_engine.h"

#include <algorithm>
#include <numeric>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "fleet/v1/agent.pb.h"
#include "google/protobuf/util/time_util.h"
#include "server/control/action_states.h"
#include "server/model/record_io.h"
#include "server/model/store_layout.h"

namespace fleet::server {
namespace {

using google::protobuf::util::TimeUtil;

absl::Time TimeOf(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(timestamp));
}

// Where target `i` of `n` may start.
absl::Time StartOf(absl::Time created_at, absl::Duration rollout, size_t i, size_t n) {
  if (n == 0 || rollout <= absl::ZeroDuration()) return created_at;
  return created_at + rollout * static_cast<int64_t>(i) / static_cast<int64_t>(n);
}

MailPtr MakeMail(Mail::Kind kind, const std::string& id, const v1::ServerMessage& message,
                 absl::Time expires_at, MailSender* sender) {
  return std::make_shared<const Mail>(
      Mail{.kind = kind,
           .id = id,
           .bytes = std::make_shared<const std::string>(message.SerializeAsString()),
           .expires_at = expires_at,
           .sender = sender});
}

}  // namespace

ActionEngine::ActionEngine(storage::Store& store, Clock& clock, AgentMailbox& mailbox,
                           ActionEngineOptions options)
    : store_(store),
      clock_(clock),
      shared_(store.Shared()),
      mailbox_(mailbox),
      options_(options),
      writer_(store, options.flush_interval, options.unsettled_hold) {}

ActionEngine::~ActionEngine() { Stop(); }

absl::Status ActionEngine::Start(absl::Duration sync_timeout) {
  absl::StatusOr<StoredActionResults> restored = LoadActionResults(store_);
  if (!restored.ok()) return restored.status();
  {
    absl::MutexLock lock(&mu_);
    restored_ = *std::move(restored);
  }
  reflector_ = std::make_unique<storage::Reflector>(
      store_, static_cast<storage::ReflectorHandler&>(*this),
      storage::ReflectorOptions{.name = "action engine", .prefix = layout::kActionKeys});
  timer_ = std::thread([this] { RunTimer(); });
  if (!reflector_->WaitSynced(sync_timeout)) {
    return absl::UnavailableError("the action engine could not list the store's actions");
  }
  return absl::OkStatus();
}

void ActionEngine::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  reflector_.reset();
  if (timer_.joinable()) timer_.join();
  writer_.Stop();
}

bool ActionEngine::WaitForRevision(int64_t revision, absl::Duration timeout) {
  return reflector_ != nullptr && reflector_->WaitForRevision(revision, timeout);
}

void ActionEngine::Replace(const std::vector<storage::KeyValue>& kvs, int64_t) {
  MailOps ops;
  {
    absl::MutexLock lock(&mu_);
    // What a listing splits across pages comes whole in this one: start staging afresh.
    staged_.clear();
    std::set<std::string> listed;
    std::vector<std::string> touched;
    for (const storage::KeyValue& kv : kvs) {
      if (absl::StartsWith(kv.key, layout::kActions)) {
        listed.insert(kv.key.substr(sizeof(layout::kActions) - 1));
      }
      Take(kv, touched, ops, /*listing=*/true);
    }
    std::vector<std::string> gone;
    for (const auto& [id, entry] : actions_) {
      if (!listed.contains(id)) gone.push_back(id);
    }
    for (const std::string& id : gone) Drop(id, ops);
    for (const std::string& id : touched) TryMaterialize(id, ops);
    // Only the actions of the first listing have results stored before this fleetd started.
    restored_.clear();
  }
  Run(ops);
}

void ActionEngine::Apply(const storage::WatchBatch& batch) {
  MailOps ops;
  {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> touched;
    for (const storage::Event& event : batch.events) {
      if (event.type == storage::Event::Type::kDelete) {
        if (absl::StartsWith(event.kv.key, layout::kActions)) {
          const std::string id = event.kv.key.substr(sizeof(layout::kActions) - 1);
          Drop(id, ops);
          staged_.erase(id);
        }
        continue;
      }
      Take(event.kv, touched, ops, /*listing=*/false);
    }
    for (const std::string& id : touched) TryMaterialize(id, ops);
  }
  Run(ops);
}

void ActionEngine::Take(const storage::KeyValue& kv, std::vector<std::string>& touched,
                        MailOps& ops, bool listing) {
  if (absl::StartsWith(kv.key, layout::kActions)) {
    const std::string id = kv.key.substr(sizeof(layout::kActions) - 1);
    absl::StatusOr<StoredRecord<record::ActionRecord>> stored =
        ParseRecord<record::ActionRecord>(kv);
    if (!stored.ok()) return;  // logged by ParseRecord
    if (auto it = actions_.find(id); it != actions_.end()) {
      UpdateHead(*it->second, stored->record, ops);
      return;
    }
    staged_[id].head = std::move(stored->record);
    touched.push_back(id);
    return;
  }
  if (shared_ && absl::StartsWith(kv.key, layout::kActionResults)) {
    std::optional<StoredResult> stored = ParseStoredResult(kv.key, kv.value, "skipped");
    if (!stored.has_value()) return;
    const std::string& id = stored->action_id;
    const std::string& agent_id = stored->agent_id;
    record::ActionResultRecord& result = stored->result;
    auto it = actions_.find(id);
    if (it == actions_.end()) {
      // A listing sorts results before their actions: kept for when the action is complete
      // (Replace drops what is left). Watched, a result comes after its action, so one of an
      // action not known is of one gone.
      if (listing) restored_[id][agent_id] = std::move(result);
      return;
    }
    if (auto index = it->second->index.find(agent_id); index != it->second->index.end()) {
      TakeStoredResult(*it->second, index->second, result, ops);
    }
    return;
  }
  if (!absl::StartsWith(kv.key, layout::kActionTargets)) return;
  const std::string rest = kv.key.substr(sizeof(layout::kActionTargets) - 1);
  const size_t slash = rest.find('/');
  int chunk = 0;
  if (slash == std::string::npos || !absl::SimpleAtoi(rest.substr(slash + 1), &chunk)) return;
  const std::string id = rest.substr(0, slash);
  if (actions_.contains(id)) return;  // the targets of an action never change
  absl::StatusOr<StoredRecord<record::ActionTargetChunk>> stored =
      ParseRecord<record::ActionTargetChunk>(kv);
  if (!stored.ok()) return;
  std::vector<std::string>& ids = staged_[id].chunks[chunk];
  ids.assign(stored->record.agent_ids().begin(), stored->record.agent_ids().end());
  touched.push_back(id);
}

void ActionEngine::TryMaterialize(const std::string& id, MailOps& ops) {
  auto staged = staged_.find(id);
  if (staged == staged_.end() || !staged->second.head.has_value() ||
      static_cast<int>(staged->second.chunks.size()) < staged->second.head->target_chunks()) {
    return;
  }
  const record::ActionRecord& head = *staged->second.head;
  auto entry = std::make_unique<Entry>();
  entry->action = head.action();
  entry->action.clear_counts();
  entry->action.clear_done();
  entry->created_at = TimeOf(head.action().created_at());
  entry->expires_at = TimeOf(head.action().expires_at());
  entry->rollout =
      absl::Microseconds(TimeUtil::DurationToMicroseconds(head.action().rollout_duration()));
  for (auto& [number, ids] : staged->second.chunks) {
    for (std::string& agent_id : ids) {
      if (entry->index.contains(agent_id)) continue;  // each agent is one target
      entry->index.emplace(agent_id, static_cast<uint32_t>(entry->agent_ids.size()));
      entry->agent_ids.push_back(std::move(agent_id));
    }
  }
  staged_.erase(staged);
  const size_t n = entry->agent_ids.size();
  entry->targets.resize(n);
  entry->counts[v1::ACTION_TARGET_PENDING] = static_cast<int64_t>(n);
  entry->by_id.resize(n);
  std::iota(entry->by_id.begin(), entry->by_id.end(), 0u);
  if (!std::is_sorted(entry->agent_ids.begin(), entry->agent_ids.end())) {
    std::sort(entry->by_id.begin(), entry->by_id.end(),
              [&e = *entry](uint32_t a, uint32_t b) { return e.agent_ids[a] < e.agent_ids[b]; });
  }
  if (auto restored = restored_.find(id); restored != restored_.end()) {
    for (const auto& [agent_id, result] : restored->second) {
      auto it = entry->index.find(agent_id);
      if (it == entry->index.end() || result.state() <= v1::ACTION_TARGET_STATE_UNSPECIFIED ||
          static_cast<size_t>(result.state()) >= kStates) {
        continue;
      }
      Target& target = entry->targets[it->second];
      --entry->counts[target.state];
      target.state = static_cast<uint8_t>(result.state());
      ++entry->counts[target.state];
      target.progress = static_cast<int8_t>(std::clamp(result.progress_percent(), 0, 100));
      target.updated_us = result.updated_unix_micros();
      if (!result.message().empty() || !result.output().empty()) {
        entry->details[it->second] = Detail{result.message(), result.output()};
      }
    }
    restored_.erase(restored);
  }

  v1::ServerMessage message;
  v1::AgentAction& action = *message.mutable_action();
  action.set_id(id);
  action.set_type(entry->action.type());
  action.set_arguments_json(
      entry->action.arguments_json().empty() ? "{}" : entry->action.arguments_json());
  *action.mutable_not_before() = entry->action.created_at();
  *action.mutable_expires_at() = entry->action.expires_at();
  entry->mail = MakeMail(Mail::Kind::kAction, id, message, entry->expires_at, this);
  v1::ServerMessage cancel;
  cancel.mutable_action_cancel()->set_id(id);
  entry->cancel_mail = MakeMail(Mail::Kind::kActionCancel, id, cancel, entry->expires_at, this);

  Entry& e = *entry;
  actions_[id] = std::move(entry);
  const absl::Time now = clock_.Now();
  if (e.action.has_cancelled_at()) ApplyCancel(e, ops);
  if (now >= e.expires_at) ApplyExpiry(e, ops);
  if (e.cancel_applied || e.expiry_applied) return;
  std::vector<std::pair<std::string, absl::Time>> recipients;
  recipients.reserve(n);
  const bool spread = e.rollout > absl::ZeroDuration();
  for (size_t i = 0; i < n; ++i) {
    if (IsFinalTargetState(e.targets[i].state)) continue;
    recipients.emplace_back(e.agent_ids[i],
                            spread ? StartOf(e.created_at, e.rollout, i, n) : absl::InfinitePast());
  }
  if (!recipients.empty()) ops.posts.emplace_back(e.mail, std::move(recipients));
}

void ActionEngine::UpdateHead(Entry& entry, const record::ActionRecord& head, MailOps& ops) {
  if (head.action().has_cancelled_at() && !entry.action.has_cancelled_at()) {
    *entry.action.mutable_cancelled_at() = head.action().cancelled_at();
    ApplyCancel(entry, ops);
  }
}

void ActionEngine::ApplyCancel(Entry& entry, MailOps& ops) {
  if (entry.cancel_applied) return;
  entry.cancel_applied = true;
  ++entry.version;
  const std::string& id = entry.action.id();
  const absl::Time now = clock_.Now();
  std::vector<std::pair<std::string, absl::Time>> cancels;
  for (uint32_t i = 0; i < entry.targets.size(); ++i) {
    Target& target = entry.targets[i];
    if (IsFinalTargetState(target.state)) continue;
    ops.removes.push_back({entry.agent_ids[i], {Mail::Kind::kAction, id}});
    if (target.state == v1::ACTION_TARGET_PENDING) {
      target.cancelled_undelivered = true;
      SetState(id, entry, i, v1::ACTION_TARGET_CANCELLED, now, /*derived=*/true);
    } else {
      cancels.emplace_back(entry.agent_ids[i], absl::InfinitePast());
    }
  }
  if (!cancels.empty()) ops.posts.emplace_back(entry.cancel_mail, std::move(cancels));
}

void ActionEngine::ApplyExpiry(Entry& entry, MailOps& ops) {
  if (entry.expiry_applied) return;
  entry.expiry_applied = true;
  if (entry.done()) return;
  ++entry.version;
  const std::string& id = entry.action.id();
  const absl::Time now = clock_.Now();
  for (uint32_t i = 0; i < entry.targets.size(); ++i) {
    if (IsFinalTargetState(entry.targets[i].state)) continue;
    ops.removes.push_back({entry.agent_ids[i], {Mail::Kind::kAction, id}});
    if (entry.cancel_applied) {
      ops.removes.push_back({entry.agent_ids[i], {Mail::Kind::kActionCancel, id}});
    }
    SetState(id, entry, i, v1::ACTION_TARGET_EXPIRED, now, /*derived=*/true);
  }
}

void ActionEngine::Drop(const std::string& id, MailOps& ops) {
  auto it = actions_.find(id);
  if (it == actions_.end()) return;
  const Entry& entry = *it->second;
  for (uint32_t i = 0; i < entry.targets.size(); ++i) {
    if (IsFinalTargetState(entry.targets[i].state)) continue;
    ops.removes.push_back({entry.agent_ids[i], {Mail::Kind::kAction, id}});
    ops.removes.push_back({entry.agent_ids[i], {Mail::Kind::kActionCancel, id}});
  }
  actions_.erase(it);
}

void ActionEngine::TakeStoredResult(Entry& entry, uint32_t i,
                                    const record::ActionResultRecord& result, MailOps& ops) {
  const int state = result.state();
  if (state <= v1::ACTION_TARGET_STATE_UNSPECIFIED || static_cast<size_t>(state) >= kStates) {
    return;
  }
  Target& target = entry.targets[i];
  const bool reported_final = state == v1::ACTION_TARGET_SUCCEEDED ||
                              state == v1::ACTION_TARGET_FAILED ||
                              state == v1::ACTION_TARGET_REJECTED;
  const bool derived_final =
      target.state == v1::ACTION_TARGET_EXPIRED ||
      (target.state == v1::ACTION_TARGET_CANCELLED && target.cancelled_undelivered);
  const bool moves_on =
      !IsFinalTargetState(target.state) &&
      (TargetStateRank(state) > TargetStateRank(target.state) ||
       (state == target.state && result.updated_unix_micros() > target.updated_us));
  if (!moves_on && !(derived_final && reported_final)) return;
  --entry.counts[target.state];
  target.state = static_cast<uint8_t>(state);
  ++entry.counts[target.state];
  target.cancelled_undelivered = false;
  target.progress = static_cast<int8_t>(std::clamp(result.progress_percent(), 0, 100));
  target.updated_us = result.updated_unix_micros();
  if (!result.message().empty() || !result.output().empty()) {
    entry.details[i] = Detail{result.message(), result.output()};
  }
  ++entry.version;
  if (IsFinalTargetState(state)) {
    ops.removes.push_back({entry.agent_ids[i], {Mail::Kind::kAction, entry.action.id()}});
    ops.removes.push_back({entry.agent_ids[i], {Mail::Kind::kActionCancel, entry.action.id()}});
  }
}

void ActionEngine::SetState(const std::string& action_id, Entry& entry, uint32_t i,
                            v1::ActionTargetState state, absl::Time now, bool derived) {
  Target& target = entry.targets[i];
  // Whether the agent has the action decides what a cancel after a restart does: leaving pending
  // is written as soon as a final state is.
  const bool settled = IsFinalTargetState(state) || target.state == v1::ACTION_TARGET_PENDING;
  --entry.counts[target.state];
  target.state = static_cast<uint8_t>(state);
  ++entry.counts[target.state];
  target.updated_us = absl::ToUnixMicros(now);
  if (!(derived && shared_)) Persist(action_id, entry, i, settled);
}

void ActionEngine::Persist(const std::string& action_id, Entry& entry, uint32_t i, bool settled) {
  const Target& target = entry.targets[i];
  record::ActionResultRecord result;
  result.set_state(static_cast<v1::ActionTargetState>(target.state));
  result.set_progress_percent(target.progress);
  if (auto it = entry.details.find(i); it != entry.details.end()) {
    result.set_message(it->second.message);
    result.set_output(it->second.output);
  }
  result.set_updated_unix_micros(target.updated_us);
  writer_.Put(action_id, entry.agent_ids[i], result, settled);
}

void ActionEngine::ExpireDue() {
  MailOps ops;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = clock_.Now();
    for (auto& [id, entry] : actions_) {
      if (!entry->expiry_applied && now >= entry->expires_at) ApplyExpiry(*entry, ops);
    }
  }
  Run(ops);
}

void ActionEngine::RunTimer() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    absl::Duration wait = options_.expiry_poll;
    const absl::Time now = clock_.Now();
    for (const auto& [id, entry] : actions_) {
      if (!entry->expiry_applied && !entry->done()) {
        wait = std::min(wait, entry->expires_at - now);
      }
    }
    wait = std::max(wait, absl::Milliseconds(1));
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), wait);
    if (stopping_) break;
    mu_.Unlock();
    ExpireDue();
    mu_.Lock();
  }
}

absl::Status ActionEngine::ActionStatusReported(const std::string& agent_id,
                                                const v1::ActionStatus& status) {
  MailOps ops;
  {
    absl::MutexLock lock(&mu_);
    auto it = actions_.find(status.id());
    if (it == actions_.end()) {
      return absl::NotFoundError(absl::StrCat("no action ", status.id(), " is known"));
    }
    const std::string& id = it->first;
    Entry& entry = *it->second;
    auto index = entry.index.find(agent_id);
    if (index == entry.index.end()) {
      return absl::NotFoundError(
          absl::StrCat("agent ", agent_id, " is no target of action ", status.id()));
    }
    const uint32_t i = index->second;
    Target& target = entry.targets[i];
    const v1::ActionTargetState reported = TargetStateOf(status.state());
    const absl::Time now = clock_.Now();
    bool drop_mail = false;
    // After expiry, results no longer count (the timer turns the target expired).
    if (IsFinalTargetState(target.state) || reported == v1::ACTION_TARGET_STATE_UNSPECIFIED ||
        now >= entry.expires_at) {
      // A final target has no mail left: a cancel posted after it finished (a race with its
      // last report, or a write that raced the cancel) goes once the agent answers it.
      drop_mail = IsFinalTargetState(target.state);
    } else {
      target.progress = static_cast<int8_t>(std::clamp(status.progress_percent(), 0, 100));
      if (!status.message().empty() || !status.output().empty() || entry.details.contains(i)) {
        Detail& detail = entry.details[i];
        detail.message = status.message();
        if (!status.output().empty()) detail.output = status.output();
      }
      ++entry.version;
      if (TargetStateRank(reported) >= TargetStateRank(target.state) && reported != target.state) {
        SetState(id, entry, i, reported, now);
      } else {
        target.updated_us = absl::ToUnixMicros(now);
        Persist(id, entry, i, /*settled=*/false);  // progress, message or output only
      }
      drop_mail = IsFinalTargetState(reported);
    }
    if (drop_mail) {
      ops.removes.push_back({agent_id, {Mail::Kind::kAction, id}});
      ops.removes.push_back({agent_id, {Mail::Kind::kActionCancel, id}});
    }
  }
  Run(ops);
  return absl::OkStatus();
}

void ActionEngine::Delivered(const std::string& agent_id, const Mail& mail) {
  if (mail.kind != Mail::Kind::kAction) return;
  MailOps ops;
  {
    absl::MutexLock lock(&mu_);
    auto it = actions_.find(mail.id);
    if (it == actions_.end()) return;
    Entry& entry = *it->second;
    auto index = entry.index.find(agent_id);
    if (index == entry.index.end()) return;
    Target& target = entry.targets[index->second];
    if (target.state == v1::ACTION_TARGET_PENDING) {
      ++entry.version;
      SetState(it->first, entry, index->second, v1::ACTION_TARGET_DELIVERED, clock_.Now());
    } else if (target.cancelled_undelivered) {
      // The write raced the cancel: the agent has the action after all, so it is asked to stop.
      target.cancelled_undelivered = false;
      ops.posts.emplace_back(entry.cancel_mail, std::vector<std::pair<std::string, absl::Time>>{
                                                    {agent_id, absl::InfinitePast()}});
    }
  }
  Run(ops);
}

void ActionEngine::Run(MailOps& ops) {
  for (const auto& [agent_id, what] : ops.removes)
    mailbox_.Remove(agent_id, what.first, what.second);
  for (const auto& [mail, recipients] : ops.posts) mailbox_.Post(mail, recipients);
}

v1::Action ActionEngine::View(const Entry& entry) const {
  v1::Action action = entry.action;
  v1::ActionCounts& counts = *action.mutable_counts();
  counts.set_targets(static_cast<int64_t>(entry.targets.size()));
  counts.set_pending(entry.counts[v1::ACTION_TARGET_PENDING]);
  counts.set_delivered(entry.counts[v1::ACTION_TARGET_DELIVERED]);
  counts.set_running(entry.counts[v1::ACTION_TARGET_RUNNING]);
  counts.set_succeeded(entry.counts[v1::ACTION_TARGET_SUCCEEDED]);
  counts.set_failed(entry.counts[v1::ACTION_TARGET_FAILED]);
  counts.set_rejected(entry.counts[v1::ACTION_TARGET_REJECTED]);
  counts.set_expired(entry.counts[v1::ACTION_TARGET_EXPIRED]);
  counts.set_cancelled(entry.counts[v1::ACTION_TARGET_CANCELLED]);
  action.set_done(entry.done());
  return action;
}

std::optional<v1::Action> ActionEngine::Get(const std::string& id) {
  std::optional<std::pair<v1::Action, int64_t>> versioned = GetVersioned(id);
  if (!versioned.has_value()) return std::nullopt;
  return std::move(versioned->first);
}

std::optional<std::pair<v1::Action, int64_t>> ActionEngine::GetVersioned(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = actions_.find(id);
  if (it == actions_.end()) return std::nullopt;
  return std::pair(View(*it->second), it->second->version);
}

int64_t ActionEngine::AwaitChange(const std::string& id, int64_t version, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto current = [this, &id] {
    mu_.AssertHeld();
    auto it = actions_.find(id);
    return it == actions_.end() ? int64_t{0} : it->second->version;
  };
  auto changed = [&] { return current() != version; };
  mu_.AwaitWithTimeout(absl::Condition(&changed), timeout);
  return current();
}

std::vector<v1::Action> ActionEngine::List() {
  std::vector<v1::Action> actions;
  {
    absl::MutexLock lock(&mu_);
    actions.reserve(actions_.size());
    for (const auto& [id, entry] : actions_) actions.push_back(View(*entry));
  }
  std::sort(actions.begin(), actions.end(), [](const v1::Action& a, const v1::Action& b) {
    const int64_t ta = TimeUtil::TimestampToMicroseconds(a.created_at());
    const int64_t tb = TimeUtil::TimestampToMicroseconds(b.created_at());
    if (ta != tb) return ta > tb;
    return a.id() > b.id();
  });
  return actions;
}

ActionTargetView ActionEngine::TargetView(const Entry& entry, uint32_t i) const {
  const Target& target = entry.targets[i];
  ActionTargetView view;
  view.agent_id = entry.agent_ids[i];
  view.state = static_cast<v1::ActionTargetState>(target.state);
  view.progress_percent = target.progress;
  if (auto it = entry.details.find(i); it != entry.details.end()) {
    view.message = it->second.message;
    view.output = it->second.output;
  }
  if (target.updated_us != 0) view.updated_at = absl::FromUnixMicros(target.updated_us);
  view.start_at = StartOf(entry.created_at, entry.rollout, i, entry.targets.size());
  return view;
}

std::optional<ActionTargetPage> ActionEngine::Targets(const std::string& id,
                                                      v1::ActionTargetState state,
                                                      const std::string& after, size_t limit) {
  absl::MutexLock lock(&mu_);
  auto it = actions_.find(id);
  if (it == actions_.end()) return std::nullopt;
  const Entry& entry = *it->second;
  auto begin = entry.by_id.begin();
  if (!after.empty()) {
    begin = std::upper_bound(
        entry.by_id.begin(), entry.by_id.end(), after,
        [&entry](const std::string& value, uint32_t i) { return value < entry.agent_ids[i]; });
  }
  ActionTargetPage page;
  for (auto pos = begin; pos != entry.by_id.end(); ++pos) {
    if (state != v1::ACTION_TARGET_STATE_UNSPECIFIED && entry.targets[*pos].state != state) {
      continue;
    }
    if (page.targets.size() == limit) {
      page.next_after = page.targets.back().agent_id;
      break;
    }
    page.targets.push_back(TargetView(entry, *pos));
  }
  return page;
}

}  // namespace fleet::server
