#pragma once
// llama2.c tokenizer files and its BPE, exactly as run.c encodes and decodes:
//
//   int32 max_token_length, then per piece (vocab_size of them, from the model): float32 score, int32 len,
//   len bytes. Ids 0, 1, 2 are <unk>, <s> (BOS), </s> (EOS); pieces "<0x00>".."<0xFF>" are raw bytes.
//
// encode(): BOS, then a dummy-prefix " " piece when the text is not empty, then one piece per UTF-8
// character (unknown characters fall back to byte pieces, id = byte + 3), then repeatedly merge the
// adjacent pair whose concatenation is a piece with the highest score (leftmost on ties) until none is.
// decode(): concatenates pieces; a piece after BOS loses its leading space; "<0xNN>" pieces give the byte.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace spikesim::models {

class Tokenizer {
 public:
  // Reads `file` for a model of `vocab_size` pieces; the file must hold exactly that many (ModelError
  // naming the file, expected vs found pieces, otherwise). vocab_size < 0: any number of pieces.
  static Tokenizer load(const std::filesystem::path& file, std::int64_t vocab_size);

  [[nodiscard]] std::vector<std::int32_t> encode(std::string_view text, bool bos, bool eos) const;
  // The text of `token` following `prev` (run.c's decode()).
  [[nodiscard]] std::string piece_text(std::int32_t prev, std::int32_t token) const;
  // Text of a token sequence; the first token is treated as following BOS when it is BOS itself.
  [[nodiscard]] std::string decode(std::span<const std::int32_t> tokens) const;

  [[nodiscard]] std::int64_t vocab_size() const { return static_cast<std::int64_t>(pieces_.size()); }
  [[nodiscard]] const std::string& piece(std::int32_t id) const;
  [[nodiscard]] float score(std::int32_t id) const { return scores_.at(static_cast<std::size_t>(id)); }
  [[nodiscard]] std::int32_t max_token_length() const { return max_token_length_; }
  [[nodiscard]] const std::string& file() const { return file_; }
  [[nodiscard]] std::int32_t lookup(std::string_view piece) const;  // first id of a piece, -1 when absent

 private:
  std::string file_;
  std::int32_t max_token_length_ = 0;
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::unordered_map<std::string_view, std::int32_t> ids_;  // views into pieces_; first id of a piece
};

// Writes a tokenizer file in the same format (tests, training scripts' C++ counterpart).
std::string tokenizer_bytes(const std::vector<std::string>& pieces, const std::vector<float>& scores);

}  // namespace spikesim::models
