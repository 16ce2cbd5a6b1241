#!/usr/bin/env python3
"""Graph change notifications through the Event Hubs stand-in (the test broker's SASL_SSL
listener) on the real producer, worker, Samba and the simulator (docs/notifications.md):

- test_notifications (poll 10 minutes, so anything that reaches AD came through a
  notification-triggered round): a rename reaches AD through a notification; duplicated and
  delayed notifications only trigger rounds; a forged
  notification (wrong clientState) is dropped, counted and starts no round; the lifecycle cases
  reauthorizationRequired (renewed by PATCH), missed (a change whose notification was dropped
  reaches AD through the lifecycle round), subscriptionRemoved (a new subscription, whose
  notifications work), an expired subscription found by the read-back (recreated, round at
  once); writebackctl notifications status shows the live subscription and unsubscribe
  deletes it; no secret in any log.
- test_drop_caught_by_poll (poll 4 s, every notification dropped): changes still reach AD,
  through poll rounds only; with every debug topic on, no secret in the log.
- test_wrong_connection_string: the hub refuses the producer; the error is counted and logged
  with what to check, and changes still arrive through the poll.
- test_renewal (lifetime 2 minutes, renew 1 minute before): the same subscription is renewed
  before it expires; a restarted producer adopts it instead of creating another."""

import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

CTL = os.path.join(h.BUILD, "ctl", "writebackctl")
TIMEOUT = 90    # first convergence includes start-up
FAST = 20       # a notification-triggered round: seconds, not the 10-minute poll


class Notify:
    """The notify.* settings of one test: its own hub (a topic of the Event Hubs listener),
    client state and a private copy of the connection string."""

    def __init__(self, e):
        env = e.env
        for k in ("WB_TEST_EH_BOOTSTRAP", "WB_TEST_EH_CONNSTR_FILE", "WB_TEST_EH_CA"):
            if not env.get(k):
                print("SKIP: %s not set (tests/services/kafka.sh without the Event Hubs "
                      "listener)" % k)
                sys.exit(77)
        self.e = e
        self.hub = e.topic_prefix + ".hub"
        self.state = "cs-" + os.urandom(12).hex()
        self.state_file = os.path.join(e.work, "client-state")
        with open(self.state_file, "w") as f:
            f.write(self.state + "\n")
        os.chmod(self.state_file, 0o600)
        self.connstr_file = os.path.join(e.work, "eh-connection-string")
        shutil.copyfile(env["WB_TEST_EH_CONNSTR_FILE"], self.connstr_file)
        os.chmod(self.connstr_file, 0o600)
        with open(self.connstr_file) as f:
            self.connstr = f.read().strip()
        # the hub exists before anyone reads it (as an event hub does)
        h.Kafka(env["WB_TEST_KAFKA_BOOTSTRAP"]).create_topics([(self.hub, 2, {})])

    def sim_args(self):
        env = self.e.env
        return ["--eventhub-bootstrap", env["WB_TEST_EH_BOOTSTRAP"],
                "--eventhub-connstr-file", self.connstr_file,
                "--eventhub-ca", env["WB_TEST_EH_CA"]]

    def keys(self, **over):
        env = self.e.env
        k = {"notify.enabled": True,
             "notify.namespace": "wbtest.servicebus.windows.net",
             "notify.hub": self.hub,
             "notify.bootstrap_servers": env["WB_TEST_EH_BOOTSTRAP"],
             "notify.connection_string_file": self.connstr_file,
             "notify.ca_file": env["WB_TEST_EH_CA"],
             "notify.client_state_file": self.state_file,
             "notify.consumer_group": "wb-e2e-" + self.e.rand}
        k.update({key.replace("__", "."): v for key, v in over.items()})
        return k

    def subs(self):
        return self.e.sim.req("GET", "subscriptions")["subscriptions"]

    def one_sub(self, not_id=None, timeout=FAST):
        """The single live subscription (other than not_id), waiting for it."""
        found = []

        def ok():
            s = self.subs()
            found[:] = s
            return len(s) == 1 and s[0]["id"] != not_id
        h.wait_for(ok, timeout, "one subscription other than %s (have %s)" % (not_id, found))
        s = found[0]
        assert s["topic"] == self.hub, s
        assert s["clientState"] == self.state, "the subscription does not carry our clientState"
        assert s["changeType"] == "created,updated,deleted", s["changeType"]
        return s


def m(e, p, name, **labels):
    return h.metric_sum(e.metrics(p), name, **labels)


def rounds(e, p, trigger):
    return m(e, p, "writeback_producer_notify_rounds_total", trigger=trigger)


def ctl(e, conf, *args):
    r = subprocess.run([CTL, "-c", conf, "--json"] + list(args), capture_output=True,
                       text=True, timeout=120)
    if r.returncode != 0:
        raise h.E2EError("writebackctl %s: rc %d\n%s" % (" ".join(args), r.returncode,
                                                         r.stderr))
    return json.loads(r.stdout)


def no_secrets(e, n):
    for p in e.procs:
        text = p.log_text()
        for what, s in (("clientState", n.state), ("connection string", n.connstr)):
            assert s not in text, "%s leaked into %s's log" % (what, p.name)


def test_notifications():
    with h.E2E("0920-notify") as e:
        n = Notify(e)
        us = e.create_users(4)
        uid = [u["oid"] for u in us]
        a = h.seed_group("Notify Alpha", "first", [uid[0]])
        b = h.seed_group("Notify Beta", None, [uid[1]])
        e.start_sim([h.synced_user(u) for u in us], [a, b], n.sim_args())
        p = e.start_producer(graph__poll_interval_ms=600000,
                             notify__check_interval_ms=3000, **n.keys())
        w = e.start_worker("w1")
        e.wait_converged(TIMEOUT)
        s1 = n.one_sub()

        # a change reaches AD through a notification-triggered round (poll: 10 minutes)
        t0 = time.time()
        e.sim.update_group(a["id"], displayName="Notify Alpha Renamed")
        e.wait_converged(FAST)
        h.log("rename in AD %.1f s after the change" % (time.time() - t0))
        assert rounds(e, p, "notification") >= 1
        assert rounds(e, p, "poll") == 0, "a poll round ran within the 10-minute interval"
        accepted = m(e, p, "writeback_producer_notifications_total", outcome="accepted")
        assert accepted >= 1

        # duplicated and delayed notifications: still only triggers (no more than two rounds)
        rn = rounds(e, p, "notification")
        e.sim.req("POST", "notify/faults", {"faults": [{"kind": "duplicate", "count": 1},
                                                       {"kind": "delay", "count": 1,
                                                        "delay_ms": 1500}]})
        e.sim.update_group(a["id"], description="duplicated")
        e.sim.update_group(b["id"], description="delayed")
        e.wait_converged(FAST)
        h.wait_for(lambda: m(e, p, "writeback_producer_notifications_total",
                             outcome="accepted") >= accepted + 3, FAST, "three notifications")
        assert rounds(e, p, "notification") - rn <= 3, "more rounds than notifications"
        accepted = m(e, p, "writeback_producer_notifications_total", outcome="accepted")

        # forged: wrong clientState, dropped and counted, starts no round
        before = rounds(e, p, "notification")
        e.sim.req("POST", "subscriptions/%s/forge" % s1["id"], {"groupId": b["id"]})
        h.wait_for(lambda: m(e, p, "writeback_producer_notifications_total",
                             outcome="forged") == 1, FAST, "the forged notification counted")
        time.sleep(2)
        assert rounds(e, p, "notification") == before, "a forged notification started a round"
        assert m(e, p, "writeback_producer_notifications_total", outcome="accepted") == accepted
        assert "wrong clientState" in p.log_text()

        # reauthorizationRequired: renewed with PATCH (which reauthorizes), then a round
        lc = rounds(e, p, "lifecycle")
        done = m(e, p, "writeback_producer_rounds_total")
        exp1 = s1["expirationDateTime"]
        e.sim.req("POST", "subscriptions/%s/lifecycle" % s1["id"],
                  {"event": "reauthorizationRequired"})
        h.wait_for(lambda: not n.subs()[0]["reauthorizationPending"], FAST,
                   "the subscription reauthorized")
        assert n.subs()[0]["id"] == s1["id"]
        assert n.subs()[0]["expirationDateTime"] >= exp1
        assert e.sim.req("GET", "notify/stats").get("subscriptionsRenewed", 0) >= 1
        h.wait_for(lambda: rounds(e, p, "lifecycle") > lc, FAST, "a lifecycle round")
        # counted when it starts: wait for it to end too, or it may read the change below (a
        # round of 1 s on a loaded machine took it, and the dropped notification went unseen)
        h.wait_for(lambda: m(e, p, "writeback_producer_rounds_total") > done, FAST,
                   "the lifecycle round finished")

        # missed: the change's own notification is dropped; the missed event brings it
        e.sim.req("POST", "notify/faults", {"kind": "drop", "count": 1})
        e.sim.update_group(b["id"], description="changed while its notification was lost")
        time.sleep(4)
        problems, _, _ = e.diff()
        assert problems, "the change reached AD although its notification was dropped"
        e.sim.req("POST", "subscriptions/%s/lifecycle" % s1["id"], {"event": "missed"})
        e.wait_converged(FAST)
        assert m(e, p, "writeback_producer_notify_lifecycle_total", event="missed") == 1

        # subscriptionRemoved: a new subscription, and its notifications work
        e.sim.req("POST", "subscriptions/%s/remove" % s1["id"])
        s2 = n.one_sub(not_id=s1["id"])
        e.sim.members(a["id"], add=[uid[2]])
        e.wait_converged(FAST)
        assert m(e, p, "writeback_producer_notify_lifecycle_total",
                 event="subscriptionRemoved") == 1

        # expired without a lifecycle notification: the read-back finds 404, creates a new one
        # and runs a round at once for the change nobody notified
        e.sim.req("POST", "subscriptions/%s/expire" % s2["id"])
        e.sim.members(b["id"], add=[uid[3]])
        s3 = n.one_sub(not_id=s2["id"])
        e.wait_converged(FAST)
        assert rounds(e, p, "poll") == 0
        assert m(e, p, "writeback_producer_notify_subscription_expiry_seconds") > 3600

        # writebackctl: status shows the live subscription; unsubscribe deletes it
        conf = e.write_conf("ctl.conf", dict(e.producer_keys(**n.keys()),
                                             **{"producer.metrics_listen": None,
                                                "graph.poll_interval_ms": None,
                                                "producer.transactional_id": None}))
        st = {}
        h.wait_for(lambda: st.update(ctl(e, conf, "notifications", "status")) or
                   st.get("subscriptionId") == s3["id"], FAST, "status naming %s" % s3["id"])
        assert st["notifications"]["forged"] == 1, st
        assert st["rounds"]["poll"] == 0 and st["rounds"]["notification"] >= 1, st
        assert st["lastNotification"], st
        m_worker = e.metrics(w)
        assert h.metric_sum(m_worker, "writeback_worker_dead_letters_total") == 0
        e.stop_all(check=True)
        out = ctl(e, conf, "notifications", "unsubscribe")
        assert out["deleted"] == [s3["id"]], out
        assert n.subs() == []
        no_secrets(e, n)


def test_drop_caught_by_poll():
    with h.E2E("0920-drop") as e:
        n = Notify(e)
        us = e.create_users(2)
        g = h.seed_group("Dropped Notes", None, [us[0]["oid"]])
        e.start_sim([h.synced_user(u) for u in us], [g], n.sim_args())
        # every debug topic, librdkafka's security and configuration traces included: still no
        # secret in the log
        p = e.start_producer(graph__poll_interval_ms=4000, log__debug="all",
                             kafka__debug="security,broker,conf,cgrp", **n.keys())
        e.start_worker("w1")
        e.wait_converged(TIMEOUT)
        n.one_sub()
        e.sim.req("POST", "notify/faults", {"kind": "drop", "count": -1})
        polls = rounds(e, p, "poll")
        e.sim.update_group(g["id"], displayName="Dropped Notes Renamed")
        e.sim.members(g["id"], add=[us[1]["oid"]])
        e.wait_converged(30)
        assert e.sim.req("GET", "notify/stats").get("dropped", 0) >= 2
        assert m(e, p, "writeback_producer_notifications_total", outcome="accepted") == 0
        assert rounds(e, p, "notification") == 0
        assert rounds(e, p, "poll") > polls
        e.stop_all(check=True)
        no_secrets(e, n)


def test_wrong_connection_string():
    """The hub refuses the producer: counted, an actionable log line, the poll carries on."""
    with h.E2E("0920-badconn") as e:
        n = Notify(e)
        bad = os.path.join(e.work, "bad-connection-string")
        with open(bad, "w") as f:
            f.write(n.connstr.rsplit("=", 1)[0] + "=d3JvbmcK\n")
        os.chmod(bad, 0o600)
        us = e.create_users(1)
        g = h.seed_group("Bad Conn", None, [us[0]["oid"]])
        e.start_sim([h.synced_user(u) for u in us], [g], n.sim_args())
        p = e.start_producer(graph__poll_interval_ms=4000,
                             **n.keys(notify__connection_string_file=bad))
        e.start_worker("w1")
        e.wait_converged(TIMEOUT)
        e.sim.update_group(g["id"], description="through the poll")
        e.wait_converged(30)
        h.wait_for(lambda: m(e, p, "writeback_producer_notify_errors_total",
                             where="consumer") > 0, 30, "the consumer error counted")
        assert "notifications do not arrive" in p.log_text()
        assert m(e, p, "writeback_producer_notifications_total", outcome="accepted") == 0
        assert rounds(e, p, "poll") > 0
        e.stop_all(check=True)
        no_secrets(e, n)


def test_renewal():
    with h.E2E("0920-renew") as e:
        n = Notify(e)
        us = e.create_users(1)
        g = h.seed_group("Renewed", None, [us[0]["oid"]])
        e.start_sim([h.synced_user(u) for u in us], [g], n.sim_args())
        # Graph makes a lifetime under 45 minutes into 45; the simulator lets a test go lower
        e.sim.req("POST", "config", {"subscription_min_minutes": 0})
        p = e.start_producer(graph__poll_interval_ms=600000, notify__expiration_minutes=2,
                             notify__renew_before_minutes=1, notify__check_interval_ms=2000,
                             **n.keys())
        e.start_worker("w1")
        e.wait_converged(TIMEOUT)
        s = n.one_sub()
        # renewed once less than a minute remains, before it expires at two
        h.wait_for(lambda: n.subs() and n.subs()[0]["expirationDateTime"] >
                   s["expirationDateTime"], 100, "the subscription renewed")
        assert n.subs()[0]["id"] == s["id"]
        stats = e.sim.req("GET", "notify/stats")
        assert stats.get("subscriptionsRenewed", 0) >= 1
        assert stats.get("subscriptionsExpired", 0) == 0
        assert stats.get("subscriptionsCreated", 0) == 1
        # a restarted producer adopts the subscription instead of creating another
        p.stop()
        assert p.p.returncode == 0, "the producer exited %s" % p.p.returncode
        p2 = e.start_producer(name="producer2", graph__poll_interval_ms=600000,
                              notify__expiration_minutes=2, notify__renew_before_minutes=1,
                              **n.keys())
        e.wait_http(p2, "/healthz", 30)
        h.wait_for(lambda: "using subscription " + s["id"] in p2.log_text(), FAST,
                   "the restarted producer adopting %s" % s["id"])
        e.sim.members(g["id"], remove=[us[0]["oid"]])
        e.wait_converged(FAST)
        assert [x["id"] for x in n.subs()] == [s["id"]]
        assert e.sim.req("GET", "notify/stats").get("subscriptionsCreated", 0) == 1
        e.stop_all(check=True)


if __name__ == "__main__":
    h.run([test_notifications, test_drop_caught_by_poll, test_wrong_connection_string,
           test_renewal])
