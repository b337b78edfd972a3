// libFuzzer harness: a llama2.c checkpoint (models/llama2c.cpp) from the fuzz input, loaded and lowered.

#include <cstddef>
#include <cstdint>

#include "models/llama2c.hpp"
#include "tests/fuzz/fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace spikesim;
  const auto file = fuzz::scratch() / "model.bin";
  fuzz::write_file(file, fuzz::as_text(data, size));
  fuzz::expect_clean([&] {
    if (!models::looks_like_llama2c(file)) return;
    const models::LlmModel m = models::load_llama2c(file);
    // Every tensor view must lie inside the mapped file: touch each one's first and last byte.
    volatile std::byte sink{};
    for (const auto& [name, t] : m.network.tensors) {
      if (!t.bytes.empty()) sink = t.bytes.front() ^ t.bytes.back();
    }
    (void)sink;
  });
  return 0;
}
