#!/usr/bin/env python3
"""End-to-end replay and crash: replaying the whole converged topic from the earliest offset
(a new consumer group) performs zero LDAP writes and changes nothing in AD; a replay that
starts between a group's member change and its deletion or leaving scope (what the redelivery after a crash
between the writes and the offset commit also does) dead-letters nothing; `kill -9` of one of
two workers in the middle of the initial sync, after which the other takes its partitions over
and the final AD state is exact, with no dead letters."""

import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "kafka"))
import harness as h  # noqa: E402
from ctlrun import Ctl  # noqa: E402

# fast takeover of a killed worker's partitions (librdkafka's default session is 45 s)
FAST_GROUP = {"kafka__session.timeout.ms": 6000, "kafka__heartbeat.interval.ms": 1000}


def tenant(e, n_users, n_groups, max_members, seed):
    """n_groups groups of up to max_members synced users (a few cloud-only ones too) and
    some nested groups whose child lives on another partition than its parent."""
    rng = random.Random(seed)
    us = e.create_users(n_users)
    cloud = [h.cloud_user(i) for i in range(3)]
    groups = []
    for i in range(n_groups):
        k = rng.randint(0, max_members)
        mem = [u["oid"] for u in rng.sample(us, min(k, len(us)))]
        if i % 10 == 3:
            mem.append(cloud[i % 3]["id"])
        groups.append(h.seed_group("Replay group %04d" % i, "Group %d" % i, mem))
    # nesting: group j contains group j+1 when they sit on different partitions
    for j in range(0, n_groups - 1, 25):
        a, b = groups[j], groups[j + 1]
        if h.partition_of(a["id"], e.partitions) != h.partition_of(b["id"], e.partitions):
            a["members"].append(b["id"])
    return [h.synced_user(u) for u in us] + cloud, groups


def test_replay_zero_writes():
    with h.E2E("0904-replay") as e:
        users, groups = tenant(e, 40, 40, 30, seed=4)
        e.start_sim(users, groups)
        prod = e.start_producer()
        w1 = e.start_worker("w1")
        e.wait_converged(120)
        prod.stop()
        events = e.events()
        n_events = len(events)
        assert n_events >= len(groups), n_events
        e.wait_caught_up(events=events, timeout=60)
        w1.stop()
        before = e.ad()

        t0 = time.time()
        w2 = e.start_worker("replay", worker__group_id=e.group_id + "-replay")
        e.wait_caught_up(group=e.group_id + "-replay", events=events, timeout=120)
        m = e.metrics(w2)
        writes = h.metric_sum(m, "writeback_worker_ldap_writes_total")
        consumed = h.metric_sum(m, "writeback_worker_events_total")
        h.log("replay of %d events: %.1f s, %d LDAP writes, events_total %d" % (
            n_events, time.time() - t0, writes, consumed))
        assert consumed == n_events, "replay worker saw %d of %d events" % (consumed, n_events)
        assert writes == 0, "replay of a converged topic made %d LDAP writes" % writes
        after = e.ad()
        assert set(after["by_guid"]) == set(before["by_guid"])
        changed = [g["dn"] for guid, g in after["by_guid"].items()
                   if g["usnchanged"] != before["by_guid"][guid]["usnchanged"]]
        assert not changed, "replay changed %s" % changed[:5]
        assert h.metric_sum(m, "writeback_worker_dead_letters_total") == 0
        e.stop_all(check=True)


def replay_between_change_and_removal(how):
    """Found by the long soak: a worker killed after it had applied a member change and the
    group's removal (deleted, or out of scope with worker.out_of_scope=delete) but before its
    offset commit re-read the member change, found no group, waited for it and dead-lettered
    it as group_not_found. The removal later in the same partition makes the change moot.
    Here an operator replay starts at that member change, with the workers stopped: nothing
    may be dead-lettered."""
    with h.E2E("0904-replay-" + how) as e:
        users, groups = tenant(e, 20, 6, 8, seed=7)
        e.start_sim(users, groups)
        prod = e.start_producer()
        w1 = e.start_worker("w1")
        e.wait_converged(120)
        gid = groups[0]["id"]
        have = set(groups[0]["members"])
        add = [u["id"] for u in users if u.get("onPremisesSecurityIdentifier")
               and u["id"] not in have][:2]
        e.sim.members(gid, add=add)           # one round: the member change
        e.wait_converged(60)
        if how == "delete":                   # a later round: the removal
            e.sim.delete_group(gid)
        else:
            e.sim.update_group(gid, securityEnabled=False)
        e.wait_converged(60)
        prod.stop()
        events = e.events()
        mine = [r for r in events if r["json"] and r["json"].get("group", "").lower() ==
                gid.lower()]
        change = [r for r in mine if r["json"]["type"] == "group.members"]
        last = "group.delete" if how == "delete" else "group.unscoped"
        assert change and mine[-1]["json"]["type"] == last, [r["json"]["type"] for r in mine]
        at = change[-1]
        e.wait_caught_up(events=events, timeout=60)
        w1.stop()
        Ctl(e).run("replay", "--partition", str(at["partition"]), "--to-offset",
                   str(at["offset"]), "--execute", want=0)
        w = e.start_worker("w1b", worker__dependency_timeout_ms=5000)
        e.wait_caught_up(events=events, timeout=120)
        m = e.metrics(w)
        assert h.metric_sum(m, "writeback_worker_dead_letters_total") == 0, \
            e.dead_letters()
        assert e.dlq() == []
        e.wait_converged(30)
        e.stop_all(check=True)


def test_replay_between_change_and_delete():
    replay_between_change_and_removal("delete")


def test_replay_between_change_and_leaving_scope():
    replay_between_change_and_removal("unscope")


def test_kill9_one_of_two():
    with h.E2E("0904-kill9") as e:
        users, groups = tenant(e, 200, 300, 120, seed=9)
        e.start_sim(users, groups)
        w1 = e.start_worker("w1", **FAST_GROUP)
        w2 = e.start_worker("w2", **FAST_GROUP)
        time.sleep(3)   # both in the group before the first events arrive
        e.start_producer()
        # kill w1 once it has written something, while the sync is still under way
        deadline = time.time() + 120
        while True:
            writes = h.metric_sum(e.metrics(w1), "writeback_worker_ldap_writes_total")
            if writes >= 20:
                break
            assert time.time() < deadline, "w1 made no LDAP writes within 120 s:\n" + w1.tail()
            time.sleep(0.05)
        w1.kill9()
        problems, exp, _ = e.diff()
        h.log("killed w1 after %d writes; %d differences left" % (writes, len(problems)))
        assert problems, "the sync had finished before the kill; the test proves nothing"
        exp, ad = e.wait_converged(180)
        m = e.metrics(w2)
        assert h.metric_sum(m, "writeback_worker_dead_letters_total") == 0
        assert e.dlq(idle_ms=2000) == []
        e.procs.remove(w1)
        e.stop_all(check=True)


if __name__ == "__main__":
    h.run([test_replay_zero_writes, test_replay_between_change_and_delete,
           test_replay_between_change_and_leaving_scope, test_kill9_one_of_two])
