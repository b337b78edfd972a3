# Warning set shared by every target; -Werror in CI (SPIKESIM_WERROR, on by default).
# Library code gets the strict numeric-conversion set; tests (TESTS argument) skip the sign/float
# conversion warnings, which in test code only flag index arithmetic on known-small shapes.
function(spikesim_set_warnings target)
  cmake_parse_arguments(arg "TESTS" "" "" ${ARGN})
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
    -Woverloaded-virtual -Wimplicit-fallthrough)
  if(NOT arg_TESTS)
    target_compile_options(${target} PRIVATE -Wconversion -Wsign-conversion -Wdouble-promotion)
  endif()
  # GCC 12 reports false maybe-uninitialized warnings inside Eigen's AVX-512 kernels after inlining.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
  endif()
  if(SPIKESIM_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
