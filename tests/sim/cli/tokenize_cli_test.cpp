// spikesim tokenize (ids as JSON, --no-bos, --text-file, errors) and generate --out writing generation.json,
// on the Hugging Face goldens (tests/golden/hf): the built binary run as a child process.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "tests/test_util.hpp"

namespace spikesim {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

const fs::path hf_dir = fs::path(SPIKESIM_SOURCE_DIR) / "tests/golden/hf";

json read_json(const fs::path& f) {
  std::ifstream in(f);
  return json::parse(in);
}

// The golden case whose text is `text`.
json golden_case(const std::string& tok, const std::string& text) {
  const json all = read_json(hf_dir / "tokenizers" / tok / "tests.json");  // kept alive over the loop
  for (const json& t : all["tests"]) {
    if (t["text"] == text) return t;
  }
  ADD_FAILURE() << "no golden case " << text << " in " << tok;
  return json::object();
}

// The golden case with the most ids (a real sentence, not a corner case).
json longest_case(const std::string& tok) {
  json best;
  const json all = read_json(hf_dir / "tokenizers" / tok / "tests.json");  // kept alive over the loop
  for (const json& t : all["tests"]) {
    if (best.is_null() || t["ids"].size() > best["ids"].size()) best = t;
  }
  return best;
}

TEST(TokenizeCli, PrintsTheGoldenIdsAsJson) {
  for (const std::string tok : {"llama3", "spm", "qwen2", "gpt2", "spm_metaspace"}) {
    SCOPED_TRACE(tok);
    const json t = longest_case(tok);
    const std::string file = (hf_dir / "tokenizers" / tok / "tokenizer.json").string();
    const auto r = test::run_spikesim({"tokenize", "--tokenizer", file, "--text", t["text"]});
    ASSERT_EQ(r.status, 0) << r.err;
    const json out = json::parse(r.out);
    EXPECT_EQ(out["ids"], t["ids_with_special"]);
    const auto nb = test::run_spikesim({"tokenize", "--tokenizer", file, "--text", t["text"], "--no-bos"});
    ASSERT_EQ(nb.status, 0) << nb.err;
    const json o2 = json::parse(nb.out);
    EXPECT_EQ(o2["ids"], t["ids"]);
    EXPECT_EQ(o2["tokens"], t["tokens"]);
  }
}

TEST(TokenizeCli, NoBosDropsTheBos) {
  const std::string file = (hf_dir / "tokenizers/llama3/tokenizer.json").string();
  const auto with = test::run_spikesim({"tokenize", "--tokenizer", file, "--text", "a"});
  const auto without = test::run_spikesim({"tokenize", "--tokenizer", file, "--text", "a", "--no-bos"});
  ASSERT_EQ(with.status, 0) << with.err;
  ASSERT_EQ(without.status, 0) << without.err;
  const json g = golden_case("llama3", "a");
  EXPECT_EQ(json::parse(with.out)["ids"], g["ids_with_special"]);
  EXPECT_EQ(json::parse(without.out)["ids"], g["ids"]);
  EXPECT_EQ(json::parse(with.out)["ids"][0], 420);
}

TEST(TokenizeCli, TextFileDropsOneFinalNewline) {
  test::ScratchDir dir;
  const json t = longest_case("spm");
  std::ofstream(dir / "text.txt", std::ios::binary) << t["text"].get<std::string>() << "\n";
  const auto r =
      test::run_spikesim({"tokenize", "--tokenizer", (hf_dir / "tokenizers/spm/tokenizer.json").string(),
                          "--text-file", (dir / "text.txt").string(), "--no-bos"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["ids"], t["ids"]);
}

TEST(TokenizeCli, ErrorsNameWhatIsWrong) {
  test::ScratchDir dir;
  std::ofstream(dir / "tokenizer.json") << "{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}";
  const auto bad =
      test::run_spikesim({"tokenize", "--tokenizer", (dir / "tokenizer.json").string(), "--text", "a"});
  EXPECT_NE(bad.status, 0);
  EXPECT_THAT(bad.err, HasSubstr((dir / "tokenizer.json").string()));
  EXPECT_TRUE(bad.out.empty());

  std::ofstream(dir / "cut.json") << "{\"version\": \"1.0\", \"model\": {\"type\": \"BPE\", \"vo";
  const auto cut =
      test::run_spikesim({"tokenize", "--tokenizer", (dir / "cut.json").string(), "--text", "a"});
  EXPECT_NE(cut.status, 0);
  EXPECT_THAT(cut.err, HasSubstr((dir / "cut.json").string()));

  // Neither --text nor --text-file.
  const auto none =
      test::run_spikesim({"tokenize", "--tokenizer", (hf_dir / "tokenizers/gpt2/tokenizer.json").string()});
  EXPECT_NE(none.status, 0);
  EXPECT_THAT(none.err, HasSubstr("--text"));
}

// generate on a Hugging Face checkpoint finds tokenizer.json beside the model, and --out writes
// generation.json with the prompt ids the tokenizer gives (golden) and the generated ids.
TEST(GenerateCli, WritesGenerationJson) {
  test::ScratchDir dir;
  const json t = golden_case("llama3", "a");
  const fs::path model = hf_dir / "llama3";
  const auto r = test::run_spikesim({"generate", "--model", model.string(), "--prompt", "a", "--steps", "3",
                                     "--no-stop", "--out", (dir / "out").string(), "-q"},
                                    300.0);
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_TRUE(fs::exists(dir / "out" / "generation.json"));
  const json g = read_json(dir / "out" / "generation.json");
  EXPECT_EQ(g["prompt_ids"], t["ids_with_special"]);
  EXPECT_EQ(g["generated_ids"].size(), 3U);
  EXPECT_EQ(g["no_bos"], false);
  EXPECT_EQ(g["tokenizer_format"], "tokenizer.json");
  EXPECT_THAT(g["tokenizer"].get<std::string>(), HasSubstr("tokenizer.json"));
  EXPECT_TRUE(g["text"].is_string());
  EXPECT_TRUE(fs::exists(dir / "out" / "report.json"));

  const auto nb = test::run_spikesim({"generate", "--model", model.string(), "--prompt", "a", "--steps", "1",
                                      "--no-stop", "--no-bos", "--out", (dir / "nb").string(), "-q"},
                                     300.0);
  ASSERT_EQ(nb.status, 0) << nb.err;
  const json g2 = read_json(dir / "nb" / "generation.json");
  EXPECT_EQ(g2["prompt_ids"], t["ids"]);
  EXPECT_EQ(g2["no_bos"], true);
}

}  // namespace
}  // namespace spikesim
