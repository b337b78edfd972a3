#include "models/text_tokenizer.hpp"

#include <fstream>

#include "base/text.hpp"
#include "models/error.hpp"
#include "models/tokenizer_json.hpp"

namespace spikesim::models {

std::vector<std::int32_t> TextTokenizer::encode(std::string_view text, bool add_special) const {
  return encode_tokens(text, add_special).ids;
}

TokenizedText Llama2cTextTokenizer::encode_tokens(std::string_view text, bool add_special) const {
  TokenizedText out;
  out.ids = tokenizer_.encode(text, add_special, false);
  out.tokens.reserve(out.ids.size());
  for (const std::int32_t id : out.ids)
    out.tokens.push_back(tokenizer_.piece(id));
  return out;
}

std::vector<std::int32_t> Llama2cTextTokenizer::encode(std::string_view text, bool add_special) const {
  return tokenizer_.encode(text, add_special, false);
}

std::string Llama2cTextTokenizer::decode(std::span<const std::int32_t> ids, bool skip_special) const {
  if (skip_special) return tokenizer_.decode(ids);
  std::string out;
  for (const std::int32_t id : ids)
    out += tokenizer_.piece_text(-1, id);
  return out;
}

std::optional<std::int32_t> Llama2cTextTokenizer::token_id(std::string_view token) const {
  const std::int32_t id = tokenizer_.lookup(token);
  return id >= 0 ? std::optional(id) : std::nullopt;
}

std::optional<std::string> Llama2cTextTokenizer::id_token(std::int32_t id) const {
  if (id < 0 || id >= tokenizer_.vocab_size()) return std::nullopt;
  return tokenizer_.piece(id);
}

TokenizerFormat detect_tokenizer_format(const std::filesystem::path& file) {
  const std::string ext = file.extension().string();
  if (ext == ".json") return TokenizerFormat::tokenizer_json;
  if (ext == ".bin") return TokenizerFormat::llama2c;
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ModelError(cat(file.string(), ": file not found"));
  char c = 0;
  while (in.get(c)) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
  }
  return in && c == '{' ? TokenizerFormat::tokenizer_json : TokenizerFormat::llama2c;
}

std::shared_ptr<const TextTokenizer> load_text_tokenizer(const std::filesystem::path& file,
                                                         std::int64_t model_vocab) {
  if (detect_tokenizer_format(file) == TokenizerFormat::llama2c)
    return std::make_shared<Llama2cTextTokenizer>(Tokenizer::load(file, model_vocab));
  auto t = std::make_shared<TokenizerJson>(TokenizerJson::load(file));
  if (model_vocab >= 0 && t->vocab_size() > model_vocab) {
    throw ModelError(cat(file.string(), ": the tokenizer has ids up to ", t->vocab_size() - 1, " (",
                         t->vocab_size(), " with its added tokens) but the model's vocab_size is ",
                         model_vocab, " (tokenizer of another model?)"));
  }
  return t;
}

}  // namespace spikesim::models
