#!/usr/bin/env python3
"""0230 the bearer token stays on graph.endpoint (issue 13, finding 1). A foreign HTTP server
on 127.0.0.2 records every request it gets. The simulator then hands the producer links that,
appended to graph.endpoint as text, name that server ("@127.0.0.2:PORT/...", absolute links to
it): as @odata.nextLink (dry run), as @odata.deltaLink stored in the checkpoint, and in a
checkpoint record written straight into topic.state. The producer must send nothing to the
foreign server, log the refusal, count it in writeback_producer_links_refused_total, and
recover with a full resync from the configured initial URL."""

import http.server
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import harness as h  # noqa: E402
lib = h.load_test("unit/0202-producer-dryrun.py")
check = lib.check
free_port = h.free_port


class Foreign:
    """An HTTP server on another loopback address that records what reaches it."""

    def __init__(self, host="127.0.0.2"):
        seen = self.seen = []

        class H(http.server.BaseHTTPRequestHandler):
            def handle_one(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                seen.append({"method": self.command, "path": self.path,
                             "auth": self.headers.get("Authorization"), "body": body})
                out = b'{"value":[],"@odata.deltaLink":"http://127.0.0.2/x"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = handle_one

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer((host, 0), H)
        self.addr = "%s:%d" % (host, self.srv.server_address[1])
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self):
        self.srv.shutdown()


def attacks(sim, foreign):
    """Links that reach the foreign server when glued to the endpoint as text, or directly."""
    hostport = sim.url.split("://", 1)[1]
    return ["@%s/v1.0/groups/delta?$skiptoken=stolen" % foreign.addr,
            ":1@%s/v1.0/groups/delta?$skiptoken=stolen" % foreign.addr,
            "http://%s@%s/v1.0/groups/delta?$skiptoken=stolen" % (hostport, foreign.addr),
            "http://%s/v1.0/groups/delta?$skiptoken=stolen" % foreign.addr]


def test_next_link(wd, foreign):
    sim = lib.Sim(wd, "--users", "30", "--groups", "12", "--members", "120", "--page-size", "4")
    try:
        conf = lib.write_conf(wd, sim)
        for link in attacks(sim, foreign):
            before = len(foreign.seen)
            sim.call("POST", "faults", {"kind": "link", "which": "next", "link": link,
                                        "count": 1, "path": "/v1.0/groups/delta"})
            rc, out, err = lib.run_producer(conf, "--once", "--dry-run")
            check(len(foreign.seen) == before,
                  "nextLink %r: nothing reached the foreign server (got %s)"
                  % (link, [(r["path"], r["auth"] is not None) for r in foreign.seen[before:]]))
            # a refused link is a dead link (wb_delta): dropped, and the round starts over full
            check(rc == 0 and out != "" and "refusing a link outside graph.endpoint" in err and
                  "link dropped, full round from the start" in err,
                  "nextLink %r: refusal logged, the link dropped, a full round done without it"
                  % link)
        rc, out, err = lib.run_producer(conf, "--once", "--dry-run")
        problems, _ = lib.check_against_expected(sim, lib.fold(lib.parse_events(out)))
        check(rc == 0 and not problems, "the next round, with honest links, completes %s"
              % problems[:2])
    finally:
        sim.stop()


def test_checkpoint(wd, foreign):
    bs = os.environ["WB_TEST_KAFKA_BOOTSTRAP"]
    sim = lib.Sim(wd, "--users", "30", "--groups", "12", "--members", "120", "--page-size", "4")
    tag = uuid.uuid4().hex[:8]
    tenant, state = "t0230" + tag, "wbt0230.%s.state" % tag
    try:
        conf = lib.write_conf(wd, sim, {
            "tenant": tenant, "topic.events": "wbt0230.%s.groups" % tag,
            "topic.dlq": "wbt0230.%s.dlq" % tag, "topic.state": state,
            "topic.partitions": "1"}, name="p-%s.conf" % tag)

        rc, out, err = lib.run_producer(conf, "--once")
        ck = lib.last_checkpoint(state, tenant)
        check(rc == 0 and ck and ck["deltaLink"].startswith(sim.url), "first round committed")

        # a checkpoint written by whoever can write topic.state
        for link in attacks(sim, foreign)[:2]:
            ck["deltaLink"] = link.replace("skiptoken", "deltatoken")
            p = subprocess.run([lib.DUMP, "--put", bs, state, tenant + "/checkpoint",
                                json.dumps(ck)], capture_output=True, text=True, timeout=60)
            check(p.returncode == 0, "crafted checkpoint written")
            before = len(foreign.seen)
            rc, out, err = lib.run_producer(conf, "--once")
            ck = lib.last_checkpoint(state, tenant)
            check(len(foreign.seen) == before,
                  "checkpoint deltaLink %r: nothing reached the foreign server (got %s)"
                  % (link, [(r["path"], r["auth"] is not None) for r in foreign.seen[before:]]))
            check(rc == 0 and "refusing a link outside graph.endpoint" in err and
                  "link dropped, full round from the start" in err and "committed" in err,
                  "checkpoint deltaLink %r: refused, full resync committed" % link)
            check(ck and ck["deltaLink"].startswith(sim.url + "/"),
                  "the new checkpoint points at the simulator again")

        # a Graph that keeps answering with a foreign nextLink: rounds fail, nothing is sent,
        # the metric counts the refusals
        port = free_port()
        sim.call("POST", "faults", {"kind": "link", "which": "next",
                                    "link": attacks(sim, foreign)[0], "count": -1,
                                    "path": "/v1.0/groups/delta"})
        ck["deltaLink"] = None
        subprocess.run([lib.DUMP, "--put", bs, state, tenant + "/checkpoint", json.dumps(ck)],
                       capture_output=True, text=True, timeout=60)
        before = len(foreign.seen)
        p = subprocess.Popen([lib.PRODUCER, "-c", conf, "-X",
                              "producer.metrics_listen=127.0.0.1:%d" % port, "-X",
                              "graph.poll_interval_ms=1000"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        metric = None
        t0 = time.time()
        while time.time() - t0 < 60 and metric is None:
            time.sleep(1)
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                            timeout=5) as r:
                    for line in r.read().decode().splitlines():
                        if line.startswith("writeback_producer_links_refused_total "):
                            v = float(line.split()[1])
                            metric = v if v >= 2 else None
            except OSError:
                pass
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        sim.call("DELETE", "faults")
        check(metric is not None and metric >= 2,
              "writeback_producer_links_refused_total counts refused links (%s)" % metric)
        check(len(foreign.seen) == before, "persistent foreign nextLinks: still nothing sent")
        rc, out, err = lib.run_producer(conf, "--once")
        check(rc == 0, "honest links again: the round commits")

        # a deltaLink from Graph that is stored, then refused when the next round starts
        sim.call("POST", "faults", {"kind": "link", "which": "delta",
                                    "link": attacks(sim, foreign)[0], "count": 1,
                                    "path": "/v1.0/groups/delta"})
        rc, out, err = lib.run_producer(conf, "--once")
        before = len(foreign.seen)
        rc, out, err = lib.run_producer(conf, "--once")
        check(len(foreign.seen) == before and rc == 0 and "refusing a link" in err,
              "deltaLink from Graph: refused at the next round, nothing sent, resynced")
    finally:
        sim.stop()


def main():
    h.require([lib.PRODUCER, lib.DUMP], ["WB_TEST_KAFKA_BOOTSTRAP"])
    foreign = Foreign()
    try:
        with tempfile.TemporaryDirectory(prefix="wb0230-") as wd:
            test_next_link(wd, foreign)
            test_checkpoint(wd, foreign)
    finally:
        foreign.stop()
    got = [(r["path"], r["auth"] is not None) for r in foreign.seen]
    check(not got, "the foreign server received no request at all: %s" % got[:5])
    print("%d failure(s)" % len(lib.FAILURES))
    return 1 if lib.FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
