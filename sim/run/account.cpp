#include "sim/run/account.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <exception>
#include <fstream>
#include <memory>
#include <optional>

#include "base/text.hpp"
#include "coding/scheme.hpp"
#include "models/error.hpp"
#include "models/hdf5_file.hpp"
#include "models/llm.hpp"

namespace spikesim::sim {

namespace {

using models::ModelError;

std::int64_t positive_field(const Json& j, const std::string& file, const std::string& key,
                            std::optional<std::int64_t> fallback = std::nullopt) {
  if (!j.contains(key) || j[key].is_null()) {
    if (fallback) return *fallback;
    throw ModelError(cat(file, ": config field '", key, "' missing"));
  }
  if (!j[key].is_number_integer() || j[key].get<std::int64_t>() < 1 ||
      j[key].get<std::int64_t>() > models::llm_size_limit(key)) {
    throw ModelError(cat(file, ": config field '", key, "' must be a positive integer (at most ",
                         models::llm_size_limit(key), "), found ", j[key].dump()));
  }
  return j[key].get<std::int64_t>();
}

bool bool_field(const Json& j, const std::string& file, const std::string& key, bool fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_boolean()) throw ModelError(cat(file, ": config field '", key, "' must be true or false"));
  return j[key].get<bool>();
}

constexpr std::array<Projection, 7> all_projections = {Projection::q,   Projection::k,    Projection::v,
                                                       Projection::o,   Projection::gate, Projection::up,
                                                       Projection::down};
constexpr std::array<std::string_view, 7> projection_names = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                              "gate_proj", "up_proj", "down_proj"};

LayerInput input_of(Projection p) {
  switch (p) {
    case Projection::q:
    case Projection::k:
    case Projection::v:
      return LayerInput::attention;
    case Projection::o:
      return LayerInput::attention_output;
    case Projection::gate:
    case Projection::up:
      return LayerInput::mlp;
    case Projection::down:
      return LayerInput::mlp_hidden;
  }
  return LayerInput::attention;
}

struct ProjectionShape {
  std::int64_t in = 0;
  std::int64_t out = 0;
  bool bias = false;
};

ProjectionShape shape_of(const DecoderShape& s, Projection p) {
  switch (p) {
    case Projection::q:
      return {s.hidden, s.q_dim(), s.qkv_bias};
    case Projection::k:
    case Projection::v:
      return {s.hidden, s.kv_dim(), s.qkv_bias};
    case Projection::o:
      return {s.q_dim(), s.hidden, s.o_bias};
    case Projection::gate:
    case Projection::up:
      return {s.hidden, s.intermediate, s.mlp_bias};
    case Projection::down:
      return {s.intermediate, s.hidden, s.mlp_bias};
  }
  return {};
}

// Counters of a site coded with unit fan-out, for a layer whose presynaptic neurons each reach `out`
// synapses (all non-zero: weights are not materialised) and `out` postsynaptic neurons per token.
SiteCounters with_fanout(const SiteCounters& unit, std::uint64_t out) {
  SiteCounters c = unit;
  c.sops *= out;
  c.effective_sops *= out;
  c.graded_sops *= out;
  c.graded_effective_sops *= out;
  c.weight_words_read *= out;
  c.post_neuron_updates *= out;
  c.post_neuron_updates_active *= out;
  c.rescale_muls *= out;
  c.zero_point_macs *= out;
  return c;
}

// Where a layer input comes from in a trace: the first of the groups that record it.
std::string trace_dataset(const models::H5Reader& h5, std::int64_t layer, LayerInput input) {
  std::vector<std::string> tried;
  for (const Projection p : all_projections) {
    if (input_of(p) != input) continue;
    const std::string role(name(p));
    const std::string block =
        input == LayerInput::mlp || input == LayerInput::mlp_hidden ? "mlp" : "self_attn";
    for (const std::string& group :
         {cat("layers.", layer, ".", role), cat("model.layers.", layer, ".", block, ".", role)}) {
      std::string dataset = "/layers/" + group + "/input";
      if (h5.has("/layers/" + group) && h5.has(dataset)) return dataset;
      tried.push_back(group);
    }
  }
  std::string names;
  for (const auto& t : tried)
    names += (names.empty() ? "" : ", ") + t;
  throw ModelError(cat(h5.file(), ": no recorded input for layer ", layer,
                       " (looked for /layers/<name>/input with <name> one of ", names, ")"));
}

Json shape_json(const DecoderShape& s) {
  return Json{{"architecture", s.architecture},
              {"hidden_size", s.hidden},
              {"intermediate_size", s.intermediate},
              {"num_hidden_layers", s.layers},
              {"num_attention_heads", s.heads},
              {"num_key_value_heads", s.kv_heads},
              {"head_dim", s.head_dim},
              {"vocab_size", s.vocab},
              {"qkv_bias", s.qkv_bias}};
}

// Buffers of one chunk for one layer input: x [chunk][width], the coded site, and where x comes from.
struct InputStream {
  std::int64_t width = 0;
  bool needed = false;                                       // some coded projection reads it
  std::vector<std::unique_ptr<OutlierChannels>> generators;  // [layers] synthetic
  std::vector<std::string> datasets;                         // [layers] trace
};

}  // namespace

std::string_view name(Projection p) {
  return projection_names.at(static_cast<std::size_t>(p));
}

Projection parse_projection(std::string_view text) {
  for (std::size_t i = 0; i < projection_names.size(); ++i) {
    const std::string_view n = projection_names[i];
    if (text == n || text == n.substr(0, n.size() - 5)) return all_projections[i];
  }
  throw ModelError(cat("unknown projection '", text, "' (expected q, k, v, o, gate, up or down)"));
}

std::vector<Projection> spikingbrain_coded_projections() {
  return {Projection::q, Projection::k, Projection::v, Projection::o, Projection::gate, Projection::up};
}

std::uint64_t synthetic_stream(std::int64_t layer, LayerInput input) {
  return static_cast<std::uint64_t>(layer) * 4 + static_cast<std::uint64_t>(input);
}

DecoderShape load_decoder_shape(const std::filesystem::path& config_json) {
  const std::string file = config_json.string();
  std::ifstream in(config_json);
  if (!in) throw ModelError(cat(file, ": cannot open config"));
  Json j;
  try {
    j = Json::parse(in);
  } catch (const Json::exception& e) {
    throw ModelError(cat(file, ": not valid JSON (", e.what(), ")"));
  }
  if (!j.is_object()) throw ModelError(cat(file, ": expected a JSON object (a Hugging Face config.json)"));
  DecoderShape s;
  s.source = file;
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
      j["architectures"][0].is_string()) {
    s.architecture = j["architectures"][0].get<std::string>();
  } else if (j.contains("model_type") && j["model_type"].is_string()) {
    s.architecture = j["model_type"].get<std::string>();
  }
  s.hidden = positive_field(j, file, "hidden_size");
  s.intermediate = positive_field(j, file, "intermediate_size");
  s.layers = positive_field(j, file, "num_hidden_layers");
  s.heads = positive_field(j, file, "num_attention_heads");
  s.kv_heads = positive_field(j, file, "num_key_value_heads", s.heads);
  s.vocab = positive_field(j, file, "vocab_size");
  if (!j.contains("head_dim") && s.hidden % s.heads != 0) {
    throw ModelError(cat(file, ": hidden_size ", s.hidden, " is not a multiple of num_attention_heads ",
                         s.heads, " and no head_dim is given"));
  }
  s.head_dim = positive_field(j, file, "head_dim", s.hidden / s.heads);
  if (s.heads % s.kv_heads != 0) {
    throw ModelError(cat(file, ": num_attention_heads ", s.heads,
                         " is not a multiple of num_key_value_heads ", s.kv_heads));
  }
  s.max_positions =
      j.contains("max_position_embeddings") ? positive_field(j, file, "max_position_embeddings") : 0;
  const bool qwen2 = s.architecture.rfind("Qwen2", 0) == 0 || s.architecture == "qwen2";
  const bool attention_bias = bool_field(j, file, "attention_bias", false);
  s.qkv_bias = qwen2 || attention_bias;  // Qwen2 always has q/k/v biases
  s.o_bias = !qwen2 && attention_bias;   // Qwen2 o_proj has no bias (transformers modeling_qwen2)
  s.mlp_bias = bool_field(j, file, "mlp_bias", false);
  return s;
}

AccountResult account(const AccountRequest& request) {
  const DecoderShape& shape = request.shape;
  if (request.tokens < 0)
    throw std::invalid_argument(cat("account: tokens must be >= 0, got ", request.tokens));
  if (request.chunk_tokens < 1) {
    throw std::invalid_argument(cat("account: chunk must be >= 1 token, got ", request.chunk_tokens));
  }
  if (request.sequence_tokens < 0) {
    throw std::invalid_argument(cat("account: sequence length must be >= 0, got ", request.sequence_tokens));
  }
  const bool synthetic = request.activations == "synthetic";
  std::optional<models::H5Reader> trace;
  if (!synthetic) trace.emplace(request.activations);

  // Which layer inputs are coded, and where each comes from.
  std::array<bool, 7> coded{};
  for (const Projection p : request.coded)
    coded.at(static_cast<std::size_t>(p)) = true;
  std::array<InputStream, 4> inputs;
  inputs[static_cast<std::size_t>(LayerInput::attention)].width = shape.hidden;
  inputs[static_cast<std::size_t>(LayerInput::attention_output)].width = shape.q_dim();
  inputs[static_cast<std::size_t>(LayerInput::mlp)].width = shape.hidden;
  inputs[static_cast<std::size_t>(LayerInput::mlp_hidden)].width = shape.intermediate;
  for (const Projection p : all_projections) {
    if (coded.at(static_cast<std::size_t>(p))) inputs.at(static_cast<std::size_t>(input_of(p))).needed = true;
  }
  std::int64_t tokens = request.tokens;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    InputStream& s = inputs[i];
    if (!s.needed) continue;
    for (std::int64_t l = 0; l < shape.layers; ++l) {
      const auto input = static_cast<LayerInput>(i);
      if (synthetic) {
        s.generators.push_back(std::make_unique<OutlierChannels>(request.seed, synthetic_stream(l, input),
                                                                 s.width, request.sigma));
        continue;
      }
      const std::string dataset = trace_dataset(*trace, l, input);
      const std::vector<std::int64_t> dims = trace->shape(dataset);
      if (dims.size() != 2 || dims[1] != s.width) {
        throw ModelError(
            cat(trace->file(), ": ", dataset, " has shape ",
                dims.size() == 2 ? cat("[", dims[0], ", ", dims[1], "]") : cat(dims.size(), " dimensions"),
                ", expected [tokens, ", s.width, "] for layer ", l));
      }
      if (tokens == 0) tokens = dims[0];
      if (dims[0] < tokens) {
        throw ModelError(
            cat(trace->file(), ": ", dataset, " holds ", dims[0], " tokens, ", tokens, " requested"));
      }
      s.datasets.push_back(dataset);
    }
  }
  if (tokens == 0) {
    if (!synthetic) throw ModelError(cat(request.activations, ": the trace feeds no coded projection"));
    throw std::invalid_argument("account: tokens must be >= 1 with synthetic activations");
  }
  const std::int64_t sequence = request.sequence_tokens > 0 ? request.sequence_tokens : tokens;

  // Records in execution order.
  std::vector<LayerRecord> records;
  auto add_record = [&](std::string record_name, std::string kind, std::int64_t in, std::int64_t out,
                        std::int64_t weights, bool is_coded) {
    LayerRecord r;
    r.name = std::move(record_name);
    r.kind = std::move(kind);
    r.index = static_cast<std::int64_t>(records.size());
    r.in = in;
    r.out = out;
    r.weights = weights;
    r.coded = is_coded;
    records.push_back(std::move(r));
    return records.size() - 1;
  };
  constexpr std::size_t n_proj = all_projections.size();
  std::vector<std::array<std::size_t, n_proj>> record_of(
      static_cast<std::size_t>(shape.layers));  // [layer][p]
  std::vector<std::size_t> attention_record(static_cast<std::size_t>(shape.layers));
  for (std::int64_t l = 0; l < shape.layers; ++l) {
    for (const Projection p : all_projections) {
      if (p == Projection::o) {
        attention_record[static_cast<std::size_t>(l)] =
            add_record(cat("layers.", l, ".attention"), "attention", shape.q_dim(), shape.q_dim(), 0, false);
      }
      const ProjectionShape ps = shape_of(shape, p);
      record_of[static_cast<std::size_t>(l)][static_cast<std::size_t>(p)] =
          add_record(cat("layers.", l, ".", name(p)), "linear", ps.in, ps.out, ps.in * ps.out,
                     coded.at(static_cast<std::size_t>(p)));
    }
  }
  const std::size_t lm_head =
      add_record("lm_head", "linear", shape.hidden, shape.vocab, shape.hidden * shape.vocab, false);

  // Stream the tokens chunk by chunk; every buffer below is sized by the chunk (one set per thread).
  const std::int64_t chunk = std::min(request.chunk_tokens, tokens);
  std::int64_t max_width = 0;
  for (const InputStream& s : inputs)
    if (s.needed) max_width = std::max(max_width, s.width);
  std::vector<std::int64_t> unit_fanout(static_cast<std::size_t>(max_width), 1);  // [width]
  struct Task {
    std::int64_t layer;
    std::size_t input;
  };
  std::vector<Task> tasks;  // the coded layer inputs of one chunk, independent of each other
  for (std::int64_t l = 0; l < shape.layers; ++l) {
    for (std::size_t i = 0; i < inputs.size(); ++i)
      if (inputs[i].needed) tasks.push_back({l, i});
  }
  const auto n_threads = static_cast<std::size_t>(std::max(1, omp_get_max_threads()));
  // Per thread, sized once for the widest input: x [chunk][width] and the coded site (values, V_th, zero
  // points). Nothing below allocates per token.
  std::vector<std::vector<float>> x(n_threads);
  std::vector<CodedSite> sites(n_threads);
  const auto chunk_elements = static_cast<std::size_t>(chunk * max_width);
  for (std::size_t t = 0; t < n_threads; ++t) {
    x[t].resize(chunk_elements);
    sites[t].coded.value.reserve(chunk_elements);
    sites[t].coded.scale.reserve(static_cast<std::size_t>(chunk));
    sites[t].coded.zero_point.reserve(static_cast<std::size_t>(chunk));
  }
  std::vector<std::exception_ptr> failure(tasks.size());
  for (std::int64_t t0 = 0; t0 < tokens; t0 += chunk) {
    const std::int64_t n = std::min(chunk, tokens - t0);
    const auto nu = static_cast<std::uint64_t>(n);
    // One parallel region per chunk over its independent sites (each adds only to its own records, so
    // results do not depend on the thread count); code_site and the generator run serially inside it.
    const auto n_tasks = static_cast<std::int64_t>(tasks.size());
#pragma omp parallel for schedule(dynamic, 1)
    for (std::int64_t k = 0; k < n_tasks; ++k) {
      const Task task = tasks[static_cast<std::size_t>(k)];
      const auto lu = static_cast<std::size_t>(task.layer);
      const InputStream& s = inputs[task.input];
      const auto tid = static_cast<std::size_t>(omp_get_thread_num());
      try {
        const std::span<float> xs(x[tid].data(), static_cast<std::size_t>(n * s.width));
        std::string what;
        if (synthetic) {
          s.generators[lu]->fill(t0, n, xs);
          what = cat("synthetic layer ", task.layer, " input ", task.input);
        } else {
#pragma omp critical(spikesim_account_hdf5)
          trace->read_rows(s.datasets[lu], t0, n, xs);  // the HDF5 library is not thread-safe
          what = cat(trace->file(), ": ", s.datasets[lu], " tokens ", t0, "..", t0 + n - 1);
        }
        const std::span<const std::int64_t> fan(unit_fanout.data(), static_cast<std::size_t>(s.width));
        CodedSite& site = sites[tid];
        code_site(request.site, xs, n, s.width, fan, fan, 1, what, site);
        for (const Projection p : all_projections) {
          if (input_of(p) != static_cast<LayerInput>(task.input) || !coded.at(static_cast<std::size_t>(p)))
            continue;
          const ProjectionShape ps = shape_of(shape, p);
          SiteCounters c = with_fanout(site.counters, static_cast<std::uint64_t>(ps.out));
          c.dense_macs = nu * static_cast<std::uint64_t>(ps.in * ps.out);
          c.dense_weight_words = static_cast<std::uint64_t>(ps.in * ps.out);
          c.bias_adds = ps.bias ? nu * static_cast<std::uint64_t>(ps.out) : 0;
          records[record_of[lu][static_cast<std::size_t>(p)]].counters += c;
        }
      } catch (...) {
        failure[static_cast<std::size_t>(k)] = std::current_exception();
      }
    }
    for (const std::exception_ptr& f : failure) {  // the first failing site in execution order
      if (f) std::rethrow_exception(f);
    }
    // Attention MACs of these tokens: QK^T and AV over each token's causal context, per query head.
    std::uint64_t context_sum = 0;  // sum over the chunk's tokens of (position + 1)
    for (std::int64_t t = t0; t < t0 + n; ++t)
      context_sum += static_cast<std::uint64_t>(t % sequence + 1);
    for (std::int64_t l = 0; l < shape.layers; ++l) {
      const auto lu = static_cast<std::size_t>(l);
      for (const Projection p : all_projections) {  // projections left dense
        if (coded.at(static_cast<std::size_t>(p))) continue;
        const ProjectionShape ps = shape_of(shape, p);
        const auto weights = static_cast<std::uint64_t>(ps.in * ps.out);
        SiteCounters& c = records[record_of[lu][static_cast<std::size_t>(p)]].counters;
        c.add_dense_op(nu, nu * weights, weights);
        c.bias_adds += ps.bias ? nu * static_cast<std::uint64_t>(ps.out) : 0;
      }
      records[attention_record[lu]].counters.add_dense_op(
          nu, 2 * static_cast<std::uint64_t>(shape.heads * shape.head_dim) * context_sum);
    }
    const auto head_weights = static_cast<std::uint64_t>(shape.hidden * shape.vocab);
    records[lm_head].counters.add_dense_op(nu, nu * head_weights, head_weights);
  }
  std::size_t buffer_bytes = unit_fanout.capacity() * sizeof(std::int64_t);
  for (std::size_t t = 0; t < n_threads; ++t) {
    buffer_bytes += x[t].capacity() * sizeof(float) + sites[t].coded.value.capacity() * sizeof(std::int32_t) +
                    sites[t].coded.scale.capacity() * sizeof(float) +
                    sites[t].coded.zero_point.capacity() * sizeof(std::int32_t);
  }
  for (const InputStream& s : inputs) {  // channel scales: layers x width, never tokens
    for (const auto& g : s.generators)
      buffer_bytes += g->scale().capacity() * sizeof(float);
  }

  AccountResult result;
  result.tokens = tokens;
  result.buffer_bytes = buffer_bytes;
  result.report.layers = std::move(records);
  Json coded_names = Json::array();
  for (const Projection p : all_projections)
    if (coded.at(static_cast<std::size_t>(p))) coded_names.push_back(name(p));
  const SiteConfig& c = request.site;
  Json activations =
      synthetic ? Json{{"kind", "synthetic"},
                       {"distribution",
                        "x[t][c] = z[t][c] * exp(sigma * u[c]), z, u ~ N(0, 1) i.i.d., channel scales fixed "
                        "per layer input (outlier channels; scripts/make_trace.py's generator)"},
                       {"seed", request.seed},
                       {"sigma", request.sigma},
                       {"stream",
                        "layer * 4 + input (0: q/k/v input, 1: o_proj input, 2: gate/up input, 3: down_proj "
                        "input)"}}
                : Json{{"kind", "trace"}, {"file", request.activations}};
  constexpr const char* assumption_weights =
      "weights are not materialised: fan-outs come from the shapes and every synapse is taken as non-zero, "
      "so effective_sops = sops (dense-weight assumption)";
  constexpr const char* assumption_chunks =
      "T is set per chunk of chunk_tokens tokens (the tensor coded at once); the dense run reads each weight "
      "once per chunk";
  constexpr const char* assumption_shared =
      "q/k/v (and gate/up) share one input, coded once; its spikes and coding-neuron updates appear in each "
      "record that reads it, as when each projection codes its own copy";
  constexpr const char* assumption_attention =
      "attention: 2 x heads x head_dim x (position + 1) MACs per token (QK^T and AV over the causal "
      "context), dense; lm_head on every token, dense";
  constexpr const char* assumption_elementwise =
      "embedding lookups, norms, RoPE, SiLU and softmax are element-wise and not counted (< 0.1 % of a "
      "layer's MACs)";
  result.report.run = Json{{"command", "account"},
                           {"model_kind", "decoder-config"},
                           {"source", shape.source},
                           {"shape", shape_json(shape)},
                           {"tokens", tokens},
                           {"chunk_tokens", chunk},
                           {"sequence_tokens", sequence},
                           {"activations", activations}};
  add_coding_json(result.report.run, c);
  result.report.run["coded_projections"] = coded_names;
  result.report.run["assumptions"] = Json::array({assumption_weights, assumption_chunks, assumption_shared,
                                                  assumption_attention, assumption_elementwise});
  return result;
}

}  // namespace spikesim::sim
