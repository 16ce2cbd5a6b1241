#!/usr/bin/env python3
"""End-to-end AD outage: the domain controller goes away for 30 s in the middle of the initial
sync while Entra changes keep flowing, then comes back; the worker retries (transient errors
are never dead-lettered), survives, and the final AD state is exact.

WB_E2E_OUTAGE=samba (default) stops and restarts the real Samba AD DC with
tests/services/samba.sh down/up (same provisioned domain, no reprovisioning); it disturbs
anything else using that Samba, so tests/run.sh runs tests one at a time.
WB_E2E_OUTAGE=proxy routes the worker through a TCP relay that is closed for the outage
instead, leaving the shared Samba alone."""

import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

OUTAGE_S = 30
MODE = os.environ.get("WB_E2E_OUTAGE", "samba")


def samba(cmd):
    p = subprocess.run(["bash", os.path.join(h.ROOT, "tests", "services", "samba.sh"), cmd],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, "samba.sh %s failed: %s" % (cmd, p.stderr[-1500:])


def test_ad_outage():
    assert MODE in ("samba", "proxy"), "WB_E2E_OUTAGE must be samba or proxy"
    with h.E2E("0905-outage") as e:
        rng = random.Random(5)
        us = e.create_users(120)
        groups = [h.seed_group("Outage group %03d" % i, "before",
                               [u["oid"] for u in rng.sample(us, rng.randint(1, 100))])
                  for i in range(200)]
        e.start_sim([h.synced_user(u) for u in us], groups)
        over = {}
        proxy = None
        if MODE == "proxy":
            proxy = h.TcpProxy("127.0.0.1", 636)
            over["ldap__uri"] = "ldaps://127.0.0.1:%d" % proxy.port
        w = e.start_worker("w1", **over)
        e.start_producer()
        deadline = time.time() + 120
        while h.metric_sum(e.metrics(w), "writeback_worker_ldap_writes_total") < 20:
            assert time.time() < deadline, "no LDAP writes within 120 s:\n" + w.tail()
            time.sleep(0.05)

        # outage, with changes arriving meanwhile
        h.log("AD down (%s) for %d s" % (MODE, OUTAGE_S))
        t0 = time.time()
        if proxy:
            proxy.down()
        else:
            samba("down")
        try:
            for g in groups[:20]:
                e.sim.update_group(g["id"], description="changed during the outage")
            for g in groups[20:40]:
                e.sim.members(g["id"], add=[us[0]["oid"], us[1]["oid"]],
                              remove=[x for x in g["members"][:3]])
            time.sleep(max(0, OUTAGE_S - (time.time() - t0)))
            assert w.alive(), "the worker died while AD was down:\n" + w.tail()
            m = e.metrics(w)
            assert h.metric_sum(m, "writeback_worker_dead_letters_total") == 0, \
                "dead letters during the outage"
        finally:
            if proxy:
                proxy.up()
            else:
                samba("up")
        h.log("AD back after %.1f s" % (time.time() - t0))
        e.wait_converged(180)
        m = e.metrics(w)
        assert h.metric_sum(m, "writeback_worker_dead_letters_total") == 0
        assert e.dlq(idle_ms=2000) == [], "dead letters after an AD outage"
        e.stop_all(check=True)


if __name__ == "__main__":
    h.run([test_ad_outage])
