#!/usr/bin/env python3
"""0921-notify-latency: end-to-end latency from a change in the simulator to the change
visible in AD, with Graph change notifications (notify.enabled, poll 10 minutes) and without
(the default poll, graph.poll_interval_ms = 120 s), side by side in one run: two complete
environments (simulator, producer, worker, own OU and topics) on the same Kafka and Samba
receive the same shuffled sequence of mixed changes at the same moments (renames,
descriptions, member adds and removes, group creates and deletes; --changes, default 200, one
every --every seconds). A watcher reads each environment's OU every --scan seconds and records
when each change's result first shows; the resolution is that scan period plus one LDAP search.

Prints p50/p99/max per mode and per kind, the ratio of the two, and Graph requests per hour of
each producer (its writeback_producer_graph_requests_total over the run, subscription calls
included). At the end both ADs must equal their simulator's expected state.

  WB_BUILD_DIR=build/test python3 tests/bench/0921-notify-latency.py [--changes 200]
      [--every 1.0] [--poll-ms 120000]

Exit 1 when a change is not seen within --poll-ms + 60 s, or AD does not converge.
"""
import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness as h  # noqa: E402

NOTIFY_TEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e",
                           "0920-notifications.py")


def load_notify():
    """The Notify helper of the e2e test (one definition of the notify.* test settings)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("notify_e2e", NOTIFY_TEST)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.Notify


def plan(n_changes, rnd):
    """[(kind, group index, arg)] over G seeded groups and U users, each change's result
    staying true once reached (no group renamed twice, removed members never re-added)."""
    per = {"rename": 0.2, "description": 0.2, "member_add": 0.25, "member_remove": 0.15,
           "create": 0.125, "delete": 0.075}
    counts = {k: int(round(v * n_changes)) for k, v in per.items()}
    counts["member_add"] += n_changes - sum(counts.values())
    groups = counts["rename"] + counts["member_add"] + counts["delete"] + 5
    changes = []
    for i in range(counts["rename"]):
        changes.append(("rename", i, None))
    for i in range(counts["description"]):
        changes.append(("description", i, None))
    for i in range(counts["member_add"]):
        changes.append(("member_add", counts["rename"] + i, None))
    for i in range(counts["member_remove"]):
        changes.append(("member_remove", i, None))
    for i in range(counts["create"]):
        changes.append(("create", i, None))
    base = counts["rename"] + counts["member_add"]
    for i in range(counts["delete"]):
        changes.append(("delete", base + i, None))
    rnd.shuffle(changes)
    return changes, groups


class Env:
    def __init__(self, e, mode, notify_cls, users, groups, poll_ms):
        self.e, self.mode = e, mode
        self.us = e.create_users(users)
        self.gids = []
        seeds = []
        for i in range(groups):
            g = h.seed_group("Bench %s %03d" % (mode, i), None,
                             [self.us[i % users]["oid"], self.us[(i + 1) % users]["oid"]])
            self.gids.append(g["id"])
            seeds.append(g)
        extra, keys = [], {}
        if mode == "notify":
            self.n = notify_cls(e)
            extra = self.n.sim_args()
            keys = dict(self.n.keys(), **{"graph.poll_interval_ms": 600000})
        else:
            keys = {"graph.poll_interval_ms": poll_ms}
        e.start_sim([h.synced_user(u) for u in self.us], seeds, extra)
        keys = {k.replace(".", "__"): v for k, v in keys.items()}
        self.p = e.start_producer(**keys)
        self.w = e.start_worker("w1")
        self.created = {}
        self.pending = {}   # change index -> (t0, predicate)
        self.lat = {}       # change index -> seconds

    def apply(self, idx, kind, gi, users):
        sim = self.e.sim
        t0 = time.time()
        if kind == "rename":
            gid, name = self.gids[gi], "Bench %s renamed %03d" % (self.mode, gi)
            sim.update_group(gid, displayName=name)
            pred = (lambda ad, gid=gid, name=name: gid in ad["anchored"] and
                    (ad["anchored"][gid]["cn"] or "").startswith(name))
        elif kind == "description":
            gid, text = self.gids[gi], "described %d" % idx
            sim.update_group(gid, description=text)
            pred = (lambda ad, gid=gid, text=text: gid in ad["anchored"] and
                    ad["anchored"][gid]["description"] == text)
        elif kind == "member_add":
            gid, u = self.gids[gi], self.us[(gi + 7) % users]
            sim.members(gid, add=[u["oid"]])
            pred = (lambda ad, gid=gid, sid=u["sid"]: gid in ad["anchored"] and
                    sid in {m[1] for m in ad["anchored"][gid]["members"]})
        elif kind == "member_remove":
            gid, u = self.gids[gi], self.us[gi % users]
            sim.members(gid, remove=[u["oid"]])
            pred = (lambda ad, gid=gid, sid=u["sid"]: gid in ad["anchored"] and
                    sid not in {m[1] for m in ad["anchored"][gid]["members"]})
        elif kind == "create":
            g = h.seed_group("Bench %s new %03d" % (self.mode, gi))
            sim.add_group(g, members=[self.us[gi % users]["oid"]])
            gid = g["id"]
            pred = (lambda ad, gid=gid: gid in ad["anchored"])
        else:
            gid = self.gids[gi]
            sim.delete_group(gid)
            pred = (lambda ad, gid=gid: gid not in ad["anchored"])
        self.pending[idx] = (t0, pred)

    def scan(self):
        if not self.pending:
            return
        ad = self.e.ad()
        now = time.time()
        for idx, (t0, pred) in list(self.pending.items()):
            if pred(ad):
                self.lat[idx] = now - t0
                del self.pending[idx]

    def graph_requests(self):
        return h.metric_sum(self.e.metrics(self.p), "writeback_producer_graph_requests_total")


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * (len(xs) - 1) + 0.5))] if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--changes", type=int, default=200)
    ap.add_argument("--every", type=float, default=1.0)
    ap.add_argument("--scan", type=float, default=0.25)
    ap.add_argument("--poll-ms", type=int, default=120000)
    ap.add_argument("--seed", type=int, default=16)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    changes, groups = plan(a.changes, rnd)
    users = 40
    notify_cls = load_notify()
    with h.E2E("0921-on") as e_on, h.E2E("0921-off") as e_off:
        envs = [Env(e_on, "notify", notify_cls, users, groups, a.poll_ms),
                Env(e_off, "poll", notify_cls, users, groups, a.poll_ms)]
        for env in envs:
            env.e.wait_converged(180)
        time.sleep(2)
        req0 = [env.graph_requests() for env in envs]
        t_start = time.time()
        next_at = t_start
        for idx, (kind, gi, _) in enumerate(changes):
            while time.time() < next_at:
                for env in envs:
                    env.scan()
                time.sleep(min(a.scan, max(0.0, next_at - time.time())))
            for env in envs:
                env.apply(idx, kind, gi, users)
            next_at += a.every
        deadline = time.time() + a.poll_ms / 1000.0 + 60
        while any(env.pending for env in envs) and time.time() < deadline:
            for env in envs:
                env.scan()
            time.sleep(a.scan)
        hours = (time.time() - t_start) / 3600.0
        req = [(env.graph_requests() - r0) / hours for env, r0 in zip(envs, req0)]
        missing = {env.mode: len(env.pending) for env in envs if env.pending}
        print("\n0921-notify-latency: %d mixed changes, one every %.1f s, scan every %.2f s, "
              "run %.0f s" % (len(changes), a.every, a.scan, hours * 3600))
        print("%-34s %8s %8s %8s %12s" % ("mode", "p50 s", "p99 s", "max s", "Graph req/h"))
        for env, r in zip(envs, req):
            xs = list(env.lat.values())
            label = ("notifications on, poll 600 s" if env.mode == "notify"
                     else "notifications off, poll %d s" % (a.poll_ms // 1000))
            print("%-34s %8.2f %8.2f %8.2f %12.0f" % (label, pct(xs, 0.5), pct(xs, 0.99),
                                                      max(xs) if xs else float("nan"), r))
        on, off = (list(env.lat.values()) for env in envs)
        print("ratio off/on: p50 %.1fx, p99 %.1fx; Graph requests/h on/off %.2f" % (
            pct(off, 0.5) / pct(on, 0.5), pct(off, 0.99) / pct(on, 0.99), req[0] / req[1]))
        for kind in sorted({k for k, _, _ in changes}):
            row = []
            for env in envs:
                xs = [env.lat[i] for i, c in enumerate(changes) if c[0] == kind and i in env.lat]
                row.append("%s p50 %.2f p99 %.2f" % (env.mode, pct(xs, 0.5), pct(xs, 0.99)))
            print("  %-14s %s" % (kind, "; ".join(row)))
        if missing:
            raise h.E2EError("changes not seen in AD in time: %s" % missing)
        for env in envs:
            env.e.wait_converged(60)
            env.e.stop_all(check=True)


if __name__ == "__main__":
    h.run([main], argv=[])
