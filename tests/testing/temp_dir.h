// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
#ifndef FLEETD_TESTS_TESTING_TEMP_DIR_H_
#define FLEETD_TESTS_TESTING_TEMP_DIR_H_

#include <string>

namespace fleet::testing {

class TempDir {
 public:
  TempDir();  // aborts the test binary if no directory can be made
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path()/name
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace fleet::testing

#endif  // FLEETD_TESTS_TESTING_TEMP_DIR_H_
