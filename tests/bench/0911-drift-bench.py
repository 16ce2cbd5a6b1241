#!/usr/bin/env python3
"""0911-drift-bench: detection and repair latency of the drift watch (docs/drift.md) with the
default drift.interval_ms, over hand-made changes of every kind (member added, member removed,
description edited, rename, move out of the target OU, delete), one at a time, on the real
Samba DC, Kafka, producer and worker (drift.mode=repair).

Per change: detection = from the ldapmodify's return to the worker's DRIFT line; repair = to
the worker's "repaired" line, which it logs after reading the group back equal to its desired
state. Prints p50/p99 per kind and overall, the LDAP writes per repair (from those lines) and
the Graph requests made meanwhile (the producer's poll interval is set past the run, so every
request counted would be the watch's). At the end AD must equal the simulator's expected state.

  WB_BUILD_DIR=build/test python3 tests/bench/0911-drift-bench.py [--changes 120] [--groups 12]
  WB_BUILD_DIR=build/test python3 tests/bench/0911-drift-bench.py --rss 60000
  WB_BUILD_DIR=build/test python3 tests/bench/0911-drift-bench.py --report 500
(--rss: peak worker RSS with one group of that many members, watch off and on, side by side;
--report: the run time of writebackctl drift report over that many groups.)

Exit 1 when a change is not detected or not repaired within 30 s, or AD does not converge.
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness as h  # noqa: E402

KINDS = ("member_add", "member_remove", "attribute", "rename", "move", "delete")
LINE_RE = re.compile(r"DRIFT group=(\S+) .* kind=(\S+) ")
REPAIRED_RE = re.compile(r"group=(\S+): repaired with (\d+) LDAP write")


class LogTail:
    """Reads a log file incrementally; returns the new lines."""

    def __init__(self, path):
        self.path = path
        self.pos = 0

    def lines(self):
        with open(self.path, "rb") as f:
            f.seek(self.pos)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.pos += end
        return data[:end].decode("utf-8", "replace").splitlines()


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


def change_ldif(kind, g, users, e, i):
    """The LDIF of one out-of-band change to group g (its AD info from harness.read_ad_groups,
    converged): returns (ldif, description)."""
    dn = g["dn"]
    have = {m[0] for m in g["members"]}
    if kind == "member_add":
        u = next(u for u in users if u["guid"] not in have)
        return "dn: %s\nchangetype: modify\nadd: member\nmember: %s\n" % (dn, u["dn"])
    if kind == "member_remove":
        u = next(u for u in users if u["guid"] in have)
        return "dn: %s\nchangetype: modify\ndelete: member\nmember: %s\n" % (dn, u["dn"])
    if kind == "attribute":
        return ("dn: %s\nchangetype: modify\nreplace: description\ndescription: bench %d\n"
                % (dn, i))
    if kind == "rename":
        return ("dn: %s\nchangetype: modrdn\nnewrdn: CN=bench rename %d\ndeleteoldrdn: 1\n"
                % (dn, i))
    if kind == "move":
        return ("dn: %s\nchangetype: modrdn\nnewrdn: %s\ndeleteoldrdn: 1\nnewsuperior: %s\n"
                % (dn, dn.split(",", 1)[0], e.users_ou))
    return "dn: %s\nchangetype: delete\n" % dn


def vmhwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmHWM:"):
                return int(ln.split()[1])
    return 0


def rss_run(members, mode):
    """Peak RSS (VmHWM, kB) of one worker provisioning a group of `members` pool users, then
    holding it for two drift rounds, with drift.mode=mode."""
    with h.E2E("0911-drift-rss-" + mode) as e:
        us = e.user_pool(members)
        big = h.seed_group("Drift RSS", None, [u["oid"] for u in us])
        e.start_sim([h.synced_user(u) for u in us], [big], extra_args=["--page-size", "999"])
        e.start_producer(graph__poll_interval_ms=3600000)
        w = e.start_worker("w1", drift__mode=mode)
        e.wait_converged(900)
        if mode != "off":
            h.wait_for(lambda: h.metric_sum(e.metrics(w),
                                            "writeback_worker_drift_watched_groups") == 1,
                       300, "the baseline of the big group", 1)
        time.sleep(5)
        peak = vmhwm_kb(w.pid)
        e.stop_all(check=True)
        return peak


def rss_main(members):
    off = rss_run(members, "off")
    on = rss_run(members, "audit")
    print("0911-drift-bench --rss: peak worker RSS (VmHWM) with one %d-member group: "
          "watch off %.1f MiB, watch on (audit) %.1f MiB, ratio on/off %.2f"
          % (members, off / 1024.0, on / 1024.0, on / float(off)))
    return 0


def report_main(n, runs=3):
    """writebackctl drift report over n groups of 10 members, a tenth of them changed by hand:
    wall time (median of runs) and Graph requests per group."""
    ctl = os.path.join(h.BUILD, "ctl", "writebackctl")
    with h.E2E("0911-drift-report") as e:
        us = e.create_users(40)
        uid = [u["oid"] for u in us]
        groups = [h.seed_group("Report %04d" % i, "d%d" % i,
                               [uid[(i + j) % 40] for j in range(10)]) for i in range(n)]
        e.start_sim([h.synced_user(u) for u in us], groups)
        e.start_producer(graph__poll_interval_ms=3600000)
        e.start_worker("w1", drift__mode="audit")
        _, ad = e.wait_converged(600)
        for g in groups[::10]:
            e.ldap.modify("dn: %s\nchangetype: modify\nreplace: description\n"
                          "description: by hand\n" % ad["anchored"][g["id"]]["dn"])
        conf = e.write_conf("ctl.conf", e.ctl_keys())
        secs, graph = [], []
        for _ in range(runs):
            g0 = e.sim.req("GET", "stats")["total"]
            t0 = time.monotonic()
            r = subprocess.run([ctl, "-c", conf, "--json", "drift", "report"],
                                 capture_output=True, text=True, timeout=1800)
            secs.append(time.monotonic() - t0)
            graph.append(e.sim.req("GET", "stats")["total"] - g0)
            doc = json.loads(r.stdout)
            if r.returncode != 1 or doc["compared"] != n or doc["differing"] != len(groups[::10]):
                sys.exit("drift report: exit %d, %s" % (r.returncode, r.stderr[-2000:]))
        e.stop_all(check=True)
    med = sorted(secs)[len(secs) // 2]
    print("0911-drift-bench --report: %d groups of 10 members (%d differing): %.2f s "
          "(median of %d runs: %s), %.1f ms per group, %.1f Graph requests per group"
          % (n, len(groups[::10]), med, runs, ", ".join("%.2f" % x for x in secs),
             1000.0 * med / n, graph[0] / float(n)))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--changes", type=int, default=120)
    ap.add_argument("--groups", type=int, default=12)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rss", type=int, default=0, metavar="MEMBERS",
                    help="instead: peak worker RSS with the watch off and on, side by side, "
                    "for one group of MEMBERS pool users (e.g. 60000)")
    ap.add_argument("--report", type=int, default=0, metavar="GROUPS",
                    help="instead: time writebackctl drift report over GROUPS groups")
    a = ap.parse_args()
    if a.rss:
        return rss_main(a.rss)
    if a.report:
        return report_main(a.report)
    rnd = random.Random(a.seed)
    det = {k: [] for k in KINDS}
    rep = {k: [] for k in KINDS}
    writes = {k: [] for k in KINDS}
    with h.E2E("0911-drift-bench") as e:
        us = e.create_users(8)
        uid = [u["oid"] for u in us]
        groups = [h.seed_group("Bench %02d" % i, "desc %d" % i, [uid[i % 8], uid[(i + 1) % 8]])
                  for i in range(a.groups)]
        e.start_sim([h.synced_user(u) for u in us], groups)
        e.start_producer(graph__poll_interval_ms=3600000)
        w = e.start_worker("w1", drift__mode="repair")  # default drift.interval_ms
        _, ad = e.wait_converged(120)
        h.wait_for(lambda: h.metric_sum(e.metrics(w), "writeback_worker_drift_watched_groups")
                   == a.groups, 60, "baselines of every group", 0.5)
        time.sleep(3)
        graph0 = e.sim.req("GET", "stats")["total"]
        tail = LogTail(w.logpath)
        tail.lines()
        for i in range(a.changes):
            kind = KINDS[i % len(KINDS)]
            g = groups[rnd.randrange(len(groups))]
            info = ad["anchored"][g["id"]]
            # out of phase with the watch's rounds, as a real administrator is
            time.sleep(rnd.uniform(0, 2.5))
            e.ldap.modify(change_ldif(kind, info, us, e, i))
            t0 = time.time()
            t_det = t_rep = None
            while time.time() - t0 < 30 and t_rep is None:
                for ln in tail.lines():
                    m = LINE_RE.search(ln)
                    if m and m.group(1) == g["id"] and t_det is None:
                        t_det = time.time()
                    m = REPAIRED_RE.search(ln)
                    if m and m.group(1) == g["id"]:
                        t_rep = time.time()
                        writes[kind].append(int(m.group(2)))
                time.sleep(0.01)
            if t_det is None or t_rep is None:
                sys.exit("change %d (%s on %s) not %s within 30 s" % (
                    i, kind, g["id"], "detected" if t_det is None else "repaired"))
            det[kind].append(t_det - t0)
            rep[kind].append(t_rep - t0)
            if kind == "delete":  # a new object: new GUID for the next change's lookups
                ad = e.ad()
        graph1 = e.sim.req("GET", "stats")["total"]
        e.wait_converged(30)
        m = e.metrics(w)
        failed = h.metric_sum(m, "writeback_worker_drift_repairs_total", result="failed")
        e.stop_all(check=True)

    alld = [x for k in KINDS for x in det[k]]
    allr = [x for k in KINDS for x in rep[k]]
    print("0911-drift-bench: %d changes on %d groups, drift.interval_ms default (2000)"
          % (a.changes, a.groups))
    print("%-14s %5s %10s %10s %10s %10s %12s" % ("kind", "n", "detect p50", "detect p99",
                                                   "repair p50", "repair p99", "writes/repair"))
    for k in KINDS + ("all",):
        d = alld if k == "all" else det[k]
        r = allr if k == "all" else rep[k]
        wr = [x for kk in KINDS for x in writes[kk]] if k == "all" else writes[k]
        print("%-14s %5d %9.2fs %9.2fs %9.2fs %9.2fs %12.2f" % (
            k, len(d), pct(d, 50), pct(d, 99), pct(r, 50), pct(r, 99),
            sum(wr) / len(wr) if wr else 0))
    print("Graph requests during the %d repairs: %d (%.2f per repair)" % (
        a.changes, graph1 - graph0, (graph1 - graph0) / float(a.changes)))
    print("failed repairs: %d; p99 detection / target 10 s = %.2f, p99 repair / target 10 s = %.2f"
          % (failed, pct(alld, 99) / 10.0, pct(allr, 99) / 10.0))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
