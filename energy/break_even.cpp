#include "energy/break_even.hpp"

#include <algorithm>

namespace spikesim::energy {

namespace {

std::optional<double> solve(double s_measured, double spiking, double fixed, double dense) {
  const double slope = spiking - fixed;  // energy of the spike-driven part at s_measured
  if (!(s_measured > 0.0) || !(slope > 0.0)) return std::nullopt;
  return std::max(0.0, s_measured * (dense - fixed) / slope);
}

}  // namespace

BreakEven break_even(double s_measured, const Range& spiking_pj, const Range& spiking_fixed_pj,
                     const Range& dense_pj) {
  BreakEven b;
  b.s_measured = s_measured;
  b.spiking_pj = spiking_pj;
  b.spiking_fixed_pj = spiking_fixed_pj;
  b.dense_pj = dense_pj;
  b.s_low = solve(s_measured, spiking_pj.high, spiking_fixed_pj.high, dense_pj.low);
  b.s_nominal = solve(s_measured, spiking_pj.nominal, spiking_fixed_pj.nominal, dense_pj.nominal);
  b.s_high = solve(s_measured, spiking_pj.low, spiking_fixed_pj.low, dense_pj.high);
  return b;
}

}  // namespace spikesim::energy
