#pragma once
// JSON read from files, with errors that name the file and the key path instead of nlohmann's bare
// "type must be number". E is the component's UserError (models::ModelError, energy::ProfileError, ...).
//
//   const nlohmann::json doc = parse_json_file<ModelError>(path);       // "<file>: not valid JSON (line 3,
//   ...)" const JsonAt<ModelError> j(doc, path.string()); const std::int64_t layers =
//   j.at("num_hidden_layers").integer(1, 4096);
//       // "<file>: key 'num_hidden_layers' must be an integer in [1, 4096], found 64.5"
//   const double theta = j.number_or("rope_theta", 1e4, 0.0);          // absent or null: the fallback
//   for (const auto& [name, layer] : j.at("layers").items()) ...        // paths "layers.conv1", "a[2].b"
//
// Numbers must be finite (nlohmann reads 1e400 as inf); integers must be whole (64.0 is 64, 64.5 is an
// error).

#include <cmath>
#include <concepts>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/text.hpp"

namespace spikesim {

// nlohmann's message without its "[json.exception.parse_error.101] " prefix.
inline std::string json_error_text(const nlohmann::json::exception& e) {
  std::string s = e.what();
  if (s.rfind("[json.exception.", 0) == 0) {
    const auto close = s.find("] ");
    if (close != std::string::npos) s.erase(0, close + 2);
  }
  return s;
}

// Parses `text`; E "<where>: not valid JSON (...)" on a syntax error.
template <class E, class J = nlohmann::json>
J parse_json(std::string_view text, std::string_view where) {
  try {
    return J::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    throw E(cat(where, ": not valid JSON (", json_error_text(e), ")"));
  }
}

// Reads and parses a whole file; E naming the file when it is missing, unreadable or not JSON.
template <class E, class J = nlohmann::json>
J parse_json_file(const std::filesystem::path& file) {
  const std::string f = file.string();
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) throw E(cat(f, ": file not found"));
  if (std::filesystem::is_directory(file, ec)) throw E(cat(f, ": is a directory, expected a JSON file"));
  std::ifstream in(file, std::ios::binary);
  if (!in) throw E(cat(f, ": cannot open"));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw E(cat(f, ": read error"));
  return parse_json<E, J>(text.str(), f);
}

// Runs f(); a nlohmann exception escaping it (code that indexes JSON directly) becomes E naming `where`.
template <class E, class F>
decltype(auto) with_json_errors(std::string_view where, F&& f) {
  try {
    return std::forward<F>(f)();
  } catch (const nlohmann::json::exception& e) {
    throw E(cat(where, ": ", json_error_text(e)));
  }
}

// A JSON value with the file it came from and its key path, read with typed getters whose errors name both.
template <class E, class J = nlohmann::json>
class JsonAt {
 public:
  JsonAt(const J& value, std::string file, std::string path = {})
      : value_(&value), file_(std::move(file)), path_(std::move(path)) {}

  [[nodiscard]] const J& json() const { return *value_; }
  [[nodiscard]] const std::string& file() const { return file_; }
  [[nodiscard]] const std::string& path() const { return path_; }
  // "<file>: key 'a.b'" (or just the file at the root).
  [[nodiscard]] std::string where() const {
    return path_.empty() ? file_ : cat(file_, ": key '", path_, "'");
  }
  [[noreturn]] void fail(std::string_view why) const { throw E(cat(where(), " ", why)); }

  [[nodiscard]] bool is_null() const { return value_->is_null(); }
  [[nodiscard]] bool is_object() const { return value_->is_object(); }
  [[nodiscard]] bool is_array() const { return value_->is_array(); }
  [[nodiscard]] bool is_string() const { return value_->is_string(); }
  [[nodiscard]] bool is_number() const { return value_->is_number(); }
  [[nodiscard]] bool is_boolean() const { return value_->is_boolean(); }

  // The key is present and not null.
  [[nodiscard]] bool has(std::string_view key) const {
    if (!value_->is_object()) return false;
    const auto it = value_->find(key);
    return it != value_->end() && !it->is_null();
  }
  [[nodiscard]] JsonAt at(std::string_view key) const {
    if (!value_->is_object()) fail(cat("must be an object, found ", found()));
    const auto it = value_->find(key);
    if (it == value_->end() || it->is_null()) throw E(cat(file_, ": key '", child(key), "' missing"));
    return {*it, file_, child(key)};
  }
  [[nodiscard]] std::size_t size() const {
    if (!value_->is_array()) fail(cat("must be an array, found ", found()));
    return value_->size();
  }
  [[nodiscard]] JsonAt at(std::size_t i) const {
    if (i >= size()) fail(cat("has ", value_->size(), " elements, element ", i, " missing"));
    return {(*value_)[i], file_, cat(path_, "[", i, "]")};
  }
  // Elements of an array, or (key, value) pairs of an object, in order.
  [[nodiscard]] std::vector<JsonAt> elements() const {
    std::vector<JsonAt> out;
    out.reserve(size());
    for (std::size_t i = 0; i < value_->size(); ++i)
      out.push_back(at(i));
    return out;
  }
  [[nodiscard]] std::vector<std::pair<std::string, JsonAt>> items() const {
    if (!value_->is_object()) fail(cat("must be an object, found ", found()));
    std::vector<std::pair<std::string, JsonAt>> out;
    for (auto it = value_->begin(); it != value_->end(); ++it)
      out.emplace_back(it.key(), JsonAt(it.value(), file_, child(it.key())));
    return out;
  }

  [[nodiscard]] std::int64_t integer(std::int64_t lo = std::numeric_limits<std::int64_t>::min(),
                                     std::int64_t hi = std::numeric_limits<std::int64_t>::max()) const {
    std::int64_t v = 0;
    bool ok = false;
    if (value_->is_number_integer()) {
      if (value_->is_number_unsigned()) {
        const auto u = value_->template get<std::uint64_t>();
        ok = u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
        v = static_cast<std::int64_t>(u);
      } else {
        v = value_->template get<std::int64_t>();
        ok = true;
      }
    } else if (value_->is_number_float()) {
      const auto d = value_->template get<double>();
      ok = std::isfinite(d) && std::trunc(d) == d && std::fabs(d) <= 9007199254740992.0;  // 2^53
      if (ok) v = static_cast<std::int64_t>(d);
    }
    if (!ok || v < lo || v > hi) fail(cat("must be an integer", range_text(lo, hi), ", found ", found()));
    return v;
  }
  [[nodiscard]] double number(double lo = std::numeric_limits<double>::lowest(),
                              double hi = std::numeric_limits<double>::max()) const {
    const bool ok = value_->is_number() && std::isfinite(value_->template get<double>());
    const double v = ok ? value_->template get<double>() : 0.0;
    if (!ok || v < lo || v > hi)
      fail(cat("must be a finite number", range_text(lo, hi), ", found ", found()));
    return v;
  }
  [[nodiscard]] bool boolean() const {
    if (!value_->is_boolean()) fail(cat("must be true or false, found ", found()));
    return value_->template get<bool>();
  }
  [[nodiscard]] std::string string() const {
    if (!value_->is_string()) fail(cat("must be a string, found ", found()));
    return value_->template get<std::string>();
  }

  // Optional keys: absent or null gives the fallback; present values are checked as above.
  [[nodiscard]] std::int64_t integer_or(std::string_view key, std::int64_t fallback,
                                        std::int64_t lo = std::numeric_limits<std::int64_t>::min(),
                                        std::int64_t hi = std::numeric_limits<std::int64_t>::max()) const {
    return has(key) ? at(key).integer(lo, hi) : fallback;
  }
  [[nodiscard]] double number_or(std::string_view key, double fallback,
                                 double lo = std::numeric_limits<double>::lowest(),
                                 double hi = std::numeric_limits<double>::max()) const {
    return has(key) ? at(key).number(lo, hi) : fallback;
  }
  [[nodiscard]] bool boolean_or(std::string_view key, bool fallback) const {
    return has(key) ? at(key).boolean() : fallback;
  }
  [[nodiscard]] std::string string_or(std::string_view key, std::string fallback) const {
    return has(key) ? at(key).string() : std::move(fallback);
  }

  // The value as written, shortened for messages.
  [[nodiscard]] std::string found() const {
    std::string s = value_->dump();
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    return s;
  }

 private:
  [[nodiscard]] std::string child(std::string_view key) const {
    return path_.empty() ? std::string(key) : cat(path_, ".", key);
  }
  template <class T>
  static std::string range_text(T lo, T hi) {
    const bool has_lo = lo != std::numeric_limits<T>::lowest();
    const bool has_hi = hi != std::numeric_limits<T>::max();
    if (has_lo && has_hi) return cat(" in [", lo, ", ", hi, "]");
    if (has_lo) return cat(" >= ", lo);
    if (has_hi) return cat(" <= ", hi);
    return "";
  }

  const J* value_;
  std::string file_;
  std::string path_;
};

}  // namespace spikesim
