#!/usr/bin/env python3
"""End-to-end large group: one group with 60,000 members (beyond Cloud Sync's 50,000 limit) is
provisioned exactly, then shrunk to 40,000 by a snapshot (the producer is stopped, 20,000
members are removed in Entra and the delta tokens invalidated, so the restarted producer does
a full resync and the worker must remove the extras). The 60,000 AD users live in a pool OU
that is kept between runs (created on first use, a few minutes)."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

N = int(os.environ.get("WB_E2E_LARGE_MEMBERS", "60000"))
KEEP_AFTER = N * 2 // 3


def test_large_group():
    with h.E2E("0906-large") as e:
        t0 = time.time()
        us = e.user_pool(N)
        h.log("%d pool users ready in %.1f s" % (N, time.time() - t0))
        big = h.seed_group("Sixty thousand members", "large", [u["oid"] for u in us])
        small = h.seed_group("Small neighbour", None, [us[0]["oid"]])
        e.start_sim([h.synced_user(u) for u in us], [big, small],
                    extra_args=["--page-size", "999"])
        prod = e.start_producer()
        w = e.start_worker("w1")
        t1 = time.time()
        exp, ad = e.wait_converged(900)
        h.log("%d members provisioned in %.1f s" % (N, time.time() - t1))
        assert ad["anchored"][big["id"]]["member_count"] == N

        # shrink by a snapshot
        prod.stop()
        e.procs.remove(prod)
        assert prod.rc == 0, "producer exited %s" % prod.rc
        removed = [u["oid"] for u in us[KEEP_AFTER:]]
        for i in range(0, len(removed), 5000):
            e.sim.members(big["id"], remove=removed[i:i + 5000])
        e.sim.req("POST", "deltatokens/invalidate", {"mode": "410"})
        e.start_producer("producer2")
        t2 = time.time()
        exp, ad = e.wait_converged(900)
        h.log("shrunk to %d members in %.1f s" % (KEEP_AFTER, time.time() - t2))
        assert ad["anchored"][big["id"]]["member_count"] == KEEP_AFTER
        snaps = set()
        for r in e.events(idle_ms=3000):
            ev = r["json"] or {}
            if ev.get("group") == big["id"] and ev.get("type") == "group.snapshot":
                snaps.add(json.dumps(ev.get("snapshot")))
        assert len(snaps) >= 2, "expected a second snapshot after the resync: %s" % snaps
        m = e.metrics(w)
        assert h.metric_sum(m, "writeback_worker_dead_letters_total") == 0
        e.stop_all(check=True)


if __name__ == "__main__":
    h.run([test_large_group])
