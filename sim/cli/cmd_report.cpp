// spikesim report DIR: figures (matplotlib, through /usr/bin/python3 and scripts/spikesim_report.py) and one
// static HTML page (DIR/report.html) from a run directory (report.json) and/or a compare directory.

#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "base/files.hpp"
#include "base/text.hpp"
#include "sim/cli/cli.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX, for posix_spawn

namespace spikesim::sim {

namespace {

struct ReportArgs {
  std::string dir;
  std::string compare;  // optional second directory with compare.json
  std::string out;      // default DIR/report.html
  bool quiet = false;
};

std::filesystem::path env_or(const char* name, const std::filesystem::path& fallback) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read once at start-up
  return v != nullptr && *v != '\0' ? std::filesystem::path(v) : fallback;
}

int run_process(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  args.push_back(nullptr);
  pid_t pid = 0;
  const int err = ::posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ);
  if (err != 0) throw OutputError(cat(argv[0], ": cannot start (", std::strerror(err), ")"));  // NOLINT
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw OutputError(cat(argv[0], ": waitpid failed"));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int report(const ReportArgs& a) {
  const std::filesystem::path dir = a.dir;
  const bool has_run = std::filesystem::exists(dir / "report.json");
  const bool has_compare =
      std::filesystem::exists(dir / "compare.json") ||
      (!a.compare.empty() && std::filesystem::exists(std::filesystem::path(a.compare) / "compare.json"));
  if (!has_run && !has_compare) {
    throw OutputError(cat(dir.string(),
                          ": no report.json or compare.json here (write one with `spikesim run --out ",
                          dir.string(), "` or `spikesim compare --out ", dir.string(), "`)"));
  }
  if (!a.compare.empty() && !std::filesystem::exists(std::filesystem::path(a.compare) / "compare.json"))
    throw OutputError(
        cat(a.compare, ": no compare.json here (--compare expects a `spikesim compare` directory)"));
  const auto script = env_or("SPIKESIM_SCRIPTS_DIR", SPIKESIM_SCRIPTS_DIR) / "spikesim_report.py";
  if (!std::filesystem::exists(script))
    throw OutputError(cat(script.string(), ": report script not found (set SPIKESIM_SCRIPTS_DIR)"));
  const auto python = env_or("SPIKESIM_PYTHON", "/usr/bin/python3");
  std::vector<std::string> argv = {python.string(), script.string(), dir.string()};
  if (!a.compare.empty()) argv.insert(argv.end(), {"--compare", a.compare});
  if (!a.out.empty()) argv.insert(argv.end(), {"--out", a.out});
  if (a.quiet) argv.emplace_back("--quiet");
  const int status = run_process(argv);
  if (status != 0) throw OutputError(cat(script.string(), " failed with status ", status, " (see above)"));
  return 0;
}

}  // namespace

void add_report_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "report", "Draw the figures of a run or compare directory and bundle them into DIR/report.html");
  cmd->add_option("dir", args->dir, "Directory written by `spikesim run` or `spikesim compare`")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--compare", args->compare, "Also include a `spikesim compare` directory (sweep figures)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--out", args->out, "HTML file to write (default: DIR/report.html)");
  cmd->add_flag("--quiet,-q", args->quiet, "Print nothing on success");
  cmd->callback([args, &action] { action = [args] { return report(*args); }; });
}

}  // namespace spikesim::sim
