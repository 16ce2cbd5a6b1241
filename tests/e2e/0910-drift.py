#!/usr/bin/env python3
"""Drift (docs/drift.md): changes made by hand in AD (ldapmodify) to groups the worker owns —
a member added, a member removed, a description edited, a rename, a move out of the target OU,
a delete — are each found by the worker's watch. In audit mode each gives a DRIFT line and
writeback_worker_drift_total{kind} and AD keeps the hand-made state (no write); in repair mode
AD equals the simulator's expected state again (a deleted group comes back with a new SID).
The worker's own writes never count, and the watch costs no Graph request: the initial sync
asks Graph exactly as often with the watch on as with it off."""

import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

CTL = os.path.join(h.BUILD, "ctl", "writebackctl")
KINDS = ("member_add", "member_remove", "attribute", "rename", "move", "delete")


def drift_lines(worker, kind=None, group=None):
    out = []
    for ln in worker.log_text().splitlines():
        m = re.search(r"DRIFT group=(\S+) .* kind=(\S+) ", ln)
        if m and (kind is None or m.group(2) == kind) and (group is None or m.group(1) == group):
            out.append(ln)
    return out


def drift_counts(e, worker):
    m = e.metrics(worker)
    return {k: h.metric_sum(m, "writeback_worker_drift_total", kind=k) for k in KINDS}


def wait_watched(e, worker, n):
    """Until the watch holds a baseline of n groups and has had a round after that."""
    h.wait_for(lambda: h.metric_sum(e.metrics(worker),
                                    "writeback_worker_drift_watched_groups") == n,
               30, "the drift watch to hold %d baselines" % n, interval=0.5)
    time.sleep(1.5)  # one more round: the watermark is past our own writes


def world(e):
    """Four groups with members, converged in AD; returns (users, groups by letter)."""
    us = e.create_users(4)
    uid = [u["oid"] for u in us]
    gs = {
        "a": h.seed_group("Drift A", "first", [uid[0], uid[1]]),
        "b": h.seed_group("Drift B", "bee", [uid[1]]),
        "c": h.seed_group("Drift C", None, [uid[2]]),
        "d": h.seed_group("Drift D", "dee", [uid[0], uid[3]]),
    }
    e.start_sim([h.synced_user(u) for u in us], list(gs.values()))
    return us, gs


def drift_topic(e):
    """The test's drift.topic (removed with the test's other topics)."""
    return e.topics.setdefault("drift", e.topic_prefix + ".drift")


def ctl_run(e, *args):
    """writebackctl with the keys of the producer (Graph, scope, topics) and of the workers
    (LDAP, drift.topic): what report, records and provision need. Returns the process."""
    conf = e.write_conf("ctl.conf", e.ctl_keys(drift__topic=drift_topic(e)))
    t0 = time.monotonic()
    r = subprocess.run([CTL, "-c", conf] + list(args), capture_output=True, text=True,
                       timeout=300)
    r.seconds = time.monotonic() - t0
    h.log("writebackctl %s -> %d in %.2f s:\n%s%s" % (" ".join(args), r.returncode, r.seconds,
                                                     r.stdout.strip()[-3000:],
                                                     r.stderr.strip()[-2000:]))
    return r


def ctl(e, *args):
    r = ctl_run(e, *args)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def start(e, mode, **keys):
    """world(), the producer and one worker with the watch in mode, converged and watching;
    returns (users, groups, worker, AD state)."""
    us, gs = world(e)
    e.start_producer()
    w = e.start_worker("w1", drift__mode=mode, drift__interval_ms=300,
                       topic__state=e.topics["state"], **keys)
    _, ad = e.wait_converged(90)
    wait_watched(e, w, 4)
    return us, gs, w, ad


def hand_changes(e, us, gs, ad):
    """The six out-of-band changes, made as an administrator would with ldap-utils."""
    a, b, c, d = (ad["anchored"][gs[k]["id"]] for k in "abcd")
    steps = [
        ("member_add", gs["a"]["id"],
         "dn: %s\nchangetype: modify\nadd: member\nmember: %s\n" % (a["dn"], us[2]["dn"])),
        ("member_remove", gs["a"]["id"],
         "dn: %s\nchangetype: modify\ndelete: member\nmember: %s\n" % (a["dn"], us[0]["dn"])),
        ("attribute", gs["a"]["id"],
         "dn: %s\nchangetype: modify\nreplace: description\ndescription: edited by hand\n"
         % a["dn"]),
        ("rename", gs["b"]["id"],
         "dn: %s\nchangetype: modrdn\nnewrdn: CN=Renamed by hand\ndeleteoldrdn: 1\n" % b["dn"]),
        ("move", gs["c"]["id"],
         "dn: %s\nchangetype: modrdn\nnewrdn: %s\ndeleteoldrdn: 1\nnewsuperior: %s\n"
         % (c["dn"], c["dn"].split(",", 1)[0], e.users_ou)),
        ("delete", gs["d"]["id"], "dn: %s\nchangetype: delete\n" % d["dn"]),
    ]
    return steps


def test_audit():
    with h.E2E("0910-drift-audit") as e:
        us, gs, w, ad = start(e, "audit")
        assert drift_lines(w) == [], "own writes reported as drift:\n" + "\n".join(drift_lines(w))
        assert sum(drift_counts(e, w).values()) == 0

        for kind, gid, ldif in hand_changes(e, us, gs, ad):
            e.ldap.modify(ldif)
            h.wait_for(lambda: drift_lines(w, kind, gid), 15, "a %s drift line" % kind, 0.3)
            h.log("detected %s: %s" % (kind, drift_lines(w, kind, gid)[0].split("DRIFT ", 1)[1]))
        got = drift_counts(e, w)
        assert got == {k: 1 for k in KINDS}, got

        # the lines say what changed
        ln = drift_lines(w, "member_add")[0]
        assert us[2]["dn"] in ln and "action=audit" in ln, ln
        assert us[0]["dn"] in drift_lines(w, "member_remove")[0]
        ln = drift_lines(w, "attribute")[0]
        assert "attribute=description" in ln and 'added="edited by hand"' in ln, ln
        assert 'removed="first"' in ln and "dc=WBDC" in ln, ln
        assert "Renamed by hand" in drift_lines(w, "rename")[0]
        assert e.users_ou in drift_lines(w, "move")[0]
        assert "DEL:" in drift_lines(w, "delete")[0]

        # audit writes nothing: AD keeps every hand-made change
        time.sleep(2)
        now = e.ad()["anchored"]
        a = now[gs["a"]["id"]]
        guids = {m[0] for m in a["members"]}
        assert us[2]["guid"] in guids and us[0]["guid"] not in guids, a["members"]
        assert a["description"] == "edited by hand"
        assert now[gs["b"]["id"]]["cn"] == "Renamed by hand"
        assert now[gs["c"]["id"]]["parent"].lower() == e.users_ou.lower()
        assert gs["d"]["id"] not in now
        assert h.metric_sum(e.metrics(w), "writeback_worker_drift_repairs_total") == 0
        assert sum(drift_counts(e, w).values()) == 6, "a drift was reported twice"
        e.stop_all(check=True)


def test_repair():
    with h.E2E("0910-drift-repair") as e:
        us, gs, w, ad = start(e, "repair")
        sid_d = None
        for dn, attrs in e.ldap.search(ad["anchored"][gs["d"]["id"]]["dn"], attrs=["objectSid"],
                                       scope="base"):
            sid_d = h.sid_to_str(attrs["objectsid"][0])
        guid_d = ad["anchored"][gs["d"]["id"]]["guid"]

        for kind, gid, ldif in hand_changes(e, us, gs, ad):
            e.ldap.modify(ldif)
            h.wait_for(lambda: drift_lines(w, kind, gid), 15, "a %s drift line" % kind, 0.3)
            e.wait_converged(15)
            h.log("repaired %s" % kind)
        got = drift_counts(e, w)
        assert got == {k: 1 for k in KINDS}, got
        m = e.metrics(w)
        assert h.metric_sum(m, "writeback_worker_drift_repairs_total", result="ok") == 6
        assert h.metric_sum(m, "writeback_worker_drift_repairs_total", result="failed") == 0
        log = w.log_text()
        # a one-member drift is one small modify
        assert re.search(r"group=%s: repaired with 1 LDAP write\b" % gs["a"]["id"], log), log[-3000:]
        # the re-created group is a new object with a new SID, and the line says so
        d = e.ad()["anchored"][gs["d"]["id"]]
        assert d["guid"] != guid_d
        m = re.search(r"group=%s: re-created .* its SID changed from (\S+) to (\S+) " %
                      gs["d"]["id"], log)
        assert m and m.group(1) == sid_d and m.group(2) != sid_d, log[-3000:]
        # the repairs are own writes: nothing more is reported
        time.sleep(2)
        assert sum(drift_counts(e, w).values()) == 6
        # an Entra change after a repair still applies (the repair is not newer than Entra)
        e.sim.update_group(gs["a"]["id"], description="from Entra")
        e.wait_converged(30)
        time.sleep(1.5)
        assert sum(drift_counts(e, w).values()) == 6, drift_lines(w)
        # after the repairs AD equals Entra: drift report finds no difference (exit 0)
        r = ctl_run(e, "drift", "report", "--json")
        doc = json.loads(r.stdout)
        assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
        assert doc["differing"] == 0 and doc["errors"] == 0, doc
        assert sorted(g["group"] for g in doc["groups"]) == sorted(g["id"] for g in gs.values())
        assert all(g["state"] == "equal" and g["ldap"] == [] for g in doc["groups"]), doc
        e.stop_all(check=True)


def ad_changes(e):
    """uSNChanged and whenChanged of every object under the test's OU (groups, users, OUs),
    and the DC's highestCommittedUSN: equal before and after means nothing was written."""
    out = {dn.lower(): (a.get("usnchanged"), a.get("whenchanged"))
           for dn, a in e.ldap.search(e.ou, attrs=["uSNChanged", "whenChanged"])}
    root = e.ldap.search("", attrs=["highestCommittedUSN"], scope="base")
    out["rootDSE"] = root[0][1]["highestcommittedusn"]
    return out


def ops_by_kind(g):
    return {o["op"]: o for o in g["ldap"]}


def check_report(e, us, gs, doc):
    """The report of the six hand-made changes (group B paused)."""
    by = {g["group"]: g for g in doc["groups"]}
    assert doc["compared"] == 4 and doc["differing"] == 4 and doc["errors"] == 0, doc
    a, b, c, d = (by[gs[k]["id"]] for k in "abcd")
    # A: a member added and one removed by hand, its description edited
    ops = ops_by_kind(a)
    assert a["state"] == "differs" and not a["paused"], a
    assert "description" in ops["modify"]["detail"], a
    assert ops["add-members"]["count"] == 1 and ops["remove-members"]["count"] == 1, a
    # B: renamed by hand, and paused (still reported, marked)
    assert b["state"] == "differs" and b["paused"] and b["pausedUntil"], b
    assert "Renamed by hand" in b["dn"] and list(ops_by_kind(b)) == ["rename"], b
    # C: moved into another OU
    assert c["state"] == "differs" and c["dn"].lower().endswith(e.users_ou.lower()), c
    assert list(ops_by_kind(c)) == ["rename"], c
    # D: deleted in AD (found as a tombstone): missing, re-created with its two members
    ops = ops_by_kind(d)
    assert d["state"] == "missing_in_ad" and d["deletedInAD"], d
    assert "DEL:" in d["dn"] and ops["create"]["dn"].endswith(e.ou), d
    assert ops["add-members"]["count"] == 2, d


def check_records(e, us, gs, w):
    """drift.topic holds one record per DRIFT line, with the line's fields."""
    doc = json.loads(ctl(e, "drift", "records", "--json"))
    recs = doc["records"]
    assert doc["topic"] == drift_topic(e) and len(recs) == 6, recs
    assert sorted(r["kind"] for r in recs) == sorted(KINDS), recs
    by = {r["kind"]: r for r in recs}
    for r in recs:
        for f in ("group", "partition", "dn", "kind", "attribute", "added", "removed", "new_dn",
                  "dc", "time", "action", "worker", "detected", "offset"):
            assert f in r, (f, r)
        assert r["action"] == "audit" and r["worker"].endswith("-w1"), r
        ln = drift_lines(w, r["kind"], r["group"])[0]
        assert 'dn="%s"' % r["dn"] in ln and "partition=%d " % r["partition"] in ln, (r, ln)
    assert by["member_add"]["group"] == gs["a"]["id"] and \
        by["member_add"]["added"] == us[2]["dn"], by["member_add"]
    assert by["member_remove"]["removed"] == us[0]["dn"], by["member_remove"]
    assert by["attribute"]["attribute"] == "description" and \
        by["attribute"]["added"] == "edited by hand" and by["attribute"]["removed"] == "first"
    assert by["attribute"]["dc"] == "WBDC", by["attribute"]
    assert "Renamed by hand" in by["rename"]["new_dn"], by["rename"]
    assert by["move"]["new_dn"].lower().endswith(e.users_ou.lower()), by["move"]
    assert by["delete"]["group"] == gs["d"]["id"] and "DEL:" in by["delete"]["new_dn"]
    # --group: the records keyed by that group only
    one = json.loads(ctl(e, "drift", "records", "--group", gs["a"]["id"], "--json"))["records"]
    assert sorted(r["kind"] for r in one) == ["attribute", "member_add", "member_remove"], one
    text = ctl(e, "drift", "records")
    assert "6 drift records in %s" % drift_topic(e) in text, text
    assert h.metric_sum(e.metrics(w), "writeback_worker_drift_records_total", result="ok") == 6
    assert h.metric_sum(e.metrics(w), "writeback_worker_drift_records_total",
                        result="failed") == 0


def test_report_and_records():
    """drift report compares AD with Entra now: each kind of hand-made change is a difference
    (exit 1), in text and JSON, for every group or --group alone, paused groups marked, and
    the report writes nothing to AD; after the operator provisions the groups again it finds
    none (exit 0). The audit worker's drift records reach drift.topic and drift records lists
    them."""
    with h.E2E("0910-drift-report") as e:
        us, gs, w, ad = start(e, "audit", drift__topic=drift_topic(e))
        r = ctl_run(e, "drift", "report")
        assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
        assert "4 groups compared with Entra" in r.stdout and "0 differ," in r.stdout, r.stdout

        for kind, gid, ldif in hand_changes(e, us, gs, ad):
            e.ldap.modify(ldif)
            h.wait_for(lambda: drift_lines(w, kind, gid), 15, "a %s drift line" % kind, 0.3)
        ctl(e, "drift", "pause", "--group", gs["b"]["id"], "--for", "1h")
        time.sleep(1)
        before = ad_changes(e)
        r = ctl_run(e, "drift", "report", "--json")
        assert r.returncode == 1, (r.returncode, r.stderr[-2000:])
        check_report(e, us, gs, json.loads(r.stdout))
        assert ad_changes(e) == before, "drift report wrote to AD"
        h.log("drift report of 4 groups (4 differing) took %.2f s" % r.seconds)
        r = ctl_run(e, "drift", "report")
        assert r.returncode == 1, r.stderr[-2000:]
        for want in ("4 groups compared with Entra", "4 differ,", "missing in AD (deleted there)",
                     "[paused until ", "to do: add 1 member to ", "to do: remove 1 member from ",
                     "to do: modify description on "):
            assert want in r.stdout, (want, r.stdout)
        r = ctl_run(e, "drift", "report", "--group", gs["a"]["id"].upper(), "--json")
        doc = json.loads(r.stdout)
        assert r.returncode == 1 and [g["group"] for g in doc["groups"]] == [gs["a"]["id"]], doc
        r = ctl_run(e, "drift", "report", "--group", h.new_id(), "--json")
        doc = json.loads(r.stdout)
        assert r.returncode == 0 and doc["groups"][0]["state"] == "absent", doc
        assert ad_changes(e) == before, "drift report wrote to AD"

        check_records(e, us, gs, w)

        # the operator brings every group back in line from Entra; then nothing differs
        ctl(e, "drift", "resume", "--group", gs["b"]["id"])
        for g in gs.values():
            ctl(e, "provision", "--group", g["id"])
        e.wait_converged(60)
        r = ctl_run(e, "drift", "report", "--json")
        doc = json.loads(r.stdout)
        assert r.returncode == 0 and doc["differing"] == 0 and doc["compared"] == 4, doc
        e.stop_all(check=True)


def edit_description(e, w, dn, gid, value):
    """Sets the description of dn by hand; returns the worker's DRIFT line for it."""
    e.ldap.modify("dn: %s\nchangetype: modify\nreplace: description\ndescription: %s\n"
                  % (dn, value))
    h.wait_for(lambda: drift_lines(w, "attribute", gid), 15, "the drift of %s" % gid, 0.3)
    return drift_lines(w, "attribute", gid)[0]


def test_pause():
    """Break-glass: a paused group's hand-made change is reported (action=paused) and kept;
    after resume the next change is repaired again."""
    with h.E2E("0910-drift-pause") as e:
        us, gs, w, ad = start(e, "repair")
        a = ad["anchored"][gs["a"]["id"]]
        out = ctl(e, "drift", "pause", "--group", gs["a"]["id"].upper(), "--for", "2h")
        assert "paused until" in out, out
        listed = ctl(e, "drift", "list")
        assert gs["a"]["id"] in listed, listed
        assert gs["b"]["id"] not in listed
        e.ldap.modify("dn: %s\nchangetype: modify\nadd: member\nmember: %s\n"
                      % (a["dn"], us[3]["dn"]))
        h.wait_for(lambda: drift_lines(w, "member_add", gs["a"]["id"]), 15,
                   "the paused group's drift line", 0.3)
        ln = drift_lines(w, "member_add", gs["a"]["id"])[0]
        assert "action=paused" in ln, ln
        # an unpaused group is still repaired meanwhile
        ln = edit_description(e, w, ad["anchored"][gs["b"]["id"]]["dn"], gs["b"]["id"], "x")
        assert "action=repair" in ln, ln
        time.sleep(2)
        now = e.ad()["anchored"]
        assert us[3]["guid"] in {m[0] for m in now[gs["a"]["id"]]["members"]}, \
            "the paused group's emergency change was reverted"
        assert now[gs["b"]["id"]]["description"] == "bee", now[gs["b"]["id"]]
        assert h.metric_sum(e.metrics(w), "writeback_worker_drift_repairs_total") == 1

        ctl(e, "drift", "resume", "--group", gs["a"]["id"])
        assert gs["a"]["id"] not in ctl(e, "drift", "list")
        ln = edit_description(e, w, a["dn"], gs["a"]["id"], "y")
        assert "action=repair" in ln, ln
        h.wait_for(lambda: e.ad()["anchored"][gs["a"]["id"]]["description"] == "first", 15,
                   "A's description repaired", 0.3)
        e.stop_all(check=True)


def test_restart_two_workers():
    """Workers restarted after the sync write nothing, so every baseline comes from the groups
    found in AD at assignment: each worker takes exactly the groups of its partitions (the
    producer's murmur2 placement), and each hand-made change is reported once, by its owner."""
    with h.E2E("0910-drift-owners") as e:
        us = e.create_users(2)
        uid = [u["oid"] for u in us]
        gs = [h.seed_group("Owner %d" % p, "d%d" % p, [uid[0]],
                           gid=h.id_in_partition(e.partitions, want=p))
              for p in range(e.partitions)]
        e.start_sim([h.synced_user(u) for u in us], gs)
        e.start_producer()
        keys = dict(drift__mode="audit", drift__interval_ms=300)
        ws = [e.start_worker(n, **keys) for n in ("w1", "w2")]
        _, ad = e.wait_converged(90)
        for w in ws:
            w.stop(30)
        ws = [e.start_worker(n, **keys) for n in ("w1", "w2")]
        def split():
            ms = [e.metrics(w) for w in ws]
            return all(h.metric_sum(m, "writeback_worker_assigned_partitions") == 2 and
                       h.metric_sum(m, "writeback_worker_drift_watched_groups") == 2
                       for m in ms)
        # one group per partition: two partitions and two baselines each once the rebalance
        # is over (a worker that had all four first forgets those it gave away)
        h.wait_for(split, 90, "baselines of every group, split between the workers", 0.5)
        time.sleep(1.5)
        for g in gs:
            e.ldap.modify("dn: %s\nchangetype: modify\nadd: member\nmember: %s\n"
                          % (ad["anchored"][g["id"]]["dn"], us[1]["dn"]))
        for g in gs:
            h.wait_for(lambda: any(drift_lines(w, "member_add", g["id"]) for w in ws), 15,
                       "the drift of %s" % g["id"], 0.3)
        time.sleep(1)
        for g in gs:
            lines = [ln for w in ws for ln in drift_lines(w, "member_add", g["id"])]
            assert len(lines) == 1, lines
            want = h.partition_of(g["id"], e.partitions)
            assert "partition=%d " % want in lines[0], (want, lines[0])
        per_worker = [len(drift_lines(w)) for w in ws]
        assert all(n > 0 for n in per_worker), per_worker
        e.stop_all(check=True)


def test_dry_run_never_repairs():
    """worker.dry_run promises no AD write: drift.mode=repair then only reports. The group is
    one a worker made earlier (found in AD at assignment); the dry-run worker writes nothing."""
    with h.E2E("0910-drift-dry") as e:
        us, gs, w, ad = start(e, "audit")
        w.stop(30)
        w = e.start_worker("w1", drift__mode="repair", drift__interval_ms=300,
                           worker__dry_run=True)
        wait_watched(e, w, 4)
        ln = edit_description(e, w, ad["anchored"][gs["a"]["id"]]["dn"], gs["a"]["id"], "z")
        assert "action=audit" in ln, ln
        time.sleep(2)
        assert e.ad()["anchored"][gs["a"]["id"]]["description"] == "z"
        assert "drift.mode=repair only reports" in w.log_text()
        e.stop_all(check=True)


def test_records_undelivered():
    """A drift record the broker refuses (the internal topic __consumer_offsets takes no
    client writes) is logged with the group and counted as failed; the DRIFT line is written
    and the watch goes on."""
    with h.E2E("0910-drift-records-fail") as e:
        us, gs, w, ad = start(e, "audit", drift__topic="__consumer_offsets")
        a = ad["anchored"][gs["a"]["id"]]
        edit_description(e, w, a["dn"], gs["a"]["id"], "x")
        h.wait_for(lambda: h.metric_sum(e.metrics(w), "writeback_worker_drift_records_total",
                                        result="failed") == 1, 40, "the failed record", 0.5)
        assert "drift record of group %s not delivered to topic __consumer_offsets" \
            % gs["a"]["id"] in w.log_text(), w.tail(20)
        assert h.metric_sum(e.metrics(w), "writeback_worker_drift_records_total",
                            result="ok") == 0
        ln = edit_description(e, w, ad["anchored"][gs["b"]["id"]]["dn"], gs["b"]["id"], "y")
        assert "action=audit" in ln, ln
        e.stop_all(check=True)


def initial_sync_requests(mode):
    with h.E2E("0910-drift-graph-" + mode) as e:
        world(e)
        # one Graph round only: the count is the initial sync's
        e.start_producer(graph__poll_interval_ms=600000)
        w = e.start_worker("w1", drift__mode=mode, drift__interval_ms=300)
        e.wait_converged(90)
        if mode != "off":
            wait_watched(e, w, 4)
        else:
            time.sleep(2)
        total = e.sim.req("GET", "stats")["total"]
        e.stop_all(check=True)
        return total


def test_graph_requests_equal():
    off = initial_sync_requests("off")
    on = initial_sync_requests("audit")
    h.log("Graph requests of the initial sync: watch off %d, watch on %d" % (off, on))
    assert off == on and off > 0, (off, on)


if __name__ == "__main__":
    h.run([test_audit, test_repair, test_report_and_records, test_records_undelivered,
           test_pause, test_restart_two_workers, test_dry_run_never_repairs,
           test_graph_requests_equal])
