#include "server/control/agent_mailbox.h"

#include <algorithm>

#include "absl/hash/hash.h"

namespace fleet::server {
namespace {

// How long the timer thread sleeps at most before looking at the clock again: bounds how late
// mail becomes due when the clock jumps.
constexpr absl::Duration kTimerTick = absl::Milliseconds(200);

}  // namespace

AgentMailbox::AgentMailbox(Clock& clock) : clock_(clock) {
  timer_ = std::thread([this] { RunTimer(); });
}

AgentMailbox::~AgentMailbox() { Stop(); }

void AgentMailbox::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (timer_.joinable()) timer_.join();
}

void AgentMailbox::SetObserver(MailboxObserver* observer) {
  absl::MutexLock lock(&mu_);
  observer_ = observer;
}

MailboxObserver* AgentMailbox::observer() {
  absl::MutexLock lock(&mu_);
  return observer_;
}

AgentMailbox::Shard& AgentMailbox::ShardOf(const std::string& agent_id) {
  return shards_[absl::HashOf(agent_id) % kShards];
}

void AgentMailbox::Insert(std::vector<Entry>& box, Entry entry) {
  auto later = [](uint64_t a, uint64_t b) {
    return (a == 0 ? UINT64_MAX : a) < (b == 0 ? UINT64_MAX : b);
  };
  auto at = std::upper_bound(box.begin(), box.end(), entry.seq,
                             [&](uint64_t seq, const Entry& e) { return later(seq, e.seq); });
  box.insert(at, std::move(entry));
}

void AgentMailbox::Post(const MailPtr& mail,
                        const std::vector<std::pair<std::string, absl::Time>>& recipients) {
  const absl::Time now = clock_.Now();
  // One block of sequence numbers for the whole post, in recipient order.
  const uint64_t first_seq = next_seq_.fetch_add(recipients.size());
  std::vector<std::string> due;
  bool later = false;
  for (size_t i = 0; i < recipients.size(); ++i) {
    const auto& [agent_id, not_before] = recipients[i];
    const bool due_now = not_before <= now;
    Shard& shard = ShardOf(agent_id);
    {
      absl::MutexLock lock(&shard.mu);
      Insert(shard.boxes[agent_id], Entry{due_now ? first_seq + i : 0, not_before, mail});
    }
    if (due_now) {
      due.push_back(agent_id);
    } else {
      later = true;
    }
  }
  if (later) {
    absl::MutexLock lock(&mu_);
    for (const auto& [agent_id, not_before] : recipients) {
      if (not_before > now) wakes_.emplace(not_before, agent_id);
    }
  }
  if (MailboxObserver* o = observer(); o != nullptr && !due.empty()) o->MailDueMany(due);
}

void AgentMailbox::Remove(const std::string& agent_id, Mail::Kind kind, const std::string& id) {
  Shard& shard = ShardOf(agent_id);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.boxes.find(agent_id);
  if (it == shard.boxes.end()) return;
  std::vector<Entry>& box = it->second;
  box.erase(
      std::remove_if(box.begin(), box.end(),
                     [&](const Entry& e) { return e.mail->kind == kind && e.mail->id == id; }),
      box.end());
  if (box.empty()) shard.boxes.erase(it);
}

std::optional<AgentMailbox::Posted> AgentMailbox::Next(const std::string& agent_id,
                                                       uint64_t after) {
  Shard& shard = ShardOf(agent_id);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.boxes.find(agent_id);
  if (it == shard.boxes.end()) return std::nullopt;
  std::vector<Entry>& box = it->second;
  const absl::Time now = clock_.Now();
  box.erase(std::remove_if(box.begin(), box.end(),
                           [&](const Entry& e) { return e.mail->expires_at <= now; }),
            box.end());
  std::optional<Posted> next;
  for (const Entry& e : box) {
    if (e.seq == 0) break;  // the rest is not due yet
    if (e.seq <= after) continue;
    next = Posted{e.seq, e.mail};
    break;
  }
  if (box.empty()) shard.boxes.erase(it);
  return next;
}

std::pair<size_t, size_t> AgentMailbox::Size() {
  size_t agents = 0;
  size_t mails = 0;
  for (Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    agents += shard.boxes.size();
    for (const auto& [id, box] : shard.boxes) mails += box.size();
  }
  return {agents, mails};
}

void AgentMailbox::WakeDue() {
  const absl::Time now = clock_.Now();
  std::vector<std::string> due;
  MailboxObserver* o = nullptr;
  {
    absl::MutexLock lock(&mu_);
    while (!wakes_.empty() && wakes_.top().first <= now) {
      due.push_back(wakes_.top().second);
      wakes_.pop();
    }
    o = observer_;
  }
  std::sort(due.begin(), due.end());
  due.erase(std::unique(due.begin(), due.end()), due.end());
  for (const std::string& agent_id : due) {
    Shard& shard = ShardOf(agent_id);
    absl::MutexLock lock(&shard.mu);
    auto it = shard.boxes.find(agent_id);
    if (it == shard.boxes.end()) continue;
    // Due entries take the next numbers, in the order they became due.
    std::vector<Entry>& box = it->second;
    std::vector<Entry> waking;
    for (auto e = box.begin(); e != box.end();) {
      if (e->seq == 0 && e->not_before <= now) {
        waking.push_back(std::move(*e));
        e = box.erase(e);
      } else {
        ++e;
      }
    }
    std::stable_sort(waking.begin(), waking.end(),
                     [](const Entry& a, const Entry& b) { return a.not_before < b.not_before; });
    for (Entry& e : waking) {
      e.seq = next_seq_.fetch_add(1);
      Insert(box, std::move(e));
    }
  }
  if (o != nullptr && !due.empty()) o->MailDueMany(due);
}

void AgentMailbox::RunTimer() {
  for (;;) {
    absl::Duration wait = kTimerTick;
    {
      absl::MutexLock lock(&mu_);
      if (!wakes_.empty()) wait = std::min(wait, wakes_.top().first - clock_.Now());
      auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      if (wait > absl::ZeroDuration()) {
        mu_.AwaitWithTimeout(absl::Condition(&stopping), wait);
      }
      if (stopping_) return;
    }
    WakeDue();
  }
}

}  // namespace fleet::server
