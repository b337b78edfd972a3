#include "base/dist.hpp"
#include "sim/cli/cli.hpp"

int main(int argc, char** argv) {
  // MPI, when launched by mpirun / srun (base/dist.hpp); finalised when main returns.
  const spikesim::dist::Session session(argc, argv);
  return spikesim::sim::cli_main(argc, argv);
}
