#!/usr/bin/env python3
"""Short model-based soak (part of the default run): a few seeds of about 30 random steps each
(tenant mutations and Graph faults) while the producer and the workers are killed with SIGKILL
every 2-6 seconds and restarted half a second later; at every quiescent point AD must equal the
simulator's expected state exactly and the dead-letter topic must be empty. The driver is
tests/e2e/soak.py; on failure it prints the seed and the command that replays it. Replay one
seed: python3 tests/e2e/0960-soak.py --seed N [--steps N] [--chaos 2-6|0] [--dynamic]"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import soak  # noqa: E402


def main():
    a = soak.parse_args(sys.argv[1:], seeds=3, steps=30, chaos="2-6")
    total = soak.Stats()
    for seed in a.seed_list:
        h.log("=== soak seed %d: %d steps, kills every %s s, %s workers" % (
            seed, a.steps, a.chaos, "dynamic" if a.dynamic else "static"))
        st = soak.Soak(seed, a.steps, a.chaos_range, static=not a.dynamic,
                       check_every=a.check_every, pause=a.pause_range,
                       script=os.path.abspath(__file__)).run()
        total.add(st)
    print(soak.summary(total))
    assert total.checks >= len(a.seed_list) and total.steps == a.steps * len(a.seed_list)


if __name__ == "__main__":
    main()
