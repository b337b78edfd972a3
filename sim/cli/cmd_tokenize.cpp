// spikesim tokenize: the token ids (and token strings) a tokenizer gives a text, as JSON on stdout.

#include <fstream>
#include <iostream>
#include <sstream>

#include "base/error.hpp"
#include "base/text.hpp"
#include "models/error.hpp"
#include "models/text_tokenizer.hpp"
#include "sim/cli/cli.hpp"
#include "sim/run/result.hpp"

namespace spikesim::sim {

namespace {

struct TokenizeArgs {
  std::string tokenizer;
  std::string text;
  std::string text_file;
  bool no_bos = false;
};

int tokenize(const TokenizeArgs& a) {
  const auto tokenizer = models::load_text_tokenizer(a.tokenizer, -1);
  std::string text = a.text;
  std::string source = "--text";
  if (!a.text_file.empty()) {
    std::ifstream in(a.text_file, std::ios::binary);
    if (!in) throw models::ModelError(cat(a.text_file, ": file not found"));
    std::ostringstream s;
    s << in.rdbuf();
    text = s.str();
    if (!text.empty() && text.back() == '\n') text.pop_back();  // as run --text-file reads it
    source = a.text_file;
  }
  models::TokenizedText t;
  try {
    t = tokenizer->encode_tokens(text, !a.no_bos);
  } catch (const models::ModelError&) {
    throw;
  } catch (const UserError& e) {
    throw models::ModelError(cat(source, ": ", e.what()));
  }
  Json out{{"ids", t.ids}, {"tokens", t.tokens}};
  // Token strings of a llama2.c tokenizer may be partial UTF-8 (byte pieces): shown with U+FFFD.
  std::cout << out.dump(-1, ' ', false, Json::error_handler_t::replace) << "\n";
  return 0;
}

}  // namespace

void add_tokenize_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<TokenizeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "tokenize",
      "Print the token ids and token strings of a text as JSON: {\"ids\": [...], \"tokens\": [...]}");
  cmd->add_option("--tokenizer", args->tokenizer, "Hugging Face tokenizer.json or llama2.c tokenizer .bin")
      ->required()
      ->check(CLI::ExistingFile);
  auto* text = cmd->add_option("--text", args->text, "The text");
  auto* file = cmd->add_option("--text-file", args->text_file,
                               "File with the text (its final newline dropped, as "
                               "run --text-file reads it)")
                   ->check(CLI::ExistingFile);
  text->excludes(file);
  cmd->add_flag("--no-bos", args->no_bos,
                "Without BOS (llama2.c) / the post-processor's special tokens (tokenizer.json)");
  cmd->callback([args, text, file, &action] {
    if (text->count() == 0 && file->count() == 0) throw CLI::RequiredError("--text or --text-file");
    action = [args] { return tokenize(*args); };
  });
}

}  // namespace spikesim::sim
