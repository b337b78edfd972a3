#include "models/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/text.hpp"
#include "models/error.hpp"

namespace spikesim::models {

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
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) {
    ::munmap(const_cast<std::byte*>(data_), size_);  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  }
}

std::shared_ptr<const MappedFile> map_file(const std::filesystem::path& file) {
  return std::make_shared<const MappedFile>(file);
}

}  // namespace spikesim::models
