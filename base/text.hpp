#pragma once
// Message building for errors and logs (libstdc++ 12 has no std::format). Header-only, used by every
// component.

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace spikesim {

// cat("layer ", name, ": ", 3.5) -> "layer q: 3.5". Floats print with up to 9 significant digits.
template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream out;
  out.precision(9);
  (out << ... << args);
  return out.str();
}

// [2, 3, 4]
inline std::string shape_str(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// join({"a", "b"}, ", ") -> "a, b"
inline std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string s;
  for (std::size_t i = 0; i < parts.size(); ++i)
    s += (i ? separator : "") + parts[i];
  return s;
}

}  // namespace spikesim
