#!/usr/bin/env python3
"""0203: writeback-producer refuses an incomplete or inconsistent notify.* block at start, with
exit 2 and a message naming the keys, before it connects to anything (no Kafka, no Graph
needed), and never prints the secrets it read; notify.enabled=false ignores the block."""

import os
import subprocess
import sys
import tempfile

SRC = os.environ.get("WB_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("WB_BUILD_DIR") or os.path.join(SRC, "build")
PRODUCER = os.path.join(BUILD, "producer", "writeback-producer")


def secret(d, name, text):
    p = os.path.join(d, name)
    with open(p, "w") as f:
        f.write(text + "\n")
    os.chmod(p, 0o600)
    return p


def run(d, keys):
    conf = os.path.join(d, "p.conf")
    with open(conf, "w") as f:
        for k, v in keys.items():
            f.write("%s = %s\n" % (k, v))
    # the brokers and Graph are unreachable ports: a refusal must come before any connection
    r = subprocess.run([PRODUCER, "-c", conf, "--once"], capture_output=True, text=True,
                       timeout=60)
    return r.returncode, r.stdout + r.stderr


def main():
    if not os.access(PRODUCER, os.X_OK):
        print("SKIP: %s not built" % PRODUCER)
        return 77
    failures = []
    with tempfile.TemporaryDirectory() as d:
        cs = "cs-0203-" + "a" * 20
        conn = "Endpoint=sb://x/;SharedAccessKeyName=k;SharedAccessKey=s0203"
        base = {"graph.tenant_id": "8f2a6e0c-3d9b-4c71-a5e2-1b7c9d0e4f36",
                "graph.client_id": "11111111-2222-3333-4444-555555555555",
                "graph.client_secret_file": secret(d, "graph", "graph-0203-secret"),
                "graph.authority": "http://127.0.0.1:9", "graph.endpoint": "http://127.0.0.1:9",
                "graph.max_retries": 0, "kafka.bootstrap.servers": "127.0.0.1:9",
                "kafka.message.timeout.ms": 2000, "producer.metrics_listen": "",
                "notify.enabled": "true", "notify.namespace": "ns.servicebus.windows.net",
                "notify.connection_string_file": secret(d, "conn", conn),
                "notify.client_state_file": secret(d, "cs", cs)}
        cases = [
            ("no connection string", {"notify.connection_string_file": None},
             "notify.connection_string_file"),
            ("no client state", {"notify.client_state_file": None}, "notify.client_state_file"),
            ("no namespace", {"notify.namespace": None}, "notify.namespace"),
            ("renewal after expiry", {"notify.expiration_minutes": 30,
                                      "notify.renew_before_minutes": 60},
             "notify.renew_before_minutes must be below notify.expiration_minutes"),
            ("client state too long", {"notify.client_state_file": secret(d, "long", "x" * 129)},
             "at most 128"),
            ("bad namespace", {"notify.namespace": "not a host"}, "notify.namespace"),
        ]
        for what, over, want in cases:
            keys = {k: v for k, v in dict(base, **over).items() if v is not None}
            rc, out = run(d, keys)
            if rc != 2 or want not in out:
                failures.append("%s: rc %d (want 2), output lacks %r:\n%s" % (what, rc, want,
                                                                              out[-600:]))
            for s in (cs, conn, "graph-0203-secret"):
                if s in out:
                    failures.append("%s: a secret is in the output" % what)
        # off: the same incomplete block is not read at all (the run then fails on Kafka, rc 1)
        keys = dict(base, **{"notify.enabled": "false"})
        del keys["notify.namespace"]
        rc, out = run(d, keys)
        if rc == 2:
            failures.append("notify.enabled=false still checked the block:\n" + out[-600:])
    for f in failures:
        print("FAIL " + f)
    print("0203: %d problems" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
