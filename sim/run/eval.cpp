#include "sim/run/eval.hpp"

#include <algorithm>
#include <cmath>
#include <exception>

#include "base/text.hpp"
#include "models/error.hpp"
#include "sim/run/execute.hpp"

namespace spikesim::sim {

namespace {

std::size_t sz(std::int64_t v) {
  return static_cast<std::size_t>(v);
}

struct ChunkResult {
  std::vector<LayerRecord> records;
  std::vector<std::int64_t> dense_pred, spiking_pred;
  double output_sq_norm = 0.0;
  double output_sq_err = 0.0;
  std::exception_ptr error;
};

std::int64_t argmax(std::span<const float> y) {
  return static_cast<std::int64_t>(std::max_element(y.begin(), y.end()) - y.begin());
}

void check_finite_output(const Plan& plan, std::span<const float> y, std::int64_t sample, const char* run) {
  for (const float v : y) {
    if (!std::isfinite(v)) {
      throw models::ModelError(cat(plan.source, ": the ", run, " run's output '", plan.output_name,
                                   "' is not finite for sample ", sample));
    }
  }
}

}  // namespace

EvalResult evaluate(const Plan& plan, const models::Dataset& data, const models::Preprocess& pre,
                    const SiteConfig& config, const SiteObserver& observer) {
  const std::int64_t sample_size = plan.sample_input_size();
  if (data.sample_size() != sample_size) {
    throw models::ModelError(cat(data.images_file, ": samples have ", data.height, "x", data.width, "x",
                                 data.channels, " = ", data.sample_size(), " values but ", plan.source,
                                 " takes input '", plan.input_name, "' ", shape_str(plan.input_shape), " = ",
                                 sample_size, " values per sample"));
  }
  models::validate(pre, data.channels);
  EvalResult result;
  result.samples = data.samples;
  result.classes = plan.sample_output_size();
  result.records = plan_records(plan);
  const std::int64_t batch = plan.batch;
  const std::int64_t chunks = (data.samples + batch - 1) / batch;
  const std::int64_t out_per = plan.sample_output_size();

  // Waves of a fixed number of chunks bound memory; the wave size does not depend on the thread count.
  constexpr std::int64_t wave = 64;
  for (std::int64_t w0 = 0; w0 < chunks; w0 += wave) {
    const std::int64_t n = std::min(wave, chunks - w0);
    std::vector<ChunkResult> results(sz(n));
#pragma omp parallel
    {
      RunState state(plan);
      std::vector<float> input(sz(batch * sample_size), 0.0F);
#pragma omp for schedule(dynamic)
      for (std::int64_t c = 0; c < n; ++c) {
        ChunkResult& r = results[sz(c)];
        try {
          const std::int64_t first = (w0 + c) * batch;
          const std::int64_t count = std::min(batch, data.samples - first);
          std::fill(input.begin(), input.end(), 0.0F);
          models::preprocess(data, first, count, pre, std::span<float>(input).first(sz(count * sample_size)));
          const std::span<const float> yd = execute(plan, state, PlanInput::of_values(input));
          const std::vector<float> dense(yd.begin(), yd.end());
          r.records = plan_records(plan);
          const ExecOptions spiking{.site = &config,
                                    .samples = count,
                                    .first_sample = first,
                                    .observer = observer,
                                    .progress = nullptr};
          const std::span<const float> ys =
              execute(plan, state, PlanInput::of_values(input), spiking, &r.records);
          for (std::int64_t k = 0; k < count; ++k) {
            const auto d = std::span<const float>(dense).subspan(sz(k * out_per), sz(out_per));
            const auto s = ys.subspan(sz(k * out_per), sz(out_per));
            check_finite_output(plan, d, first + k, "dense");
            check_finite_output(plan, s, first + k, "spiking");
            r.dense_pred.push_back(argmax(d));
            r.spiking_pred.push_back(argmax(s));
            for (std::size_t i = 0; i < d.size(); ++i) {
              const double dv = d[i];
              const double e = static_cast<double>(s[i]) - dv;
              r.output_sq_norm += dv * dv;
              r.output_sq_err += e * e;
            }
          }
        } catch (...) {
          r.error = std::current_exception();
        }
      }
    }
    for (ChunkResult& r : results) {
      if (r.error) std::rethrow_exception(r.error);
      merge_records(result.records, r.records);
      result.dense_pred.insert(result.dense_pred.end(), r.dense_pred.begin(), r.dense_pred.end());
      result.spiking_pred.insert(result.spiking_pred.end(), r.spiking_pred.begin(), r.spiking_pred.end());
      result.output_sq_norm += r.output_sq_norm;
      result.output_sq_err += r.output_sq_err;
    }
  }
  return result;
}

Json accuracy_json(const EvalResult& result, const models::Dataset& data) {
  Json j;
  j["samples"] = result.samples;
  j["classes"] = result.classes;
  std::int64_t agree = 0;
  for (std::size_t i = 0; i < result.dense_pred.size(); ++i)
    agree += result.dense_pred[i] == result.spiking_pred[i] ? 1 : 0;
  const auto n = static_cast<double>(std::max<std::int64_t>(result.samples, 1));
  auto side = [&](const std::vector<std::int64_t>& pred) {
    if (data.labels.empty()) return Json{{"correct", nullptr}, {"top1", nullptr}};
    std::int64_t correct = 0;
    for (std::size_t i = 0; i < pred.size(); ++i)
      correct += pred[i] == data.labels[i] ? 1 : 0;
    return Json{{"correct", correct}, {"top1", static_cast<double>(correct) / n}};
  };
  j["dense"] = side(result.dense_pred);
  j["spiking"] = side(result.spiking_pred);
  j["agreement"] = static_cast<double>(agree) / n;
  j["output_rel_error"] =
      result.output_sq_norm > 0.0 ? std::sqrt(result.output_sq_err / result.output_sq_norm) : 0.0;
  j["definitions"] = {
      {"top1", "share of samples whose argmax output equals the label"},
      {"agreement", "share of samples whose spiking argmax equals the dense argmax"},
      {"output_rel_error", "||y_spiking - y_dense|| / ||y_dense|| over the model outputs of all samples"}};
  return j;
}

}  // namespace spikesim::sim
