#include "models/tokenizer.hpp"

#include <cmath>
#include <cstring>

#include "base/text.hpp"
#include "models/error.hpp"
#include "models/mapped_file.hpp"

namespace spikesim::models {

namespace {

constexpr std::int32_t bos = 1;
constexpr std::int32_t eos = 2;
constexpr float no_merge_score = -1e10F;  // run.c's starting best score: pieces at or below never merge

// "<0xNN>" -> NN, else -1.
int byte_piece(std::string_view p) {
  if (p.size() != 6 || p.substr(0, 3) != "<0x" || p[5] != '>') return -1;
  int v = 0;
  for (const char ch : p.substr(3, 2)) {
    v *= 16;
    if (ch >= '0' && ch <= '9') {
      v += ch - '0';
    } else if (ch >= 'A' && ch <= 'F') {
      v += ch - 'A' + 10;
    } else if (ch >= 'a' && ch <= 'f') {
      v += ch - 'a' + 10;
    } else {
      return -1;
    }
  }
  return v;
}

}  // namespace

Tokenizer Tokenizer::load(const std::filesystem::path& path, std::int64_t vocab_size) {
  const auto map = map_file(path);
  Tokenizer t;
  t.file_ = map->path();
  const std::span<const std::byte> b = map->bytes();
  std::size_t pos = 0;
  auto read = [&](void* dst, std::size_t n, const char* what) {
    if (b.size() - pos < n) {
      throw ModelError(cat(t.file_, ": truncated llama2.c tokenizer: ", what, " of piece ", t.pieces_.size(),
                           " needs ", n, " bytes at offset ", pos, ", file has ", b.size()));
    }
    std::memcpy(dst, b.data() + pos, n);
    pos += n;
  };
  read(&t.max_token_length_, 4, "max_token_length");
  if (t.max_token_length_ <= 0) {
    throw ModelError(
        cat(t.file_, ": max_token_length ", t.max_token_length_, " (not a llama2.c tokenizer?)"));
  }
  // Count the pieces the file holds, so a mismatch names both numbers.
  while (pos < b.size()) {
    float score = 0.0F;
    std::int32_t len = 0;
    read(&score, 4, "score");
    read(&len, 4, "length");
    if (!std::isfinite(score)) {
      throw ModelError(cat(t.file_, ": piece ", t.pieces_.size(), " has score ", score, " at offset ",
                           pos - 8, " (corrupt tokenizer?)"));
    }
    // Checked against the bytes left before anything is allocated: a corrupt length must not ask for 2 GB.
    if (len < 0 || static_cast<std::size_t>(len) > b.size() - pos) {
      throw ModelError(cat(t.file_, ": truncated llama2.c tokenizer: piece ", t.pieces_.size(),
                           " has length ", len, " at offset ", pos - 4, ", but ", b.size() - pos,
                           " bytes are left in the file"));
    }
    std::string piece(static_cast<std::size_t>(len), '\0');
    read(piece.data(), piece.size(), "bytes");
    t.pieces_.push_back(std::move(piece));
    t.scores_.push_back(score);
  }
  if (vocab_size >= 0 && static_cast<std::int64_t>(t.pieces_.size()) != vocab_size) {
    throw ModelError(cat(t.file_, ": tokenizer holds ", t.pieces_.size(),
                         " pieces but the model's vocab_size is ", vocab_size,
                         " (tokenizer of another model?)"));
  }
  for (std::size_t i = 0; i < t.pieces_.size(); ++i)
    t.ids_.emplace(t.pieces_[i], static_cast<std::int32_t>(i));
  return t;
}

const std::string& Tokenizer::piece(std::int32_t id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= pieces_.size()) {
    throw ModelError(cat(file_, ": token id ", id, " outside the vocabulary [0, ", pieces_.size(), ")"));
  }
  return pieces_[static_cast<std::size_t>(id)];
}

std::int32_t Tokenizer::lookup(std::string_view piece) const {
  const auto it = ids_.find(piece);
  return it == ids_.end() ? -1 : it->second;
}

std::vector<std::int32_t> Tokenizer::encode(std::string_view text, bool add_bos, bool add_eos) const {
  std::vector<std::int32_t> tokens;
  tokens.reserve(text.size() + 3);
  if (add_bos) tokens.push_back(bos);
  if (!text.empty()) {
    const std::int32_t space = lookup(" ");
    if (space < 0) throw ModelError(cat(file_, ": no \" \" piece for the dummy prefix"));
    tokens.push_back(space);
  }
  // One piece per UTF-8 character (a leading byte and at most 3 continuation bytes, as run.c reads them).
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = 1;
    while (i + n < text.size() && (static_cast<unsigned char>(text[i + n]) & 0xC0U) == 0x80U && n < 4)
      ++n;
    const std::string_view ch = text.substr(i, n);
    const std::int32_t id = lookup(ch);
    if (id >= 0) {
      tokens.push_back(id);
    } else {
      for (const char c : ch)
        tokens.push_back(static_cast<std::int32_t>(static_cast<unsigned char>(c)) + 3);
    }
    i += n;
  }
  // Merge the best-scoring adjacent pair until no pair forms a piece.
  std::string buffer;
  while (tokens.size() >= 2) {
    float best_score = no_merge_score;
    std::int32_t best_id = -1;
    std::size_t best_at = 0;
    for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
      buffer = piece(tokens[i]);
      buffer += piece(tokens[i + 1]);
      const std::int32_t id = lookup(buffer);
      if (id >= 0 && scores_[static_cast<std::size_t>(id)] > best_score) {
        best_score = scores_[static_cast<std::size_t>(id)];
        best_id = id;
        best_at = i;
      }
    }
    if (best_id < 0) break;
    tokens[best_at] = best_id;
    tokens.erase(tokens.begin() + static_cast<std::ptrdiff_t>(best_at) + 1);
  }
  if (add_eos) tokens.push_back(eos);
  return tokens;
}

std::string Tokenizer::piece_text(std::int32_t prev, std::int32_t token) const {
  std::string_view p = piece(token);
  if (prev == bos && !p.empty() && p[0] == ' ') p.remove_prefix(1);
  const int byte = byte_piece(p);
  if (byte >= 0) return std::string(1, static_cast<char>(byte));
  return std::string(p);
}

std::string Tokenizer::decode(std::span<const std::int32_t> tokens) const {
  std::string out;
  std::int32_t prev = bos;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (i == 0 && tokens[0] == bos) continue;
    out += piece_text(prev, tokens[i]);
    prev = tokens[i];
  }
  return out;
}

std::string tokenizer_bytes(const std::vector<std::string>& pieces, const std::vector<float>& scores) {
  std::string out;
  auto put = [&out](const void* p, std::size_t n) { out.append(static_cast<const char*>(p), n); };
  std::int32_t max_len = 0;
  for (const auto& p : pieces)
    max_len = std::max(max_len, static_cast<std::int32_t>(p.size()));
  put(&max_len, 4);
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const auto len = static_cast<std::int32_t>(pieces[i].size());
    put(&scores.at(i), 4);
    put(&len, 4);
    put(pieces[i].data(), pieces[i].size());
  }
  return out;
}

}  // namespace spikesim::models
