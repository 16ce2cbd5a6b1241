#!/usr/bin/env python3
"""Static membership on the real broker: two workers in one consumer group; one is killed
with SIGKILL and restarted half a second later under the same worker.id. With worker.id (a
static group.instance.id) the restarted worker gets exactly its partitions back and the other
worker takes part in no rebalance at all, not even after session.timeout.ms has passed; without
worker.id (a dynamic member) the restart costs the other worker a rebalance that waits for the
dead member's session to expire. A static worker stopped with SIGTERM leaves the group at once
(writebackctl lag counts no member left behind), so a planned stop does not strand its
partitions. Rebalances are counted with writeback_worker_rebalances_total."""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import harness as h  # noqa: E402
from ctlrun import Ctl  # noqa: E402

SESSION_MS = 10000
GROUP = {"kafka__session.timeout.ms": SESSION_MS, "kafka__heartbeat.interval.ms": 1000}


def counters(e, p):
    m = e.metrics(p)
    return {"rebalances": h.metric_sum(m, "writeback_worker_rebalances_total"),
            "assigned": h.metric_sum(m, "writeback_worker_assigned_partitions"),
            "moved": h.metric_sum(m, "writeback_worker_partitions_moved_total")}


def owners(e):
    """{partition: consumer id} from Kafka's own ConsumerGroupCommand."""
    p = e.kafka.tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
                     ["--describe", "--group", e.group_id], check=False)
    out = {}
    for line in p.stdout.decode().splitlines():
        f = line.split()
        if len(f) >= 7 and f[0] == e.group_id and f[2].isdigit() and f[6] != "-":
            out[int(f[2])] = f[6]
    return out


def stable_pair(e, w1, w2):
    """Waits until the two workers hold all partitions between them and their rebalance
    counters have not moved for three seconds; returns both counter sets."""
    last, since = None, time.time()
    deadline = time.time() + 90
    while time.time() < deadline:
        c = (counters(e, w1), counters(e, w2))
        ok = c[0]["assigned"] > 0 and c[1]["assigned"] > 0 and \
            c[0]["assigned"] + c[1]["assigned"] == e.partitions
        if c != last or not ok:
            last, since = c, time.time()
        elif time.time() - since >= 3:
            return c
        time.sleep(0.3)
    raise h.E2EError("the two workers never settled: %s" % (last,))


def restart_after_kill(e, static):
    over = dict(GROUP)
    if not static:
        over["worker__id"] = None   # <hostname>-<pid>: a new member after every start
    w1 = e.start_worker("w1", **over)
    w2 = e.start_worker("w2", **over)
    c1, c2 = stable_pair(e, w1, w2)
    before = owners(e)
    h.log("settled: w1 %s, w2 %s, owners %s" % (c1, c2, before))
    w1.kill9()
    time.sleep(0.5)
    t0 = time.time()
    w1b = e.start_worker("w1", **over)
    got = h.wait_for(lambda: counters(e, w1b)["assigned"] > 0 and counters(e, w1b), 60,
                     "partitions for the restarted w1", 0.2)
    took = time.time() - t0
    # past the dead process's session: a rebalance it could still cause has happened by now
    time.sleep(SESSION_MS / 1000.0 + 3)
    n1, n2 = counters(e, w1b), counters(e, w2)
    after = owners(e)
    h.log("%s: restarted w1 had partitions after %.1f s; w1 %s, w2 %s (was %s), owners %s" % (
        "static" if static else "dynamic", took, n1, n2, c2, after))
    return {"w1": c1, "w2": c2, "w1b_first": got, "w1b": n1, "w2_after": n2,
            "owners_before": before, "owners_after": after, "took": took,
            "procs": (w1b, w2)}


def test_static_member_comes_back_without_rebalance():
    with h.E2E("0330-static", partitions=4) as e:
        r = restart_after_kill(e, static=True)
        assert r["w2_after"]["rebalances"] == r["w2"]["rebalances"], \
            "w2 took part in %d rebalance(s) after w1's restart; a static member's return " \
            "must cause none" % (r["w2_after"]["rebalances"] - r["w2"]["rebalances"])
        assert r["w2_after"]["moved"] == r["w2"]["moved"], r
        assert r["w1b"]["assigned"] == r["w1"]["assigned"], r
        # the same partitions, owned by the same static instance as before the kill
        inst = lambda cid: cid.rsplit("-", 5)[0]   # noqa: E731 (strip the member uuid)
        assert r["owners_before"] and set(r["owners_after"]) == set(r["owners_before"]), r
        assert {p: inst(c) for p, c in r["owners_after"].items()} == \
            {p: inst(c) for p, c in r["owners_before"].items()}, r
        assert {inst(c) for c in r["owners_after"].values()} == \
            {e.group_id + "-0330-static-w1", e.group_id + "-0330-static-w2"}, r["owners_after"]
        # one join of its own, answered with the old assignment
        assert r["w1b"]["rebalances"] == 1, r["w1b"]

        # a planned stop leaves the group at once: no member left holding partitions
        w1b, w2 = r["procs"]
        ctl = Ctl(e)
        assert ctl.json("lag", "--samples", "1", want=None)["members"] == 2
        assert w1b.stop(30) == 0
        doc = ctl.json("lag", "--samples", "1", want=None)
        assert doc["members"] == 1, "a stopped static worker is still a member: %s" % doc
        h.wait_for(lambda: counters(e, w2)["assigned"] == e.partitions, SESSION_MS / 1000.0 / 2,
                   "w2 to take every partition after w1's stop", 0.3)
        e.stop_all(check=True)


def test_dynamic_member_restart_waits_for_session():
    with h.E2E("0330-dynamic", partitions=4) as e:
        r = restart_after_kill(e, static=False)
        assert r["w2_after"]["rebalances"] > r["w2"]["rebalances"], \
            "without worker.id the restart caused no rebalance: %s" % r
        assert r["w1b"]["assigned"] + r["w2_after"]["assigned"] == e.partitions, r
        # the join could not complete before the killed member's session expired
        assert r["took"] >= SESSION_MS / 1000.0 / 2, r
        e.stop_all(check=True)


if __name__ == "__main__":
    h.run([test_static_member_comes_back_without_rebalance,
           test_dynamic_member_restart_waits_for_session])
