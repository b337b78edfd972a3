#pragma once
// Weights kept in the dtype the checkpoint stores them in (F32, F16, BF16) and widened to float where a
// kernel reads them: in registers for event delivery, per block for dense GEMMs. Widening is exact (every
// F16 / BF16 value is a float), so results equal those of weights widened once at load.

#include <bit>
#include <cstdint>
#include <cstring>

namespace spikesim::sim {

enum class WeightType : std::uint8_t { f32, f16, bf16 };

[[nodiscard]] constexpr std::size_t bytes_of(WeightType type) {
  return type == WeightType::f32 ? 4 : 2;
}

// IEEE binary16 -> float, exact (subnormals normalised; inf / NaN kept).
[[nodiscard]] inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000U) << 16U;
  std::uint32_t exp = (h >> 10U) & 0x1FU;
  std::uint32_t mant = h & 0x3FFU;
  if (exp == 0x1FU) return std::bit_cast<float>(sign | 0x7F800000U | (mant << 13U));
  if (exp == 0) {
    if (mant == 0) return std::bit_cast<float>(sign);
    exp = 1;
    while ((mant & 0x400U) == 0) {
      mant <<= 1U;
      --exp;
    }
    mant &= 0x3FFU;
  }
  return std::bit_cast<float>(sign | ((exp + 112U) << 23U) | (mant << 13U));
}

[[nodiscard]] inline float bf16_to_float(std::uint16_t h) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(h) << 16U);
}

// Element i of a stored array of `type`, as float.
[[nodiscard]] inline float widen(const void* data, WeightType type, std::size_t i) {
  if (type == WeightType::f32) {
    float v = 0;
    std::memcpy(&v, static_cast<const std::byte*>(data) + 4 * i, 4);
    return v;
  }
  std::uint16_t h = 0;
  std::memcpy(&h, static_cast<const std::byte*>(data) + 2 * i, 2);
  return type == WeightType::f16 ? half_to_float(h) : bf16_to_float(h);
}

}  // namespace spikesim::sim
