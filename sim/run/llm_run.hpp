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
#include "models/text_tokenizer.hpp"
#include "sim/plan/lower.hpp"
#include "sim/run/execute.hpp"
#include "sim/run/result.hpp"

namespace spikesim::sim {

// True for a llama2.c .bin, a directory with config.json, a .safetensors or a config.json file.
bool is_llama2c_checkpoint(const std::filesystem::path& model);
bool is_hf_checkpoint(const std::filesystem::path& model);
models::LlmModel load_llm(const std::filesystem::path& model);

// The tokenizer (models/text_tokenizer.hpp): `explicit_file` if given (a llama2.c .bin or a tokenizer.json,
// told apart by content), else the checkpoint's own file beside it (in its directory): a Hugging Face
// checkpoint's tokenizer.json, else tokenizer.bin; a llama2.c .bin's tokenizer.bin, else tokenizer.json.
// nullptr when there is none. It must fit the model's `vocab_size` (ModelError naming both otherwise).
std::shared_ptr<const models::TextTokenizer> load_llm_tokenizer(const std::filesystem::path& model,
                                                                const std::string& explicit_file,
                                                                std::int64_t vocab_size);

// Where the tokens of an LLM run come from: exactly one of prompt, text_file, tokens_file.
struct LlmText {
  std::string prompt;
  std::string text_file;
  std::string tokens_file;  // token ids separated by whitespace or commas (no tokenizer needed)
  std::int64_t max_tokens =
      0;                // > 0: keep the first max_tokens tokens (else longer than seq_len is an error)
  bool no_bos = false;  // --no-bos: encode without the tokenizer's special tokens (BOS / the template)
};
struct LlmTokens {
  std::vector<std::int32_t> ids;
  std::string source;  // "prompt", the file name, ...
};
// Token ids of a file, separated by whitespace or commas; ModelError naming the file and the bad entry.
std::vector<std::int32_t> read_token_ids(const std::string& file);

// `tokenizer` may be null (then only text.tokens_file works).
LlmTokens llm_tokens(const LlmText& text, const models::TextTokenizer* tokenizer,
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
// Recurrent-state and KV-cache memory of one sequence of `tokens` per layer (GLA state vs (sliding) KV
// cache).
Json state_memory_json(const models::LlmConfig& config, std::int64_t tokens);
// Coded sites grouped by the type of their layer (GLAswa: "gla", "swa"): zero fraction, spikes, SOPs.
Json layer_type_summary(const models::LlmConfig& config, const Plan& plan,
                        const std::vector<LayerRecord>& records);

// The plan of an LLM checkpoint (sim/plan/lower.hpp with the selection of coded sites).
Plan lower_llm(const models::LlmModel& model, const SiteSelection& sites = {});

// Greedy decoding through the executor: prefill `prompt`, then append the argmax token (lowest id on ties)
// `steps` times, or until the context is full, or (stop_at_eos) BOS/EOS is produced. Returns prompt +
// generated tokens. options.site: the spiking run (nullptr: dense); records (plan_records) are added to.
struct GenerateLimits {
  std::int64_t steps = 0;
  bool stop_at_eos = true;
  std::int32_t bos_id = 1;
  std::int32_t eos_id = 2;
};
std::vector<std::int32_t> llm_generate(const Plan& plan, std::span<const std::int32_t> prompt,
                                       const GenerateLimits& limits, const ExecOptions& options = {},
                                       std::vector<LayerRecord>* records = nullptr);

// Teacher-forced logits [n][vocab] of one call over `tokens` from an empty KV cache.
std::vector<float> llm_logits(const Plan& plan, std::span<const std::int32_t> tokens,
                              const ExecOptions& options = {}, std::vector<LayerRecord>* records = nullptr);

// Report names of the coded sites of a token plan: per-layer sites with the layer number replaced by '*'
// ("layers.*.attn_in"), in execution order, each once.
Json coded_site_patterns(const Plan& plan);

// `spikesim run` on an LLM: dense and spiking teacher-forced runs over the tokens; records of the spiking
// run, and run/extra JSON (llm config, sites, tokens, fidelity). `sites`: the selection
// (sim/plan/select.hpp).
struct LlmRunRequest {
  std::string model;
  std::string tokenizer;
  LlmText text;
  std::string sites = "default";
  SiteConfig site;
  SiteObserver observer;  // optional: sees every coded site's input (run --save-activations)
};
ReportInput run_llm(const LlmRunRequest& request);

}  // namespace spikesim::sim
