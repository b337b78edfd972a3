#pragma once
// Layer records to and from JSON, every counter included, so a run can be stored and its energy recomputed
// later for other hardware profiles without running it again (spikesim compare resumes from these).

#include <string>
#include <vector>

#include "sim/report/report.hpp"
#include "sim/site/layer_record.hpp"

namespace spikesim::sim {

Json counters_json(const SiteCounters& c);
SiteCounters counters_from_json(const Json& j, const std::string& what);

Json records_json(const std::vector<LayerRecord>& layers);
// `what` names the file in errors; OutputError on a missing or mistyped field.
std::vector<LayerRecord> records_from_json(const Json& j, const std::string& what);

}  // namespace spikesim::sim
