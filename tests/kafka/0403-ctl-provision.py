#!/usr/bin/env python3
"""writebackctl provision against the Graph simulator, the real broker, Samba AD and the real
worker (no producer runs): --dry-run reports import, scope, match and the planned LDAP
operations and writes nothing (topic end offsets and AD unchanged); an out-of-scope group is
refused with the clause that excludes it and nothing is emitted; a real provision produces
group.upsert + group.snapshot keyed by the group id, and the worker creates the group in AD
with the right members; after a change in Entra the dry run plans exactly the difference
(rename, description, member removal), and provisioning again converges AD. The producer's
checkpoint topic stays empty throughout."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import harness as h  # noqa: E402
import ctlrun  # noqa: E402


class Ctl(ctlrun.Ctl):
    def __init__(self, e):
        super().__init__(e, {
            "graph.tenant_id": e.tenant_id, "graph.client_id": e.client_id,
            "graph.client_secret_file": e.secret_file,
            "graph.authority": e.sim.url, "graph.endpoint": e.sim.url}, ldap=True)

    def ends(self):
        """Log-end offset of every partition of topic.events (from lag, which reads the
        watermarks with the admin API)."""
        doc = self.json("lag", "--samples", "1", want=None)
        return {p["partition"]: p["end"] for p in doc["partitions"]}


def ops(doc, kind):
    return [o for o in (doc["ldap"] or []) if o["op"] == kind]


def main():
    ctlrun.require_built()
    with h.E2E("0403-ctl-provision", partitions=4) as e:
        us = e.create_users(3)
        uid = [u["oid"] for u in us]
        cloud = h.cloud_user(0)
        grp = h.seed_group("Provision One", "on demand", [uid[0], uid[1], uid[2], cloud["id"]])
        mail = h.seed_group("Provision Mail", None, [uid[0]], mailEnabled=True)
        m365 = h.seed_group("Provision M365", None, [uid[1]], groupTypes=["Unified"])
        gid = grp["id"]
        e.start_sim([h.synced_user(u) for u in us] + [cloud], [grp, mail, m365])
        ctl = Ctl(e)

        # usage
        assert "import" in ctl.run("provision", "--help", want=0).stdout
        assert "provision" in ctl.run("--help", want=0).stdout
        ctl.run("provision", want=2)
        ctl.run("provision", "--group", "not-a-guid", want=2)
        ctl.run("provision", "--group", gid, "--bogus", want=2)

        ends0 = ctl.ends()
        assert ends0 and all(v == 0 for v in ends0.values()), ends0

        # dry run: the report, nothing written to Kafka or AD
        human = ctl.run("provision", "--group", gid, "--dry-run", want=0).stdout
        for want in ("import:", "scope: in scope", "match: no AD group carries anchor Group_" + gid,
                     "create CN=Provision One", "add 3 members", "group.upsert",
                     "group.snapshot", "nothing was written"):
            assert want in human, "%r not in:\n%s" % (want, human)
        doc = ctl.json("provision", "--group", gid, "--dry-run")
        assert doc["result"] == "planned" and doc["dryRun"] is True and doc["inScope"], doc
        assert doc["import"]["usersSynced"] == 3 and doc["import"]["usersCloudOnly"] == 1, doc
        types = [ev["type"] for ev in doc["events"]]
        assert types == ["group.upsert", "group.snapshot"], types
        snap = doc["events"][1]
        assert snap["group"] == gid and snap["chunk"] == 1 and snap["chunks"] == 1, snap
        assert sorted(m["sid"] for m in snap["members"]) == sorted(u["sid"] for u in us), snap
        assert doc["match"]["dn"] is None, doc["match"]
        assert [o["op"] for o in doc["ldap"]] == ["create", "add-members"], doc["ldap"]
        assert ops(doc, "create")[0]["dn"].startswith("CN=Provision One"), doc["ldap"]
        assert ops(doc, "create")[0]["dn"].endswith(e.ou), doc["ldap"]
        assert ops(doc, "add-members")[0]["count"] == 3, doc["ldap"]
        assert doc["produced"] is None, doc
        assert ctl.ends() == ends0, "the dry run wrote to %s" % e.topics["events"]
        ad = e.ad()
        assert not ad["anchored"] and not ad["unanchored"], "the dry run wrote to AD: %s" % ad

        # out of scope: refused with the clause, nothing emitted
        p = ctl.run("provision", "--group", mail["id"], want=1)
        assert "out of scope" in p.stderr and "mailEnabled is true" in p.stderr, p.stderr
        assert "OUT OF SCOPE: mailEnabled is true" in p.stdout, p.stdout
        doc = ctl.json("provision", "--group", m365["id"], want=1)
        assert doc["result"] == "out_of_scope" and "Unified" in doc["reason"], doc
        assert doc["events"] == [] and doc["produced"] is None, doc
        p = ctl.run("provision", "--group", mail["id"], "--dry-run", want=1)
        assert "mailEnabled" in p.stderr, p.stderr
        # scope.mode=selected without the group: the reason names the clause
        p = ctl.run("-X", "scope.mode=selected", "-X", "scope.group_ids=" + h.new_id(),
                    "provision", "--group", gid, want=1)
        assert "scope.group_ids" in p.stderr, p.stderr
        # unknown group
        doc = ctl.json("provision", "--group", h.new_id(), want=1)
        assert doc["result"] == "not_found" and doc["found"] is False, doc
        assert ctl.ends() == ends0, "a refused provision wrote to %s" % e.topics["events"]

        # real provision with no producer running: two events on the group's partition
        doc = ctl.json("provision", "--group", gid)
        assert doc["result"] == "produced" and doc["dryRun"] is False, doc
        part = h.partition_of(gid, e.partitions)
        assert doc["produced"]["partition"] == part, (doc["produced"], part)
        ends1 = ctl.ends()
        assert ends1[part] == ends0[part] + 2, (ends0, ends1)
        assert all(ends1[p] == ends0[p] for p in ends0 if p != part), (ends0, ends1)
        recs = e.events(idle_ms=2000)
        assert [r["key"] for r in recs] == [gid, gid], recs
        assert [r["json"]["type"] for r in recs] == ["group.upsert", "group.snapshot"], recs
        assert all("wb.provision.time" in r["headers"] for r in recs), recs

        # the worker creates it with the right members (the mail and M365 groups stay out)
        e.start_worker("w1")
        exp, ad = e.wait_converged(90)
        assert exp["count"] == 1, exp["count"]
        g = ad["anchored"][gid]
        assert g["displayname"] == "Provision One" and g["description"] == "on demand", g
        assert sorted(m[1] for m in g["members"]) == sorted(u["sid"] for u in us), g["members"]

        # converged: the dry run plans nothing
        doc = ctl.json("provision", "--group", gid, "--dry-run")
        assert doc["match"]["dn"] == g["dn"], (doc["match"], g["dn"])
        assert doc["ldap"] == [], doc["ldap"]
        assert "none (AD already matches)" in ctl.run("provision", "--group", gid, "--dry-run",
                                                      want=0).stdout

        # a change in Entra: the dry run plans exactly the difference, provision applies it
        e.sim.update_group(gid, displayName="Provision One Renamed", description="changed")
        e.sim.members(gid, remove=[uid[2]])
        ends2 = ctl.ends()
        doc = ctl.json("provision", "--group", gid, "--dry-run")
        kinds = [o["op"] for o in doc["ldap"]]
        assert "modify" in kinds and "rename" in kinds and "remove-members" in kinds, kinds
        assert "add-members" not in kinds and "create" not in kinds, kinds
        assert "displayName" in ops(doc, "modify")[0]["detail"], doc["ldap"]
        assert "description" in ops(doc, "modify")[0]["detail"], doc["ldap"]
        assert ops(doc, "remove-members")[0]["count"] == 1, doc["ldap"]
        assert ctl.ends() == ends2
        assert e.ad()["anchored"][gid]["displayname"] == "Provision One", "dry run wrote to AD"
        ctl.run("provision", "--group", gid, want=0)
        exp, ad = e.wait_converged(60)
        g2 = ad["anchored"][gid]
        assert g2["guid"] == g["guid"], "provision recreated the group instead of updating it"
        assert g2["displayname"] == "Provision One Renamed", g2
        assert sorted(m[1] for m in g2["members"]) == sorted(u["sid"] for u in us[:2]), g2

        # the producer's checkpoint was never written, and nothing was dead-lettered
        assert e.kafka.consume(e.topics["state"], idle_ms=2000) == [], "topic.state written"
        assert e.dlq(idle_ms=2000) == [], "dead letters"
        e.stop_all(check=True)
    h.log("0403-ctl-provision: PASS")


if __name__ == "__main__":
    main()
