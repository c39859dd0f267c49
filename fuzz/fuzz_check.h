// FUZZ_CHECK(condition, message): a fuzz target's property; when it fails, the message goes to
// stderr and the process aborts, which libFuzzer reports as a crash with the input saved.
#ifndef FLEETD_FUZZ_FUZZ_CHECK_H_
#define FLEETD_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string>

namespace fleet::fuzz {

[[noreturn]] inline void PropertyFailed(const char* condition, const std::string& message) {
  std::fprintf(stderr, "property failed: %s\n%s\n", condition, message.c_str());
  std::abort();
}

}  // namespace fleet::fuzz

#define FUZZ_CHECK(condition, message)                                      \
  do {                                                                      \
    if (!(condition)) ::fleet::fuzz::PropertyFailed(#condition, (message)); \
  } while (0)

#endif  // FLEETD_FUZZ_FUZZ_CHECK_H_
