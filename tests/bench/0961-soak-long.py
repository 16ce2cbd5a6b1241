#!/usr/bin/env python3
"""0961 long soak (label bench): the model-based soak of tests/e2e/soak.py over many seeds and
steps (default 20 seeds x 200 steps, the producer or a worker killed every 2-6 s), then the
time-to-convergence under that chaos with the workers as dynamic group members (no worker.id:
before static membership) and as static members (worker.id), side by side on the same seeds in
the same run, with their ratio. Prints a summary table: seeds, steps, faults injected by kind,
kills, checks passed, time-to-convergence p50/max.

  python3 tests/bench/0961-soak-long.py [--seeds 20] [--steps 200] [--chaos 2-6]
      [--check-every 50] [--pause 0.05-0.5] [--compare-seeds 3] [--compare-steps 40]
      [--compare-pause 1-2]
      [--converge-timeout 240]
A failing seed prints the command that replays it with tests/e2e/0960-soak.py."""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import harness as h  # noqa: E402
import soak  # noqa: E402

SHORT = os.path.join(h.ROOT, "tests", "e2e", "0960-soak.py")


def options(ap):
    ap.add_argument("--compare-seeds", type=int, default=3,
                    help="seeds run with dynamic and with static workers for the comparison")
    ap.add_argument("--compare-steps", type=int, default=40,
                    help="steps of each comparison run, one quiescent check at the end")
    ap.add_argument("--compare-pause", default="1-2",
                    help="seconds between its steps: the kills go on for about a minute")
    ap.add_argument("--converge-timeout", type=float, default=240)
    ap.add_argument("--no-soak", action="store_true", help="only the before/after comparison")


def p50(vals, cap):
    """Median with runs that did not converge counted as the timeout (a lower bound)."""
    v = sorted(cap if x is None else x for x in vals)
    return v[len(v) // 2] if v else float("nan")


def main():
    a = soak.parse_args(sys.argv[1:], seeds=20, steps=200, chaos="2-6", check_every=50,
                        pause="0.05-0.5", extra=options)
    t0 = time.time()
    total = soak.Stats()
    failed = []
    if not a.no_soak:
        for seed in a.seed_list:
            h.log("=== long soak seed %d (%d of %d)" % (seed, a.seed_list.index(seed) + 1,
                                                      len(a.seed_list)))
            run = soak.Soak(seed, a.steps, a.chaos_range, static=not a.dynamic,
                            check_every=a.check_every, pause=a.pause_range,
                            converge_timeout=a.converge_timeout, script=SHORT)
            try:
                run.run()
            except Exception as ex:  # noqa: BLE001 (report every seed, then fail)
                failed.append((seed, str(ex).splitlines()[0][:200]))
            total.add(run.stats)   # a failed seed's steps, faults and kills count too
            print(soak.summary(total, "after seed %d" % seed))
            sys.stdout.flush()
    # before/after: the same seeds and steps, dynamic then static workers
    cmp = {}
    for mode in ("dynamic", "static") if a.compare_seeds > 0 else ():
        st_all = soak.Stats()
        for seed in range(1, a.compare_seeds + 1):
            h.log("=== comparison, %s workers, seed %d" % (mode, seed))
            try:
                st = soak.Soak(seed, a.compare_steps, a.chaos_range, static=(mode == "static"),
                               check_every=a.compare_steps,
                               pause=tuple(float(x) for x in a.compare_pause.split("-")),
                               converge_timeout=a.converge_timeout, script=SHORT).run()
            except Exception as ex:  # noqa: BLE001
                failed.append(("%d (%s)" % (seed, mode), str(ex).splitlines()[0][:200]))
                continue
            st_all.add(st)
        cmp[mode] = st_all
    print("\n" + "=" * 78)
    if not a.no_soak:
        print(soak.summary(total, "long soak, static workers"))
    print("| workers | seeds | steps | kills (producer/worker) | checks passed | "
          "time to convergence under kill every %s s |" % a.chaos)
    print("|---|---|---|---|---|---|")
    for mode, st in cmp.items():
        print("| %s | %d | %d | %d/%d | %d | %s |" % (
            mode, st.seeds, st.steps, st.kills["producer"], st.kills["worker"], st.checks,
            soak.fmt_conv(st.convergence)))
    if cmp.get("dynamic") and cmp.get("static") and cmp["static"].convergence:
        d = p50(cmp["dynamic"].convergence, a.converge_timeout)
        s = p50(cmp["static"].convergence, a.converge_timeout)
        print("ratio of p50 time to convergence, dynamic / static: %s%.1f" % (
            ">= " if any(x is None for x in cmp["dynamic"].convergence) else "",
            d / max(s, 0.001)))
    print("total %.0f s" % (time.time() - t0))
    if failed:
        print("FAILED seeds (replay with the command printed above each failure):")
        for seed, why in failed:
            print("  seed %s: %s" % (seed, why))
        sys.exit(1)


if __name__ == "__main__":
    main()
