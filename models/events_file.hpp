#pragma once
// Event streams on disk (HDF5), one group per coded layer:
//
//   /                          attributes format = "spikesim-events", version = 1, coding, source
//   /layers/<name>             attributes index, steps (T), rows, cols, coding
//   /layers/<name>/step_offset uint64 [T + 1]   events of step t are [step_offset[t], step_offset[t+1])
//   /layers/<name>/neuron      uint32 [events]  flat presynaptic index row * cols + col
//   /layers/<name>/sign        int8   [events]  +1 / -1
//   /layers/<name>/scale       float  [rows]    V_th per row
//   /layers/<name>/zero_point  int32  [rows]    shift added before coding (binary, bitwise-unsigned)

#include <filesystem>
#include <string>
#include <vector>

#include "coding/event_stream.hpp"

namespace spikesim::models {

struct NamedEvents {
  std::string name;
  std::int64_t index = 0;
  coding::EventStream events;
};

// Written atomically: nothing is left at `file` if writing fails.
void write_events(const std::filesystem::path& file, const std::vector<NamedEvents>& layers,
                  const std::string& source);
std::vector<NamedEvents> read_events(const std::filesystem::path& file);

}  // namespace spikesim::models
