#!/usr/bin/env python3
"""A user deleted in Entra leaves every group in AD, also when the producer restarts in
between (found by the soak: seed 1 of tests/bench/0961-soak-long.py). The restarted producer
rebuilds its identity map from a full users round, which no longer lists the deleted user,
while its groups round is incremental (from the checkpoint) and reports the user only as a
removed member id; getByIds does not return deleted users. The producer could not name the
member ("1 unresolved") and the member stayed in AD for good; now the group's whole member list
goes out as a snapshot."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def test_deleted_member_across_producer_restart():
    with h.E2E("0907-deleted") as e:
        us = e.create_users(4)
        ids = [u["oid"] for u in us]
        groups = [h.seed_group("Deleted member %d" % i, None, ids[:2 + i]) for i in range(2)]
        e.start_sim([h.synced_user(u) for u in us], groups)
        prod = e.start_producer()
        e.start_worker("w1")
        e.wait_converged(90)
        assert prod.stop(30) == 0
        e.sim.req("DELETE", "users/" + ids[0])   # a member of both groups
        e.sim.update_group(groups[1]["id"], description="changed while the producer was down")
        e.start_producer()
        e.wait_converged(90)
        e.stop_all(check=True)


if __name__ == "__main__":
    h.run([test_deleted_member_across_producer_restart])
