// libFuzzer harness: an HDF5 activation trace (models/trace.cpp) written through the HDF5 API from the fuzz
// input, in the description language of tests/fuzz/h5_builder.hpp; also read as an event file
// (models/events_file.cpp), which shares the HDF5 reader.

#include <cstddef>
#include <cstdint>

#include "models/events_file.hpp"
#include "models/trace.hpp"
#include "tests/fuzz/fuzz_util.hpp"
#include "tests/fuzz/h5_builder.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace spikesim;
  const auto file = fuzz::scratch() / "trace.h5";
  fuzz::build_h5(file, fuzz::as_text(data, size));
  fuzz::expect_clean([&] { (void)models::load_trace(file); });
  fuzz::expect_clean([&] { (void)models::read_events(file); });
  return 0;
}
