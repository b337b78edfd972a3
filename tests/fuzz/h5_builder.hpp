#pragma once
// Builds a valid HDF5 file from a line-based description, so the HDF5 harnesses (Keras models, activation
// traces) fuzz spikesim's loaders through the HDF5 API — structure, shapes, types, attributes, datasets that
// are declared but never written — rather than HDF5's own binary parser. One item per line:
//
//   g PATH                                  group (intermediate groups are created)
//   d PATH TYPE DIMS [FLAG...]              dataset; TYPE f32 f64 i8 i32 i64 u8; DIMS "2,3" or "-" (scalar)
//                                           FLAG u: declared but never written; c: chunked + deflate;
//                                           nan / inf: the first value is NaN / +Inf
//   a PATH NAME TYPE VALUE                  attribute; TYPE i (int64), f (double), s (string: rest of line),
//                                           S (fixed-length strings, comma-separated), V (variable-length)
//
// Lines that do not parse are skipped. Written datasets hold at most 2^16 values (a harness bound that keeps
// runs fast; declared-only datasets may be any size HDF5 accepts).

#include <hdf5.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace spikesim::fuzz {

namespace h5detail {

inline std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (const char ch : s) {
    if (ch == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  out.push_back(cur);
  return out;
}

inline bool parse_u64(const std::string& s, std::uint64_t& v) {
  if (s.empty() || s.size() > 19) return false;
  v = 0;
  for (const char ch : s) {
    if (ch < '0' || ch > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(ch - '0');
  }
  return true;
}

// Opens `path`'s parent group, creating groups on the way; returns the location id (caller closes).
inline hid_t object(hid_t file, const std::string& path) {
  if (path.empty() || path == "/") return H5Oopen(file, "/", H5P_DEFAULT);
  return H5Oopen(file, path.c_str(), H5P_DEFAULT);
}

inline hid_t link_plist() {
  const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  return lcpl;
}

inline void dataset(hid_t file, const std::vector<std::string>& w) {
  if (w.size() < 4) return;
  const std::string& path = w[1];
  const std::string& type = w[2];
  hid_t mem = -1;
  hid_t stored = -1;
  if (type == "f32") {
    mem = H5T_NATIVE_FLOAT;
    stored = H5T_IEEE_F32LE;
  } else if (type == "f64") {
    mem = H5T_NATIVE_DOUBLE;
    stored = H5T_IEEE_F64LE;
  } else if (type == "i8") {
    mem = H5T_NATIVE_INT8;
    stored = H5T_STD_I8LE;
  } else if (type == "i32") {
    mem = H5T_NATIVE_INT32;
    stored = H5T_STD_I32LE;
  } else if (type == "i64") {
    mem = H5T_NATIVE_INT64;
    stored = H5T_STD_I64LE;
  } else if (type == "u8") {
    mem = H5T_NATIVE_UINT8;
    stored = H5T_STD_U8LE;
  } else {
    return;
  }
  std::vector<hsize_t> dims;
  if (w[3] != "-") {
    for (const auto& d : split(w[3], ',')) {
      std::uint64_t v = 0;
      if (!parse_u64(d, v) || dims.size() >= 8) return;
      dims.push_back(v);
    }
  }
  bool unwritten = false;
  bool chunked = false;
  bool nan = false;
  bool inf = false;
  for (std::size_t i = 4; i < w.size(); ++i) {
    unwritten = unwritten || w[i] == "u";
    chunked = chunked || w[i] == "c";
    nan = nan || w[i] == "nan";
    inf = inf || w[i] == "inf";
  }
  std::uint64_t n = 1;
  for (const auto d : dims) {
    if (d != 0 && n > std::numeric_limits<std::uint64_t>::max() / d) return;
    n *= d;
  }
  if (!unwritten && n > (1U << 16)) return;
  const hid_t space = dims.empty() ? H5Screate(H5S_SCALAR)
                                   : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  if (space < 0) return;
  const hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (chunked && !dims.empty() && n > 0) {
    std::vector<hsize_t> chunk(dims.size());
    for (std::size_t i = 0; i < dims.size(); ++i)
      chunk[i] = std::max<hsize_t>(1, std::min<hsize_t>(dims[i], 16));
    H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
    H5Pset_deflate(dcpl, 6);
  }
  const hid_t lcpl = link_plist();
  const hid_t d = H5Dcreate2(file, path.c_str(), stored, space, lcpl, dcpl, H5P_DEFAULT);
  if (d >= 0 && !unwritten && n > 0) {
    std::vector<double> values(n);
    for (std::uint64_t i = 0; i < n; ++i)
      values[i] = static_cast<double>((i * 2654435761U) % 1000) / 100.0 - 5.0;
    if (nan) values[0] = std::numeric_limits<double>::quiet_NaN();
    if (inf) values[0] = std::numeric_limits<double>::infinity();
    if (mem == H5T_NATIVE_DOUBLE || mem == H5T_NATIVE_FLOAT) {
      H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
    } else {
      std::vector<std::int64_t> ints(n);
      for (std::uint64_t i = 0; i < n; ++i)
        ints[i] = static_cast<std::int64_t>(i % 100);
      H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, ints.data());
    }
  }
  if (d >= 0) H5Dclose(d);
  H5Pclose(lcpl);
  H5Pclose(dcpl);
  H5Sclose(space);
}

inline void attribute(hid_t file, const std::vector<std::string>& w, const std::string& rest) {
  if (w.size() < 4) return;
  const hid_t obj = object(file, w[1]);
  if (obj < 0) return;
  const std::string& name = w[2];
  const std::string& type = w[3];
  const std::string value = w.size() > 4 ? w[4] : "";
  const hid_t scalar = H5Screate(H5S_SCALAR);
  if (type == "i") {
    std::int64_t v = 0;
    std::istringstream(value) >> v;
    const hid_t a = H5Acreate2(obj, name.c_str(), H5T_STD_I64LE, scalar, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) H5Awrite(a, H5T_NATIVE_INT64, &v), H5Aclose(a);
  } else if (type == "f") {
    double v = 0;
    std::istringstream(value) >> v;
    const hid_t a = H5Acreate2(obj, name.c_str(), H5T_IEEE_F64LE, scalar, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) H5Awrite(a, H5T_NATIVE_DOUBLE, &v), H5Aclose(a);
  } else if (type == "s" || type == "V") {
    const hid_t t = H5Tcopy(H5T_C_S1);
    if (type == "s") {
      H5Tset_size(t, std::max<std::size_t>(1, rest.size()));
      const hid_t a = H5Acreate2(obj, name.c_str(), t, scalar, H5P_DEFAULT, H5P_DEFAULT);
      if (a >= 0) H5Awrite(a, t, rest.c_str()), H5Aclose(a);
    } else {
      H5Tset_size(t, H5T_VARIABLE);
      const char* p = rest.c_str();
      const hid_t a = H5Acreate2(obj, name.c_str(), t, scalar, H5P_DEFAULT, H5P_DEFAULT);
      if (a >= 0) H5Awrite(a, t, static_cast<const void*>(&p)), H5Aclose(a);
    }
    H5Tclose(t);
  } else if (type == "S") {
    const auto items = split(rest, ',');
    std::size_t width = 1;
    for (const auto& i : items)
      width = std::max(width, i.size());
    std::string buffer(width * items.size(), '\0');
    for (std::size_t i = 0; i < items.size(); ++i)
      buffer.replace(i * width, items[i].size(), items[i]);
    const hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, width);
    const hsize_t n = items.size();
    const hid_t space = H5Screate_simple(1, &n, nullptr);
    const hid_t a = H5Acreate2(obj, name.c_str(), t, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) H5Awrite(a, t, buffer.data()), H5Aclose(a);
    H5Sclose(space);
    H5Tclose(t);
  }
  H5Sclose(scalar);
  H5Oclose(obj);
}

}  // namespace h5detail

// Writes `file` from the description (see the top of this file); `model_config`, when not empty, becomes the
// root string attribute "model_config" (a Keras model's architecture).
inline void build_h5(const std::filesystem::path& file, std::string_view description,
                     std::string_view model_config = {}) {
  static const bool quiet = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)quiet;
  const hid_t f = H5Fcreate(file.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) return;
  if (!model_config.empty()) {
    const std::string text(model_config);
    h5detail::attribute(f, {"a", "/", "model_config", "s"}, text);
  }
  for (const auto& line : h5detail::split(description, '\n')) {
    const auto w = h5detail::split(line, ' ');
    if (w.empty()) continue;
    if (w[0] == "g" && w.size() >= 2) {
      const hid_t lcpl = h5detail::link_plist();
      const hid_t g = H5Gcreate2(f, w[1].c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT);
      if (g >= 0) H5Gclose(g);
      H5Pclose(lcpl);
    } else if (w[0] == "d") {
      h5detail::dataset(f, w);
    } else if (w[0] == "a" && w.size() >= 4) {
      // The value of a string attribute is the rest of the line after "a PATH NAME TYPE ".
      const std::size_t head = w[0].size() + w[1].size() + w[2].size() + w[3].size() + 4;
      const std::string rest = line.size() > head ? line.substr(head) : "";
      h5detail::attribute(f, w, rest);
    }
  }
  H5Fclose(f);
}

}  // namespace spikesim::fuzz
