#!/usr/bin/python3
"""Checks the component layering of the sources and that each CMake target links exactly what it includes.

Components, lowest first (a component may include only components listed before it; sim/ is split into its
jobs):
    base -> neurons -> coding -> models, energy -> sim/kernels -> sim/site -> sim/plan -> sim/run
         -> sim/report -> sim/cli -> python
(models and energy are side by side: neither includes the other; sim/plan does not include sim/site.)
For every component, the spikesim_* libraries in its target_link_libraries must be exactly the components its
files include (the source root is on every include path, so CMake alone would not catch a missing link).

Usage: scripts/check_layers.py [ROOT]   exit 1 with one line per violation
"""
import pathlib
import re
import sys

ORDER = ["base", "neurons", "coding", "models", "energy", "sim/kernels", "sim/site", "sim/plan", "sim/run",
         "sim/report", "sim/cli", "python"]
# Pairs that are not ordered although one comes before the other in ORDER.
UNRELATED = {("energy", "models"), ("sim/plan", "sim/site")}
TARGET = {c: "spikesim_" + c.split("/")[-1] for c in ORDER}
TARGET["python"] = "spikesim_python"


def component_of(path):
    for c in sorted(ORDER, key=len, reverse=True):
        if path == c or path.startswith(c + "/"):
            return c
    return None


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent)
    problems = []
    includes = {c: set() for c in ORDER}
    for f in sorted(root.glob("**/*.[ch]pp")):
        rel = f.relative_to(root).as_posix()
        if rel.startswith(("build", "tests/", "bench/", ".")):
            continue
        c = component_of(rel)
        if c is None:
            continue
        for line_no, line in enumerate(f.read_text().splitlines(), 1):
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if not m:
                continue
            d = component_of(m.group(1))
            if d is None or d == c:
                continue
            includes[c].add(d)
            if ORDER.index(d) > ORDER.index(c) or (c, d) in UNRELATED or (d, c) in UNRELATED:
                problems.append(f"{rel}:{line_no}: {c} includes {m.group(1)} ({d} is not below {c})")
    for c in ORDER:
        cmake = root / c / "CMakeLists.txt"
        if not cmake.exists():
            continue
        text = cmake.read_text()
        linked = set()
        for m in re.finditer(r"target_link_libraries\(\s*" + TARGET[c] + r"\b([^)]*)\)", text):
            linked |= set(re.findall(r"spikesim_(\w+)", m.group(1)))
        want = {TARGET[d][len("spikesim_"):] for d in includes[c]}
        if linked != want:
            extra = sorted(linked - want)
            missing = sorted(want - linked)
            problems.append(f"{c}/CMakeLists.txt: {TARGET[c]} links " +
                            (f"{['spikesim_' + x for x in extra]} it does not include" if extra else "") +
                            (" and " if extra and missing else "") +
                            (f"not {['spikesim_' + x for x in missing]} that it includes" if missing else ""))
    for p in problems:
        print(p)
    if problems:
        print(f"check_layers: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("check_layers: layering and CMake links agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
