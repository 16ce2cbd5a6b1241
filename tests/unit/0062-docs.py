#!/usr/bin/env python3
"""0062-docs: the repository explains itself without anything outside it, and its docs stay
true to the code.

(a) No file of the repository refers to a path outside it: no machine paths of the build
    hosts or home directories, no relative path that climbs above the repository root, no
    markdown link to a file (or heading) that does not exist, no mention of a `*.md` document
    the repository does not hold.
(b) Every dead-letter, member-skip, member-drop and event-skip reason the sources emit (as a
    WB_REASON_* id; a string literal where a reason goes is itself a problem) is in the reason
    table of common/wb_reason.c with the right kind, and every reason of the table is
    emitted; the reason tables of docs/errors.md list exactly the table's reasons (0015-reason
    checks their text). The places that quote reasons elsewhere (the operator's guide,
    `dlq --help`, wb_dlqhdr.h) name only emitted ones.
    Every scanner must find something, so a code change cannot make the check vacuous.
(c) docs/README.md links every file of docs/.

Usage: 0062-docs.py [ROOT]; ROOT defaults to $WB_SOURCE_DIR, else this checkout. Each
checker first runs on broken inputs and must complain (self-check).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
MD = ".md"
UP = ".." + "/"

# Paths that only exist on some machine, never in a checkout. Spelled in pieces so that this
# file does not match itself.
OUTSIDE = [
    ("a build host's shared area", re.compile("/" + "work/")),
    ("the shared design documents", re.compile(r"(?<![\w-])" + re.escape(UP) + "shared/")),
    ("the shared design documents", re.compile(r"(?<![\w./-])shared/" + "docs/")),
    ("the shared design documents", re.compile(r"\bentra" + r"-spec\b")),
    ("a home directory", re.compile(r"(?<![\w.-])/(?:home|Users)/[A-Za-z0-9_.-]+")),
    ("root's home directory", re.compile(r"(?<![\w.-])/" + r"root/")),
]
# A relative path that starts with ../ (not a continuation of a longer path or a variable).
CLIMB = re.compile(r"(?<![\w$}/.~-])((?:" + re.escape(UP) + r")+[\w@.-]*)")
MD_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
MD_NAME = re.compile(r"[\w./-]*[\w-]+\.md\b")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def repo_files(root):
    """Tracked and new (not ignored) files; a plain directory is walked."""
    if os.path.exists(os.path.join(root, ".git")):
        out = subprocess.run(["git", "-C", root, "ls-files", "--cached", "--others",
                              "--exclude-standard", "-z"], capture_output=True, check=True)
        names = [n for n in out.stdout.decode().split("\0") if n]
        return sorted(n for n in set(names) if os.path.isfile(os.path.join(root, n)))
    found = []
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if not (x.startswith("build") or x in (".wb", ".git",
                                                                         "__pycache__"))]
        for f in files:
            found.append(os.path.relpath(os.path.join(d, f), root))
    return sorted(found)


def read_text(path):
    try:
        with open(path, encoding="utf-8") as fp:
            return fp.read()
    except (UnicodeDecodeError, OSError):
        return None


def slug(heading):
    """GitHub's anchor for a heading."""
    h = heading.strip().lower().replace("`", "")
    h = re.sub(r"[^\w\- ]", "", h)
    return h.replace(" ", "-")


def anchors(text):
    seen, out = {}, set()
    for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", FENCE.sub("", text), re.M):
        s = slug(m.group(1))
        n = seen.get(s, 0)
        seen[s] = n + 1
        out.add(s if n == 0 else "%s-%d" % (s, n))
    return out


def line_of(text, pos):
    return text.count("\n", 0, pos) + 1


def inside(root, path):
    root = os.path.realpath(root)
    path = os.path.realpath(path)
    return path == root or path.startswith(root + os.sep)


# ------------------------------------------------------------------------------- part (a)

def outside_problems(root, files):
    problems = []
    basenames = {os.path.basename(f) for f in files}
    for rel in files:
        text = read_text(os.path.join(root, rel))
        if text is None:
            continue
        here = os.path.dirname(os.path.join(root, rel))
        for what, rx in OUTSIDE:
            for m in rx.finditer(text):
                problems.append("%s:%d: refers to %s (%r)" % (rel, line_of(text, m.start()),
                                                              what, m.group(0)))
        for m in CLIMB.finditer(text):
            target = os.path.normpath(os.path.join(here, m.group(1)))
            if not inside(root, target):
                problems.append("%s:%d: relative path %r climbs above the repository"
                                % (rel, line_of(text, m.start()), m.group(1)))
        for m in MD_NAME.finditer(text):
            name = m.group(0)
            if name.startswith("/") or "://" in text[max(0, m.start() - 12):m.end()]:
                continue
            cands = [os.path.join(here, name), os.path.join(root, name)]
            if any(os.path.isfile(c) and inside(root, c) for c in cands):
                continue
            if "/" not in name and name in basenames:
                continue
            problems.append("%s:%d: names %r, which is not in the repository"
                            % (rel, line_of(text, m.start()), name))
        if rel.endswith(MD):
            problems += link_problems(root, rel, text)
    return problems


def link_problems(root, rel, text):
    problems = []
    here = os.path.dirname(os.path.join(root, rel))
    body = FENCE.sub(lambda f: "\n" * f.group(0).count("\n"), text)  # keeps line numbers
    for m in MD_LINK.finditer(body):
        target = m.group(1).strip("<>")
        if SCHEME.match(target):
            continue
        where = "%s:%d" % (rel, line_of(body, m.start()))
        path, _, frag = target.partition("#")
        if path.startswith("/"):
            problems.append("%s: absolute link %r" % (where, target))
            continue
        full = os.path.normpath(os.path.join(here, path)) if path else os.path.join(root, rel)
        if not inside(root, full):
            problems.append("%s: link %r leaves the repository" % (where, target))
            continue
        if not os.path.exists(full):
            problems.append("%s: link %r: no such file" % (where, target))
            continue
        if frag and full.endswith(MD) and frag not in anchors(read_text(full) or ""):
            problems.append("%s: link %r: no heading with that anchor" % (where, target))
    return problems


# ------------------------------------------------------------------------------- part (b)

# A reason in code is a WB_REASON_* id of the table (or its tag through wb_reason_tag); a bare
# string literal where a reason goes is reported, so no tag lives outside the table.
REASON = r'(?:"([a-z][a-z0-9_]*)"|(?:wb_reason_tag\(\s*)?WB_REASON_([A-Z][A-Z0-9_]*)\b)'
# (name, where the reasons go, pattern). Each must match somewhere in the sources.
EMITTERS = [
    ("wb_aenv_fail", "failure", re.compile(r"\bwb_aenv_fail\(\s*[^,()]+,\s*\w+,\s*WB_ERR_\w+,\s*"
                                           + REASON)),
    ("wb_aenv_ldap_fail", "failure",
     re.compile(r"\bwb_aenv_ldap_fail\(\s*[^,()]+,\s*\w+,\s*" + REASON)),
    ("wb_batch_dlq_send", "failure",
     re.compile(r"\bwb_batch_dlq_send\(\s*\w+,\s*[^,()]+(?:\[[^\]]*\])?,\s*" + REASON)),
    ("reason assignment", "any", re.compile(r"(?:->|\.)reason\s*=\s*" + REASON)),
    ("wb_aenv_skipped", "skip", re.compile(r"\bwb_aenv_skipped\(\s*[^,]+,\s*" + REASON)),
    ("drop_reasons", "drop", re.compile(r"\bdrop_reasons\[[^\]]*\]\s*=\s*\{([^}]*)\}")),
    ("reason id", "any", re.compile(r"\bWB_REASON_(?!KIND_|COUNT\b)([A-Z][A-Z0-9_]*)\b")),
]
TABLE = "common/wb_reason.c"
TABLE_ROW = re.compile(r'\[WB_REASON_([A-Z0-9_]+)\]\s*=\s*\{\s*"([a-z][a-z0-9_]*)",\s*'
                       r"WB_REASON_KIND_([A-Z_]+)\b")
TABLE_KINDS = {"DEAD_LETTER": "failure", "SKIP": "skip", "DROP": "drop", "LEFT_ALONE": "any"}
SECTIONS = {  # heading in docs/errors.md -> kind of reason it lists
    "Dead-letter reasons": "failure",
    "Member skips (worker)": "skip",
    "Producer member drops": "drop",
    "Events left alone": "any",
}
SOURCE_DIRS = ("worker", "common", "producer", "ctl")


def emitted_reasons(root, files):
    """{reason: set of kinds} from the sources, and problems (a scanner that found nothing)."""
    out, hits, problems = {}, {name: 0 for name, _, _ in EMITTERS}, []
    for rel in files:
        if (rel.split("/")[0] not in SOURCE_DIRS or not rel.endswith((".c", ".h"))
                or rel in (TABLE, TABLE[:-2] + ".h")):
            continue
        text = read_text(os.path.join(root, rel)) or ""
        for name, kind, rx in EMITTERS:
            for m in rx.finditer(text):
                if name == "drop_reasons":
                    names = [r.lower() for r in
                             re.findall(r"\bWB_REASON_([A-Z0-9_]+)", m.group(1))]
                elif name == "reason id":
                    names = [m.group(1).lower()]
                elif m.group(1):
                    problems.append("%s: reason \"%s\" is a string literal; name it "
                                    "WB_REASON_%s (common/wb_reason.h)"
                                    % (rel, m.group(1), m.group(1).upper()))
                    names = [m.group(1)]
                else:
                    names = [m.group(2).lower()]
                for r in names:
                    out.setdefault(r, set()).add(kind)
                    hits[name] += 1
    for name, n in hits.items():
        if n == 0:
            problems.append("scanner %r found no reason in %s: the code changed; update "
                            "EMITTERS in 0062-docs.py" % (name, "/, ".join(SOURCE_DIRS) + "/"))
    return out, problems


def table_reasons(root):
    """{reason: kind} from the table of common/wb_reason.c, and problems."""
    out, problems = {}, []
    for ident, tag, kind in TABLE_ROW.findall(read_text(os.path.join(root, TABLE)) or ""):
        if ident != tag.upper():
            problems.append("%s: WB_REASON_%s has tag %r; the id must be the tag in upper case"
                            % (TABLE, ident, tag))
        if kind not in TABLE_KINDS:
            problems.append("%s: %r has unknown kind %s" % (TABLE, tag, kind))
        out[tag] = TABLE_KINDS.get(kind)
    if not out:
        problems.append("%s: no reason row found; update TABLE_ROW in 0062-docs.py" % TABLE)
    return out, problems


def documented_reasons(text):
    """{reason: section kind} from the reason tables of docs/errors.md, and problems."""
    out, problems, counts = {}, [], {s: 0 for s in SECTIONS}
    section = None
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            continue
        m = re.match(r"^\|\s*`([a-z][a-z0-9_]*)`\s*\|", line)
        if m and section in SECTIONS:
            out[m.group(1)] = SECTIONS[section]
            counts[section] += 1
    for s, n in counts.items():
        if n == 0:
            problems.append("docs/errors.md: no reason table under \"## %s\"" % s)
    return out, problems


# Other places that quote reasons: (file, pattern whose group 1 holds a list of reasons).
MENTIONS = [
    ("ctl/OPERATIONS.md", re.compile(r"^## Dead letters\n(.*?)(?=^## )", re.S | re.M)),
    ("ctl/ctl_dlq.c", re.compile(r"--reason R\s+wb\.reason equals R \(e\.g\. ([^)]*)\)")),
    ("common/wb_dlqhdr.h", re.compile(r"short tag: ([^*]*?)(?:, \.\.\.)?\s*\*/")),
]


def mention_problems(root, emitted):
    problems = []
    for rel, rx in MENTIONS:
        text = read_text(os.path.join(root, rel))
        m = rx.search(text or "")
        if not m:
            problems.append("%s: the list of reasons was not found; update MENTIONS in "
                            "0062-docs.py" % rel)
            continue
        if rel.endswith(MD):
            names = re.findall(r"`([a-z][a-z0-9]*(?:_[a-z0-9]+)*)`", m.group(1))
        else:
            names = re.findall(r"[a-z][a-z0-9_]*", m.group(1))
        if not names:
            problems.append("%s: no reason found in the quoted list" % rel)
        for r in names:
            if r not in emitted:
                problems.append("%s: names reason %r, which the code does not emit" % (rel, r))
    return problems


def reason_problems(root, files):
    emitted, problems = emitted_reasons(root, files)
    table, tproblems = table_reasons(root)
    doc, dproblems = documented_reasons(read_text(os.path.join(root, "docs", "errors" + MD))
                                        or "")
    problems += tproblems + dproblems
    for r, kinds in sorted(emitted.items()):
        if r not in table:
            problems.append("reason %r is emitted by the code but not in %s" % (r, TABLE))
            continue
        want = kinds - {"any", "failure"}
        if want and table[r] not in want:
            problems.append("reason %r is a %s reason but listed as %s in %s"
                            % (r, "/".join(sorted(want)), table[r], TABLE))
    for r in sorted(table):
        if r not in emitted:
            problems.append("%s lists reason %r, which the code does not emit" % (TABLE, r))
        elif doc.get(r) != table[r]:
            problems.append("docs/errors.md does not list reason %r as %s (stale: refresh it "
                            "with 0015-reason)" % (r, table[r]))
    for r in sorted(doc):
        if r not in table:
            problems.append("docs/errors.md lists reason %r, which %s does not" % (r, TABLE))
    return problems + mention_problems(root, emitted)


# ------------------------------------------------------------------------------- part (c)

def index_problems(root, files):
    index = read_text(os.path.join(root, "docs", "README" + MD))
    if index is None:
        return ["docs/README.md is missing"]
    linked = {os.path.normpath(t.partition("#")[0]) for t in MD_LINK.findall(index)}
    return ["docs/README.md does not list %s" % f for f in files
            if f.startswith("docs/") and f.count("/") == 1 and f.endswith(MD)
            and f != "docs/README" + MD and os.path.basename(f) not in linked]


# ------------------------------------------------------------------------------- self-check

def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fp:
        fp.write(text)


def self_check():
    errors = []
    with tempfile.TemporaryDirectory(prefix="wb0062-") as t:
        write(t, "README" + MD, "# Top\n[ok](docs/a%s#top-part) [x](https://example.com)\n" % MD)
        write(t, "docs/a" + MD,
              "## Top part\n[gone](missing%s) [out](%s%soutside%s) [anchor](#nowhere)\n"
              "[abs](/etc/passwd) see design%s\n```\n[in a fence](nothing.txt)\n```\n"
              % (MD, UP, UP, MD, MD))
        write(t, "src/x.c", '#include "%s%s%sy.h"\n/* %swork/x and %sshared/docs and %shome/ann */\n'
              '/* see entra%s in %sroot/notes (%sdocs/z) */\n'
              % (UP, UP, UP, "/", UP, "/", "-spec 1.3", "/", "shared/"))
        got = outside_problems(t, repo_files(t))
        want = ["missing", "leaves the repository", "no heading", "absolute link",
                "design" + MD, "climbs above", "build host", "shared design", "home directory"]
        for w in want:
            if not any(w in p for p in got):
                errors.append("self-check (a): a broken tree did not report %r: %s" % (w, got))
        for what in {w for w, _ in OUTSIDE}:
            n = sum(1 for w, _ in OUTSIDE if w == what)
            if sum(1 for p in got if "refers to " + what in p) < n:
                errors.append("self-check (a): not every pattern of %r fired: %s" % (what, got))
        if any("nothing.txt" in p for p in got):
            errors.append("self-check (a): a link inside a code fence was checked")
        if any(p.startswith("README") for p in got):
            errors.append("self-check (a): a good link was reported: %s" % got)

        write(t, "worker/w.c",
              "wb_aenv_fail(&ap->env, res, WB_ERR_CONFLICT, WB_REASON_DN_CONFLICT, 68, dn);\n"
              "wb_aenv_ldap_fail(mb->env, res, WB_REASON_ADD_FAILED, rc, dn);\n"
              "wb_batch_dlq_send(b, &bm[i], wb_reason_tag(WB_REASON_POISON), WB_ERR_INVALID, -1,"
              " NULL, 1);\n"
              "res->reason = wb_reason_tag(WB_REASON_KEPT);\n"
              'wb_aenv_skipped(mb->env, "user_gone", 1);\n'
              "x = wb_reason_find(r) == WB_REASON_GONE_GROUP || y == WB_REASON_COUNT;\n")
        write(t, TABLE, "\n".join('[WB_REASON_%s] = {"%s", WB_REASON_KIND_%s, WB_OK,'
                                  % (i, g, k) for i, g, k in [
                                      ("DN_CONFLICT", "dn_conflict", "DEAD_LETTER"),
                                      ("POISON", "poison", "DEAD_LETTER"),
                                      ("NOT_EMITTED", "not_emitted", "DEAD_LETTER"),
                                      ("GONE_GROUP", "gone_group", "DEAD_LETTER"),
                                      ("USER_GONE", "user_gone", "DROP"),
                                      ("KEPT", "kept", "LEFT_ALONE"),
                                      ("CLOUD_ONLY", "cloud_only", "DROP"),
                                      ("ODD_ID", "odd_tag", "SKIP")]))
        write(t, "producer/p.c", "static const enum wb_reason drop_reasons[2] = "
              "{WB_REASON_CLOUD_ONLY, WB_REASON_ODD};\n")
        write(t, "docs/errors" + MD, "## Dead-letter reasons\n| `dn_conflict` | x |\n"
              "| `poison` | x |\n| `not_emitted` | x |\n| `stale_row` | x |\n"
              "## Member skips (worker)\n"
              "| `user_gone` | x |\n## Producer member drops\n| `cloud_only` | x |\n"
              "## Events left alone\n| `kept` | x |\n")
        write(t, "ctl/OPERATIONS" + MD, "## Dead letters\n`dn_conflict`, `stale_name`\n## Next\n")
        write(t, "ctl/ctl_dlq.c", '"  --reason R      wb.reason equals R (e.g. name_gone, poison)\\n"')
        write(t, "common/wb_dlqhdr.h", "/* short tag: poison, dn_conflict, ... */")
        got = reason_problems(t, repo_files(t))
        for w in ["'add_failed' is emitted", "'odd' is emitted", "lists reason 'not_emitted'",
                  "names reason 'stale_name'", "names reason 'name_gone'",
                  "'user_gone' is a skip reason but listed as drop",
                  "does not list reason 'gone_group'", "lists reason 'stale_row'",
                  "the id must be the tag", "lists reason 'odd_tag'",
                  'reason "user_gone" is a string literal']:
            if not any(w in p for p in got):
                errors.append("self-check (b): did not report %r: %s" % (w, got))
        if any("wb_dlqhdr.h" in p for p in got):
            errors.append("self-check (b): a good mention was reported: %s" % got)
        write(t, "worker/w.c", "/* nothing */\n")
        write(t, "producer/p.c", "/* nothing */\n")
        got = reason_problems(t, repo_files(t))
        if not any("scanner 'wb_aenv_fail' found no reason" in p for p in got) or \
                not any("scanner 'reason id' found no reason" in p for p in got):
            errors.append("self-check (b): an empty scan was not reported: %s" % got)

    with tempfile.TemporaryDirectory(prefix="wb0062-") as t:
        write(t, "docs/README" + MD, "[a](a%s)\n" % MD)
        write(t, "docs/a" + MD, "# A\n")
        write(t, "docs/b" + MD, "# B\n")
        got = index_problems(t, repo_files(t))
        if got != ["docs/README.md does not list docs/b" + MD]:
            errors.append("self-check (c): an unlisted file was not reported: %s" % got)
    return errors


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.environ.get("WB_SOURCE_DIR") or os.path.join(HERE, "..", ".."))
    errors = self_check()
    files = repo_files(root)
    if len(files) < 50 or "docs/errors" + MD not in files:
        errors.append("%s: only %d files found, or no docs/errors.md: wrong root?"
                      % (root, len(files)))
    errors += outside_problems(root, files)
    errors += reason_problems(root, files)
    errors += index_problems(root, files)
    for e in errors:
        print("FAIL: " + e)
    emitted, _ = emitted_reasons(root, files)
    print("0062-docs: %d files checked, %d reasons emitted by the sources, %d problem(s)"
          % (len(files), len(emitted), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
