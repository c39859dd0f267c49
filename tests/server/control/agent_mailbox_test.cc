// AgentMailbox: mail in the order it becomes due, a cursor that never passes over mail not due
// yet, removal, expiry, and the observer told when mail is due.
#include "server/control/agent_mailbox.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace fleet::server {
namespace {

class RecordingObserver final : public MailboxObserver {
 public:
  void MailDue(const std::string& agent_id) override {
    absl::MutexLock lock(&mu_);
    due_.push_back(agent_id);
  }
  std::vector<std::string> TakeDue() {
    absl::MutexLock lock(&mu_);
    return std::exchange(due_, {});
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> due_ ABSL_GUARDED_BY(mu_);
};

MailPtr MakeMail(Mail::Kind kind, const std::string& id, absl::Time expires_at) {
  auto mail = std::make_shared<Mail>();
  mail->kind = kind;
  mail->id = id;
  mail->bytes = std::make_shared<const std::string>(id);
  mail->expires_at = expires_at;
  return mail;
}

class AgentMailboxTest : public ::testing::Test {
 protected:
  AgentMailboxTest() { mailbox_.SetObserver(&observer_); }
  ~AgentMailboxTest() override { mailbox_.Stop(); }

  MailPtr Action(const std::string& id) {
    return MakeMail(Mail::Kind::kAction, id, clock_.Now() + absl::Hours(1));
  }
  // The ids the agent's stream takes from a fresh cursor, in order, moving the cursor.
  std::vector<std::string> Drain(const std::string& agent, uint64_t& cursor) {
    std::vector<std::string> ids;
    while (std::optional<AgentMailbox::Posted> next = mailbox_.Next(agent, cursor)) {
      cursor = next->seq;
      ids.push_back(next->mail->id);
    }
    return ids;
  }

  ManualClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  RecordingObserver observer_;
  AgentMailbox mailbox_{clock_};
};

// Mail due at once goes to its recipients in posting order, shares its bytes, and the observer
// hears of each recipient; a cursor past a mail never gets it again.
TEST_F(AgentMailboxTest, DueMailInOrderOncePerCursor) {
  MailPtr first = Action("a1");
  mailbox_.Post(first, {{"x", absl::InfinitePast()}, {"y", absl::InfinitePast()}});
  mailbox_.Post(Action("a2"), {{"x", absl::InfinitePast()}});
  EXPECT_EQ(observer_.TakeDue(), (std::vector<std::string>{"x", "y", "x"}));

  uint64_t cursor = 0;
  EXPECT_EQ(Drain("x", cursor), (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(Drain("x", cursor), std::vector<std::string>{});
  std::optional<AgentMailbox::Posted> y = mailbox_.Next("y", 0);
  ASSERT_TRUE(y.has_value());
  EXPECT_EQ(y->mail->bytes.get(), first->bytes.get());  // one copy of the bytes for everyone
  // A new stream (cursor 0) gets again what is still there.
  uint64_t fresh = 0;
  EXPECT_EQ(Drain("x", fresh), (std::vector<std::string>{"a1", "a2"}));
}

// Mail with a later not_before is held back, becomes due when the clock gets there (the
// observer hears of it), and is handed out even to a stream whose cursor passed later-posted
// mail meanwhile.
TEST_F(AgentMailboxTest, LaterMailIsNotSkippedByTheCursor) {
  mailbox_.Post(Action("later"), {{"x", clock_.Now() + absl::Minutes(5)}});
  mailbox_.Post(Action("now"), {{"x", absl::InfinitePast()}});
  EXPECT_EQ(observer_.TakeDue(), std::vector<std::string>{"x"});
  uint64_t cursor = 0;
  EXPECT_EQ(Drain("x", cursor), std::vector<std::string>{"now"});

  clock_.Advance(absl::Minutes(4));
  mailbox_.WakeDue();
  EXPECT_EQ(observer_.TakeDue(), std::vector<std::string>{});
  EXPECT_EQ(Drain("x", cursor), std::vector<std::string>{});

  clock_.Advance(absl::Minutes(1));
  mailbox_.WakeDue();
  EXPECT_EQ(observer_.TakeDue(), std::vector<std::string>{"x"});
  EXPECT_EQ(Drain("x", cursor), std::vector<std::string>{"later"});
}

// Removed mail is gone for every cursor; other mail of the agent stays.
TEST_F(AgentMailboxTest, RemoveTakesOnlyThatMail) {
  mailbox_.Post(Action("a1"), {{"x", absl::InfinitePast()}});
  mailbox_.Post(MakeMail(Mail::Kind::kQuery, "a1", clock_.Now() + absl::Hours(1)),
                {{"x", absl::InfinitePast()}});
  mailbox_.Remove("x", Mail::Kind::kAction, "a1");
  uint64_t cursor = 0;
  std::optional<AgentMailbox::Posted> next = mailbox_.Next("x", cursor);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->mail->kind, Mail::Kind::kQuery);
  mailbox_.Remove("x", Mail::Kind::kQuery, "a1");
  EXPECT_EQ(mailbox_.Size(), std::make_pair(size_t{0}, size_t{0}));
}

// Expired mail is never handed out, and is dropped.
TEST_F(AgentMailboxTest, ExpiredMailIsNotHandedOut) {
  mailbox_.Post(MakeMail(Mail::Kind::kQuery, "q", clock_.Now() + absl::Seconds(30)),
                {{"x", absl::InfinitePast()}});
  clock_.Advance(absl::Seconds(30));
  EXPECT_FALSE(mailbox_.Next("x", 0).has_value());
  EXPECT_EQ(mailbox_.Size().second, 0u);
}

// Mail posted to many agents at once takes one block of numbers: each agent's cursor sees it once.
TEST_F(AgentMailboxTest, ManyRecipients) {
  std::vector<std::pair<std::string, absl::Time>> recipients;
  for (int i = 0; i < 1000; ++i)
    recipients.emplace_back(absl::StrCat("agent", i), absl::InfinitePast());
  mailbox_.Post(Action("a"), recipients);
  EXPECT_EQ(mailbox_.Size(), std::make_pair(size_t{1000}, size_t{1000}));
  EXPECT_EQ(observer_.TakeDue().size(), 1000u);
  uint64_t cursor = 0;
  EXPECT_EQ(Drain("agent999", cursor), std::vector<std::string>{"a"});
}

}  // namespace
}  // namespace fleet::server
