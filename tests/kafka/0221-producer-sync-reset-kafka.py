#!/usr/bin/env python3
"""0221 the sync-reset table of tests/unit/0220 with a real Kafka broker: after every case the
committed events fold to the simulator's expected AD state, no dead link was requested twice,
and the checkpoint no longer holds a dead link (a groups reset rewrites the checkpoint without
its deltaLink at once, before the full round commits). Then stuck rounds are visible: the
metrics count resets per delta, rounds failing in a row are counted with their stage, /readyz
answers 503 with a one-line reason after graph.unready_after_failed_rounds failed rounds and
200 again after the next committed round."""

import json
import os
import re
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import harness as h  # noqa: E402
m0220 = h.load_test("unit/0220-producer-sync-reset.py")
lib = m0220.lib
check = lib.check


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def free_port():
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def metric(text, name, labels=""):
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    return float(m.group(1)) if m else None


class Topics:
    def __init__(self):
        tag = uuid.uuid4().hex[:8]
        self.tenant = "t0221" + tag
        self.events = "wbt0221.%s.groups" % tag
        self.state = "wbt0221.%s.state" % tag
        self.conf = {"tenant": self.tenant, "topic.events": self.events,
                     "topic.dlq": "wbt0221.%s.dlq" % tag, "topic.state": self.state,
                     "topic.partitions": "3",
                     "producer.metrics_listen": "127.0.0.1:%d" % free_port()}

    def checkpoints(self):
        return [json.loads(r["v"]) for r in lib.dump_topic(self.state)
                if r["k"] == self.tenant + "/checkpoint" and r.get("v")]


def test_matrix(wd):
    t = Topics()

    def events(prod):
        return [json.loads(r["v"]) for r in lib.dump_topic(t.events)]

    seen = {"dropped": 0}

    def after_case(name, dead):
        cks = t.checkpoints()
        last = cks[-1] if cks else {}
        link = last.get("deltaLink") or ""
        check(link and not any(link.endswith(d) for d in dead),
              "%s: the checkpoint holds a live deltaLink, none of the dead ones" % name)
        dropped = sum(1 for c in cks if c.get("deltaLink") is None and c.get("resync"))
        if "groups" in name or "both" in name or "every link" in name:
            check(dropped > seen["dropped"], "%s: the dead groups deltaLink was dropped from "
                  "the checkpoint before the full round committed" % name)
        seen["dropped"] = dropped

    n = m0220.run_matrix(wd, conf_extra=t.conf, producer_args=(), events=events,
                         after_case=after_case)
    check(n > 0, "%d cases run" % n)


def test_stuck_visible(wd):
    sim = lib.Sim(wd, "--users", "30", "--groups", "10", "--members", "120", "--page-size", "4")
    t = Topics()
    conf = lib.write_conf(wd, sim, dict(t.conf, **{"graph.poll_interval_ms": "1000",
                                                   "graph.max_retries": "1",
                                                   "graph.unready_after_failed_rounds": "3"}))
    prod = m0220.Producer(conf)
    try:
        ok = prod.wait_rounds(1)
        check(ok, "first round committed" + ("" if ok else ": %s" % prod.stderr()[-1500:]))
        base = "http://" + t.conf["producer.metrics_listen"]
        # one reset of each delta, counted per delta
        sim.call("POST", "faults", {"kind": "410"})                       # the users deltaLink
        prod.wait_rounds(prod.committed + 2)
        sim.call("POST", "faults", {"kind": "410", "path": m0220.GROUPS})  # the groups one
        prod.wait_rounds(prod.committed + 2)
        st, text = http_get(base + "/metrics")
        check(st == 200 and
              metric(text, "writeback_producer_sync_resets_total", '{delta="users"}') == 1 and
              metric(text, "writeback_producer_sync_resets_total", '{delta="groups"}') == 1,
              "sync resets counted per delta")
        check(metric(text, "writeback_producer_consecutive_failed_rounds") == 0,
              "a reset is not a failed round")
        check(http_get(base + "/readyz")[0] == 200, "ready while rounds commit")

        # Graph answers 503 to everything: rounds fail; after 3 in a row /readyz says why
        sim.call("POST", "faults", {"kind": "503", "count": -1})
        end = time.time() + 120
        st, body = 0, ""
        while time.time() < end:
            st, body = http_get(base + "/readyz")
            if st == 503:
                break
            time.sleep(0.5)
        _, text = http_get(base + "/metrics")
        failed = metric(text, "writeback_producer_consecutive_failed_rounds")
        check(st == 503 and body.count("\n") == 1 and
              "3 delta rounds failed in a row" in body and "users delta failed" in body,
              "/readyz 503 with a one-line reason after 3 failed rounds: %r" % body)
        check("token" not in body.lower() and "http" not in body.lower(),
              "the reason names no link or token")
        check(failed is not None and failed >= 3, "consecutive failed rounds gauge: %s" % failed)
        check(metric(text, "writeback_producer_round_failure",
                     '{stage="users",error="transient"}') == 1,
              "the failing stage and error class are exported")
        check("provisioning has stopped, /readyz reports not ready" in prod.stderr(),
              "the stop is logged as an error")
        sim.call("DELETE", "faults")
        end = time.time() + 60
        while time.time() < end and http_get(base + "/readyz")[0] != 200:
            time.sleep(0.5)
        _, text = http_get(base + "/metrics")
        check(http_get(base + "/readyz")[0] == 200 and
              metric(text, "writeback_producer_consecutive_failed_rounds") == 0 and
              "writeback_producer_round_failure{" not in text,
              "ready again after a committed round; the failure series is gone")
        check("round committed after" in prod.stderr(), "the recovery is logged")
    finally:
        prod.stop()
        sim.stop()


def main():
    h.require([lib.PRODUCER, lib.DUMP], ["WB_TEST_KAFKA_BOOTSTRAP"])
    with tempfile.TemporaryDirectory(prefix="wb0221-") as wd:
        test_stuck_visible(wd)
        test_matrix(wd)
    print("%d failure(s)" % len(lib.FAILURES))
    return 1 if lib.FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
