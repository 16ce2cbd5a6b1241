"""Where each minute of a tests/fresh/0990-fresh-root.sh run went, from its log of
"EPOCH<TAB>STEP<TAB>line" records: the steps, the phases inside them (the `[run.sh HH:MM:SS]`
and `[quickstart HH:MM:SS]` lines), the slowest tests, and one line per minute.

    python3 tests/fresh/fresh_timing.py LOG [START_EPOCH]"""

import re
import sys

PHASE = re.compile(r"^\[(run\.sh|quickstart) \d\d:\d\d:\d\d\] (.*)")
TEST = re.compile(r"^\s*\d+/\d+ Test\s+#\d+: (\S+) \.*\s*(.*?)\s+([\d.]+) sec")


def mmss(s):
    return "%d:%02d" % (s // 60, s % 60)


def main():
    recs = []
    with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t", 2)
            if len(parts) == 3 and parts[0].isdigit():
                recs.append((int(parts[0]), parts[1], parts[2]))
    if not recs:
        print("fresh-root timing: empty log")
        return
    t0 = int(sys.argv[2]) if len(sys.argv) > 2 else recs[0][0]
    end = recs[-1][0]

    steps, phases, tests = [], [], []  # (name, start, end, note), (step, label, start), ...
    for t, step, text in recs:
        if text.startswith("== begin"):
            steps.append([step, t, None, text[len("== begin"):].lstrip(": ")])
        elif text.startswith("== end") and steps:
            for s in reversed(steps):
                if s[0] == step and s[2] is None:
                    s[2], s[3] = t, (s[3] + "  " + text[len("== end: "):]).strip()
                    break
        m = PHASE.match(text)
        if m:
            label = m.group(2)
            if label.startswith("services up"):  # run.sh's next line is ctest's
                label = "ctest (" + label + ")"
            phases.append((step, label[:60], t))
        m = TEST.match(text)
        if m:
            tests.append((float(m.group(3)), m.group(1), m.group(2), t))

    print("\nfresh-root timing (minutes:seconds from the start, total %s)" % mmss(end - t0))
    print("steps:")
    for name, a, b, note in steps:
        b = b or end
        print("  %-12s at %6s  took %6s  %s" % (name, mmss(a - t0), mmss(b - a), note))
    print("phases:")
    bounds = {}
    for name, a, b, _ in steps:
        bounds.setdefault(name, (a, b or end))
    for i, (step, label, t) in enumerate(phases):
        nxt = phases[i + 1][2] if i + 1 < len(phases) and phases[i + 1][0] == step else \
            bounds.get(step, (t, end))[1]
        print("  %-10s %6s  %6s  %s" % (step, mmss(t - t0), mmss(nxt - t), label))
    if tests:
        failed = [n for _, n, r, _ in tests if not r.startswith("Passed")]
        print("tests: %d run, %d not passed%s; slowest:" % (
            len(tests), len(failed), (" (" + ", ".join(failed) + ")") if failed else ""))
        for sec, name, res, _ in sorted(tests, reverse=True)[:12]:
            print("  %7.1f s  %-28s %s" % (sec, name, res))
    print("each minute (what was running at its start; tests that finished in it):")
    for m in range((end - t0) // 60 + 1):
        a = t0 + 60 * m
        cur = [p for p in phases if p[2] <= a]
        step = [s for s in steps if s[1] <= a]
        where = "%s: %s" % (cur[-1][0], cur[-1][1]) if cur and step and \
            cur[-1][0] == step[-1][0] else (step[-1][0] if step else "setup")
        done = [n for _, n, _, t in tests if a <= t < a + 60]
        extra = (" | " + " ".join(done)) if done else ""
        print("  %3d  %s%s" % (m, where[:70], extra[:120]))


if __name__ == "__main__":
    main()
