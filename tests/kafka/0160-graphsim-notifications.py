#!/usr/bin/env python3
"""The Graph simulator's change notifications on the real test broker, read back over its
Event Hubs stand-in listener (SASL_SSL, PLAIN, `$ConnectionString` and the connection string,
the test CA) as the producer reads them: a membership change arrives as Graph's notification
JSON; a wrong connection string is refused; drop, duplicate, forge, reorder and delay show on
the topic; lifecycle events go to the lifecycle hub; an expired or removed subscription
delivers nothing more. Needs the WB_TEST_EH_* variables of tests/services/kafka.sh (exit 77
without them)."""

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
GRAPHSIM = os.path.join(os.path.dirname(HERE), "graphsim")
SIMHUB = os.path.join(GRAPHSIM, "simhub.py")
# python3-confluent-kafka is in Debian's interpreter (a pyenv shim on PATH may lack it).
DEBIAN_PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

_spec = importlib.util.spec_from_file_location(
    "graphsim_test", os.path.join(GRAPHSIM, "0030-graphsim-test.py"))
gt = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gt)

EH = {k: os.environ.get("WB_TEST_EH_" + k) for k in ("BOOTSTRAP", "CONNSTR_FILE", "CA")}
G1, G2, G3, G4, G5, G6, G7 = gt.G1, gt.G2, gt.G3, gt.G4, gt.G5, gt.G6, gt.G7


def consume(topic, count=None, timeout=20, connstr_file=None):
    """(exit status, [notification objects]) of simhub.py consume over SASL_SSL."""
    argv = [DEBIAN_PY, SIMHUB, "consume", "--bootstrap", EH["BOOTSTRAP"], "--connstr-file",
            connstr_file or EH["CONNSTR_FILE"], "--ca", EH["CA"], "--topic", topic,
            "--timeout", str(timeout)]
    if count is not None:
        argv += ["--count", str(count)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 60)
    msgs = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
    return r.returncode, msgs, r.stderr


def item(msg):
    """The one notification of a message value ({"value": [one]})."""
    v = json.loads(msg["value"])
    assert set(v) == {"value"} and len(v["value"]) == 1, v
    return v["value"][0]


class NotificationDeliveryTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = gt.Sim("--eventhub-bootstrap", EH["BOOTSTRAP"], "--eventhub-connstr-file",
                         EH["CONNSTR_FILE"], "--eventhub-ca", EH["CA"], seed_obj=gt.seed())

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()

    def tearDown(self):
        st, _, d = self.sim.graph("/v1.0/subscriptions")
        for sub in d["value"]:
            self.sim.graph("/v1.0/subscriptions/" + sub["id"], "DELETE")
        self.sim.admin("DELETE", "notify/faults")

    def subscribe(self, **over):
        hub = "graphsim-" + uuid.uuid4().hex[:12]
        st, _, d = self.sim.graph("/v1.0/subscriptions", "POST", gt.sub_body(hub, **over))
        self.assertEqual(st, 201, d)
        return hub, d

    def wait_delivered(self, topic, n, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st, d = self.sim.admin("GET", "notify/messages?topic=" + topic)
            done = [m for m in d["messages"] if m["status"] in ("delivered", "failed")]
            if len(done) >= n:
                self.assertEqual({m["status"] for m in done}, {"delivered"}, done)
                return
            time.sleep(0.1)
        self.fail("%d notifications to %s not delivered in %d s" % (n, topic, timeout))

    def test_membership_change_read_over_sasl_ssl(self):
        hub, sub = self.subscribe()
        st, c0 = self.sim.admin("GET", "notify/stats")
        st, r = self.sim.admin("POST", "groups/%s/members" % G7, {"add": [gt.uid(1)]})
        self.assertEqual(r["changed"], 1)
        rc, msgs, err = consume(hub, 1)
        self.assertEqual(rc, 0, err)
        self.assertEqual(msgs[0]["key"], sub["id"])
        self.assertEqual(item(msgs[0]), {
            "subscriptionId": sub["id"],
            "subscriptionExpirationDateTime": sub["expirationDateTime"],
            "changeType": "updated", "resource": "Groups/" + G7,
            "resourceData": {"@odata.type": "#Microsoft.Graph.Group",
                             "@odata.id": "Groups/" + G7, "id": G7,
                             "organizationId": gt.TENANT},
            "clientState": "client-state-1", "tenantId": gt.TENANT})
        self.wait_delivered(hub, 1)
        st, d = self.sim.admin("GET", "notify/messages?topic=" + hub)
        self.assertEqual([m["status"] for m in d["messages"]], ["delivered"])
        st, c1 = self.sim.admin("GET", "notify/stats")
        self.assertGreater(c1["delivered"], c0.get("delivered", 0))

    def test_wrong_connection_string_refused(self):
        hub, _ = self.subscribe()
        self.sim.admin("PATCH", "groups/" + G1, {"displayName": "for the refused reader"})
        self.wait_delivered(hub, 1)
        with open(EH["CONNSTR_FILE"], encoding="utf-8") as f:
            good = f.read().strip()
        for bad in (good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
                    good.replace("SharedAccessKeyName=", "SharedAccessKeyName=x")):
            with tempfile.NamedTemporaryFile("w", suffix=".connstr") as f:
                f.write(bad + "\n")
                f.flush()
                rc, msgs, err = consume(hub, 1, timeout=10, connstr_file=f.name)
            self.assertEqual(rc, 3, err)
            self.assertEqual(msgs, [])
            self.assertIn("Authentication failed", err)
            self.assertNotIn(bad, err)
        rc, msgs, err = consume(hub, 1)            # the right one still reads it
        self.assertEqual(rc, 0, err)

    def test_faults_on_the_topic(self):
        s = self.sim
        hub, sub = self.subscribe()
        s.admin("POST", "notify/faults", {"faults": [
            {"kind": "drop", "subscription": sub["id"]},
            {"kind": "duplicate", "subscription": sub["id"]},
            {"kind": "forge", "subscription": sub["id"]},
            {"kind": "reorder", "subscription": sub["id"]}]})
        for g in (G1, G2, G3, G4, G5):
            s.admin("PATCH", "groups/" + g, {"displayName": "fault " + g[-2:]})
        s.admin("POST", "notify/faults", {"kind": "delay", "delay_ms": 2000,
                                          "subscription": sub["id"]})
        s.admin("PATCH", "groups/" + G6, {"displayName": "delayed"})
        s.admin("PATCH", "groups/" + G7, {"displayName": "not delayed"})
        self.wait_delivered(hub, 7)
        # one more than arrives: the reader waits its whole timeout and finds exactly 7
        rc, msgs, err = consume(hub, 8, timeout=8)
        self.assertEqual(rc, 1, err)
        got = [(item(m)["resourceData"]["id"], item(m)["clientState"]) for m in msgs]
        cs = "client-state-1"
        self.assertEqual([g for g, _ in got], [G2, G2, G3, G5, G4, G7, G6])
        self.assertEqual([c == cs for _, c in got], [True, True, False, True, True, True, True])
        self.assertEqual(len({m["partition"] for m in msgs}), 1)   # keyed by subscription

    def test_lifecycle_expiry_and_removal(self):
        s = self.sim
        hub, a = self.subscribe()
        hub_b, b = self.subscribe()
        hub_c, c = self.subscribe()
        for ev in ("reauthorizationRequired", "missed"):
            st, r = s.admin("POST", "subscriptions/%s/lifecycle" % a["id"], {"event": ev})
            self.assertEqual(st, 200, r)
        st, r = s.admin("POST", "subscriptions/%s/remove" % b["id"])
        self.assertEqual(st, 200, r)
        st, r = s.admin("POST", "subscriptions/%s/expire" % c["id"])
        self.assertEqual(st, 200, r)
        s.admin("PATCH", "groups/" + G1, {"displayName": "after removal and expiry"})
        rc, msgs, err = consume(hub + "-life", 2)
        self.assertEqual(rc, 0, err)
        self.assertEqual([(item(m)["subscriptionId"], item(m)["lifecycleEvent"])
                          for m in msgs],
                         [(a["id"], "reauthorizationRequired"), (a["id"], "missed")])
        self.assertEqual(set(item(msgs[0])), {"subscriptionId", "subscriptionExpirationDateTime",
                                              "tenantId", "clientState", "lifecycleEvent"})
        rc, msgs, err = consume(hub_b + "-life", 1)
        self.assertEqual(rc, 0, err)
        self.assertEqual(item(msgs[0])["lifecycleEvent"], "subscriptionRemoved")
        rc, msgs, err = consume(hub, 1)             # the live subscription saw the rename
        self.assertEqual(rc, 0, err)
        self.assertEqual(item(msgs[0])["resourceData"]["id"], G1)
        for h in (hub_b, hub_c):                   # the removed and the expired did not
            rc, msgs, err = consume(h, 1, timeout=4)
            self.assertEqual((rc, msgs), (1, []), err)


if __name__ == "__main__":
    if not all(EH.values()):
        print("SKIP: WB_TEST_EH_BOOTSTRAP / _CONNSTR_FILE / _CA not set (tests/services/"
              "kafka.sh env)")
        sys.exit(77)
    unittest.main(verbosity=2)
