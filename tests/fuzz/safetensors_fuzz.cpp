// libFuzzer harness: a Hugging Face checkpoint — config.json and model.safetensors — from the fuzz input
// (models/safetensors.cpp, models/hf_llm.cpp), and the same config.json as a 7B-scale accounting config
// (sim/run/account.cpp load_decoder_shape). Input: config.json, a line "#safetensors", then the safetensors
// bytes.

#include <cstddef>
#include <cstdint>

#include "models/hf_llm.hpp"
#include "models/safetensors.hpp"
#include "sim/run/account.hpp"
#include "tests/fuzz/fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace spikesim;
  const auto [config, weights] = fuzz::split_at_line(fuzz::as_text(data, size), "#safetensors");
  const auto dir = fuzz::scratch() / "hf";
  std::filesystem::create_directories(dir);
  fuzz::write_file(dir / "config.json", config);
  fuzz::write_file(dir / "model.safetensors", weights);
  fuzz::expect_clean([&] {
    const models::SafetensorsFile st = models::read_safetensors(dir / "model.safetensors");
    volatile std::byte sink{};
    for (const auto& [name, t] : st.tensors) {
      if (!t.bytes.empty()) sink = t.bytes.front() ^ t.bytes.back();
    }
    (void)sink;
  });
  fuzz::expect_clean([&] { (void)models::load_hf_llm(dir); });
  fuzz::expect_clean([&] { (void)sim::load_decoder_shape(dir / "config.json"); });
  return 0;
}
