#!/usr/bin/env python3
"""Self-test of the end-to-end harness (tests/e2e/harness.py), without the writeback binaries:
writes the simulator's expected state into Samba by hand (odd names, nested groups, cloud-only
members) and checks that the comparison then reports no difference and does report every
kind of deviation; reads headers back from a Kafka topic; parses Prometheus text."""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

ODD = ['Comma, Plus+ Quote" Back\\slash <Angle> Semi; Equals= #Hash', "#StartsWithHash",
       "  Leading and trailing spaces  ",
       "Emoji \U0001F680 Rocket \u2728 \u00dcn\u00efc\u00f6d\u00e9",
       "A very long group name that goes well beyond fifty-one characters in total \U0001F600"]


def write_expected(e, exp):
    """What a perfect worker would write: every expected group, then its members."""
    adds = []
    for g in exp["groups"]:
        lines = ["dn: " + g["dn"], "objectClass: group"]
        for attr in ("cn", "displayName", "description", "sAMAccountName", "adminDescription",
                     "msDS-ExternalDirectoryObjectId", "groupType"):
            if g.get(attr) is not None:
                lines.append(h.ldif_value(attr, g[attr]))
        adds.append("\n".join(lines) + "\n")
    e.ldap.add("\n".join(adds))
    mods = []
    for g in exp["groups"]:
        vals = ["<SID=%s>" % s for s in g["memberSids"]]
        by_id = {x["objectId"]: x for x in exp["groups"]}
        vals += [by_id[x]["dn"] for x in g["memberGroups"]]
        if vals:
            mods.append("dn: %s\nchangetype: modify\nadd: member\n%s\n-\n" % (
                g["dn"], "\n".join(h.ldif_value("member", v) for v in vals)))
    if mods:
        e.ldap.modify("\n".join(mods))


def test_compare():
    with h.E2E("0900-compare") as e:
        us = e.create_users(6)
        cu = h.cloud_user(1)
        gs = [h.seed_group(n, "Description of %d  " % i, [us[i]["oid"], us[5]["oid"], cu["id"]])
              for i, n in enumerate(ODD)]
        child = h.seed_group("Child", None, [us[0]["oid"]])
        parent = h.seed_group("Parent", "p", [child["id"], us[1]["oid"]])
        unscoped = h.seed_group("Mail enabled", None, [], mailEnabled=True)
        parent2 = h.seed_group("Parent of unscoped", None, [unscoped["id"], us[2]["oid"]])
        e.start_sim([h.synced_user(u) for u in us] + [cu], gs + [child, parent, unscoped,
                                                              parent2])
        exp = e.expected()
        assert exp["count"] == len(gs) + 3, exp["count"]
        problems, _, _ = e.diff()
        assert len(problems) == exp["count"], problems
        assert all(p.startswith("missing group") for p in problems), problems
        write_expected(e, exp)
        e.wait_converged(timeout=5)

        # Every deviation is reported.
        ad = e.ad()
        g0 = ad["anchored"][gs[0]["id"]]
        e.ldap.modify("dn: %s\nchangetype: modify\nreplace: description\ndescription: wrong\n-\n"
                      "delete: member\nmember: <SID=%s>\n" % (g0["dn"], us[5]["sid"]))
        pd = ad["anchored"][parent["id"]]
        cd = ad["anchored"][child["id"]]
        e.ldap.modify("dn: %s\nchangetype: modify\ndelete: member\nmember: %s\n-\n"
                      "add: member\nmember: <SID=%s>\n" % (pd["dn"], cd["dn"], us[3]["sid"]))
        e.ldap.add("dn: CN=stray,%s\nobjectClass: group\nmsDS-ExternalDirectoryObjectId: "
                   "Group_%s\n" % (e.ou, h.new_id()))
        problems, _, _ = e.diff()
        text = "\n".join(problems)
        assert "description is 'wrong'" in text, text
        assert "1 missing [%s]" % us[5]["sid"] in text, text
        assert "group members are [], expected [%s]" % child["id"] in text, text
        assert "1 extra [%s]" % us[3]["sid"] in text, text
        assert "extra group in AD: CN=stray" in text, text
        assert len(problems) == 5, problems
        try:
            e.wait_converged(timeout=1)
        except h.E2EError as err:
            assert "5 differences" in str(err), err
        else:
            raise AssertionError("wait_converged accepted a wrong state")


def test_kafka_headers():
    with h.E2E("0900-kafka") as e:
        # A record with headers whose values hold separators the formatter also uses.
        line = "wb.reason:conflict,wb.ldap.message:a, b: c\tk1\t{\"v\":1}\n"
        p = subprocess.run(e.kafka.java + [
            "org.apache.kafka.tools.ConsoleProducer", "--bootstrap-server", e.kafka.bootstrap,
            "--topic", e.topics["dlq"], "--reader-property", "parse.key=true",
            "--reader-property", "parse.headers=true",
            "--reader-property", "headers.delimiter=\t",
            "--reader-property", "headers.separator=,",
            "--reader-property", "key.separator=\t"], input=line.encode(), capture_output=True,
            timeout=120)
        assert p.returncode == 0, p.stderr.decode()[-1000:]
        recs = e.dlq(idle_ms=3000)
        assert len(recs) == 1, recs
        r = recs[0]
        assert r["key"] == "k1" and r["value"] == '{"v":1}', r
        assert r["headers"]["wb.reason"] == "conflict", r
        assert r["headers"]["wb.ldap.message"] == "a", r   # the producer split at ','
        assert r["offset"] == 0, r


def test_metrics_parse():
    m = h.parse_metrics('# HELP x y\n# TYPE writeback_worker_ldap_writes_total counter\n'
                        'writeback_worker_ldap_writes_total 7\n'
                        'writeback_worker_dead_letters_total{reason="conflict"} 2\n'
                        'writeback_worker_dead_letters_total{reason="poison",x="a\\"b"} 1\n'
                        'bad line\n')
    assert h.metric_sum(m, "writeback_worker_ldap_writes_total") == 7
    assert h.metric_sum(m, "writeback_worker_dead_letters_total") == 3
    assert h.metric_sum(m, "writeback_worker_dead_letters_total", reason="conflict") == 2
    assert h.metric_sum(m, "writeback_worker_dead_letters_total", reason="other") == 0
    assert h.parse_ext_dn("<GUID=0a0b0c0d-0000-0000-0000-000000000001>;<SID=S-1-5-21-1-2-3-4>;"
                          "CN=a\\,b,DC=x") == ("0a0b0c0d-0000-0000-0000-000000000001",
                                               "S-1-5-21-1-2-3-4", "CN=a\\,b,DC=x")
    assert h.sid_to_str(bytes.fromhex("010500000000000515000000a065cf7e784b9b5fe77c8770f4010000")) \
        == "S-1-5-21-2127521184-1604012920-1887927527-500"


if __name__ == "__main__":
    h.run([test_metrics_parse, test_compare, test_kafka_headers])
