#include "base/files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/text.hpp"

namespace spikesim {

namespace {

// Writes `contents` to a new file `path` (truncating one left by a killed run). Returns 0 or the errno of
// the first failure (open, write, fsync-free close).
int write_whole(const std::filesystem::path& path, std::string_view contents) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);  // NOLINT(*-vararg)
  if (fd < 0) return errno;
  const char* p = contents.data();
  std::size_t left = contents.size();
  int err = 0;
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0 && err == 0) err = errno;  // NFS and quotas may report ENOSPC only here
  return err;
}

}  // namespace

std::string write_error_text(int err) {
  if (err == ENOSPC || err == EDQUOT) return cat("disk full (", std::strerror(err), ")");  // NOLINT
  return std::strerror(err);                                                               // NOLINT
}

void write_files_atomic(const std::filesystem::path& dir,
                        const std::vector<std::pair<std::string, std::string>>& files) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw OutputError(cat(dir.string(), ": cannot create output directory (", ec.message(), ")"));
  std::vector<std::filesystem::path> partial;
  auto cleanup = [&] {
    std::error_code ignored;
    for (const auto& p : partial)
      std::filesystem::remove(p, ignored);
  };
  for (const auto& [name, contents] : files) {
    const auto path = dir / (name + ".partial");
    partial.push_back(path);
    if (const int err = write_whole(path, contents); err != 0) {
      cleanup();
      throw OutputError(
          cat((dir / name).string(), ": cannot write ", contents.size(), " bytes: ", write_error_text(err)));
    }
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    std::filesystem::rename(partial[i], dir / files[i].first, ec);
    if (ec) {
      cleanup();
      throw OutputError(
          cat((dir / files[i].first).string(), ": cannot rename into place (", ec.message(), ")"));
    }
  }
}

void write_file_atomic(const std::filesystem::path& file, std::string_view contents) {
  const auto partial = std::filesystem::path(file.string() + ".partial");
  if (const int err = write_whole(partial, contents); err != 0) {
    std::error_code ignored;
    std::filesystem::remove(partial, ignored);
    throw OutputError(
        cat(file.string(), ": cannot write ", contents.size(), " bytes: ", write_error_text(err)));
  }
  std::error_code ec;
  std::filesystem::rename(partial, file, ec);
  if (ec) {
    std::filesystem::remove(partial, ec);
    throw OutputError(cat(file.string(), ": cannot rename into place (", ec.message(), ")"));
  }
}

OutputLock::OutputLock(const std::filesystem::path& out, Kind kind) : out_(out) {
  std::error_code ec;
  if (kind == Kind::directory) {
    if (std::filesystem::exists(out, ec) && !std::filesystem::is_directory(out, ec))
      throw OutputError(cat(out.string(), ": exists and is not a directory"));
    created_dir_ = std::filesystem::create_directories(out, ec);
    if (ec) throw OutputError(cat(out.string(), ": cannot create output directory (", ec.message(), ")"));
    lock_file_ = out / ".spikesim.lock";
  } else {
    if (std::filesystem::is_directory(out, ec))
      throw OutputError(cat(out.string(), ": is a directory, expected an output file"));
    lock_file_ = std::filesystem::path(out.string() + ".lock");
  }
  // Lock, then check that the file locked is still the one at the path: a run that just finished removes
  // its lock file, and a lock on that unlinked file would not exclude the next run.
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = ::open(lock_file_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);  // NOLINT(*-vararg)
    if (fd < 0) {
      const int err = errno;
      if (created_dir_) std::filesystem::remove(out_, ec);
      throw OutputError(cat(lock_file_.string(), ": cannot create lock file (", write_error_text(err), ")"));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) {
        throw OutputError(cat(out.string(), ": another spikesim run is writing here (", lock_file_.string(),
                              " is locked); wait for it to finish or choose another --out"));
      }
      throw OutputError(cat(lock_file_.string(), ": cannot lock (", std::strerror(err), ")"));  // NOLINT
    }
    struct stat held {};
    struct stat now {};
    if (::fstat(fd, &held) == 0 && ::stat(lock_file_.c_str(), &now) == 0 && held.st_ino == now.st_ino &&
        held.st_dev == now.st_dev) {
      fd_ = fd;
      return;
    }
    ::close(fd);
  }
  throw OutputError(cat(lock_file_.string(), ": cannot lock (the lock file keeps changing)"));
}

OutputLock::~OutputLock() {
  std::error_code ec;
  std::filesystem::remove(lock_file_, ec);  // while still holding the lock
  ::close(fd_);
  if (created_dir_ && std::filesystem::is_empty(out_, ec)) std::filesystem::remove(out_, ec);
}

std::filesystem::path path_inside(const std::filesystem::path& dir, std::string_view name, std::string& why) {
  const std::filesystem::path rel(name);
  if (name.empty()) {
    why = "empty path";
    return {};
  }
  if (name.find('\0') != std::string_view::npos) {
    why = "path contains a NUL byte";
    return {};
  }
  if (rel.is_absolute()) {
    why = cat("path '", name, "' is absolute; it must name a file inside ", dir.string());
    return {};
  }
  for (const auto& part : rel) {
    if (part == "..") {
      why = cat("path '", name,
                "' climbs out of the model's directory with '..'; it must name a file inside ", dir.string());
      return {};
    }
  }
  std::error_code ec;
  const auto base = std::filesystem::weakly_canonical(std::filesystem::absolute(dir, ec), ec);
  auto full = std::filesystem::weakly_canonical(base / rel, ec);
  if (ec) {
    why = cat("path '", name, "' cannot be resolved (", ec.message(), ")");
    return {};
  }
  // Symbolic links may point anywhere: the resolved path must still lie under the directory.
  const auto [b, f] = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
  if (b != base.end() || f == full.end()) {
    why = cat("path '", name, "' resolves to ", full.string(), ", outside ", base.string(),
              " (through a symbolic link)");
    return {};
  }
  return full;
}

FileStamp file_stamp(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0)
    throw UserError(cat(file.string(), ": cannot stat (", std::strerror(errno), ")"));  // NOLINT
  return {static_cast<std::uint64_t>(st.st_size),
          static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

}  // namespace spikesim
