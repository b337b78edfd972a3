#include "models/hdf5_file.hpp"

#include <algorithm>
#include <array>
#include <system_error>
#include <type_traits>

#include "base/checked.hpp"
#include "base/files.hpp"
#include "base/text.hpp"

namespace spikesim::models {

namespace {

// HDF5 prints an error stack to stderr by default; we report our own messages instead.
void silence_hdf5() {
  static const bool once = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)once;
}

template <class T>
hid_t native_type() {
  if constexpr (std::is_same_v<T, float>) return H5T_NATIVE_FLOAT;
  if constexpr (std::is_same_v<T, double>) return H5T_NATIVE_DOUBLE;
  if constexpr (std::is_same_v<T, std::int8_t>) return H5T_NATIVE_INT8;
  if constexpr (std::is_same_v<T, std::uint8_t>) return H5T_NATIVE_UINT8;
  if constexpr (std::is_same_v<T, std::int32_t>) return H5T_NATIVE_INT32;
  if constexpr (std::is_same_v<T, std::uint32_t>) return H5T_NATIVE_UINT32;
  if constexpr (std::is_same_v<T, std::int64_t>) return H5T_NATIVE_INT64;
  if constexpr (std::is_same_v<T, std::uint64_t>) return H5T_NATIVE_UINT64;
}

}  // namespace

H5Handle& H5Handle::operator=(H5Handle&& o) noexcept {
  if (this != &o) {
    if (valid() && closer_ != nullptr) closer_(id_);
    id_ = o.id_;
    closer_ = o.closer_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

H5Handle::~H5Handle() {
  if (valid() && closer_ != nullptr) closer_(id_);
}

H5Reader::H5Reader(const std::filesystem::path& file) : file_(file.string()) {
  silence_hdf5();
  if (!std::filesystem::exists(file)) throw ModelError(cat(file_, ": file not found"));
  if (H5Fis_hdf5(file_.c_str()) <= 0) throw ModelError(cat(file_, ": not an HDF5 file"));
  handle_ = H5Handle(H5Fopen(file_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!handle_.valid()) throw ModelError(cat(file_, ": cannot open HDF5 file (truncated or corrupt?)"));
}

bool H5Reader::has(const std::string& path) const {
  // Check every prefix: H5Lexists fails rather than returning false when an intermediate group is missing.
  std::size_t pos = 0;
  while ((pos = path.find('/', pos + 1)) != std::string::npos) {
    if (H5Lexists(handle_.get(), path.substr(0, pos).c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return H5Lexists(handle_.get(), path.c_str(), H5P_DEFAULT) > 0;
}

std::vector<std::string> H5Reader::children(const std::string& group) const {
  H5Handle g(H5Gopen2(handle_.get(), group.c_str(), H5P_DEFAULT), H5Gclose);
  if (!g.valid()) throw ModelError(cat(file_, ": group '", group, "' missing or unreadable"));
  H5G_info_t info{};
  if (H5Gget_info(g.get(), &info) < 0) throw ModelError(cat(file_, ": cannot list group '", group, "'"));
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t len =
        H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (len < 0) throw ModelError(cat(file_, ": cannot read link ", i, " of '", group, "'"));
    std::string name(static_cast<std::size_t>(len), '\0');
    H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size() + 1,
                       H5P_DEFAULT);
    names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool H5Reader::has_attribute(const std::string& object, const std::string& attr) const {
  return H5Aexists_by_name(handle_.get(), object.c_str(), attr.c_str(), H5P_DEFAULT) > 0;
}

std::int64_t H5Reader::read_int_attribute(const std::string& object, const std::string& attr) const {
  H5Handle a(H5Aopen_by_name(handle_.get(), object.c_str(), attr.c_str(), H5P_DEFAULT, H5P_DEFAULT),
             H5Aclose);
  if (!a.valid()) throw ModelError(cat(file_, ": ", object, ": attribute '", attr, "' missing"));
  H5Handle type(H5Aget_type(a.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_INTEGER) {
    throw ModelError(cat(file_, ": ", object, ": attribute '", attr, "' must be an integer"));
  }
  std::int64_t v = 0;
  if (H5Aread(a.get(), H5T_NATIVE_INT64, &v) < 0)
    throw ModelError(cat(file_, ": ", object, ": cannot read '", attr, "'"));
  return v;
}

double H5Reader::read_double_attribute(const std::string& object, const std::string& attr) const {
  H5Handle a(H5Aopen_by_name(handle_.get(), object.c_str(), attr.c_str(), H5P_DEFAULT, H5P_DEFAULT),
             H5Aclose);
  if (!a.valid()) throw ModelError(cat(file_, ": ", object, ": attribute '", attr, "' missing"));
  double v = 0;
  if (H5Aread(a.get(), H5T_NATIVE_DOUBLE, &v) < 0)
    throw ModelError(cat(file_, ": ", object, ": cannot read '", attr, "'"));
  return v;
}

std::string H5Reader::read_string_attribute(const std::string& object, const std::string& attr) const {
  H5Handle a(H5Aopen_by_name(handle_.get(), object.c_str(), attr.c_str(), H5P_DEFAULT, H5P_DEFAULT),
             H5Aclose);
  if (!a.valid()) throw ModelError(cat(file_, ": ", object, ": attribute '", attr, "' missing"));
  H5Handle type(H5Aget_type(a.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING) {
    throw ModelError(cat(file_, ": ", object, ": attribute '", attr, "' must be a string"));
  }
  if (H5Tis_variable_str(type.get()) > 0) {
    char* raw = nullptr;
    H5Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    if (H5Aread(a.get(), mem.get(), static_cast<void*>(&raw)) < 0 || raw == nullptr) {
      throw ModelError(cat(file_, ": ", object, ": cannot read '", attr, "'"));
    }
    std::string s(raw);
    H5free_memory(raw);
    return s;
  }
  const std::size_t size = H5Tget_size(type.get());
  if (size > H5Aget_storage_size(a.get()))
    throw ModelError(cat(file_, ": ", object, ": attribute '", attr, "' declares ", size,
                         " bytes but stores ", H5Aget_storage_size(a.get()), " (corrupt)"));
  std::string s(size, '\0');
  if (H5Aread(a.get(), type.get(), s.data()) < 0)
    throw ModelError(cat(file_, ": ", object, ": cannot read '", attr, "'"));
  s.erase(std::find(s.begin(), s.end(), '\0'), s.end());
  return s;
}

std::vector<std::string> H5Reader::read_string_list_attribute(const std::string& object,
                                                              const std::string& attr) const {
  if (!has_attribute(object, attr)) {
    std::vector<std::string> joined;
    for (int chunk = 0; has_attribute(object, attr + std::to_string(chunk)); ++chunk) {
      auto part = read_string_list_attribute(object, attr + std::to_string(chunk));
      joined.insert(joined.end(), part.begin(), part.end());
    }
    if (joined.empty() && !has_attribute(object, attr + "0"))
      throw ModelError(cat(file_, ": ", object, ": attribute '", attr, "' missing"));
    return joined;
  }
  H5Handle a(H5Aopen_by_name(handle_.get(), object.c_str(), attr.c_str(), H5P_DEFAULT, H5P_DEFAULT),
             H5Aclose);
  if (!a.valid()) throw ModelError(cat(file_, ": ", object, ": attribute '", attr, "' unreadable"));
  H5Handle type(H5Aget_type(a.get()), H5Tclose);
  H5Handle space(H5Aget_space(a.get()), H5Sclose);
  const hssize_t n_points = H5Sget_simple_extent_npoints(space.get());
  if (n_points < 0) throw ModelError(cat(file_, ": ", object, ": attribute '", attr, "' has no extent"));
  const auto n = static_cast<std::size_t>(n_points);
  // Keras stores an empty list as an empty float64 array (h5py's default for []).
  if (n == 0) return {};
  if (H5Tget_class(type.get()) != H5T_STRING) {
    throw ModelError(cat(file_, ": ", object, ": attribute '", attr, "' must hold strings"));
  }
  std::vector<std::string> out;
  if (H5Tis_variable_str(type.get()) > 0) {
    // Each variable-length string stores at least a 16-byte heap reference.
    if (n > H5Aget_storage_size(a.get()) / 16 + 1)
      throw ModelError(
          cat(file_, ": ", object, ": attribute '", attr, "' declares ", n, " strings (corrupt)"));
    std::vector<char*> raw(n, nullptr);
    H5Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
    if (n > 0 && H5Aread(a.get(), mem.get(), static_cast<void*>(raw.data())) < 0)
      throw ModelError(cat(file_, ": ", object, ": cannot read '", attr, "'"));
    for (char* r : raw) {
      out.emplace_back(r != nullptr ? r : "");
      if (r != nullptr) H5free_memory(r);
    }
    return out;
  }
  const std::size_t size = H5Tget_size(type.get());
  if (checked_mul<ModelError>(std::uint64_t{size}, std::uint64_t{n},
                              cat(file_, ": ", object, ": attribute '", attr, "'")) >
      H5Aget_storage_size(a.get())) {
    throw ModelError(cat(file_, ": ", object, ": attribute '", attr, "' declares ", n, " strings of ", size,
                         " bytes but stores ", H5Aget_storage_size(a.get()), " (corrupt)"));
  }
  std::string buffer(size * n, '\0');
  if (n > 0 && H5Aread(a.get(), type.get(), buffer.data()) < 0)
    throw ModelError(cat(file_, ": ", object, ": cannot read '", attr, "'"));
  for (std::size_t i = 0; i < n; ++i) {
    std::string s = buffer.substr(i * size, size);
    s.erase(std::find(s.begin(), s.end(), '\0'), s.end());
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::int64_t> H5Reader::shape(const std::string& dataset) const {
  H5Handle d(H5Dopen2(handle_.get(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (!d.valid()) throw ModelError(cat(file_, ": dataset '", dataset, "' missing"));
  H5Handle space(H5Dget_space(d.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) throw ModelError(cat(file_, ": dataset '", dataset, "': unreadable dataspace"));
  if (static_cast<std::size_t>(rank) > max_rank)
    throw ModelError(
        cat(file_, ": dataset '", dataset, "' has ", rank, " dimensions (at most ", max_rank, ")"));
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  std::vector<std::int64_t> out;
  out.reserve(dims.size());
  for (const hsize_t v : dims)
    out.push_back(
        checked_cast<std::int64_t, ModelError>(v, cat(file_, ": dataset '", dataset, "' dimension")));
  (void)checked_numel<ModelError>(out, cat(file_, ": dataset '", dataset, "' shape ", shape_str(out)));
  return out;
}

void H5Reader::check_stored(hid_t d, const std::string& dataset, std::uint64_t elements) const {
  const std::string what = cat(file_, ": dataset '", dataset, "'");
  H5Handle type(H5Dget_type(d), H5Tclose);
  const std::uint64_t declared =
      checked_mul<ModelError>(elements, std::uint64_t{H5Tget_size(type.get())}, what + " size");
  H5Handle dcpl(H5Dget_create_plist(d), H5Pclose);
  const H5D_layout_t layout = H5Pget_layout(dcpl.get());
  if (layout == H5D_VIRTUAL)
    throw ModelError(cat(what, " is a virtual dataset (it maps other files): not supported"));
  if (H5Pget_external_count(dcpl.get()) > 0)
    throw ModelError(cat(what, " keeps its data in external files: not supported"));
  hsize_t file_size = 0;
  H5Fget_filesize(handle_.get(), &file_size);
  const hsize_t stored = H5Dget_storage_size(d);
  if (stored > file_size) {
    throw ModelError(
        cat(what, " stores ", stored, " bytes but the file has ", file_size, " (truncated or corrupt)"));
  }
  if (elements == 0) return;
  // HDF5 returns fill values for space that was declared but never written: a small file could declare
  // gigabytes. The declared bytes must be stored (compressed chunks: every chunk present, within deflate's
  // ~1032:1 ratio of what is stored).
  if (layout == H5D_CHUNKED) {
    H5Handle space(H5Dget_space(d), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
    std::vector<hsize_t> chunk(dims.size());
    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    if (H5Pget_chunk(dcpl.get(), rank, chunk.data()) != rank)
      throw ModelError(cat(what, ": unreadable chunk layout"));
    std::uint64_t chunks = 1;
    for (std::size_t i = 0; i < dims.size(); ++i)
      chunks = checked_mul<ModelError>(
          chunks, std::uint64_t{(dims[i] + chunk[i] - 1) / std::max<hsize_t>(chunk[i], 1)}, what);
    hsize_t written = 0;
    if (H5Dget_num_chunks(d, H5S_ALL, &written) < 0) throw ModelError(cat(what, ": unreadable chunk index"));
    if (written < chunks) {
      throw ModelError(cat(what, " declares ", shape_str({dims.begin(), dims.end()}), " (", declared,
                           " bytes) but only ", written, " of its ", chunks,
                           " chunks were written (an unwritten or truncated dataset)"));
    }
    if (H5Pget_nfilters(dcpl.get()) > 0 && declared / 1100 > stored) {
      throw ModelError(
          cat(what, " declares ", declared, " bytes but stores ", stored,
              " compressed: more than deflate's ~1032:1 ratio (corrupt or a decompression bomb)"));
    }
    return;
  }
  if (stored < declared) {
    throw ModelError(cat(what, " declares ", declared, " bytes but stores ", stored,
                         " (never written, or the file is truncated)"));
  }
}

template <class T>
std::vector<T> H5Reader::read(const std::string& dataset) const {
  H5Handle d(H5Dopen2(handle_.get(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (!d.valid()) throw ModelError(cat(file_, ": dataset '", dataset, "' missing"));
  H5Handle type(H5Dget_type(d.get()), H5Tclose);
  const H5T_class_t cls = H5Tget_class(type.get());
  if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
    throw ModelError(cat(file_, ": dataset '", dataset, "' is not numeric"));
  }
  if (std::is_floating_point_v<T> != (cls == H5T_FLOAT)) {
    throw ModelError(cat(file_, ": dataset '", dataset, "' has ",
                         cls == H5T_FLOAT ? "floating-point" : "integer", " values, expected ",
                         std::is_floating_point_v<T> ? "floating-point" : "integer"));
  }
  std::int64_t n = 1;
  for (const auto s : shape(dataset))
    n *= s;  // checked by shape()
  check_stored(d.get(), dataset, static_cast<std::uint64_t>(n));
  std::vector<T> out(static_cast<std::size_t>(n));
  if (n > 0 && H5Dread(d.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0) {
    throw ModelError(cat(file_, ": cannot read dataset '", dataset, "' (file truncated or corrupt?)"));
  }
  return out;
}

template std::vector<float> H5Reader::read<float>(const std::string&) const;
template std::vector<double> H5Reader::read<double>(const std::string&) const;
template std::vector<std::int8_t> H5Reader::read<std::int8_t>(const std::string&) const;
template std::vector<std::int32_t> H5Reader::read<std::int32_t>(const std::string&) const;
template std::vector<std::uint32_t> H5Reader::read<std::uint32_t>(const std::string&) const;
template std::vector<std::int64_t> H5Reader::read<std::int64_t>(const std::string&) const;
template std::vector<std::uint64_t> H5Reader::read<std::uint64_t>(const std::string&) const;

void H5Reader::read_rows(const std::string& dataset, std::int64_t row0, std::int64_t count,
                         std::span<float> out) const {
  const std::vector<std::int64_t> dims = shape(dataset);
  if (dims.size() != 2) {
    throw ModelError(cat(file_, ": dataset '", dataset, "' has ", dims.size(), " dimensions, expected 2"));
  }
  if (row0 < 0 || count < 0 || row0 + count > dims[0]) {
    throw ModelError(cat(file_, ": dataset '", dataset, "' has ", dims[0], " rows, rows ", row0, " .. ",
                         row0 + count - 1, " requested"));
  }
  if (out.size() != static_cast<std::size_t>(count * dims[1])) {
    throw ModelError(cat(file_, ": dataset '", dataset, "': buffer of ", out.size(), " values for ", count,
                         " rows of ", dims[1]));
  }
  if (count == 0 || dims[1] == 0) return;
  H5Handle d(H5Dopen2(handle_.get(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
  if (!d.valid()) throw ModelError(cat(file_, ": dataset '", dataset, "' missing"));
  H5Handle type(H5Dget_type(d.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_FLOAT) {
    throw ModelError(cat(file_, ": dataset '", dataset, "' does not hold floating-point values"));
  }
  check_stored(d.get(), dataset, static_cast<std::uint64_t>(dims[0] * dims[1]));
  H5Handle file_space(H5Dget_space(d.get()), H5Sclose);
  const std::array<hsize_t, 2> start = {static_cast<hsize_t>(row0), 0};
  const std::array<hsize_t, 2> extent = {static_cast<hsize_t>(count), static_cast<hsize_t>(dims[1])};
  H5Handle memory_space(H5Screate_simple(2, extent.data(), nullptr), H5Sclose);
  if (!file_space.valid() || !memory_space.valid() ||
      H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, extent.data(), nullptr) <
          0 ||
      H5Dread(d.get(), H5T_NATIVE_FLOAT, memory_space.get(), file_space.get(), H5P_DEFAULT, out.data()) < 0) {
    throw ModelError(cat(file_, ": cannot read rows ", row0, " .. ", row0 + count - 1, " of dataset '",
                         dataset, "' (file truncated or corrupt?)"));
  }
}

H5Writer::H5Writer(const std::filesystem::path& file) : file_(file) {
  silence_hdf5();
  // The file is built in memory (HDF5's core driver, no backing store) and written out by commit() through
  // write_file_atomic: HDF5 never writes to disk itself, so a full disk is reported like any other output
  // ("disk full") and leaves no partial file and no HDF5 state behind.
  H5Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (!fapl.valid() || H5Pset_fapl_core(fapl.get(), std::size_t{1} << 20, 0) < 0)
    throw ModelError(cat(file_.string(), ": cannot set up an in-memory HDF5 file"));
  handle_ = H5Handle(H5Fcreate(file_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose);
  if (!handle_.valid()) throw ModelError(cat(file_.string(), ": cannot create HDF5 file"));
}

H5Writer::~H5Writer() = default;

void H5Writer::create_group(const std::string& path) {
  H5Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  H5Handle g(H5Gcreate2(handle_.get(), path.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  if (!g.valid()) throw ModelError(cat(file_.string(), ": cannot create group '", path, "'"));
}

namespace {
void write_attr(hid_t file, const std::string& where, const std::string& object, const std::string& attr,
                hid_t mem_type, hid_t file_type, const void* value) {
  H5Handle obj(H5Oopen(file, object.c_str(), H5P_DEFAULT), H5Oclose);
  H5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  H5Handle a(H5Acreate2(obj.get(), attr.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!obj.valid() || !a.valid() || H5Awrite(a.get(), mem_type, value) < 0) {
    throw ModelError(cat(where, ": cannot write attribute '", attr, "' on '", object, "'"));
  }
}
}  // namespace

void H5Writer::write_attribute(const std::string& object, const std::string& attr, std::int64_t value) {
  write_attr(handle_.get(), file_.string(), object, attr, H5T_NATIVE_INT64, H5T_STD_I64LE, &value);
}

void H5Writer::write_attribute(const std::string& object, const std::string& attr, double value) {
  write_attr(handle_.get(), file_.string(), object, attr, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, &value);
}

void H5Writer::write_attribute(const std::string& object, const std::string& attr, const std::string& value) {
  H5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), std::max<std::size_t>(1, value.size()));
  write_attr(handle_.get(), file_.string(), object, attr, type.get(), type.get(), value.c_str());
}

void H5Writer::write_attribute(const std::string& object, const std::string& attr,
                               const std::vector<std::string>& values) {
  std::size_t width = 1;
  for (const auto& v : values)
    width = std::max(width, v.size());
  std::string buffer(width * values.size(), '\0');
  for (std::size_t i = 0; i < values.size(); ++i)
    std::copy(values[i].begin(), values[i].end(), buffer.begin() + static_cast<std::ptrdiff_t>(i * width));
  H5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), width);
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  const hsize_t dims = values.size();
  H5Handle obj(H5Oopen(handle_.get(), object.c_str(), H5P_DEFAULT), H5Oclose);
  H5Handle space(H5Screate_simple(1, &dims, nullptr), H5Sclose);
  H5Handle a(H5Acreate2(obj.get(), attr.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
             H5Aclose);
  if (!obj.valid() || !a.valid() || H5Awrite(a.get(), type.get(), buffer.data()) < 0) {
    throw ModelError(cat(file_.string(), ": cannot write attribute '", attr, "' on '", object, "'"));
  }
}

template <class T>
void H5Writer::write(const std::string& dataset, const std::vector<T>& data,
                     const std::vector<std::int64_t>& shape) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  H5Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  H5Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  H5Handle d(H5Dcreate2(handle_.get(), dataset.c_str(), native_type<T>(), space.get(), lcpl.get(),
                        H5P_DEFAULT, H5P_DEFAULT),
             H5Dclose);
  if (!d.valid() || (!data.empty() &&
                     H5Dwrite(d.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()) < 0)) {
    throw ModelError(cat(file_.string(), ": cannot write dataset '", dataset, "'"));
  }
}

template void H5Writer::write<float>(const std::string&, const std::vector<float>&,
                                     const std::vector<std::int64_t>&);
template void H5Writer::write<std::int8_t>(const std::string&, const std::vector<std::int8_t>&,
                                           const std::vector<std::int64_t>&);
template void H5Writer::write<std::int32_t>(const std::string&, const std::vector<std::int32_t>&,
                                            const std::vector<std::int64_t>&);
template void H5Writer::write<std::uint32_t>(const std::string&, const std::vector<std::uint32_t>&,
                                             const std::vector<std::int64_t>&);
template void H5Writer::write<std::uint64_t>(const std::string&, const std::vector<std::uint64_t>&,
                                             const std::vector<std::int64_t>&);

void H5Writer::commit() {
  if (H5Fflush(handle_.get(), H5F_SCOPE_GLOBAL) < 0) throw ModelError(cat(file_.string(), ": flush failed"));
  const ssize_t size = H5Fget_file_image(handle_.get(), nullptr, 0);
  if (size < 0) throw ModelError(cat(file_.string(), ": cannot build the HDF5 file image"));
  std::string image(static_cast<std::size_t>(size), '\0');
  if (H5Fget_file_image(handle_.get(), image.data(), image.size()) != size)
    throw ModelError(cat(file_.string(), ": cannot build the HDF5 file image"));
  handle_ = H5Handle();
  write_file_atomic(file_, image);
}

}  // namespace spikesim::models
