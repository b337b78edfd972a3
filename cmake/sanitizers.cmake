# ASan + UBSan build (SPIKESIM_SANITIZE=ON), run by scripts/test.sh beside the normal build. The fuzz build
# (SPIKESIM_FUZZ=ON, clang) adds libFuzzer's coverage instrumentation; the harnesses link libFuzzer itself.
function(spikesim_set_sanitizers target)
  if(SPIKESIM_FUZZ)
    target_compile_options(${target} PUBLIC
      -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
    target_link_options(${target} PUBLIC -fsanitize=address,undefined)
  elseif(SPIKESIM_SANITIZE)
    target_compile_options(${target} PUBLIC
      -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
    target_link_options(${target} PUBLIC -fsanitize=address,undefined)
    # GCC 12 with -fsanitize reports false "used uninitialized" in boost::optional (Boost.Graph headers).
    target_compile_options(${target} PRIVATE -Wno-uninitialized)
  endif()
endfunction()
