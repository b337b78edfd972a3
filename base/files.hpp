#pragma once
// Output files are written whole or not at all: each goes to "<name>.partial" and is renamed into place
// only after every file of the set was written; on any failure (a full disk included, reported as "disk
// full") every partial file is removed. A run holds an OutputLock on its --out, so a second run into the same
// place is a clear error instead of interleaved files.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.hpp"

namespace spikesim {

// Writes files (path, contents) into `dir` (created if needed): all land, or none does. OutputError names
// the file and says "disk full" for ENOSPC / EDQUOT.
void write_files_atomic(const std::filesystem::path& dir,
                        const std::vector<std::pair<std::string, std::string>>& files);
// One file, the same way (its directory must exist).
void write_file_atomic(const std::filesystem::path& file, std::string_view contents);

// "disk full (No space left on device)" for ENOSPC and EDQUOT, else strerror(err).
std::string write_error_text(int err);

// An exclusive lock on an output: a directory (lock file DIR/.spikesim.lock, the directory created when
// missing) or a single file (lock file FILE.lock beside it). A second OutputLock on the same output, in any
// process, throws OutputError naming it. Released at destruction: the lock file is removed, and so is the
// directory when this lock created it and nothing else was written into it (a failed run leaves no --out).
class OutputLock {
 public:
  enum class Kind { directory, file };
  explicit OutputLock(const std::filesystem::path& out, Kind kind = Kind::directory);
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;
  OutputLock(OutputLock&&) = delete;
  OutputLock& operator=(OutputLock&&) = delete;

  [[nodiscard]] const std::filesystem::path& lock_file() const { return lock_file_; }

 private:
  std::filesystem::path out_;
  std::filesystem::path lock_file_;
  int fd_ = -1;
  bool created_dir_ = false;
};

// `name`, a path written inside a file (ONNX external data, a shard of a checkpoint index), resolved against
// `dir`, the directory of that file. Empty (and `why` set) when it is absolute, empty, or resolves — through
// ".." or symbolic links — outside `dir`. Loaders wrap it (resolve_inside) with their own error type.
std::filesystem::path path_inside(const std::filesystem::path& dir, std::string_view name, std::string& why);

template <class E>
std::filesystem::path resolve_inside(const std::filesystem::path& dir, std::string_view name,
                                     std::string_view what) {
  std::string why;
  auto p = path_inside(dir, name, why);
  if (p.empty()) throw E(std::string(what) + ": " + why);
  return p;
}

// Size and modification time (ns) of a file: what a stored result keys on to notice a changed input.
struct FileStamp {
  std::uint64_t bytes = 0;
  std::int64_t mtime_ns = 0;
};
// Throws UserError naming the file when it is missing or cannot be stat'ed.
FileStamp file_stamp(const std::filesystem::path& file);

}  // namespace spikesim
