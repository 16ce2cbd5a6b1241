#!/usr/bin/env python3
"""0210 producer with a real Kafka broker and the Graph simulator: the initial sync and
incremental rounds after admin changes reach a read_committed consumer exactly as the
simulator expects; 410 and syncStateNotFound lead to a full resync with deletes of vanished
groups; nested groups entering and leaving scope reach their parents (edges kept in the
checkpoint); the delete threshold stages deletions until an allowDeletes command; kill -9 in the
middle of a round loses nothing and publishes no round twice; a second producer with the same
transactional.id fences the first; the metrics endpoint reports rounds."""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import harness as h  # noqa: E402
lib = h.load_test("unit/0202-producer-dryrun.py")
check = lib.check


class Setup:
    def __init__(self, wd, sim, extra=None):
        tag = uuid.uuid4().hex[:8]
        self.tenant = "t0210" + tag
        self.events = "wbt0210.%s.groups" % tag
        self.state = "wbt0210.%s.state" % tag
        conf = {"tenant": self.tenant, "topic.events": self.events,
                "topic.dlq": "wbt0210.%s.dlq" % tag, "topic.state": self.state,
                "topic.partitions": "3", "graph.poll_interval_ms": "1000"}
        conf.update(extra or {})
        self.conf = lib.write_conf(wd, sim, conf, name="p-%s.conf" % tag)
        self.sim = sim

    def events_by_round(self):
        recs = lib.dump_topic(self.events)
        evs = [json.loads(r["v"]) for r in recs]
        return evs

    def checkpoint(self):
        recs = lib.dump_topic(self.state)
        last = None
        for r in recs:
            if r["k"] == self.tenant + "/checkpoint":
                last = json.loads(r["v"])
        return last

    def put_command(self, value):
        p = subprocess.run([lib.DUMP, "--put", os.environ["WB_TEST_KAFKA_BOOTSTRAP"], self.state,
                            self.tenant + "/command", json.dumps(value)], capture_output=True,
                           text=True, timeout=60)
        return p.returncode == 0


def round_no(e):
    return int(e["round"].rsplit("-", 1)[1])


def latest(evs):
    """Events of the latest round (the dump is ordered by partition, not by time)."""
    top = max(round_no(e) for e in evs)
    return [e for e in evs if round_no(e) == top]


def no_duplicates(evs):
    seen = set()
    for e in evs:
        k = (e["round"], e["group"], e["type"], e.get("chunk"))
        if k in seen:
            return False
        seen.add(k)
    return True


def in_scope_ids(sim):
    return [g["objectId"] for g in sim.call("GET", "expected")["groups"]]


def synced_user(sim):
    return sim.call("POST", "users", {"displayName": "New synced %s" % uuid.uuid4().hex[:6],
                                      "synced": True})["id"]


def test_rounds(wd):
    sim = lib.Sim(wd, "--users", "60", "--groups", "25", "--members", "400", "--page-size", "5",
                  "--page-members", "30", "--nested-share", "0.15")
    try:
        s = Setup(wd, sim)
        rc, out, err = lib.run_producer(s.conf, "--once")
        check(rc == 0, "initial round via Kafka exits 0 %s" % err[-300:])
        evs = s.events_by_round()
        problems, exp = lib.check_against_expected(sim, lib.fold(evs))
        check(not problems and evs, "initial sync: committed events equal the expectation %s"
              % problems[:3])
        ck = s.checkpoint()
        check(ck and ck["round"] == 1 and ck["inScopeCount"] == exp["count"] and
              ck["deltaLink"], "checkpoint: round 1, in-scope set, deltaLink")

        # admin changes
        ids = in_scope_ids(sim)
        out_ids = exp["outOfScope"]
        u_new = synced_user(sim)
        u_cloud = sim.call("POST", "users", {"displayName": "cloud only"})["id"]
        g_members = ids[0]
        sim.call("POST", "groups/%s/members" % g_members, {"add": [u_new, u_cloud]})
        first = sim.call("GET", "groups/" + ids[1])["members"]
        if first:
            sim.call("POST", "groups/%s/members" % ids[1], {"remove": [first[0]["id"]]})
        sim.call("PATCH", "groups/" + ids[2], {"displayName": "Renamed group"})
        sim.call("DELETE", "groups/" + ids[3])
        sim.call("PATCH", "groups/" + ids[4], {"mailEnabled": True})
        newg = sim.call("POST", "groups", {"displayName": "Brand new", "securityEnabled": True,
                                           "mailEnabled": False, "members": [u_new]})["id"]
        enter = out_ids[0]
        sim.call("PATCH", "groups/" + enter, {"securityEnabled": True, "mailEnabled": False,
                                              "onPremisesSyncEnabled": None, "groupTypes": []})
        rc, out, err = lib.run_producer(s.conf, "--once")
        check(rc == 0, "incremental round exits 0")
        evs = s.events_by_round()
        r2 = [e for e in evs if round_no(e) == 2]
        types = {}
        for e in r2:
            types.setdefault(e["group"], []).append(e["type"])
        # a restarted producer does not know the last attributes it sent, so an upsert may
        # come along (idempotent). Each --once round is a restart, and u_new was created while
        # the producer was down: its groups go out as whole member lists (docs/graph-sync.md,
        # users changed while the producer was down), so g_members may come as a snapshot.
        check("group.members" in types.get(g_members, []) or
              "group.snapshot" in types.get(g_members, []), "member add -> group.members")
        check("group.upsert" in types.get(ids[2], []) and "group.snapshot" not in
              types.get(ids[2], []), "rename -> group.upsert only")
        check(types.get(ids[3]) == ["group.delete"], "deleted group -> group.delete")
        check(types.get(ids[4]) == ["group.unscoped"], "mail-enabled -> group.unscoped")
        check(types.get(newg) == ["group.upsert", "group.snapshot"], "new group -> snapshot")
        check(types.get(enter) == ["group.upsert", "group.snapshot"],
              "group entering scope -> upsert + full member snapshot")
        add = [m for e in r2 if e["group"] == g_members for m in e.get("add", [])]
        snap = [m for e in r2 if e["group"] == g_members and e["type"] == "group.snapshot"
                for m in e.get("members", [])]
        sent = [m for m in add + snap if m["id"] in (u_new, u_cloud)]
        check([m["id"] for m in sent] == [u_new] and sent[0].get("sid"),
              "cloud-only member dropped, synced member carries its SID")
        problems, exp = lib.check_against_expected(sim, lib.fold(evs))
        check(not problems, "after round 2 the folded state equals the expectation %s"
              % problems[:3])
        check(no_duplicates(evs), "no event twice")

        # nothing changed: an empty round still commits its checkpoint
        rc, out, err = lib.run_producer(s.conf, "--once")
        n_before = len(evs)
        evs = s.events_by_round()
        check(rc == 0 and len(evs) == n_before and s.checkpoint()["round"] == 3,
              "idle round: no events, checkpoint advanced")

        # 410 Gone: full resync, snapshots for all, delete for a group that vanished
        gone = in_scope_ids(sim)[0]
        sim.call("DELETE", "groups/" + gone)
        sim.call("POST", "deltatokens/invalidate", {"mode": "410"})
        rc, out, err = lib.run_producer(s.conf, "--once")
        evs = s.events_by_round()
        last = latest(evs)
        exp = sim.call("GET", "expected")
        snap_groups = set(e["group"] for e in last if e["type"] == "group.snapshot")
        check(rc == 0 and "full resync" in err, "410: full resync logged")
        check(snap_groups == set(g["objectId"] for g in exp["groups"]),
              "410: a snapshot for every in-scope group")
        check([e["type"] for e in last if e["group"] == gone] == ["group.delete"],
              "410: the vanished group is deleted")
        problems, _ = lib.check_against_expected(sim, lib.fold(evs))
        check(not problems, "after the resync the state equals the expectation")

        sim.call("POST", "deltatokens/invalidate", {"mode": "sync_state_not_found"})
        rc, out, err = lib.run_producer(s.conf, "--once")
        check(rc == 0 and "syncStateNotFound" in err, "syncStateNotFound: full resync")

        # resync command
        check(s.put_command({"v": 1, "resync": True}), "command written")
        rc, out, err = lib.run_producer(s.conf, "--once")
        evs2 = s.events_by_round()
        last = latest(evs2)
        check(rc == 0 and "full resync" in err and
              sum(e["type"] == "group.snapshot" for e in last) >= exp["count"],
              "resync command: snapshots again")
        rc, out, err = lib.run_producer(s.conf, "--once")
        check(rc == 0 and "full resync" not in err, "the command is applied once")
    finally:
        sim.stop()


def test_threshold(wd):
    sim = lib.Sim(wd, "--users", "30", "--groups", "20", "--members", "100",
                  "--out-of-scope-share", "0")
    try:
        s = Setup(wd, sim, {"graph.delete_threshold": "2"})
        rc, out, err = lib.run_producer(s.conf, "--once")
        check(rc == 0, "threshold: initial round")
        ids = in_scope_ids(sim)
        for gid in ids[:3]:
            sim.call("DELETE", "groups/" + gid)
        def deletes():
            return [e["group"] for e in s.events_by_round() if e["type"] == "group.delete"]

        rc, out, err = lib.run_producer(s.conf, "--once")
        ck = s.checkpoint()
        check(rc == 0 and deletes() == [] and "delete_threshold" in err,
              "3 deletes > threshold 2: no delete emitted, clear log")
        check(sorted(ck["stagedDeletes"]) == sorted(ids[:3]), "deletions staged in checkpoint")
        rc, out, err = lib.run_producer(s.conf, "--once")
        check(rc == 0 and deletes() == [], "staged deletes stay staged")
        check(s.put_command({"v": 1, "allowDeletes": ids[:1]}), "allow one")
        rc, out, err = lib.run_producer(s.conf, "--once")
        check(deletes() == [ids[0]], "allowDeletes [id]: exactly that delete emitted")
        check(s.put_command({"v": 1, "allowDeletes": "all"}), "allow all")
        rc, out, err = lib.run_producer(s.conf, "--once")
        evs = s.events_by_round()
        check(sorted(deletes()) == sorted(ids[:3]) and s.checkpoint()["stagedDeletes"] == [],
              "allowDeletes all: the rest emitted, nothing staged")
        problems, _ = lib.check_against_expected(sim, lib.fold(evs))
        check(not problems, "threshold: final state equals the expectation")
    finally:
        sim.stop()


def member_ops(evs, gid):
    """(added group ids, removed group ids) of gid's group.members events in evs."""
    add = set(m["id"] for e in evs if e["group"] == gid and e["type"] == "group.members"
              for m in e.get("add", []) if m["kind"] == "group")
    rem = set(m["id"] for e in evs if e["group"] == gid and e["type"] == "group.members"
              for m in e.get("remove", []) if m["kind"] == "group")
    return add, rem


def snapshot_groups(evs, gid):
    return set(m["id"] for e in evs if e["group"] == gid and e["type"] == "group.snapshot"
               for m in e["members"] if m["kind"] == "group")


def test_nested(wd):
    """Nested groups whose scope changes while their parents' Graph membership does not: the
    edges kept per in-scope parent in the checkpoint (also for out-of-scope children) carry a
    child entering scope into its parents and a child leaving scope out of them; a deleted
    child leaves its parents; a parent entering scope lists its in-scope children. Rounds
    1-5 restart the producer (--once: edges read back from topic.state), round 6 runs in one
    long-lived producer (edges kept in memory)."""
    sim = lib.Sim(wd, "--users", "10", "--groups", "2", "--members", "10",
                  "--out-of-scope-share", "0")
    try:
        s = Setup(wd, sim)
        u1, u2 = synced_user(sim), synced_user(sim)

        def group(name, members, **props):
            d = {"displayName": name, "securityEnabled": True, "mailEnabled": False,
                 "members": members}
            d.update(props)
            return sim.call("POST", "groups", d)["id"]

        c_out = group("Nested child, mail-enabled", [u1], mailEnabled=True)
        c_in = group("Nested child in scope", [u2])
        c_del = group("Nested child to delete", [u1])
        p1 = group("Parent one", [c_out, c_in, c_del, u1])
        p2 = group("Parent two", [c_out])
        p_out = group("Parent out of scope", [c_in, c_out, u2], mailEnabled=True)

        def round_ok(what):
            rc, out, err = lib.run_producer(s.conf, "--once")
            check(rc == 0, "nested: %s: round exits 0 %s" % (what, err[-300:]))
            evs = s.events_by_round()
            problems, _ = lib.check_against_expected(sim, lib.fold(evs))
            check(not problems, "nested: %s: folded state equals the expectation %s"
                  % (what, problems[:3]))
            check(no_duplicates(evs), "nested: %s: no event twice" % what)
            return latest(evs)

        last = round_ok("initial sync")
        check(snapshot_groups(last, p1) == {c_in, c_del} and snapshot_groups(last, p2) == set(),
              "nested: the out-of-scope child is not in its parents' snapshots")
        edges = set(s.checkpoint().get("nested", []))
        check({"%s/%s" % (p1, c_out), "%s/%s" % (p2, c_out)} <= edges and
              not any(e.startswith(p_out) for e in edges),
              "nested: checkpoint keeps the edges of out-of-scope children of in-scope parents")

        sim.call("PATCH", "groups/" + c_out, {"mailEnabled": False})
        last = round_ok("child enters scope")
        check([e["type"] for e in last if e["group"] == c_out] ==
              ["group.upsert", "group.snapshot"], "nested: the entering child gets a snapshot")
        check(member_ops(last, p1) == ({c_out}, set()) and
              member_ops(last, p2) == ({c_out}, set()),
              "nested: a child entering scope is added to every in-scope parent")

        sim.call("PATCH", "groups/" + c_out, {"mailEnabled": True})
        last = round_ok("child leaves scope")
        check([e["type"] for e in last if e["group"] == c_out] == ["group.unscoped"],
              "nested: the leaving child is unscoped")
        check(member_ops(last, p1) == (set(), {c_out}) and
              member_ops(last, p2) == (set(), {c_out}),
              "nested: a child leaving scope is removed from every in-scope parent")

        sim.call("DELETE", "groups/" + c_del)
        last = round_ok("child deleted")
        check([e["type"] for e in last if e["group"] == c_del] == ["group.delete"] and
              member_ops(last, p1) == (set(), {c_del}),
              "nested: a deleted child is removed from its parent")
        check("%s/%s" % (p1, c_del) not in s.checkpoint().get("nested", []),
              "nested: the deleted child's edge is gone from the checkpoint")

        sim.call("PATCH", "groups/" + p_out, {"mailEnabled": False})
        last = round_ok("parent enters scope")
        check(snapshot_groups(last, p_out) == {c_in},
              "nested: a parent entering scope lists its in-scope children only")
        check("%s/%s" % (p_out, c_out) in s.checkpoint().get("nested", []),
              "nested: the entering parent's out-of-scope child edge is recorded")

        # round 6 in a long-lived producer: the child enters scope again, reaching all three
        # parents, including the one that entered scope in round 5
        n_before = len(s.events_by_round())
        c = subprocess.Popen([lib.PRODUCER, "-c", s.conf], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(3)
            sim.call("PATCH", "groups/" + c_out, {"mailEnabled": False})
            t0 = time.time()
            evs = s.events_by_round()
            while time.time() - t0 < 60 and not any(
                    e["group"] == c_out and e["type"] == "group.snapshot"
                    for e in evs[n_before:]):
                time.sleep(1)
                evs = s.events_by_round()
        finally:
            c.send_signal(signal.SIGTERM)
            try:
                _, err = c.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                c.kill()
                _, err = c.communicate()
        check(c.returncode == 0, "nested: long-lived producer exits 0 on SIGTERM %s"
              % err[-300:])
        last = latest(evs)
        check(all(member_ops(last, p) == ({c_out}, set()) for p in (p1, p2, p_out)),
              "nested: in a running producer the child re-entering scope reaches every parent")
        problems, _ = lib.check_against_expected(sim, lib.fold(evs))
        check(not problems, "nested: final folded state equals the expectation %s"
              % problems[:3])
    finally:
        sim.stop()


def test_kill9(wd):
    sim = lib.Sim(wd, "--users", "80", "--groups", "30", "--members", "500",
                  "--out-of-scope-share", "0")
    try:
        s = Setup(wd, sim, {"producer.member_chunk": "5"})
        # killed during the initial round
        rc, out, err = lib.run_producer(s.conf, "--once",
                                        env={"WB_PRODUCER_TEST_KILL_AFTER": "20"})
        check(rc == -signal.SIGKILL, "kill -9 during the initial round (rc %s)" % rc)
        evs = s.events_by_round()
        check(evs == [] and s.checkpoint() is None,
              "read_committed sees nothing of the killed round")
        rc, out, err = lib.run_producer(s.conf, "--once")
        evs = s.events_by_round()
        problems, _ = lib.check_against_expected(sim, lib.fold(evs))
        check(rc == 0 and not problems and len(set(e["round"] for e in evs)) == 1,
              "restart: the round is published once, completely")
        # killed during an incremental round
        users = [synced_user(sim) for _ in range(3)]
        for gid in in_scope_ids(sim)[:12]:
            sim.call("POST", "groups/%s/members" % gid, {"add": users})
        n0 = len(evs)
        old_rounds = set(e["round"] for e in evs)
        rc, out, err = lib.run_producer(s.conf, "--once",
                                        env={"WB_PRODUCER_TEST_KILL_AFTER": "6"})
        check(rc == -signal.SIGKILL, "kill -9 during an incremental round")
        check(len(s.events_by_round()) == n0, "nothing of the killed incremental round visible")
        rc, out, err = lib.run_producer(s.conf, "--once")
        evs = s.events_by_round()
        new = [e for e in evs if e["round"] not in old_rounds]
        rounds = [e["round"] for e in new]
        problems, _ = lib.check_against_expected(sim, lib.fold(evs))
        # the three users were created while the producer was down: their groups may go out
        # as whole member lists (see above)
        changed = set(e["group"] for e in new if e["type"] in ("group.members",
                                                               "group.snapshot"))
        check(rc == 0 and not problems and len(set(rounds)) == 1 and len(changed) == 12 and
              no_duplicates(evs),
              "restart: every change once, in one round (%d events, %d groups, %d rounds, %s)"
              % (len(new), len(changed), len(set(rounds)), problems[:2]))
    finally:
        sim.stop()


def free_port():
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def test_fencing(wd):
    sim = lib.Sim(wd, "--users", "20", "--groups", "8", "--members", "40")
    try:
        port = free_port()
        s = Setup(wd, sim, {"producer.metrics_listen": "127.0.0.1:%d" % port})
        elog = open(os.path.join(wd, "a.err"), "w")
        a = subprocess.Popen([lib.PRODUCER, "-c", s.conf], stdout=subprocess.DEVNULL,
                             stderr=elog)
        t0 = time.time()
        while time.time() - t0 < 60:
            with open(os.path.join(wd, "a.err")) as f:
                if "committed" in f.read():
                    break
            time.sleep(0.2)
        metrics = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) \
            .read().decode()
        check('writeback_producer_rounds_total{result="full"} 1' in metrics and
              "writeback_producer_events_total" in metrics and
              "writeback_producer_graph_requests_total" in metrics,
              "metrics endpoint reports rounds, events, requests")
        health = urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=10)
        check(health.status == 200, "/healthz 200")
        # B takes over the transactional.id
        rc, out, err = lib.run_producer(s.conf, "--once", "-X", "producer.metrics_listen=")
        check(rc == 0, "producer B with the same transactional.id runs a round")
        try:
            arc = a.wait(30)
        except subprocess.TimeoutExpired:
            a.kill()
            arc = None
        elog.close()
        with open(os.path.join(wd, "a.err")) as f:
            alog = f.read()
        check(arc == 1 and "fenced" in alog, "producer A is fenced and exits 1 (rc %s)" % arc)
        evs = s.events_by_round()
        check(no_duplicates(evs), "fencing: no event twice")

        # SIGTERM stops a running producer cleanly
        c = subprocess.Popen([lib.PRODUCER, "-c", s.conf, "-X", "producer.metrics_listen="],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(3)
        c.send_signal(signal.SIGTERM)
        try:
            crc = c.wait(30)
        except subprocess.TimeoutExpired:
            c.kill()
            crc = None
        check(crc == 0, "SIGTERM: exit 0")
    finally:
        sim.stop()


def main():
    h.require([lib.PRODUCER, lib.DUMP], ["WB_TEST_KAFKA_BOOTSTRAP"])
    with tempfile.TemporaryDirectory(prefix="wb0210-") as wd:
        test_rounds(wd)
        test_threshold(wd)
        test_nested(wd)
        test_kill9(wd)
        test_fencing(wd)
    print("%d failure(s)" % len(lib.FAILURES))
    return 1 if lib.FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
