// base/files.hpp: atomic output sets, the --out lock, paths that must stay inside a directory, file stamps.

#include "base/files.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "tests/test_util.hpp"

namespace spikesim {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string read_text(const fs::path& f) {
  std::ifstream in(f);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(Files, WriteFilesAtomicWritesAllAndLeavesNoPartials) {
  test::ScratchDir dir;
  write_files_atomic(dir / "out", {{"a.txt", "A"}, {"b.txt", "B"}});
  EXPECT_EQ(read_text(dir / "out" / "a.txt"), "A");
  EXPECT_EQ(read_text(dir / "out" / "b.txt"), "B");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir / "out"), fs::directory_iterator{}), 2);
  write_file_atomic(dir / "one.txt", "1");
  EXPECT_EQ(read_text(dir / "one.txt"), "1");
  EXPECT_FALSE(fs::exists(dir / "one.txt.partial"));
}

TEST(Files, AFailedWriteRemovesEveryPartialFileAndNamesTheFile) {
  test::ScratchDir dir;
  fs::create_directories(dir / "out" / "b.txt.partial");  // a directory where a partial file must go
  try {
    write_files_atomic(dir / "out", {{"a.txt", "A"}, {"b.txt", "B"}});
    FAIL() << "no error";
  } catch (const OutputError& e) {
    EXPECT_THAT(e.what(), HasSubstr((dir / "out" / "b.txt").string() + ": cannot write 1 bytes: "));
  }
  EXPECT_FALSE(fs::exists(dir / "out" / "a.txt.partial"));
  EXPECT_FALSE(fs::exists(dir / "out" / "a.txt"));
}

TEST(Files, WriteErrorTextSaysDiskFull) {
  EXPECT_EQ(write_error_text(ENOSPC), "disk full (No space left on device)");
  EXPECT_THAT(write_error_text(EDQUOT), HasSubstr("disk full"));
  EXPECT_EQ(write_error_text(EACCES), "Permission denied");
}

TEST(Files, DevFullIsReportedAsDiskFull) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "SKIPPED: no /dev/full";
  test::ScratchDir dir;
  fs::create_symlink("/dev/full", dir / "x.partial");  // the partial file is written through the link
  try {
    write_file_atomic(dir / "x", std::string(1 << 16, 'z'));
    FAIL() << "no error";
  } catch (const OutputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("disk full (No space left on device)"));
  }
}

TEST(Files, OutputLockExcludesASecondRunAcrossProcessesAndCleansUp) {
  test::ScratchDir dir;
  const fs::path out = dir / "run";
  {
    const OutputLock lock(out);
    EXPECT_TRUE(fs::exists(out / ".spikesim.lock"));
    // The same process, and another process, cannot take it.
    try {
      const OutputLock second(out);
      FAIL() << "second lock taken";
    } catch (const OutputError& e) {
      EXPECT_THAT(e.what(), HasSubstr(out.string() + ": another spikesim run is writing here"));
    }
    const pid_t child = fork();
    if (child == 0) {
      try {
        const OutputLock other(out);
        _exit(0);
      } catch (const OutputError&) {
        _exit(3);
      }
    }
    int status = 0;
    waitpid(child, &status, 0);
    EXPECT_EQ(WEXITSTATUS(status), 3);
  }
  // Released: the lock file is gone, and so is the directory the lock created (nothing was written).
  EXPECT_FALSE(fs::exists(out));
  {
    const OutputLock lock(out);
    std::ofstream(out / "report.json") << "{}";
  }
  EXPECT_TRUE(fs::exists(out / "report.json"));  // output stays, the lock file does not
  EXPECT_FALSE(fs::exists(out / ".spikesim.lock"));
  {
    const OutputLock lock(out);  // an existing directory is kept
  }
  EXPECT_TRUE(fs::exists(out));
  // A file output locks FILE.lock beside it.
  {
    const OutputLock lock(dir / "events.h5", OutputLock::Kind::file);
    EXPECT_TRUE(fs::exists(dir / "events.h5.lock"));
    EXPECT_THROW(OutputLock(dir / "events.h5", OutputLock::Kind::file), OutputError);
  }
  EXPECT_FALSE(fs::exists(dir / "events.h5.lock"));
  std::ofstream(dir / "plain") << "x";
  EXPECT_THROW(OutputLock(dir / "plain"), OutputError);  // not a directory
}

TEST(Files, PathInsideRefusesAbsoluteDotDotAndSymlinksOut) {
  test::ScratchDir dir;
  fs::create_directories(dir / "model" / "sub");
  std::ofstream(dir / "model" / "w.bin") << "w";
  std::ofstream(dir / "secret") << "s";
  std::string why;
  EXPECT_EQ(path_inside(dir / "model", "w.bin", why), fs::weakly_canonical(dir / "model" / "w.bin"));
  EXPECT_EQ(path_inside(dir / "model", "sub/../w.bin", why), fs::path{});  // any '..' is refused
  EXPECT_THAT(why, HasSubstr("climbs out"));
  EXPECT_EQ(path_inside(dir / "model", "/etc/passwd", why), fs::path{});
  EXPECT_THAT(why, HasSubstr("is absolute"));
  EXPECT_EQ(path_inside(dir / "model", "", why), fs::path{});
  fs::create_symlink(dir / "secret", dir / "model" / "link");
  EXPECT_EQ(path_inside(dir / "model", "link", why), fs::path{});
  EXPECT_THAT(why, HasSubstr("outside"));
  fs::create_symlink(dir / "model" / "w.bin", dir / "model" / "inner");
  EXPECT_EQ(path_inside(dir / "model", "inner", why), fs::weakly_canonical(dir / "model" / "w.bin"));
  EXPECT_THROW((void)resolve_inside<OutputError>(dir / "model", "../secret", "x"), OutputError);
}

TEST(Files, StampsChangeWithContentSizeOrTime) {
  test::ScratchDir dir;
  std::ofstream(dir / "f") << "abc";
  const FileStamp a = file_stamp(dir / "f");
  EXPECT_EQ(a.bytes, 3U);
  fs::last_write_time(dir / "f", fs::last_write_time(dir / "f") + std::chrono::seconds(5));
  const FileStamp b = file_stamp(dir / "f");
  EXPECT_NE(a.mtime_ns, b.mtime_ns);
  EXPECT_THROW((void)file_stamp(dir / "none"), UserError);
}

}  // namespace
}  // namespace spikesim
