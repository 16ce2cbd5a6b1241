#!/usr/bin/env python3
"""0220 every delta link recovers from a lost sync state (issue 12), dry run against the Graph
simulator. One long-running producer; a table of cases, each: change the tenant (rename,
description, a deleted member user, a deleted nested group, a group leaving scope, new users
and a new group), then make Graph lose the sync state on
  which delta   groups | users | both in one round
  where         the deltaLink (first page of an incremental round) | a nextLink (mid-paging)
  how           410 with Location | 410 without Location | syncStateNotFound
  how often     once | twice in a row
plus a real reset of every link in the middle of paging and a reset of every link (the
issue's report). Each case checks that the emitted events fold to exactly the AD state the
simulator expects, that no link answered 410/syncStateNotFound is requested again, and that
the reset was logged. tests/kafka/0221 runs the same table with Kafka and the checkpoint."""

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import harness as h  # noqa: E402
lib = h.load_test("unit/0202-producer-dryrun.py")
check = lib.check

GROUPS = "/v1.0/groups/delta"
USERS = "/v1.0/users/delta"
WHERE = {"first": "$deltatoken", "next": "$skiptoken"}
HOW = {"410": {"kind": "410"}, "410-no-location": {"kind": "410", "location": False},
       "syncStateNotFound": {"kind": "sync_state_not_found"}}


def cases():
    """(name, faults or a special action) for the whole matrix."""
    out = []
    for how in HOW:
        for where in WHERE:
            for delta, paths in (("groups", [GROUPS]), ("users", [USERS]),
                                 ("both", [USERS, GROUPS])):
                for times in ((1, 2) if delta != "both" else (1,)):
                    faults = [dict(HOW[how], path=p, contains=WHERE[where], count=times)
                              for p in paths]
                    out.append(("%s delta, %s, %s, %s" % (
                        delta, "deltaLink" if where == "first" else "nextLink", how,
                        "once" if times == 1 else "twice in a row"), faults))
    out.append(("reset of every link in the middle of users paging",
                [{"kind": "reset", "path": USERS, "contains": "$skiptoken"}]))
    out.append(("reset of every link in the middle of groups paging (syncStateNotFound)",
                [{"kind": "reset", "path": GROUPS, "contains": "$skiptoken",
                  "mode": "sync_state_not_found"}]))
    out.append(("reset of every link between rounds (the issue's report)", "invalidate"))
    return out


class Producer:
    """A long-running producer; its stdout (events in dry run) and stderr lines collected."""

    def __init__(self, conf, *args):
        self.proc = subprocess.Popen([lib.PRODUCER, "-c", conf] + list(args),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out, self.err = [], []
        self.lock = threading.Lock()
        self.committed = 0
        self.changed = threading.Condition(self.lock)
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self.reader, args=(stream, sink), daemon=True).start()

    def reader(self, stream, sink):
        for line in stream:
            with self.lock:
                sink.append(line)
                if sink is self.err and re.search(r"round \S+ committed", line):
                    self.committed += 1
                self.changed.notify_all()

    def wait_rounds(self, n, timeout=120):
        """Waits until n rounds were committed in all; False on timeout or exit."""
        end = time.time() + timeout
        with self.lock:
            while self.committed < n:
                left = end - time.time()
                if left <= 0 or self.proc.poll() is not None:
                    return False
                self.changed.wait(min(left, 0.5))
        return True

    def stderr(self):
        with self.lock:
            return "".join(self.err)

    def events(self):
        with self.lock:
            return lib.parse_events("".join(self.out))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class Tenant:
    """The changes each case makes, so that every kind of change must cross the reset."""

    def __init__(self, sim):
        self.sim = sim
        self.k = 0
        self.nested = None      # the group the previous case nested; this case deletes it
        self.left = None        # the group that left scope in the previous case comes back

    def expected(self):
        return self.sim.call("GET", "expected")

    def change(self):
        s = self.sim
        self.k += 1
        exp = self.expected()
        groups = [g for g in exp["groups"] if g["objectId"] != self.nested]
        a, b = groups[self.k % len(groups)], groups[(self.k + 1) % len(groups)]
        s.call("PATCH", "groups/" + a["objectId"], {"displayName": "Renamed %d" % self.k})
        s.call("PATCH", "groups/" + b["objectId"], {"description": "Changed %d" % self.k})
        # a synced user who is a member of some in-scope group is deleted
        victims = [u for g in groups for u in g["memberUserIds"]]
        if victims:
            s.call("DELETE", "users/" + victims[self.k % len(victims)])
        # the nested group of the previous case is deleted
        if self.nested:
            s.call("DELETE", "groups/" + self.nested)
        # a group leaves scope, the previous one returns
        if self.left:
            s.call("PATCH", "groups/" + self.left, {"mailEnabled": False})
        c = groups[(self.k + 2) % len(groups)]["objectId"]
        self.left = None
        if c not in (a["objectId"], b["objectId"]):
            s.call("PATCH", "groups/" + c, {"mailEnabled": True})
            self.left = c
        # new synced users (enough for two users delta pages) join a, and a new group nested
        # in b holds two of them
        new = [s.call("POST", "users", {"displayName": "New %d.%d" % (self.k, i),
                                        "synced": True})["id"] for i in range(5)]
        s.call("POST", "groups/%s/members" % a["objectId"], {"add": new})
        g = s.call("POST", "groups", {"displayName": "Nested %d" % self.k,
                                      "members": new[:2]})["id"]
        s.call("POST", "groups/%s/members" % b["objectId"], {"add": [g]})
        self.nested = g


def dead_links(sim):
    """Links (with a token) that answered 410 or 400, and how often each was requested."""
    log = sim.call("GET", "requests")["requests"]
    counts = {}
    for r in log:
        counts[r["target"]] = counts.get(r["target"], 0) + 1
    dead = set(r["target"] for r in log if r["status"] in (410, 400) and
               ("$deltatoken=" in urllib.parse.unquote(r["target"]) or
                "$skiptoken=" in urllib.parse.unquote(r["target"])))
    return {t: counts[t] for t in dead}


def run_matrix(wd, conf_extra=None, producer_args=("--dry-run",), events=None,
               after_case=None, only=None):
    """Runs the table against one producer. events(prod) returns the events so far;
    after_case(name, dead) adds checks (the checkpoint). Returns the number of cases run."""
    sim = lib.Sim(wd, "--users", "60", "--groups", "30", "--members", "500", "--page-size",
                  "4", "--page-members", "30", "--nested-share", "0.3", "--seed", "12")
    prod = None
    ran = 0
    try:
        conf = lib.write_conf(wd, sim, dict({"graph.poll_interval_ms": "1000",
                                             "graph.max_retries": "3"}, **(conf_extra or {})))
        prod = Producer(conf, *producer_args)
        get_events = events or (lambda p: p.events())
        ok = prod.wait_rounds(1)
        check(ok, "first round committed" + ("" if ok else ": %s" % prod.stderr()[-1500:]))
        tenant = Tenant(sim)
        for name, faults in cases():
            if only and not only(name):
                continue
            ran += 1
            # between rounds: the producer just committed and sleeps graph.poll_interval_ms
            n = prod.committed
            prod.wait_rounds(n + 1, 30)
            sim.call("DELETE", "requests")
            err_before = len(prod.stderr())
            tenant.change()
            if faults == "invalidate":
                sim.call("POST", "deltatokens/invalidate", {"mode": "410"})
            else:
                sim.call("POST", "faults", {"faults": faults})
            # converged: no fault pending, a round committed since, and the folded events
            # equal the expectation
            end = time.time() + 60
            problems = ["not run"]
            while time.time() < end:
                pending = sim.call("GET", "stats")["faultsPending"]
                if pending == 0:
                    m = prod.committed
                    if prod.wait_rounds(m + 1, 60):
                        problems, _ = lib.check_against_expected(sim, lib.fold(get_events(prod)))
                        if not problems:
                            break
                elif prod.proc.poll() is not None:
                    break
                time.sleep(0.3)
            log = prod.stderr()[err_before:]
            check(not problems, "%s: events converge to the expected AD state %s"
                  % (name, problems[:3]))
            if problems:
                sys.stdout.write("# producer log of the case:\n# " +
                                 "\n# ".join(log.splitlines()[-40:]) + "\n")
            check("sync state lost" in log, "%s: the reset is logged" % name)
            dead = dead_links(sim)
            twice = {t: c for t, c in dead.items() if c > 1}
            check(dead and not twice, "%s: %d dead link(s), none requested twice %s"
                  % (name, len(dead), list(twice.values())))
            if after_case:
                after_case(name, dead)
            sim.call("DELETE", "faults")
        check(prod.proc.poll() is None, "the producer kept running")
        rc = prod.stop()
        check(rc == 0, "stops cleanly on SIGTERM (rc %s)" % rc)
    finally:
        if prod:
            prod.stop()
        sim.stop()
    return ran


def main():
    h.require([lib.PRODUCER])
    only = None
    if len(sys.argv) > 1:          # a substring of case names, to run a part of the table
        only = lambda name: sys.argv[1] in name    # noqa: E731
    with tempfile.TemporaryDirectory(prefix="wb0220-") as wd:
        n = run_matrix(wd, only=only)
        check(n > 0, "%d cases run" % n)
    print("%d failure(s)" % len(lib.FAILURES))
    return 1 if lib.FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
