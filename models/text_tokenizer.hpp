#pragma once
// What the LLM paths need of a tokenizer, whatever its file: the llama2.c tokenizer .bin
// (models/tokenizer.hpp) or a Hugging Face tokenizer.json (models/tokenizer_json.hpp). run, generate,
// compare, convert and tokenize hold a tokenizer through this interface only.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/tokenizer.hpp"

namespace spikesim::models {

// Token ids of a text and the token string of each (tokenizer.json: Encoding.tokens; llama2.c: the pieces).
struct TokenizedText {
  std::vector<std::int32_t> ids;
  std::vector<std::string> tokens;
};

class TextTokenizer {
 public:
  TextTokenizer() = default;
  TextTokenizer(const TextTokenizer&) = default;
  TextTokenizer& operator=(const TextTokenizer&) = default;
  TextTokenizer(TextTokenizer&&) = default;
  TextTokenizer& operator=(TextTokenizer&&) = default;
  virtual ~TextTokenizer() = default;

  // Ids of `text` (UTF-8). add_special: the tokenizer's own special tokens around the text — llama2.c: BOS
  // first; tokenizer.json: the post-processor's template (e.g. BOS), as Hugging Face's
  // encode(add_special_tokens=True). `--no-bos` is add_special = false.
  [[nodiscard]] virtual TokenizedText encode_tokens(std::string_view text, bool add_special) const = 0;
  [[nodiscard]] virtual std::vector<std::int32_t> encode(std::string_view text, bool add_special) const;

  // Text of `ids`. tokenizer.json: Hugging Face's decode(ids, skip_special_tokens) (ids the tokenizer does
  // not know are dropped, as there). llama2.c: skip_special = true is run.c's decode (a leading BOS dropped,
  // the piece after BOS loses its leading space); false concatenates every piece's text as is (the text of
  // a continuation).
  [[nodiscard]] virtual std::string decode(std::span<const std::int32_t> ids, bool skip_special) const = 0;

  // Every id the tokenizer can produce is < vocab_size(): llama2.c: its pieces; tokenizer.json: the largest
  // id of the model vocabulary and the added tokens, + 1.
  [[nodiscard]] virtual std::int64_t vocab_size() const = 0;
  [[nodiscard]] virtual const std::string& file() const = 0;
  [[nodiscard]] virtual std::string_view format() const = 0;  // "llama2.c" or "tokenizer.json"
  // The id add_special puts before the text (llama2.c: 1; tokenizer.json: the template's special token
  // before $A when it is one id), and the one after it (llama2.c: 2, which encode never adds;
  // tokenizer.json: the template's special token after $A, if any). nullopt when there is none.
  [[nodiscard]] virtual std::optional<std::int32_t> bos_id() const = 0;
  [[nodiscard]] virtual std::optional<std::int32_t> eos_id() const = 0;
  // Id of a token string (added tokens first, then the vocabulary) and back; nullopt when unknown.
  [[nodiscard]] virtual std::optional<std::int32_t> token_id(std::string_view token) const = 0;
  [[nodiscard]] virtual std::optional<std::string> id_token(std::int32_t id) const = 0;
};

// The llama2.c tokenizer behind the interface.
class Llama2cTextTokenizer final : public TextTokenizer {
 public:
  explicit Llama2cTextTokenizer(Tokenizer tokenizer) : tokenizer_(std::move(tokenizer)) {}
  [[nodiscard]] TokenizedText encode_tokens(std::string_view text, bool add_special) const override;
  [[nodiscard]] std::vector<std::int32_t> encode(std::string_view text, bool add_special) const override;
  [[nodiscard]] std::string decode(std::span<const std::int32_t> ids, bool skip_special) const override;
  [[nodiscard]] std::int64_t vocab_size() const override { return tokenizer_.vocab_size(); }
  [[nodiscard]] const std::string& file() const override { return tokenizer_.file(); }
  [[nodiscard]] std::string_view format() const override { return "llama2.c"; }
  [[nodiscard]] std::optional<std::int32_t> bos_id() const override { return 1; }
  [[nodiscard]] std::optional<std::int32_t> eos_id() const override { return 2; }
  [[nodiscard]] std::optional<std::int32_t> token_id(std::string_view token) const override;
  [[nodiscard]] std::optional<std::string> id_token(std::int32_t id) const override;
  [[nodiscard]] const Tokenizer& llama2c() const { return tokenizer_; }

 private:
  Tokenizer tokenizer_;
};

enum class TokenizerFormat { llama2c, tokenizer_json };
// By extension (.json: tokenizer.json, .bin: llama2.c), else by content (first non-blank byte '{').
TokenizerFormat detect_tokenizer_format(const std::filesystem::path& file);

// Loads `file` of either format for a model of `model_vocab` embedding rows: a llama2.c file must hold
// exactly that many pieces; a tokenizer.json may have fewer ids (checkpoints pad the embedding) but not more.
// model_vocab < 0: no model to fit (spikesim tokenize). ModelError naming the file otherwise.
std::shared_ptr<const TextTokenizer> load_text_tokenizer(const std::filesystem::path& file,
                                                         std::int64_t model_vocab);

}  // namespace spikesim::models
