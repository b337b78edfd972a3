// libFuzzer harness: a Keras HDF5 model (models/keras.cpp) written through the HDF5 API from the fuzz input:
// the root attribute model_config (everything before a line "#h5"), then the file's groups, datasets and
// attributes in the description language of tests/fuzz/h5_builder.hpp.

#include <cstddef>
#include <cstdint>

#include "models/keras.hpp"
#include "tests/fuzz/fuzz_util.hpp"
#include "tests/fuzz/h5_builder.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace spikesim;
  const auto [config, description] = fuzz::split_at_line(fuzz::as_text(data, size), "#h5");
  const auto file = fuzz::scratch() / "model.h5";
  fuzz::build_h5(file, description, config);
  fuzz::expect_clean([&] {
    const models::Network net = models::load_keras(file);
    (void)net.execution_order();
  });
  return 0;
}
