#pragma once
// Hugging Face tokenizer.json (the `tokenizers` library's format, version "1.0") with a BPE model, applied
// the way tokenizers 0.23 does, step by step (its Rust sources are the reference; the tests compare ids,
// tokens and decoded text with goldens made by the library itself, tests/golden/hf/tokenizers/):
//
//   1. added tokens with normalized = false are matched in the raw text (leftmost, longest first; flags
//      single_word, lstrip, rstrip); the text between them goes on;
//   2. the normalizer runs on each remaining piece (NFC, NFD, NFKC, NFKD through ICU; Prepend; Replace with a
//      string or a regex; Sequence), then added tokens with normalized = true are matched in its output;
//   3. the pre-tokenizers split the pieces into words (ByteLevel with the GPT-2 regex or none, and GPT-2's
//      bytes_to_unicode alphabet; Split with a regex or string pattern, every behavior, invert; Metaspace
//      with prepend_scheme always / first / never and split; Sequence). Regexes run on PCRE2 with UTF and
//      Unicode properties, with Oniguruma's iteration over empty matches;
//   4. BPE on each word: characters (byte_fallback "<0xNN>" pieces, unk_token, fuse_unk), then merges by
//   rank,
//      lowest first, leftmost on ties; ignore_merges keeps a word that is itself in the vocabulary whole;
//   5. with add_special, the post-processor's special tokens: TemplateProcessing (single), BertProcessing and
//      RobertaProcessing ([cls] $A [sep]), ByteLevel (nothing for ids), Sequence of them.
// decode: each id's token string (an added token's, else the vocabulary's; unknown ids dropped, special ones
// dropped with skip_special), then the decoder: ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip,
// Sequence; none: tokens joined by spaces.
//
// Anything else is refused when the file is loaded, by name (ModelError: the file, the key path, the value,
// what is supported): other models (WordPiece, Unigram, WordLevel), continuing_subword_prefix /
// end_of_word_suffix, dropout, other normalizers (Lowercase, BertNormalizer, Precompiled, Strip, ...),
// pre-tokenizers (Whitespace, Digits, Punctuation, ...), decoders (WordPiece, BPEDecoder, CTC), truncation,
// fixed-length padding, a pair-only template piece ($B) in the single template, Metaspace with
// prepend_scheme "first" after another pre-tokenizer. Vocabulary ids must be 0..n-1, each once; merges must
// name tokens of the vocabulary; added-token ids must be those tokenizers gives them.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/text_tokenizer.hpp"

namespace spikesim::models {

class TokenizerJson final : public TextTokenizer {
 public:
  // Reads and validates `file`; ModelError naming the file and the key otherwise.
  static TokenizerJson load(const std::filesystem::path& file);
  // The same from the file's contents; `file` names it in errors.
  static TokenizerJson parse(std::string_view json_text, const std::string& file);

  [[nodiscard]] TokenizedText encode_tokens(std::string_view text, bool add_special) const override;
  [[nodiscard]] std::vector<std::int32_t> encode(std::string_view text, bool add_special) const override;
  [[nodiscard]] std::string decode(std::span<const std::int32_t> ids, bool skip_special) const override;
  [[nodiscard]] std::int64_t vocab_size() const override;
  [[nodiscard]] const std::string& file() const override;
  [[nodiscard]] std::string_view format() const override { return "tokenizer.json"; }
  [[nodiscard]] std::optional<std::int32_t> bos_id() const override;
  [[nodiscard]] std::optional<std::int32_t> eos_id() const override;
  [[nodiscard]] std::optional<std::int32_t> token_id(std::string_view token) const override;
  [[nodiscard]] std::optional<std::string> id_token(std::int32_t id) const override;

  // Entries of model.vocab (without added tokens outside it).
  [[nodiscard]] std::int64_t model_vocab_size() const;

  struct Impl;  // the validated pipeline (tokenizer_json.cpp)

 private:
  explicit TokenizerJson(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;  // immutable: encode / decode are safe from any number of threads
};

}  // namespace spikesim::models
