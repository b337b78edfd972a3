// spikesim._spikesim: the pybind11 extension behind the Python package (python/spikesim/__init__.py). Thin
// over the C++ core: the coder (sim::code_site, the same pipeline as every coded site of `spikesim run`),
// hardware profiles and the energy model, the command line run in-process, and the probe's sites
// (python/probe_site.hpp). C-contiguous float32 arrays are read in place; results are handed to NumPy
// without copies (the vectors move into the arrays' owners).

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "base/counters.hpp"
#include "base/error.hpp"
#include "base/text.hpp"
#include "coding/coded_tensor.hpp"
#include "coding/event_stream.hpp"
#include "coding/scheme.hpp"
#include "energy/break_even.hpp"
#include "energy/estimate.hpp"
#include "energy/network_estimate.hpp"
#include "energy/profile.hpp"
#include "python/probe_site.hpp"
#include "sim/cli/cli.hpp"
#include "sim/plan/plan.hpp"
#include "sim/plan/select.hpp"
#include "sim/report/report.hpp"
#include "sim/run/result.hpp"
#include "sim/site/site.hpp"

namespace py = pybind11;

namespace spikesim::python {

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

// A NumPy array that owns `v` (moved, not copied) with the given shape.
template <class T>
py::array_t<T> to_numpy(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
  auto* owner =
      new std::vector<T>(std::move(v));  // NOLINT(cppcoreguidelines-owning-memory): the capsule frees it
  py::capsule free_when_done(owner, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(shape, owner->data(), free_when_done);
}

// nlohmann JSON <-> Python objects through the json module (one format, no second converter to drift).
py::object to_python(const sim::Json& j) {
  return py::module_::import("json").attr("loads")(j.dump());
}
sim::Json from_python(const py::handle& o) {
  return sim::Json::parse(py::module_::import("json").attr("dumps")(o).cast<std::string>());
}

// SiteCounters <-> dict, field by field through for_each_counter_field (the one list of fields).
py::dict counters_dict(const SiteCounters& c) {
  py::dict d;
  for_each_counter_field([&](const char* name, auto member, Merge) {
    const auto& v = c.*member;
    using T = std::remove_cvref_t<decltype(v)>;
    if constexpr (std::is_arithmetic_v<T>) {
      d[name] = v;
    } else {
      py::list l;
      for (const auto x : v)
        l.append(x);
      d[name] = l;
    }
  });
  return d;
}

SiteCounters counters_of(const py::dict& d) {
  SiteCounters c;
  std::vector<std::string> known;
  for_each_counter_field([&](const char* name, auto member, Merge) {
    known.emplace_back(name);
    if (!d.contains(name)) return;
    auto& v = c.*member;
    using T = std::remove_cvref_t<decltype(v)>;
    try {
      if constexpr (std::is_arithmetic_v<T>) {
        v = d[name].cast<T>();
      } else {
        const auto l = d[name].cast<std::vector<std::uint64_t>>();
        if (l.size() != v.size())
          throw UsageError(cat("counters: '", name, "' has ", l.size(), " entries, expected ", v.size()));
        for (std::size_t i = 0; i < v.size(); ++i)
          v[i] = l[i];
      }
    } catch (const py::cast_error&) {
      throw UsageError(
          cat("counters: '", name, "' is not a ", std::is_floating_point_v<T> ? "number" : "count"));
    }
  });
  for (const auto& [key, value] : d) {
    const auto k = py::str(key).cast<std::string>();
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      std::string fields;
      for (const auto& f : known)
        fields += (fields.empty() ? "" : ", ") + f;
      throw UsageError(cat("counters: unknown field '", k, "' (fields: ", fields, ")"));
    }
  }
  return c;
}

// The coding options of code() and the probe, validated by the same function as the CLI's options.
sim::SiteConfig site_config_of(const std::string& coding, double k, const std::string& granularity,
                               std::optional<std::int32_t> steps, const std::string& neuron, bool saturate,
                               std::optional<double> v_th, bool measure_output_error) {
  if (steps && *steps <= 0) throw UsageError(cat("T = ", *steps, ": the number of steps must be positive"));
  if (v_th && !(*v_th > 0.0)) throw UsageError(cat("v_th = ", *v_th, ": a fixed threshold must be positive"));
  sim::CodingArgs a;
  a.coding = coding;
  a.k = k;
  a.granularity = granularity;
  a.steps = steps.value_or(0);
  a.neuron = neuron;
  a.saturate = saturate;
  a.v_th = v_th.value_or(0.0);
  if (!std::isfinite(k) || k <= 0.0) throw UsageError(cat("k = ", k, ": must be a positive finite number"));
  sim::SiteConfig config = sim::site_config(a);
  config.measure_output_error = measure_output_error;
  return config;
}

// A 2-D float32 view of x, or UsageError naming what is wrong.
void check_matrix(const FloatArray& x, const char* what) {
  if (x.ndim() != 2) {
    std::string shape;
    for (py::ssize_t i = 0; i < x.ndim(); ++i)
      shape += cat(i > 0 ? ", " : "", x.shape(i));
    throw UsageError(
        cat(what, ": expected a 2-D array [rows][features], got ", x.ndim(), "-D shape (", shape, ")"));
  }
}

// What code() returns: the coded tensor and its counters.
struct CodeResult {
  coding::CodedTensor coded;
  SiteCounters counters;
};

}  // namespace

}  // namespace spikesim::python

PYBIND11_MODULE(_spikesim, m) {
  using namespace spikesim;          // NOLINT(google-build-using-namespace)
  using namespace spikesim::python;  // NOLINT(google-build-using-namespace)
  m.doc() = "spikesim C++ core (use the spikesim package, not this module)";

  static py::exception<UserError> user_error(m, "Error", PyExc_ValueError);
  static py::exception<InternalError> internal_error(m, "InternalError", PyExc_RuntimeError);
  // pybind11 takes a void(*)(std::exception_ptr): the parameter must be by value.
  py::register_exception_translator([](std::exception_ptr p) {  // NOLINT(performance-unnecessary-value-param)
    try {
      if (p) std::rethrow_exception(p);
    } catch (const InternalError& e) {
      internal_error(cat("internal error (a bug: please report it): ", e.what()).c_str());
    } catch (const UserError& e) {
      user_error(e.what());
    }
  });

  m.def("counter_fields", [] {
    std::vector<std::string> names;
    for_each_counter_field([&](const char* name, auto, Merge) { names.emplace_back(name); });
    return names;
  });
  m.def("data_dir", [] { return energy::data_dir().string(); });

  py::class_<CodeResult>(m, "CodeResult")
      .def_property_readonly("counts",
                             [](const CodeResult& r) {
                               auto counts = coding::counts_of(r.coded);
                               return to_numpy(std::move(counts.count), {r.coded.rows, r.coded.cols});
                             })
      .def_property_readonly("values",
                             [](const CodeResult& r) {
                               auto v = r.coded.value;
                               return to_numpy(std::move(v), {r.coded.rows, r.coded.cols});
                             })
      .def_property_readonly("v_th",
                             [](const CodeResult& r) {
                               auto s = r.coded.scale;
                               return to_numpy(std::move(s), {r.coded.rows});
                             })
      .def_property_readonly("zero_point",
                             [](const CodeResult& r) {
                               auto z = r.coded.zero_point;
                               return to_numpy(std::move(z), {r.coded.rows});
                             })
      .def_property_readonly("T", [](const CodeResult& r) { return r.coded.steps; })
      .def_property_readonly("coding",
                             [](const CodeResult& r) { return std::string(coding::name(r.coded.scheme)); })
      .def_property_readonly("reconstruction",
                             [](const CodeResult& r) {
                               const auto counts = coding::counts_of(r.coded);
                               std::vector<float> x_hat(counts.count.size());
                               for (std::int64_t i = 0; i < counts.rows; ++i)
                                 for (std::int64_t j = 0; j < counts.cols; ++j)
                                   x_hat[static_cast<std::size_t>(i * counts.cols + j)] =
                                       counts.reconstruct(i, j);
                               return to_numpy(std::move(x_hat), {counts.rows, counts.cols});
                             })
      .def(
          "spike_train",
          [](const CodeResult& r) {
            // [T][rows][cols] int8: the spike (+1 / -1 / 0) of every presynaptic neuron at every step.
            const coding::EventStream events = coding::encode(r.coded);
            const auto plane = static_cast<std::size_t>(r.coded.rows * r.coded.cols);
            std::vector<std::int8_t> train(static_cast<std::size_t>(events.steps) * plane, 0);
            for (std::int32_t t = 0; t < events.steps; ++t) {
              const auto ts = static_cast<std::size_t>(t);
              for (std::uint64_t e = events.step_offset[ts]; e < events.step_offset[ts + 1]; ++e)
                train[ts * plane + events.neuron[e]] = events.sign[e];
            }
            return to_numpy(std::move(train), {events.steps, r.coded.rows, r.coded.cols});
          },
          "Spikes [T][rows][cols] (+1 / -1 / 0), from the event stream the coder emits")
      .def_property_readonly("counters", [](const CodeResult& r) { return counters_dict(r.counters); })
      .def_property_readonly("metrics",
                             [](const CodeResult& r) { return to_python(sim::metrics_json(r.counters)); });

  m.def(
      "code",
      [](const FloatArray& x, const std::string& coding, double k, const std::string& granularity,
         std::optional<std::int32_t> steps, const std::string& neuron, bool saturate,
         std::optional<double> v_th) {
        check_matrix(x, "spikesim.code: x");
        const sim::SiteConfig config =
            site_config_of(coding, k, granularity, steps, neuron, saturate, v_th, false);
        const std::int64_t rows = x.shape(0);
        const std::int64_t cols = x.shape(1);
        const std::span<const float> data(x.data(), static_cast<std::size_t>(x.size()));  // no copy
        auto result = std::make_unique<CodeResult>();
        {
          py::gil_scoped_release release;
          // No layer behind the coder: fan-outs of zero (SOPs 0); the coding counters are the site's.
          const std::vector<std::int64_t> fanout(static_cast<std::size_t>(cols), 0);
          sim::CodedSite site =
              sim::code_site(config, data, rows, cols, fanout, fanout, 0, "spikesim.code: x");
          result->coded = std::move(site.coded);
          result->counters = site.counters;
        }
        return result;
      },
      py::arg("x"), py::arg("coding") = "bitwise", py::arg("k") = 3.0, py::arg("granularity") = "row",
      py::arg("T") = py::none(), py::arg("neuron") = "adaptive", py::arg("saturate") = false,
      py::arg("v_th") = py::none());

  py::class_<energy::HardwareProfile>(m, "Profile")
      .def_static(
          "load",
          [](const std::string& name_or_path) {
            return energy::find_profile(name_or_path, energy::data_dir());
          },
          py::arg("name_or_path"))
      .def_static("defaults", [] { return energy::default_profile_names(); })
      .def_readonly("name", &energy::HardwareProfile::name)
      .def_readonly("description", &energy::HardwareProfile::description)
      .def_readonly("file", &energy::HardwareProfile::file)
      .def_readonly("all_in", &energy::HardwareProfile::all_in)
      .def_property_readonly("has_spiking",
                             [](const energy::HardwareProfile& p) { return p.spiking.has_value(); })
      .def_property_readonly("has_dense",
                             [](const energy::HardwareProfile& p) {
                               return p.dense.has_value() || p.dense_measured.has_value();
                             })
      .def("to_dict", [](const energy::HardwareProfile& p) { return to_python(sim::profile_json(p)); })
      .def("__repr__", [](const energy::HardwareProfile& p) {
        return cat("<spikesim.Profile '", p.name, "' from ", p.file, ">");
      });

  m.def(
      "estimate",
      [](const py::dict& counters, const energy::HardwareProfile& profile) {
        const SiteCounters c = counters_of(counters);
        const sim::Json j = sim::energy_json(c, {profile});
        return to_python(j.at(profile.name));
      },
      py::arg("counters"), py::arg("profile"));

  m.def(
      "break_even_counters",
      [](const py::dict& counters, const energy::HardwareProfile& spiking,
         const energy::HardwareProfile& dense) {
        if (!spiking.spiking)
          throw UsageError(cat("break_even: profile '", spiking.name, "' has no spiking side"));
        if (!dense.dense && !dense.dense_measured)
          throw UsageError(cat("break_even: profile '", dense.name, "' has no dense side"));
        const SiteCounters c = counters_of(counters);
        const energy::Estimate e_spiking = energy::estimate(c, spiking);
        const energy::Estimate e_fixed = energy::estimate(energy::without_spikes(c), spiking);
        const energy::Estimate e_dense = energy::estimate(c, dense);
        const double s =
            c.dense_macs > 0 ? static_cast<double>(c.sops) / static_cast<double>(c.dense_macs) : 0.0;
        return energy::break_even(s, e_spiking.spiking->total_pj, e_fixed.spiking->total_pj,
                                  e_dense.dense->total_pj);
      },
      py::arg("counters"), py::arg("spiking"), py::arg("dense"));
  m.def(
      "break_even",
      [](double s_measured, const energy::Range& spiking, const energy::Range& fixed,
         const energy::Range& dense) { return energy::break_even(s_measured, spiking, fixed, dense); },
      py::arg("s_measured"), py::arg("spiking_pj"), py::arg("spiking_fixed_pj"), py::arg("dense_pj"));
  py::class_<energy::Range>(m, "Range")
      .def(py::init([](double low, double nominal, double high) {
             return energy::Range{low, nominal, high};
           }),
           py::arg("low"), py::arg("nominal"), py::arg("high"))
      .def_readonly("low", &energy::Range::low)
      .def_readonly("nominal", &energy::Range::nominal)
      .def_readonly("high", &energy::Range::high);
  py::class_<energy::BreakEven>(m, "BreakEven")
      .def_readonly("s_measured", &energy::BreakEven::s_measured)
      .def_readonly("s_low", &energy::BreakEven::s_low)
      .def_readonly("s_nominal", &energy::BreakEven::s_nominal)
      .def_readonly("s_high", &energy::BreakEven::s_high)
      .def_readonly("spiking_pj", &energy::BreakEven::spiking_pj)
      .def_readonly("spiking_fixed_pj", &energy::BreakEven::spiking_fixed_pj)
      .def_readonly("dense_pj", &energy::BreakEven::dense_pj)
      .def_property_readonly("spiking_cheaper", &energy::BreakEven::spiking_cheaper);

  m.def(
      "cli",
      [](const std::vector<std::string>& args) {
        py::gil_scoped_release release;
        sim::cli_call(args);
      },
      py::arg("args"),
      "Runs `spikesim ARGS...` in-process; errors raise spikesim.Error with the CLI's message");

  py::class_<sim::SiteConfig>(m, "SiteConfig")
      .def(py::init(&site_config_of), py::arg("coding"), py::arg("k"), py::arg("granularity"), py::arg("T"),
           py::arg("neuron"), py::arg("saturate"), py::arg("v_th"), py::arg("measure_output_error"))
      .def_property_readonly("measure_output_error",
                             [](const sim::SiteConfig& c) { return c.measure_output_error; })
      .def("run_json", [](const sim::SiteConfig& c) {
        sim::Json j = sim::Json::object();
        sim::add_coding_json(j, c);
        return to_python(j);
      });

  py::class_<ProbeSite>(m, "ProbeSite")
      .def_static("linear", &ProbeSite::linear, py::arg("name"), py::arg("index"), py::arg("coded"),
                  py::arg("in"), py::arg("out"), py::arg("has_bias"), py::arg("fanout_nonzero"))
      .def_static(
          "conv",
          [](std::string name, std::int64_t index, bool coded, const std::vector<std::int64_t>& g,
             const FloatArray& weight, std::optional<FloatArray> bias) {
            // g: in_channels, in_h, in_w, out_channels, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
            // dilation_h, dilation_w, groups
            if (g.size() != 13) throw std::invalid_argument("ProbeSite.conv: geometry needs 13 numbers");
            sim::ConvGeometry geometry;
            geometry.in_channels = g[0];
            geometry.in_h = g[1];
            geometry.in_w = g[2];
            geometry.out_channels = g[3];
            geometry.kernel_h = g[4];
            geometry.kernel_w = g[5];
            geometry.stride_h = g[6];
            geometry.stride_w = g[7];
            geometry.pad_top = geometry.pad_bottom = g[8];
            geometry.pad_left = geometry.pad_right = g[9];
            geometry.dilation_h = g[10];
            geometry.dilation_w = g[11];
            geometry.groups = g[12];
            geometry.finish(cat("probe site '", name, "'"));
            const std::span<const float> w(weight.data(), static_cast<std::size_t>(weight.size()));
            const std::span<const float> b =
                bias ? std::span<const float>(bias->data(), static_cast<std::size_t>(bias->size()))
                     : std::span<const float>{};
            if (static_cast<std::int64_t>(w.size()) != geometry.weight_count())
              throw std::invalid_argument(cat("probe site '", name, "': ", w.size(),
                                              " weights, geometry needs ", geometry.weight_count()));
            return ProbeSite::conv(std::move(name), index, coded, geometry, w, b);
          },
          py::arg("name"), py::arg("index"), py::arg("coded"), py::arg("geometry"), py::arg("weight"),
          py::arg("bias") = py::none())
      .def(
          "code",
          [](ProbeSite& s, const sim::SiteConfig& config, const FloatArray& x, const std::string& what) {
            check_matrix(x, what.c_str());
            if (x.shape(1) != s.in())
              throw UsageError(
                  cat(what, ": ", x.shape(1), " features per row, the site has ", s.in(), " inputs"));
            py::array_t<float> x_hat({x.shape(0), x.shape(1)});
            const std::span<const float> in(x.data(), static_cast<std::size_t>(x.size()));
            const std::span<float> out(x_hat.mutable_data(), static_cast<std::size_t>(x_hat.size()));
            {
              py::gil_scoped_release release;
              s.code(config, in, x.shape(0), out, what);
            }
            return x_hat;
          },
          py::arg("config"), py::arg("x"), py::arg("what"))
      .def("add_dense", &ProbeSite::add_dense, py::arg("rows"))
      .def("add_output_sums", &ProbeSite::add_output_sums, py::arg("output_sq_norm"),
           py::arg("output_sq_err"))
      .def(
          "add_output_error",
          [](ProbeSite& s, const FloatArray& y_spiking, const FloatArray& y_dense) {
            s.add_output_error({y_spiking.data(), static_cast<std::size_t>(y_spiking.size())},
                               {y_dense.data(), static_cast<std::size_t>(y_dense.size())});
          },
          py::arg("y_spiking"), py::arg("y_dense"))
      .def_property_readonly("name", [](const ProbeSite& s) { return s.record().name; })
      .def_property_readonly("coded", [](const ProbeSite& s) { return s.record().coded; })
      .def_property_readonly("in_features", &ProbeSite::in)
      .def_property_readonly("counters",
                             [](const ProbeSite& s) { return counters_dict(s.record().counters); })
      .def_property_readonly(
          "metrics", [](const ProbeSite& s) { return to_python(sim::metrics_json(s.record().counters)); });

  m.def(
      "select_sites",
      [](const std::string& spec, const std::vector<std::pair<std::string, std::vector<std::string>>>& sites,
         bool decoder, const std::string& source) {
        // The CLI's selection (sim/plan/select.hpp) over a plan of the probe's sites: a decoder's defaults
        // (spikingbrain) when the model uses the decoder naming, else a network's (every site).
        sim::Plan plan;
        plan.source = source;
        plan.kind = decoder ? sim::PlanKind::tokens : sim::PlanKind::network;
        for (const auto& [name, members] : sites) {
          sim::Step step;
          step.name = name;
          step.site = name;
          step.members = members;
          step.params = sim::LinearStep{};
          plan.steps.push_back(std::move(step));
        }
        sim::select_sites(plan, sim::SiteSelection{spec, false, {}});
        std::vector<bool> coded;
        coded.reserve(plan.steps.size());
        for (const sim::Step& s : plan.steps)
          coded.push_back(s.coded);
        return coded;
      },
      py::arg("spec"), py::arg("sites"), py::arg("decoder"), py::arg("source"));

  m.def(
      "write_report",
      [](const std::string& dir, const std::vector<const ProbeSite*>& sites, const py::dict& run,
         const std::vector<std::string>& hardware) {
        sim::ReportInput input;
        input.run = from_python(run);
        for (const ProbeSite* s : sites)
          input.layers.push_back(s->record());
        input.profiles = sim::load_profiles(hardware);
        sim::write_report(dir, input);
      },
      py::arg("dir"), py::arg("sites"), py::arg("run"), py::arg("hardware"));
}
