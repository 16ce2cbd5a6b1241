#!/usr/bin/env python3
"""A user whose on-premises identity changes while its Entra memberships stay the same (found
by the soak: seed 2 of tests/bench/0961-soak-long.py, cloud_only_user). Only the users delta
reports the change; the groups delta reports nothing. A synced member made cloud-only must
leave its AD groups, a cloud-only member made synced must join them, and a member whose SID
now names another AD account must move to it, all in the next incremental round (the producer
lists the user's groups with memberOf), without a full resync, also when the change was made
while the producer was down."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

ONPREM = ("onPremisesSyncEnabled", "onPremisesSecurityIdentifier", "onPremisesObjectIdentifier",
          "onPremisesSamAccountName", "onPremisesDistinguishedName", "onPremisesDomainName")


def ad_member_sids(e, gid):
    g = e.ad()["anchored"].get(gid)
    if g is None:
        raise h.E2EError("group %s is not in AD" % gid)
    return {sid for _, sid, _ in g["members"]}


def test_identity_changes_follow_into_groups():
    with h.E2E("0908-identity") as e:
        us = e.create_users(5)
        ids = [u["oid"] for u in us]
        users = [h.synced_user(u) for u in us[:3]]
        # us[3] is cloud-only in Entra for now (its AD account exists, not yet linked)
        users.append(dict(h.cloud_user(3), id=ids[3]))
        groups = [h.seed_group("Identity A", None, [ids[0], ids[1], ids[3]]),
                  h.seed_group("Identity B", None, [ids[0], ids[2], ids[3]])]
        e.start_sim(users, groups)
        prod = e.start_producer()
        e.start_worker("w1")
        exp, _ = e.wait_converged(90)
        assert us[3]["sid"] not in ad_member_sids(e, groups[0]["id"])
        assert us[0]["sid"] in ad_member_sids(e, groups[1]["id"])
        full0 = h.metric_sum(e.metrics(prod), "writeback_producer_rounds_total", result="full")

        # made cloud-only; made synced; a new SID (now the AD account us[4])
        e.sim.req("PATCH", "users/" + ids[0], {k: None for k in ONPREM})
        synced = h.synced_user(us[3])
        e.sim.req("PATCH", "users/" + ids[3], {k: synced[k] for k in ONPREM})
        moved = h.synced_user(us[4])
        e.sim.req("PATCH", "users/" + ids[1], {k: moved[k] for k in ONPREM})
        e.wait_converged(60)
        a, b = ad_member_sids(e, groups[0]["id"]), ad_member_sids(e, groups[1]["id"])
        assert a == {us[3]["sid"], us[4]["sid"]}, a
        assert b == {us[2]["sid"], us[3]["sid"]}, b
        m = e.metrics(prod)
        # converged through incremental rounds, not through a full resync
        assert h.metric_sum(m, "writeback_producer_rounds_total", result="full") == full0
        assert h.metric_sum(m, "writeback_producer_identity_moves_total", how="memberof") == 3
        stats = e.sim.req("GET", "stats")["requests"]
        assert any("memberOf" in k for k in stats), sorted(stats)
        e.stop_all(check=True)


def test_identity_changes_beyond_the_cap_resync():
    """More changed users in one round than graph.identity_moves_max (0 here: any) turn the
    round into a full groups round instead of memberOf listings."""
    with h.E2E("0908-cap") as e:
        us = e.create_users(3)
        ids = [u["oid"] for u in us]
        groups = [h.seed_group("Cap A", None, ids)]
        e.start_sim([h.synced_user(u) for u in us], groups)
        prod = e.start_producer(graph__identity_moves_max=0)
        e.start_worker("w1")
        e.wait_converged(90)
        full0 = h.metric_sum(e.metrics(prod), "writeback_producer_rounds_total", result="full")
        e.sim.req("PATCH", "users/" + ids[0], {k: None for k in ONPREM})
        e.wait_converged(60)
        assert ad_member_sids(e, groups[0]["id"]) == {us[1]["sid"], us[2]["sid"]}
        m = e.metrics(prod)
        assert h.metric_sum(m, "writeback_producer_identity_moves_total", how="full_resync") == 1
        assert h.metric_sum(m, "writeback_producer_identity_moves_total", how="memberof") == 0
        assert h.metric_sum(m, "writeback_producer_rounds_total", result="full") == full0 + 1
        stats = e.sim.req("GET", "stats")["requests"]
        assert not any("memberOf" in k for k in stats), sorted(stats)
        e.stop_all(check=True)

def two_synced_in_a_group(e, name):
    """Two synced users in one group, provisioned: (AD users, their ids, [group], producer)."""
    us = e.create_users(2)
    ids = [u["oid"] for u in us]
    groups = [h.seed_group(name, None, ids)]
    e.start_sim([h.synced_user(u) for u in us], groups)
    prod = e.start_producer()
    e.start_worker("w1")
    e.wait_converged(90)
    return us, ids, groups, prod


def test_made_cloud_only_while_the_users_delta_resets():
    """The users delta loses its sync state in the round that reports the change: the rebuilt
    identity map must hold the user as cloud-only, not restore its old SID as it does for users
    the listing no longer shows (found by the soak: seed 2 of the long run, steps 193-195)."""
    with h.E2E("0908-reset") as e:
        us, ids, groups, prod = two_synced_in_a_group(e, "Reset A")
        e.sim.req("POST", "faults", {"kind": "410", "path": "/v1.0/users/delta",
                                     "contains": "$deltatoken", "count": 1})
        e.sim.req("PATCH", "users/" + ids[0], {k: None for k in ONPREM})
        e.wait_converged(60)
        assert ad_member_sids(e, groups[0]["id"]) == {us[1]["sid"]}
        m = e.metrics(prod)
        assert h.metric_sum(m, "writeback_producer_sync_resets_total", delta="users") == 1
        e.stop_all(check=True)


def test_identity_changes_while_the_producer_is_down():
    """Changes made while the producer is stopped: after the restart, the users delta resumes
    from the deltaLink committed with the checkpoint, and the users it reports (their identity
    before is unknown) are followed into their groups. Before the users deltaLink was kept, a
    restart built the identity map from a full users round with nothing to compare with, so
    AD kept the old members."""
    with h.E2E("0908-down") as e:
        us = e.create_users(6)
        ids = [u["oid"] for u in us]
        users = [h.synced_user(u) for u in us[:3]] + [dict(h.cloud_user(3), id=ids[3])]
        users.append(h.synced_user(us[5]))
        groups = [h.seed_group("Down A", None, [ids[0], ids[1], ids[3], ids[5]]),
                  h.seed_group("Down B", None, [ids[0], ids[2], ids[3]])]
        e.start_sim(users, groups)
        prod = e.start_producer()
        e.start_worker("w1")
        e.wait_converged(90)
        assert ad_member_sids(e, groups[0]["id"]) == {us[0]["sid"], us[1]["sid"], us[5]["sid"]}
        rc = prod.stop(30)
        assert rc == 0, "producer exited %s" % rc

        # while the producer is down: made cloud-only, made synced, a new SID, deleted
        e.sim.req("PATCH", "users/" + ids[0], {k: None for k in ONPREM})
        synced = h.synced_user(us[3])
        e.sim.req("PATCH", "users/" + ids[3], {k: synced[k] for k in ONPREM})
        moved = h.synced_user(us[4])
        e.sim.req("PATCH", "users/" + ids[1], {k: moved[k] for k in ONPREM})
        e.sim.req("DELETE", "users/" + ids[5])
        prod = e.start_producer("producer2")
        e.wait_converged(90)
        a, b = ad_member_sids(e, groups[0]["id"]), ad_member_sids(e, groups[1]["id"])
        assert a == {us[3]["sid"], us[4]["sid"]}, a
        assert b == {us[2]["sid"], us[3]["sid"]}, b
        m = e.metrics(prod)
        # followed one by one, not through a full resync
        assert h.metric_sum(m, "writeback_producer_rounds_total", result="full") == 0
        assert h.metric_sum(m, "writeback_producer_identity_moves_total", how="memberof") >= 3
        e.stop_all(check=True)


def test_made_cloud_only_and_removed_while_the_producer_is_down():
    """Found by the long soak (seed 1): a user made cloud-only AND removed from a group while
    the producer was down. memberOf no longer lists that group, and the groups delta reports
    the removal of a user who now has no SID, so the removal named no AD value and was dropped:
    AD kept the old member. A removed member whose identity changed goes out as the group's
    whole member list."""
    with h.E2E("0908-downrm") as e:
        us = e.create_users(3)
        ids = [u["oid"] for u in us]
        users = [h.synced_user(u) for u in us]
        groups = [h.seed_group("DownRm A", None, ids), h.seed_group("DownRm B", None, ids[:2])]
        e.start_sim(users, groups)
        prod = e.start_producer()
        e.start_worker("w1")
        e.wait_converged(90)
        assert prod.stop(30) == 0
        e.sim.req("PATCH", "users/" + ids[0], {k: None for k in ONPREM})
        e.sim.members(groups[0]["id"], remove=[ids[0]])
        prod = e.start_producer("producer2")
        e.wait_converged(90)
        assert ad_member_sids(e, groups[0]["id"]) == {us[1]["sid"], us[2]["sid"]}
        assert ad_member_sids(e, groups[1]["id"]) == {us[1]["sid"]}
        e.stop_all(check=True)


def test_dead_users_link_after_a_restart():
    """The users deltaLink of the checkpoint is dead when the producer comes back: what
    changed meanwhile cannot be known user by user, so the round is full for groups too."""
    with h.E2E("0908-deadlink") as e:
        us, ids, groups, prod = two_synced_in_a_group(e, "Dead A")
        assert prod.stop(30) == 0
        e.sim.req("PATCH", "users/" + ids[0], {k: None for k in ONPREM})
        e.sim.req("POST", "faults", {"kind": "410", "path": "/v1.0/users/delta",
                                     "contains": "$deltatoken", "count": 1})
        prod = e.start_producer("producer2")
        e.wait_converged(90)
        assert ad_member_sids(e, groups[0]["id"]) == {us[1]["sid"]}
        m = e.metrics(prod)
        assert h.metric_sum(m, "writeback_producer_sync_resets_total", delta="users") == 1
        # one full round, then incremental ones again
        h.wait_for(lambda: h.metric_sum(e.metrics(prod), "writeback_producer_rounds_total",
                                        result="incremental") >= 2, 30, "incremental rounds")
        m = e.metrics(prod)
        assert h.metric_sum(m, "writeback_producer_rounds_total", result="full") == 1
        e.stop_all(check=True)


if __name__ == "__main__":
    h.run([test_identity_changes_follow_into_groups, test_identity_changes_beyond_the_cap_resync,
           test_made_cloud_only_while_the_users_delta_resets,
           test_identity_changes_while_the_producer_is_down,
           test_made_cloud_only_and_removed_while_the_producer_is_down,
           test_dead_users_link_after_a_restart])
