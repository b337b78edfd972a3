#pragma once
// Thin RAII layer over the HDF5 C API: every failure becomes a ModelError naming the file and the object.

#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "models/error.hpp"

namespace spikesim::models {

// Owns one hid_t and closes it with the matching H5*close.
class H5Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  H5Handle() = default;
  H5Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  H5Handle(H5Handle&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = H5I_INVALID_HID; }
  H5Handle& operator=(H5Handle&& o) noexcept;
  ~H5Handle();
  [[nodiscard]] hid_t get() const { return id_; }
  [[nodiscard]] bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

class H5Reader {
 public:
  explicit H5Reader(const std::filesystem::path& file);  // throws ModelError if missing / not HDF5 / corrupt
  [[nodiscard]] const std::string& file() const { return file_; }

  [[nodiscard]] bool has(const std::string& path) const;                            // link exists
  [[nodiscard]] std::vector<std::string> children(const std::string& group) const;  // sorted by name
  [[nodiscard]] bool has_attribute(const std::string& object, const std::string& attr) const;
  [[nodiscard]] std::int64_t read_int_attribute(const std::string& object, const std::string& attr) const;
  [[nodiscard]] double read_double_attribute(const std::string& object, const std::string& attr) const;
  [[nodiscard]] std::string read_string_attribute(const std::string& object, const std::string& attr) const;
  // A 1-D array of strings (fixed-length, as numpy 'S' arrays from h5py, or variable-length). Keras splits
  // long lists into attr0, attr1, ...: those are read and joined when `attr` itself is absent.
  [[nodiscard]] std::vector<std::string> read_string_list_attribute(const std::string& object,
                                                                    const std::string& attr) const;
  [[nodiscard]] std::vector<std::int64_t> shape(const std::string& dataset) const;
  // Reads a numeric dataset converted to T; checks the element count against `shape`.
  template <class T>
  [[nodiscard]] std::vector<T> read(const std::string& dataset) const;
  // Rows row0 .. row0 + count - 1 of a 2-D float dataset [rows][cols] into `out` (count * cols values),
  // reading only those rows (hyperslab): how long traces are streamed in chunks.
  void read_rows(const std::string& dataset, std::int64_t row0, std::int64_t count,
                 std::span<float> out) const;

 private:
  // ModelError unless the file stores every declared byte of the open dataset `d` (checked before reading).
  void check_stored(hid_t d, const std::string& dataset, std::uint64_t elements) const;

  std::string file_;
  H5Handle handle_;
};

// Builds the file in memory and writes it in commit() to `<file>.partial`, renamed onto `file`
// (base/files.hpp write_file_atomic), so a failed write — a full disk included — leaves nothing behind.
class H5Writer {
 public:
  explicit H5Writer(const std::filesystem::path& file);
  ~H5Writer();
  H5Writer(const H5Writer&) = delete;
  H5Writer& operator=(const H5Writer&) = delete;

  void create_group(const std::string& path);
  void write_attribute(const std::string& object, const std::string& attr, std::int64_t value);
  void write_attribute(const std::string& object, const std::string& attr, double value);
  void write_attribute(const std::string& object, const std::string& attr, const std::string& value);
  // A 1-D array of fixed-length strings (what h5py writes for a list of bytes).
  void write_attribute(const std::string& object, const std::string& attr,
                       const std::vector<std::string>& values);
  template <class T>
  void write(const std::string& dataset, const std::vector<T>& data, const std::vector<std::int64_t>& shape);
  void commit();  // closes and renames into place

 private:
  std::filesystem::path file_;
  H5Handle handle_;
};

}  // namespace spikesim::models
