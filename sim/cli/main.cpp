#include "sim/cli/cli.hpp"

int main(int argc, char** argv) {
  return spikesim::sim::cli_main(argc, argv);
}
