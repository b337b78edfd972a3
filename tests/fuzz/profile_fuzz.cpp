// libFuzzer harness: a hardware profile JSON (energy/profile.cpp) from the fuzz input.

#include <cstddef>
#include <cstdint>

#include "energy/profile.hpp"
#include "tests/fuzz/fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace spikesim;
  const auto file = fuzz::scratch() / "profile.json";
  fuzz::write_file(file, fuzz::as_text(data, size));
  fuzz::expect_clean([&] { (void)energy::load_profile(file); });
  return 0;
}
