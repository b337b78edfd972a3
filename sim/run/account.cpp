#include "sim/run/account.hpp"

#include <omp.h>

#include <algorithm>
#include <bit>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>

#include "base/counters.hpp"
#include "base/dist.hpp"
#include "base/text.hpp"
#include "energy/estimate.hpp"
#include "energy/profile.hpp"
#include "models/error.hpp"
#include "models/gla_swa.hpp"
#include "models/hdf5_file.hpp"
#include "models/hf_llm.hpp"
#include "models/llama2c.hpp"
#include "sim/plan/cost.hpp"
#include "sim/plan/lower.hpp"
#include "sim/run/execute.hpp"
#include "sim/run/llm_run.hpp"

namespace spikesim::sim {

namespace {

using models::ModelError;

// Hugging Face module name of one of our projection names: layers.L.q_proj ->
// model.layers.L.self_attn.q_proj.
std::string hf_module_name(const std::string& member) {
  const std::size_t dot = member.rfind('.');
  if (member.rfind("layers.", 0) != 0 || dot == std::string::npos) return member;
  const std::string role = member.substr(dot + 1);
  const bool mlp = role == "gate_proj" || role == "up_proj" || role == "down_proj";
  return "model." + member.substr(0, dot) + (mlp ? ".mlp." : ".self_attn.") + role;
}

// Where a site's input is in a trace: /layers/<name>/input with <name> the site's own name (what
// `spikesim run --save-activations` writes), one of its projections', or their Hugging Face module name.
std::string trace_dataset(const models::H5Reader& h5, const Step& site) {
  std::vector<std::string> names{site.name};
  names.insert(names.end(), site.members.begin(), site.members.end());
  for (const auto& m : site.members)
    names.push_back(hf_module_name(m));
  for (const auto& n : names) {
    std::string dataset = "/layers/" + n + "/input";
    if (h5.has("/layers/" + n) && h5.has(dataset)) return dataset;
  }
  std::string tried;
  for (const auto& n : names)
    tried += (tried.empty() ? "" : ", ") + n;
  throw ModelError(cat(h5.file(), ": no recorded input for site '", site.name,
                       "' (looked for /layers/<name>/input with <name> one of ", tried, ")"));
}

// SiteCounters as 64-bit words (integers as they are, doubles by their bits), for the reduction over ranks:
// every field through for_each_counter_field, so a new counter travels without a change here.
void pack_counters(const SiteCounters& c, std::vector<std::uint64_t>& out) {
  for_each_counter_field([&](const char*, auto member, Merge) {
    const auto& v = c.*member;
    using T = std::remove_cvref_t<decltype(v)>;
    if constexpr (std::is_floating_point_v<T>) {
      out.push_back(std::bit_cast<std::uint64_t>(static_cast<double>(v)));
    } else if constexpr (std::is_integral_v<T>) {
      out.push_back(static_cast<std::uint64_t>(static_cast<std::int64_t>(v)));
    } else {
      for (const auto e : v)
        out.push_back(static_cast<std::uint64_t>(e));
    }
  });
}

SiteCounters unpack_counters(const std::vector<std::uint64_t>& words, std::size_t& at) {
  SiteCounters c;
  for_each_counter_field([&](const char*, auto member, Merge) {
    auto& v = c.*member;
    using T = std::remove_cvref_t<decltype(v)>;
    if constexpr (std::is_floating_point_v<T>) {
      v = static_cast<T>(std::bit_cast<double>(words.at(at++)));
    } else if constexpr (std::is_integral_v<T>) {
      v = static_cast<T>(static_cast<std::int64_t>(words.at(at++)));
    } else {
      for (auto& e : v)
        e = static_cast<std::remove_cvref_t<decltype(e)>>(words.at(at++));
    }
  });
  return c;
}

// One coded site of the plan and where its input comes from.
struct Source {
  std::size_t step = 0;  // in plan.steps and the records
  std::int64_t in = 0, out = 0;
  std::int64_t rows_per_token = 1;             // an attention query site codes each token's heads as rows
  std::unique_ptr<OutlierChannels> generator;  // synthetic
  std::string dataset;                         // trace
};

// Postsynaptic neurons one token's events reach in a MoE block: its top-k experts' gate and up rows and the
// shared expert's (with its gate row).
std::int64_t moe_routed_fanout(const MoeStep& m) {
  return m.top_k * 2 * m.hidden + (m.shared_gate_up ? m.shared_gate_up->out : 0);
}

// The model type a generator file lists a config under (config.json's model_type).
std::string model_type_of(const models::LlmConfig& c) {
  if (c.architecture == models::gla_swa_architecture) return "gla_swa";
  if (c.architecture == models::spikingbrain_moe_architecture) return "spikingbrain_hybrid_moe";
  return c.architecture;
}

// The channel mixture a synthetic account uses, or none for the one-sigma outlier generator:
// request.generator "auto" picks data/configs/spikingbrain_activation_generator.json for the model types it
// names (SpikingBrain configs), "outlier" the sigma generator, anything else is a generator file.
std::optional<ChannelMixture> synthetic_mixture(const AccountRequest& request, const models::LlmConfig& c) {
  if (request.activations != "synthetic" || request.generator == "outlier") return std::nullopt;
  if (request.generator != "auto") return read_channel_mixture(request.generator);
  const std::filesystem::path file =
      energy::data_dir() / "configs" / "spikingbrain_activation_generator.json";
  const auto types = mixture_default_model_types(file);
  if (std::find(types.begin(), types.end(), model_type_of(c)) == types.end()) return std::nullopt;
  return read_channel_mixture(file);
}

}  // namespace

models::LlmConfig load_llm_config(const std::filesystem::path& model, std::int64_t default_context) {
  const std::filesystem::path config = models::hf_config_path(model);
  if (!config.empty()) return models::read_hf_config(config, default_context);
  if (model.extension() == ".json") return models::read_hf_config(model, default_context);
  if (is_llama2c_checkpoint(model)) return models::load_llama2c(model).config;
  throw ModelError(
      cat(model.string(),
          ": not a decoder description (expected a config.json, a directory with one, or a llama2.c "
          ".bin)"));
}

AccountResult account(const AccountRequest& request) {
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

  // The decoder's plan with shape-only weights: the same sites and dense ops as a run of a checkpoint.
  const std::int64_t default_context =
      std::max<std::int64_t>({request.sequence_tokens, request.tokens, request.chunk_tokens, 1});
  const models::LlmConfig config = load_llm_config(request.config, default_context);
  const models::LlmModel model = models::shape_only_llm(config, request.config);
  Plan plan =
      lower_network(model.network, {.batch = 1, .sites = {request.sites, false, {}}, .shape_only = true});

  // Coded sites and their activation sources; the k-th site (synaptic sites and SpikingBrain's attention
  // query sites, in execution order) reads synthetic stream k.
  const std::optional<ChannelMixture> mixture = synthetic_mixture(request, config);
  std::vector<Source> sources;
  std::int64_t tokens = request.tokens;
  {
    std::size_t ordinal = 0;
    for (std::size_t i = 0; i < plan.steps.size(); ++i) {
      const Step& s = plan.steps[i];
      if (!s.site_candidate()) continue;
      const bool query = s.kind() == StepKind::attention;
      const bool moe = s.kind() == StepKind::moe;
      const std::size_t site_ordinal = ordinal++;
      if (!s.coded) continue;
      Source src{i, 0, 0, 1, nullptr, ""};
      if (query) {
        const AttentionStep& a = s.as<AttentionStep>();
        src.in = a.head_dim;
        src.rows_per_token = a.heads;
      } else if (moe) {  // each token's events reach its top-k experts' gate/up and the shared expert's
        const MoeStep& m = s.as<MoeStep>();
        src.in = m.dim;
        src.out = moe_routed_fanout(m);
      } else {
        const LinearWeights& w = *s.as<LinearStep>().weights;
        src.in = w.in;
        src.out = w.out;
      }
      if (synthetic) {
        const std::uint64_t stream = synthetic_stream(site_ordinal);
        src.generator = mixture
                            ? std::make_unique<OutlierChannels>(request.seed, stream, src.in, *mixture)
                            : std::make_unique<OutlierChannels>(request.seed, stream, src.in, request.sigma);
      } else {
        src.dataset = trace_dataset(*trace, s);
        const std::vector<std::int64_t> dims = trace->shape(src.dataset);
        const std::int64_t width = src.in * src.rows_per_token;
        if (dims.size() != 2 || dims[1] != width) {
          throw ModelError(cat(trace->file(), ": ", src.dataset, " has shape ", shape_str(dims),
                               ", expected [tokens, ", width, "] for site '", s.name, "'"));
        }
        if (tokens == 0) tokens = dims[0];
        if (dims[0] < tokens) {
          throw ModelError(
              cat(trace->file(), ": ", src.dataset, " holds ", dims[0], " tokens, ", tokens, " requested"));
        }
      }
      sources.push_back(std::move(src));
    }
  }
  if (tokens == 0) {
    if (!synthetic) throw ModelError(cat(request.activations, ": the trace feeds no coded site"));
    throw std::invalid_argument("account: tokens must be >= 1 with synthetic activations");
  }
  const std::int64_t sequence = request.sequence_tokens > 0 ? request.sequence_tokens : tokens;

  std::vector<LayerRecord> records = plan_records(plan);
  // Stream the tokens chunk by chunk; every buffer below is sized by the chunk (one set per thread).
  const std::int64_t chunk = std::min(request.chunk_tokens, tokens);
  std::int64_t max_width = 0;
  std::int64_t max_rows = 1;  // coded rows per token
  for (const Source& s : sources) {
    max_width = std::max(max_width, s.in * s.rows_per_token);
    max_rows = std::max(max_rows, s.rows_per_token);
  }
  const auto n_threads = static_cast<std::size_t>(std::max(1, omp_get_max_threads()));
  // Per thread, sized once for the widest input: x [chunk][width] and the coded site (values, V_th, zero
  // points). Nothing below allocates per token.
  std::vector<std::vector<float>> x(n_threads);
  std::vector<CodedSite> coded(n_threads);
  const auto chunk_elements = static_cast<std::size_t>(chunk * max_width);
  for (std::size_t t = 0; t < n_threads; ++t) {
    x[t].resize(chunk_elements);
    coded[t].coded.value.reserve(chunk_elements);
    coded[t].coded.scale.reserve(static_cast<std::size_t>(chunk * max_rows));
    coded[t].coded.zero_point.reserve(static_cast<std::size_t>(chunk * max_rows));
  }
  // One chunk's counters per record, added into `records` in chunk order: the same additions, in the same
  // order, whichever rank computed the chunk, so the report does not depend on the rank count.
  std::vector<SiteCounters> part(records.size());
  std::vector<std::exception_ptr> failure(sources.size());
  const auto run_chunk = [&](std::int64_t t0, std::int64_t n) {
    std::fill(part.begin(), part.end(), SiteCounters{});
    std::fill(failure.begin(), failure.end(), nullptr);
    const auto nu = static_cast<std::uint64_t>(n);
    // One parallel region per chunk over its coded sites (each writes only its own record, so results do
    // not depend on the thread count); code_site and the generator run serially inside it.
    const auto n_sources = static_cast<std::int64_t>(sources.size());
#pragma omp parallel for schedule(dynamic, 1)
    for (std::int64_t k = 0; k < n_sources; ++k) {
      const Source& src = sources[static_cast<std::size_t>(k)];
      const Step& s = plan.steps[src.step];
      const auto tid = static_cast<std::size_t>(omp_get_thread_num());
      try {
        const std::int64_t rows = n * src.rows_per_token;
        const std::span<float> xs(x[tid].data(), static_cast<std::size_t>(rows * src.in));
        std::string what;
        if (synthetic) {
          src.generator->fill(t0 * src.rows_per_token, rows, xs);
          what = cat("synthetic input of site '", s.name, "'");
        } else {
#pragma omp critical(spikesim_account_hdf5)
          trace->read_rows(src.dataset, t0, n, xs);  // the HDF5 library is not thread-safe
          what = cat(trace->file(), ": ", src.dataset, " tokens ", t0, "..", t0 + n - 1);
        }
        if (s.kind() == StepKind::moe) {
          // Every expert has the same fan-out, so the SOPs do not depend on which experts a token is routed
          // to: top_k x 2 hidden + the shared expert's rows. The experts' down projections and the
          // combination stay dense; which expert each token takes (the load) needs the router's weights.
          const MoeStep& m = s.as<MoeStep>();
          const std::vector<std::int64_t> fanout(static_cast<std::size_t>(src.in), src.out);
          code_site(request.site, xs, n, src.in, fanout, fanout, src.out, what, coded[tid]);
          SiteCounters c = coded[tid].counters;
          c.dense_macs = nu * static_cast<std::uint64_t>(s.macs_per_row);
          c.uncoded_macs = nu * static_cast<std::uint64_t>((m.top_k * m.hidden + m.shared_hidden) * m.dim);
          c.elementwise_ops += nu * static_cast<std::uint64_t>(s.elementwise_per_row);
          c.dense_weight_words = static_cast<std::uint64_t>(s.weights);
          part[src.step] = c;
        } else if (s.kind() == StepKind::attention) {
          // The query per token and head; its events reach the keys each token attends.
          const AttentionStep& a = s.as<AttentionStep>();
          const std::vector<std::int64_t> none(static_cast<std::size_t>(src.in), 0);
          code_site(request.site, xs, rows, src.in, none, none, 0, what, coded[tid]);
          SiteCounters c = coded[tid].counters;
          c.tokens = nu;
          c.token_steps = nu * static_cast<std::uint64_t>(coded[tid].coded.steps);
          std::vector<std::int64_t> keys = attended_per_row({t0, sequence}, n, a.window);
          for (std::int64_t& key_count : keys)
            key_count += a.sinks;
          add_synapse_side(c, count_query_events(coded[tid].coded, a.heads, keys));
          c += coded_attention_cost(a, n, {t0, sequence});
          part[src.step] = c;
        } else {
          // Shape-only weights: every presynaptic neuron reaches all `out` synapses (fanout_nonzero = out).
          const LinearWeights& w = *s.as<LinearStep>().weights;
          code_site(request.site, xs, n, src.in, w.fanout_nonzero, w.fanout_nonzero, src.out, what,
                    coded[tid]);
          SiteCounters c = coded[tid].counters;
          c.dense_macs = nu * static_cast<std::uint64_t>(src.in * src.out);
          c.dense_weight_words = static_cast<std::uint64_t>(src.in * src.out);
          c.bias_adds = w.bias.empty() ? 0 : nu * static_cast<std::uint64_t>(src.out);
          part[src.step] = c;
        }
      } catch (...) {
        failure[static_cast<std::size_t>(k)] = std::current_exception();
      }
    }
    for (const std::exception_ptr& f : failure) {  // the first failing site in execution order
      if (f) std::rethrow_exception(f);
    }
    // Everything left dense, by the cost table; attention over each token's causal context (or window).
    for (std::size_t i = 0; i < plan.steps.size(); ++i) {
      if (!plan.steps[i].coded) part[i] = dense_cost(plan, plan.steps[i], n, {t0, sequence});
    }
  };

  // Chunks over the ranks (base/dist.hpp): in each round rank r computes chunk first + r; rank 0 gathers the
  // round's partial counters (fixed size: records x counter words) and adds them in chunk order. Memory per
  // rank is one round's counters, whatever the number of tokens. One rank: a plain loop over the chunks.
  const auto n_chunks = (tokens + chunk - 1) / chunk;
  const int ranks = dist::size();
  const int me = dist::rank();
  if (request.progress != nullptr) request.progress->start(static_cast<std::uint64_t>(n_chunks));
  std::vector<std::uint64_t> words;
  for (std::int64_t first = 0; first < n_chunks; first += ranks) {
    const std::int64_t c = first + me;
    const std::int64_t t0 = c * chunk;
    const std::int64_t n = std::min(chunk, tokens - t0);
    std::exception_ptr error;
    if (c < n_chunks) {
      try {
        run_chunk(t0, n);
      } catch (...) {
        error = std::current_exception();
      }
    }
    if (ranks == 1) {
      if (error) std::rethrow_exception(error);
      for (std::size_t i = 0; i < records.size(); ++i)
        records[i].counters += part[i];
    } else {
      const int failed = dist::first_failed_rank(error != nullptr);
      if (error) dist::rethrow_in(error, cat("chunk ", c, " (tokens ", t0, "..", t0 + n - 1, ")"));
      if (failed >= 0) throw dist::PeerFailed(failed);
      words.clear();
      for (const SiteCounters& p : part)
        pack_counters(p, words);
      const std::vector<std::uint64_t> all = dist::gather(words);
      if (me == 0) {
        for (int r = 0; r < ranks && first + r < n_chunks; ++r) {
          std::size_t at = static_cast<std::size_t>(r) * words.size();
          for (LayerRecord& record : records)
            record.counters += unpack_counters(all, at);
        }
      }
    }
    if (request.progress != nullptr)
      request.progress->advance(static_cast<std::uint64_t>(std::min<std::int64_t>(ranks, n_chunks - first)));
  }
  std::size_t buffer_bytes = 0;
  for (std::size_t t = 0; t < n_threads; ++t) {
    buffer_bytes += x[t].capacity() * sizeof(float) + coded[t].coded.value.capacity() * sizeof(std::int32_t) +
                    coded[t].coded.scale.capacity() * sizeof(float) +
                    coded[t].coded.zero_point.capacity() * sizeof(std::int32_t);
  }
  for (const Source& s : sources) {  // channel scales: sites x width, never tokens
    if (s.generator) buffer_bytes += s.generator->scale().capacity() * sizeof(float);
  }

  AccountResult result;
  result.config = config;
  result.tokens = tokens;
  result.buffer_bytes = buffer_bytes;
  result.report.layers = std::move(records);
  const SiteConfig& c = request.site;
  Json activations =
      mixture
          ? Json{{"kind", "synthetic"},
                 {"distribution",
                  "outlier_channel_mixture: x[t][c] = a[c] z[t][c], channels quiet / bulk / outlier with "
                  "log-normal scales, fitted to SpikingBrain's Table 11 and Fig. 9 (data/configs/README.md)"},
                 {"generator", mixture->file},
                 {"seed", request.seed},
                 {"stream", "the site's position among the model's coded-site candidates (execution order)"}}
      : synthetic
          ? Json{{"kind", "synthetic"},
                 {"distribution",
                  "x[t][c] = z[t][c] * exp(sigma * u[c]), z, u ~ N(0, 1) i.i.d., channel scales fixed "
                  "per site input (outlier channels; scripts/make_trace.py's generator)"},
                 {"seed", request.seed},
                 {"sigma", request.sigma},
                 {"stream", "the site's position among the model's synaptic sites (execution order)"}}
          : Json{{"kind", "trace"}, {"file", request.activations}};
  constexpr const char* assumption_weights =
      "weights are not materialised: fan-outs come from the shapes and every synapse is taken as non-zero, "
      "so effective_sops = sops (dense-weight assumption)";
  constexpr const char* assumption_chunks =
      "T is set per chunk of chunk_tokens tokens (the tensor coded at once); the dense run reads each weight "
      "once per chunk";
  constexpr const char* assumption_shared =
      "projections that read one input (q/k/v, gate/up) are one synaptic site, as in spikesim run: its "
      "spikes and coding-neuron updates are counted once, its SOPs over every projection's synapses";
  constexpr const char* assumption_dense =
      "ops left dense (embedding, norms, RoPE, attention over each token's causal context, SwiGLU, lm_head) "
      "are counted by the same cost table as spikesim run";
  result.report.run = Json{{"command", "account"},
                           {"model_kind", "decoder-config"},
                           {"source", request.config},
                           {"llm", llm_config_json(config)},
                           {"tokens", tokens},
                           {"chunk_tokens", chunk},
                           {"tokens_per_call", energy::tokens_per_call(energy::RunKind::account,
                                                                       static_cast<std::uint64_t>(tokens), 0,
                                                                       static_cast<std::uint64_t>(chunk))},
                           {"sequence_tokens", sequence},
                           {"activations", activations}};
  add_coding_json(result.report.run, c);
  result.report.run["sites"] = request.sites == "default" ? std::string("qkv,o,gateup") : request.sites;
  result.report.run["coded_sites"] = coded_site_patterns(plan);
  result.report.run["assumptions"] =
      Json::array({assumption_weights, assumption_chunks, assumption_shared, assumption_dense});
  return result;
}

}  // namespace spikesim::sim
