#pragma once
// Output files are written whole or not at all: each goes to "<name>.partial" and is renamed into place
// only after every file of the set was written.

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "base/error.hpp"

namespace spikesim {

// Writes files (path, contents) into `dir` (created if needed): all land, or none does.
void write_files_atomic(const std::filesystem::path& dir,
                        const std::vector<std::pair<std::string, std::string>>& files);

}  // namespace spikesim
