#include "base/files.hpp"

#include <fstream>
#include <stdexcept>

#include "base/text.hpp"

namespace spikesim {

void write_files_atomic(const std::filesystem::path& dir,
                        const std::vector<std::pair<std::string, std::string>>& files) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw OutputError(cat(dir.string(), ": cannot create output directory (", ec.message(), ")"));
  std::vector<std::filesystem::path> partial;
  auto cleanup = [&] {
    for (const auto& p : partial)
      std::filesystem::remove(p, ec);
  };
  for (const auto& [name, contents] : files) {
    const auto path = dir / (name + ".partial");
    partial.push_back(path);
    std::ofstream out(path, std::ios::binary);
    out << contents;
    out.close();
    if (!out) {
      cleanup();
      throw OutputError(cat(path.string(), ": write failed"));
    }
  }
  for (std::size_t i = 0; i < files.size(); ++i)
    std::filesystem::rename(partial[i], dir / files[i].first);
}

}  // namespace spikesim
