#!/usr/bin/env python3
"""Extra tokenizer.json goldens (issue 16): the parts of the format the five trained tokenizers of
tests/golden/hf/tokenizers/ do not use, each as a variant of one of them, with the ids Hugging Face's own
`tokenizers` library gives; and digests of the whole King James Bible through the five tokenizers.

    python3 scripts/make_tokenizer_extra_goldens.py tests/golden/tokenizers_extra [--kjv KJV.txt]

Needs the `tokenizers` package (not Debian's /usr/bin/python3: it runs where tests/golden/hf was made). The KJV
text is the dump `bible -l100000 "Genesis 1:1-Revelation 22:21"` of Debian's bible-kjv (scripts/train_llm.py).

Writes OUT/<variant>/tokenizer.json (as tokenizers saves it) + tests.json (the schema of
tests/golden/hf/tokenizers/<tok>/tests.json), OUT/kjv.json ({tokenizer: {ids, fnv1a64, first_ids, last_ids,
decoded_fnv1a64, seconds}}) and OUT/versions.json.
"""
import argparse
import json
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BASE = os.path.join(HERE, "..", "tests", "golden", "hf", "tokenizers")

FEATURE_STRINGS = [
    "", "a", "Hello world", " leading space", "   three leading spaces", "trailing spaces   ",
    "line1\nline2\r\nline3\n\n\nafter blank lines\n", "\n", "  \n \n", "\t\ttabs\t",
    "don't I'LL they've He'd've", "Numbers: 1 12 123 1234 3.14 2024-06-01",
    "Caf\u00e9 na\u00efve", "Cafe\u0301 nai\u0308ve (combining)", "\u65e5\u672c\u8a9e \ud55c\uad6d\uc5b4",
    "emoji \U0001F600\U0001F44D\U0001F3FD", "\u00a0nbsp\u2003em\u3000ideographic",
    "\ufb01sh \ufb01ne \u2126mega \u00bd \u2460 \uff21\uff22",  # NFKC-sensitive: ligature, ohm, fraction, fullwidth
    "\u0085nel \u180emvs \u2028ls\u2029ps \u200bzwsp", "x\u0085\u0085y",
    "a <mask> b", "a<mask>b", "x   <mask>   y", "<mask><mask>", " <mask>", "<mask>",
    "[R]   z", "[R]z", "z [R]\n\nq", "cat catalog concat cat. (cat)", "the cat", "cat", "_cat cat_ 1cat cat1",
    "fish \ufb01sh", "\u2126mega omega",
    "<s>Hello</s>", "Hello <s> world", "</s></s>", "<unk> x", "<|endoftext|>a<|endoftext|>",
    "xxxxxxxx", "exe e ee", "the cat sat on the mat", "\u2581 metaspace \u2581\u2581 twice",
    "Tom's 3 cats ran 20km!\n\"Do not be scared,\" said Tom.",
]


def record(tok, strings):
    tests = []
    for s in strings:
        e0 = tok.encode(s, add_special_tokens=False)
        e1 = tok.encode(s, add_special_tokens=True)
        tests.append({
            "text": s, "ids": list(e0.ids), "tokens": list(e0.tokens), "ids_with_special": list(e1.ids),
            "decoded": tok.decode(list(e0.ids), skip_special_tokens=False),
            "decoded_with_special": tok.decode(list(e1.ids), skip_special_tokens=False),
            "decoded_with_special_skipped": tok.decode(list(e1.ids), skip_special_tokens=True),
        })
    return tests


def base(name):
    with open(os.path.join(BASE, name, "tokenizer.json"), encoding="utf-8") as f:
        return json.load(f)


def byte_level(add_prefix_space=False, use_regex=False):
    return {"type": "ByteLevel", "add_prefix_space": add_prefix_space, "trim_offsets": False, "use_regex": use_regex}


def split(pattern, behavior, invert=False):
    return {"type": "Split", "pattern": pattern, "behavior": behavior, "invert": invert}


def variants():
    """(name, base, description, edit(json) -> json, post(Tokenizer) -> Tokenizer or None)."""
    from tokenizers import AddedToken

    out = []

    def v(name, base_name, description, edit, post=None):
        out.append((name, base_name, description, edit, post))

    def set_key(key, value):
        def edit(j):
            j[key] = value
            return j
        return edit

    v("gpt2_prefix_space", "gpt2", "ByteLevel add_prefix_space true (pre-tokenizer and decoder)",
      set_key("pre_tokenizer", byte_level(True, True)))

    def flags_edit(j):
        j["normalizer"] = {"type": "NFKC"}
        return j

    def flags_post(tok):
        tok.add_special_tokens([AddedToken("<mask>", special=True, normalized=False, lstrip=True, rstrip=False,
                                           single_word=False)])
        tok.add_tokens([AddedToken("[R]", special=False, normalized=False, lstrip=False, rstrip=True,
                                   single_word=False),
                        AddedToken("cat", special=False, normalized=False, lstrip=False, rstrip=False,
                                   single_word=True),
                        AddedToken("\ufb01sh", special=False, normalized=True, lstrip=False, rstrip=False,
                                   single_word=False),
                        AddedToken("\u2126mega", special=True, normalized=True, lstrip=False, rstrip=False,
                                   single_word=False)])
        return tok

    v("gpt2_added_flags", "gpt2",
      "NFKC normalizer; added tokens <mask> (special, lstrip), [R] (rstrip), cat (single_word), \ufb01sh "
      "(normalized: NFKC makes it 'fish'), \u2126mega (special, normalized)", flags_edit, flags_post)

    for behavior in ("Removed", "MergedWithPrevious", "MergedWithNext", "Contiguous", "Isolated"):
        v(f"gpt2_split_{behavior.lower()}", "gpt2", f"Split(Regex ' +', {behavior}) + ByteLevel(use_regex false)",
          set_key("pre_tokenizer", {"type": "Sequence", "pretokenizers": [
              split({"Regex": " +"}, behavior), byte_level()]}))
    v("gpt2_split_invert", "gpt2", "Split(String 'e', Isolated, invert true) + ByteLevel(use_regex false)",
      set_key("pre_tokenizer", {"type": "Sequence", "pretokenizers": [
          split({"String": "e"}, "Isolated", True), byte_level()]}))
    v("gpt2_split_invert_removed", "gpt2", "Split(Regex '[aeiou]', Removed, invert true) + ByteLevel",
      set_key("pre_tokenizer", {"type": "Sequence", "pretokenizers": [
          split({"Regex": "[aeiou]"}, "Removed", True), byte_level()]}))
    v("gpt2_split_empty_matches", "gpt2", "Split(Regex 'x*', Isolated): empty matches, onig iteration",
      set_key("pre_tokenizer", {"type": "Sequence", "pretokenizers": [
          split({"Regex": "x*"}, "Isolated"), byte_level()]}))
    v("gpt2_split_empty_merged", "gpt2", "Split(Regex 'e*', MergedWithNext): empty matches merged",
      set_key("pre_tokenizer", {"type": "Sequence", "pretokenizers": [
          split({"Regex": "e*"}, "MergedWithNext"), byte_level()]}))

    def legacy_merges(j):
        j["model"]["merges"] = [" ".join(m) for m in j["model"]["merges"]]
        return j

    v("gpt2_legacy_merges", "gpt2", "merges as \"a b\" strings (the older form)", legacy_merges)

    def nfkd_replace(j):
        j["normalizer"] = {"type": "Sequence", "normalizers": [
            {"type": "NFKD"}, {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "},
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]}
        return j

    v("spm_nfkd_regex_replace", "spm", "normalizer Sequence[NFKD, Replace(Regex \\s+ -> ' '), Prepend, Replace]",
      nfkd_replace)
    v("spm_nfd", "spm", "normalizer Sequence[NFD, Prepend, Replace]",
      lambda j: {**j, "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFD"}] +
                                     j["normalizer"]["normalizers"]}})
    v("spm_nfkc", "spm", "normalizer Sequence[NFKC, Prepend, Replace]",
      lambda j: {**j, "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFKC"}] +
                                     j["normalizer"]["normalizers"]}})

    def no_byte_fallback(fuse):
        def edit(j):
            j["model"]["byte_fallback"] = False
            j["model"]["fuse_unk"] = fuse
            return j
        return edit

    v("spm_unk_fused", "spm", "byte_fallback false, fuse_unk true: unknown characters become one <unk>",
      no_byte_fallback(True))
    v("spm_unk_unfused", "spm", "byte_fallback false, fuse_unk false", no_byte_fallback(False))
    v("spm_bert", "spm", "BertProcessing cls <s> sep </s>",
      set_key("post_processor", {"type": "BertProcessing", "sep": ["</s>", 2], "cls": ["<s>", 1]}))
    v("spm_roberta", "spm", "RobertaProcessing cls <s> sep </s>",
      set_key("post_processor", {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 1],
                                 "trim_offsets": True, "add_prefix_space": True}))

    def template_eos(j):
        j["post_processor"] = {"type": "TemplateProcessing",
                               "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                          {"Sequence": {"id": "A", "type_id": 0}},
                                          {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                               "pair": [{"Sequence": {"id": "A", "type_id": 0}},
                                        {"Sequence": {"id": "B", "type_id": 1}}],
                               "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]},
                                                  "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}}
        return j

    v("spm_template_eos", "spm", "TemplateProcessing <s> $A </s>", template_eos)
    v("spm_strip_decoder", "spm", "decoder Sequence[Replace, ByteFallback, Fuse, Strip(start 2, stop 1)]",
      lambda j: {**j, "decoder": {"type": "Sequence", "decoders": j["decoder"]["decoders"][:3] + [
          {"type": "Strip", "content": " ", "start": 2, "stop": 1}]}})
    v("spm_no_decoder", "spm", "no decoder: tokens joined by spaces", set_key("decoder", None))
    for scheme, do_split in (("always", True), ("never", False), ("first", True)):
        v(f"spm_metaspace_{scheme}_split{int(do_split)}", "spm_metaspace",
          f"Metaspace prepend_scheme {scheme}, split {str(do_split).lower()}, decoder Metaspace",
          lambda j, s=scheme, d=do_split: {**j, "pre_tokenizer": {
              "type": "Metaspace", "replacement": "\u2581", "prepend_scheme": s, "split": d},
              "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": s, "split": d}})
    v("spm_metaspace_byte_decoder", "spm_metaspace", "decoder Sequence[ByteFallback, Metaspace]",
      lambda j: {**j, "decoder": {"type": "Sequence", "decoders": [
          {"type": "ByteFallback"},
          {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}]}})
    v("qwen2_unicode_spaces", "qwen2", "qwen2 as is, on strings with NEL, U+180E and other spaces", lambda j: j)
    return out


def fnv1a64_ids(ids):
    h = 0xcbf29ce484222325
    for i in ids:
        for b in int(i).to_bytes(4, "little"):
            h ^= b
            h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def fnv1a64_bytes(data):
    h = 0xcbf29ce484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--kjv", help="the KJV dump (bible -l100000 'Genesis 1:1-Revelation 22:21')")
    args = ap.parse_args()
    import tokenizers
    from tokenizers import Tokenizer

    os.makedirs(args.out, exist_ok=True)
    manifest = []
    for name, base_name, description, edit, post in variants():
        j = edit(base(base_name))
        tok = Tokenizer.from_str(json.dumps(j))
        if post is not None:
            tok = post(tok)
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        fn = os.path.join(d, "tokenizer.json")
        tok.save(fn)
        tok2 = Tokenizer.from_file(fn)
        strings = FEATURE_STRINGS + [t["text"] for t in json.load(open(os.path.join(BASE, base_name, "tests.json"),
                                                                          encoding="utf-8"))["tests"]]
        strings = list(dict.fromkeys(strings))
        info = {"name": name, "base": base_name, "description": description,
                "vocab_size": tok2.get_vocab_size(with_added_tokens=False),
                "vocab_size_with_added": tok2.get_vocab_size(with_added_tokens=True),
                "tokenizers_version": tokenizers.__version__, "tests": record(tok2, strings)}
        with open(os.path.join(d, "tests.json"), "w", encoding="utf-8") as f:
            json.dump(info, f, ensure_ascii=False, indent=1)
        manifest.append({"name": name, "base": base_name, "description": description})
        print(f"{name}: {len(strings)} strings", flush=True)
    kjv = {}
    if args.kjv:
        with open(args.kjv, encoding="utf-8") as f:
            text = f.read()
        if text.endswith("\n"):
            text = text[:-1]  # as spikesim run --text-file reads a file
        for name in ("gpt2", "llama3", "qwen2", "spm", "spm_metaspace"):
            tok = Tokenizer.from_file(os.path.join(BASE, name, "tokenizer.json"))
            t0 = time.perf_counter()
            ids = tok.encode(text, add_special_tokens=True).ids
            seconds = time.perf_counter() - t0
            decoded = tok.decode(ids, skip_special_tokens=True)
            kjv[name] = {"bytes": len(text.encode("utf-8")), "ids": len(ids), "fnv1a64": fnv1a64_ids(ids),
                         "first_ids": ids[:64], "last_ids": ids[-64:],
                         "decoded_fnv1a64": fnv1a64_bytes(decoded.encode("utf-8")),
                         "decoded_equals_text": decoded == text, "seconds": round(seconds, 3)}
            print(f"kjv {name}: {len(ids)} ids in {seconds:.2f} s", flush=True)
        with open(os.path.join(args.out, "kjv.json"), "w", encoding="utf-8") as f:
            json.dump({"text": "bible -l100000 'Genesis 1:1-Revelation 22:21' (Debian bible-kjv 4.38), final "
                               "newline dropped, encode(add_special_tokens=True)",
                       "digest": "FNV-1a 64 over each id as 4 little-endian bytes; decoded_fnv1a64 over the UTF-8 "
                                 "bytes of decode(ids, skip_special_tokens=True)",
                       "tokenizers": kjv}, f, indent=1)
    with open(os.path.join(args.out, "versions.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizers": tokenizers.__version__, "python": platform.python_version(),
                   "argv": sys.argv, "variants": manifest}, f, indent=1)


if __name__ == "__main__":
    main()
