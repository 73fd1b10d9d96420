#!/usr/bin/env python3
# The mutation loop of tests/mutation/run.sh: apply.py LIST TREE BUILD.
# LIST holds blocks of "key: value" lines, one mutation per block:
#
#   == what the mutation breaks (its name in the report)
#   file: lib/verify.c               the file, relative to the tree
#   tests: verify rehome             meson test names that must catch it
#   find: text                       exact text, found exactly once ...
#   replace: text                    ... replaced by this
#   (or) early-return: int verify_block(   the function whose definition
#   value: 0                         line contains this returns VALUE at once
#
# "\n" in find/replace stands for a newline. Lines starting with # are
# comments.
import subprocess
import sys


def parse(path):
    muts, cur = [], None
    for lineno, line in enumerate(open(path), 1):
        line = line.rstrip("\n")
        if line.startswith("#") or not line.strip():
            continue
        if line.startswith("== "):
            cur = {"name": line[3:].strip(), "line": lineno}
            muts.append(cur)
            continue
        key, sep, val = line.partition(": ")
        if cur is None or not sep:
            sys.exit(f"{path}:{lineno}: expected '== name' or 'key: value'")
        cur[key.strip()] = val.replace("\\n", "\n")
    for m in muts:
        if "file" not in m or "tests" not in m or not (
            ("find" in m and "replace" in m) or "early-return" in m
        ):
            sys.exit(f"{path}:{m['line']}: '{m['name']}' needs file, tests, and "
                     "find+replace or early-return")
    return muts


def mutate(text, m):
    """Return the mutated text, or None when the mutation no longer applies."""
    if "find" in m:
        if text.count(m["find"]) != 1:
            return None
        return text.replace(m["find"], m["replace"])
    at = text.find(m["early-return"])
    if at < 0 or text.count(m["early-return"]) != 1:
        return None
    brace = text.find("\n{\n", at)
    if brace < 0:
        return None
    value = m.get("value", "")
    ret = f"\treturn {value};\n" if value else "\treturn;\n"
    return text[: brace + 3] + ret + text[brace + 3:]


def run_tests(build, tests):
    r = subprocess.run(["meson", "test", "-C", build, "--num-processes", "1",
                        "--no-rebuild"] + tests,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return r.returncode == 0


def ninja(build):
    return subprocess.run(["ninja", "-C", build], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


def main():
    listfile, tree, build = sys.argv[1:4]
    muts = parse(listfile)
    every = sorted({t for m in muts for t in m["tests"].split()})
    if not run_tests(build, every):
        print(f"mutation: the tests fail without any mutation ({' '.join(every)})")
        return 2
    results = []
    for m in muts:
        path = f"{tree}/{m['file']}"
        orig = open(path).read()
        text = mutate(orig, m)
        if text is None:
            verdict = "STALE"
        else:
            open(path, "w").write(text)
            if not ninja(build):
                verdict = "BROKEN"  # does not compile: not a useful mutation
            elif run_tests(build, m["tests"].split()):
                verdict = "MISSED"
            else:
                verdict = "caught"
            open(path, "w").write(orig)
        results.append(verdict)
        print(f"{verdict:7} {m['name']} ({m['file']}; tests: {m['tests']})", flush=True)
    ninja(build)
    bad = [r for r in results if r != "caught"]
    print(f"mutation: {len(results) - len(bad)} of {len(results)} caught"
          + (f", {len(bad)} not (MISSED: a hole in the suite; STALE/BROKEN: fix the list)"
             if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
