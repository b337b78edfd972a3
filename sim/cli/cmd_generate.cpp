// spikesim generate: greedy generation from an LLM checkpoint, dense or spike-coded.

#include <iostream>
#include <optional>

#include "base/error.hpp"
#include "base/files.hpp"
#include "base/text.hpp"
#include "energy/estimate.hpp"
#include "models/error.hpp"
#include "sim/cli/cli.hpp"
#include "sim/report/report.hpp"
#include "sim/run/llm_run.hpp"

namespace spikesim::sim {

namespace {

struct GenerateArgs {
  std::string model;
  std::string tokenizer;
  std::string prompt;
  std::string tokens_file;
  std::int64_t steps = 256;
  bool spiking = false;
  bool no_stop = false;
  bool no_bos = false;
  std::string sites = "default";
  std::string out;
  std::vector<std::string> hardware;
  bool quiet = false;
  CodingArgs coding;
};

int generate(const GenerateArgs& a) {
  std::optional<OutputLock> lock;  // a second run into the same --out fails here, before any work
  if (!a.out.empty()) lock.emplace(a.out);
  const models::LlmModel model = load_llm(a.model);
  const std::string sites =
      a.spiking ? (a.sites == "default" ? std::string("qkv,o,gateup") : a.sites) : "none";
  const auto tokenizer = load_llm_tokenizer(a.model, a.tokenizer, model.config.vocab_size);
  std::vector<energy::HardwareProfile> profiles;
  if (!a.out.empty()) profiles = load_profiles(a.hardware);

  std::vector<std::int32_t> prompt;
  if (!a.tokens_file.empty()) {
    prompt = read_token_ids(a.tokens_file);
    if (prompt.empty()) throw std::invalid_argument(cat(a.tokens_file, ": no token ids"));
  } else if (tokenizer) {
    try {
      prompt = tokenizer->encode(a.prompt, !a.no_bos);
    } catch (const models::ModelError&) {
      throw;
    } catch (const UserError& e) {
      throw models::ModelError(cat("--prompt: ", e.what()));
    }
    if (prompt.empty()) {
      throw std::invalid_argument(cat("the prompt gives no token to start from (", tokenizer->file(),
                                      a.no_bos ? " with --no-bos" : " adds no BOS", "): give a --prompt"));
    }
  } else if (a.prompt.empty()) {
    if (a.no_bos) throw std::invalid_argument("--no-bos without a prompt leaves no token to start from");
    prompt = {model.config.bos_id};
  } else {
    throw std::invalid_argument(
        "no tokenizer for --prompt: pass --tokenizer FILE, put tokenizer.json / tokenizer.bin beside the "
        "model, "
        "or use --tokens");
  }

  const Plan plan = lower_llm(model, SiteSelection{sites, false, {}});
  const SiteConfig site = site_config(a.coding);
  ExecOptions options;
  if (a.spiking) options.site = &site;
  std::vector<LayerRecord> records = plan_records(plan);
  const GenerateLimits limits{a.steps, !a.no_stop, model.config.bos_id, model.config.eos_id};
  const std::vector<std::int32_t> tokens =
      llm_generate(plan, prompt, limits, options, a.out.empty() ? nullptr : &records);
  // The whole text as the tokenizer decodes it (special tokens skipped), and the continuation alone.
  const std::string text = tokenizer ? tokenizer->decode(tokens, true) : std::string{};
  const std::span<const std::int32_t> generated = std::span(tokens).subspan(prompt.size());

  if (tokenizer) {
    std::cout << text << "\n";
  } else {
    for (std::size_t i = 0; i < tokens.size(); ++i)
      std::cout << (i ? " " : "") << tokens[i];
    std::cout << "\n";
  }
  if (!a.out.empty()) {
    ReportInput report;
    report.layers = std::move(records);
    report.profiles = profiles;
    const SiteConfig& c = site;
    report.run = Json{{"command", "generate"},
                      {"source", a.model},
                      {"mode", a.spiking ? "spiking" : "dense"},
                      {"coding", a.spiking ? Json(coding::name(c.coding.scheme)) : Json(nullptr)},
                      {"neuron", neurons::name(c.neuron.kind)},
                      {"k", c.neuron.k},
                      {"sites", sites},
                      {"llm", llm_config_json(model.config)},
                      // Decoding: one token per call after the prompt (energy/estimate.hpp tokens_per_call).
                      {"tokens_per_call", energy::tokens_per_call(energy::RunKind::generate, 0, 0, 0)}};
    report.extra["generation"] = Json{{"prompt_tokens", prompt.size()},
                                      {"generated_tokens", tokens.size() - prompt.size()},
                                      {"tokens", tokens},
                                      {"text", tokenizer ? Json(text) : Json(nullptr)}};
    // generation.json: the ids and texts of this generation with what made them, written with the report.
    Json generation{{"model", a.model},
                    {"tokenizer", tokenizer ? Json(tokenizer->file()) : Json(nullptr)},
                    {"tokenizer_format", tokenizer ? Json(std::string(tokenizer->format())) : Json(nullptr)},
                    {"prompt", a.tokens_file.empty() ? Json(a.prompt) : Json(nullptr)},
                    {"prompt_tokens_file", a.tokens_file.empty() ? Json(nullptr) : Json(a.tokens_file)},
                    {"no_bos", a.no_bos},
                    {"settings",
                     {{"mode", a.spiking ? "spiking" : "dense"},
                      {"sites", sites},
                      {"coding", a.spiking ? Json(coding::name(c.coding.scheme)) : Json(nullptr)},
                      {"neuron", a.spiking ? Json(neurons::name(c.neuron.kind)) : Json(nullptr)},
                      {"k", a.spiking ? Json(c.neuron.k) : Json(nullptr)},
                      {"steps", a.steps},
                      {"stop_at_eos", !a.no_stop},
                      {"bos_id", model.config.bos_id},
                      {"eos_id", model.config.eos_id},
                      {"decoding", "greedy (argmax, lowest id on ties)"}}},
                    {"prompt_ids", prompt},
                    {"generated_ids", std::vector<std::int32_t>(generated.begin(), generated.end())},
                    {"text", tokenizer ? Json(text) : Json(nullptr)},
                    {"generated_text", tokenizer ? Json(tokenizer->decode(generated, false)) : Json(nullptr)},
                    {"definitions",
                     {{"text", "decode(prompt_ids + generated_ids) with special tokens skipped"},
                      {"generated_text", "decode(generated_ids) with special tokens kept"}}}};
    write_report(
        a.out, report,
        {{"generation.json", generation.dump(2, ' ', false, Json::error_handler_t::replace) + "\n"}});
  }
  if (!a.quiet) {
    std::cerr << "spikesim generate: " << tokens.size() - prompt.size() << " tokens, "
              << (a.spiking ? cat("spiking (", sites, ", ", a.coding.coding, ", k ", a.coding.k, ")")
                            : std::string("dense"))
              << (a.out.empty() ? "" : " -> " + a.out + "/report.json") << "\n";
  }
  return 0;
}

}  // namespace

void add_generate_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* cmd =
      app.add_subcommand("generate", "Greedy text generation from an LLM checkpoint, dense or spiking");
  cmd->add_option("--model", args->model,
                  "llama2.c .bin checkpoint, or a directory / .safetensors with config.json")
      ->required()
      ->check(CLI::ExistingPath);
  cmd->add_option(
         "--tokenizer", args->tokenizer,
         "llama2.c tokenizer .bin or Hugging Face tokenizer.json (default: the one beside the model)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--prompt", args->prompt, "Text to continue (default: from BOS alone)");
  cmd->add_option("--tokens", args->tokens_file, "File of prompt token ids instead of --prompt")
      ->check(CLI::ExistingFile);
  cmd->add_option("--steps", args->steps, "Tokens to generate (stops early at BOS/EOS or a full context)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("--no-stop", args->no_stop, "Do not stop at BOS/EOS");
  cmd->add_flag(
      "--no-bos", args->no_bos,
      "Tokenize the prompt without BOS (llama2.c) / the post-processor's special tokens (tokenizer.json)");
  cmd->add_flag("--spiking", args->spiking,
                "Generate from the spike-coded model (implied by --coding, --k, --neuron or --sites)");
  cmd->add_option(
         "--sites", args->sites,
         "Spike-coded sites (glob patterns, !PATTERN, default, all, none; LLM shorthands qkv, o, gateup, "
         "down)")
      ->capture_default_str();
  cmd->add_option("--out", args->out,
                  "Also write report.json + layers.csv of the generation run and generation.json (prompt and "
                  "generated ids, text) here");
  cmd->add_flag("--quiet,-q", args->quiet, "Print only the generated text");
  add_coding_options(*cmd, args->coding);
  add_hardware_option(*cmd, args->hardware);
  cmd->callback([args, cmd, &action] {
    for (const char* opt : {"--coding", "--k", "--neuron", "--sites"}) {
      if (cmd->get_option(opt)->count() > 0) args->spiking = true;
    }
    action = [args] { return generate(*args); };
  });
}

}  // namespace spikesim::sim
