#include "sim/run/llm_run.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "base/error.hpp"
#include "base/text.hpp"
#include "energy/estimate.hpp"
#include "models/error.hpp"
#include "models/hf_llm.hpp"
#include "models/llama2c.hpp"

namespace spikesim::sim {

bool is_hf_checkpoint(const std::filesystem::path& model) {
  return !models::hf_config_path(model).empty();
}

bool is_llama2c_checkpoint(const std::filesystem::path& model) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(model, ec)) return false;
  const std::string ext = model.extension().string();
  if (ext == ".safetensors" || ext == ".json" || ext == ".h5" || ext == ".hdf5") return false;
  return models::looks_like_llama2c(model);
}

models::LlmModel load_llm(const std::filesystem::path& model) {
  if (is_hf_checkpoint(model)) return models::load_hf_llm(model);
  if (is_llama2c_checkpoint(model)) return models::load_llama2c(model);
  throw models::ModelError(cat(model.string(),
                               ": not an LLM checkpoint (expected a llama2.c .bin, or a directory / "
                               ".safetensors with config.json)"));
}

std::shared_ptr<const models::TextTokenizer> load_llm_tokenizer(const std::filesystem::path& model,
                                                                const std::string& explicit_file,
                                                                std::int64_t vocab_size) {
  if (!explicit_file.empty()) return models::load_text_tokenizer(explicit_file, vocab_size);
  std::error_code ec;
  const std::filesystem::path dir = std::filesystem::is_directory(model, ec) ? model : model.parent_path();
  const bool hf = is_hf_checkpoint(model);
  for (const char* name :
       {hf ? "tokenizer.json" : "tokenizer.bin", hf ? "tokenizer.bin" : "tokenizer.json"}) {
    const auto beside = dir / name;
    if (std::filesystem::is_regular_file(beside, ec)) return models::load_text_tokenizer(beside, vocab_size);
  }
  return nullptr;
}

namespace {

std::string read_text_file(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw models::ModelError(cat(file, ": file not found"));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::vector<std::int32_t> read_token_ids(const std::string& file) {
  std::string text = read_text_file(file);
  std::replace(text.begin(), text.end(), ',', ' ');
  std::istringstream in(text);
  std::vector<std::int32_t> ids;
  std::string word;
  while (in >> word) {
    std::size_t used = 0;
    long long v = 0;  // NOLINT(google-runtime-int)
    try {
      v = std::stoll(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size() || v < 0 || v > 0x7FFFFFFF) {
      throw models::ModelError(cat(file, ": token ", ids.size(), " is '", word, "', expected a token id"));
    }
    ids.push_back(static_cast<std::int32_t>(v));
  }
  return ids;
}

LlmTokens llm_tokens(const LlmText& text, const models::TextTokenizer* tokenizer,
                     const models::LlmConfig& config) {
  const int given =
      (text.prompt.empty() ? 0 : 1) + (text.text_file.empty() ? 0 : 1) + (text.tokens_file.empty() ? 0 : 1);
  if (given != 1) {
    throw std::invalid_argument(
        "an LLM run needs exactly one of --prompt TEXT, --text-file FILE, --tokens FILE");
  }
  LlmTokens out;
  if (!text.tokens_file.empty()) {
    out.ids = read_token_ids(text.tokens_file);
    out.source = text.tokens_file;
  } else {
    if (tokenizer == nullptr) {
      throw std::invalid_argument(
          "no tokenizer for the text: pass --tokenizer FILE (llama2.c tokenizer .bin or Hugging Face "
          "tokenizer.json), put tokenizer.json / tokenizer.bin beside the model, or give token ids with "
          "--tokens FILE");
    }
    std::string s = text.prompt;
    out.source = "prompt";
    if (!text.text_file.empty()) {
      s = read_text_file(text.text_file);
      if (!s.empty() && s.back() == '\n')
        s.pop_back();  // a text file's final newline is not part of the text
      out.source = text.text_file;
    }
    try {
      out.ids = tokenizer->encode(s, !text.no_bos);
    } catch (const models::ModelError&) {
      throw;
    } catch (const UserError& e) {
      throw models::ModelError(cat(out.source, ": ", e.what()));  // e.g. text that is not UTF-8
    }
  }
  if (text.max_tokens > 0 && static_cast<std::int64_t>(out.ids.size()) > text.max_tokens) {
    out.ids.resize(static_cast<std::size_t>(text.max_tokens));
  }
  if (static_cast<std::int64_t>(out.ids.size()) > config.seq_len) {
    throw std::invalid_argument(
        cat(out.source, ": ", out.ids.size(), " tokens exceed the model's context of ", config.seq_len,
            " (use --max-tokens ", config.seq_len, " to keep the first ", config.seq_len, ")"));
  }
  if (out.ids.size() < 2) {
    throw std::invalid_argument(
        cat(out.source, ": ", out.ids.size(),
            " token(s); teacher-forced fidelity needs at least 2 (e.g. BOS and one more)"));
  }
  return out;
}

Fidelity fidelity(std::span<const float> dense, std::span<const float> spiking,
                  std::span<const std::int32_t> tokens, std::int64_t vocab) {
  Fidelity f;
  const auto v = static_cast<std::size_t>(vocab);
  const std::size_t n = tokens.size();
  if (n < 2) return f;
  f.positions = static_cast<std::int64_t>(n - 1);
  std::vector<double> ld(v);
  std::vector<double> ls(v);
  auto log_softmax = [v](const float* logits, std::vector<double>& out) {
    double mx = -INFINITY;
    for (std::size_t i = 0; i < v; ++i)
      mx = std::max(mx, static_cast<double>(logits[i]));
    double sum = 0.0;
    for (std::size_t i = 0; i < v; ++i)
      sum += std::exp(static_cast<double>(logits[i]) - mx);
    const double lse = mx + std::log(sum);
    for (std::size_t i = 0; i < v; ++i)
      out[i] = static_cast<double>(logits[i]) - lse;
  };
  double kl_sum = 0.0;
  double nll_d = 0.0;
  double nll_s = 0.0;
  double err = 0.0;
  double norm = 0.0;
  std::int64_t agree = 0;
  std::int64_t hit_d = 0;
  std::int64_t hit_s = 0;
  for (std::size_t i = 0; i + 1 < n; ++i) {
    const float* d = dense.data() + i * v;
    const float* s = spiking.data() + i * v;
    log_softmax(d, ld);
    log_softmax(s, ls);
    double kl = 0.0;
    for (std::size_t j = 0; j < v; ++j) {
      kl += std::exp(ld[j]) * (ld[j] - ls[j]);
      const double e = static_cast<double>(s[j]) - static_cast<double>(d[j]);
      err += e * e;
      norm += static_cast<double>(d[j]) * static_cast<double>(d[j]);
    }
    kl = std::max(kl, 0.0);  // rounding can leave -1e-17
    kl_sum += kl;
    f.max_kl_nats = std::max(f.max_kl_nats, kl);
    const auto top_d = static_cast<std::int32_t>(std::max_element(d, d + v) - d);
    const auto top_s = static_cast<std::int32_t>(std::max_element(s, s + v) - s);
    const auto next = static_cast<std::size_t>(tokens[i + 1]);
    agree += top_d == top_s ? 1 : 0;
    hit_d += top_d == tokens[i + 1] ? 1 : 0;
    hit_s += top_s == tokens[i + 1] ? 1 : 0;
    nll_d -= ld[next];
    nll_s -= ls[next];
  }
  const auto p = static_cast<double>(f.positions);
  f.top1_agreement = static_cast<double>(agree) / p;
  f.mean_kl_nats = kl_sum / p;
  f.perplexity_dense = std::exp(nll_d / p);
  f.perplexity_spiking = std::exp(nll_s / p);
  f.top1_accuracy_dense = static_cast<double>(hit_d) / p;
  f.top1_accuracy_spiking = static_cast<double>(hit_s) / p;
  f.logits_rel_error = norm > 0.0 ? std::sqrt(err / norm) : 0.0;
  return f;
}

Json fidelity_json(const Fidelity& f) {
  return Json{
      {"positions", f.positions},
      {"top1_agreement", f.top1_agreement},
      {"mean_kl_nats", f.mean_kl_nats},
      {"max_kl_nats", f.max_kl_nats},
      {"perplexity_dense", f.perplexity_dense},
      {"perplexity_spiking", f.perplexity_spiking},
      {"top1_accuracy_dense", f.top1_accuracy_dense},
      {"top1_accuracy_spiking", f.top1_accuracy_spiking},
      {"logits_rel_error", f.logits_rel_error},
      {"definitions",
       {{"positions", "teacher-forced positions 0..n-2, each predicting the next token of the text"},
        {"top1_agreement", "share of positions where dense and spiking argmax agree"},
        {"mean_kl_nats", "mean over positions of KL(dense || spiking) of the next-token distributions"},
        {"perplexity", "exp(mean negative log-likelihood of the text's next tokens)"},
        {"top1_accuracy", "share of positions whose argmax is the text's next token"},
        {"logits_rel_error", "||logits_spiking - logits_dense|| / ||logits_dense|| over all positions"}}}};
}

Json llm_config_json(const models::LlmConfig& c) {
  Json j{{"architecture", c.architecture},
         {"dim", c.dim},
         {"hidden_dim", c.hidden_dim},
         {"n_layers", c.n_layers},
         {"n_heads", c.n_heads},
         {"n_kv_heads", c.n_kv_heads},
         {"head_dim", c.head_dim},
         {"vocab_size", c.vocab_size},
         {"seq_len", c.seq_len},
         {"rope_theta", c.rope_theta},
         {"rope_pairs", models::name(c.rope)},
         {"norm_eps", c.norm_eps},
         {"tied_classifier", c.tied_classifier},
         {"qkv_bias", c.qkv_bias},
         {"parameters", c.parameter_count()}};
  // Family features, only where a checkpoint has them (reports of other models keep their keys).
  const models::RopeScaling& r = c.rope_scaling;
  if (r.type != models::RopeType::plain) {
    j["rope_scaling"] = {{"type", models::name(r.type)}, {"factor", r.factor}};
    if (r.original_context > 0) j["rope_scaling"]["original_max_position_embeddings"] = r.original_context;
    if (r.type == models::RopeType::llama3) {
      j["rope_scaling"]["low_freq_factor"] = r.low_freq_factor;
      j["rope_scaling"]["high_freq_factor"] = r.high_freq_factor;
    }
    if (r.type == models::RopeType::yarn) {
      const auto f = models::rope_frequencies(r, c.rope_theta, c.head_dim, c.seq_len);
      j["rope_scaling"]["beta_fast"] = r.beta_fast;
      j["rope_scaling"]["beta_slow"] = r.beta_slow;
      j["rope_scaling"]["attention_scaling"] = f.attention_scaling;
    }
  }
  if (c.qk_norm) j["qk_norm"] = true;
  if (std::any_of(c.window.begin(), c.window.end(), [](std::int64_t w) { return w > 0; }))
    j["sliding_window_per_layer"] = c.window;
  if (c.moe.experts > 0) {
    std::vector<std::int64_t> sparse;
    for (std::int64_t l = 0; l < c.n_layers; ++l) {
      if (c.moe.sparse_layer(l)) sparse.push_back(l);
    }
    j["moe"] = {{"experts", c.moe.experts},
                {"top_k", c.moe.top_k},
                {"expert_intermediate_size", c.moe.expert_hidden},
                {"shared_expert_intermediate_size", c.moe.shared_hidden},
                {"norm_topk_prob", c.moe.norm_topk_prob},
                {"sparse_layers", sparse}};
    j["active_parameters"] = c.active_parameter_count();
  }
  if (!c.layer_kinds.empty()) {  // GLAswa: each layer's mixer, the GLA gate, INT8 K / V
    std::vector<std::string> types;
    for (std::int64_t l = 0; l < c.n_layers; ++l)
      types.emplace_back(c.kind_of(l) == models::LayerKind::gla ? "gla" : "swa");
    j["layer_types"] = types;
    j["gla_gate_low_rank"] = c.gla_rank();
    j["gate_logit_normalizer"] = c.gla_normaliser;
    j["kv_int8"] = c.kv_int8;
  }
  return j;
}

Json state_memory_json(const models::LlmConfig& c, std::int64_t tokens) {
  constexpr std::int64_t bytes = 4;  // float32, as spikesim (and fla's GLA state) keep them
  Json layers = Json::array();
  std::int64_t gla_total = 0;
  std::int64_t kv_total = 0;
  std::int64_t full_total = 0;
  for (std::int64_t l = 0; l < c.n_layers; ++l) {
    const std::int64_t full = 2 * tokens * c.kv_dim() * bytes;
    full_total += full;
    if (c.kind_of(l) == models::LayerKind::gla) {
      const std::int64_t state = c.n_kv_heads * c.head_dim * c.head_dim * bytes;
      gla_total += state;
      layers.push_back({{"layer", l}, {"kind", "gla"}, {"state_bytes", state}});
      continue;
    }
    const std::int64_t w = c.window_of(l);
    const std::int64_t keys = w > 0 ? std::min(tokens, w) : tokens;
    const std::int64_t kv = 2 * keys * c.kv_dim() * bytes;
    kv_total += kv;
    layers.push_back(
        {{"layer", l}, {"kind", w > 0 ? "swa" : "attention"}, {"kv_cache_bytes", kv}, {"keys", keys}});
  }
  return {
      {"tokens", tokens},
      {"bytes_per_value", bytes},
      {"gla_state_bytes", gla_total},
      {"kv_cache_bytes", kv_total},
      {"full_attention_kv_cache_bytes", full_total},
      {"note",
       "per sequence at this length: a GLA layer's state is kv_heads x head_dim^2 (constant in tokens; the "
       "release stores one per query head, x heads / kv_heads); a sliding-window layer keeps its window's "
       "keys and values (W + 1 for SpikingBrain); full_attention_kv_cache_bytes: every layer as full "
       "attention"},
      {"layers", layers}};
}

Json layer_type_summary(const models::LlmConfig& c, const Plan& plan,
                        const std::vector<LayerRecord>& records) {
  std::map<std::string, SiteCounters> by_type;
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const Step& s = plan.steps[i];
    if (!s.coded || s.name.rfind("layers.", 0) != 0) continue;
    const std::int64_t l = std::stoll(s.name.substr(7));
    by_type[c.kind_of(l) == models::LayerKind::gla ? "gla" : "swa"] += records[i].counters;
  }
  Json out = Json::object();
  for (const auto& [type, k] : by_type) {
    const auto elements = static_cast<double>(k.elements);
    out[type] = {
        {"coded_elements", k.elements},
        {"zero_fraction", k.elements > 0 ? static_cast<double>(k.count_histogram[0]) / elements : 0.0},
        {"spikes", k.spikes},
        {"sops", k.sops},
        {"dense_macs_of_coded_sites", k.dense_macs}};
  }
  return out;
}

Plan lower_llm(const models::LlmModel& model, const SiteSelection& sites) {
  return lower_network(model.network, {.batch = 1, .sites = sites});
}

std::vector<std::int32_t> llm_generate(const Plan& plan, std::span<const std::int32_t> prompt,
                                       const GenerateLimits& limits, const ExecOptions& options,
                                       std::vector<LayerRecord>* records) {
  if (prompt.empty()) throw std::invalid_argument("llm_generate: empty prompt (start with BOS)");
  std::vector<std::int32_t> tokens(prompt.begin(), prompt.end());
  RunState state(plan);
  const auto vocab = static_cast<std::size_t>(plan.output_per_row());
  std::span<const float> logits = execute(plan, state, PlanInput::of_tokens(prompt), options, records);
  std::span<const float> last = logits.subspan((prompt.size() - 1) * vocab, vocab);
  for (std::int64_t s = 0; s < limits.steps && state.pos < plan.context; ++s) {
    const auto next = static_cast<std::int32_t>(std::max_element(last.begin(), last.end()) - last.begin());
    tokens.push_back(next);
    if (limits.stop_at_eos && (next == limits.bos_id || next == limits.eos_id)) break;
    if (s + 1 == limits.steps || state.pos >= plan.context) break;
    last = execute(plan, state, PlanInput::of_tokens(std::span<const std::int32_t>(&tokens.back(), 1)),
                   options, records);
  }
  return tokens;
}

std::vector<float> llm_logits(const Plan& plan, std::span<const std::int32_t> tokens,
                              const ExecOptions& options, std::vector<LayerRecord>* records) {
  RunState state(plan);
  const auto y = execute(plan, state, PlanInput::of_tokens(tokens), options, records);
  return {y.begin(), y.end()};
}

Json coded_site_patterns(const Plan& plan) {
  Json out = Json::array();
  for (const std::string& site : plan.sites(true)) {
    std::string pattern = site;
    if (pattern.rfind("layers.", 0) == 0) {
      const std::size_t dot = pattern.find('.', 7);
      if (dot != std::string::npos) pattern = "layers.*" + pattern.substr(dot);
    }
    if (std::find(out.begin(), out.end(), pattern) == out.end()) out.push_back(pattern);
  }
  return out;
}

ReportInput run_llm(const LlmRunRequest& r) {
  const models::LlmModel model = load_llm(r.model);
  const auto tokenizer = load_llm_tokenizer(r.model, r.tokenizer, model.config.vocab_size);
  const LlmTokens tokens = llm_tokens(r.text, tokenizer.get(), model.config);
  const Plan plan = lower_llm(model, SiteSelection{r.sites, false, {}});

  std::vector<float> dense;
  {
    RunState state(plan);
    const auto y = execute(plan, state, PlanInput::of_tokens(tokens.ids));
    dense.assign(y.begin(), y.end());  // [n][vocab]
  }
  ReportInput report;
  report.layers = plan_records(plan);
  std::vector<float> spiking;
  {
    RunState state(plan);
    const ExecOptions options{
        .site = &r.site, .samples = -1, .first_sample = 0, .observer = r.observer, .progress = nullptr};
    const auto y = execute(plan, state, PlanInput::of_tokens(tokens.ids), options, &report.layers);
    spiking.assign(y.begin(), y.end());
  }
  report.run["llm"] = llm_config_json(model.config);
  const models::LlmConfig& c = model.config;
  const bool windowed = std::any_of(c.window.begin(), c.window.end(), [](std::int64_t w) { return w > 0; });
  if (!c.layer_kinds.empty() || windowed)  // (other reports keep their keys)
    report.run["state_memory"] = state_memory_json(c, static_cast<std::int64_t>(tokens.ids.size()));
  if (!c.layer_kinds.empty()) report.extra["layer_types"] = layer_type_summary(c, plan, report.layers);
  report.run["sites"] = r.sites == "default" ? std::string("qkv,o,gateup") : r.sites;
  report.run["coded_sites"] = coded_site_patterns(plan);
  report.run["tokenizer"] = tokenizer ? Json(tokenizer->file()) : Json(nullptr);
  if (r.text.no_bos) report.run["no_bos"] = true;  // (absent: the tokenizer's special tokens were added)
  report.run["text_source"] = tokens.source;
  report.run["tokens"] = tokens.ids.size();
  // Teacher forcing: the whole text is one call (energy/estimate.hpp tokens_per_call).
  report.run["tokens_per_call"] = energy::tokens_per_call(energy::RunKind::run, tokens.ids.size(), 1, 0);
  Json f = fidelity_json(fidelity(dense, spiking, tokens.ids, model.config.vocab_size));
  f["text_source"] = tokens.source;
  f["tokens"] = tokens.ids.size();
  report.extra["fidelity"] = f;
  report.logits = ReportInput::Logits{std::move(dense), std::move(spiking), model.config.vocab_size};
  return report;
}

}  // namespace spikesim::sim
