#pragma once
// spikesim compare: one sweep over models x codings x k, every cell run through run_model() (so every model
// path works), energy on every hardware profile. Resumable: a cell whose DIR/cells/<id>/cell.json exists is
// not run again (its counters are reloaded and its energy recomputed for the current profiles); cells are
// written whole or not at all, so an interrupted sweep keeps every finished cell and nothing half-written.
//
// On several MPI ranks (base/dist.hpp; `mpirun -np N spikesim compare ...`) every rank calls run_compare with
// the same request: cells go to whichever rank asks next (a slow cell does not idle the others), each cell is
// written by the one rank that took it, and rank 0 merges every cell, in sweep order, into compare.* at the
// end; the outputs are byte-identical to one process. DIR must be on a file system every rank sees. A failure
// on one rank stops the others after the cell they are on (kept for the resume); every rank throws: the
// failing one its error, prefixed "cell <id>: ", the others dist::PeerFailed. One process writes compare.*
// after every cell; several ranks only at the end.
//
// Output (DIR):
//   cells/<model>__<coding>__k<k>/{report.json, layers.csv, raster.json, cell.json}   one run each
//                 (cell.json, the done marker with every counter, last)
//   compare.csv   long format: one row per cell x profile x side x term (energy in pJ, latency in ns,
//                 break-even in spikes per synapse) with the cell's activity and fidelity columns
//   compare.json  the same per cell, nested; compare.md  tables for reading

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "base/progress.hpp"
#include "energy/profile.hpp"
#include "sim/report/report.hpp"
#include "sim/run/run_model.hpp"
#include "sim/site/site.hpp"

namespace spikesim::sim {

struct CompareRequest {
  std::vector<std::string> models;
  std::vector<coding::Scheme> codings;
  std::vector<double> ks;
  SiteConfig site;  // every other option of the cells; the scheme and k are set per cell
  RunRequest
      base;  // path options every cell shares (LLM text and sites, dataset); model and site set per cell
  std::vector<energy::HardwareProfile> profiles;
  std::filesystem::path out;
  bool force = false;            // run every cell again
  Progress* progress = nullptr;  // advanced once per cell, by any rank (used on rank 0 only)
  // Runs one cell; default run_model(). Tests inject a counting runner.
  std::function<ReportInput(const RunRequest&)> runner;
};

struct CompareSummary {  // over every rank, on every rank
  std::size_t cells = 0;
  std::size_t ran = 0;
  std::size_t reused = 0;                     // found done in DIR
  std::vector<std::uint64_t> cells_per_rank;  // cells each rank processed (run or reused); rank 0 only
  double merge_s = 0;  // several ranks: rank 0's time to read back the other ranks' cells and write compare.*
};

CompareSummary run_compare(const CompareRequest& request);

// The cell directory name: file-safe "<model stem>__<coding>__k<k>".
std::string cell_id(const std::string& model, coding::Scheme scheme, double k);

}  // namespace spikesim::sim
