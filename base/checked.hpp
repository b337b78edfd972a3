#pragma once
// Checked arithmetic for every size, offset and count read from a file: a product or sum that would wrap
// throws E (the component's UserError: models::ModelError, energy::ProfileError, ...) naming `what` (the
// file and the tensor or field) instead of wrapping. Header-only, used by every loader.
//
//   const std::uint64_t n = checked_numel<ModelError>(shape, cat(file, ": tensor 'w' shape ", ...));
//   const std::uint64_t bytes = checked_mul<ModelError>(n, std::uint64_t{4}, what);
//   check_range<ModelError>(offset, length, file_size, what);   // [offset, offset + length) inside the file
//
// Limits on sizes that no data backs (a graph input's declared shape, a config's layer count) live here too,
// so every loader refuses the same absurd numbers before it allocates anything.

#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/text.hpp"

namespace spikesim {

// Elements of one tensor whose shape is declared but not backed by bytes in the file (an ONNX graph input,
// a Keras batch_shape): 2^28 floats = 1 GiB per buffer.
inline constexpr std::uint64_t max_declared_elements = std::uint64_t{1} << 28;
// Rank of any tensor read from a file.
inline constexpr std::size_t max_rank = 16;

template <class E, std::integral T>
T checked_add(T a, T b, std::string_view what) {
  T r{};
  if (__builtin_add_overflow(a, b, &r)) throw E(cat(what, ": ", a, " + ", b, " overflows a 64-bit size"));
  return r;
}

template <class E, std::integral T>
T checked_mul(T a, T b, std::string_view what) {
  T r{};
  if (__builtin_mul_overflow(a, b, &r)) throw E(cat(what, ": ", a, " x ", b, " overflows a 64-bit size"));
  return r;
}

// Product of the dimensions (each must be >= 0; at most max_rank of them) as a count of elements.
template <class E, std::integral T>
std::uint64_t checked_numel(std::span<const T> dims, std::string_view what) {
  if (dims.size() > max_rank)
    throw E(cat(what, ": ", dims.size(), " dimensions (at most ", max_rank, " supported)"));
  std::uint64_t n = 1;
  for (const T d : dims) {
    if (d < 0) throw E(cat(what, ": negative dimension ", d));
    n = checked_mul<E>(n, static_cast<std::uint64_t>(d), what);
  }
  return n;
}
template <class E, std::integral T>
std::uint64_t checked_numel(const std::vector<T>& dims, std::string_view what) {
  return checked_numel<E>(std::span<const T>(dims), what);
}

// Throws E "<what>: <value> <unit> exceeds the limit of <limit>" when value > limit.
template <class E, std::integral T, std::integral L>
void check_limit(T value, L limit, std::string_view what, std::string_view unit = "") {
  if (value < 0 || static_cast<std::uint64_t>(value) > static_cast<std::uint64_t>(limit)) {
    throw E(cat(what, ": ", value, unit.empty() ? "" : " ", unit, " is more than the limit of ", limit,
                unit.empty() ? "" : " ", unit));
  }
}

// [offset, offset + length) must lie inside [0, size): E naming `what` otherwise (and on overflow).
template <class E>
void check_range(std::uint64_t offset, std::uint64_t length, std::uint64_t size, std::string_view what) {
  std::uint64_t end = 0;
  if (__builtin_add_overflow(offset, length, &end) || end > size) {
    throw E(cat(what, ": bytes [", offset, ", ", offset, " + ", length, ") lie beyond the ", size,
                " bytes of the file (truncated, or a corrupt size or offset)"));
  }
}

// value as the narrower integer type To, or E naming `what` when it does not fit.
template <class To, class E, std::integral From>
To checked_cast(From value, std::string_view what) {
  if (!std::in_range<To>(value)) throw E(cat(what, ": ", value, " does not fit the supported range"));
  return static_cast<To>(value);
}

}  // namespace spikesim
