#pragma once
// CSV fields per RFC 4180: a field holding a comma, a double quote, CR or LF is written in double quotes with
// its quotes doubled; any other field is written as is (so ordinary names and numbers keep their bytes).

#include <string>
#include <string_view>

namespace spikesim {

inline std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (const char ch : text) {
    if (ch == '"') out += '"';
    out += ch;
  }
  out += '"';
  return out;
}

}  // namespace spikesim
