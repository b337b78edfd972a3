#pragma once
// A read-only memory map of a whole file. Checkpoint loaders point their tensors straight into it, so the
// weights are never copied to be read; the Network keeps the map alive through its `storage`.

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

namespace spikesim::models {

class MappedFile {
 public:
  // Maps `file` read-only; throws ModelError naming the file when it is missing, not a regular file or
  // cannot be mapped.
  explicit MappedFile(const std::filesystem::path& file);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&&) = delete;
  MappedFile& operator=(MappedFile&&) = delete;

  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] std::span<const std::byte> bytes() const { return {data_, size_}; }

 private:
  std::string path_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

std::shared_ptr<const MappedFile> map_file(const std::filesystem::path& file);

// Lets the kernel drop the resident pages of `bytes` when they lie in a live file mapping (after a loader's
// tensor was copied into the layout a kernel reads), so the weights are not held twice; a no-op otherwise.
void release_mapped_pages(std::span<const std::byte> bytes);

}  // namespace spikesim::models
