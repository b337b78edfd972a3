// Issue 11, "hardened inputs and outputs": one regression test per case of the issue. Each bad input is a few
// bytes away from the project's own files (data/models/kjv-llama, data/models/fashion_cnn.onnx,
// data/traces/synthetic_llm_block.h5, data/hardware/*.json) or from the files the tests write themselves. The
// built binary runs as a child process, so a crash or an abort fails the test instead of ending the suite,
// and each must be a clean error: exit status 1, a message naming the file and what is wrong, nothing left
// in --out, within seconds and a few hundred MB.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hdf5.h>
#include <onnx/onnx_pb.h>
#include <sys/stat.h>
#include <zlib.h>

#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/files.hpp"
#include "models/hdf5_file.hpp"
#include "tests/llm_fixtures.hpp"
#include "tests/test_util.hpp"

namespace spikesim {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Json = nlohmann::ordered_json;

const fs::path source_dir = SPIKESIM_SOURCE_DIR;
const fs::path kjv_llama = source_dir / "data/models/kjv-llama";
const fs::path fashion_cnn = source_dir / "data/models/fashion_cnn.onnx";
const fs::path trace_file = source_dir / "data/traces/synthetic_llm_block.h5";

#if defined(__SANITIZE_ADDRESS__)
constexpr double max_rss_mib = 1500;  // ASan's shadow memory and quarantine
constexpr double max_seconds = 60;
#else
constexpr double max_rss_mib = 400;
constexpr double max_seconds = 15;
#endif

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// The checks every case shares: a clean error naming `file` and each of `what`, nothing left at `out`.
void expect_clean_error(const test::ProcessResult& r, const fs::path& out, const std::string& file,
                        const std::vector<std::string>& what) {
  EXPECT_EQ(r.signal, 0) << "killed by signal " << r.signal << "\n" << r.err;
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("spikesim: error: "));
  EXPECT_THAT(r.err, HasSubstr(file));
  for (const auto& w : what)
    EXPECT_THAT(r.err, HasSubstr(w));
  EXPECT_FALSE(fs::exists(out)) << out << " was left behind";
  EXPECT_LT(r.seconds, max_seconds);
  EXPECT_LT(r.max_rss_mib, max_rss_mib) << "peak memory";
}

class HardenedInputs : public ::testing::Test {
 protected:
  test::ScratchDir dir_;
  fs::path out_ = dir_ / "out";

  // A copy of the project's own LLM (config.json, model.safetensors, tokenizer.bin).
  fs::path copy_kjv() {
    const fs::path d = dir_ / "kjv";
    fs::create_directories(d);
    for (const char* f : {"config.json", "model.safetensors", "tokenizer.bin"})
      fs::copy_file(kjv_llama / f, d / f);
    return d;
  }
  // Rewrites a safetensors header through `edit`, keeping the data section.
  static void edit_safetensors(const fs::path& file, const std::function<void(Json&)>& edit) {
    const std::string bytes = read_bytes(file);
    std::uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    Json header = Json::parse(bytes.substr(8, n));
    edit(header);
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    std::string out(8, '\0');
    const std::uint64_t len = text.size();
    std::memcpy(out.data(), &len, 8);
    write_bytes(file, out + text + bytes.substr(8 + n));
  }
  static void edit_json(const fs::path& file, const std::function<void(Json&)>& edit) {
    Json j = Json::parse(read_bytes(file));
    edit(j);
    write_bytes(file, j.dump(2));
  }
  fs::path tokens_file() {
    const fs::path f = dir_ / "tokens.txt";
    write_bytes(f, "1 200 300 400\n");
    return f;
  }
  // The project's CNN with its protobuf edited by `edit`.
  fs::path edited_cnn(const std::function<void(onnx::ModelProto&)>& edit) {
    onnx::ModelProto m;
    const std::string bytes = read_bytes(fashion_cnn);
    EXPECT_TRUE(m.ParseFromString(bytes));
    edit(m);
    const fs::path f = dir_ / "cnn.onnx";
    write_bytes(f, m.SerializeAsString());
    return f;
  }
  static onnx::TensorProto& initializer(onnx::ModelProto& m, const std::string& name) {
    for (auto& t : *m.mutable_graph()->mutable_initializer()) {
      if (t.name() == name) return t;
    }
    throw std::runtime_error("no initializer " + name);
  }
  // IDX images for the CNN: n images of 28x28 uint8.
  fs::path images(std::int64_t n = 2) {
    std::string b = {0, 0, 0x08, 3};
    for (const std::int64_t d : {n, std::int64_t{28}, std::int64_t{28}})
      for (int s = 24; s >= 0; s -= 8)
        b.push_back(static_cast<char>((d >> s) & 0xFF));
    b.append(static_cast<std::size_t>(n * 28 * 28), '\x10');
    const fs::path f = dir_ / "images.idx";
    write_bytes(f, b);
    return f;
  }
  test::ProcessResult run_cnn(const fs::path& model, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {
        "run", "--model", model.string(), "--images", images().string(), "--out", out_.string(), "-q"};
    args.insert(args.end(), extra.begin(), extra.end());
    return test::run_spikesim(args);
  }
  // A Keras 2 Sequential file: Conv2D (1x1 kernel, 2 filters) -> MaxPooling2D -> Flatten -> Dense, with
  // `edit` applied to the layer configs first.
  fs::path keras_model(const std::function<void(nlohmann::json&)>& edit) {
    using J = nlohmann::json;
    auto layer = [](const std::string& cls, const std::string& name, J cfg) {
      cfg["name"] = name;
      return J{{"class_name", cls}, {"config", cfg}};
    };
    J layers = J::array({layer("Conv2D", "conv2d",
                               {{"batch_input_shape", {nullptr, 4, 4, 1}},
                                {"filters", 2},
                                {"kernel_size", {1, 1}},
                                {"strides", {1, 1}},
                                {"padding", "valid"},
                                {"activation", "relu"}}),
                         layer("MaxPooling2D", "pool", {{"pool_size", {2, 2}}, {"padding", "valid"}}),
                         layer("Flatten", "flatten", J::object()),
                         layer("Dense", "dense", {{"units", 1}, {"activation", "linear"}})});
    edit(layers);
    const J config = {{"class_name", "Sequential"}, {"config", {{"name", "sequential"}, {"layers", layers}}}};
    const fs::path f = dir_ / "model.h5";
    models::H5Writer h5(f);
    h5.write_attribute("/", "model_config", config.dump());
    h5.create_group("/model_weights");
    h5.create_group("/model_weights/conv2d");
    h5.write_attribute("/model_weights/conv2d", "weight_names",
                       std::vector<std::string>{"conv2d/kernel:0", "conv2d/bias:0"});
    h5.write<float>("/model_weights/conv2d/conv2d/kernel:0", {1, 2}, {1, 1, 1, 2});
    h5.write<float>("/model_weights/conv2d/conv2d/bias:0", {0, 0}, {2});
    h5.create_group("/model_weights/dense");
    h5.write_attribute("/model_weights/dense", "weight_names",
                       std::vector<std::string>{"dense/kernel:0", "dense/bias:0"});
    h5.write<float>("/model_weights/dense/dense/kernel:0", std::vector<float>(8, 0.5F), {8, 1});
    h5.write<float>("/model_weights/dense/dense/bias:0", {0.5F}, {1});
    h5.commit();
    return f;
  }
  test::ProcessResult run_keras(const fs::path& model) {
    std::string b = {0, 0, 0x08, 4, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 1};
    b.append(16, '\x01');
    write_bytes(dir_ / "k_images.idx", b);
    return test::run_spikesim({"run", "--model", model.string(), "--images", (dir_ / "k_images.idx").string(),
                               "--out", out_.string(), "-q"});
  }
};

// ---------------------------------------------------------------------------------------- size arithmetic

TEST_F(HardenedInputs, Llama2cHeaderWhoseBlockSizesOverflowInt64) {
  // The tiny llama2.c checkpoint the tests write, with a header whose wq block is 2^20 x 2^30 x 2^30 floats:
  // the sum used to overflow (signed), match nothing sane, and read past the mapping. The sizes are now
  // refused by the config limits; products are checked as well (base/checked.hpp).
  const fs::path f = dir_ / "model.bin";
  test::write_llama2c(f, test::tiny_llm(test::tiny_config("llama2.c"), 1));
  std::string bytes = read_bytes(f);
  auto with_header = [&](const std::array<std::int32_t, 7>& header) {
    std::memcpy(bytes.data(), header.data(), sizeof(header));
    write_bytes(f, bytes);
    return test::run_spikesim(
        {"run", "--model", f.string(), "--tokens", tokens_file().string(), "--out", out_.string(), "-q"});
  };
  expect_clean_error(with_header({1 << 30, 1 << 30, 1 << 20, 1 << 20, 1 << 20, 300, 48}), out_, f.string(),
                     {"dim (hidden_size) 1073741824 is more than the limit", "not a llama2.c checkpoint?"});
  // Within the limits, the largest header declares ~2^57 bytes: the size check runs on exact numbers.
  expect_clean_error(
      with_header({1 << 20, 1 << 20, 4096, 1 << 16, 1 << 16, 300, 48}), out_, f.string(),
      {"truncated llama2.c checkpoint: expected 126100825188600860 bytes for header {dim 1048576"});
}

TEST_F(HardenedInputs, SafetensorsShapeTimesElementSizeWraps) {
  // model.norm.weight declared [2^62] F32 over zero bytes: 2^62 x 4 wraps to 0 in uint64.
  const fs::path d = copy_kjv();
  edit_safetensors(d / "model.safetensors", [](Json& h) {
    auto& t = h["model.norm.weight"];
    const auto begin = t["data_offsets"][0].get<std::uint64_t>();
    t["shape"] = {std::uint64_t{1} << 62, 2};  // F16: 2^63 values x 2 bytes = 2^64
    t["data_offsets"] = {begin, begin};
  });
  const auto r = test::run_spikesim(
      {"run", "--model", d.string(), "--tokens", tokens_file().string(), "--out", out_.string(), "-q"});
  expect_clean_error(r, out_, (d / "model.safetensors").string(),
                     {"tensor 'model.norm.weight'", "overflows a 64-bit size"});
}

TEST_F(HardenedInputs, OnnxDimsTimesElementSizeWraps) {
  // An initializer with dims [2^62] float32 and no bytes: 2^62 x 4 wraps to 0, which matched the empty raw
  // data, and reading its "values" ran off the heap (SIGSEGV).
  const fs::path f = edited_cnn([](onnx::ModelProto& m) {
    auto& t = initializer(m, "classifier.4.bias");
    t.clear_dims();
    t.add_dims(std::int64_t{1} << 62);
    t.set_raw_data("");
  });
  expect_clean_error(run_cnn(f), out_, f.string(),
                     {"initializer 'classifier.4.bias'", "overflows a 64-bit size"});
}

TEST_F(HardenedInputs, OnnxExternalDataOffsetOverflow) {
  // External data at offset 2^63 - 800: offset + length overflowed int64, passed the bounds check, and the
  // unread buffer (zeros) was accepted as weights with exit status 0.
  write_bytes(dir_ / "weights.bin", std::string(4096, '\0'));
  const fs::path f = edited_cnn([](onnx::ModelProto& m) {
    auto& t = initializer(m, "classifier.4.bias");
    t.clear_raw_data();
    t.set_data_location(onnx::TensorProto_DataLocation_EXTERNAL);
    auto* loc = t.add_external_data();
    loc->set_key("location");
    loc->set_value("weights.bin");
    auto* off = t.add_external_data();
    off->set_key("offset");
    off->set_value("9223372036854775000");
    auto* len = t.add_external_data();
    len->set_key("length");
    len->set_value("40");
  });
  expect_clean_error(run_cnn(f), out_, f.string(),
                     {"initializer 'classifier.4.bias'", "external data offset"});
}

// ------------------------------------------------------------------------- memory and thread regions

TEST_F(HardenedInputs, OnnxStaticBatchOfTwoToThe32) {
  // The input declared [2^32, 1, 28, 28]: lowering asked for terabytes and std::bad_alloc escaped an
  // OpenMP region (abort).
  const fs::path f = edited_cnn([](onnx::ModelProto& m) {
    m.mutable_graph()
        ->mutable_input(0)
        ->mutable_type()
        ->mutable_tensor_type()
        ->mutable_shape()
        ->mutable_dim(0)
        ->set_dim_value(std::int64_t{1} << 32);
  });
  expect_clean_error(run_cnn(f), out_, f.string(),
                     {"graph input 'image' declares shape [4294967296, 1, 28, 28]", "more than the limit"});
}

TEST_F(HardenedInputs, OnnxTypedInitializerAsksForHundredsOfGigabytes) {
  // float16 initializer with dims [2^38] in typed storage (int32_data) holding nothing: a buffer of 2^38
  // values was allocated before the count was compared.
  const fs::path f = edited_cnn([](onnx::ModelProto& m) {
    auto& t = initializer(m, "classifier.4.bias");
    t.clear_dims();
    t.add_dims(std::int64_t{1} << 38);
    t.clear_raw_data();
    t.set_data_type(onnx::TensorProto_DataType_FLOAT16);
  });
  expect_clean_error(run_cnn(f), out_, f.string(),
                     {"initializer 'classifier.4.bias' has dims [274877906944]", "holds 0 values"});
}

TEST_F(HardenedInputs, TokenizerPieceLengthIsCheckedBeforeAllocating) {
  // The project's tokenizer.bin with piece 0's length set to 2^31 - 1: 2 GB were allocated for a 26 KB file.
  const fs::path d = copy_kjv();
  std::string tok = read_bytes(d / "tokenizer.bin");
  const std::int32_t len = 0x7FFFFFFF;
  std::memcpy(tok.data() + 8, &len, 4);  // max_token_length, score, then the length of piece 0
  write_bytes(d / "tokenizer.bin", tok);
  const auto r = test::run_spikesim(
      {"run", "--model", d.string(), "--prompt", "In the beginning", "--out", out_.string(), "-q"});
  expect_clean_error(r, out_, (d / "tokenizer.bin").string(),
                     {"piece 0 has length 2147483647", "bytes are left"});
}

TEST_F(HardenedInputs, TraceDatasetDeclaredButNeverWritten) {
  // A 6 KB trace whose input is declared [65536, 32768] float32 (8 GiB) and never written: HDF5 returns fill
  // values, and the whole 8 GiB was read.
  const fs::path f = dir_ / "trace.h5";
  {
    const hid_t file = H5Fcreate(f.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    const hid_t g = H5Gcreate2(file, "/layers/q", lcpl, H5P_DEFAULT, H5P_DEFAULT);
    const hid_t scalar = H5Screate(H5S_SCALAR);
    const std::int64_t index = 0;
    const hid_t a = H5Acreate2(g, "index", H5T_STD_I64LE, scalar, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT64, &index);
    const std::array<hsize_t, 2> in_dims = {65536, 32768};
    const hid_t in_space = H5Screate_simple(2, in_dims.data(), nullptr);
    const hid_t in = H5Dcreate2(g, "input", H5T_IEEE_F32LE, in_space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const std::array<hsize_t, 2> w_dims = {4, 32768};
    const hid_t w_space = H5Screate_simple(2, w_dims.data(), nullptr);
    const hid_t w = H5Dcreate2(g, "weight", H5T_IEEE_F32LE, w_space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    for (const hid_t id : {w, in})
      H5Dclose(id);
    for (const hid_t id : {w_space, in_space, scalar})
      H5Sclose(id);
    H5Aclose(a);
    H5Gclose(g);
    H5Pclose(lcpl);
    H5Fclose(file);
  }
  ASSERT_LT(fs::file_size(f), 16384U);
  const auto r = test::run_spikesim({"run", "--model", f.string(), "--out", out_.string(), "-q"});
  expect_clean_error(r, out_, f.string(),
                     {"dataset '/layers/q/input' declares 8589934592 bytes but stores 0"});
}

TEST_F(HardenedInputs, GzipIdxIsCheckedBeforeItInflates) {
  // A gzip IDX declaring 1 x 28 x 28 whose stream inflates to 512 MB: it used to be inflated whole before
  // its size was compared with the header.
  const fs::path f = dir_ / "bomb.idx.gz";
  {
    gzFile gz = gzopen(f.c_str(), "wb9");
    const std::string header = {0, 0, 0x08, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28};
    gzwrite(gz, header.data(), static_cast<unsigned>(header.size()));
    const std::string zeros(1 << 20, '\0');
    for (int i = 0; i < 512; ++i)
      gzwrite(gz, zeros.data(), static_cast<unsigned>(zeros.size()));
    gzclose(gz);
  }
  ASSERT_LT(fs::file_size(f), 2U << 20);
  const auto r = test::run_spikesim(
      {"run", "--model", fashion_cnn.string(), "--images", f.string(), "--out", out_.string(), "-q"});
  expect_clean_error(r, out_, f.string(), {"IDX payload for [1, 28, 28] needs 800 bytes", "(trailing data)"});
  // A header declaring more than the compressed file could ever hold is refused before anything is read.
  {
    gzFile gz = gzopen(f.c_str(), "wb9");
    const std::string header = {0, 0, 0x08, 3, 0, 0, static_cast<char>(0xEA), 0x60, 0, 0, 0, 28, 0, 0, 0, 28};
    gzwrite(gz, header.data(), static_cast<unsigned>(header.size()));
    gzclose(gz);
  }
  const auto lie = test::run_spikesim(
      {"run", "--model", fashion_cnn.string(), "--images", f.string(), "--out", out_.string(), "-q"});
  expect_clean_error(lie, out_, f.string(), {"IDX payload for [60000, 28, 28]", "inflate to at most"});
}

TEST_F(HardenedInputs, NumHiddenLayersTwoToThe40) {
  // config.json with num_hidden_layers 2^40: the list of required tensors grew without bound.
  const fs::path d = copy_kjv();
  edit_json(d / "config.json", [](Json& j) { j["num_hidden_layers"] = std::int64_t{1} << 40; });
  const auto r = test::run_spikesim(
      {"run", "--model", d.string(), "--tokens", tokens_file().string(), "--out", out_.string(), "-q"});
  expect_clean_error(r, out_, (d / "config.json").string(),
                     {"key 'num_hidden_layers' must be an integer in [1, 4096], found 1099511627776"});
  // The same config through `spikesim account`, which sizes its streams from it.
  const auto account = test::run_spikesim(
      {"account", "--config", (d / "config.json").string(), "--tokens", "8", "--out", out_.string(), "-q"});
  expect_clean_error(account, out_, (d / "config.json").string(), {"num_hidden_layers", "at most 4096"});
}

// ------------------------------------------------------------------------------------------------ paths

TEST_F(HardenedInputs, OnnxExternalDataMustStayInsideTheModelsDirectory) {
  write_bytes(dir_ / "secret.bin", std::string(40, '\x01'));
  fs::create_directories(dir_ / "models");
  for (const std::string& location : {std::string("/etc/passwd"), std::string("../secret.bin")}) {
    fs::path f = edited_cnn([&](onnx::ModelProto& m) {
      auto& t = initializer(m, "classifier.4.bias");
      t.clear_raw_data();
      t.set_data_location(onnx::TensorProto_DataLocation_EXTERNAL);
      auto* loc = t.add_external_data();
      loc->set_key("location");
      loc->set_value(location);
    });
    const fs::path inside = dir_ / "models" / "cnn.onnx";
    fs::rename(f, inside);
    const auto r = run_cnn(inside);
    expect_clean_error(r, out_, inside.string(),
                       {"initializer 'classifier.4.bias': external data location: path '" + location + "'",
                        location[0] == '/' ? "is absolute" : "climbs out of the model's directory"});
  }
  // A symbolic link inside the directory that points outside it is refused the same way.
  fs::create_symlink(dir_ / "secret.bin", dir_ / "models" / "link.bin");
  const fs::path f = edited_cnn([&](onnx::ModelProto& m) {
    auto& t = initializer(m, "classifier.4.bias");
    t.clear_raw_data();
    t.set_data_location(onnx::TensorProto_DataLocation_EXTERNAL);
    auto* loc = t.add_external_data();
    loc->set_key("location");
    loc->set_value("link.bin");
  });
  fs::rename(f, dir_ / "models" / "cnn.onnx");
  expect_clean_error(run_cnn(dir_ / "models" / "cnn.onnx"), out_, "link.bin", {"outside", "symbolic link"});
}

TEST_F(HardenedInputs, CheckpointShardsMustStayInsideTheModelsDirectory) {
  const fs::path d = copy_kjv();
  fs::rename(d / "model.safetensors", dir_ / "outside.safetensors");
  write_bytes(d / "model.safetensors.index.json",
              R"({"weight_map": {"model.norm.weight": "../outside.safetensors"}})");
  const auto r = test::run_spikesim(
      {"run", "--model", d.string(), "--tokens", tokens_file().string(), "--out", out_.string(), "-q"});
  expect_clean_error(r, out_, (d / "model.safetensors.index.json").string(),
                     {"weight_map shard: path '../outside.safetensors' climbs out"});
}

// ------------------------------------------------------------------------------------ values and shapes

TEST_F(HardenedInputs, KerasStridesOrPoolSizeZero) {
  // strides 0 divided by zero (SIGFPE) while computing the output shape; so did a pool size of 0.
  const fs::path f = keras_model([](nlohmann::json& l) { l[0]["config"]["strides"] = {0, 0}; });
  expect_clean_error(run_keras(f), out_, f.string(),
                     {"layer 'conv2d': key 'config.strides[0]' must be an integer in [1, 1048576], found 0"});
  const fs::path g = keras_model([](nlohmann::json& l) { l[1]["config"]["pool_size"] = 0; });
  expect_clean_error(run_keras(g), out_, g.string(),
                     {"layer 'pool': key 'config.pool_size' must be an integer in [1, 1048576], found 0"});
}

TEST_F(HardenedInputs, KerasNegativeStridesAreBlamedOnTheirOwnLayer) {
  // strides -1 gave a nonsense shape that a later layer (Flatten, Dense) was blamed for.
  const fs::path f = keras_model([](nlohmann::json& l) { l[0]["config"]["strides"] = {-1, -1}; });
  expect_clean_error(run_keras(f), out_, f.string(), {"layer 'conv2d': key 'config.strides[0]'", "found -1"});
}

TEST_F(HardenedInputs, KerasNegativeUnits) {
  // units -64 matched any kernel shape (-1 means "any" in the shape check) and was accepted.
  const fs::path f = keras_model([](nlohmann::json& l) { l[3]["config"]["units"] = -64; });
  expect_clean_error(run_keras(f), out_, f.string(), {"layer 'dense': key 'config.units'", "found -64"});
}

TEST_F(HardenedInputs, SafetensorsZeroSizeEntryCannotHideAnOverlap) {
  // model.norm.weight moved to start 4 bytes before the end of the embedding, with an empty tensor placed
  // between them in offset order: only neighbours were compared, and the empty one hid the overlap.
  const fs::path d = copy_kjv();
  edit_safetensors(d / "model.safetensors", [](Json& h) {
    const auto embed_end = h["model.embed_tokens.weight"]["data_offsets"][1].get<std::uint64_t>();
    auto& norm = h["model.norm.weight"];
    const auto size =
        norm["data_offsets"][1].get<std::uint64_t>() - norm["data_offsets"][0].get<std::uint64_t>();
    norm["data_offsets"] = {embed_end - 4, embed_end - 4 + size};
    h["empty"] = {{"dtype", "F32"}, {"shape", {0}}, {"data_offsets", {embed_end - 8, embed_end - 8}}};
  });
  const auto r = test::run_spikesim(
      {"run", "--model", d.string(), "--tokens", tokens_file().string(), "--out", out_.string(), "-q"});
  expect_clean_error(
      r, out_, (d / "model.safetensors").string(),
      {"tensor 'model.norm.weight' data_offsets", "overlap tensor 'model.embed_tokens.weight'"});
}

TEST_F(HardenedInputs, ConfigWithFewerLayersThanTheCheckpoint) {
  // num_hidden_layers one less than the checkpoint holds: the last layer was silently dropped.
  const fs::path d = copy_kjv();
  std::int64_t layers = 0;
  edit_json(d / "config.json", [&](Json& j) {
    layers = j["num_hidden_layers"].get<std::int64_t>();
    j["num_hidden_layers"] = layers - 1;
  });
  const auto r = test::run_spikesim(
      {"run", "--model", d.string(), "--tokens", tokens_file().string(), "--out", out_.string(), "-q"});
  expect_clean_error(r, out_, d.string(),
                     {"the checkpoint holds layer " + std::to_string(layers - 1),
                      "num_hidden_layers is " + std::to_string(layers - 1)});
}

TEST_F(HardenedInputs, NonIntegerHiddenSize) {
  // hidden_size 64.5 was read as 64.
  const fs::path d = copy_kjv();
  edit_json(d / "config.json", [](Json& j) { j["hidden_size"] = j["hidden_size"].get<double>() + 0.5; });
  const auto r = test::run_spikesim(
      {"run", "--model", d.string(), "--tokens", tokens_file().string(), "--out", out_.string(), "-q"});
  expect_clean_error(r, out_, (d / "config.json").string(), {"key 'hidden_size' must be an integer", ".5"});
}

TEST_F(HardenedInputs, IdxLabelOfInfinity) {
  // A float32 label file holding +Inf passed "v >= 0 and whole" and was cast to an integer.
  std::string labels = {0, 0, 0x0D, 1, 0, 0, 0, 2};
  labels += std::string("\x3F\x80\x00\x00", 4);  // 1.0f
  labels += std::string("\x7F\x80\x00\x00", 4);  // +Inf
  write_bytes(dir_ / "labels.idx", labels);
  const auto r =
      test::run_spikesim({"eval", "--model", fashion_cnn.string(), "--images", images().string(), "--labels",
                          (dir_ / "labels.idx").string(), "--out", out_.string(), "-q"});
  expect_clean_error(r, out_, (dir_ / "labels.idx").string(), {"label 1 is inf", "expected a class index"});
}

TEST_F(HardenedInputs, ProfileValueOf1e308) {
  // e_synop_pj = 1e308 was accepted; every energy became inf (null in report.json).
  const fs::path p = dir_ / "loihi.json";
  fs::copy_file(source_dir / "data/hardware/loihi.json", p);
  edit_json(p, [](Json& j) { j["spiking"]["e_synop_pj"]["nominal"] = 1e308; });
  const auto r = test::run_spikesim(
      {"run", "--model", trace_file.string(), "--hardware", p.string(), "--out", out_.string(), "-q"});
  expect_clean_error(r, out_, p.string(), {"spiking.e_synop_pj.nominal: 1e+308 is outside [0, 1e+12]"});
}

TEST_F(HardenedInputs, VThNan) {
  // --v-th nan passed CLI11's "non-negative" check (nan < 0 is false) and silently meant "adaptive". (inf
  // fails CLI11's range check with its own usage status.)
  for (const char* value : {"nan", "-nan"}) {
    const auto r = test::run_spikesim(
        {"run", "--model", trace_file.string(), "--v-th", value, "--out", out_.string(), "-q"});
    expect_clean_error(r, out_, "--v-th", {"is not a finite number"});
  }
}

TEST_F(HardenedInputs, BatchIsBounded) {
  const auto r = test::run_spikesim({"run", "--model", fashion_cnn.string(), "--images", images().string(),
                                     "--batch", "4294967296", "--out", out_.string(), "-q"});
  expect_clean_error(r, out_, "--batch", {"more than the limit of 65536"});
}

// ------------------------------------------------------------------------------------------------- JSON

TEST_F(HardenedInputs, JsonTypeErrorsNameTheFileAndTheKey) {
  // nlohmann's "type must be string, but is number" escaped with no file name.
  const fs::path p = dir_ / "loihi.json";
  fs::copy_file(source_dir / "data/hardware/loihi.json", p);
  edit_json(p, [](Json& j) { j["spiking"]["e_synop_pj"]["note"] = 5; });
  const auto r = test::run_spikesim(
      {"run", "--model", trace_file.string(), "--hardware", p.string(), "--out", out_.string(), "-q"});
  expect_clean_error(r, out_, p.string(), {"spiking.e_synop_pj.note: expected a string, found 5"});

  const fs::path d = copy_kjv();
  write_bytes(d / "model.safetensors.index.json", R"({"weight_map": {"model.norm.weight": 5}})");
  const auto index = test::run_spikesim(
      {"run", "--model", d.string(), "--tokens", tokens_file().string(), "--out", out_.string(), "-q"});
  expect_clean_error(index, out_, (d / "model.safetensors.index.json").string(),
                     {"key 'weight_map.model.norm.weight' must be a string, found 5"});

  edit_json(d / "config.json", [](Json& j) { j["rope_theta"] = "ten thousand"; });
  fs::remove(d / "model.safetensors.index.json");
  const auto config = test::run_spikesim(
      {"run", "--model", d.string(), "--tokens", tokens_file().string(), "--out", out_.string(), "-q"});
  expect_clean_error(config, out_, (d / "config.json").string(),
                     {"key 'rope_theta' must be a finite number", "found \"ten thousand\""});
}

// ------------------------------------------------------------------------------------------------ outputs

// Parses RFC 4180 CSV (quoted fields with doubled quotes, CR/LF inside quotes).
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (quoted) {
      if (ch == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (ch == '"') {
        quoted = false;
      } else {
        field += ch;
      }
    } else if (ch == '"') {
      quoted = true;
    } else if (ch == ',') {
      rows.back().push_back(field);
      field.clear();
    } else if (ch == '\n') {
      rows.back().push_back(field);
      field.clear();
      rows.emplace_back();
    } else {
      field += ch;
    }
  }
  if (rows.back().empty()) rows.pop_back();
  return rows;
}

TEST_F(HardenedInputs, NamesWithCommasAndNewlinesAreQuotedInCsv) {
  // A layer named "q,proj\n2" and a profile named "my, chip" broke layers.csv into extra rows and columns.
  const fs::path f = dir_ / "trace.h5";
  test::write_trace(f, {test::random_layer("q,proj\n\"2\"", 0, 4, 8, 6, 1)});
  const fs::path p = dir_ / "chip.json";
  fs::copy_file(source_dir / "data/hardware/loihi.json", p);
  edit_json(p, [](Json& j) { j["name"] = "my, chip"; });
  const auto r = test::run_spikesim(
      {"run", "--model", f.string(), "--hardware", p.string(), "--out", out_.string(), "-q"});
  ASSERT_EQ(r.status, 0) << r.err;
  const auto rows = parse_csv(read_bytes(out_ / "layers.csv"));
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_EQ(rows[1].size(), rows[0].size());
  EXPECT_EQ(rows[1][0], "q,proj\n\"2\"");
  EXPECT_THAT(rows[0], ::testing::Contains("my, chip_spiking_pj"));
}

TEST_F(HardenedInputs, DiskFullIsReportedAndLeavesNothing) {
  // `encode` on a full disk printed its error and then crashed in HDF5 at exit; `run` said "write failed".
  // A 64 KiB tmpfs in a private mount namespace (unshare, no privileges needed) stands in for the full disk;
  // the script runs spikesim there and lists what is left on it ("LEFT: ...").
  const fs::path mnt = dir_ / "full";
  fs::create_directories(mnt);
  const std::vector<std::string> prefix = {
      "unshare",
      "--user",
      "--map-root-user",
      "--mount",
      "sh",
      "-c",
      "m=\"$0\"; mount -t tmpfs -o size=64k none \"$m\" || exit 77; \"$@\"; s=$?; "
      "echo \"LEFT:$(ls -A \"$m\" | tr '\\n' ' ')\"; exit $s",
      mnt.string()};
  const auto probe = test::run_spikesim({"--version"}, 30, prefix);
  if (probe.out.find("LEFT:") == std::string::npos)
    GTEST_SKIP() << "SKIPPED: no private tmpfs here (unshare --user --mount failed): " << probe.err;

  const fs::path events = mnt / "events.h5";
  const auto enc = test::run_spikesim(
      {"encode", "--trace", trace_file.string(), "--out", events.string(), "-q"}, 60, prefix);
  EXPECT_EQ(enc.signal, 0);
  EXPECT_EQ(enc.status, 1) << enc.err;
  EXPECT_THAT(enc.err, HasSubstr(events.string() + ": cannot write"));
  EXPECT_THAT(enc.err, HasSubstr("disk full (No space left on device)"));
  EXPECT_THAT(enc.out, HasSubstr("LEFT:\n"));  // no events.h5, .partial or .lock

  const fs::path out = mnt / "run";
  const auto run =
      test::run_spikesim({"run", "--model", trace_file.string(), "--out", out.string(), "-q"}, 60, prefix);
  EXPECT_EQ(run.signal, 0);
  EXPECT_EQ(run.status, 1) << run.err;
  EXPECT_THAT(run.err, HasSubstr("report.json: cannot write"));
  EXPECT_THAT(run.err, HasSubstr("disk full"));
  EXPECT_THAT(run.out, HasSubstr("LEFT:\n"));  // not even the --out directory
}

TEST_F(HardenedInputs, SecondRunIntoTheSameOutIsAnError) {
  // Two runs into one --out interleaved their files (report.json of one, layers.csv of the other).
  const OutputLock held(out_);  // a run in progress
  const auto r = test::run_spikesim({"run", "--model", trace_file.string(), "--out", out_.string(), "-q"});
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr(out_.string() + ": another spikesim run is writing here"));
  EXPECT_FALSE(fs::exists(out_ / "report.json"));
}

TEST_F(HardenedInputs, CompareCellWithNoLayers) {
  // A stored cell with "layers": [] crashed the summary (const operator[] on a missing key).
  const std::vector<std::string> args = {"compare",     "--model", trace_file.string(), "--coding", "ternary",
                                         "--k",         "3",       "--hardware",        "loihi",    "--out",
                                         out_.string(), "-q"};
  ASSERT_EQ(test::run_spikesim(args).status, 0);
  const fs::path cell = out_ / "cells" / "synthetic_llm_block__ternary__k3" / "cell.json";
  edit_json(cell, [](Json& j) { j["layers"] = Json::array(); });
  const std::string csv_before = read_bytes(out_ / "compare.csv");
  const auto r = test::run_spikesim(args);
  EXPECT_EQ(r.signal, 0);
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr(cell.string() + ": key 'layers' must be a non-empty array"));
  EXPECT_EQ(read_bytes(out_ / "compare.csv"), csv_before);
  for (const auto& e : fs::recursive_directory_iterator(out_))
    EXPECT_THAT(e.path().filename().string(), ::testing::Not(::testing::EndsWith(".partial")));
  EXPECT_FALSE(fs::exists(out_ / ".spikesim.lock"));
}

TEST_F(HardenedInputs, CompareCellIsNotReusedAfterTheModelChanged) {
  // A directory model was keyed on the directory's mtime and a size of 2^64 - 1: editing model.safetensors
  // in place reused the stale cell.
  const fs::path d = copy_kjv();
  const std::vector<std::string> args = {
      "compare",    "--model", d.string(), "--tokens",    tokens_file().string(),
      "--hardware", "loihi",   "--out",    out_.string(), "-q"};
  ASSERT_EQ(test::run_spikesim(args).status, 0);
  const auto dir_time = fs::last_write_time(d);
  {
    std::fstream st(d / "model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    st.seekp(-4, std::ios::end);
    st.write("\x01\x02\x03\x04", 4);
  }
  fs::last_write_time(d, dir_time);
  const auto r = test::run_spikesim(args);
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("this cell was run with other options (inputs"));
  EXPECT_THAT(r.err, HasSubstr("use --force"));
}

}  // namespace
}  // namespace spikesim
