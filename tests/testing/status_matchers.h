// ASSERT_OK / EXPECT_OK for absl::Status and absl::StatusOr, and ASSERT_OK_AND_ASSIGN.
#ifndef FLEETD_TESTS_TESTING_STATUS_MATCHERS_H_
#define FLEETD_TESTS_TESTING_STATUS_MATCHERS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace fleet::testing {

inline const absl::Status& ToStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& ToStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

}  // namespace fleet::testing

#define EXPECT_OK(expr) \
  EXPECT_TRUE(::fleet::testing::ToStatus(expr).ok()) << ::fleet::testing::ToStatus(expr)
#define ASSERT_OK(expr)                                                \
  do {                                                                 \
    const auto& fleet_status_ = (expr);                                \
    ASSERT_TRUE(::fleet::testing::ToStatus(fleet_status_).ok())        \
        << #expr << ": " << ::fleet::testing::ToStatus(fleet_status_); \
  } while (0)

#define FLEET_CONCAT_INNER_(a, b) a##b
#define FLEET_CONCAT_(a, b) FLEET_CONCAT_INNER_(a, b)
// ASSERT_OK_AND_ASSIGN(auto x, StatusOrExpr): asserts OK and moves the value into `x`.
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(FLEET_CONCAT_(fleet_statusor_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, expr)             \
  auto statusor = (expr);                                           \
  ASSERT_TRUE(statusor.ok()) << #expr << ": " << statusor.status(); \
  lhs = std::move(statusor).value()

#endif  // FLEETD_TESTS_TESTING_STATUS_MATCHERS_H_
