// Hugging Face tokenizer.json (models/tokenizer_json.hpp): every case of the goldens made by the `tokenizers`
// library (tests/golden/hf/tokenizers/<name>/tests.json) encodes to its ids and decodes to its text; --no-bos
// (add_special false); special tokens; unsupported pieces refused by name; corrupt files refused naming the
// file.

#include "models/tokenizer_json.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "models/error.hpp"
#include "models/text_tokenizer.hpp"
#include "tests/test_util.hpp"

namespace spikesim {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

const fs::path golden_dir = fs::path(SPIKESIM_SOURCE_DIR) / "tests/golden/hf/tokenizers";

std::string read_text(const fs::path& f) {
  std::ifstream in(f, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

json read_json(const fs::path& f) {
  return json::parse(read_text(f));
}

class TokenizerJsonGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerJsonGolden, EveryCaseEncodesAndDecodesAsTokenizersDoes) {
  const fs::path dir = golden_dir / GetParam();
  const json golden = read_json(dir / "tests.json");
  const auto tok = models::TokenizerJson::load(dir / "tokenizer.json");
  EXPECT_EQ(tok.model_vocab_size(), golden["vocab_size"].get<std::int64_t>());
  EXPECT_EQ(tok.vocab_size(), golden["vocab_size_with_added"].get<std::int64_t>());
  for (const auto& [token, id] : golden["special_tokens"].items()) {
    EXPECT_EQ(tok.token_id(token), id.get<std::int32_t>()) << token;
    EXPECT_EQ(tok.id_token(id.get<std::int32_t>()), token);
  }
  ASSERT_GE(golden["tests"].size(), 30U);
  int checked = 0;
  for (const json& t : golden["tests"]) {
    const std::string text = t["text"].get<std::string>();
    SCOPED_TRACE("text: " + json(text).dump());
    const auto ids = t["ids"].get<std::vector<std::int32_t>>();
    const auto with_special = t["ids_with_special"].get<std::vector<std::int32_t>>();
    const models::TokenizedText plain = tok.encode_tokens(text, false);
    EXPECT_EQ(plain.ids, ids);
    EXPECT_EQ(plain.tokens, t["tokens"].get<std::vector<std::string>>());
    EXPECT_EQ(tok.encode(text, false), ids);
    EXPECT_EQ(tok.encode(text, true), with_special);
    EXPECT_EQ(tok.decode(ids, false), t["decoded"].get<std::string>());
    EXPECT_EQ(tok.decode(with_special, false), t["decoded_with_special"].get<std::string>());
    EXPECT_EQ(tok.decode(with_special, true), t["decoded_with_special_skipped"].get<std::string>());
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(golden["tests"].size()));
}

INSTANTIATE_TEST_SUITE_P(Hf, TokenizerJsonGolden,
                         ::testing::Values("gpt2", "llama3", "qwen2", "spm", "spm_metaspace"));

// add_special = false (--no-bos) drops exactly the template's BOS; true puts it first.
TEST(TokenizerJson, NoBosDropsTheTemplatesSpecialTokens) {
  const auto llama3 = models::TokenizerJson::load(golden_dir / "llama3/tokenizer.json");
  ASSERT_EQ(llama3.bos_id(), 420);
  const auto with = llama3.encode("In the beginning", true);
  const auto without = llama3.encode("In the beginning", false);
  ASSERT_FALSE(without.empty());
  ASSERT_EQ(with.size(), without.size() + 1);
  EXPECT_EQ(with.front(), 420);
  EXPECT_EQ(std::vector<std::int32_t>(with.begin() + 1, with.end()), without);
  EXPECT_EQ(llama3.encode("", true), std::vector<std::int32_t>{420});
  EXPECT_TRUE(llama3.encode("", false).empty());

  const auto spm = models::TokenizerJson::load(golden_dir / "spm/tokenizer.json");
  EXPECT_EQ(spm.bos_id(), 1);
  EXPECT_EQ(spm.encode("and", true).front(), 1);
  EXPECT_NE(spm.encode("and", false).front(), 1);

  // Qwen2 has no BOS: add_special changes nothing.
  const auto qwen2 = models::TokenizerJson::load(golden_dir / "qwen2/tokenizer.json");
  EXPECT_EQ(qwen2.bos_id(), std::nullopt);
  EXPECT_EQ(qwen2.encode("and the", true), qwen2.encode("and the", false));
}

// Added / special tokens are matched in the raw text before the normaliser and pre-tokenizer.
TEST(TokenizerJson, SpecialTokensInsideTextAreOneId) {
  const auto qwen2 = models::TokenizerJson::load(golden_dir / "qwen2/tokenizer.json");
  const auto ids = qwen2.encode("<|im_start|>user\nhi<|im_end|>", false);
  ASSERT_GE(ids.size(), 3U);
  EXPECT_EQ(ids.front(), 385);
  EXPECT_EQ(ids.back(), 386);
  EXPECT_EQ(qwen2.decode(ids, true), "user\nhi");
  EXPECT_EQ(qwen2.decode(ids, false), "<|im_start|>user\nhi<|im_end|>");

  const auto gpt2 = models::TokenizerJson::load(golden_dir / "gpt2/tokenizer.json");
  const auto g = gpt2.encode("a<|endoftext|>b", false);
  ASSERT_EQ(g.size(), 3U);
  EXPECT_EQ(g[1], 400);
}

// The llama3 golden file with one piece replaced.
std::string edited(const std::function<void(json&)>& edit) {
  json j = read_json(golden_dir / "llama3/tokenizer.json");
  edit(j);
  return j.dump();
}

std::string parse_error(const std::string& text, const std::string& name = "edited/tokenizer.json") {
  try {
    (void)models::TokenizerJson::parse(text, name);
  } catch (const models::ModelError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TokenizerJson, UnsupportedPiecesAreRefusedByName) {
  const std::string normalizer = parse_error(edited([](json& j) {
    j["normalizer"] = {{"type", "Lowercase"}};
  }));
  EXPECT_THAT(normalizer, HasSubstr("edited/tokenizer.json"));
  EXPECT_THAT(normalizer, HasSubstr("Lowercase"));
  EXPECT_THAT(normalizer, HasSubstr("normalizer"));

  const std::string pre = parse_error(edited([](json& j) { j["pre_tokenizer"] = {{"type", "Whitespace"}}; }));
  EXPECT_THAT(pre, HasSubstr("Whitespace"));
  EXPECT_THAT(pre, HasSubstr("pre_tokenizer"));

  const std::string model = parse_error(edited([](json& j) { j["model"]["type"] = "WordPiece"; }));
  EXPECT_THAT(model, HasSubstr("WordPiece"));
  EXPECT_THAT(model, HasSubstr("model"));

  const std::string decoder = parse_error(edited([](json& j) { j["decoder"] = {{"type", "CTC"}}; }));
  EXPECT_THAT(decoder, HasSubstr("CTC"));

  // The unedited file parses: the refusals above come from the edits.
  EXPECT_NO_THROW((void)models::TokenizerJson::parse(edited([](json&) {}), "edited/tokenizer.json"));
}

TEST(TokenizerJson, CorruptOrTruncatedFilesNameTheFile) {
  test::ScratchDir dir;
  const std::string whole = read_text(golden_dir / "llama3/tokenizer.json");
  const fs::path truncated = dir / "truncated.json";
  std::ofstream(truncated, std::ios::binary) << whole.substr(0, whole.size() / 2);
  try {
    (void)models::TokenizerJson::load(truncated);
    ADD_FAILURE() << "a truncated tokenizer.json loaded";
  } catch (const models::ModelError& e) {
    EXPECT_THAT(e.what(), HasSubstr(truncated.string()));
  }
  EXPECT_THAT(parse_error("not json at all", "x/tokenizer.json"), HasSubstr("x/tokenizer.json"));
  EXPECT_THAT(parse_error("[1, 2]", "x/tokenizer.json"), HasSubstr("x/tokenizer.json"));
  EXPECT_THAT(parse_error(edited([](json& j) { j.erase("model"); }), "x/tokenizer.json"), HasSubstr("model"));
  EXPECT_THAT(parse_error(edited([](json& j) { j["model"]["merges"] = {"zzzq yyyq"}; }), "x/tokenizer.json"),
              HasSubstr("x/tokenizer.json"));
  EXPECT_THROW((void)models::TokenizerJson::load(dir / "missing.json"), models::ModelError);

  // Through the format-detecting loader used by run / generate / tokenize, too.
  try {
    (void)models::load_text_tokenizer(truncated, -1);
    ADD_FAILURE() << "a truncated tokenizer.json loaded";
  } catch (const models::ModelError& e) {
    EXPECT_THAT(e.what(), HasSubstr(truncated.string()));
  }
}

// A model whose embedding is smaller than the tokenizer's ids is refused.
TEST(TokenizerJson, MoreIdsThanTheModelIsRefused) {
  EXPECT_NO_THROW((void)models::load_text_tokenizer(golden_dir / "llama3/tokenizer.json", 422));
  EXPECT_THROW((void)models::load_text_tokenizer(golden_dir / "llama3/tokenizer.json", 300),
               models::ModelError);
}

}  // namespace
}  // namespace spikesim
