// safetensors: reading views into the map, writing, and every way a header can lie.

#include "models/safetensors.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "models/error.hpp"
#include "tests/llm_fixtures.hpp"
#include "tests/test_util.hpp"

namespace spikesim::models {
namespace {

using testing::HasSubstr;

std::string f32_bytes(const std::vector<float>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size() * 4};
}

// A file whose header is `header` (any JSON text) followed by `data`.
std::string raw_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const std::uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

std::string error_of(const std::filesystem::path& file) {
  try {
    (void)read_safetensors(file);
  } catch (const ModelError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Safetensors, WritesAndReadsTensorsAndMetadata) {
  const test::ScratchDir dir;
  const std::vector<float> a{1.5F, -2.0F, 3.25F, 0.0F, 7.0F, 8.0F};
  std::string b(4, '\0');
  const std::uint16_t h0 = float_to_half(0.5F);
  const std::uint16_t h1 = float_to_bf16(-3.0F);
  std::memcpy(b.data(), &h0, 2);
  std::memcpy(b.data() + 2, &h1, 2);
  test::write_file(dir / "t.safetensors", safetensors_bytes({{"a", "F32", {2, 3}, f32_bytes(a)},
                                                             {"h", "F16", {1}, b.substr(0, 2)},
                                                             {"g", "BF16", {1}, b.substr(2, 2)},
                                                             {"ids", "I64", {1}, std::string(8, '\1')}},
                                                            {{"format", "pt"}}));
  const SafetensorsFile f = read_safetensors(dir / "t.safetensors");
  EXPECT_EQ(f.metadata.at("format"), "pt");
  const Tensor& ta = f.tensors.at("a");
  EXPECT_EQ(ta.shape, (std::vector<std::int64_t>{2, 3}));
  const auto va = ta.f32();
  EXPECT_EQ(std::vector<float>(va.begin(), va.end()), a);
  EXPECT_EQ(f.tensors.at("h").to_f32(), std::vector<float>{0.5F});
  EXPECT_EQ(f.tensors.at("g").to_f32(), std::vector<float>{-3.0F});
  EXPECT_EQ(f.unsupported.at("ids"), "I64");
}

TEST(Safetensors, UnalignedF32DataIsReadCorrectly) {
  const test::ScratchDir dir;
  const std::vector<float> a{1.0F, 2.0F, 3.0F};
  // Header of 5 bytes puts the data at offset 13: not 4-byte aligned.
  const std::string header = R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})";
  test::write_file(dir / "u.safetensors", raw_file(header + "   ", f32_bytes(a)));
  const SafetensorsFile f = read_safetensors(dir / "u.safetensors");
  const auto v = f.tensors.at("a").f32();
  EXPECT_EQ(std::vector<float>(v.begin(), v.end()), a);
}

TEST(Safetensors, LyingHeadersAreErrorsNamingFileAndTensor) {
  const test::ScratchDir dir;
  const std::string data = f32_bytes({1, 2, 3, 4});
  auto check = [&](const std::string& name, const std::string& file_bytes, const std::string& expected) {
    test::write_file(dir / name, file_bytes);
    const std::string e = error_of(dir / name);
    EXPECT_THAT(e, HasSubstr(name)) << e;
    EXPECT_THAT(e, HasSubstr(expected)) << e;
  };
  check("short.safetensors", "abc", "expected at least 8");
  std::string huge(8, '\0');
  huge[6] = 1;  // header length 2^48
  check("huge.safetensors", huge + "{}", "exceeds the file");
  check("json.safetensors", raw_file("{\"a\": [", data), "not valid JSON");
  check("past.safetensors", raw_file(R"({"w":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}})", data),
        "tensor 'w': data_offsets [0, 32] reach past the data section (16 bytes");
  check("count.safetensors", raw_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", data),
        "hold 16 bytes but shape [3] of F32 needs 12");
  check("overlap.safetensors",
        raw_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},)"
                 R"("v":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                 data),
        "overlap");
  check("dtype.safetensors", raw_file(R"({"w":{"dtype":"Q9","shape":[4],"data_offsets":[0,16]}})", data),
        "tensor 'w': unknown dtype 'Q9'");
  check("backwards.safetensors", raw_file(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", data),
        "end before they begin");
  check("entry.safetensors", raw_file(R"({"w":{"dtype":"F32","shape":[4]}})", data),
        "key 'w.data_offsets' missing");
}

TEST(Safetensors, HalfConversionRoundTripsEveryValue) {
  for (std::uint32_t bits = 0; bits < 0x10000U; ++bits) {
    const auto h = static_cast<std::uint16_t>(bits);
    if ((h & 0x7C00U) == 0x7C00U && (h & 0x3FFU) != 0) continue;  // NaN payloads
    std::string b(2, '\0');
    std::memcpy(b.data(), &h, 2);
    Tensor t{"h", {1}, DType::f16, std::as_bytes(std::span<const char>(b.data(), 2))};
    const float f = t.to_f32()[0];
    ASSERT_EQ(float_to_half(f), h) << bits;
  }
  // Round to nearest even, overflow to infinity, underflow to zero.
  EXPECT_EQ(float_to_half(1.0F + 1.0F / 2048.0F), 0x3C00U);        // halfway, to even
  EXPECT_EQ(float_to_half(1.0F + 3.0F / 2048.0F), 0x3C02U);        // halfway, to even (up)
  EXPECT_EQ(float_to_half(65520.0F), 0x7C00U);                     // rounds past 65504
  EXPECT_EQ(float_to_half(std::ldexp(1.0F, -26)), 0x0000U);        // below half the smallest subnormal
  EXPECT_EQ(float_to_half(std::ldexp(1.0F, -24)), 0x0001U);        // smallest subnormal
  EXPECT_EQ(float_to_bf16(1.0F + std::ldexp(1.0F, -8)), 0x3F80U);  // halfway, to even
  EXPECT_EQ(float_to_bf16(1.0F + 3 * std::ldexp(1.0F, -8)), 0x3F82U);
  EXPECT_EQ(float_to_bf16(-2.5F), 0xC020U);
}

}  // namespace
}  // namespace spikesim::models
