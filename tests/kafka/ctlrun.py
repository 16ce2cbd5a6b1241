"""Runs writebackctl for the 04xx tests: a ctl.conf for one harness.E2E test (Kafka topics and
consumer group, the test's sub-OU on the DC when asked, plus any extra keys) and exit-code,
JSON and sanitizer checks on every call."""
import json
import os
import subprocess

import harness as h

CTL = os.path.join(h.BUILD, "ctl", "writebackctl")


def require_built():
    """Exits with status 77 (CTest: skipped) when writebackctl is not built."""
    h.require([CTL])


def ldap_keys(e):
    """The ldap.* keys for the test DC, with the E2E test's own sub-OU as the target."""
    env = e.env
    return {"ldap.uri": env["WB_TEST_LDAP_URI"], "ldap.bind_dn": env["WB_TEST_LDAP_BIND_DN"],
            "ldap.password_file": env["WB_TEST_LDAP_PASSWORD_FILE"],
            "ldap.ca_file": env["WB_TEST_LDAP_CA_FILE"],
            "ldap.base_dn": env["WB_TEST_LDAP_BASE_DN"], "ldap.target_ou": e.ou}


class Ctl:
    def __init__(self, e, extra=None, ldap=False):
        keys = {
            "tenant": "e2e",
            "kafka.bootstrap.servers": e.env["WB_TEST_KAFKA_BOOTSTRAP"],
            "topic.events": e.topics["events"], "topic.dlq": e.topics["dlq"],
            "topic.state": e.topics["state"], "worker.group_id": e.group_id}
        if ldap:
            keys.update(ldap_keys(e))
        keys.update(extra or {})
        self.conf = e.write_conf("ctl.conf", keys)

    def run(self, *args, want=None):
        p = subprocess.run([CTL, "-c", self.conf] + list(args), capture_output=True, text=True,
                           timeout=180, env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1"))
        h.log("writebackctl %s -> %d" % (" ".join(args), p.returncode))
        if "runtime error" in p.stderr or "Sanitizer" in p.stderr:
            raise h.E2EError("sanitizer report from writebackctl %s:\n%s" % (args, p.stderr))
        if want is not None and p.returncode != want:
            raise h.E2EError("writebackctl %s: exit %d, expected %d\nstdout:\n%s\nstderr:\n%s" % (
                " ".join(args), p.returncode, want, p.stdout[-3000:], p.stderr[-3000:]))
        return p

    def json(self, *args, want=0):
        return json.loads(self.run("--json", *args, want=want).stdout)
