// The llama2.c tokenizer: file format, run.c's BPE (dummy prefix, merges by score, leftmost on ties, byte
// fallback) and decoding, on tokenizers the test writes itself.

#include "models/tokenizer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "models/error.hpp"
#include "tests/llm_fixtures.hpp"
#include "tests/test_util.hpp"

namespace spikesim::models {
namespace {

using testing::HasSubstr;

class TokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override { test::write_file(dir_ / "tok.bin", test::byte_tokenizer(300)); }
  [[nodiscard]] Tokenizer tok() const { return Tokenizer::load(dir_ / "tok.bin", 300); }
  std::int32_t id(const std::string& piece) const {
    const Tokenizer t = tok();
    for (std::int32_t i = 0; i < t.vocab_size(); ++i)
      if (t.piece(i) == piece) return i;
    return -1;
  }
  test::ScratchDir dir_;
};

TEST_F(TokenizerTest, MergesByScoreWithDummyPrefix) {
  const Tokenizer t = tok();
  // " the" is reached through "th" (score -1) then "the" (-3) then " " + "the" (-4).
  EXPECT_EQ(t.encode("the", true, false), (std::vector<std::int32_t>{1, id(" the")}));
  EXPECT_EQ(t.encode("the", false, true), (std::vector<std::int32_t>{id(" the"), 2}));
  // " and": "an" (-7) loses to "nd" (-6), then " a" (-5) + "nd" -> " and" (-20).
  EXPECT_EQ(t.encode("and", false, false), (std::vector<std::int32_t>{id(" and")}));
  EXPECT_EQ(t.encode("", true, false), (std::vector<std::int32_t>{1}));
  EXPECT_TRUE(t.encode("", false, false).empty());
}

TEST_F(TokenizerTest, ByteFallbackAndDecode) {
  const Tokenizer t = tok();
  // 'x' and the two-byte 'é' have no piece: each byte becomes <0xNN> (id byte + 3).
  const auto ids = t.encode("x\xC3\xA9\n", true, false);
  EXPECT_EQ(ids, (std::vector<std::int32_t>{1, id(" "), 'x' + 3, 0xC3 + 3, 0xA9 + 3, '\n' + 3}));
  // After BOS the leading space of the first piece goes; byte pieces decode to their bytes.
  EXPECT_EQ(t.decode(ids), "x\xC3\xA9\n");  // the dummy " " follows BOS, so it loses its space
  EXPECT_EQ(t.decode(t.encode("the and the", true, false)), "the and the");
  EXPECT_EQ(t.piece_text(1, id(" the")), "the");
  EXPECT_EQ(t.piece_text(5, id(" the")), " the");
}

TEST_F(TokenizerTest, TiesMergeTheLeftmostPair) {
  std::vector<std::string> pieces{"<unk>", "<s>", "</s>", " ", "a", "aa"};
  std::vector<float> scores{0, 0, 0, -1, -1, -0.5F};
  test::write_file(dir_ / "ties.bin", tokenizer_bytes(pieces, scores));
  const Tokenizer t = Tokenizer::load(dir_ / "ties.bin", 6);
  // " aaa": pairs (a,a) at 1 and 2 tie; the leftmost merges: [" ", "aa", "a"].
  EXPECT_EQ(t.encode("aaa", false, false), (std::vector<std::int32_t>{3, 5, 4}));
}

TEST_F(TokenizerTest, WrongVocabSizeTruncatedAndBadIdsAreErrors) {
  try {
    (void)Tokenizer::load(dir_ / "tok.bin", 512);
    FAIL();
  } catch (const ModelError& e) {
    EXPECT_THAT(e.what(), HasSubstr("tok.bin"));
    EXPECT_THAT(e.what(), HasSubstr("holds 300 pieces but the model's vocab_size is 512"));
  }
  const std::string bytes = test::read_file(dir_ / "tok.bin");
  test::write_file(dir_ / "cut.bin", bytes.substr(0, bytes.size() - 3));
  try {
    (void)Tokenizer::load(dir_ / "cut.bin", 300);
    FAIL();
  } catch (const ModelError& e) {
    EXPECT_THAT(e.what(), HasSubstr("truncated llama2.c tokenizer"));
  }
  EXPECT_THROW((void)Tokenizer::load(dir_ / "missing.bin", 300), ModelError);
  const Tokenizer t = tok();
  EXPECT_THROW((void)t.piece(300), ModelError);
}

}  // namespace
}  // namespace spikesim::models
