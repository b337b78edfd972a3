#include "sim/report/compare.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <initializer_list>
#include <iomanip>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <sstream>

#include "base/csv.hpp"
#include "base/dist.hpp"
#include "base/files.hpp"
#include "base/json.hpp"
#include "base/text.hpp"
#include "coding/scheme.hpp"
#include "models/error.hpp"
#include "models/onnx.hpp"
#include "neurons/neuron.hpp"
#include "sim/report/record_io.hpp"
#include "sim/site/raster.hpp"

namespace spikesim::sim {

namespace {

std::string file_safe(std::string s) {
  for (char& ch : s) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                    ch == '.' || ch == '-' || ch == '_';
    if (!ok) ch = '_';
  }
  return s;
}

std::string k_text(double k) {
  return cat(k);
}

// The files a cell of `model` reads: the model file and what its loader reads beside it (config.json, the
// shard index, tokenizer.bin, ONNX external data), or every regular file of a model directory.
std::vector<std::filesystem::path> model_files(const std::string& model) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  const std::filesystem::path path(model);
  if (std::filesystem::is_directory(path, ec)) {
    for (const auto& e : std::filesystem::directory_iterator(path, ec)) {
      if (e.is_regular_file(ec)) files.push_back(e.path());
    }
  } else {
    files.push_back(path);
    if (path.extension() == ".onnx") {
      for (const auto& f : models::onnx_external_data_files(path))
        files.push_back(f);
    } else if (path.extension() != ".h5" && path.extension() != ".hdf5") {
      for (const char* beside :
           {"config.json", "model.safetensors.index.json", "tokenizer.bin", "tokenizer.json"}) {
        const auto f = path.parent_path() / beside;
        if (f != path && std::filesystem::is_regular_file(f, ec)) files.push_back(f);
      }
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Size and modification time of every file a cell reads (model files, tokenizer, text, dataset): a stored
// cell is reused only while none of them changed.
Json input_stamps(const std::string& model, const RunRequest& q) {
  std::vector<std::filesystem::path> files = model_files(model);
  for (const std::string* f : {&q.tokenizer, &q.text_file, &q.tokens_file, &q.images, &q.labels}) {
    if (!f->empty()) files.emplace_back(*f);
  }
  Json out = Json::array();
  for (const auto& f : files) {
    const FileStamp st = file_stamp(f);
    out.push_back(Json{{"file", std::filesystem::absolute(f).lexically_normal().string()},
                       {"bytes", st.bytes},
                       {"mtime_ns", st.mtime_ns}});
  }
  return out;
}

// What a cell was run with; a stored cell is reused only when this matches exactly.
Json cell_config(const std::string& model, const SiteConfig& c, const RunRequest& q, const Json& inputs) {
  return Json{{"model", std::filesystem::absolute(model).lexically_normal().string()},
              {"inputs", inputs},
              {"coding", coding::name(c.coding.scheme)},
              {"k", c.neuron.k},
              {"neuron", neurons::name(c.neuron.kind)},
              {"granularity", neurons::name(c.neuron.granularity)},
              {"v_th", c.neuron.v_th ? Json(*c.neuron.v_th) : Json(nullptr)},
              {"lif_beta", c.neuron.lif_beta},
              {"lif_steps", c.neuron.lif_steps},
              {"ilif_max_count", c.neuron.ilif_max_count},
              {"fixed_T", c.coding.steps ? Json(*c.coding.steps) : Json(nullptr)},
              {"saturate", c.coding.saturate},
              {"engine", c.engine == Engine::reference ? "reference" : "fast"},
              {"tokenizer", q.tokenizer},
              {"prompt", q.prompt},
              {"text_file", q.text_file},
              {"tokens_file", q.tokens_file},
              {"max_tokens", q.max_tokens},
              {"no_bos", q.no_bos},
              {"sites", q.lower.sites.spec},
              {"images", q.images},
              {"labels", q.labels},
              {"limit", q.limit},
              {"code_input_layer", q.lower.sites.code_input_layer},
              {"dense_sites", q.lower.sites.dense_sites}};
}

std::string first_difference(const Json& stored, const Json& wanted) {
  for (const auto& [key, value] : wanted.items()) {
    if (!stored.contains(key)) return cat(key, " (missing in the stored cell)");
    if (stored[key] != value) return cat(key, ": stored ", stored[key].dump(), ", now ", value.dump());
  }
  return "";
}

// A stored cell.json, checked before any of it is used: an object with a config, a run and extra object and
// at least one layer record.
Json read_cell(const std::filesystem::path& file) {
  Json stored = parse_json_file<OutputError, Json>(file);
  const std::string what = file.string();
  if (!stored.is_object()) throw OutputError(cat(what, ": not a compare cell (expected a JSON object)"));
  for (const char* key : {"config", "run", "layers"}) {
    if (!stored.contains(key))
      throw OutputError(cat(what, ": not a compare cell (missing config, run or layers)"));
  }
  for (const char* key : {"config", "run", "extra"}) {
    if (stored.contains(key) && !stored[key].is_object())
      throw OutputError(cat(what, ": key '", key, "' must be an object, found ", stored[key].type_name()));
  }
  if (!stored["layers"].is_array() || stored["layers"].empty())
    throw OutputError(cat(what,
                          ": key 'layers' must be a non-empty array of layer records (a cell records at "
                          "least one layer)"));
  return stored;
}

// j[k0][k1]... for reading rendered reports; null when a key is missing (never the const operator[] on a
// missing key, which is undefined behaviour).
const Json& at_path(const Json& j, std::initializer_list<std::string_view> keys) {
  static const Json null_json;
  const Json* cur = &j;
  for (const auto k : keys) {
    if (!cur->is_object()) return null_json;
    const auto it = cur->find(k);
    if (it == cur->end()) return null_json;
    cur = &*it;
  }
  return *cur;
}

void remove_partials(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (e.path().extension() == ".partial") std::filesystem::remove(e.path(), ec);
  }
}

// Numeric leaves of the path-specific report objects, flattened: {"fidelity": {"kl": 0.1}} -> fidelity.kl.
void flatten(const Json& j, const std::string& prefix, std::map<std::string, double>& out) {
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      std::string path = prefix;
      if (!path.empty()) path += ".";
      path += key;
      flatten(value, path, out);
    }
  } else if (j.is_number()) {
    out[prefix] = j.get<double>();
  } else if (j.is_boolean()) {
    out[prefix] = j.get<bool>() ? 1.0 : 0.0;
  }
}

struct Cell {
  std::string id;
  std::string model;
  coding::Scheme scheme = coding::Scheme::ternary;
  double k = 3.0;
  Json report;                          // report_json() of the cell for the current profiles
  std::map<std::string, double> extra;  // flattened numeric extras (fidelity, accuracy, ...)
};

const char* const metric_columns[] = {
    "T",    "zero_fraction", "spikes_per_synapse",       "firing_rate",
    "sops", "dense_macs",    "reconstruction_rel_error", "output_rel_error"};

std::string num(double v) {
  std::ostringstream s;
  s.precision(9);
  s << v;
  return s.str();
}

std::string short_num(double v) {
  std::ostringstream s;
  s << std::setprecision(3) << v;
  return s.str();
}

std::string csv_text(const std::vector<Cell>& cells) {
  std::set<std::string> extra_keys;
  for (const Cell& c : cells) {
    for (const auto& [key, _] : c.extra)
      extra_keys.insert(key);
  }
  std::ostringstream out;
  out << "model,coding,k,profile,side,term,unit,low,nominal,high";
  for (const char* m : metric_columns)
    out << "," << m;
  for (const auto& key : extra_keys)
    out << "," << csv_field(key);
  out << "\n";
  for (const Cell& c : cells) {
    const Json& totals = c.report["totals"];
    std::ostringstream tail;
    for (const char* m : metric_columns)
      tail << "," << (at_path(totals, {m}).is_number() ? num(at_path(totals, {m}).get<double>()) : "");
    for (const auto& key : extra_keys) {
      tail << ",";
      if (const auto it = c.extra.find(key); it != c.extra.end()) tail << num(it->second);
    }
    const std::string head = cat(csv_field(c.model), ",", coding::name(c.scheme), ",", k_text(c.k), ",");
    const auto row = [&](const std::string& profile, const std::string& side, const std::string& term,
                         const char* unit, const Json& range) {
      out << head << csv_field(profile) << "," << side << "," << csv_field(term) << "," << unit;
      for (const char* b : {"low", "nominal", "high"}) {
        out << ",";
        if (range[b].is_number()) out << num(range[b].get<double>());
      }
      out << tail.str() << "\n";
    };
    for (const auto& [profile, sides] : totals["energy_pj"].items()) {
      for (const auto& [side, terms] : sides.items()) {
        for (const auto& [term, range] : terms.items()) {
          if (term == "uncharged") continue;
          row(profile, side, term == "latency_ns" ? "latency" : term, term == "latency_ns" ? "ns" : "pJ",
              range);
        }
      }
    }
    for (const auto& pair : c.report["break_even"]["pairs"]) {
      row(pair["spiking"].get<std::string>(), "break_even", "s_star_vs_" + pair["dense"].get<std::string>(),
          "spikes/synapse", at_path(pair, {"total", "s_star"}));
    }
  }
  return out.str();
}

Json cells_json(const std::vector<Cell>& cells, const CompareRequest& r) {
  Json axes{{"models", r.models}, {"codings", Json::array()}, {"k", r.ks}, {"profiles", Json::array()}};
  for (const auto s : r.codings)
    axes["codings"].push_back(coding::name(s));
  for (const auto& p : r.profiles)
    axes["profiles"].push_back(p.name);
  Json list = Json::array();
  for (const Cell& c : cells) {
    const Json& totals = c.report["totals"];
    Json metrics = Json::object();
    for (const char* m : metric_columns)
      metrics[m] = totals[m];
    list.push_back(Json{{"id", c.id},
                        {"model", c.model},
                        {"coding", coding::name(c.scheme)},
                        {"k", c.k},
                        {"dir", "cells/" + c.id},
                        {"metrics", metrics},
                        {"extra", c.extra},
                        {"energy_pj", totals["energy_pj"]},
                        {"mapping", totals.contains("mapping") ? totals["mapping"] : Json::object()},
                        {"break_even", c.report["break_even"]["pairs"]}});
  }
  // Drop the per-layer break-even from the summary (it stays in each cell's report.json).
  for (auto& cell : list) {
    for (auto& pair : cell["break_even"])
      pair.erase("layers");
  }
  return Json{{"spikesim_compare", 1},
              {"axes", axes},
              {"definitions",
               {{"energy_pj",
                 "per profile and side (spiking / dense): terms and total, low / nominal / high, pJ, "
                 "summed over the cell's layers"},
                {"break_even",
                 "s_star: spikes per synapse at which the spiking estimate equals the dense one "
                 "(see a cell's report.json break_even.definition)"}}},
              {"cells", list}};
}

std::string range_text(const Json& range, double scale) {
  if (!at_path(range, {"nominal"}).is_number()) return "n/a";
  const double n = range["nominal"].get<double>() * scale;
  const double lo = at_path(range, {"low"}).is_number() ? range["low"].get<double>() * scale : n;
  const double hi = at_path(range, {"high"}).is_number() ? range["high"].get<double>() * scale : n;
  if (lo == n && hi == n) return short_num(n);
  return cat(short_num(n), " [", short_num(lo), "–", short_num(hi), "]");
}

std::string markdown_text(const std::vector<Cell>& cells, const CompareRequest& r) {
  std::ostringstream md;
  md << "# spikesim compare\n\n";
  md << "Models: ";
  for (std::size_t i = 0; i < r.models.size(); ++i)
    md << (i ? ", " : "") << "`" << r.models[i] << "`";
  md << ". Cells done: " << cells.size() << " of " << r.models.size() * r.codings.size() * r.ks.size()
     << ".\n\n## Activity and fidelity\n\n";
  md << "| model | coding | k | T max | zero fraction | spikes / synapse | firing rate | reconstruction "
        "error | "
        "output error |\n|---|---|---|---|---|---|---|---|---|\n";
  for (const Cell& c : cells) {
    const Json& t = c.report["totals"];
    md << "| " << std::filesystem::path(c.model).stem().string() << " | " << coding::name(c.scheme) << " | "
       << k_text(c.k) << " | " << t["T"] << " | " << short_num(t["zero_fraction"].get<double>()) << " | "
       << short_num(t["spikes_per_synapse"].get<double>()) << " | "
       << short_num(t["firing_rate"].get<double>()) << " | "
       << short_num(t["reconstruction_rel_error"].get<double>()) << " | "
       << short_num(t["output_rel_error"].get<double>()) << " |\n";
  }
  md << "\n## Energy per run (µJ, nominal [low–high])\n\n| model | coding | k |";
  std::vector<std::pair<std::string, std::string>> columns;
  for (const auto& p : r.profiles) {
    if (p.spiking) columns.emplace_back(p.name, "spiking");
    if (p.dense) columns.emplace_back(p.name, "dense");
  }
  for (const auto& [p, side] : columns)
    md << " " << p << " " << side << " |";
  md << "\n|---|---|---|";
  for (std::size_t i = 0; i < columns.size(); ++i)
    md << "---|";
  md << "\n";
  for (const Cell& c : cells) {
    md << "| " << std::filesystem::path(c.model).stem().string() << " | " << coding::name(c.scheme) << " | "
       << k_text(c.k) << " |";
    for (const auto& [p, side] : columns)
      md << " " << range_text(at_path(c.report, {"totals", "energy_pj", p, side, "total"}), 1e-6) << " |";
    md << "\n";
  }
  const auto pairs = break_even_pairs(r.profiles);
  md << "\n## Break-even spikes per synapse s* (nominal [low–high]); spiking wins below s*\n\n"
        "| model | coding | k | measured s |";
  for (const auto& [s, d] : pairs)
    md << " " << s << " vs " << d << " |";
  md << "\n|---|---|---|---|";
  for (std::size_t i = 0; i < pairs.size(); ++i)
    md << "---|";
  md << "\n";
  for (const Cell& c : cells) {
    md << "| " << std::filesystem::path(c.model).stem().string() << " | " << coding::name(c.scheme) << " | "
       << k_text(c.k) << " | " << short_num(c.report["totals"]["spikes_per_synapse"].get<double>()) << " |";
    for (const auto& pair : at_path(c.report, {"break_even", "pairs"}))
      md << " " << range_text(at_path(pair, {"total", "s_star"}), 1.0) << " |";
    md << "\n";
  }
  return md.str();
}

void write_summary(const std::vector<Cell>& cells, const CompareRequest& r) {
  write_files_atomic(r.out, {{"compare.csv", csv_text(cells)},
                             {"compare.json", cells_json(cells, r).dump(2) + "\n"},
                             {"compare.md", markdown_text(cells, r)}});
}

}  // namespace

std::string cell_id(const std::string& model, coding::Scheme scheme, double k) {
  return file_safe(
      cat(std::filesystem::path(model).stem().string(), "__", coding::name(scheme), "__k", k_text(k)));
}

namespace {

// One cell of the sweep: what it runs and the options a stored cell must have been run with.
struct CellSpec {
  std::string id;
  std::string model;
  coding::Scheme scheme = coding::Scheme::ternary;
  double k = 3.0;
  RunRequest q;
  Json config;
  std::filesystem::path dir;
};

// A stored cell's counters, after checking that it was run with the options of `spec`.
ReportInput stored_input(const CellSpec& spec) {
  const auto done_file = spec.dir / "cell.json";
  const Json stored = read_cell(done_file);
  const std::string what = done_file.string();
  const std::string diff = first_difference(stored["config"], spec.config);
  if (!diff.empty()) {
    throw OutputError(cat(what, ": this cell was run with other options (", diff,
                          "); use --force to run it again, or another --out"));
  }
  ReportInput input;
  input.run = stored["run"];
  input.layers = records_from_json(stored["layers"], what);
  input.extra = stored.value("extra", Json::object());
  return input;
}

// The cell's report for the current profiles.
RenderedReport render_cell(const CellSpec& spec, const CompareRequest& r, ReportInput& input, Cell& cell) {
  cell.id = spec.id;
  cell.model = spec.model;
  cell.scheme = spec.scheme;
  cell.k = spec.k;
  input.profiles = r.profiles;
  input.run["compare_cell"] = spec.id;
  RenderedReport rendered = render_report(input);
  cell.report = rendered.json;
  flatten(input.extra, "", cell.extra);
  return rendered;
}

// Runs a cell, or reuses it when stored (and not --force), and writes its files; cell.json, the done marker,
// is renamed into place last.
Cell process_cell(const CellSpec& spec, const CompareRequest& r,
                  const std::function<ReportInput(const RunRequest&)>& runner, bool& ran) {
  ReportInput input;
  ran = r.force || !std::filesystem::exists(spec.dir / "cell.json");
  if (!ran) {
    input = stored_input(spec);
  } else {
    RunRequest q = spec.q;
    q.site.raster = std::make_shared<RasterCapture>();  // token 0 of the first coded site
    input = runner(q);
  }
  Cell cell;
  const RenderedReport rendered = render_cell(spec, r, input, cell);
  const Json done{{"spikesim_compare_cell", 1},
                  {"config", spec.config},
                  {"run", input.run},
                  {"extra", input.extra},
                  {"layers", records_json(input.layers)}};
  std::vector<std::pair<std::string, std::string>> files = {{"report.json", cell.report.dump(2) + "\n"},
                                                            {"layers.csv", rendered.csv}};
  if (input.raster) files.emplace_back("raster.json", raster_json(*input.raster).dump() + "\n");
  files.emplace_back("cell.json", done.dump() + "\n");
  write_files_atomic(spec.dir, files);
  return cell;
}

// A cell another rank processed, read back from its cell.json (the same numbers: counters round-trip
// exactly).
Cell load_cell(const CellSpec& spec, const CompareRequest& r) {
  ReportInput input = stored_input(spec);
  Cell cell;
  (void)render_cell(spec, r, input, cell);
  return cell;
}

}  // namespace

CompareSummary run_compare(const CompareRequest& r) {
  const auto runner = r.runner ? r.runner : [](const RunRequest& q) { return run_model(q); };
  const bool root = dist::rank() == 0;
  const bool spread = dist::size() > 1;
  // Every rank checks the request and lists the cells; rank 0 clears what a killed run left half-written.
  // A failure on any rank stops every rank here, before any cell runs.
  std::vector<CellSpec> specs;
  dist::all_or_none([&] {
    if (r.models.empty() || r.codings.empty() || r.ks.empty())
      throw UsageError("compare: need at least one model, one coding and one k");
    std::set<std::string> stems;
    for (const auto& m : r.models) {
      if (!stems.insert(std::filesystem::path(m).stem().string()).second)
        throw UsageError(cat("compare: two models named '", std::filesystem::path(m).stem().string(),
                             "' (cells are named by file stem; rename one)"));
      (void)detect_model_kind(m);  // fail on a bad model before any work
    }
    std::map<std::string, Json> inputs;  // per model: the stamps of every file its cells read (once)
    std::set<std::string> ids;           // a cell listed twice would be written twice (by two ranks at once)
    for (const auto& model : r.models) {
      for (const auto scheme : r.codings) {
        for (const double k : r.ks) {
          CellSpec spec;
          spec.id = cell_id(model, scheme, k);
          if (!ids.insert(spec.id).second)
            throw UsageError(cat("compare: cell ", spec.id, " is listed twice (a coding or k given twice)"));
          spec.model = model;
          spec.scheme = scheme;
          spec.k = k;
          spec.q = r.base;
          spec.q.model = model;
          spec.q.site = r.site;
          spec.q.site.coding.scheme = scheme;
          spec.q.site.neuron.k = k;
          spec.q.site.raster = nullptr;  // set for cells that run
          neurons::validate(spec.q.site.neuron);
          if (!inputs.contains(model)) inputs[model] = input_stamps(model, spec.q);
          spec.config = cell_config(model, spec.q.site, spec.q, inputs[model]);
          spec.dir = r.out / "cells" / spec.id;
          specs.push_back(std::move(spec));
        }
      }
    }
    if (root) remove_partials(r.out);
  });

  CompareSummary summary;
  summary.cells = specs.size();
  Progress* progress = root ? r.progress : nullptr;
  if (progress != nullptr) progress->start(summary.cells);
  // Cells go to whichever rank asks next; progress on rank 0 counts every rank's cells.
  dist::TaskQueue queue(specs.size(), [&](std::uint64_t task, int by) {
    if (progress != nullptr)
      progress->advance(1, spread ? cat(specs[task].id, " (rank ", by, ")") : specs[task].id);
  });
  std::vector<std::optional<Cell>> mine(specs.size());  // the cells this rank processed
  std::vector<Cell> so_far;                             // one rank: every cell done, for the running summary
  std::exception_ptr error;
  std::string error_cell;
  std::uint64_t ran = 0;
  std::uint64_t reused = 0;
  while (const auto task = queue.next()) {
    const CellSpec& spec = specs[*task];
    try {
      bool cell_ran = false;
      Cell cell = process_cell(spec, r, runner, cell_ran);
      ++(cell_ran ? ran : reused);
      if (!spread) {  // one process: compare.* after every cell, so an interrupted sweep shows what is done
        so_far.push_back(cell);
        write_summary(so_far, r);
      }
      mine[*task] = std::move(cell);
    } catch (...) {
      error = std::current_exception();
      error_cell = spec.id;
      queue.fail();
      break;
    }
  }
  const int failed = queue.finish();
  if (failed >= 0) {
    if (!error) throw dist::PeerFailed(failed);
    if (!spread) std::rethrow_exception(error);
    dist::rethrow_in(error, cat("cell ", error_cell));
  }
  summary.ran = dist::sum(ran);
  summary.reused = dist::sum(reused);
  const std::uint64_t processed = ran + reused;
  summary.cells_per_rank = dist::gather(std::span(&processed, 1));
  if (!spread) return summary;

  // Several ranks: rank 0 merges every cell, in sweep order, into compare.* (the serial part of the sweep).
  std::exception_ptr merge_error;
  if (root) {
    try {
      const auto t0 = std::chrono::steady_clock::now();
      std::vector<Cell> cells;
      cells.reserve(specs.size());
      for (std::size_t i = 0; i < specs.size(); ++i)
        cells.push_back(mine[i] ? std::move(*mine[i]) : load_cell(specs[i], r));
      write_summary(cells, r);
      summary.merge_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } catch (...) {
      merge_error = std::current_exception();
    }
  }
  dist::barrier();  // the other ranks wait (without spinning) until the summary is written
  if (merge_error) std::rethrow_exception(merge_error);
  return summary;
}

}  // namespace spikesim::sim
