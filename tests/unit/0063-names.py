#!/usr/bin/env python3
"""0063-names: a file is named after the prefix of what it exports (CONTRIBUTING.md, "Names").

The rule, for every source file of an enforced folder (ENFORCED below):
  - Every symbol a library file <stem>.c exports is <stem> or starts with <stem>_ (our stems
    are wb_<name>: wb_graph.c exports wb_graph_new).
  - A module split over several files has one core file wb_<module>.c and parts named
    wb_<module>_<part>.c in the same folder; a part may export wb_<module>_* (the module's
    prefix, declared in wb_<module>.h) besides its own prefix. Example: common/wb_conf_table.c
    exports wb_conf_props next to common/wb_conf.c.
  - A program's entry file (it defines main) exports main and nothing else.
  - The exceptions are listed in EXCEPTIONS, one file each, with the exact symbols: the
    aborting allocators of common/wb_mem.c keep the names of the libc functions they wrap.

The exported symbols are read from the objects of the build in $WB_BUILD_DIR (nm -g
--defined-only); compile_commands.json maps each object to its source. Objects whose source
no longer exists (a build directory may hold objects of deleted files) are not in it after
the next configure and are ignored, as are the symbols the sanitizers generate. The checker
first runs on broken inputs and must complain (self-check), and it fails when the build holds
no object of an enforced folder, so it cannot pass by finding nothing.

Usage: 0063-names.py [BUILD_DIR]; BUILD_DIR defaults to $WB_BUILD_DIR. Exit 77 (skip) when
there is no build directory.
"""

import json
import os
import shlex
import subprocess
import sys

ROOT = os.environ.get("WB_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# Folders whose files must follow the rule (a folder also covers its subfolders; the libraries
# under common/ are listed too, so that each must hold objects). Add a folder here once its
# files are renamed.
ENFORCED = ["common", "common/graph", "common/apply", "producer", "ctl", "worker"]

# The only files allowed to export names outside the rule, with exactly those names.
EXCEPTIONS = {
    "common/wb_mem.c": {"wb_malloc", "wb_calloc", "wb_realloc", "wb_strdup", "wb_strndup",
                        "wb_asprintf"},
}

# Symbols the compiler's instrumentation (ASan, UBSan, coverage) defines in every object.
GENERATED = ("__odr_asan", "__asan_", "__ubsan_", "__sanitizer_", "__sancov_")


def allowed_prefixes(src, sources):
    """The prefixes src (a path relative to the root) may export: its own stem, and the stem of
    every core module of its folder that it is a part of."""
    folder, base = os.path.split(src)
    stem = base[:-2]
    prefixes = [stem]
    parts = stem.split("_")
    for i in range(1, len(parts)):
        core = "_".join(parts[:i])
        if os.path.join(folder, core + ".c") in sources:
            prefixes.append(core)
    return prefixes


def problems(exports, enforced=None, exceptions=None):
    """exports: {source path relative to the root: set of exported symbols}. Returns a list of
    problems for the sources under the enforced folders."""
    enforced = ENFORCED if enforced is None else enforced
    exceptions = EXCEPTIONS if exceptions is None else exceptions
    out = []
    sources = set(exports)
    for folder in enforced:
        mine = sorted(s for s in exports if s.startswith(folder + "/"))
        if not mine:
            out.append("%s/: the build holds no object of this folder" % folder)
        for src in mine:
            syms = {s for s in exports[src] if not s.startswith(GENERATED)}
            extra = exceptions.get(src, set())
            if "main" in syms:
                bad = sorted(syms - {"main"})
                if bad:
                    out.append("%s: a program's entry file exports only main, not %s" %
                               (src, ", ".join(bad)))
                continue
            prefixes = allowed_prefixes(src, sources)
            bad = sorted(s for s in syms - extra
                         if not any(s == p or s.startswith(p + "_") for p in prefixes))
            if bad:
                out.append("%s: exports %s, outside its prefix%s %s" %
                           (src, ", ".join(bad), "es" if len(prefixes) > 1 else "",
                            " ".join(p + "_*" for p in prefixes)))
    for src, names in exceptions.items():
        if src not in exports:
            out.append("%s: listed in EXCEPTIONS but not built" % src)
            continue
        missing = sorted(names - exports[src])
        if missing:
            out.append("%s: EXCEPTIONS lists %s, which it does not export" %
                       (src, ", ".join(missing)))
    return out


def object_of(entry):
    """The object file a compile_commands.json entry writes (absolute)."""
    args = entry.get("arguments") or shlex.split(entry["command"])
    for i, a in enumerate(args):
        if a == "-o" and i + 1 < len(args):
            return os.path.join(entry["directory"], args[i + 1])
        if a.startswith("-o") and len(a) > 2:
            return os.path.join(entry["directory"], a[2:])
    return None


def exported(obj):
    out = subprocess.run(["nm", "-g", "--defined-only", "-P", obj], capture_output=True,
                         text=True, check=True)
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


def build_exports(build):
    """{source relative to ROOT: exported symbols} for every object of the build whose source
    exists in ROOT (a source compiled twice, e.g. for the fuzzers, is the union)."""
    with open(os.path.join(build, "compile_commands.json")) as f:
        entries = json.load(f)
    root = os.path.realpath(ROOT)
    exports = {}
    for e in entries:
        src = os.path.realpath(os.path.join(e["directory"], e["file"]))
        obj = object_of(e)
        if not src.startswith(root + "/") or not os.path.isfile(src):
            continue
        if not obj or not os.path.isfile(obj):
            continue
        rel = os.path.relpath(src, root)
        exports.setdefault(rel, set()).update(exported(obj))
    return exports


def self_check():
    """The checker must complain about each kind of break, and accept the good cases."""
    errors = []
    good = {
        "common/wb_conf.c": {"wb_conf_new", "wb_conf_get_int"},
        "common/wb_conf_table.c": {"wb_conf_props", "wb_conf_table_x", "__odr_asan_gen_x"},
        "common/wb_log.c": {"wb_log", "wb_log_set_level"},
        "common/wb_mem.c": {"wb_malloc", "wb_mem_stats"},
        "producer/main.c": {"main"},
        "producer/wb_graph.c": {"wb_graph_new"},
    }
    exc = {"common/wb_mem.c": {"wb_malloc"}}
    got = problems(good, ["common", "producer"], exc)
    if got:
        errors.append("self-check: a good tree was reported: %s" % got)
    broken = [
        ({"producer/graph.c": {"wb_graph_new"}}, "graph.c: exports wb_graph_new"),
        ({"common/wb_metrics.c": {"wb_metrics_new", "wb_metric_inc"}}, "wb_metric_inc"),
        ({"common/wb_log.c": {"wb_log", "wb_vlog"}}, "wb_vlog"),
        ({"common/wb_logx.c": {"wb_log_x"}, "common/wb_log.c": {"wb_log"}}, "wb_log_x"),
        ({"common/wb_idmap.c": {"wb_idmap_new", "wb_idkey_parse"}}, "wb_idkey_parse"),
        ({"common/wb_conf_table.c": {"wb_idkey_x"}, "common/wb_conf.c": set()}, "wb_idkey_x"),
        ({"common/wb_conf_table.c": {"wb_conf_props"}}, "wb_conf_props"),  # no core file
        ({"producer/main.c": {"main", "wb_helper"}}, "wb_helper"),
        ({"common/wb_id.c": {"wb_malloc"}}, "wb_malloc"),
        ({"producer/wb_round.c": {"apply_x"}}, "wb_round.c: exports apply_x"),
        ({"producer/lag.c": {"ctl_lag"}}, "lag.c: exports ctl_lag, outside its prefix lag_*"),
    ]
    alone = [
        ({"common/wb_mem.c": {"wb_malloc"}}, "producer/: the build holds no object"),
        ({"common/wb_a.c": set(), "producer/wb_b.c": set()}, "wb_mem.c: listed in EXCEPTIONS"),
    ]
    for exports, want in [(x, w) for x, w in broken] + alone:
        e = {}
        if (exports, want) not in alone:
            e = {"common/wb_mem.c": {"wb_malloc"}, "producer/main.c": {"main"}}
        e.update(exports)
        got = problems(e, ["common", "producer"], exc)
        if not any(want in p for p in got):
            errors.append("self-check: %s was not reported as %r: %s" % (exports, want, got))
    return errors


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("WB_BUILD_DIR")
    if not build or not os.path.isfile(os.path.join(build, "compile_commands.json")):
        print("SKIP: no build directory with compile_commands.json (set WB_BUILD_DIR)")
        return 77
    errors = self_check()
    errors += problems(build_exports(build))
    for e in errors:
        print("FAIL: %s" % e)
    if errors:
        print("%d problem(s); the rule is in CONTRIBUTING.md, \"Names\"" % len(errors))
        return 1
    print("ok: every file of %s exports only its prefix" % ", ".join(f + "/" for f in ENFORCED))
    return 0


if __name__ == "__main__":
    sys.exit(main())
