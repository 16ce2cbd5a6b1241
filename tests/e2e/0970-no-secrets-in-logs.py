#!/usr/bin/env python3
"""0970 no secret in any log at any debug level (issue 13, finding 2). The producer, a worker
and writebackctl run with log.debug=all and kafka.debug=all against the real Kafka broker, the
Samba AD DC (LDAPS, simple bind) and the Graph simulator, with distinctive secrets: the Graph
client secret, the LDAP bind password (Samba's, fixed by tests/services/samba.sh), every bearer
token the simulator issued, and a kafka.sasl.password and kafka.ssl.key.password set in the
configuration (unused by the plaintext test broker, but parsed and held by librdkafka), and the
change-notification secrets: the Event Hubs connection string (its SharedAccessKey alone too)
the producer signs in to the hub with, and the subscription's clientState, which travels in
the subscription request and in every notification it reads (docs/notifications.md). Every
byte each program wrote, stdout and stderr, is searched for each secret: as text, URL-encoded,
and in the hex columns of packet dumps (a secret cut across dump lines is still found)."""

import os
import re
import secrets
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

CTL = os.path.join(h.BUILD, "ctl", "writebackctl")
TIMEOUT = 120
NOTIFY = h.load_test("e2e/0920-notifications.py")
# "  0010:  04 1d 57 62 2d 36 ...   ..Wb-6..." (liblber), "0010: 04 1d 57 ..." and the like
HEXLINE = re.compile(r"^\s*(?:[0-9a-fA-F]{4,8}:)\s+((?:[0-9a-fA-F]{2}\s{1,2}){1,32})")


def hex_stream(text):
    """The bytes of every hex-dump line of text, concatenated, as lower-case hex."""
    out = []
    for line in text.splitlines():
        # strip our own log prefix ("2024-...Z debug   LIBLDAP  ") before matching
        body = re.sub(r"^\S+Z\s+\w+\s+\S+\s+", "", line)
        m = HEXLINE.match(body)
        if m:
            out.append("".join(m.group(1).split()).lower())
    return "".join(out)


def leaks(name, text, secret_list):
    """[(secret name, how)] for each secret found in text."""
    found = []
    hx = hex_stream(text)
    for sname, s in secret_list:
        forms = {"text": s, "url-encoded": urllib.parse.quote(s, safe="")}
        for how, f in forms.items():
            if f and f in text:
                i = text.index(f)
                line = text[text.rfind("\n", 0, i) + 1:text.find("\n", i)]
                found.append((sname, how, line.replace(f, "<%s>" % sname)[:300]))
        if s.encode().hex() in hx:
            found.append((sname, "hex dump", ""))
    return found


def test_no_secrets():
    with h.E2E("0970-secrets", partitions=2) as e:
        us = e.create_users(4)
        uid = [u["oid"] for u in us]
        g1 = h.seed_group("Secrets One", "d", [uid[0], uid[1]])
        g2 = h.seed_group("Secrets Two", None, [uid[2], uid[3], g1["id"]])
        n = NOTIFY.Notify(e)
        e.start_sim([h.synced_user(u) for u in us], [g1, g2], n.sim_args())
        with open(e.secret_file) as f:
            client_secret = f.read().strip()
        with open(e.env["WB_TEST_LDAP_PASSWORD_FILE"]) as f:
            ldap_password = f.read().strip()
        sasl = "sasl-" + secrets.token_hex(12)
        sslkey = "sslkey-" + secrets.token_hex(12)
        loud = {"log.debug": "all", "kafka.debug": "all", "kafka.sasl.username": "wb-user",
                "kafka.sasl.password": sasl, "kafka.ssl.key.password": sslkey}
        over = {k.replace(".", "__"): v for k, v in loud.items()}
        p = e.start_producer(**dict(over, **n.keys()))
        w = e.start_worker("w1", **over)
        e.wait_converged(TIMEOUT)
        # a change that arrives as a notification: the producer has created the subscription
        # (clientState in the body), reads the hub with the connection string and checks the
        # clientState of what it reads, all with every debug topic on
        n.one_sub()
        e.sim.update_group(g1["id"], displayName="Secrets One Renamed")
        e.wait_converged(TIMEOUT)
        h.wait_for(lambda: NOTIFY.m(e, p, "writeback_producer_notifications_total",
                                    outcome="accepted") >= 1, TIMEOUT,
                   "a change notification accepted")

        outputs = {}
        ctl_keys = dict(loud)
        ctl_keys.update({
            "tenant": "e2e", "kafka.bootstrap.servers": e.env["WB_TEST_KAFKA_BOOTSTRAP"],
            "topic.events": e.topics["events"], "topic.dlq": e.topics["dlq"],
            "topic.state": e.topics["state"], "worker.group_id": e.group_id,
            "graph.tenant_id": e.tenant_id, "graph.client_id": e.client_id,
            "graph.client_secret_file": e.secret_file, "graph.authority": e.sim.url,
            "graph.endpoint": e.sim.url, "ldap.uri": e.env["WB_TEST_LDAP_URI"],
            "ldap.bind_dn": e.env["WB_TEST_LDAP_BIND_DN"],
            "ldap.password_file": e.env["WB_TEST_LDAP_PASSWORD_FILE"],
            "ldap.ca_file": e.env["WB_TEST_LDAP_CA_FILE"],
            "ldap.base_dn": e.env["WB_TEST_LDAP_BASE_DN"], "ldap.target_ou": e.ou})
        ctl_keys.update(n.keys())
        conf = e.write_conf("ctl.conf", ctl_keys)
        for args in (["lag", "--samples", "1"], ["dlq", "list"], ["soa-policy", "show"],
                     ["provision", "--group", g2["id"], "--dry-run"],
                     ["notifications", "status"]):
            r = subprocess.run([CTL, "-c", conf] + args, capture_output=True, text=True,
                               timeout=180)
            outputs["writebackctl " + " ".join(args)] = r.stdout + r.stderr
            h.log("writebackctl %s -> %d (%d bytes of output)" % (
                " ".join(args), r.returncode, len(r.stdout) + len(r.stderr)))
            assert r.returncode in (0, 1), (args, r.returncode, r.stderr[-2000:])
        tokens = e.sim.req("GET", "tokens")["tokens"]
        assert tokens, "the simulator issued no token"
        e.stop_all(check=True)
        outputs["producer"] = p.log_text()
        outputs["worker"] = w.log_text()
        # the debug output is really there: libldap, librdkafka and Graph debug lines
        assert "LIBLDAP" in outputs["worker"], "no libldap debug output from the worker"
        assert "debug" in outputs["producer"] and "GRAPH" in outputs["producer"]
        assert "[" in outputs["worker"] and "KAFKA" in outputs["worker"]

        secret_list = [("client-secret", client_secret), ("ldap-password", ldap_password),
                       ("kafka.sasl.password", sasl), ("kafka.ssl.key.password", sslkey)]
        secret_list += [("eventhub-connection-string", n.connstr),
                        ("eventhub-shared-access-key",
                         n.connstr.split("SharedAccessKey=", 1)[1].split(";")[0]),
                        ("notify-client-state", n.state)]
        secret_list += [("bearer-token", t) for t in tokens]
        secret_list += [("bearer-token-signature", t.rsplit(".", 1)[1]) for t in tokens]
        bad = []
        for name, text in outputs.items():
            h.log("%s: %d bytes of output searched" % (name, len(text)))
            for sname, how, line in leaks(name, text, secret_list):
                bad.append("%s printed the %s (%s): %s" % (name, sname, how, line))
        assert not bad, "secrets in the output:\n" + "\n".join(bad[:20])


if __name__ == "__main__":
    h.run([test_no_secrets])
