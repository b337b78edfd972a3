#pragma once
// `spikesim run --save-activations FILE.h5`: the input of every coded site, as the spiking run coded it, in
// the trace layout that `spikesim account --activations` reads (models/trace.hpp, without weights):
//   /layers/<site>/input   float32 [rows, in_features]   (attribute `index`: the site's execution order)
// A user records once and re-accounts the same activations under other codings, k or sites; on them the
// accounting's per-site records equal the run's.

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "sim/run/execute.hpp"

namespace spikesim::sim {

class ActivationRecorder {
 public:
  // The observer to put in ExecOptions; thread-safe (samples coded in parallel land in their rows).
  SiteObserver observer();
  // Writes every recorded site into `file` (whole or not at all); `source` is noted as an attribute.
  void write(const std::filesystem::path& file, const std::string& source) const;

 private:
  struct Site {
    std::int64_t index = 0;
    std::int64_t in = 0;
    std::int64_t rows = 0;
    std::vector<float> x;  // [rows][in]
  };
  mutable std::mutex mutex_;
  std::map<std::string, Site> sites_;
  std::int64_t next_index_ = 0;
};

}  // namespace spikesim::sim
