// spikesim encode: write the event streams of every coded layer of a trace to HDF5.

#include <iostream>

#include "base/files.hpp"
#include "models/events_file.hpp"
#include "models/trace.hpp"
#include "sim/cli/cli.hpp"
#include "sim/plan/lower.hpp"
#include "sim/run/trace_run.hpp"

namespace spikesim::sim {

namespace {

struct EncodeArgs {
  std::string trace;
  std::string out;
  CodingArgs coding;
  bool quiet = false;
};

int encode(const EncodeArgs& a) {
  const OutputLock lock(a.out, OutputLock::Kind::file);  // a second run writing the same file fails here
  const SiteConfig config = site_config(a.coding);
  const models::Network network = models::load_trace(a.trace);
  const auto layers = encode_trace(lower_network(network), config);
  models::write_events(a.out, layers, a.trace);
  if (!a.quiet) {
    std::uint64_t events = 0;
    for (const auto& l : layers)
      events += l.events.events();
    std::cout << "spikesim encode: " << layers.size() << " layers, " << events << " events -> " << a.out
              << "\n";
  }
  return 0;
}

}  // namespace

void add_encode_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<EncodeArgs>();
  CLI::App* cmd = app.add_subcommand("encode", "Write the spike event streams of a trace to an HDF5 file");
  cmd->add_option("--trace", args->trace, "HDF5 activation trace")->required()->check(CLI::ExistingFile);
  cmd->add_option("--out", args->out, "Output event file (.h5)")->required();
  cmd->add_flag("--quiet,-q", args->quiet, "Print nothing on success");
  add_coding_options(*cmd, args->coding);
  cmd->callback([args, &action] { action = [args] { return encode(*args); }; });
}

}  // namespace spikesim::sim
