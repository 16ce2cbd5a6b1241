#!/usr/bin/env python3
"""0290 producer benchmark (label bench): initial sync of a simulated tenant, by default
100,000 groups and 1,000,000 memberships (WB_BENCH_GROUPS, WB_BENCH_MEMBERS, WB_BENCH_USERS
override). Prints the producer's wall time, events/s and peak RSS beside the time a plain
client takes to fetch and parse the same users and groups delta pages from the same simulator
in the same run, and their ratio. Events go to Kafka in one transaction when
WB_TEST_KAFKA_BOOTSTRAP is set, else to /dev/null in dry-run mode. Build without sanitizers
for meaningful numbers (cmake -DWB_SANITIZE=OFF)."""

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import harness as h  # noqa: E402
lib = h.load_test("unit/0202-producer-dryrun.py")

GROUPS = int(os.environ.get("WB_BENCH_GROUPS", "100000"))
MEMBERS = int(os.environ.get("WB_BENCH_MEMBERS", "1000000"))
USERS = int(os.environ.get("WB_BENCH_USERS", str(max(100, MEMBERS // 5))))


def fetch_all(sim, path):
    """GET every page of a delta round with one token; returns (pages, objects)."""
    form = ("client_id=%s&scope=https%%3A%%2F%%2Fgraph.microsoft.com%%2F.default&"
            "client_secret=graphsim-secret&grant_type=client_credentials" % lib.CLIENT_ID)
    req = urllib.request.Request("%s/%s/oauth2/v2.0/token" % (sim.url, lib.TENANT_ID),
                                 data=form.encode(), method="POST")
    tok = json.loads(urllib.request.urlopen(req).read())["access_token"]
    url = sim.url + path
    pages = objs = 0
    while url:
        r = urllib.request.Request(url, headers={"Authorization": "Bearer " + tok})
        page = json.loads(urllib.request.urlopen(r, timeout=600).read())
        pages += 1
        objs += len(page["value"])
        url = page.get("@odata.nextLink")
    return pages, objs


def main():
    h.require([lib.PRODUCER])
    kafka = bool(os.environ.get("WB_TEST_KAFKA_BOOTSTRAP"))
    with tempfile.TemporaryDirectory(prefix="wb0290-") as wd:
        t0 = time.time()
        sim = lib.Sim(wd, "--users", str(USERS), "--groups", str(GROUPS), "--members",
                      str(MEMBERS), "--no-odd-names", "--page-size", "100",
                      "--page-members", "1000")
        print("graphsim: %d groups, %d memberships, %d users, generated in %.1f s"
              % (GROUPS, MEMBERS, USERS, time.time() - t0))
        try:
            sel = ("/v1.0/groups/delta?$select=id,displayName,description,securityEnabled,"
                   "mailEnabled,groupTypes,onPremisesSyncEnabled,members")
            usel = ("/v1.0/users/delta?$select=id,onPremisesSecurityIdentifier,"
                    "onPremisesObjectIdentifier")
            t0 = time.time()
            up, uo = fetch_all(sim, usel)
            gp, go = fetch_all(sim, sel)
            fetch_s = time.time() - t0
            tag = uuid.uuid4().hex[:8]
            conf = lib.write_conf(wd, sim, {
                "tenant": "bench" + tag, "topic.events": "wbt0290.%s.groups" % tag,
                "topic.dlq": "wbt0290.%s.dlq" % tag, "topic.state": "wbt0290.%s.state" % tag,
                "graph.delete_threshold": "0", "log.level": "notice"})
            args = [lib.PRODUCER, "-c", conf, "--once"] + ([] if kafka else ["--dry-run"])
            t0 = time.time()
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            out_lines = 0
            for _ in proc.stdout:
                out_lines += 1
            err = proc.stderr.read().decode()
            _, status, ru = os.wait4(proc.pid, 0)
            prod_s = time.time() - t0
            rc = os.waitstatus_to_exitcode(status)
            if rc != 0:
                print("producer failed rc=%d: %s" % (rc, err[-2000:]))
                return 1
            events = out_lines
            if kafka:
                recs = lib.dump_topic("wbt0290.%s.groups" % tag, 600000)
                events = len(recs)
            print("fetch+parse only (Python client): %d user pages (%d objects), %d group pages "
                  "(%d objects) in %.1f s" % (up, uo, gp, go, fetch_s))
            print("producer initial sync (%s): %.1f s, %d events, %.0f events/s, peak RSS %.0f MB"
                  % ("Kafka, one transaction" if kafka else "dry run", prod_s, events,
                     events / prod_s, ru.ru_maxrss / 1024.0))
            import re
            m = re.search(r"committed: .*?, (\d+) ms", err)
            if m:
                print("  of which the round itself (Graph, scope, events, commit): %.1f s; "
                      "the rest is start-up (topics, init_transactions, checkpoint read)"
                      % (int(m.group(1)) / 1000.0))
            print("ratio producer / fetch: %.2f" % (prod_s / fetch_s))
        finally:
            sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
