#include "models/trace.hpp"

#include <set>

#include "base/text.hpp"
#include "models/check.hpp"
#include "models/hdf5_file.hpp"

namespace spikesim::models {

Network load_trace(const std::filesystem::path& file) {
  const H5Reader h5(file);
  const std::string& f = h5.file();
  if (!h5.has("/layers")) throw ModelError(cat(f, ": group '/layers' missing (not a spikesim trace?)"));
  const std::vector<std::string> layers = h5.children("/layers");
  if (layers.empty()) throw ModelError(cat(f, ": group '/layers' has no layers"));

  Network net;
  net.source = f;
  std::set<std::int64_t> seen_index;
  for (const std::string& layer : layers) {
    const std::string g = "/layers/" + layer;
    const std::string what = "layer '" + layer + "'";
    if (!h5.has_attribute(g, "index"))
      throw ModelError(cat(f, ": ", what, ": integer attribute 'index' missing"));
    const std::int64_t index = h5.read_int_attribute(g, "index");
    if (!seen_index.insert(index).second)
      throw ModelError(cat(f, ": ", what, ": index ", index, " used twice"));
    for (const char* required : {"input", "weight"}) {
      if (!h5.has(g + "/" + required))
        throw ModelError(cat(f, ": ", what, ": dataset '", required, "' missing"));
    }
    const auto in_shape = h5.shape(g + "/input");
    const auto w_shape = h5.shape(g + "/weight");
    check_shape(in_shape, {-1, -1}, f, what + " input", "tokens, in_features");
    check_shape(w_shape, {-1, in_shape[1]}, f, what + " weight", "out_features, in_features of the input");
    if (in_shape[0] == 0 || in_shape[1] == 0 || w_shape[0] == 0) {
      throw ModelError(cat(f, ": ", what, ": empty tensor (input ", shape_str(in_shape), ", weight ",
                           shape_str(w_shape), ")"));
    }
    std::vector<float> input = h5.read<float>(g + "/input");
    std::vector<float> weight = h5.read<float>(g + "/weight");
    check_finite(input, in_shape, f, what + " input");
    check_finite(weight, w_shape, f, what + " weight");

    Op in_op;
    in_op.kind = OpKind::input;
    in_op.name = layer + "/input";
    in_op.tensors = {{"value", g + "/input"}};
    in_op.order = static_cast<int>(index);
    Op lin;
    lin.kind = OpKind::linear;
    lin.name = layer;
    lin.tensors = {{"weight", g + "/weight"}};
    lin.ints = {{"index", index}, {"in", in_shape[1]}, {"out", w_shape[0]}};
    lin.order = static_cast<int>(index);
    lin.coded = true;
    if (h5.has(g + "/bias")) {
      const auto b_shape = h5.shape(g + "/bias");
      check_shape(b_shape, {w_shape[0]}, f, what + " bias", "out_features of the weight");
      std::vector<float> bias = h5.read<float>(g + "/bias");
      check_finite(bias, b_shape, f, what + " bias");
      net.add_tensor(g + "/bias", b_shape, std::move(bias));
      lin.tensors["bias"] = g + "/bias";
    }
    net.add_tensor(g + "/input", in_shape, std::move(input));
    net.add_tensor(g + "/weight", w_shape, std::move(weight));
    const Vertex a = net.add_op(in_op);
    const Vertex b = net.add_op(lin);
    net.connect(a, b);
  }
  return net;
}

}  // namespace spikesim::models
