#!/usr/bin/env python3
"""0064-includes: what two programs share lives in common/, and the includes have no cycle
(CONTRIBUTING.md, "Names").

Every #include "x.h" of a source or header in the code folders (FOLDERS below) is resolved to
the header it names: a header of the including file's own folder first (as the compiler finds
it), else the one header of that name in the code folders (two headers of one name in
different folders are reported: a reader could not tell which one is meant). Then:
  1. A program's folder (producer/, worker/, ctl/) includes only its own headers and those of
     common/ and its subfolders: never a header of another program's folder.
  2. Nothing in common/ (nor its subfolders) includes a header of a program's folder.
  3. The folders, with an edge from a folder to every folder it includes a header of, form
     no cycle (common/ below common/graph/ and common/apply/, and those below the programs).
  4. The headers, with an edge from a header to every header it includes, form no cycle.
A header that is not found in the code folders is a system or library header and ignored.
The checker first runs on broken trees and must complain about each rule (self-check), and it
fails when it finds no include at all, so it cannot pass by reading nothing.

Usage: 0064-includes.py [ROOT]; ROOT defaults to $WB_SOURCE_DIR, else this checkout.
"""

import os
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# The code folders: common/ and its libraries, and the three programs (a program's folder
# includes its subfolders, e.g. producer/tools/).
COMMON = "common"
PROGRAMS = ("producer", "worker", "ctl")
FOLDERS = (COMMON,) + PROGRAMS

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def area(rel):
    """The program folder rel (a path relative to the root) belongs to, or "common"."""
    return rel.split("/")[0]


def sources(root):
    """Relative paths of every .c and .h under the code folders."""
    out = []
    for top in FOLDERS:
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in files:
                if f.endswith((".c", ".h")):
                    out.append(os.path.relpath(os.path.join(d, f), root))
    return sorted(out)


def resolve(rel, name, headers):
    """The header (relative path) that #include "name" in rel finds, or None when none of the
    code folders holds it; a list when it is ambiguous."""
    own = os.path.normpath(os.path.join(os.path.dirname(rel), name))
    if own in headers:
        return own
    found = [h for h in headers if os.path.basename(h) == os.path.basename(name)]
    if len(found) == 1:
        return found[0]
    return found or None


def find_cycle(edges):
    """One cycle of the directed graph edges ({node: set of nodes}) as a list, or None."""
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                c = visit(m)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(edges):
        if n not in state:
            c = visit(n)
            if c:
                return c
    return None


def problems(root):
    files = sources(root)
    headers = {f for f in files if f.endswith(".h")}
    out, seen = [], 0
    folder_edges, header_edges = {}, {}
    for rel in files:
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            text = f.read()
        for name in INCLUDE.findall(text):
            target = resolve(rel, name, headers)
            if target is None:
                continue
            seen += 1
            if isinstance(target, list):
                out.append("%s: #include \"%s\" is ambiguous: %s" % (rel, name, ", ".join(target)))
                continue
            src, dst = area(rel), area(target)
            if src in PROGRAMS and dst in PROGRAMS and dst != src:
                out.append("%s: includes %s, a header of another program's folder (%s/); what "
                           "two programs share goes in common/" % (rel, target, dst))
            if src == COMMON and dst in PROGRAMS:
                out.append("%s: includes %s: nothing in common/ includes a program's header"
                           % (rel, target))
            a, b = os.path.dirname(rel), os.path.dirname(target)
            if a != b:
                folder_edges.setdefault(a, set()).add(b)
            if rel.endswith(".h"):
                header_edges.setdefault(rel, set()).add(target)
    if seen == 0:
        out.append("no #include of a header of %s/ found: the checker read nothing"
                   % "/, ".join(FOLDERS))
    cycle = find_cycle(folder_edges)
    if cycle:
        out.append("the folders include each other in a cycle: %s" % " -> ".join(
            c + "/" for c in cycle))
    cycle = find_cycle(header_edges)
    if cycle:
        out.append("the headers include each other in a cycle: %s" % " -> ".join(cycle))
    return out


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def self_check():
    """Each rule must fire on a tree that breaks it, and a good tree must pass."""
    errors = []

    def tree(files):
        t = tempfile.mkdtemp(prefix="wb0064-")
        for rel, text in files.items():
            write(t, rel, text)
        return t

    good = {
        "common/wb_log.h": "#include <stdio.h>\n",
        "common/wb_log.c": '#include "wb_log.h"\n',
        "common/graph/wb_graph.h": '#include "wb_log.h"\n',
        "common/apply/wb_apply.h": '#include "wb_log.h"\n',
        "producer/wb_producer.c": '#include "wb_graph.h"\n#include "wb_producer.h"\n',
        "producer/wb_producer.h": "",
        "producer/tools/dump.c": '#include "wb_log.h"\n',
        "worker/wb_worker.c": '#include "wb_apply.h"\n',
        "ctl/ctl.c": '#include "wb_graph.h"\n#include "wb_apply.h"\n#include <ldap.h>\n',
    }
    got = problems(tree(good))
    if got:
        errors.append("self-check: a good tree was reported: %s" % got)
    broken = [
        ({"ctl/ctl.c": '#include "wb_producer.h"\n'}, "another program's folder (producer/)"),
        ({"worker/wb_worker.h": '#include "wb_producer.h"\n'}, "worker/wb_worker.h: includes"),
        ({"common/apply/wb_apply.c": '#include "wb_producer.h"\n'},
         "nothing in common/ includes a program's header"),
        ({"common/wb_log.c": '#include "wb_graph.h"\n'}, "folders include each other in a cycle"),
        ({"common/wb_log.h": '#include "wb_err.h"\n', "common/wb_err.h": '#include "wb_log.h"\n'},
         "headers include each other in a cycle"),
        ({"ctl/wb_log.h": ""}, "is ambiguous"),
    ]
    for extra, want in broken:
        files = dict(good)
        files.update(extra)
        got = problems(tree(files))
        if not any(want in p for p in got):
            errors.append("self-check: %s was not reported as %r: %s" % (extra, want, got))
    got = problems(tree({"common/wb_log.c": "#include <stdio.h>\n"}))
    if not any("read nothing" in p for p in got):
        errors.append("self-check: an empty scan was not reported: %s" % got)
    return errors


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.environ.get("WB_SOURCE_DIR") or os.path.join(HERE, "..", ".."))
    errors = self_check() + problems(root)
    for e in errors:
        print("FAIL: %s" % e)
    if errors:
        print("%d problem(s); the rule is in CONTRIBUTING.md, \"Names\"" % len(errors))
        return 1
    print("ok: no program includes another's header, common/ includes no program's, and "
          "neither the folders nor the headers include each other in a cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
