#include "models/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <set>
#include <utility>

#include "base/text.hpp"
#include "models/error.hpp"

namespace spikesim::models {

namespace {

// Every live mapping, so release_mapped_pages() touches only file mappings (never heap memory).
std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::set<std::pair<const std::byte*, std::size_t>>& registry() {
  static std::set<std::pair<const std::byte*, std::size_t>> r;
  return r;
}

}  // namespace

void release_mapped_pages(std::span<const std::byte> bytes) {
  if (bytes.empty()) return;
  const std::lock_guard<std::mutex> lock(registry_mutex());
  const auto* begin = bytes.data();
  const auto* end = begin + bytes.size();
  for (const auto& [data, size] : registry()) {
    if (begin < data || end > data + size) continue;
    const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    const std::uintptr_t lo = (reinterpret_cast<std::uintptr_t>(begin) + page - 1) / page * page;
    const std::uintptr_t hi = reinterpret_cast<std::uintptr_t>(end) / page * page;
    // A read-only private file mapping: dropped pages are read again from the file if ever touched.
    if (hi > lo) ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);  // NOLINT
    return;
  }
}

MappedFile::MappedFile(const std::filesystem::path& file) : path_(file.string()) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) throw ModelError(cat(path_, ": file not found"));
  if (!std::filesystem::is_regular_file(file, ec)) throw ModelError(cat(path_, ": not a regular file"));
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);  // NOLINT(cppcoreguidelines-pro-type-vararg)
  if (fd < 0) throw ModelError(cat(path_, ": cannot open (", std::strerror(errno), ")"));  // NOLINT
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw ModelError(cat(path_, ": cannot stat"));
  }
  size_ = static_cast<std::size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {  // NOLINT(cppcoreguidelines-pro-type-cstyle-cast)
      ::close(fd);
      throw ModelError(cat(path_, ": cannot memory-map ", size_, " bytes"));
    }
    data_ = static_cast<const std::byte*>(p);
    const std::lock_guard<std::mutex> lock(registry_mutex());
    registry().emplace(data_, size_);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) {
    {
      const std::lock_guard<std::mutex> lock(registry_mutex());
      registry().erase({data_, size_});
    }
    ::munmap(const_cast<std::byte*>(data_), size_);  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  }
}

std::shared_ptr<const MappedFile> map_file(const std::filesystem::path& file) {
  return std::make_shared<const MappedFile>(file);
}

}  // namespace spikesim::models
