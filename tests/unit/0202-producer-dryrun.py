#!/usr/bin/env python3
"""0202 producer dry run against the Graph simulator (no Kafka): the initial sync of a seeded
tenant yields exactly the AD state the simulator expects, in every scope mode, with members
split across pages, cloud-only users and nested groups; throttling, 503, malformed and
truncated pages, an expired token and bad credentials are handled. Also the shared helpers of
the 02xx script tests (imported by tests/kafka/0210-*.py)."""

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness as h  # noqa: E402

SRC = os.environ.get("WB_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("WB_BUILD_DIR") or os.path.join(SRC, "build")
PRODUCER = os.path.join(BUILD, "producer", "writeback-producer")
DUMP = os.path.join(BUILD, "producer", "wb-topic-dump")
GRAPHSIM = os.path.join(SRC, "tests", "graphsim", "graphsim.py")
TENANT_ID = "8f2a6e0c-3d9b-4c71-a5e2-1b7c9d0e4f36"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"


class Sim:
    """A graphsim process with its admin API."""

    def __init__(self, workdir, *args):
        self.url_file = os.path.join(workdir, "graphsim.url")
        if os.path.exists(self.url_file):
            os.unlink(self.url_file)
        self.err = open(os.path.join(workdir, "graphsim.err"), "w")
        self.proc = subprocess.Popen(
            [sys.executable, GRAPHSIM, "--listen", "127.0.0.1:0", "--url-file", self.url_file,
             "--tenant-id", TENANT_ID, "--client-id", CLIENT_ID] + list(args),
            stdout=subprocess.DEVNULL, stderr=self.err)
        t0 = time.time()
        while not os.path.exists(self.url_file):
            if self.proc.poll() is not None or time.time() - t0 > 120:
                raise RuntimeError("graphsim did not start")
            time.sleep(0.05)
        with open(self.url_file) as f:
            self.url = f.read().strip()

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + "/_sim/" + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read() or b"null")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.err.close()


def write_conf(workdir, sim, extra=None, name="producer.conf"):
    secret = os.path.join(workdir, "secret")
    with open(secret, "w") as f:
        f.write("graphsim-secret\n")
    os.chmod(secret, 0o600)
    lines = {"graph.tenant_id": TENANT_ID, "graph.client_id": CLIENT_ID,
             "graph.client_secret_file": secret, "graph.authority": sim.url,
             "graph.endpoint": sim.url, "kafka.bootstrap.servers":
             os.environ.get("WB_TEST_KAFKA_BOOTSTRAP") or "127.0.0.1:19092",
             "producer.metrics_listen": "", "graph.max_retries": "4"}
    lines.update(extra or {})
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        for k, v in lines.items():
            f.write("%s = %s\n" % (k, v))
    return path


def run_producer(conf, *args, timeout=300, env=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([PRODUCER, "-c", conf] + list(args), capture_output=True, text=True,
                       timeout=timeout, env=e)
    return p.returncode, p.stdout, p.stderr


def parse_events(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def fold(events, state=None):
    """Applies events as a worker would: group id -> {attrs, members: set, pending chunks}."""
    st = {} if state is None else state
    for ev in events:
        g = ev["group"]
        t = ev["type"]
        if t in ("group.delete", "group.unscoped"):
            st.pop(g, None)
            continue
        ent = st.setdefault(g, {"attrs": None, "members": set(), "snap": {}})
        if t == "group.upsert":
            ent["attrs"] = ev["attrs"]
        elif t == "group.snapshot":
            chunks = ent["snap"].setdefault(ev["snapshot"], {})
            chunks[ev["chunk"]] = ev["members"]
            assert 1 <= ev["chunk"] <= ev["chunks"]
            if len(chunks) == ev["chunks"]:
                ent["members"] = set(member_key(m) for c in chunks.values() for m in c)
                del ent["snap"][ev["snapshot"]]
        elif t == "group.members":
            for m in ev.get("add", []):
                ent["members"].add(member_key(m))
            for m in ev.get("remove", []):
                ent["members"].discard(member_key(m))
        else:
            raise AssertionError("unknown event type %s" % t)
    return st


def member_key(m):
    if m["kind"] == "user":
        return ("user", m["sid"])
    return ("group", m["id"])


def check_against_expected(sim, state, mode="all", group_ids=None, filt=None):
    q = "expected?mode=" + mode
    if group_ids:
        q += "&group_ids=" + ",".join(group_ids)
    if filt:
        q += "&filter=" + urllib.request.quote(filt)
    exp = sim.call("GET", q)
    want = {g["objectId"]: g for g in exp["groups"]}
    problems = []
    if set(want) != set(state):
        problems.append("groups: missing %s, extra %s" % (sorted(set(want) - set(state))[:5],
                                                         sorted(set(state) - set(want))[:5]))
    for gid, g in want.items():
        ent = state.get(gid)
        if ent is None:
            continue
        if ent["attrs"] is None or ent["attrs"]["displayName"] != (g["displayName"] or ""):
            problems.append("%s: displayName %r != %r" % (gid, ent["attrs"] and
                                                          ent["attrs"]["displayName"],
                                                          g["displayName"]))
        wm = set(("user", s) for s in g["memberSids"]) | set(("group", x)
                                                             for x in g["memberGroups"])
        if ent["members"] != wm:
            problems.append("%s: members missing %s extra %s" % (
                gid, sorted(wm - ent["members"])[:3], sorted(ent["members"] - wm)[:3]))
        if ent["snap"]:
            problems.append("%s: incomplete snapshot" % gid)
    return problems, exp


def dump_topic(topic, timeout_ms=60000):
    bs = os.environ.get("WB_TEST_KAFKA_BOOTSTRAP", "127.0.0.1:19092")
    p = subprocess.run([DUMP, bs, topic, str(timeout_ms)], capture_output=True, text=True,
                       timeout=timeout_ms / 1000 + 30)
    if p.returncode != 0:
        raise RuntimeError("wb-topic-dump %s failed: %s" % (topic, p.stderr))
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


def last_checkpoint(state, tenant):
    """The newest <tenant>/checkpoint record of topic state, parsed, or None."""
    last = None
    for r in dump_topic(state):
        if r["k"] == tenant + "/checkpoint":
            last = json.loads(r["v"])
    return last


# ------------------------------------------------------------------------------ the tests
FAILURES = []


def check(cond, what):
    if cond:
        print("ok - %s" % what)
    else:
        print("FAIL - %s" % what)
        FAILURES.append(what)


def test_initial_modes(wd):
    sim = Sim(wd, "--users", "120", "--groups", "40", "--members", "900", "--page-size", "7",
              "--page-members", "25", "--nested-share", "0.2")
    try:
        ext = sim.call("GET", "tenant")["extensionWritebackEnabled"]
        # a few groups carry the writeback extension so that the filter selects some of them
        ids = sim.call("GET", "groups")["ids"]
        for gid in ids[:12]:
            sim.call("PATCH", "groups/" + gid, {ext: True})
        conf = write_conf(wd, sim)
        rc, out, err = run_producer(conf, "--once", "--dry-run")
        check(rc == 0, "dry run exits 0 (stderr: %s)" % err[-500:])
        evs = parse_events(out)
        problems, exp = check_against_expected(sim, fold(evs))
        check(not problems, "mode all: AD state equals the simulator's expectation %s"
              % problems[:3])
        check(any(g["skippedCloudOnlyUsers"] for g in exp["groups"]) and
              "cloud-only user(s)" in err, "cloud-only users dropped and logged")
        check(all(e["round"] == evs[0]["round"] for e in evs), "one round id in a round")
        ups = [e["group"] for e in evs if e["type"] == "group.upsert"]
        check(len(ups) == len(set(ups)) == exp["count"], "one upsert per in-scope group")
        snaps = [e for e in evs if e["type"] == "group.snapshot"]
        check(set(e["group"] for e in snaps) == set(ups), "every upserted group has a snapshot")
        # members split over pages merged: the simulator paged at 25 members
        big = [g for g in exp["groups"] if len(g["memberSids"]) > 25]
        check(bool(big), "some group has more members than one page holds")

        # small chunks: snapshot chunking
        rc, out, err = run_producer(conf, "--once", "--dry-run", "-X", "producer.member_chunk=3")
        evs = parse_events(out)
        problems, _ = check_against_expected(sim, fold(evs))
        check(rc == 0 and not problems and any(e.get("chunks", 1) > 1 for e in evs),
              "member_chunk=3: chunked snapshots fold to the same state")
        check(all(len(e.get("members", [])) <= 3 for e in evs), "no chunk over member_chunk")

        # selected
        sel = exp["groups"][0]["objectId"], exp["groups"][1]["objectId"], exp["outOfScope"][0]
        rc, out, err = run_producer(conf, "--once", "--dry-run", "-X", "scope.mode=selected",
                                    "-X", "scope.group_ids=" + ",".join(sel))
        problems, exp2 = check_against_expected(sim, fold(parse_events(out)), "selected",
                                                list(sel))
        check(rc == 0 and not problems and exp2["count"] == 2,
              "mode selected: only the selected in-scope groups %s" % problems[:3])

        # filter, with a directory extension and OR
        filt = "%s IS TRUE OR displayName REGEX_MATCH '^SG-HR'" % ext
        rc, out, err = run_producer(conf, "--once", "--dry-run", "-X", "scope.mode=filter",
                                    "-X", "scope.filter=" + filt)
        problems, exp3 = check_against_expected(sim, fold(parse_events(out)), "filter",
                                                filt=filt)
        check(rc == 0 and not problems and 0 < exp3["count"] < exp["count"],
              "mode filter (extension IS TRUE OR regex): %d groups %s" % (exp3["count"],
                                                                         problems[:3]))
        filt = "description EQUALS 'nope' AND displayName IS NOT NULL"
        rc, out, err = run_producer(conf, "--once", "--dry-run", "-X", "scope.mode=filter",
                                    "-X", "scope.filter=" + filt)
        check(rc == 0 and parse_events(out) == [], "filter matching nothing: no events")
        rc, out, err = run_producer(conf, "--once", "--dry-run", "-X", "scope.mode=filter",
                                    "-X", "scope.filter=displayName FROBNICATES x")
        check(rc == 2 and "scope.filter" in err, "bad filter: exit 2 with a clear message")
    finally:
        sim.stop()


def test_faults(wd):
    sim = Sim(wd, "--users", "40", "--groups", "15", "--members", "200", "--page-size", "4")
    try:
        conf = write_conf(wd, sim)
        rc, out, err = run_producer(conf, "--once", "--dry-run")
        base, _ = check_against_expected(sim, fold(parse_events(out)))
        check(rc == 0 and not base, "baseline run")
        sim.call("DELETE", "stats")
        sim.call("POST", "faults", {"faults": [
            {"kind": "429", "count": 2, "path": "/v1.0/groups/delta", "retry_after": 1},
            {"kind": "503", "count": 1, "path": "/v1.0/groups/delta"},
            {"kind": "malformed", "count": 1, "path": "/v1.0/groups/delta", "contains":
             "skiptoken"},
            {"kind": "truncated", "count": 1, "path": "/v1.0/users/delta"}]})
        t0 = time.time()
        rc, out, err = run_producer(conf, "--once", "--dry-run")
        took = time.time() - t0
        problems, _ = check_against_expected(sim, fold(parse_events(out)))
        st = sim.call("GET", "stats")
        check(rc == 0 and not problems, "429, 503, malformed and truncated pages survived %s"
              % problems[:3])
        check(st["faultsApplied"].get("429") == 2 and st["faultsApplied"].get("malformed") == 1,
              "faults were applied: %s" % st["faultsApplied"])
        check(took >= 2.0, "Retry-After honoured (%.1f s for two 1 s waits)" % took)
        check("malformed" in err and "HTTP 429" in err, "faults logged")

        # a page that stays malformed: the round fails, nothing is printed
        sim.call("POST", "faults", {"kind": "malformed", "count": 20, "path":
                                    "/v1.0/groups/delta"})
        rc, out, err = run_producer(conf, "--once", "--dry-run", "-X", "graph.max_retries=2")
        sim.call("DELETE", "faults")
        check(rc == 1 and out == "", "persistently malformed page: round abandoned, no events")

        # expired token: 401 then a new token
        # tokens that expire during the round: renewed (before expiry, or after a 401)
        sim.call("POST", "config", {"token_lifetime": 1, "latency_ms": 150})
        sim.call("DELETE", "stats")
        rc, out, err = run_producer(conf, "--once", "--dry-run")
        st = sim.call("GET", "stats")
        problems, _ = check_against_expected(sim, fold(parse_events(out)))
        check(rc == 0 and not problems and st["tokensIssued"] >= 2,
              "token expiring mid-round renewed (%d tokens)" % st["tokensIssued"])
        sim.call("POST", "config", {"token_lifetime": 3599, "latency_ms": 0})

        # bad credentials: fatal, exit 1, secret not logged
        bad = write_conf(wd, sim, name="bad.conf")
        with open(os.path.join(wd, "secret"), "w") as f:
            f.write("wrong-secret-value\n")
        rc, out, err = run_producer(bad, "--once", "--dry-run")
        check(rc == 1 and "refused the client credentials" in err and
              "wrong-secret-value" not in err, "bad secret: exit 1, clear log, secret hidden")

        # 410 on the very first request restarts cleanly
        write_conf(wd, sim)
        sim.call("POST", "faults", {"kind": "token_error", "count": 1, "status": 503})
        rc, out, err = run_producer(conf, "--once", "--dry-run")
        check(rc == 0 and parse_events(out), "token endpoint 503 retried")
    finally:
        sim.stop()


def test_cli(wd):
    rc = subprocess.run([PRODUCER, "--version"], capture_output=True, text=True)
    check(rc.returncode == 0 and "writeback-producer" in rc.stdout, "--version")
    rc = subprocess.run([PRODUCER, "--help"], capture_output=True, text=True)
    check(rc.returncode == 0 and "--dry-run" in rc.stdout, "--help")
    rc = subprocess.run([PRODUCER, "--bogus"], capture_output=True, text=True)
    check(rc.returncode == 2, "unknown option: exit 2")
    rc = subprocess.run([PRODUCER, "-X", "graph.poll_interval_ms=5"], capture_output=True,
                        text=True)
    check(rc.returncode == 2 and "graph.poll_interval_ms" in rc.stderr,
          "bad config value: exit 2 naming the key")


def main():
    h.require([PRODUCER])
    with tempfile.TemporaryDirectory(prefix="wb0202-") as wd:
        test_cli(wd)
        test_initial_modes(wd)
        test_faults(wd)
    print("%d failure(s)" % len(FAILURES))
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
