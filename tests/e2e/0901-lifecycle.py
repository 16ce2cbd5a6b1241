#!/usr/bin/env python3
"""End-to-end lifecycle of cloud security groups through the real producer and worker: create,
rename, description change, member add and remove, nested groups (child in scope, child out of
scope, child entering scope later), cloud-only members skipped, delete, and leaving scope under
both worker.out_of_scope policies. After each change AD must equal the simulator's expected
state."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

TIMEOUT = 90   # first convergence includes start-up of both programs


def check_clean_exit(e, worker):
    """No dead letters, then every process stops with status 0 and no sanitizer report."""
    m = e.metrics(worker)
    dl = h.metric_sum(m, "writeback_worker_dead_letters_total")
    assert dl == 0, "unexpected dead letters: %s" % dl
    e.stop_all(check=True)
    assert e.dlq(idle_ms=2000) == [], "the DLQ topic is not empty"


def test_lifecycle():
    with h.E2E("0901-lifecycle") as e:
        us = e.create_users(8)
        cloud = [h.cloud_user(i) for i in range(2)]
        sim_users = [h.synced_user(u) for u in us] + cloud
        uid = [u["oid"] for u in us]
        alpha = h.seed_group("Lifecycle Alpha", "First description", [uid[0], uid[1]])
        beta = h.seed_group("Lifecycle Beta", "Beta text", [uid[2], cloud[0]["id"],
                                                            cloud[1]["id"]])
        # parent and children on different partitions (the same-partition case has its own
        # test below)
        pid = h.id_in_partition(e.partitions, want=0)
        child = h.seed_group("Nested Child", None, [uid[3]],
                             gid=h.id_in_partition(e.partitions, want=1))
        outside = h.seed_group("Mail-enabled child", None, [uid[5]], mailEnabled=True,
                               gid=h.id_in_partition(e.partitions, want=2))
        parent = h.seed_group("Nested Parent", "parent", [child["id"], outside["id"], uid[4]],
                              gid=pid)
        doomed = h.seed_group("To be deleted", None, [uid[6]])
        leaving = h.seed_group("Leaves scope", None, [uid[7]])
        empty = h.seed_group("Empty group", "no members")
        e.start_sim(sim_users, [alpha, beta, child, outside, parent, doomed, leaving, empty])
        e.start_producer()
        w = e.start_worker("w1")

        # create (nested: in-scope child is a member, out-of-scope child is not; cloud-only
        # users are skipped)
        exp, ad = e.wait_converged(TIMEOUT)
        assert exp["count"] == 7, exp["count"]
        assert outside["id"] not in ad["anchored"]
        assert len(ad["anchored"][beta["id"]]["members"]) == 1
        assert len(ad["anchored"][parent["id"]]["members"]) == 2
        assert ad["anchored"][empty["id"]]["member_count"] == 0
        guid_alpha = ad["anchored"][alpha["id"]]["guid"]

        # rename: same object (modrdn), new cn and displayName
        e.sim.update_group(alpha["id"], displayName="Lifecycle Alpha Renamed")
        exp, ad = e.wait_converged(30)
        a = ad["anchored"][alpha["id"]]
        assert a["guid"] == guid_alpha, "rename recreated the group instead of renaming it"
        assert a["cn"].startswith("Lifecycle Alpha Renamed_"), a["cn"]

        # description change, and a description removed
        e.sim.update_group(alpha["id"], description="Second description")
        e.sim.update_group(beta["id"], description=None)
        exp, ad = e.wait_converged(30)
        assert ad["anchored"][beta["id"]]["description"] is None

        # members: add and remove in one change, and a cloud-only user added (skipped)
        e.sim.members(alpha["id"], add=[uid[6], uid[7], cloud[0]["id"]], remove=[uid[0]])
        exp, ad = e.wait_converged(30)
        assert len(ad["anchored"][alpha["id"]]["members"]) == 3
        e.sim.members(alpha["id"], remove=[uid[1], uid[6], uid[7]])
        e.sim.members(empty["id"], add=[uid[0]])
        exp, ad = e.wait_converged(30)
        assert ad["anchored"][alpha["id"]]["member_count"] == 0

        # nested: the in-scope child is removed from its parent
        e.sim.members(parent["id"], remove=[child["id"]])
        exp, ad = e.wait_converged(30)
        assert len(ad["anchored"][parent["id"]]["members"]) == 1

        # delete
        e.sim.delete_group(doomed["id"])
        exp, ad = e.wait_converged(30)
        assert doomed["id"] not in ad["anchored"]

        # leaving scope with worker.out_of_scope=delete (the default): the group is deleted
        e.sim.update_group(leaving["id"], mailEnabled=True)
        exp, ad = e.wait_converged(30)
        assert leaving["id"] not in ad["anchored"]
        assert not any("Leaves scope" in (g["cn"] or "") for g in ad["unanchored"])

        # nested, last as the most demanding step: the out-of-scope child enters scope, so
        # it is created and becomes a member of its parent (whose Graph membership did not
        # change)
        e.sim.update_group(outside["id"], mailEnabled=False)
        exp, ad = e.wait_converged(30)
        assert outside["id"] in ad["anchored"]
        assert len(ad["anchored"][parent["id"]]["members"]) == 2

        m = e.metrics(w)
        assert h.metric_sum(m, "writeback_worker_ldap_writes_total") > 0
        check_clean_exit(e, w)


def test_nested_same_partition():
    """Parent and child groups created in one round whose events share a partition: the
    child's creation comes after the parent's member event in some order, whichever order the
    producer emits them (two pairs in opposite seed and id orders)."""
    with h.E2E("0901-nested") as e:
        us = e.create_users(2)
        ids = sorted(h.id_in_partition(e.partitions, want=3) for _ in range(4))
        # pair 1: child id < parent id, child first in the seed; pair 2: the reverse
        c1 = h.seed_group("Child one", None, [us[0]["oid"]], gid=ids[0])
        p1 = h.seed_group("Parent one", None, [ids[0], us[1]["oid"]], gid=ids[1])
        c2 = h.seed_group("Child two", None, [us[1]["oid"]], gid=ids[3])
        p2 = h.seed_group("Parent two", None, [ids[3]], gid=ids[2])
        e.start_sim([h.synced_user(u) for u in us], [c1, p1, p2, c2])
        e.start_producer()
        w = e.start_worker("w1")
        e.wait_converged(TIMEOUT)
        check_clean_exit(e, w)


def test_unscoped_keep():
    with h.E2E("0901-keep") as e:
        us = e.create_users(3)
        kept = h.seed_group("Kept after leaving scope", "kept", [us[0]["oid"], us[1]["oid"]])
        other = h.seed_group("Stays in scope", None, [us[2]["oid"]])
        e.start_sim([h.synced_user(u) for u in us], [kept, other])
        e.start_producer()
        w = e.start_worker("w1", worker__out_of_scope="keep")
        exp, ad = e.wait_converged(TIMEOUT)
        before = ad["anchored"][kept["id"]]

        # leaves scope: AD keeps it as it was (no write to it at all)
        e.sim.update_group(kept["id"], mailEnabled=True)
        e.sim.update_group(other["id"], description="moved on")   # a marker that flowed
        exp, ad = e.wait_converged(30, allow_extra=[kept["id"]], settle=3)
        assert kept["id"] not in [g["objectId"] for g in exp["groups"]]
        after = ad["anchored"].get(kept["id"])
        assert after is not None, "worker.out_of_scope=keep deleted the group"
        for k in ("dn", "guid", "usnchanged", "description"):
            assert after[k] == before[k], "%s changed: %r -> %r" % (k, before[k], after[k])
        assert {m[1] for m in after["members"]} == {us[0]["sid"], us[1]["sid"]}

        # later changes to the released group in Entra do not reach AD
        e.sim.update_group(kept["id"], displayName="Renamed while out of scope")
        e.sim.update_group(other["id"], description="moved on again")
        exp, ad = e.wait_converged(30, allow_extra=[kept["id"]], settle=3)
        assert ad["anchored"][kept["id"]]["usnchanged"] == before["usnchanged"]
        check_clean_exit(e, w)


if __name__ == "__main__":
    h.run([test_lifecycle, test_nested_same_partition, test_unscoped_keep])
