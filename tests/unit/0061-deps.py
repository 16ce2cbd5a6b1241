"""Every external program, data file, build dependency and Python module that the scripts, tests
and the quickstart use comes from a Debian package that deploy/install-deps.sh installs: named
in its list, or pulled in by one named there through Depends/Pre-Depends (a Recommends does not
count: install-deps.sh installs with --no-install-recommends), or part of every Debian root
(Essential or Priority required, what debootstrap's minbase variant installs).

What is needed comes from a table (NEEDS: each entry says why) and from a scan of the shell
scripts and Python files under tests/, deploy/ and .ci/ for the programs they run and the
modules they import; a scanned program that is neither in the table nor from a base package
fails the test, so the table cannot fall behind. Which package provides each thing is asked of
dpkg on this machine (`dpkg -S`, `dpkg-query`). The checker is also run on the list without
samba-ad-provision and must complain about samba-tool's provisioning data.

WB_DEPS_FILE=<path> checks another install-deps.sh instead (e.g. an older one)."""

import glob
import os
import re
import shutil
import subprocess
import sys

ROOT = os.environ.get("WB_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DEPS_FILE = os.environ.get("WB_DEPS_FILE") or os.path.join(ROOT, "deploy", "install-deps.sh")

# What the project needs that a scan cannot see (or that must never drop out): a program on
# PATH, an absolute path of a data file, "pc:<module>" for a pkg-config module the build
# links, "cc:<file>" for a library the C compiler links, "py:<module>" for a Python module.
# Each says who needs it.
NEEDS = {
    "cc": "CMake's C compiler (run.sh, quickstart.sh build)",
    "make": "CMake's default generator",
    "cmake": "configures and builds (run.sh, quickstart.sh)",
    "pkg-config": "CMake finds the libraries through it",
    "ctest": "runs the tests (run.sh)",
    "clang-format": "tests/unit/0000-format.sh",
    "nm": "tests/unit/0063-names.py (the exported symbols of the built objects)",
    "samba": "the AD DC of tests/services/samba.sh",
    "samba-tool": "provisions the AD DC (tests/services/samba.sh)",
    "/usr/share/samba/setup/provision_basedn.ldif":
        "samba-tool domain provision reads its LDIF templates from /usr/share/samba/setup",
    "ldapsearch": "tests/services/samba.sh, quickstart.sh, tests/e2e/harness.py",
    "ldapmodify": "tests/services/samba.sh, tests/e2e/harness.py",
    "ldapadd": "tests/e2e/harness.py",
    "ldapdelete": "tests/e2e/harness.py",
    "openssl": "tests/services/samba.sh (CA, server certificate), quickstart.sh (secret)",
    "java": "the Kafka broker (tests/services/kafka.sh)",
    "mvn": "fetches the Kafka jars (tests/services/kafka.sh)",
    "python3": "test scripts, the Graph simulator, quickstart/demo.py",
    "curl": "tests and the quickstart's summary (metrics endpoints)",
    "docker-compose": "tests/unit/0060-deploy-files.py (docker-compose config)",
    "promtool": "tests/unit/0060-deploy-files.py (promtool check rules/config)",
    "systemd-analyze": "tests/unit/0060-deploy-files.py (systemd-analyze verify)",
    "pc:rdkafka": "CMakeLists.txt", "pc:libcurl": "CMakeLists.txt",
    "pc:libcjson": "CMakeLists.txt", "pc:ldap": "CMakeLists.txt",
    "pc:libmicrohttpd": "CMakeLists.txt", "pc:cmocka": "CMakeLists.txt (tests)",
    "py:yaml": "tests/unit/0060-deploy-files.py",
    "py:confluent_kafka": "tests/graphsim/simhub.py (the simulator's Event Hub deliveries, "
                          "tests reading them)",
    "py:samba": "deploy/samba/extend-schema.py (run by tests/services/samba.sh)",
    "cc:libasan.so": "-DWB_SANITIZE=ON (run.sh's build)",
    "cc:libubsan.so": "-DWB_SANITIZE=ON (run.sh's build)",
    "ss": "tests/services/samba.sh (are 389/636 taken?)",
    "ip": "tests/fresh/0990-fresh-root.sh (its network namespace)",
    "debootstrap": "tests/fresh/0990-fresh-root.sh (the Debian root)",
    "git": "tests/unit/0062-docs.py (lists the tracked files), tests/fresh/0990-fresh-root.sh",
}
# Needed, but not installed by install-deps.sh on purpose: name -> why.
NOT_FROM_DEPS = {
    "debootstrap": "only tests/fresh/0990 (label fresh) uses it and installs it when missing",
}
# Programs the scan finds that run somewhere else (not on the machine that runs the scripts).
ELSEWHERE = {
    "deploy/samba/entrypoint.sh": "runs inside the samba-ad image; deploy/samba/Dockerfile "
                                  "installs its packages",
}
# Base packages a scanned program may come from without a NEEDS entry: every one must be
# Essential or Priority required here (checked), i.e. in every Debian root.
BASE = {"bash", "coreutils", "grep", "sed", "findutils", "util-linux", "diffutils", "gzip",
        "tar", "mawk", "dpkg", "apt", "debianutils", "login", "hostname", "ncurses-bin",
        "libc-bin", "base-files", "bsdutils", "passwd", "sysvinit-utils", "perl-base",
        "mount", "dash", "debconf", "init-system-helpers", "e2fsprogs"}

# A Debian machine's PATH and interpreter: what the project runs there, not this machine's
# extras (a pyenv python, tools in ~/.local).
DEBIAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEBIAN_PYTHON = "/usr/bin/python3"

SHELL_KEYWORDS = {"if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done",
                  "case", "esac", "in", "function", "select", "time", "!", "{", "}", "[[",
                  "]]", "coproc"}
BUILTINS = {"alias", "bg", "bind", "break", "builtin", "caller", "cd", "command", "compgen",
            "complete", "continue", "declare", "dirs", "disown", "echo", "enable", "eval",
            "exec", "exit", "export", "false", "fc", "fg", "getopts", "hash", "help",
            "history", "jobs", "kill", "let", "local", "logout", "mapfile", "popd", "printf",
            "pushd", "pwd", "read", "readarray", "readonly", "return", "set", "shift",
            "shopt", "source", "suspend", "test", "times", "trap", "true", "type", "typeset",
            "ulimit", "umask", "unalias", "unset", "wait", ".", ":", "["}
# Commands that run another command: the words after them (options, numbers, NAME=value, one
# argument where noted) are skipped to reach it.
PREFIX_ARGS = {"exec": 0, "command": 0, "nohup": 0, "setsid": 0, "env": 0, "nice": 0,
               "timeout": 0, "xargs": 0, "flock": 0, "chroot": 1, "unshare": 0, "sudo": 0}


# ------------------------------------------------------------------------ shell scan
def shell_commands(text):
    """The words in command position of a bash script, with a rough but quote-, heredoc- and
    comment-aware lexer. Yields (word, line)."""
    out, funcs = [], set(re.findall(r"^\s*(?:function\s+)?([\w.-]+)\s*\(\)", text, re.M))
    cmds = [[]]  # stack of simple commands being collected: list of (word|None, line)
    word, plain, line = "", True, 1
    i, n = 0, len(text)
    heredocs = []
    stack = []  # open constructs: "$(" / "(" / '"'

    saved = []  # the enclosing word of each open $(

    def open_sub():
        nonlocal word, plain
        stack.append("$(")
        saved.append(word)
        word, plain = "", True
        cmds.append([])

    def end_word():
        nonlocal word, plain
        if word:
            cmds[-1].append((word if plain else None, line))
        word, plain = "", True

    def end_cmd():
        end_word()
        toks = cmds[-1]
        cmds[-1] = []
        analyse(toks)

    def analyse(toks):
        k = 0
        while k < len(toks):
            w = toks[k][0]
            if w in ("for", "case", "select", "function"):
                return
            if w in SHELL_KEYWORDS or (w and re.match(r"^\w+(\[[^]]*\])?\+?=", w)):
                k += 1
                continue
            break
        while k < len(toks):
            w, ln = toks[k]
            if w is None or w.startswith("-") or w in funcs or w in BUILTINS - {"exec",
                                                                                 "command"}:
                return
            out.append((w, ln))
            if w == "ip" and [t[0] for t in toks[k + 1:k + 3]] == ["netns", "exec"]:
                k += 4
                continue
            if w not in PREFIX_ARGS:
                return
            k += 1
            skip = PREFIX_ARGS[w]
            while k < len(toks):
                t = toks[k][0]
                if t is not None and (t.startswith("-") or re.match(r"^[\d.]+[smhd]?$", t)
                                      or re.match(r"^\w+=", t)):
                    k += 1
                elif skip:
                    skip -= 1
                    k += 1
                else:
                    break

    while i < n:
        c = text[i]
        top = stack[-1] if stack else None
        if top == '"':
            if c == "\\":
                i += 2
                continue
            if c == '"':
                stack.pop()
            elif text.startswith("$((", i):
                j = text.find("))", i)
                i = j + 2 if j > 0 else n
                continue
            elif text.startswith("$(", i):
                open_sub()
                i += 2
                continue
            elif c == "\n":
                line += 1
            i += 1
            continue
        # normal context (top level, inside $( or ( )
        if c == "\\":
            if i + 1 < n and text[i + 1] == "\n":
                line += 1
            i += 2
            plain = False
            continue
        if c == "'":
            j = text.find("'", i + 1)
            j = n if j < 0 else j
            line += text.count("\n", i, j)
            plain = False
            word += "'"
            i = j + 1
            continue
        if c == '"':
            stack.append('"')
            plain = False
            word += '"'
            i += 1
            continue
        if c == "#" and not word:
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if text.startswith("$((", i) or text.startswith("((", i) and not word:
            j = text.find("))", i)
            i = j + 2 if j > 0 else n
            plain = False
            continue
        if text.startswith("${", i):
            j = text.find("}", i)
            i = j + 1 if j > 0 else n
            plain = False
            word += "$"
            continue
        if text.startswith("$(", i):
            open_sub()
            i += 2
            continue
        if c == "`":
            j = text.find("`", i + 1)
            i = n if j < 0 else j + 1
            plain = False
            continue
        if c == "<" and text.startswith("<<", i) and not text.startswith("<<<", i):
            m = re.match(r"<<-?\s*(['\"]?)([\w.-]+)\1", text[i:])
            if m:
                heredocs.append(m.group(2))
                i += m.end()
                continue
        if c in "<>":
            if word.isdigit():  # 2>...: the descriptor, not a word
                word = ""
            end_word()
            m = re.match(r"[<>]+(&(\d+|-)?)?", text[i:])
            i += m.end()
            if m.group(2):  # >&2, 2>&-: no target
                continue
            # the redirection's target is not a command word
            m2 = re.match(r"\s*(\"[^\"]*\"|'[^']*'|[^\s;|&()<>]+)", text[i:])
            if m2:
                i += m2.end()
            continue
        if c == "\n":
            end_cmd()
            line += 1
            i += 1
            for d in heredocs:  # skip heredoc bodies
                while i < n:
                    j = text.find("\n", i)
                    j = n if j < 0 else j
                    body = text[i:j]
                    i = j + 1
                    line += 1
                    if body.strip() == d:
                        break
            heredocs = []
            continue
        if c in " \t":
            end_word()
            i += 1
            continue
        if c in ";&|":
            end_cmd()
            i += 1
            continue
        if c == "(":
            end_word()
            if cmds[-1]:  # "name()" of a function definition, or a[...]=(...)
                cmds[-1] = []
            stack.append("(")
            cmds.append([])
            i += 1
            continue
        if c == ")":
            end_cmd()
            if stack and stack[-1] in ("$(", "("):
                if stack.pop() == "$(":  # back in the word that holds $( ... )
                    word, plain = saved.pop() + "$", False
                if len(cmds) > 1:
                    cmds.pop()
            i += 1
            continue
        word += c
        i += 1
    end_cmd()
    return out


# ------------------------------------------------------------------------ python scan
def python_uses(text):
    """Programs a Python file runs (lists whose first element names a program, which() calls)
    and the top-level modules it imports."""
    progs = re.findall(r"(?<![\w\])])\[\s*\"([A-Za-z/][\w.+/-]*)\"\s*[,\]]", text)
    progs += re.findall(r"shutil\.which\(\s*\"([\w.+-]+)\"", text)
    mods = re.findall(r"^\s*import ([\w.]+(?:\s*,\s*[\w.]+)*)", text, re.M)
    mods = [m.strip().split(".")[0] for ms in mods for m in ms.split(",")]
    mods += [m.split(".")[0] for m in re.findall(r"^\s*from ([\w.]+) import", text, re.M)]
    return progs, mods


def script_files():
    files = []
    for pat in ("tests/**/*.sh", "tests/**/*.py", "deploy/**/*.sh", "deploy/**/*.py"):
        files += glob.glob(os.path.join(ROOT, pat), recursive=True)
    files.append(os.path.join(ROOT, ".ci", "run"))
    return sorted(f for f in set(files) if os.path.isfile(f) and "/build" not in
                  os.path.relpath(f, ROOT) and os.path.relpath(f, ROOT) not in ELSEWHERE)


def scan():
    """{program: [where, ...]}, {module: [where, ...]} over every script."""
    progs, mods = {}, {}
    local_mods = {os.path.basename(f)[:-3] for f in script_files() if f.endswith(".py")}
    for f in script_files():
        rel = os.path.relpath(f, ROOT)
        with open(f, encoding="utf-8") as fh:
            text = fh.read()
        if f.endswith(".py"):
            ps, ms = python_uses(text)
            for p in ps:
                progs.setdefault(p, []).append(rel)
            for m in ms:
                if m not in sys.stdlib_module_names and m not in local_mods and m != "__future__":
                    mods.setdefault(m, []).append(rel)
        else:
            for w, ln in shell_commands(text):
                progs.setdefault(w, []).append("%s:%d" % (rel, ln))
    return progs, mods


# ------------------------------------------------------------------------ dpkg
def dpkg_search(paths):
    """{path: package} for the paths dpkg knows (tries the /usr-merged twin too)."""
    cands = {}
    for p in paths:
        alts = [p, os.path.realpath(p)]
        for a in list(alts):
            if a.startswith("/usr/"):
                alts.append(a[4:])
            elif re.match(r"^/(s?bin|lib\w*)/", a):
                alts.append("/usr" + a)
        cands[p] = list(dict.fromkeys(alts))
    allp = sorted({a for v in cands.values() for a in v})
    r = subprocess.run(["dpkg", "-S"] + allp, capture_output=True, text=True)
    owner = {}
    for line in r.stdout.splitlines():
        pk, _, path = line.partition(": ")
        if path in allp and "diversion" not in pk:
            owner[path] = pk.split(",")[0].strip().split(":")[0]
    return {p: next((owner[a] for a in v if a in owner), None) for p, v in cands.items()}


def installed_packages():
    """{package: (essential, priority, [dependency groups], [provides])} of what is installed."""
    r = subprocess.run(["dpkg-query", "-W", "-f",
                        "${Package}\t${db:Status-Abbrev}\t${Essential}\t${Priority}\t"
                        "${Pre-Depends}\t${Depends}\t${Provides}\n"],
                       capture_output=True, text=True, check=True)
    db = {}
    for line in r.stdout.splitlines():
        name, status, ess, prio, pre, dep, prov = line.split("\t")
        if not status.startswith("ii"):
            continue
        groups = []
        for g in (pre + "," + dep).split(","):
            alts = [a.strip().split()[0].split(":")[0] for a in g.split("|") if a.strip()]
            if alts:
                groups.append(alts)
        provides = [p.strip().split()[0] for p in prov.split(",") if p.strip()]
        db[name] = (ess == "yes", prio, groups, provides)
    return db


def closure(roots, db):
    """The packages apt installs for roots with --no-install-recommends, as far as this
    machine's installed set tells: Depends and Pre-Depends, for an alternative the first one
    installed here (a virtual name through what provides it)."""
    provided = {}
    for name, (_, _, _, prov) in db.items():
        for p in prov:
            provided.setdefault(p, []).append(name)
    seen, todo = set(), list(roots)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        if p not in db:
            continue
        for alts in db[p][2]:
            for a in alts:
                real = [a] if a in db else sorted(provided.get(a, []))
                if real:
                    todo.append(real[0])
                    break
    return seen


def deps_list(path):
    with open(path, encoding="utf-8") as f:
        m = re.search(r"^pkgs=\(\n?(.*?)^\)", f.read(), re.M | re.S)
    if not m:
        raise SystemExit("0061-deps: no pkgs=( ... ) list in %s" % path)
    words = re.sub(r"#.*", "", m.group(1)).split()
    return [w for w in words if re.match(r"^[a-z0-9][a-z0-9.+-]+$", w)]


# ------------------------------------------------------------------------ the check
def module_origin(mod):
    """The file Debian's python3 imports for mod, or None."""
    r = subprocess.run([DEBIAN_PYTHON, "-c", "import importlib.util, sys\n"
                        "s = importlib.util.find_spec(sys.argv[1])\n"
                        "print(s and (s.origin if s.origin and s.origin.startswith('/') else\n"
                        "             next(iter(s.submodule_search_locations or []), '')) or '')",
                        mod], capture_output=True, text=True)
    return r.stdout.strip() or None


def resolve(needs, db):
    """{need: (package or None, how it was found)}."""
    paths, out = {}, {}
    for need in needs:
        if need.startswith("pc:"):
            r = subprocess.run(["pkg-config", "--path", need[3:]], capture_output=True,
                               text=True)
            paths[need] = r.stdout.strip() if r.returncode == 0 else None
        elif need.startswith("py:"):
            paths[need] = module_origin(need[3:])
        elif need.startswith("cc:"):
            r = subprocess.run(["cc", "-print-file-name=" + need[3:]], capture_output=True,
                               text=True)
            p = os.path.realpath(r.stdout.strip()) if r.returncode == 0 else ""
            paths[need] = p if p.startswith("/") and os.path.exists(p) else None
        elif need.startswith("/"):
            paths[need] = need if os.path.exists(need) else None
        else:
            paths[need] = shutil.which(need, path=DEBIAN_PATH)
    owners = dpkg_search([p for p in paths.values() if p])
    for need, p in paths.items():
        out[need] = (owners.get(p) if p else None, p)
    return out


def problems(pkgs, db, resolved):
    """What a machine with only the base system and pkgs (with their Depends) would lack."""
    have = closure(pkgs, db)
    base = {p for p, (ess, prio, _, _) in db.items() if ess or prio == "required"}
    have |= closure(base, db)
    out = []
    for need, (pkg, path) in sorted(resolved.items()):
        if need in NOT_FROM_DEPS:
            continue
        if path is None:
            out.append("%s (%s) is not on this machine: cannot tell its package" % (
                need, NEEDS.get(need, "")))
        elif pkg is None:
            out.append("%s (%s) at %s belongs to no Debian package" % (need, NEEDS.get(need, ""),
                                                                      path))
        elif pkg not in have:
            why = [p for p in pkgs if p in db and any(pkg in alts for alts in db[p][2])]
            rec = recommended_by(pkg, pkgs)
            out.append("%s (%s) comes from package %s, which install-deps.sh does not install%s"
                       % (need, NEEDS.get(need, ""), pkg,
                          (": only a Recommends of " + ", ".join(rec)) if rec and not why
                          else ""))
    return out


def recommended_by(pkg, pkgs):
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Recommends}\n"] + list(pkgs),
                       capture_output=True, text=True)
    out = []
    for line in r.stdout.splitlines():
        name, _, rec = line.partition("\t")
        if pkg in re.findall(r"[a-z0-9][a-z0-9.+-]+", rec):
            out.append(name)
    return out


def main():
    errors = []
    db = installed_packages()
    pkgs = deps_list(DEPS_FILE)
    unknown = [p for p in pkgs if p not in db]
    if unknown:
        errors.append("install-deps.sh lists packages not installed here: %s" % unknown)

    # the scan: every program a script runs is in NEEDS or comes from a base package
    progs, mods = scan()
    # relative paths are the project's own scripts
    found = {p: shutil.which(p, path=DEBIAN_PATH) for p in progs
             if "/" not in p or p.startswith("/")}
    owners = dpkg_search([w for w in found.values() if w])
    for prog, where in sorted(progs.items()):
        path = found.get(prog)
        if path is None or prog in NEEDS:
            continue  # not a program here (a word, a function elsewhere) or in the table
        pkg = owners.get(path)
        if pkg in BASE:
            continue
        errors.append("%s runs %s (package %s), which is not in 0061-deps.py's NEEDS table"
                      % (", ".join(sorted(set(where))[:3]), prog, pkg))
    for mod, where in sorted(mods.items()):
        if "py:" + mod not in NEEDS:
            errors.append("%s imports %s, which is not in 0061-deps.py's NEEDS table" % (
                ", ".join(sorted(set(where))[:3]), mod))
    for b in sorted(BASE):
        if b in db and not (db[b][0] or db[b][1] == "required"):
            errors.append("BASE names %s, which is neither Essential nor Priority required" % b)

    # the scanner sees commands in $( ), after prefixes and keywords, not in heredocs,
    # comments, strings or redirections
    sample = ("f() { :; }\nx=$(prog-a --x | sort -u) && f\nif ! timeout 3 prog-b 2>&1 >\"$o\""
              "; then echo 'prog-c; x'; fi # prog-d\ncat <<'EOF' >&2\nprog-e\nEOF\n"
              "y=\"$(prog-f \"$(prog-g)\")\"\n")
    got = {w for w, _ in shell_commands(sample)}
    if got != {"prog-a", "sort", "timeout", "prog-b", "cat", "prog-f", "prog-g"}:
        errors.append("the shell scanner found %s in its sample" % sorted(got))

    resolved = resolve(NEEDS, db)
    errors += problems(pkgs, db, resolved)

    # the checker must catch what happened: samba-ad-provision only a Recommends
    if "samba-ad-provision" in pkgs:
        without = [p for p in pkgs if p != "samba-ad-provision"]
        found_it = [p for p in problems(without, db, resolved) if "provision_basedn" in p]
        if not found_it or not re.search(r"only a Recommends of .*samba-ad-dc", found_it[0]):
            errors.append("the checker does not notice a list without samba-ad-provision")

    for need, (pkg, path) in sorted(resolved.items()):
        print("  %-44s %-26s %s" % (need, pkg or "-", NEEDS[need]))
    print("0061-deps: %d needs, %d scanned programs, %d modules, list of %d packages from %s" % (
        len(NEEDS), len(progs), len(mods), len(pkgs), os.path.relpath(DEPS_FILE, ROOT)))
    if errors:
        for e in errors:
            print("0061-deps: FAIL: " + e, file=sys.stderr)
        return 1
    print("0061-deps: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
