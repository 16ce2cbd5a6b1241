#!/usr/bin/env python3
"""0223 an access token that expires twice during one request's retries is renewed twice (found
by the soak: seed 9 of tests/bench/0961-soak-long.py), dry run against the Graph simulator. The
producer renewed a rejected token only once per request: a 401, a renewal, a 429 and a second
401 (the new token expired meanwhile) ended the round as fatal and the producer exited with
status 1. Two expiries back to back (a 401 right after a renewal: Graph may refuse a token issued
a moment ago, for clock skew or replication) renew again after a backoff instead of exiting; a
401 that persists past graph.max_retries fails the round (transient), and the producer goes on
with the next round, its links kept."""

import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import harness as h  # noqa: E402
lib = h.load_test("unit/0202-producer-dryrun.py")
check = lib.check


def main():
    h.require([lib.PRODUCER])
    with tempfile.TemporaryDirectory(prefix="wb0223-") as wd:
        sim = lib.Sim(wd, "--users", "20", "--groups", "6", "--members", "60")
        try:
            conf = lib.write_conf(wd, sim)
            sim.call("POST", "faults", {"faults": [
                {"kind": "expired_token", "count": 1, "path": "/v1.0/users/delta"},
                {"kind": "429", "count": 1, "path": "/v1.0/users/delta", "retry_after": 1},
                {"kind": "expired_token", "count": 1, "path": "/v1.0/users/delta"}]})
            rc, out, err = lib.run_producer(conf, "--once", "--dry-run")
            problems, _ = lib.check_against_expected(sim, lib.fold(lib.parse_events(out)))
            st = sim.call("GET", "stats")
            check(rc == 0 and not problems, "401, 429, 401 on one request: renewed twice, round "
                  "complete (rc %d) %s %s" % (rc, problems[:2], err.splitlines()[-3:]))
            check(st["faultsApplied"].get("expired_token") == 2,
                  "both expiries applied: %s" % st["faultsApplied"])
            check(err.count("renewing the token") == 2, "each renewal logged")
        finally:
            sim.stop()
    with tempfile.TemporaryDirectory(prefix="wb0223-") as wd:
        back_to_back(wd)
    with tempfile.TemporaryDirectory(prefix="wb0223-") as wd:
        persistent(wd)
    print("%d failure(s)" % len(lib.FAILURES))
    return 1 if lib.FAILURES else 0


def back_to_back(wd):
    """Three 401s in a row on one request: renewed three times, the round completes."""
    sim = lib.Sim(wd, "--users", "20", "--groups", "6", "--members", "60")
    try:
        conf = lib.write_conf(wd, sim)
        sim.call("POST", "faults", {"kind": "expired_token", "count": 3,
                                    "path": "/v1.0/groups/delta"})
        rc, out, err = lib.run_producer(conf, "--once", "--dry-run")
        problems, _ = lib.check_against_expected(sim, lib.fold(lib.parse_events(out)))
        st = sim.call("GET", "stats")
        check(rc == 0 and not problems, "401 three times in a row: renewed each time, round "
              "complete (rc %d) %s %s" % (rc, problems[:2], err.splitlines()[-3:]))
        check(st["faultsApplied"].get("expired_token") == 3, "three expiries applied")
        check(err.count("right after a token renewal") == 2, "the 401s after a renewal logged")
    finally:
        sim.stop()


def persistent(wd):
    """More 401s in a row than graph.max_retries allows: the round fails, the producer does not
    exit, and the next round (the fault used up) commits the whole tenant."""
    sim = lib.Sim(wd, "--users", "20", "--groups", "6", "--members", "60")
    p = None
    try:
        conf = lib.write_conf(wd, sim, {"graph.max_retries": "2",
                                        "graph.poll_interval_ms": "1000"})
        # max_retries 2: one free renewal and 3 more attempts, 4 refusals fail one request
        sim.call("POST", "faults", {"kind": "expired_token", "count": 6, "path": "/v1.0/"})
        errf = open(os.path.join(wd, "producer.err"), "w+")
        outf = open(os.path.join(wd, "producer.out"), "w+")
        p = subprocess.Popen([lib.PRODUCER, "-c", conf, "--dry-run"], stdout=outf, stderr=errf)
        deadline = time.time() + 120
        err = ""
        while time.time() < deadline and p.poll() is None:
            errf.seek(0)
            err = errf.read()
            if "round committed after 1 failed round" in err:
                break
            time.sleep(0.2)
        alive = p.poll() is None
        p.terminate()
        rc = p.wait(30)
        errf.seek(0)
        err = errf.read()
        outf.seek(0)
        problems, _ = lib.check_against_expected(sim, lib.fold(lib.parse_events(outf.read())))
        check(alive and rc == 0, "persistent 401: the producer kept running (rc %s) %s" % (
            rc, err.splitlines()[-3:]))
        check("renewed tokens refused in a row; round abandoned" in err,
              "the failed request says what to check")
        check("round failed: " in err and "1 in a row" in err, "counted as a failed round")
        check("round committed after 1 failed round" in err, "the next round committed")
        check(not problems, "the tenant is complete after the recovery: %s" % problems[:2])
        check(sim.call("GET", "stats")["faultsApplied"].get("expired_token") == 6,
              "every expiry applied")
    finally:
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()
        sim.stop()


if __name__ == "__main__":
    sys.exit(main())
