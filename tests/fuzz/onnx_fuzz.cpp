// libFuzzer harness: an ONNX model (models/onnx.cpp) from the fuzz input, beside a 4 KiB external-data file
// "weights.bin" it may reference, and a symbolic link "link.bin" pointing outside the directory (must be
// refused).

#include <cstddef>
#include <cstdint>

#include "models/onnx.hpp"
#include "tests/fuzz/fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace spikesim;
  static const std::filesystem::path dir = [] {
    const auto d = fuzz::scratch() / "onnx";
    std::filesystem::create_directories(d);
    std::string weights(4096, '\0');
    for (std::size_t i = 0; i < weights.size(); ++i)
      weights[i] = static_cast<char>(i * 7);
    fuzz::write_file(d / "weights.bin", weights);
    fuzz::write_file(fuzz::scratch() / "outside.bin", weights);
    std::filesystem::create_symlink(fuzz::scratch() / "outside.bin", d / "link.bin");
    return d;
  }();
  const auto file = dir / "model.onnx";
  fuzz::write_file(file, fuzz::as_text(data, size));
  fuzz::expect_clean([&] { (void)models::onnx_external_data_files(file); });
  fuzz::expect_clean([&] {
    const models::Network net = models::load_onnx(file);
    (void)net.execution_order();
  });
  return 0;
}
