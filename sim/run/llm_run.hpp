#pragma once
// The LLM path of `spikesim run` / `generate` / `convert`: load a checkpoint (llama2.c .bin, or Hugging
// Face config.json + safetensors), tokenize, run dense and spiking, and measure fidelity.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "models/llm.hpp"
#include "models/tokenizer.hpp"
#include "sim/plan/llm.hpp"
#include "sim/report/report.hpp"

namespace spikesim::sim {

// True for a llama2.c .bin, a directory with config.json, a .safetensors or a config.json file.
bool is_llama2c_checkpoint(const std::filesystem::path& model);
bool is_hf_checkpoint(const std::filesystem::path& model);
models::LlmModel load_llm(const std::filesystem::path& model);

// The tokenizer: `explicit_file` if given, else tokenizer.bin beside the checkpoint (in its directory);
// nullopt when neither exists.
std::optional<models::Tokenizer> load_llm_tokenizer(const std::filesystem::path& model,
                                                    const std::string& explicit_file,
                                                    std::int64_t vocab_size);

// Where the tokens of an LLM run come from: exactly one of prompt, text_file, tokens_file.
struct LlmText {
  std::string prompt;
  std::string text_file;
  std::string tokens_file;  // token ids separated by whitespace or commas (no tokenizer needed)
  std::int64_t max_tokens =
      0;  // > 0: keep the first max_tokens tokens (else longer than seq_len is an error)
};
struct LlmTokens {
  std::vector<std::int32_t> ids;
  std::string source;  // "prompt", the file name, ...
};
// Token ids of a file, separated by whitespace or commas; ModelError naming the file and the bad entry.
std::vector<std::int32_t> read_token_ids(const std::string& file);

LlmTokens llm_tokens(const LlmText& text, const std::optional<models::Tokenizer>& tokenizer,
                     const models::LlmConfig& config);

// Teacher-forced next-token fidelity of spiking vs dense logits [n][vocab] for `tokens` (positions 0..n-2
// predict tokens 1..n-1): top-1 agreement, KL(dense || spiking) in nats, perplexities, accuracies.
struct Fidelity {
  std::int64_t positions = 0;
  double top1_agreement = 0.0;
  double mean_kl_nats = 0.0;
  double max_kl_nats = 0.0;
  double perplexity_dense = 0.0;
  double perplexity_spiking = 0.0;
  double top1_accuracy_dense = 0.0;
  double top1_accuracy_spiking = 0.0;
  double logits_rel_error = 0.0;  // ||spiking - dense|| / ||dense|| over all predicting positions
};
Fidelity fidelity(std::span<const float> dense, std::span<const float> spiking,
                  std::span<const std::int32_t> tokens, std::int64_t vocab);
Json fidelity_json(const Fidelity& f);

Json llm_config_json(const models::LlmConfig& config);

// `spikesim run` on an LLM: dense and spiking teacher-forced runs over the tokens; records of the spiking
// run, and run/extra JSON (llm config, sites, tokens, fidelity). `sites` e.g. "qkv,o,gateup".
struct LlmRunRequest {
  std::string model;
  std::string tokenizer;
  LlmText text;
  std::string sites = "qkv,o,gateup";
  SiteConfig site;
};
ReportInput run_llm(const LlmRunRequest& request);

}  // namespace spikesim::sim
