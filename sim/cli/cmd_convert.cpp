// spikesim convert: an LLM checkpoint (llama2.c .bin, or safetensors) -> Hugging Face config.json +
// model.safetensors (+ the tokenizer: tokenizer.bin or tokenizer.json, copied as is), so both loaders can be
// checked on the same weights.

#include <fstream>
#include <iostream>
#include <sstream>

#include "base/files.hpp"
#include "base/text.hpp"
#include "models/hf_llm.hpp"
#include "sim/cli/cli.hpp"
#include "sim/run/llm_run.hpp"

namespace spikesim::sim {

namespace {

struct ConvertArgs {
  std::string model;
  std::string tokenizer;
  std::string out;
  std::string dtype = "f32";
  bool quiet = false;
};

int convert(const ConvertArgs& a) {
  const OutputLock lock(a.out);  // a second run into the same --out fails here, before any work
  const models::LlmModel model = load_llm(a.model);
  std::string dtype = a.dtype;
  for (char& ch : dtype)
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  const auto tokenizer = load_llm_tokenizer(a.model, a.tokenizer, model.config.vocab_size);
  std::vector<std::pair<std::string, std::string>> files;
  files.emplace_back("config.json", models::hf_config_json(model.config, dtype));
  files.emplace_back("model.safetensors",
                     models::safetensors_bytes(
                         models::hf_tensors(model, dtype),
                         {{"format", "pt"}, {"converted_by", "spikesim convert"}, {"source", a.model}}));
  const std::string tokenizer_name =
      tokenizer && tokenizer->format() == "tokenizer.json" ? "tokenizer.json" : "tokenizer.bin";
  if (tokenizer) {
    std::ifstream in(tokenizer->file(), std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    files.emplace_back(tokenizer_name, bytes.str());
  }
  write_files_atomic(a.out, files);
  if (!a.quiet) {
    std::cout << "spikesim convert: " << model.config.architecture << " (" << model.config.parameter_count()
              << " parameters, " << dtype << ") -> " << a.out << "/config.json, model.safetensors"
              << (tokenizer ? ", " + tokenizer_name : std::string()) << "\n";
  }
  return 0;
}

}  // namespace

void add_convert_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* cmd = app.add_subcommand(
      "convert",
      "Convert an LLM checkpoint (llama2.c .bin or safetensors) to config.json + model.safetensors");
  cmd->add_option("--model", args->model,
                  "llama2.c .bin checkpoint, or a directory / .safetensors with config.json")
      ->required()
      ->check(CLI::ExistingPath);
  cmd->add_option(
         "--tokenizer", args->tokenizer,
         "llama2.c tokenizer .bin or tokenizer.json, copied as tokenizer.bin / tokenizer.json (default: "
         "the one beside the model)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", args->out, "Output directory")->required();
  cmd->add_option("--dtype", args->dtype, "Stored dtype")
      ->check(CLI::IsMember({"f32", "f16", "bf16"}))
      ->capture_default_str();
  cmd->add_flag("--quiet,-q", args->quiet, "Print nothing on success");
  cmd->callback([args, &action] { action = [args] { return convert(*args); }; });
}

}  // namespace spikesim::sim
