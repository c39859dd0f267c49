# fleetd_target_options(TARGET): warnings-as-errors and sanitizers for our own code only;
# third-party headers come in as system includes and are not held to these flags.
function(fleetd_target_options target)
  # Designated initializers leave defaulted fields out on purpose.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wno-missing-field-initializers)
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    target_compile_options(${target} PRIVATE -Wthread-safety)
  endif()
endfunction()

if(FLEETD_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
