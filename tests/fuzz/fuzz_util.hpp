#pragma once
// Shared by the libFuzzer harnesses (one per loader, <loader>_fuzz.cpp): a private scratch directory, files
// written from the fuzz input, and the rule every harness applies — a loader may reject any input with a
// UserError (the clean error every bad file must get); anything else (another exception, a crash, a sanitizer
// report, a leak, an allocation above -malloc_limit_mb, a timeout) is a finding.

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "base/error.hpp"

namespace spikesim::fuzz {

// A directory of this process's own, removed at exit.
inline const std::filesystem::path& scratch() {
  static const std::filesystem::path dir = [] {
    const char* tmp = std::getenv("TMPDIR");  // NOLINT(concurrency-mt-unsafe): once, before any thread
    std::string pattern =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/spikesim-fuzz-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch(), ec);
    });
    return std::filesystem::path(pattern);
  }();
  return dir;
}

inline void write_file(const std::filesystem::path& file, std::string_view bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
}

// Runs f(); a UserError is the expected outcome for a bad input and is swallowed.
template <class F>
void expect_clean(F&& f) {
  try {
    f();
  } catch (const UserError&) {
  }
}

// Splits `text` at the first line equal to `marker`: {before, after} (after empty when absent).
inline std::pair<std::string_view, std::string_view> split_at_line(std::string_view text,
                                                                   std::string_view marker) {
  const std::string needle = "\n" + std::string(marker) + "\n";
  const auto at = text.find(needle);
  if (at == std::string_view::npos) return {text, {}};
  return {text.substr(0, at), text.substr(at + needle.size())};
}

}  // namespace spikesim::fuzz
