// libFuzzer harness: a llama2.c tokenizer (models/tokenizer.cpp) from the fuzz input; a loaded one encodes
// and decodes a short text. The vocabulary size comes from the input's first 4 bytes that are not part of the
// file, so both matching and mismatching sizes are reached.

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "models/tokenizer.hpp"
#include "tests/fuzz/fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace spikesim;
  if (size < 2) return 0;
  const std::int64_t vocab = 1 + (data[0] | (data[1] << 8));  // 1 .. 65536
  const auto file = fuzz::scratch() / "tokenizer.bin";
  fuzz::write_file(file, fuzz::as_text(data + 2, size - 2));
  fuzz::expect_clean([&] {
    const models::Tokenizer t = models::Tokenizer::load(file, vocab);
    const auto ids =
        t.encode("In the beginning God created the heaven and the earth. \xE2\x80\x94 \xFF", true, true);
    (void)t.decode(ids);
  });
  return 0;
}
