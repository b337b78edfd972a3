// IDX datasets: header and payload checks (plain and gzip), labels, preprocessing and layouts.

#include "models/idx.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>

#include "models/error.hpp"
#include "tests/test_util.hpp"

namespace spikesim::models {
namespace {

using ::testing::HasSubstr;

std::string idx_bytes(std::uint8_t type, const std::vector<std::uint32_t>& dims, const std::string& payload) {
  std::string s = {'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (const auto d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8)
      s.push_back(static_cast<char>((d >> static_cast<unsigned>(shift)) & 0xFFU));
  }
  return s + payload;
}

void write_plain(const std::filesystem::path& f, const std::string& bytes) {
  std::ofstream out(f, std::ios::binary);
  out << bytes;
}

void write_gz(const std::filesystem::path& f, const std::string& bytes) {
  gzFile gz = gzopen(f.string().c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  ASSERT_EQ(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(gz);
}

std::string error_of(const std::filesystem::path& f) {
  try {
    (void)read_idx(f);
  } catch (const ModelError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Idx, ReadsPlainAndGzipWithEveryType) {
  test::ScratchDir dir;
  const std::string pixels = {1, 2, 3, 4, 5, static_cast<char>(255)};
  write_plain(dir / "a.idx", idx_bytes(0x08, {1, 2, 3}, pixels));
  write_gz(dir / "a.idx.gz", idx_bytes(0x08, {1, 2, 3}, pixels));
  for (const char* name : {"a.idx", "a.idx.gz"}) {
    const IdxArray a = read_idx(dir / name);
    EXPECT_EQ(a.shape, (std::vector<std::int64_t>{1, 2, 3}));
    EXPECT_EQ(a.values, (std::vector<double>{1, 2, 3, 4, 5, 255}));
  }
  // Big-endian int16, int32, float32 and float64.
  write_plain(dir / "s.idx", idx_bytes(0x0B, {2}, std::string("\xFF\xFE\x01\x00", 4)));
  EXPECT_EQ(read_idx(dir / "s.idx").values, (std::vector<double>{-2, 256}));
  write_plain(dir / "i.idx", idx_bytes(0x0C, {1}, std::string("\xFF\xFF\xFF\xFD", 4)));
  EXPECT_EQ(read_idx(dir / "i.idx").values, (std::vector<double>{-3}));
  write_plain(dir / "f.idx", idx_bytes(0x0D, {1}, std::string("\x3F\xC0\x00\x00", 4)));
  EXPECT_EQ(read_idx(dir / "f.idx").values, (std::vector<double>{1.5}));
  write_plain(dir / "d.idx", idx_bytes(0x0E, {1}, std::string("\xC0\x04\x00\x00\x00\x00\x00\x00", 8)));
  EXPECT_EQ(read_idx(dir / "d.idx").values, (std::vector<double>{-2.5}));
  write_plain(dir / "b.idx", idx_bytes(0x09, {1}, std::string("\xFE", 1)));
  EXPECT_EQ(read_idx(dir / "b.idx").values, (std::vector<double>{-2}));
}

TEST(Idx, BadFilesNameTheFileAndTheProblem) {
  test::ScratchDir dir;
  write_plain(dir / "magic.idx", std::string("\x01\x00\x08\x01\x00\x00\x00\x01\x05", 9));
  EXPECT_THAT(error_of(dir / "magic.idx"), HasSubstr("not an IDX file"));
  write_plain(dir / "type.idx", idx_bytes(0x07, {1}, "x"));
  EXPECT_THAT(error_of(dir / "type.idx"), HasSubstr("unknown IDX element type 0x7"));
  write_plain(dir / "short.idx", idx_bytes(0x08, {10, 28, 28}, std::string(100, 'x')));
  EXPECT_THAT(error_of(dir / "short.idx"),
              HasSubstr("IDX payload for [10, 28, 28] needs 7856 bytes, file has 116 (truncated)"));
  write_plain(dir / "long.idx", idx_bytes(0x08, {2}, "abc"));
  EXPECT_THAT(error_of(dir / "long.idx"), HasSubstr("(trailing data)"));
  write_plain(dir / "header.idx", std::string("\x00\x00\x08\x03\x00\x00", 6));
  EXPECT_THAT(error_of(dir / "header.idx"), HasSubstr("truncated IDX header"));
  EXPECT_THAT(error_of(dir / "missing.idx"), HasSubstr("file not found"));

  // A gzip stream cut short, and one with corrupted compressed bytes.
  write_gz(dir / "full.gz", idx_bytes(0x08, {64, 64}, std::string(4096, '\x07')));
  std::ifstream in(dir / "full.gz", std::ios::binary);
  const std::string gz{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  write_plain(dir / "cut.gz", gz.substr(0, gz.size() / 2));
  EXPECT_THAT(error_of(dir / "cut.gz"), ::testing::AnyOf(HasSubstr("gzip"), HasSubstr("truncated")));
  std::string bad = gz;
  for (std::size_t i = 12; i < bad.size() - 8; i += 3)
    bad[i] = static_cast<char>(bad[i] ^ 0x5A);
  write_plain(dir / "bad.gz", bad);
  EXPECT_NE(error_of(dir / "bad.gz"), "no error");
}

TEST(IdxDataset, ImagesLabelsLimitAndMismatches) {
  test::ScratchDir dir;
  std::string pixels;
  for (int i = 0; i < 3 * 4; ++i)
    pixels.push_back(static_cast<char>(i * 10));
  write_gz(dir / "img.gz", idx_bytes(0x08, {3, 2, 2}, pixels));
  write_gz(dir / "lab.gz", idx_bytes(0x08, {3}, std::string("\x07\x01\x09", 3)));
  write_gz(dir / "lab2.gz", idx_bytes(0x08, {2}, std::string("\x07\x01", 2)));
  const Dataset d = load_idx_dataset(dir / "img.gz", dir / "lab.gz", 2);
  EXPECT_EQ(d.samples, 2);
  EXPECT_EQ(d.sample_size(), 4);
  EXPECT_EQ(d.labels, (std::vector<std::int64_t>{7, 1}));
  EXPECT_EQ(d.pixels.size(), 8U);
  try {
    (void)load_idx_dataset(dir / "img.gz", dir / "lab2.gz");
    FAIL() << "expected a mismatch error";
  } catch (const ModelError& e) {
    EXPECT_THAT(e.what(), HasSubstr("2 labels but"));
    EXPECT_THAT(e.what(), HasSubstr("has 3 images"));
  }
  EXPECT_THROW((void)load_idx_dataset(dir / "lab.gz", ""), ModelError);  // labels are not images
}

TEST(IdxPreprocess, ScaleMeanStdAndLayouts) {
  EXPECT_DOUBLE_EQ(parse_scale("1/255"), 1.0 / 255.0);
  EXPECT_DOUBLE_EQ(parse_scale("0.5"), 0.5);
  EXPECT_DOUBLE_EQ(parse_scale("2e-3"), 0.002);
  EXPECT_THROW(parse_scale("1/0"), ModelError);
  EXPECT_THROW(parse_scale("abc"), ModelError);
  EXPECT_THROW(parse_scale("1/2x"), ModelError);

  // Two RGB-like samples of 1x2 pixels stored channels last (IDX 4-D): [N][H][W][C].
  test::ScratchDir dir;
  std::string pixels;
  for (int i = 0; i < 2 * 1 * 2 * 3; ++i)
    pixels.push_back(static_cast<char>(i));
  write_plain(dir / "rgb.idx", idx_bytes(0x08, {2, 1, 2, 3}, pixels));
  const Dataset d = load_idx_dataset(dir / "rgb.idx", "");
  EXPECT_EQ(d.channels, 3);
  Preprocess p;
  p.scale = 2.0;
  p.mean = {0, 1, 2};
  p.std = {1, 1, 2};
  std::vector<float> nchw(6);
  preprocess(d, 1, 1, p, nchw);                                  // sample 1: pixels (6 7 8) (9 10 11)
  EXPECT_EQ(nchw, (std::vector<float>{12, 18, 13, 19, 7, 10}));  // [C][H][W]
  p.layout = Layout::nhwc;
  std::vector<float> nhwc(6);
  preprocess(d, 1, 1, p, nhwc);
  EXPECT_EQ(nhwc, (std::vector<float>{12, 13, 7, 18, 19, 10}));
  p.mean = {0, 1};
  EXPECT_THROW(preprocess(d, 0, 1, p, nhwc), ModelError);
  p.mean = {0};
  p.std = {0};
  EXPECT_THROW(preprocess(d, 0, 1, p, nhwc), ModelError);
}

TEST(IdxMnist, ReadsTheOfficialTestSet) {
  const auto images = test::shared_data("mnist/t10k-images-idx3-ubyte.gz");
  const auto labels = test::shared_data("mnist/t10k-labels-idx1-ubyte.gz");
  if (!images || !labels) GTEST_SKIP() << "SKIPPED: ../shared/data/mnist not present";
  const Dataset d = load_idx_dataset(*images, *labels);
  EXPECT_EQ(d.samples, 10000);
  EXPECT_EQ(d.height, 28);
  EXPECT_EQ(d.width, 28);
  EXPECT_EQ(d.labels[0], 7);  // the first MNIST test digit is a 7
  EXPECT_EQ(*std::max_element(d.pixels.begin(), d.pixels.end()), 255.0F);
}

}  // namespace
}  // namespace spikesim::models
