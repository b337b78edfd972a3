#include "python/probe_site.hpp"

#include <stdexcept>
#include <utility>

#include "base/text.hpp"

namespace spikesim::python {

namespace {

std::uint64_t u64(std::int64_t v) {
  return static_cast<std::uint64_t>(v);
}

}  // namespace

ProbeSite ProbeSite::linear(std::string name, std::int64_t index, bool coded, std::int64_t in,
                            std::int64_t out, bool has_bias, std::vector<std::int64_t> fanout_nonzero) {
  if (in <= 0 || out <= 0)
    throw std::invalid_argument(cat("probe site '", name, "': empty layer ", out, "x", in));
  if (static_cast<std::int64_t>(fanout_nonzero.size()) != in) {
    throw std::invalid_argument(
        cat("probe site '", name, "': ", fanout_nonzero.size(), " non-zero fan-outs for ", in, " inputs"));
  }
  ProbeSite s;
  s.record_.name = std::move(name);
  s.record_.kind = "linear";
  s.record_.index = index;
  s.record_.in = in;
  s.record_.out = out;
  s.record_.weights = in * out;
  s.record_.coded = coded;
  s.has_bias_ = has_bias;
  s.fanout_.assign(static_cast<std::size_t>(in), out);
  s.fanout_nonzero_ = std::move(fanout_nonzero);
  return s;
}

ProbeSite ProbeSite::conv(std::string name, std::int64_t index, bool coded, const sim::ConvGeometry& geometry,
                          std::span<const float> weight, std::span<const float> bias) {
  ProbeSite s;
  s.conv_ = sim::ConvWeights::lower(name, geometry, weight, bias);
  const sim::ConvGeometry& g = s.conv_->geometry;
  s.record_.name = std::move(name);
  s.record_.kind = "conv";
  s.record_.index = index;
  s.record_.in = g.in_size();
  s.record_.out = g.out_size();
  s.record_.weights = g.weight_count();
  s.record_.coded = coded;
  s.has_bias_ = !bias.empty();
  s.fanout_ = s.conv_->fanout_count;
  s.fanout_nonzero_ = s.conv_->fanout_nonzero;
  return s;
}

void ProbeSite::code(const sim::SiteConfig& config, std::span<const float> x, std::int64_t rows,
                     std::span<float> x_hat, const std::string& what) {
  const std::int64_t in = record_.in;
  if (rows < 0 || x.size() != u64(rows * in) || x_hat.size() != x.size()) {
    throw std::invalid_argument(cat(what, ": ", x.size(), " values for ", rows, " rows of ", in, " inputs"));
  }
  if (rows == 0) return;
  const std::int64_t out = record_.out;
  // Linear: the call's rows coded together (a token plan); conv: each sample on its own (a network plan).
  const std::int64_t rows_per_call = conv_ ? 1 : rows;
  record_.spikes_per_input.resize(static_cast<std::size_t>(in), 0);
  for (std::int64_t r0 = 0; r0 < rows; r0 += rows_per_call) {
    const auto offset = static_cast<std::size_t>(r0 * in);
    const auto n = static_cast<std::size_t>(rows_per_call * in);
    sim::code_site(config, x.subspan(offset, n), rows_per_call, in, fanout_, fanout_nonzero_, out, what,
                   scratch_);
    const coding::CodedTensor& coded = scratch_.coded;
    sim::add_spikes_per_input(coded, record_.spikes_per_input);
    for (std::int64_t r = 0; r < rows_per_call; ++r) {
      const auto ru = static_cast<std::size_t>(r);
      const float scale = coded.scale[ru];
      const std::int32_t zp = coded.zero_point[ru];
      const std::int32_t* v = coded.value.data() + ru * static_cast<std::size_t>(in);
      float* y = x_hat.data() + offset + ru * static_cast<std::size_t>(in);
      for (std::int64_t c = 0; c < in; ++c)  // x̂ = count · V_th, as neurons::SpikeCounts::reconstruct
        y[c] = static_cast<float>(v[c] - zp) * scale;
    }
    SiteCounters& c = scratch_.counters;
    c.bias_adds = has_bias_ ? c.tokens * u64(out) : 0;
    c.dense_macs =
        conv_ ? u64(rows_per_call * conv_->geometry.macs_per_sample()) : u64(rows_per_call * in * out);
    c.dense_weight_words = u64(record_.weights);
    record_.counters += c;
  }
}

void ProbeSite::add_dense(std::int64_t rows) {
  if (conv_) {  // a network plan's sample_cost, per sample
    SiteCounters c;
    const std::uint64_t n = u64(rows);
    c.calls = n;
    c.uncoded_macs = u64(conv_->geometry.macs_per_sample()) * n;
    c.dense_macs = c.uncoded_macs;
    c.bias_adds = has_bias_ ? u64(record_.out) * n : 0;
    c.dense_weight_words = u64(record_.weights) * n;
    record_.counters += c;
    return;
  }
  SiteCounters c;  // a token plan's dense linear step (sim/plan/cost.cpp)
  c.bias_adds = has_bias_ ? u64(rows * record_.out) : 0;
  c.add_dense_op(u64(rows), u64(rows * record_.in * record_.out), u64(record_.weights));
  record_.counters += c;
}

void ProbeSite::add_output_error(std::span<const float> y_spiking, std::span<const float> y_dense) {
  if (y_spiking.size() != y_dense.size()) {
    throw std::invalid_argument(cat("probe site '", record_.name, "': spiking output of ", y_spiking.size(),
                                    " values vs dense output of ", y_dense.size()));
  }
  sim::add_output_error(y_spiking, y_dense, record_.counters);
}

void ProbeSite::add_output_sums(double output_sq_norm, double output_sq_err) {
  record_.counters.output_sq_norm += output_sq_norm;
  record_.counters.output_sq_err += output_sq_err;
}

}  // namespace spikesim::python
