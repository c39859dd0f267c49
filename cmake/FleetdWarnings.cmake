# fleetd_target_options(TARGET): warnings-as-errors and sanitizers for our own code only;
# third-party headers come in as system includes and are not held to these flags.
function(fleetd_target_options target)
  # Designated initializers leave defaulted fields out on purpose.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wno-missing-field-initializers)
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    target_compile_options(${target} PRIVATE -Wthread-safety)
  elseif(FLEETD_UNITY_BUILD)
    # g++ takes a batched source for a header and flags its anonymous-namespace types.
    target_compile_options(${target} PRIVATE -Wno-subobject-linkage)
  endif()
endfunction()

# FLEETD_FUZZ adds libFuzzer's coverage to every library, with the sanitizers that turn memory
# errors and undefined behaviour into crashes; fuzz/CMakeLists.txt links the targets with
# libFuzzer's main. Both options together (scripts/test) make one build for the tests and the
# fuzz targets.
if(FLEETD_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "FLEETD_FUZZ needs clang (CC=clang CXX=clang++): libFuzzer is clang's")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
if(FLEETD_SANITIZE OR FLEETD_FUZZ)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
