#!/usr/bin/env python3
"""End-to-end group names: every RFC 4514 DN-special character, leading and trailing spaces, a
leading '#', RFC 4515 filter characters, non-ASCII and emoji, and names over 51 characters
(cn truncated by characters, not bytes, with the emoji at the cut), created and then renamed
from one odd name to another. AD must equal the simulator's expected state."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "graphsim"))
import harness as h  # noqa: E402
import simtenant  # noqa: E402  (the reference mapping: Left() counts UTF-16 units)

NAMES = [
    'Comma, Plus+ Quote" Back\\slash <Angle> Semi; Equals=',
    "#StartsWithHash",
    "# hash then space",
    "  Leading and trailing spaces  ",
    " x ",
    "Filter chars (a*b) \\ and / slash",
    "\u00dcn\u00efc\u00f6d\u00e9 Gr\u00fcppe \u2014 \u00e9t\u00e9",
    "CJK \u7fa4\u7ec4 \u30c6\u30b9\u30c8",
    "Emoji \U0001F680 Rocket Team \u2728",
    "A very long group name that goes well beyond fifty-one characters in total",
    "Exactly-fifty-one-characters-long-name-xxxxxxxxxxxx",
    "\u00e9" * 50 + "\U0001F600\U0001F600\U0001F600 after the cut",
    "Space at the cut: " + "y" * 32 + " tail beyond fifty-one",
    "Trailing dot.",
]

RENAMES = [
    "\U0001F600" * 60,
    "=;+<>,\"\\ all specials",
    "Plain again",
]


def test_names():
    with h.E2E("0902-names") as e:
        us = e.create_users(2)
        # a parent whose members are odd-named groups (nested references by DN), on another
        # partition than its children (the same-partition case is 0901's)
        groups = [h.seed_group(n, "  Description of %r  " % n, [us[i % 2]["oid"]],
                               gid=h.id_in_partition(e.partitions, avoid=[0]))
                  for i, n in enumerate(NAMES)]
        parent = h.seed_group("Parent of odd names", None, [g["id"] for g in groups[:6]],
                              gid=h.id_in_partition(e.partitions, want=0))
        e.start_sim([h.synced_user(u) for u in us], groups + [parent])
        e.start_producer()
        w = e.start_worker("w1")
        exp, ad = e.wait_converged(90)
        by_id = {g["objectId"]: g for g in exp["groups"]}
        # spot checks of the mapping itself (the simulator is the reference)
        long_cn = ad["anchored"][groups[9]["id"]]["cn"]
        assert long_cn == NAMES[9][:51] + "_" + groups[9]["id"][-12:], long_cn
        # 50 x e-acute then an emoji (2 UTF-16 units) at the cut: the emoji is dropped whole
        emoji_cn = ad["anchored"][groups[11]["id"]]["cn"]
        assert emoji_cn == "\u00e9" * 50 + "_" + groups[11]["id"][-12:], ascii(emoji_cn)
        for g in groups:
            assert ad["anchored"][g["id"]]["cn"] == simtenant.ad_cn(g["displayName"], g["id"])
        assert ad["anchored"][groups[3]["id"]]["cn"].startswith("Leading and")
        assert by_id[groups[3]["id"]]["displayName"] == NAMES[3]
        for i, n in enumerate(RENAMES):
            e.sim.update_group(groups[i]["id"], displayName=n)
        exp, ad = e.wait_converged(60)
        assert ad["anchored"][groups[0]["id"]]["cn"] == "\U0001F600" * 25 + "_" + \
            groups[0]["id"][-12:]
        m = e.metrics(w)
        assert h.metric_sum(m, "writeback_worker_dead_letters_total") == 0
        e.stop_all(check=True)


if __name__ == "__main__":
    h.run([test_names])
