#!/usr/bin/env python3
"""0223 an access token that expires twice during one request's retries is renewed twice (found
by the soak: seed 9 of tests/bench/0961-soak-long.py), dry run against the Graph simulator. The
producer renewed a rejected token only once per request: a 401, a renewal, a 429 and a second
401 (the new token expired meanwhile) ended the round as fatal and the producer exited with
status 1. A 401 right after a renewal is still fatal (credentials refused)."""

import importlib.util
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("pdlib",
                                              os.path.join(HERE, "0202-producer-dryrun.py"))
lib = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lib)
check = lib.check


def main():
    if not os.path.exists(lib.PRODUCER):
        print("SKIP: %s not built" % lib.PRODUCER)
        return 77
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
    print("%d failure(s)" % len(lib.FAILURES))
    return 1 if lib.FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
