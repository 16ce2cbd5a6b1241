#!/usr/bin/env python3
"""End-to-end ownership rules: a pre-existing AD group without our anchor that has the computed
cn is never touched and its event is dead-lettered with the documented headers; a group
written by Connect Sync group writeback (anchored only by adminDescription=Group_<id>) is left
alone by default and adopted (anchor added, then managed) with worker.adopt_writeback_v2=true."""

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

DLQ_HEADERS = ("wb.reason", "wb.class", "wb.ldap.rc", "wb.ldap.message", "wb.ldap.matched_dn",
               "wb.orig.topic", "wb.orig.partition", "wb.orig.offset", "wb.orig.timestamp",
               "wb.consumer_group", "wb.worker_id", "wb.attempts", "wb.time")


def cn_of(name, gid):
    return name.strip()[:51] + "_" + gid[-12:]


def check_dlq_record(e, rec, gid, worker_id):
    hd = rec["headers"]
    missing = [k for k in DLQ_HEADERS if k not in hd]
    assert not missing, "DLQ headers missing: %s (have %s)" % (missing, sorted(hd))
    assert rec["key"] == gid, rec["key"]
    ev = json.loads(rec["value"])
    assert ev.get("group") == gid and ev.get("v") == 1, ev
    assert hd["wb.class"] == "conflict", hd
    assert hd["wb.reason"] and hd["wb.reason"] != "NULL", hd
    assert hd["wb.orig.topic"] == e.topics["events"], hd
    assert 0 <= int(hd["wb.orig.partition"]) < e.partitions, hd
    assert int(hd["wb.orig.offset"]) >= 0, hd
    assert int(hd["wb.orig.timestamp"]) > 1600000000000, hd      # ms since the epoch
    assert hd["wb.consumer_group"] == e.group_id or hd["wb.consumer_group"].startswith(
        e.group_id), hd
    assert hd["wb.worker_id"] == worker_id, hd
    assert int(hd["wb.attempts"]) >= 1, hd
    assert re.match(r"^(\d{4}-\d\d-\d\dT|\d{10,})", hd["wb.time"]), hd
    int(hd["wb.ldap.rc"])
    for k in DLQ_HEADERS:
        assert "secret" not in hd[k].lower() and "password" not in hd[k].lower(), hd


def test_ownership():
    with h.E2E("0903-ownership") as e:
        us = e.create_users(4)
        uid = [u["oid"] for u in us]
        taken = h.seed_group("Name already taken", "ours", [uid[0]])
        connect = h.seed_group("Connect written group", "from connect", [uid[1], uid[2]])
        normal = h.seed_group("Normal group", None, [uid[3]])
        # pre-existing objects: an unowned group with taken's computed cn; the group Connect
        # Sync writeback v2 wrote for `connect` (default name CN=Group_<id>, adminDescription)
        taken_dn = "CN=%s,%s" % (cn_of(taken["displayName"], taken["id"]), e.ou)
        connect_dn = "CN=Group_%s,%s" % (connect["id"], e.ou)
        e.ldap.add("dn: %s\nobjectClass: group\nsAMAccountName: unowned%s\n"
                   "description: somebody else's group\nmember: <SID=%s>\n\n"
                   "dn: %s\nobjectClass: group\nsAMAccountName: cw%s\n"
                   "adminDescription: Group_%s\ndisplayName: Connect written group\n"
                   "groupType: -2147483640\nmember: <SID=%s>\nmember: <SID=%s>\n" % (
                       taken_dn, e.rand, us[3]["sid"], connect_dn, e.rand, connect["id"],
                       us[1]["sid"], us[2]["sid"]))
        ad0 = e.ad()
        unowned0 = [g for g in ad0["unanchored"] if g["dn"] == taken_dn][0]
        connect0 = [g for g in ad0["unanchored"] if g["dn"] == connect_dn][0]

        e.start_sim([h.synced_user(u) for u in us], [taken, connect, normal])
        e.start_producer()
        w = e.start_worker("w1")
        ignore = [taken["id"], connect["id"]]
        exp, ad = e.wait_converged(90, ignore=ignore, settle=3, dead_letters_ok=True)
        # neither object was touched nor anchored, and no second group was created for them
        for before in (unowned0, connect0):
            after = ad["by_guid"].get(before["guid"])
            assert after is not None, "%s disappeared" % before["dn"]
            for k in ("dn", "usnchanged", "msds-externaldirectoryobjectid", "description"):
                assert after[k] == before[k], "%s: %s %r -> %r" % (before["dn"], k, before[k],
                                                                   after[k])
        assert taken["id"] not in ad["anchored"] and connect["id"] not in ad["anchored"]
        recs = e.dlq()
        by_key = {}
        for r in recs:
            by_key.setdefault(r["key"], []).append(r)
        assert taken["id"] in by_key, "no dead letter for the cn conflict: %s" % recs
        assert set(by_key) <= {taken["id"], connect["id"]}, sorted(by_key)
        for r in recs:
            check_dlq_record(e, r, r["key"], "0903-ownership-w1")
        m = e.metrics(w)
        # the Connect-written group is either dead-lettered as a conflict or skipped
        if connect["id"] not in by_key:
            skipped = h.metric_sum(m, "writeback_worker_events_total", outcome="skipped")
            assert skipped >= 1, "the Connect-written group was neither dead-lettered nor " \
                "counted as skipped"
        reasons = {r["headers"]["wb.reason"] for r in recs}
        for reason in reasons:
            n = h.metric_sum(m, "writeback_worker_dead_letters_total", reason=reason)
            assert n == sum(1 for r in recs if r["headers"]["wb.reason"] == reason), (reason, n)
        e.stop_all(check=True)

        # adoption: a new worker (new consumer group: replays from the earliest offset) with
        # worker.adopt_writeback_v2=true adopts the Connect group; the unowned one stays alone
        w2 = e.start_worker("w2", worker__adopt_writeback_v2=True,
                            worker__group_id=e.group_id + "-adopt")
        # an adopted group keeps its sAMAccountName (only set when we create a group)
        exp, ad = e.wait_converged(60, ignore=[taken["id"]], settle=3, dead_letters_ok=True,
                                   lenient={connect["id"]: ["sAMAccountName"]})
        adopted = ad["anchored"][connect["id"]]
        assert adopted["guid"] == connect0["guid"], "the Connect group was recreated, not adopted"
        after = ad["by_guid"][unowned0["guid"]]
        assert after["usnchanged"] == unowned0["usnchanged"], "the unowned group was modified"
        m = e.metrics(w2)
        assert h.metric_sum(m, "writeback_worker_dead_letters_total") >= 1
        e.stop_all(check=True)


if __name__ == "__main__":
    h.run([test_ownership])
