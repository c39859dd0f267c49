// The source that fleet_test_pch (tests/CMakeLists.txt) is built from: the precompiled header
// every test executable reuses is compiled along with it. Nothing else is in it.
namespace fleet::testing_pch {
int Anchor() { return 0; }
}  // namespace fleet::testing_pch
