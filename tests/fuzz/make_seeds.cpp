// Writes the seed corpora of the fuzz harnesses (tests/fuzz/*_fuzz.cpp) from the project's own files and
// writers: data/models/kjv-llama (config.json, tokenizer.bin, the safetensors header), data/models/
// fashion_cnn.onnx, data/traces/synthetic_llm_block.h5 (its layout, shrunk), data/hardware/*.json, the test
// fixtures' tiny llama2.c and Hugging Face checkpoints, and a compare cell of a real sweep. No third-party
// file (../shared/data) is used. Usage: fuzz_seeds CORPUS_DIR   (CORPUS_DIR/<target>/seed_*).

#include <onnx/onnx_pb.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "models/hdf5_file.hpp"
#include "sim/report/compare.hpp"
#include "tests/llm_fixtures.hpp"
#include "tests/onnx_builder.hpp"

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

const fs::path source = SPIKESIM_SOURCE_DIR;

std::string read_bytes(const fs::path& f) {
  std::ifstream in(f, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class Corpus {
 public:
  explicit Corpus(fs::path root) : root_(std::move(root)) {}
  void add(const std::string& target, const std::string& bytes) {
    const fs::path d = root_ / target;
    fs::create_directories(d);
    std::ofstream(d / ("seed_" + std::to_string(count_[target]++)), std::ios::binary) << bytes;
  }

 private:
  fs::path root_;
  std::map<std::string, int> count_;
};

std::string idx(std::uint8_t type, const std::vector<std::int32_t>& dims, const std::string& payload) {
  std::string b = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (const auto d : dims)
    for (int s = 24; s >= 0; s -= 8)
      b.push_back(static_cast<char>((d >> s) & 0xFF));
  return b + payload;
}

std::string gzip(const std::string& bytes, const fs::path& tmp) {
  gzFile gz = gzopen(tmp.c_str(), "wb9");
  gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(gz);
  return read_bytes(tmp);
}

void llama2c_seeds(Corpus& c, const fs::path& tmp) {
  for (const bool tied : {true, false}) {
    auto cfg = spikesim::test::tiny_config("llama2.c");
    cfg.tied_classifier = tied;
    cfg.dim = 8;
    cfg.hidden_dim = 12;
    cfg.n_heads = 2;
    cfg.n_kv_heads = 1;
    cfg.head_dim = 4;
    cfg.vocab_size = 16;
    cfg.seq_len = 8;
    spikesim::test::write_llama2c(tmp / "m.bin", spikesim::test::tiny_llm(cfg, 3));
    c.add("llama2c", read_bytes(tmp / "m.bin"));
  }
}

void tokenizer_seeds(Corpus& c) {
  const Json cfg = Json::parse(read_bytes(source / "data/models/kjv-llama/config.json"));
  const auto vocab = cfg["vocab_size"].get<std::int64_t>() - 1;
  std::string prefix = {static_cast<char>(vocab & 0xFF), static_cast<char>((vocab >> 8) & 0xFF)};
  c.add("tokenizer", prefix + read_bytes(source / "data/models/kjv-llama/tokenizer.bin"));
  const std::int64_t small = 299;  // byte_tokenizer(300)
  c.add("tokenizer", std::string{static_cast<char>(small & 0xFF), static_cast<char>(small >> 8)} +
                         spikesim::test::byte_tokenizer(300));
}

void safetensors_seeds(Corpus& c, const fs::path& tmp) {
  auto cfg = spikesim::test::tiny_config();
  cfg.dim = 8;
  cfg.hidden_dim = 12;
  cfg.n_heads = 2;
  cfg.n_kv_heads = 1;
  cfg.head_dim = 4;
  cfg.vocab_size = 16;
  cfg.seq_len = 8;
  for (const char* dtype : {"F32", "BF16"}) {
    fs::create_directories(tmp / "hf");
    spikesim::test::write_hf(tmp / "hf", spikesim::test::tiny_llm(cfg, 5), dtype);
    c.add("safetensors",
          read_bytes(tmp / "hf/config.json") + "\n#safetensors\n" + read_bytes(tmp / "hf/model.safetensors"));
  }
  // The project's own LLM: its config and the safetensors header with the first 4 KiB of data.
  const std::string st = read_bytes(source / "data/models/kjv-llama/model.safetensors");
  std::uint64_t n = 0;
  std::memcpy(&n, st.data(), 8);
  c.add("safetensors", read_bytes(source / "data/models/kjv-llama/config.json") + "\n#safetensors\n" +
                           st.substr(0, 8 + n + 4096));
  c.add("safetensors", read_bytes(source / "data/configs/qwen2.5-7b.json") + "\n#safetensors\n");
}

void onnx_seeds(Corpus& c) {
  const std::string cnn = read_bytes(source / "data/models/fashion_cnn.onnx");
  c.add("onnx", cnn);
  onnx::ModelProto m;
  m.ParseFromString(cnn);
  // The small initializers in external data (weights.bin beside the model, as the harness provides it).
  std::uint64_t offset = 0;
  for (auto& t : *m.mutable_graph()->mutable_initializer()) {
    if (t.raw_data().size() > 1024) continue;
    const auto length = t.raw_data().size();
    t.clear_raw_data();
    t.set_data_location(onnx::TensorProto_DataLocation_EXTERNAL);
    for (const auto& [k, v] :
         std::vector<std::pair<std::string, std::string>>{{"location", "weights.bin"},
                                                          {"offset", std::to_string(offset)},
                                                          {"length", std::to_string(length)}}) {
      auto* e = t.add_external_data();
      e->set_key(k);
      e->set_value(v);
    }
    offset += length;
  }
  c.add("onnx", m.SerializeAsString());
  // Small graphs over most supported ops.
  spikesim::test::OnnxBuilder b;
  b.input("x", {-1, 1, 4, 4});
  b.init("w", {2, 1, 3, 3}, std::vector<float>(18, 0.25F), true);
  b.init("bias", {2}, {0.1F, -0.1F});
  auto& conv = b.node("Conv", {"x", "w", "bias"}, {"c"});
  spikesim::test::OnnxBuilder::attr(conv, "pads", std::vector<std::int64_t>{1, 1, 1, 1});
  b.node("Relu", {"c"}, {"r"});
  auto& pool = b.node("MaxPool", {"r"}, {"p"});
  spikesim::test::OnnxBuilder::attr(pool, "kernel_shape", std::vector<std::int64_t>{2, 2});
  spikesim::test::OnnxBuilder::attr(pool, "strides", std::vector<std::int64_t>{2, 2});
  b.node("Flatten", {"p"}, {"f"});
  b.init("g", {8, 3}, std::vector<float>(24, 0.5F));
  b.node("Gemm", {"f", "g"}, {"y0"});
  b.node("Softmax", {"y0"}, {"y"});
  b.output("y");
  c.add("onnx", b.model().SerializeAsString());
  spikesim::test::OnnxBuilder e(11);
  e.input("x", {1, 6});
  e.init_i64("shape", {2}, {2, 3});
  e.node("Reshape", {"x", "shape"}, {"r"});
  auto& t = e.node("Transpose", {"r"}, {"t"});
  spikesim::test::OnnxBuilder::attr(t, "perm", std::vector<std::int64_t>{1, 0});
  auto& k = e.node("Constant", {}, {"k"});
  spikesim::test::OnnxBuilder::attr(
      k, "value", spikesim::test::OnnxBuilder::tensor("kv", {3, 2}, std::vector<float>(6, 2.0F)));
  e.node("Mul", {"t", "k"}, {"m"});
  auto& cat = e.node("Concat", {"m", "m"}, {"y"});
  spikesim::test::OnnxBuilder::attr(cat, "axis", std::int64_t{0});
  e.output("y");
  c.add("onnx", e.model().SerializeAsString());
}

Json keras_layer(const std::string& cls, const std::string& name, Json cfg) {
  cfg["name"] = name;
  return Json{{"class_name", cls}, {"config", cfg}};
}

void keras_seeds(Corpus& c) {
  const Json sequential = {
      {"class_name", "Sequential"},
      {"config",
       {{"name", "seq"},
        {"layers",
         Json::array({keras_layer("InputLayer", "in", {{"batch_input_shape", {nullptr, 4, 4, 1}}}),
                      keras_layer("Conv2D", "conv",
                                  {{"filters", 2},
                                   {"kernel_size", {3, 3}},
                                   {"strides", {1, 1}},
                                   {"padding", "same"},
                                   {"activation", "relu"}}),
                      keras_layer("BatchNormalization", "bn", {{"axis", -1}, {"epsilon", 0.001}}),
                      keras_layer("MaxPooling2D", "pool", {{"pool_size", {2, 2}}, {"strides", nullptr}}),
                      keras_layer("Flatten", "flat", Json::object()),
                      keras_layer("Dropout", "drop", {{"rate", 0.5}}),
                      keras_layer("Dense", "dense", {{"units", 3}, {"activation", "softmax"}})})}}}};
  const std::string weights =
      "g /model_weights\n"
      "a /model_weights layer_names S in,conv,bn,pool,flat,drop,dense\n"
      "g /model_weights/conv\n"
      "a /model_weights/conv weight_names S conv/kernel:0,conv/bias:0\n"
      "d /model_weights/conv/conv/kernel:0 f32 3,3,1,2\n"
      "d /model_weights/conv/conv/bias:0 f32 2\n"
      "g /model_weights/bn\n"
      "a /model_weights/bn weight_names S bn/gamma:0,bn/beta:0,bn/moving_mean:0,bn/moving_variance:0\n"
      "d /model_weights/bn/bn/gamma:0 f32 2\n"
      "d /model_weights/bn/bn/beta:0 f32 2\n"
      "d /model_weights/bn/bn/moving_mean:0 f32 2\n"
      "d /model_weights/bn/bn/moving_variance:0 f32 2\n"
      "g /model_weights/dense\n"
      "a /model_weights/dense weight_names S dense/kernel:0,dense/bias:0\n"
      "d /model_weights/dense/dense/kernel:0 f32 8,3\n"
      "d /model_weights/dense/dense/bias:0 f32 3\n";
  c.add("keras", sequential.dump() + "\n#h5\n" + weights);
  // Keras 2 functional: two branches added and concatenated.
  const Json functional = {
      {"class_name", "Functional"},
      {"config",
       {{"name", "f"},
        {"layers", Json::array({
                       {{"class_name", "InputLayer"},
                        {"name", "x"},
                        {"config", {{"batch_input_shape", {nullptr, 4}}, {"name", "x"}}},
                        {"inbound_nodes", Json::array()}},
                       {{"class_name", "Dense"},
                        {"name", "a"},
                        {"config", {{"units", 4}, {"name", "a"}, {"activation", "relu"}}},
                        {"inbound_nodes", {{{"x", 0, 0, Json::object()}}}}},
                       {{"class_name", "Dense"},
                        {"name", "b"},
                        {"config", {{"units", 4}, {"name", "b"}, {"use_bias", false}}},
                        {"inbound_nodes", {{{"x", 0, 0, Json::object()}}}}},
                       {{"class_name", "Add"},
                        {"name", "s"},
                        {"config", {{"name", "s"}}},
                        {"inbound_nodes", {{{"a", 0, 0, Json::object()}, {"b", 0, 0, Json::object()}}}}},
                       {{"class_name", "Concatenate"},
                        {"name", "c"},
                        {"config", {{"name", "c"}, {"axis", -1}}},
                        {"inbound_nodes", {{{"s", 0, 0, Json::object()}, {"a", 0, 0, Json::object()}}}}},
                   })},
        {"input_layers", {{"x", 0, 0}}},
        {"output_layers", {{"c", 0, 0}}}}}};
  c.add("keras", functional.dump() +
                     "\n#h5\n"
                     "g /model_weights/a\n"
                     "a /model_weights/a weight_names S a/kernel:0,a/bias:0\n"
                     "d /model_weights/a/a/kernel:0 f32 4,4\n"
                     "d /model_weights/a/a/bias:0 f32 4\n"
                     "g /model_weights/b\n"
                     "a /model_weights/b weight_names V b/kernel:0\n"
                     "d /model_weights/b/b/kernel:0 f32 4,4 u\n");
}

void trace_seeds(Corpus& c) {
  // The layout of the project's trace (layer names, indices, widths), with 4 tokens and widths / 8.
  const spikesim::models::H5Reader h5(source / "data/traces/synthetic_llm_block.h5");
  std::ostringstream d;
  for (const auto& layer : h5.children("/layers")) {
    const std::string g = "/layers/" + layer;
    const auto in = h5.shape(g + "/input");
    const auto w = h5.shape(g + "/weight");
    d << "g " << g << "\n";
    d << "a " << g << " index i " << h5.read_int_attribute(g, "index") << "\n";
    d << "d " << g << "/input f32 4," << in[1] / 8 << "\n";
    d << "d " << g << "/weight f32 " << w[0] / 8 << "," << w[1] / 8 << "\n";
    if (h5.has(g + "/bias")) d << "d " << g << "/bias f32 " << w[0] / 8 << "\n";
  }
  c.add("trace", d.str());
  c.add("trace",
        "a /layers/q index i 0\n"
        "d /layers/q/input f32 4,8 c\n"
        "d /layers/q/weight f64 3,8\n"
        "d /layers/q/bias f32 3 nan\n"
        "a /layers/k index i 1\n"
        "d /layers/k/input f32 65536,32768 u\n"
        "d /layers/k/weight f32 2,32768 u\n");
  c.add("trace",
        "a / format s spikesim-events\n"
        "a /layers/q index i 0\n"
        "a /layers/q steps i 2\n"
        "a /layers/q rows i 2\n"
        "a /layers/q cols i 3\n"
        "a /layers/q coding s ternary\n"
        "d /layers/q/step_offset i64 3\n"
        "d /layers/q/neuron i32 4\n"
        "d /layers/q/sign i8 4\n"
        "d /layers/q/scale f32 2\n"
        "d /layers/q/zero_point i32 2\n");
}

void idx_seeds(Corpus& c, const fs::path& tmp) {
  std::string pixels;
  for (int i = 0; i < 2 * 28 * 28; ++i)
    pixels.push_back(static_cast<char>(i % 251));
  const std::string images = idx(0x08, {2, 28, 28}, pixels);
  c.add("idx", images);
  c.add("idx", gzip(images, tmp / "i.gz"));
  c.add("idx", idx(0x08, {2}, std::string("\x03\x07", 2)));
  c.add("idx", idx(0x0D, {2}, std::string("\x3F\x80\x00\x00\x40\x00\x00\x00", 8)));
  c.add("idx", idx(0x0B, {1, 2, 2, 1}, std::string("\x00\x01\x00\x02\xFF\xFF\x00\x04", 8)));
  c.add("idx", gzip(idx(0x0E, {2}, std::string(16, '\0')), tmp / "d.gz"));
}

void profile_seeds(Corpus& c) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(source / "data/hardware")) {
    if (e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files)
    c.add("profile", read_bytes(f));
}

void compare_seeds(Corpus& c, const fs::path& tmp) {
  const fs::path trace = tmp / "trace.h5";
  {
    spikesim::models::H5Writer h5(trace);
    h5.create_group("/layers/q");
    h5.write_attribute("/layers/q", "index", std::int64_t{0});
    h5.write<float>("/layers/q/input", {1, -2, 3, 0, 0.5F, 1, -1, 2}, {2, 4});
    h5.write<float>("/layers/q/weight", {0.1F, 0.2F, -0.3F, 0.4F, 0.5F, -0.6F, 0.7F, 0.8F}, {2, 4});
    h5.commit();
  }
  spikesim::sim::CompareRequest r;
  r.models = {trace.string()};
  r.codings = {spikesim::coding::Scheme::ternary};
  r.ks = {3.0};
  r.out = tmp / "compare";
  r.profiles = {spikesim::energy::find_profile("loihi", source / "data")};
  (void)spikesim::sim::run_compare(r);
  c.add("compare_cell", read_bytes(r.out / "cells" /
                                   spikesim::sim::cell_id(trace.string(), r.codings[0], 3.0) / "cell.json"));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_seeds CORPUS_DIR\n";
    return 2;
  }
  const fs::path tmp = fs::temp_directory_path() / ("spikesim-seeds-" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  Corpus c(argv[1]);
  llama2c_seeds(c, tmp);
  tokenizer_seeds(c);
  safetensors_seeds(c, tmp);
  onnx_seeds(c);
  keras_seeds(c);
  trace_seeds(c);
  idx_seeds(c, tmp);
  profile_seeds(c);
  compare_seeds(c, tmp);
  fs::remove_all(tmp);
  return 0;
}
