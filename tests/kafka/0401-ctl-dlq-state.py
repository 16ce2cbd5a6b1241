#!/usr/bin/env python3
"""writebackctl dlq, resync and deletes against the real broker, producer, worker and Samba
AD: a dead letter from a real name conflict is listed (filters, show), a dry-run re-drive
changes nothing, the re-drive after the conflicting object is removed creates the group, and a
second re-drive is harmless; resync makes the producer do a full round (snapshots again);
deletes over graph.delete_threshold are staged, shown and released by deletes allow."""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import harness as h  # noqa: E402
from ctlrun import Ctl, require_built  # noqa: E402



wait = h.wait_for


def snapshots(e):
    return sum(1 for r in e.events(idle_ms=3000)
               if r["json"] and r["json"].get("type") == "group.snapshot")


def main():
    require_built()
    with h.E2E("0401-ctl-dlq", partitions=3) as e:
        us = e.create_users(3)
        uid = [u["oid"] for u in us]
        keep = [h.seed_group("Keep %d" % i, None, [uid[i]]) for i in range(3)]
        doomed = [h.seed_group("Doomed %d" % i, None, []) for i in range(2)]
        clash = h.seed_group("Clash", "conflicting", [uid[0]])
        # an object we do not own sits at the DN the worker would create
        clash_dn = "CN=Clash_%s,%s" % (clash["id"][-12:], e.ou)
        e.ldap.add("dn: %s\nobjectClass: group\nsAMAccountName: clash%s\n" % (clash_dn,
                                                                            e.rand))
        e.start_sim([h.synced_user(u) for u in us], keep + doomed + [clash])
        prod = e.start_producer(**{"graph__delete_threshold": 1})
        e.start_worker("w1")
        e.wait_converged(90, ignore=[clash["id"]], dead_letters_ok=True)
        ctl = Ctl(e)

        # usage errors
        ctl.run("dlq", want=2)
        ctl.run("dlq", "redrive", want=2)          # no selection
        ctl.run("dlq", "show", want=2)
        ctl.run("dlq", "list", "--since", "bad", want=2)
        ctl.run("deletes", "allow", want=2)
        ctl.run("deletes", "allow", "not-a-guid", want=2)
        assert "redrive" in ctl.run("dlq", "--help", want=0).stdout

        # the dead letter of the conflict
        doc = wait(lambda: (lambda d: d if d["deadLetters"] else None)(ctl.json("dlq", "list")),
                   60, "a dead letter")
        time.sleep(3)   # the group's later events (members, snapshot) follow the first
        doc = ctl.json("dlq", "list")
        ndl = len(doc["deadLetters"])
        assert all(d["key"] == clash["id"] for d in doc["deadLetters"]), doc
        dl = doc["deadLetters"][0]
        hd = dl["headers"]
        assert dl["key"] == clash["id"], dl
        assert hd["wb.class"] == "conflict" and hd["wb.reason"].endswith("conflict"), hd
        assert hd["wb.orig.topic"] == e.topics["events"], hd
        assert hd["wb.consumer_group"] == e.group_id, hd
        reason = hd["wb.reason"]
        assert len(ctl.json("dlq", "list", "--reason", reason)["deadLetters"]) >= 1
        assert len(ctl.json("dlq", "list", "--limit", "1")["deadLetters"]) == 1
        assert ctl.json("dlq", "list", "--reason", "nosuchreason")["deadLetters"] == []
        assert len(ctl.json("dlq", "list", "--group-id", clash["id"])["deadLetters"]) == ndl
        assert ctl.json("dlq", "list", "--group-id", keep[0]["id"])["deadLetters"] == []
        assert ctl.json("dlq", "list", "--since", "2999-01-01T00:00:00Z")["deadLetters"] == []
        assert len(ctl.json("dlq", "list", "--until", "2999-01-01")["deadLetters"]) == ndl
        human = ctl.run("dlq", "list", want=0).stdout
        assert clash["id"] in human and reason in human, human
        full = ctl.json("dlq", "show", dl["id"])
        assert full["value"]["group"] == clash["id"], full
        assert "wb.ldap.matched_dn" in ctl.run("dlq", "show", dl["id"], want=0).stdout
        ctl.run("dlq", "show", "0:999999", want=1)

        # dry run: nothing reaches the events topic
        before = len(e.events(idle_ms=3000))
        dry = ctl.json("dlq", "redrive", "--group-id", clash["id"], "--dry-run")
        assert dry["dryRun"] is True and len(dry["redriven"]) == ndl, dry
        assert len(e.events(idle_ms=3000)) == before

        # remove the conflict, re-drive: the group appears; twice is harmless
        e.ldap.run("ldapdelete", [clash_dn])
        done = ctl.json("dlq", "redrive", *[d["id"] for d in doc["deadLetters"]], "--rate", "5")
        assert done["dryRun"] is False and len(done["redriven"]) == ndl, done
        e.wait_converged(60, dead_letters_ok=True)
        ctl.run("dlq", "redrive", "--group-id", clash["id"], want=0)
        evs = [r for r in e.events(idle_ms=3000) if "wb.redrive.from" in r["headers"]]
        assert len(evs) == 2 * ndl, evs
        assert sorted(r["headers"]["wb.redrive.from"] for r in evs[:ndl]) == sorted(
            "%s/%s" % (e.topics["dlq"], d["id"].replace(":", "/")) for d in doc["deadLetters"])
        e.wait_converged(30, settle=3, dead_letters_ok=True)
        assert len(ctl.json("dlq", "list")["deadLetters"]) == ndl, "a re-drive failed again"

        # resync: the producer does a full round (snapshots of every group again)
        n0 = snapshots(e)
        ctl.run("resync", want=0)
        wait(lambda: "full resync" in prod.log_text(), 60, "the producer to apply resync")
        wait(lambda: snapshots(e) >= n0 + 4, 60, "a full round of snapshots")
        e.wait_converged(60, dead_letters_ok=True)

        # deletes over the threshold are staged, shown, then released
        for g in doomed:
            e.sim.delete_group(g["id"])
        staged = wait(lambda: (lambda d: d if len(d["stagedDeletes"]) == 2 else None)(
            ctl.json("deletes", "show")), 60, "staged deletes")
        assert sorted(staged["stagedDeletes"]) == sorted(g["id"] for g in doomed), staged
        assert "2 staged delete" in ctl.run("deletes", "show", want=0).stdout
        time.sleep(3)
        ad = e.ad()["anchored"]
        assert all(g["id"] in ad for g in doomed), "staged deletes were applied"
        ctl.run("deletes", "allow", "--all", want=0)
        e.wait_converged(90, dead_letters_ok=True)
        ad = e.ad()["anchored"]
        assert not any(g["id"] in ad for g in doomed)
        wait(lambda: ctl.json("deletes", "show")["stagedDeletes"] == [], 30, "empty stage")
        e.stop_all(check=True)
    h.log("0401-ctl-dlq-state: OK")


if __name__ == "__main__":
    main()
