// libFuzzer harness: an IDX file, plain or gzip (models/idx.cpp), from the fuzz input: read on its own, as
// the labels of a fixed 2-image file, and as images (preprocessed into the layout a network takes).

#include <cstddef>
#include <cstdint>
#include <vector>

#include "models/idx.hpp"
#include "tests/fuzz/fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace spikesim;
  static const std::filesystem::path images = [] {
    std::string b = {0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2};
    b.append(8, '\x05');
    const auto f = fuzz::scratch() / "images.idx";
    fuzz::write_file(f, b);
    return f;
  }();
  const auto file = fuzz::scratch() / "data.idx";
  fuzz::write_file(file, fuzz::as_text(data, size));
  fuzz::expect_clean([&] { (void)models::read_idx(file); });
  fuzz::expect_clean([&] { (void)models::load_idx_dataset(images, file); });
  fuzz::expect_clean([&] {
    const models::Dataset d = models::load_idx_dataset(file, {}, 2);
    models::Preprocess p;
    p.scale = 1.0 / 255.0;
    std::vector<float> out(static_cast<std::size_t>(d.samples * d.sample_size()));
    models::preprocess(d, 0, d.samples, p, out);
  });
  return 0;
}
