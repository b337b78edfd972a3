#include "models/tokenizer_json.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <queue>
#include <set>
#include <sstream>
#include <unordered_map>

#include "base/text.hpp"
#include "models/error.hpp"

namespace spikesim::models {

namespace {

using Json = nlohmann::json;

// ------------------------------------------------------------------------------------------------ errors

// A value as it appears in the file, shortened for a message.
std::string shown(const Json& j) {
  std::string s = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

// Reads the JSON of one tokenizer.json and names every problem by file and key path.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}
  [[nodiscard]] const std::string& file() const { return file_; }

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw ModelError(cat(file_, ": ", key, ": ", what));
  }
  // obj[name], which must exist.
  const Json& at(const Json& obj, const std::string& key, const char* name) const {
    if (!obj.is_object()) fail(key, cat("expected an object, found ", shown(obj)));
    const auto it = obj.find(name);
    if (it == obj.end()) fail(join(key, name), "missing");
    return *it;
  }
  [[nodiscard]] static const Json* find(const Json& obj, const char* name) {
    if (!obj.is_object()) return nullptr;
    const auto it = obj.find(name);
    return it == obj.end() ? nullptr : &*it;
  }
  std::string string(const Json& obj, const std::string& key, const char* name) const {
    const Json& v = at(obj, key, name);
    if (!v.is_string()) fail(join(key, name), cat("expected a string, found ", shown(v)));
    return v.get<std::string>();
  }
  bool boolean(const Json& obj, const std::string& key, const char* name) const {
    const Json& v = at(obj, key, name);
    if (!v.is_boolean()) fail(join(key, name), cat("expected true or false, found ", shown(v)));
    return v.get<bool>();
  }
  bool boolean_or(const Json& obj, const std::string& key, const char* name, bool fallback) const {
    const Json* v = find(obj, name);
    if (v == nullptr || v->is_null()) return fallback;
    if (!v->is_boolean()) fail(join(key, name), cat("expected true or false, found ", shown(*v)));
    return v->get<bool>();
  }
  std::int64_t integer(const Json& obj, const std::string& key, const char* name, std::int64_t lo,
                       std::int64_t hi) const {
    const Json& v = at(obj, key, name);
    return integer_value(v, join(key, name), lo, hi);
  }
  std::int64_t integer_value(const Json& v, const std::string& key, std::int64_t lo, std::int64_t hi) const {
    if (!v.is_number_integer()) fail(key, cat("expected an integer, found ", shown(v)));
    if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(hi)) {
      fail(key, cat("expected an integer in [", lo, ", ", hi, "], found ", shown(v)));
    }
    const auto x = v.get<std::int64_t>();
    if (x < lo || x > hi) fail(key, cat("expected an integer in [", lo, ", ", hi, "], found ", x));
    return x;
  }
  // The "type" of a component.
  std::string type(const Json& obj, const std::string& key) const { return string(obj, key, "type"); }

  [[noreturn]] void unsupported(const std::string& key, const std::string& type,
                                const std::string& supported) const {
    fail(join(key, "type"), cat("'", type, "' is not supported (supported: ", supported, ")"));
  }

  static std::string join(const std::string& key, const char* name) {
    return key.empty() ? std::string(name) : cat(key, ".", name);
  }
  static std::string index(const std::string& key, std::size_t i) { return cat(key, "[", i, "]"); }

 private:
  std::string file_;
};

// ------------------------------------------------------------------------------------------------ UTF-8

// Byte offset of the first ill-formed sequence of `s`, or npos (ICU's strict reading: no surrogates, no
// overlong forms, nothing above U+10FFFF).
std::size_t invalid_utf8_at(std::string_view s) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
  const auto n = static_cast<std::int32_t>(s.size());
  std::int32_t i = 0;
  while (i < n) {
    const std::int32_t at = i;
    UChar32 c = 0;
    U8_NEXT(p, i, n, c);
    if (c < 0) return static_cast<std::size_t>(at);
  }
  return std::string_view::npos;
}

// Rust's String::from_utf8_lossy: each maximal ill-formed subpart becomes U+FFFD (ICU's U8_NEXT steps over
// exactly that subpart).
std::string utf8_lossy(std::string_view s) {
  if (invalid_utf8_at(s) == std::string_view::npos) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
  const auto n = static_cast<std::int32_t>(s.size());
  std::int32_t i = 0;
  while (i < n) {
    const std::int32_t at = i;
    UChar32 c = 0;
    U8_NEXT(p, i, n, c);
    if (c < 0) {
      out += "\xEF\xBF\xBD";
    } else {
      out.append(s.substr(static_cast<std::size_t>(at), static_cast<std::size_t>(i - at)));
    }
  }
  return out;
}

// Length of the UTF-8 character starting with `lead` (the text is valid UTF-8 here).
std::size_t char_len(char lead) {
  const auto b = static_cast<std::uint8_t>(lead);
  if (b < 0x80U) return 1;
  if (b < 0xE0U) return 2;
  if (b < 0xF0U) return 3;
  return 4;
}

UChar32 code_point(std::string_view s, std::size_t at) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
  auto i = static_cast<std::int32_t>(at);
  UChar32 c = 0;
  U8_NEXT(p, i, static_cast<std::int32_t>(s.size()), c);
  return c;
}

std::string utf8_of(UChar32 c) {
  std::string out;
  icu::UnicodeString(c).toUTF8String(out);
  return out;
}

// A JSON string holding exactly one character (Rust's `char` fields).
UChar32 single_char(const Reader& r, const std::string& key, const std::string& s) {
  if (s.empty() || char_len(s[0]) != s.size())
    r.fail(key, cat("expected one character, found ", shown(Json(s))));
  return code_point(s, 0);
}

// Rust regex's \s (Unicode White_Space) and \w (Alphabetic, M, Nd, Pc, Join_Control): the added-token flags.
bool is_white_space(UChar32 c) {
  return u_isUWhiteSpace(c) != 0;
}
bool is_word_char(UChar32 c) {
  const auto mask = static_cast<std::uint32_t>(U_GET_GC_MASK(c));
  return u_hasBinaryProperty(c, UCHAR_ALPHABETIC) != 0 ||
         (mask & static_cast<std::uint32_t>(U_GC_M_MASK | U_GC_ND_MASK | U_GC_PC_MASK)) != 0 ||
         u_hasBinaryProperty(c, UCHAR_JOIN_CONTROL) != 0;
}

// ------------------------------------------------------------------------------------------------ regex

struct Span {
  std::size_t start = 0;
  std::size_t end = 0;
};

// One compiled pattern (PCRE2, UTF + Unicode properties, JIT when available). matches() iterates like the
// `onig` crate's find_iter, which tokenizers uses: non-overlapping, leftmost first; an empty match right
// where the previous match ended is skipped by advancing one character.
class Regex {
 public:
  Regex() = default;
  Regex(const std::string& pattern, bool literal, const Reader& r, const std::string& key)
      : pattern_(pattern), file_(r.file()) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    // (PCRE2_LITERAL takes no PCRE2_UCP; a literal needs no character classes.)
    const std::uint32_t options = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options,
                                     &error, &offset, nullptr);
    if (code == nullptr) {
      std::array<PCRE2_UCHAR, 256> message{};
      pcre2_get_error_message(error, message.data(), message.size());
      r.fail(key, cat("the regex ", shown(Json(pattern)), " does not compile (PCRE2, at offset ", offset,
                      "): ", reinterpret_cast<const char*>(message.data())));
    }
    code_ = std::shared_ptr<pcre2_code>(code, pcre2_code_free);
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // without JIT the interpreter gives the same matches
  }

  [[nodiscard]] bool empty() const { return code_ == nullptr; }

  // Appends the matches in `s` (valid UTF-8) to `out`.
  void matches(std::string_view s, std::vector<Span>& out) const {
    const Scratch& scratch = Scratch::of_this_thread();
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(s.data());
    std::size_t last_end = 0;
    std::size_t last_match_end = std::string_view::npos;
    while (last_end <= s.size()) {
      // rc 0: the one-pair ovector holds the whole match (captures are not needed).
      const int rc = pcre2_match(code_.get(), subject, s.size(), last_end, PCRE2_NO_UTF_CHECK, scratch.data,
                                 scratch.context);
      if (rc == PCRE2_ERROR_NOMATCH) break;
      if (rc < 0) {
        std::array<PCRE2_UCHAR, 256> message{};
        pcre2_get_error_message(rc, message.data(), message.size());
        throw ModelError(cat(file_, ": the regex ", shown(Json(pattern_)), " failed on the text at byte ",
                             last_end, ": ", reinterpret_cast<const char*>(message.data())));
      }
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(scratch.data);
      const Span m{ov[0], std::max(ov[0], ov[1])};
      if (m.start == m.end && last_match_end == m.end) {
        last_end += last_end < s.size() ? char_len(s[last_end]) : 1;
        continue;
      }
      last_end = m.end;
      last_match_end = m.end;
      out.push_back(m);
    }
  }

 private:
  // Match data (one offset pair), a match context and a JIT stack per thread, shared by every pattern.
  struct Scratch {
    pcre2_match_data* data = nullptr;
    pcre2_match_context* context = nullptr;
    pcre2_jit_stack* stack = nullptr;
    Scratch()
        : data(pcre2_match_data_create(1, nullptr)),
          context(pcre2_match_context_create(nullptr)),
          stack(pcre2_jit_stack_create(std::size_t{32} * 1024, std::size_t{64} * 1024 * 1024, nullptr)) {
      if (data == nullptr || context == nullptr || stack == nullptr) throw std::bad_alloc();
      pcre2_jit_stack_assign(context, nullptr, stack);
    }
    ~Scratch() {
      pcre2_jit_stack_free(stack);
      pcre2_match_context_free(context);
      pcre2_match_data_free(data);
    }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    Scratch(Scratch&&) = delete;
    Scratch& operator=(Scratch&&) = delete;
    static const Scratch& of_this_thread() {
      thread_local const Scratch scratch;
      return scratch;
    }
  };

  std::shared_ptr<pcre2_code> code_;
  std::string pattern_;
  std::string file_;
};

// tokenizers' Pattern::find_matches: the text cut into (span, is_match) covering it.
struct Cut {
  Span span;
  bool match = false;
};

std::vector<Cut> cuts_of(std::string_view s, const std::vector<Span>& matches) {
  if (s.empty()) return {Cut{{0, 0}, false}};
  std::vector<Cut> out;
  out.reserve(matches.size() * 2 + 1);
  std::size_t prev = 0;
  for (const Span& m : matches) {
    if (prev != m.start) out.push_back({{prev, m.start}, false});
    out.push_back({m, true});
    prev = m.end;
  }
  if (prev != s.size()) out.push_back({{prev, s.size()}, false});
  return out;
}

std::vector<Cut> find_cuts(const Regex& re, std::string_view s) {
  std::vector<Span> m;
  if (!s.empty()) re.matches(s, m);
  return cuts_of(s, m);
}

// Every occurrence of one character (tokenizers' Pattern for char).
std::vector<Cut> find_char_cuts(std::string_view s, std::string_view ch) {
  std::vector<Span> m;
  for (std::size_t i = 0; i < s.size(); i += char_len(s[i])) {
    if (s.compare(i, ch.size(), ch) == 0) m.push_back({i, i + ch.size()});
  }
  return cuts_of(s, m);
}

enum class Behavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

// NormalizedString::split: the spans kept, in order (empty ones are dropped by the caller).
std::vector<Span> split_spans(std::vector<Cut> cuts, Behavior behavior) {
  std::vector<std::pair<Span, bool>> acc;  // (span, remove)
  acc.reserve(cuts.size());
  switch (behavior) {
    case Behavior::isolated:
      for (const Cut& c : cuts)
        acc.emplace_back(c.span, false);
      break;
    case Behavior::removed:
      for (const Cut& c : cuts)
        acc.emplace_back(c.span, c.match);
      break;
    case Behavior::contiguous: {
      bool previous = false;
      for (const Cut& c : cuts) {
        if (c.match == previous && !acc.empty()) {
          acc.back().first.end = c.span.end;
        } else {
          acc.emplace_back(c.span, false);
        }
        previous = c.match;
      }
      break;
    }
    case Behavior::merged_with_previous: {
      bool previous = false;
      for (const Cut& c : cuts) {
        if (c.match && !previous && !acc.empty()) {
          acc.back().first.end = c.span.end;
        } else {
          acc.emplace_back(c.span, false);
        }
        previous = c.match;
      }
      break;
    }
    case Behavior::merged_with_next: {
      bool previous = false;
      for (auto it = cuts.rbegin(); it != cuts.rend(); ++it) {
        if (it->match && !previous && !acc.empty()) {
          acc.back().first.start = it->span.start;
        } else {
          acc.emplace_back(it->span, false);
        }
        previous = it->match;
      }
      std::reverse(acc.begin(), acc.end());
      break;
    }
  }
  std::vector<Span> out;
  out.reserve(acc.size());
  for (const auto& [span, remove] : acc) {
    if (!remove) out.push_back(span);
  }
  return out;
}

Behavior parse_behavior(const Reader& r, const Json& obj, const std::string& key) {
  const std::string b = r.string(obj, key, "behavior");
  if (b == "Removed") return Behavior::removed;
  if (b == "Isolated") return Behavior::isolated;
  if (b == "MergedWithPrevious") return Behavior::merged_with_previous;
  if (b == "MergedWithNext") return Behavior::merged_with_next;
  if (b == "Contiguous") return Behavior::contiguous;
  r.fail(
      Reader::join(key, "behavior"),
      cat("'", b, "' is not a behavior (Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous)"));
}

// {"String": s} (a literal) or {"Regex": r}.
Regex parse_pattern(const Reader& r, const Json& obj, const std::string& key) {
  const Json& p = r.at(obj, key, "pattern");
  const std::string pkey = Reader::join(key, "pattern");
  if (p.is_object() && p.size() == 1 && p.contains("String") && p["String"].is_string())
    return {p["String"].get<std::string>(), true, r, pkey};
  if (p.is_object() && p.size() == 1 && p.contains("Regex") && p["Regex"].is_string())
    return {p["Regex"].get<std::string>(), false, r, pkey};
  r.fail(pkey, cat("expected {\"String\": ...} or {\"Regex\": ...}, found ", shown(p)));
}

// ------------------------------------------------------------------------------------------------ byte level

// GPT-2's bytes_to_unicode: printable bytes map to themselves, the others to U+0100 + n in byte order.
struct ByteAlphabet {
  std::array<std::string, 256> char_of{};  // byte -> UTF-8 of its character
  std::unordered_map<UChar32, std::uint8_t> byte_of;
  ByteAlphabet() {
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const UChar32 c = printable ? b : 256 + n++;
      char_of[static_cast<std::size_t>(b)] = utf8_of(c);
      byte_of[c] = static_cast<std::uint8_t>(b);
    }
  }
};

const ByteAlphabet& byte_alphabet() {
  static const ByteAlphabet alphabet;
  return alphabet;
}

constexpr const char* gpt2_pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// ------------------------------------------------------------------------------------------------ pieces

// One piece of the text on its way to the model: an added token (id >= 0, final) or text still to be
// normalized / pre-tokenized / tokenized. at_start: the piece begins at byte 0 of the original text
// (tokenizers' offsets_original().0 == 0, which Metaspace's prepend_scheme "first" reads).
struct Piece {
  std::string text;
  std::int32_t id = -1;
  bool at_start = false;
};

// Appends the non-empty parts of `piece` cut at `spans` (the first one keeps at_start when it begins at 0).
void push_parts(const Piece& piece, const std::vector<Span>& spans, std::vector<Piece>& out) {
  for (const Span& s : spans) {
    if (s.end <= s.start) continue;
    out.push_back({piece.text.substr(s.start, s.end - s.start), -1, piece.at_start && s.start == 0});
  }
}

// ------------------------------------------------------------------------------------------------
// normalizers

struct NormalizerStep {
  enum class Kind { nfc, nfd, nfkc, nfkd, prepend, replace };
  Kind kind = Kind::nfc;
  std::string text;  // prepend: the prefix; replace: the content
  Regex pattern;     // replace
};

void normalize(const std::vector<NormalizerStep>& steps, std::string& s) {
  for (const NormalizerStep& n : steps) {
    switch (n.kind) {
      case NormalizerStep::Kind::nfc:
      case NormalizerStep::Kind::nfd:
      case NormalizerStep::Kind::nfkc:
      case NormalizerStep::Kind::nfkd: {
        UErrorCode status = U_ZERO_ERROR;
        const icu::Normalizer2* form =
            n.kind == NormalizerStep::Kind::nfc    ? icu::Normalizer2::getNFCInstance(status)
            : n.kind == NormalizerStep::Kind::nfd  ? icu::Normalizer2::getNFDInstance(status)
            : n.kind == NormalizerStep::Kind::nfkc ? icu::Normalizer2::getNFKCInstance(status)
                                                   : icu::Normalizer2::getNFKDInstance(status);
        std::string out;
        out.reserve(s.size());
        icu::StringByteSink<std::string> sink(&out);
        if (U_SUCCESS(status))
          form->normalizeUTF8(0, icu::StringPiece(s.data(), static_cast<std::int32_t>(s.size())), sink,
                              nullptr, status);
        if (U_FAILURE(status)) throw ModelError(cat("ICU normalization failed: ", u_errorName(status)));
        s = std::move(out);
        break;
      }
      case NormalizerStep::Kind::prepend:
        if (!s.empty()) s.insert(0, n.text);
        break;
      case NormalizerStep::Kind::replace: {
        const std::vector<Cut> cuts = find_cuts(n.pattern, s);
        std::string out;
        out.reserve(s.size());
        for (const Cut& c : cuts) {
          if (c.match) {
            out += n.text;
          } else {
            out.append(s, c.span.start, c.span.end - c.span.start);
          }
        }
        s = std::move(out);
        break;
      }
    }
  }
}

// ------------------------------------------------------------------------------------------------
// pre-tokenizers

enum class PrependScheme { always, first, never };

struct PreTokenizerStep {
  enum class Kind { byte_level, split, metaspace };
  Kind kind = Kind::byte_level;
  bool add_prefix_space = false;  // byte_level
  bool use_regex = true;          // byte_level
  Regex pattern;                  // split; byte_level with use_regex: GPT-2's
  Behavior behavior = Behavior::isolated;
  bool invert = false;
  std::string replacement;  // metaspace: one character
  PrependScheme prepend = PrependScheme::always;
  bool split = true;
};

void pre_tokenize(const PreTokenizerStep& step, std::vector<Piece>& pieces) {
  std::vector<Piece> out;
  out.reserve(pieces.size());
  for (Piece& p : pieces) {
    if (p.id >= 0) {
      out.push_back(std::move(p));
      continue;
    }
    switch (step.kind) {
      case PreTokenizerStep::Kind::byte_level: {
        if (step.add_prefix_space && p.text[0] != ' ') p.text.insert(0, " ");
        const std::size_t first = out.size();
        if (step.use_regex) {
          push_parts(p, split_spans(find_cuts(step.pattern, p.text), Behavior::isolated), out);
        } else {
          out.push_back(std::move(p));
        }
        const ByteAlphabet& alphabet = byte_alphabet();
        for (std::size_t i = first; i < out.size(); ++i) {
          std::string mapped;
          mapped.reserve(out[i].text.size() * 2);
          for (const char b : out[i].text)
            mapped += alphabet.char_of[static_cast<std::uint8_t>(b)];
          out[i].text = std::move(mapped);
        }
        break;
      }
      case PreTokenizerStep::Kind::split: {
        std::vector<Cut> cuts = find_cuts(step.pattern, p.text);
        if (step.invert) {
          for (Cut& c : cuts)
            c.match = !c.match;
        }
        push_parts(p, split_spans(std::move(cuts), step.behavior), out);
        break;
      }
      case PreTokenizerStep::Kind::metaspace: {
        std::string replaced;
        replaced.reserve(p.text.size() + 8);
        for (const char ch : p.text) {
          if (ch == ' ') {
            replaced += step.replacement;
          } else {
            replaced += ch;
          }
        }
        p.text = std::move(replaced);
        const bool starts = p.text.compare(0, step.replacement.size(), step.replacement) == 0;
        if (!starts &&
            (step.prepend == PrependScheme::always || (step.prepend == PrependScheme::first && p.at_start)))
          p.text.insert(0, step.replacement);
        if (step.split) {
          push_parts(p, split_spans(find_char_cuts(p.text, step.replacement), Behavior::merged_with_next),
                     out);
        } else {
          out.push_back(std::move(p));
        }
        break;
      }
    }
  }
  pieces = std::move(out);
}

// ------------------------------------------------------------------------------------------------ added
// tokens

struct AddedToken {
  std::string content;
  std::string match;  // what is matched and decoded: content, normalized when `normalized`
  std::int32_t id = 0;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool special = false;
};

// Byte trie over token strings: leftmost-longest non-overlapping matches (daachorse's LeftmostLongest, as
// tokenizers builds it).
class Trie {
 public:
  void insert(std::string_view key, std::int32_t value) {
    std::size_t node = 0;
    for (const char ch : key) {
      const auto b = static_cast<std::uint8_t>(ch);
      auto& next = nodes_[node].next;
      auto it = std::find_if(next.begin(), next.end(), [b](const auto& e) { return e.first == b; });
      if (it == next.end()) {
        nodes_.emplace_back();
        nodes_[node].next.emplace_back(b, nodes_.size() - 1);
        node = nodes_.size() - 1;
      } else {
        node = it->second;
      }
    }
    nodes_[node].value = value;
    ++size_;
  }
  [[nodiscard]] bool empty() const { return size_ == 0; }

  struct Match {
    Span span;
    std::int32_t value = -1;
  };
  [[nodiscard]] std::vector<Match> matches(std::string_view s) const {
    std::vector<Match> out;
    std::size_t pos = 0;
    while (pos < s.size()) {
      std::size_t node = 0;
      std::size_t best_len = 0;
      std::int32_t best = -1;
      for (std::size_t i = pos; i < s.size(); ++i) {
        const auto b = static_cast<std::uint8_t>(s[i]);
        const auto& next = nodes_[node].next;
        const auto it = std::find_if(next.begin(), next.end(), [b](const auto& e) { return e.first == b; });
        if (it == next.end()) break;
        node = it->second;
        if (nodes_[node].value >= 0) {
          best = nodes_[node].value;
          best_len = i + 1 - pos;
        }
      }
      if (best >= 0) {
        out.push_back({{pos, pos + best_len}, best});
        pos += best_len;
      } else {
        ++pos;
      }
    }
    return out;
  }

 private:
  struct Node {
    std::vector<std::pair<std::uint8_t, std::size_t>> next;
    std::int32_t value = -1;
  };
  std::vector<Node> nodes_ = std::vector<Node>(1);
  std::size_t size_ = 0;
};

// ------------------------------------------------------------------------------------------------ decoders

struct DecoderStep {
  enum class Kind { byte_level, metaspace, replace, byte_fallback, fuse, strip };
  Kind kind = Kind::byte_level;
  std::string replacement;  // metaspace
  PrependScheme prepend = PrependScheme::always;
  Regex pattern;        // replace
  std::string content;  // replace
  UChar32 strip_char = 0;
  std::size_t strip_start = 0;
  std::size_t strip_stop = 0;
};

std::vector<std::string> decode_chain(const DecoderStep& d, std::vector<std::string> tokens) {
  switch (d.kind) {
    case DecoderStep::Kind::byte_level: {
      const ByteAlphabet& alphabet = byte_alphabet();
      std::string bytes;
      for (const std::string& t : tokens) {
        std::string mapped;
        bool all = true;
        for (std::size_t i = 0; i < t.size(); i += char_len(t[i])) {
          const auto it = alphabet.byte_of.find(code_point(t, i));
          if (it == alphabet.byte_of.end()) {
            all = false;
            break;
          }
          mapped += static_cast<char>(it->second);
        }
        bytes += all ? mapped : t;
      }
      return {utf8_lossy(bytes)};
    }
    case DecoderStep::Kind::metaspace: {
      for (std::size_t i = 0; i < tokens.size(); ++i) {
        std::string out;
        const std::string& t = tokens[i];
        for (std::size_t j = 0; j < t.size(); j += char_len(t[j])) {
          const std::size_t n = char_len(t[j]);
          if (t.compare(j, n, d.replacement) == 0) {
            if (i != 0 || d.prepend == PrependScheme::never) out += ' ';
          } else {
            out.append(t, j, n);
          }
        }
        tokens[i] = std::move(out);
      }
      return tokens;
    }
    case DecoderStep::Kind::replace: {
      for (std::string& t : tokens) {
        std::string out;
        for (const Cut& c : find_cuts(d.pattern, t)) {
          if (c.match) {
            out += d.content;
          } else {
            out.append(t, c.span.start, c.span.end - c.span.start);
          }
        }
        t = std::move(out);
      }
      return tokens;
    }
    case DecoderStep::Kind::byte_fallback: {
      std::vector<std::string> out;
      std::string bytes;
      std::size_t byte_tokens = 0;
      auto flush = [&] {
        if (byte_tokens == 0) return;
        if (invalid_utf8_at(bytes) == std::string_view::npos) {
          out.push_back(bytes);
        } else {
          for (std::size_t k = 0; k < byte_tokens; ++k)
            out.emplace_back("\xEF\xBF\xBD");
        }
        bytes.clear();
        byte_tokens = 0;
      };
      for (std::string& t : tokens) {
        // Rust's u8::from_str_radix(&t[3..5], 16) on "<0x..>": two hex digits, or '+' and one.
        int value = -1;
        if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
          const std::string_view digits(t.data() + 3, 2);
          const std::string_view hex = digits[0] == '+' ? digits.substr(1) : digits;
          int v = 0;
          bool ok = true;
          for (const char ch : hex) {
            const int digit = (ch >= '0' && ch <= '9')   ? ch - '0'
                              : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10
                              : (ch >= 'A' && ch <= 'F') ? ch - 'A' + 10
                                                         : -1;
            if (digit < 0) ok = false;
            v = v * 16 + digit;
          }
          if (ok) value = v;
        }
        if (value >= 0) {
          bytes += static_cast<char>(value);
          ++byte_tokens;
        } else {
          flush();
          out.push_back(std::move(t));
        }
      }
      flush();
      return out;
    }
    case DecoderStep::Kind::fuse: {
      std::string all;
      for (const std::string& t : tokens)
        all += t;
      return {all};
    }
    case DecoderStep::Kind::strip: {
      for (std::string& t : tokens) {
        std::vector<std::size_t> starts;  // byte offset of each character
        for (std::size_t i = 0; i < t.size(); i += char_len(t[i]))
          starts.push_back(i);
        const std::size_t n = starts.size();
        std::size_t start_cut = 0;
        for (std::size_t i = 0; i < std::min(d.strip_start, n); ++i) {
          if (code_point(t, starts[i]) != d.strip_char) break;
          start_cut = i + 1;
        }
        std::size_t stop_cut = n;
        for (std::size_t i = 0; i < std::min(d.strip_stop, n); ++i) {
          const std::size_t index = n - i - 1;
          if (code_point(t, starts[index]) != d.strip_char) break;
          stop_cut = index;
        }
        // (Rust would panic when the two cuts cross, e.g. start 1 and stop 1 on " "; nothing is left then.)
        if (stop_cut <= start_cut) {
          t.clear();
        } else {
          const std::size_t from = starts[start_cut];
          const std::size_t to = stop_cut < n ? starts[stop_cut] : t.size();
          t = t.substr(from, to - from);
        }
      }
      return tokens;
    }
  }
  return tokens;
}

// ------------------------------------------------------------------------------------------------ BPE

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct MergeRule {
  std::int32_t rank = 0;
  std::int32_t new_id = 0;
};

std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32U) | static_cast<std::uint32_t>(b);
}

struct Bpe {
  std::unordered_map<std::string, std::int32_t, StringHash, std::equal_to<>> vocab;
  std::vector<std::string> vocab_r;  // id -> token
  std::unordered_map<std::uint64_t, MergeRule> merges;
  std::int32_t unk_id = -1;  // -1: no unk_token
  bool byte_fallback = false;
  bool fuse_unk = false;
  bool ignore_merges = false;
  std::array<std::int32_t, 256> byte_ids{};  // "<0xNN>" -> id, or -1

  [[nodiscard]] std::int32_t find(std::string_view s) const {
    const auto it = vocab.find(s);
    return it == vocab.end() ? -1 : it->second;
  }

  // tokenizers' Word: symbols linked by prev/next, merged in place; len 0 marks a removed symbol.
  struct Symbol {
    std::int32_t c = 0;
    std::int64_t prev = -1;
    std::int64_t next = -1;
    std::size_t len = 0;
  };

  static void add(std::vector<Symbol>& w, std::int32_t c, std::size_t len) {
    const auto n = static_cast<std::int64_t>(w.size());
    if (!w.empty()) w.back().next = n;
    w.push_back({c, w.empty() ? -1 : n - 1, -1, len});
  }

  void merge_all(std::vector<Symbol>& w) const {
    struct Entry {
      std::size_t pos;
      std::int32_t rank;
      std::int32_t new_id;
    };
    // Lowest rank first, then the leftmost position (tokenizers' Merge ordering).
    auto later = [](const Entry& a, const Entry& b) {
      return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
    };
    std::priority_queue<Entry, std::vector<Entry>, decltype(later)> queue(later);
    for (std::size_t i = 0; i + 1 < w.size(); ++i) {
      const auto it = merges.find(pair_key(w[i].c, w[i + 1].c));
      if (it != merges.end()) queue.push({i, it->second.rank, it->second.new_id});
    }
    while (!queue.empty()) {
      const Entry top = queue.top();
      queue.pop();
      Symbol& cur = w[top.pos];
      if (cur.len == 0 || cur.next == -1) continue;
      const auto next_pos = static_cast<std::size_t>(cur.next);
      const Symbol right = w[next_pos];
      const auto rule = merges.find(pair_key(cur.c, right.c));
      if (rule == merges.end() || rule->second.new_id != top.new_id) continue;  // stale entry
      cur.c = top.new_id;
      cur.len += right.len;
      cur.next = right.next;
      w[next_pos].len = 0;
      if (right.next > -1 && static_cast<std::size_t>(right.next) < w.size())
        w[static_cast<std::size_t>(right.next)].prev = static_cast<std::int64_t>(top.pos);
      if (cur.prev >= 0) {
        const auto prev = static_cast<std::size_t>(cur.prev);
        const auto it = merges.find(pair_key(w[prev].c, cur.c));
        if (it != merges.end()) queue.push({prev, it->second.rank, it->second.new_id});
      }
      if (cur.next >= 0 && static_cast<std::size_t>(cur.next) < w.size()) {
        const auto it = merges.find(pair_key(cur.c, w[static_cast<std::size_t>(cur.next)].c));
        if (it != merges.end()) queue.push({top.pos, it->second.rank, it->second.new_id});
      }
    }
  }

  // BPE of one word (tokenizers' BPE::tokenize): appends the ids.
  void tokenize(std::string_view word, std::vector<std::int32_t>& out) const {
    if (word.empty()) return;
    if (ignore_merges) {
      const std::int32_t id = find(word);
      if (id >= 0) {
        out.push_back(id);
        return;
      }
    }
    std::vector<Symbol> w;
    w.reserve(word.size());
    std::int32_t unk = -1;  // pending unknown: its id and byte length
    std::size_t unk_len = 0;
    for (std::size_t i = 0; i < word.size();) {
      const std::size_t n = char_len(word[i]);
      const std::string_view ch = word.substr(i, n);
      i += n;
      const std::int32_t id = find(ch);
      if (id >= 0) {
        if (unk >= 0) {
          add(w, unk, unk_len);
          unk = -1;
        }
        add(w, id, n);
        continue;
      }
      if (byte_fallback) {
        const bool all = std::all_of(ch.begin(), ch.end(),
                                     [this](char b) { return byte_ids[static_cast<std::uint8_t>(b)] >= 0; });
        if (all) {
          // (A pending unknown stays pending across byte pieces, as in tokenizers.)
          for (const char b : ch)
            add(w, byte_ids[static_cast<std::uint8_t>(b)], 1);
          continue;
        }
      }
      if (unk_id >= 0) {
        if (unk >= 0 && fuse_unk) {
          unk_len += n;
        } else {
          if (unk >= 0) add(w, unk, unk_len);
          unk = unk_id;
          unk_len = n;
        }
      }
      // Without unk_token the character is dropped, as tokenizers does.
    }
    if (unk >= 0) add(w, unk, unk_len);
    merge_all(w);
    for (const Symbol& s : w) {
      if (s.len != 0) out.push_back(s.c);
    }
  }
};

// ------------------------------------------------------------------------------------------------ templates

struct TemplatePiece {
  bool sequence = false;  // $A
  std::vector<std::int32_t> ids;
  std::vector<std::string> tokens;
};

}  // namespace

// ------------------------------------------------------------------------------------------------ the
// pipeline

struct TokenizerJson::Impl {
  std::string file;
  Bpe bpe;
  std::vector<NormalizerStep> normalizers;
  std::vector<PreTokenizerStep> pre_tokenizers;
  std::vector<AddedToken> added;
  std::unordered_map<std::int32_t, std::size_t> added_by_id;
  std::unordered_map<std::string, std::int32_t, StringHash, std::equal_to<>> added_by_content;
  std::set<std::string, std::less<>> special_contents;
  Trie raw_trie;         // added tokens with normalized = false
  Trie normalized_trie;  // with normalized = true, by their normalized form
  bool has_template = false;
  std::vector<TemplatePiece> single;  // the single-sequence template
  bool has_decoder = false;
  std::vector<DecoderStep> decoders;
  std::int64_t vocab_size = 0;

  // AddedVocabulary::find_matches: the text cut at the added tokens of `trie`, with the tokens' flags.
  struct Split {
    Span span;
    std::int32_t id = -1;
  };
  [[nodiscard]] std::vector<Split> added_splits(std::string_view s, const Trie& trie) const {
    if (s.empty()) return {};
    if (trie.empty()) return {Split{{0, s.size()}, -1}};
    std::vector<Split> out;
    std::size_t start_offset = 0;
    for (const Trie::Match& m : trie.matches(s)) {
      std::size_t start = m.span.start;
      std::size_t stop = m.span.end;
      const AddedToken& t = added[static_cast<std::size_t>(m.value)];
      if (t.single_word) {
        bool start_space = start == 0;
        if (!start_space) {
          std::size_t i = start - 1;
          while (i > 0 && (static_cast<std::uint8_t>(s[i]) & 0xC0U) == 0x80U)
            --i;
          start_space = !is_word_char(code_point(s, i));
        }
        const bool stop_space = stop == s.size() || !is_word_char(code_point(s, stop));
        if (!start_space || !stop_space) continue;
      }
      if (t.lstrip) {
        std::size_t new_start = start;
        while (new_start > 0) {
          std::size_t i = new_start - 1;
          while (i > 0 && (static_cast<std::uint8_t>(s[i]) & 0xC0U) == 0x80U)
            --i;
          if (!is_white_space(code_point(s, i))) break;
          new_start = i;
        }
        start = std::max(new_start, start_offset);
      }
      if (t.rstrip) {
        while (stop < s.size() && is_white_space(code_point(s, stop)))
          stop += char_len(s[stop]);
      }
      if (start_offset < start) out.push_back({{start_offset, start}, -1});
      out.push_back({{start, stop}, t.id});
      start_offset = stop;
    }
    if (start_offset != s.size()) out.push_back({{start_offset, s.size()}, -1});
    return out;
  }

  // Steps 1-4: the model's ids (and token strings) of `text`, without the post-processor.
  void tokenize(std::string_view text, std::vector<std::int32_t>& ids,
                std::vector<std::string>* tokens) const {
    // 1. added tokens in the raw text
    std::vector<Piece> pieces;
    for (const Split& s : added_splits(text, raw_trie)) {
      if (s.span.end <= s.span.start) continue;
      pieces.push_back(
          {std::string(text.substr(s.span.start, s.span.end - s.span.start)), s.id, s.span.start == 0});
    }
    // 2. normalizer, then the normalized added tokens
    if (!normalizers.empty() || !normalized_trie.empty()) {
      std::vector<Piece> next;
      next.reserve(pieces.size());
      for (Piece& p : pieces) {
        if (p.id >= 0) {
          next.push_back(std::move(p));
          continue;
        }
        normalize(normalizers, p.text);
        for (const Split& s : added_splits(p.text, normalized_trie)) {
          if (s.span.end <= s.span.start) continue;
          next.push_back({p.text.substr(s.span.start, s.span.end - s.span.start), s.id,
                          p.at_start && s.span.start == 0});
        }
      }
      pieces = std::move(next);
    }
    // 3. pre-tokenizers
    for (const PreTokenizerStep& step : pre_tokenizers)
      pre_tokenize(step, pieces);
    // 4. the model, word by word (a word's ids are computed once per call)
    std::unordered_map<std::string, std::vector<std::int32_t>, StringHash, std::equal_to<>> cache;
    std::vector<std::int32_t> word_ids;
    for (const Piece& p : pieces) {
      if (p.id >= 0) {
        ids.push_back(p.id);
        if (tokens != nullptr) tokens->push_back(p.text);
        continue;
      }
      const std::size_t first = ids.size();
      if (p.text.size() < 256) {
        const auto it = cache.find(p.text);
        if (it != cache.end()) {
          ids.insert(ids.end(), it->second.begin(), it->second.end());
        } else {
          word_ids.clear();
          bpe.tokenize(p.text, word_ids);
          ids.insert(ids.end(), word_ids.begin(), word_ids.end());
          if (cache.size() < 100000) cache.emplace(p.text, word_ids);
        }
      } else {
        bpe.tokenize(p.text, ids);
      }
      if (tokens != nullptr) {
        for (std::size_t i = first; i < ids.size(); ++i)
          tokens->push_back(bpe.vocab_r[static_cast<std::size_t>(ids[i])]);
      }
    }
  }

  void encode(std::string_view text, bool add_special, std::vector<std::int32_t>& ids,
              std::vector<std::string>* tokens) const {
    if (text.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
      throw UserError(cat("a text of ", text.size(), " bytes is too long to tokenize (at most 2 GiB)"));
    const std::size_t bad = invalid_utf8_at(text);
    if (bad != std::string_view::npos)
      throw UserError(cat("the text is not valid UTF-8 (byte ", bad, "); ", file, " needs UTF-8 text"));
    if (!add_special || !has_template) {
      tokenize(text, ids, tokens);
      return;
    }
    for (const TemplatePiece& t : single) {
      if (t.sequence) {
        tokenize(text, ids, tokens);
      } else {
        ids.insert(ids.end(), t.ids.begin(), t.ids.end());
        if (tokens != nullptr) tokens->insert(tokens->end(), t.tokens.begin(), t.tokens.end());
      }
    }
  }

  // Token string of an id (an added token's, else the vocabulary's); nullptr when unknown.
  [[nodiscard]] const std::string* token_of(std::int32_t id) const {
    const auto it = added_by_id.find(id);
    if (it != added_by_id.end()) return &added[it->second].match;
    if (id >= 0 && static_cast<std::size_t>(id) < bpe.vocab_r.size())
      return &bpe.vocab_r[static_cast<std::size_t>(id)];
    return nullptr;
  }

  [[nodiscard]] std::string decode(std::span<const std::int32_t> ids, bool skip_special) const {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (const std::int32_t id : ids) {
      const std::string* t = token_of(id);
      if (t == nullptr) continue;
      if (skip_special && special_contents.count(*t) != 0) continue;
      tokens.push_back(*t);
    }
    if (!has_decoder) {
      std::string out;
      for (std::size_t i = 0; i < tokens.size(); ++i)
        out += (i ? " " : "") + tokens[i];
      return out;
    }
    for (const DecoderStep& d : decoders)
      tokens = decode_chain(d, std::move(tokens));
    std::string out;
    for (const std::string& t : tokens)
      out += t;
    return out;
  }
};

// ------------------------------------------------------------------------------------------------ loading

namespace {

using Impl = TokenizerJson::Impl;

void parse_model(const Reader& r, const Json& root, Impl& t) {
  const Json& m = r.at(root, "", "model");
  const std::string type = r.type(m, "model");
  if (type != "BPE") r.unsupported("model", type, "BPE");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const Json* v = Reader::find(m, key);
    if (v != nullptr && !v->is_null() && !(v->is_string() && v->get<std::string>().empty()))
      r.fail(Reader::join("model", key), cat(shown(*v), " is not supported (only null)"));
  }
  if (const Json* d = Reader::find(m, "dropout"); d != nullptr && !d->is_null()) {
    if (!d->is_number() || d->get<double>() != 0.0)
      r.fail("model.dropout",
             cat(shown(*d), " is not supported (BPE dropout makes encoding random; null or 0)"));
  }
  Bpe& bpe = t.bpe;
  bpe.byte_fallback = r.boolean_or(m, "model", "byte_fallback", false);
  bpe.fuse_unk = r.boolean_or(m, "model", "fuse_unk", false);
  bpe.ignore_merges = r.boolean_or(m, "model", "ignore_merges", false);

  const Json& vocab = r.at(m, "model", "vocab");
  if (!vocab.is_object()) r.fail("model.vocab", cat("expected an object {token: id}, found ", shown(vocab)));
  const std::size_t n = vocab.size();
  if (n == 0) r.fail("model.vocab", "empty");
  if (n > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
    r.fail("model.vocab", cat(n, " entries is more than int32 ids can hold"));
  bpe.vocab_r.assign(n, std::string());
  std::vector<bool> seen(n, false);
  bpe.vocab.reserve(n);
  for (const auto& [token, value] : vocab.items()) {
    const std::string key = cat("model.vocab[", shown(Json(token)), "]");
    if (!value.is_number_integer()) r.fail(key, cat("expected an integer id, found ", shown(value)));
    const std::int64_t id = value.is_number_unsigned() && value.get<std::uint64_t>() > n
                                ? static_cast<std::int64_t>(n)
                                : value.get<std::int64_t>();
    if (id < 0 || static_cast<std::size_t>(id) >= n) {
      r.fail(key, cat("id ", shown(value), " is outside [0, ", n, "): the vocabulary has ", n,
                      " entries, so its ids must be 0..", n - 1));
    }
    const auto i = static_cast<std::size_t>(id);
    if (seen[i]) {
      r.fail(key, cat("id ", id, " is also the id of ", shown(Json(bpe.vocab_r[i])), " (each id once)"));
    }
    seen[i] = true;
    bpe.vocab_r[i] = token;
    bpe.vocab.emplace(token, static_cast<std::int32_t>(id));
  }
  for (std::size_t b = 0; b < 256; ++b) {
    static constexpr std::array<char, 16> hex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                                 '8', '9', 'A', 'B', 'C', 'D', 'E', 'F'};
    const std::string piece = {'<', '0', 'x', hex[b >> 4U], hex[b & 15U], '>'};
    bpe.byte_ids[b] = bpe.find(piece);
  }
  if (const Json* unk = Reader::find(m, "unk_token"); unk != nullptr && !unk->is_null()) {
    if (!unk->is_string()) r.fail("model.unk_token", cat("expected a string or null, found ", shown(*unk)));
    bpe.unk_id = bpe.find(unk->get<std::string>());
    if (bpe.unk_id < 0) r.fail("model.unk_token", cat(shown(*unk), " is not in model.vocab"));
  }

  const Json& merges = r.at(m, "model", "merges");
  if (!merges.is_array()) r.fail("model.merges", cat("expected an array, found ", shown(merges)));
  bpe.merges.reserve(merges.size());
  std::int32_t rank = 0;
  for (std::size_t i = 0; i < merges.size(); ++i) {
    const Json& e = merges[i];
    const std::string key = Reader::index("model.merges", i);
    std::string a;
    std::string b;
    if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      a = e[0].get<std::string>();
      b = e[1].get<std::string>();
    } else if (e.is_string()) {
      const std::string s = e.get<std::string>();
      if (s.rfind("#version", 0) == 0) continue;  // a merges.txt header line, skipped as tokenizers does
      const std::size_t space = s.find(' ');
      if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos)
        r.fail(key, cat("expected \"left right\" (one space), found ", shown(e)));
      a = s.substr(0, space);
      b = s.substr(space + 1);
    } else {
      r.fail(key, cat("expected [\"left\", \"right\"] or \"left right\", found ", shown(e)));
    }
    const std::int32_t ia = bpe.find(a);
    const std::int32_t ib = bpe.find(b);
    if (ia < 0) r.fail(key, cat(shown(e), ": ", shown(Json(a)), " is not in model.vocab"));
    if (ib < 0) r.fail(key, cat(shown(e), ": ", shown(Json(b)), " is not in model.vocab"));
    const std::int32_t merged = bpe.find(a + b);
    if (merged < 0)
      r.fail(key, cat(shown(e), ": the merged token ", shown(Json(a + b)), " is not in model.vocab"));
    bpe.merges[pair_key(ia, ib)] = MergeRule{rank, merged};  // a repeated pair keeps its last rank, as there
    ++rank;
  }
}

void parse_normalizer(const Reader& r, const Json& j, const std::string& key,
                      std::vector<NormalizerStep>& out) {
  if (j.is_null()) return;
  const std::string type = r.type(j, key);
  NormalizerStep n;
  if (type == "Sequence") {
    const Json& list = r.at(j, key, "normalizers");
    if (!list.is_array())
      r.fail(Reader::join(key, "normalizers"), cat("expected an array, found ", shown(list)));
    for (std::size_t i = 0; i < list.size(); ++i)
      parse_normalizer(r, list[i], Reader::index(Reader::join(key, "normalizers"), i), out);
    return;
  }
  if (type == "NFC") {
    n.kind = NormalizerStep::Kind::nfc;
  } else if (type == "NFD") {
    n.kind = NormalizerStep::Kind::nfd;
  } else if (type == "NFKC") {
    n.kind = NormalizerStep::Kind::nfkc;
  } else if (type == "NFKD") {
    n.kind = NormalizerStep::Kind::nfkd;
  } else if (type == "Prepend") {
    n.kind = NormalizerStep::Kind::prepend;
    n.text = r.string(j, key, "prepend");
  } else if (type == "Replace") {
    n.kind = NormalizerStep::Kind::replace;
    n.pattern = parse_pattern(r, j, key);
    n.text = r.string(j, key, "content");
  } else {
    r.unsupported(key, type, "NFC, NFD, NFKC, NFKD, Prepend, Replace, Sequence, null");
  }
  out.push_back(std::move(n));
}

// Metaspace's prepend_scheme (pre-tokenizer and decoder alike): always (the default), first or never.
PrependScheme parse_prepend_scheme(const Reader& r, const Json& j, const std::string& key) {
  if (Reader::find(j, "prepend_scheme") == nullptr) return PrependScheme::always;
  const std::string s = r.string(j, key, "prepend_scheme");
  if (s == "always") return PrependScheme::always;
  if (s == "first") return PrependScheme::first;
  if (s == "never") return PrependScheme::never;
  r.fail(Reader::join(key, "prepend_scheme"), cat("'", s, "' is not one of always, first, never"));
}

void parse_pre_tokenizer(const Reader& r, const Json& j, const std::string& key,
                         std::vector<PreTokenizerStep>& out) {
  if (j.is_null()) return;
  const std::string type = r.type(j, key);
  if (type == "Sequence") {
    const Json& list = r.at(j, key, "pretokenizers");
    if (!list.is_array())
      r.fail(Reader::join(key, "pretokenizers"), cat("expected an array, found ", shown(list)));
    for (std::size_t i = 0; i < list.size(); ++i)
      parse_pre_tokenizer(r, list[i], Reader::index(Reader::join(key, "pretokenizers"), i), out);
    return;
  }
  PreTokenizerStep p;
  if (type == "ByteLevel") {
    p.kind = PreTokenizerStep::Kind::byte_level;
    p.add_prefix_space = r.boolean(j, key, "add_prefix_space");
    p.use_regex = r.boolean_or(j, key, "use_regex", true);
    if (p.use_regex) p.pattern = Regex(gpt2_pattern, false, r, key);
  } else if (type == "Split") {
    p.kind = PreTokenizerStep::Kind::split;
    p.pattern = parse_pattern(r, j, key);
    p.behavior = parse_behavior(r, j, key);
    p.invert = r.boolean(j, key, "invert");
  } else if (type == "Metaspace") {
    p.kind = PreTokenizerStep::Kind::metaspace;
    p.replacement = r.string(j, key, "replacement");
    (void)single_char(r, Reader::join(key, "replacement"), p.replacement);
    const Json* scheme = Reader::find(j, "prepend_scheme");
    p.prepend = parse_prepend_scheme(r, j, key);
    // Older files: add_prefix_space false means prepend_scheme never (and must not contradict it).
    if (const Json* aps = Reader::find(j, "add_prefix_space");
        aps != nullptr && aps->is_boolean() && !aps->get<bool>()) {
      if (p.prepend != PrependScheme::never && scheme != nullptr)
        r.fail(Reader::join(key, "add_prefix_space"), "false does not match the declared prepend_scheme");
      p.prepend = PrependScheme::never;
    }
    p.split = r.boolean_or(j, key, "split", true);
    if (p.prepend == PrependScheme::first && !out.empty()) {
      r.fail(key,
             "Metaspace with prepend_scheme \"first\" after another pre-tokenizer is not supported (it "
             "needs the original offsets of split words)");
    }
  } else {
    r.unsupported(key, type, "ByteLevel, Split, Metaspace, Sequence, null");
  }
  out.push_back(std::move(p));
}

void parse_decoder(const Reader& r, const Json& j, const std::string& key, std::vector<DecoderStep>& out) {
  const std::string type = r.type(j, key);
  if (type == "Sequence") {
    const Json& list = r.at(j, key, "decoders");
    if (!list.is_array())
      r.fail(Reader::join(key, "decoders"), cat("expected an array, found ", shown(list)));
    for (std::size_t i = 0; i < list.size(); ++i)
      parse_decoder(r, list[i], Reader::index(Reader::join(key, "decoders"), i), out);
    return;
  }
  DecoderStep d;
  if (type == "ByteLevel") {
    d.kind = DecoderStep::Kind::byte_level;
  } else if (type == "Metaspace") {
    d.kind = DecoderStep::Kind::metaspace;
    d.replacement = r.string(j, key, "replacement");
    (void)single_char(r, Reader::join(key, "replacement"), d.replacement);
    d.prepend = parse_prepend_scheme(r, j, key);
    if (const Json* aps = Reader::find(j, "add_prefix_space");
        aps != nullptr && aps->is_boolean() && !aps->get<bool>())
      d.prepend = PrependScheme::never;
  } else if (type == "Replace") {
    d.kind = DecoderStep::Kind::replace;
    d.pattern = parse_pattern(r, j, key);
    d.content = r.string(j, key, "content");
  } else if (type == "ByteFallback") {
    d.kind = DecoderStep::Kind::byte_fallback;
  } else if (type == "Fuse") {
    d.kind = DecoderStep::Kind::fuse;
  } else if (type == "Strip") {
    d.kind = DecoderStep::Kind::strip;
    const std::string c = r.string(j, key, "content");
    d.strip_char = single_char(r, Reader::join(key, "content"), c);
    d.strip_start = static_cast<std::size_t>(r.integer(j, key, "start", 0, 1LL << 30));
    d.strip_stop = static_cast<std::size_t>(r.integer(j, key, "stop", 0, 1LL << 30));
  } else {
    r.unsupported(key, type, "ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, Sequence, null");
  }
  out.push_back(std::move(d));
}

// A known id (vocabulary or added token) for a post-processor's special token.
std::int32_t known_id(const Reader& r, const Impl& t, const Json& v, const std::string& key) {
  const auto id =
      static_cast<std::int32_t>(r.integer_value(v, key, 0, std::numeric_limits<std::int32_t>::max()));
  if (t.token_of(id) == nullptr) r.fail(key, cat("id ", id, " is neither in model.vocab nor an added token"));
  return id;
}

// ["token", id] of BertProcessing / RobertaProcessing.
TemplatePiece token_pair(const Reader& r, const Impl& t, const Json& j, const std::string& key,
                         const char* name) {
  const Json& v = r.at(j, key, name);
  const std::string k = Reader::join(key, name);
  if (!v.is_array() || v.size() != 2 || !v[0].is_string())
    r.fail(k, cat("expected [\"token\", id], found ", shown(v)));
  return TemplatePiece{false, {known_id(r, t, v[1], Reader::index(k, 1))}, {v[0].get<std::string>()}};
}

void parse_post_processor(const Reader& r, const Json& j, const std::string& key, Impl& t) {
  if (j.is_null()) return;
  const std::string type = r.type(j, key);
  if (type == "Sequence") {
    const Json& list = r.at(j, key, "processors");
    if (!list.is_array())
      r.fail(Reader::join(key, "processors"), cat("expected an array, found ", shown(list)));
    for (std::size_t i = 0; i < list.size(); ++i)
      parse_post_processor(r, list[i], Reader::index(Reader::join(key, "processors"), i), t);
    return;
  }
  if (type == "ByteLevel") return;  // offsets only
  if (type != "TemplateProcessing" && type != "BertProcessing" && type != "RobertaProcessing")
    r.unsupported(key, type,
                  "TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence, null");
  if (t.has_template) {
    r.fail(key,
           "a second processor that adds special tokens is not supported (tokenizers cannot chain them "
           "either)");
  }
  t.has_template = true;
  if (type != "TemplateProcessing") {
    t.single = {token_pair(r, t, j, key, "cls"), TemplatePiece{true, {}, {}},
                token_pair(r, t, j, key, "sep")};
    return;
  }
  const Json& specials = r.at(j, key, "special_tokens");
  const std::string skey = Reader::join(key, "special_tokens");
  if (!specials.is_object()) r.fail(skey, cat("expected an object, found ", shown(specials)));
  const Json& single = r.at(j, key, "single");
  const std::string tkey = Reader::join(key, "single");
  if (!single.is_array()) r.fail(tkey, cat("expected a list of pieces, found ", shown(single)));
  for (std::size_t i = 0; i < single.size(); ++i) {
    const Json& piece = single[i];
    const std::string pkey = Reader::index(tkey, i);
    if (const Json* seq = Reader::find(piece, "Sequence")) {
      const std::string id = r.string(*seq, Reader::join(pkey, "Sequence"), "id");
      if (id != "A") {
        r.fail(Reader::join(Reader::join(pkey, "Sequence"), "id"),
               cat("'", id, "' in the single-sequence template (only A; B is the pair's)"));
      }
      t.single.push_back(TemplatePiece{true, {}, {}});
    } else if (const Json* sp = Reader::find(piece, "SpecialToken")) {
      const std::string id = r.string(*sp, Reader::join(pkey, "SpecialToken"), "id");
      const Json* entry = Reader::find(specials, id.c_str());
      if (entry == nullptr) r.fail(pkey, cat("special token ", shown(Json(id)), " is not in ", skey));
      const std::string ekey = cat(skey, "[", shown(Json(id)), "]");
      const Json& ids = r.at(*entry, ekey, "ids");
      const Json& tokens = r.at(*entry, ekey, "tokens");
      if (!ids.is_array() || !tokens.is_array() || ids.size() != tokens.size()) {
        r.fail(ekey, cat("expected \"ids\" and \"tokens\" lists of one length, found ", shown(*entry)));
      }
      TemplatePiece p;
      for (std::size_t k = 0; k < ids.size(); ++k) {
        p.ids.push_back(known_id(r, t, ids[k], Reader::index(Reader::join(ekey, "ids"), k)));
        if (!tokens[k].is_string())
          r.fail(Reader::index(Reader::join(ekey, "tokens"), k),
                 cat("expected a string, found ", shown(tokens[k])));
        p.tokens.push_back(tokens[k].get<std::string>());
      }
      t.single.push_back(std::move(p));
    } else {
      r.fail(pkey, cat("expected {\"Sequence\": ...} or {\"SpecialToken\": ...}, found ", shown(piece)));
    }
  }
}

void parse_added_tokens(const Reader& r, const Json& root, Impl& t) {
  const Json* list = Reader::find(root, "added_tokens");
  if (list == nullptr || list->is_null()) return;
  if (!list->is_array()) r.fail("added_tokens", cat("expected an array, found ", shown(*list)));
  // tokenizers' AddedVocabulary::add_tokens at load: a token of the vocabulary keeps its id; the others get
  // the next ids after the vocabulary, in file order. The ids in the file must agree.
  auto next_id = static_cast<std::int64_t>(t.bpe.vocab_r.size());
  for (std::size_t i = 0; i < list->size(); ++i) {
    const Json& e = (*list)[i];
    const std::string key = Reader::index("added_tokens", i);
    AddedToken a;
    a.content = r.string(e, key, "content");
    if (a.content.empty()) r.fail(Reader::join(key, "content"), "empty");
    const std::int64_t file_id = r.integer(e, key, "id", 0, std::numeric_limits<std::int32_t>::max());
    a.single_word = r.boolean(e, key, "single_word");
    a.lstrip = r.boolean(e, key, "lstrip");
    a.rstrip = r.boolean(e, key, "rstrip");
    a.normalized = r.boolean(e, key, "normalized");
    a.special = r.boolean(e, key, "special");
    if (t.added_by_content.count(a.content) != 0)
      r.fail(Reader::join(key, "content"), cat(shown(Json(a.content)), " is listed twice"));
    const std::int32_t in_vocab = t.bpe.find(a.content);
    const std::int64_t id = in_vocab >= 0 ? in_vocab : next_id++;
    if (id != file_id) {
      r.fail(Reader::join(key, "id"),
             cat(shown(Json(a.content)), " has id ", file_id, " in the file but tokenizers gives it ", id,
                 in_vocab >= 0 ? " (its id in model.vocab)"
                               : " (added tokens outside model.vocab take the ids after it, in file order)"));
    }
    a.id = static_cast<std::int32_t>(id);
    a.match = a.content;
    if (a.normalized) normalize(t.normalizers, a.match);
    t.added_by_id[a.id] = t.added.size();
    t.added_by_content.emplace(a.content, a.id);
    if (a.special) t.special_contents.insert(a.content);
    t.added.push_back(std::move(a));
  }
  for (std::size_t i = 0; i < t.added.size(); ++i) {
    const AddedToken& a = t.added[i];
    if (a.match.empty()) continue;  // normalized to nothing: tokenizers' trie cannot match it either
    (a.normalized ? t.normalized_trie : t.raw_trie).insert(a.match, static_cast<std::int32_t>(i));
  }
}

}  // namespace

// ------------------------------------------------------------------------------------------------ public

TokenizerJson TokenizerJson::load(const std::filesystem::path& path) {
  const std::string file = path.string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw ModelError(cat(file, ": file not found"));
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw ModelError(cat(file, ": cannot read its size: ", ec.message()));
  if (size > (1ULL << 31U))
    throw ModelError(cat(file, ": ", size, " bytes is too large for a tokenizer.json (2 GiB at most)"));
  std::ifstream in(path, std::ios::binary);
  std::string text(static_cast<std::size_t>(size), '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(size)))
    throw ModelError(cat(file, ": cannot be read"));
  return parse(text, file);
}

TokenizerJson TokenizerJson::parse(std::string_view json_text, const std::string& file) {
  Json root;
  try {
    root = Json::parse(json_text);
  } catch (const Json::parse_error& e) {
    throw ModelError(cat(file, ": not valid JSON (truncated or corrupt tokenizer.json?): ", e.what()));
  }
  const Reader r(file);
  if (!root.is_object()) r.fail("(top level)", cat("expected a tokenizer.json object, found ", shown(root)));
  auto t = std::make_shared<Impl>();
  t->file = file;
  if (const Json* v = Reader::find(root, "version");
      v != nullptr && !(v->is_string() && v->get<std::string>() == "1.0"))
    r.fail("version", cat(shown(*v), " is not a tokenizer.json version this reader knows (\"1.0\")"));
  if (const Json* v = Reader::find(root, "truncation"); v != nullptr && !v->is_null())
    r.fail("truncation", cat(shown(*v), " is not supported (it would cut the text; only null)"));
  if (const Json* v = Reader::find(root, "padding"); v != nullptr && !v->is_null()) {
    const Json* strategy = Reader::find(*v, "strategy");
    if (strategy == nullptr || !(strategy->is_string() && strategy->get<std::string>() == "BatchLongest"))
      r.fail("padding", cat(shown(*v),
                            " is not supported (only null or strategy BatchLongest, which pads "
                            "nothing in a single text)"));
  }
  parse_model(r, root, *t);
  parse_normalizer(r, r.at(root, "", "normalizer"), "normalizer", t->normalizers);
  parse_added_tokens(r, root, *t);
  parse_pre_tokenizer(r, r.at(root, "", "pre_tokenizer"), "pre_tokenizer", t->pre_tokenizers);
  parse_post_processor(r, r.at(root, "", "post_processor"), "post_processor", *t);
  if (const Json& d = r.at(root, "", "decoder"); !d.is_null()) {
    t->has_decoder = true;
    parse_decoder(r, d, "decoder", t->decoders);
  }
  std::int64_t top = static_cast<std::int64_t>(t->bpe.vocab_r.size()) - 1;
  for (const AddedToken& a : t->added)
    top = std::max<std::int64_t>(top, a.id);
  t->vocab_size = top + 1;
  return TokenizerJson(std::move(t));
}

TokenizedText TokenizerJson::encode_tokens(std::string_view text, bool add_special) const {
  TokenizedText out;
  impl_->encode(text, add_special, out.ids, &out.tokens);
  return out;
}

std::vector<std::int32_t> TokenizerJson::encode(std::string_view text, bool add_special) const {
  std::vector<std::int32_t> ids;
  impl_->encode(text, add_special, ids, nullptr);
  return ids;
}

std::string TokenizerJson::decode(std::span<const std::int32_t> ids, bool skip_special) const {
  return impl_->decode(ids, skip_special);
}

std::int64_t TokenizerJson::vocab_size() const {
  return impl_->vocab_size;
}
std::int64_t TokenizerJson::model_vocab_size() const {
  return static_cast<std::int64_t>(impl_->bpe.vocab_r.size());
}
const std::string& TokenizerJson::file() const {
  return impl_->file;
}

std::optional<std::int32_t> TokenizerJson::bos_id() const {
  const auto& s = impl_->single;
  for (std::size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i + 1].sequence)
      return !s[i].sequence && s[i].ids.size() == 1 ? std::optional(s[i].ids[0]) : std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::int32_t> TokenizerJson::eos_id() const {
  const auto& s = impl_->single;
  for (std::size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i].sequence)
      return !s[i + 1].sequence && s[i + 1].ids.size() == 1 ? std::optional(s[i + 1].ids[0]) : std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::int32_t> TokenizerJson::token_id(std::string_view token) const {
  const auto it = impl_->added_by_content.find(token);
  if (it != impl_->added_by_content.end()) return it->second;
  const std::int32_t id = impl_->bpe.find(token);
  return id >= 0 ? std::optional(id) : std::nullopt;
}

std::optional<std::string> TokenizerJson::id_token(std::int32_t id) const {
  const std::string* t = impl_->token_of(id);
  return t == nullptr ? std::nullopt : std::optional(*t);
}

}  // namespace spikesim::models
