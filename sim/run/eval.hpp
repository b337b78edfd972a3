#pragma once
// Dataset evaluation of a general network: the dense run (GPU-equivalent) and the spiking run of every
// sample, top-1 accuracy of both against the labels, their agreement, and the per-step counters of the
// spiking run. Shared by `spikesim eval` and `spikesim run` on ONNX / Keras models.
//
// Samples are independent: chunks of `plan.batch` samples run in parallel, each with its own buffers, and
// their counters are summed in sample order, so reports are bit-identical for any thread count.

#include <cstdint>
#include <vector>

#include "models/idx.hpp"
#include "sim/plan/plan.hpp"
#include "sim/run/execute.hpp"
#include "sim/run/result.hpp"
#include "sim/site/layer_record.hpp"
#include "sim/site/site.hpp"

namespace spikesim::sim {

struct EvalResult {
  std::int64_t samples = 0;
  std::int64_t classes = 0;                // outputs per sample
  std::vector<std::int64_t> dense_pred;    // [samples] argmax of the dense output (first on ties)
  std::vector<std::int64_t> spiking_pred;  // [samples] argmax of the spiking output
  std::vector<LayerRecord> records;        // spiking-run records (sim/run/execute.hpp plan_records)
  double output_sq_norm = 0.0;             // sum over samples of |y_dense|^2 at the model output
  double output_sq_err = 0.0;              // sum of |y_spiking - y_dense|^2
};

// Runs every sample of `data` (preprocessed with `pre`) through the plan. ModelError for a sample whose
// size does not match the model input, or a non-finite model output (naming the sample).
// observer: sees every coded site's input (run --save-activations).
EvalResult evaluate(const Plan& plan, const models::Dataset& data, const models::Preprocess& pre,
                    const SiteConfig& config, const SiteObserver& observer = {});

// {"samples", "classes", "dense": {"correct", "top1"}, "spiking": {...}, "agreement", "output_rel_error"};
// the accuracies need labels (null without).
Json accuracy_json(const EvalResult& result, const models::Dataset& data);

}  // namespace spikesim::sim
