#include "models/check.hpp"

#include <cmath>

#include "base/text.hpp"
#include "models/error.hpp"

namespace spikesim::models {

void check_finite(std::span<const float> values, const std::vector<std::int64_t>& shape,
                  const std::string& file, const std::string& tensor) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (std::isfinite(values[i])) continue;
    // Unravel the flat index into a position in `shape`.
    std::vector<std::int64_t> pos(shape.size(), 0);
    auto rest = static_cast<std::int64_t>(i);
    for (std::size_t d = shape.size(); d-- > 0;) {
      pos[d] = shape[d] > 0 ? rest % shape[d] : 0;
      rest = shape[d] > 0 ? rest / shape[d] : 0;
    }
    throw ModelError(
        cat(file, ": ", tensor, " contains ", std::isnan(values[i]) ? "NaN" : "Inf", " at ", shape_str(pos)));
  }
}

void check_shape(const std::vector<std::int64_t>& found, const std::vector<std::int64_t>& expected,
                 const std::string& file, const std::string& tensor, const std::string& why) {
  bool ok = found.size() == expected.size();
  for (std::size_t i = 0; ok && i < found.size(); ++i)
    ok = expected[i] < 0 || expected[i] == found[i];
  if (ok) return;
  std::string want = "[";
  for (std::size_t i = 0; i < expected.size(); ++i) {
    want += (i ? ", " : "") + (expected[i] < 0 ? std::string("*") : std::to_string(expected[i]));
  }
  want += "]";
  throw ModelError(cat(file, ": ", tensor, " has shape ", shape_str(found), " but expected ", want,
                       why.empty() ? "" : " (" + why + ")"));
}

}  // namespace spikesim::models
