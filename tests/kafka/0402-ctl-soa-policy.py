#!/usr/bin/env python3
"""writebackctl soa-policy against Samba AD: an unknown SID and a malformed one are refused,
64 real SIDs are written and read back, a 65th is refused (nothing written), remove-sid works,
zero SIDs reads as "off", and check lists groups with msDS-ObjectSoa=Cloud. Samba has no
CN=SOA-Policies container, so add-sid creates it; the test's policy object is its own
(--policy-dn) and is removed at the end."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import harness as h  # noqa: E402
import ctlrun  # noqa: E402


def main():
    ctlrun.require_built()
    with h.E2E("0402-ctl-soa", partitions=1) as e:
        env = e.env
        ctl = ctlrun.Ctl(e, ldap=True)
        pol = "CN=wbtest-%s,CN=SOA-Policies,CN=System,%s" % (e.rand, env["WB_TEST_LDAP_BASE_DN"])

        def run(*args, want=0, js=False):
            argv = ("soa-policy",) + args + ("--policy-dn", pol)
            return ctl.json(*argv, want=want) if js else ctl.run(*argv, want=want)

        def sids():
            d = run("show", js=True)
            return sorted(s["sid"] for s in d["sids"]), d

        try:
            users = e.create_users(65, prefix="soa")
            dom = env["WB_TEST_LDAP_DOMAIN_SID"]
            assert run("show", js=True)["state"] == "absent"
            run("check", want=1)                                    # no policy: not valid
            # refused: malformed, unknown
            p = run("add-sid", "S-1-5-21-x", want=2)
            p = run("add-sid", users[0]["sid"], dom + "-987654", want=1)
            assert "does not resolve" in p.stderr, p.stderr
            assert sids()[0] == [], "a refused change wrote something"
            # 64 valid SIDs (the bind account's group first, as an operator would)
            first = [u["sid"] for u in users[:64]]
            d = run("add-sid", *first, js=True)
            assert d["written"] is True and d["state"] == "valid" and d["count"] == 64, d
            got, d = sids()
            assert got == sorted(first), got
            assert all(s["valid"] and s["name"] for s in d["sids"]), d
            # the 65th is refused and nothing changes
            p = run("add-sid", users[64]["sid"], want=1)
            assert "at most 64" in p.stderr, p.stderr
            assert sids()[0] == sorted(first)
            # dry run and idempotent add
            run("remove-sid", first[0], "--dry-run")
            assert len(sids()[0]) == 64
            run("add-sid", first[1])
            assert len(sids()[0]) == 64
            # remove, then check with an enforced group
            run("remove-sid", *first[2:])
            assert sids()[0] == sorted(first[:2])
            gdn = "CN=soa-enforced-%s,%s" % (e.rand, e.ou)
            e.ldap.add("dn: %s\nobjectClass: group\nsAMAccountName: soaenf%s\n"
                       "msDS-ObjectSoa: Cloud\n" % (gdn, e.rand))
            c = run("check", js=True)
            assert c["state"] == "valid" and gdn.lower() in [g.lower() for g in
                                                             c["enforcedGroups"]], c
            assert "enforced group" in run("check").stdout
            # a SID that went stale (its user deleted) makes the policy invalid
            e.ldap.run("ldapdelete", [users[0]["dn"]])
            c = run("check", js=True, want=1)
            assert c["state"] == "invalid", c
            p = run("add-sid", users[5]["sid"], want=1)          # refused while stale
            run("remove-sid", users[0]["sid"])                    # removing it is allowed
            assert run("check", js=True)["state"] == "valid"
            run("remove-sid", users[1]["sid"])
            assert run("show", js=True)["state"] == "off"
        finally:
            e.ldap.run("ldapdelete", [pol], check=False)
    h.log("0402-ctl-soa-policy: OK")


if __name__ == "__main__":
    main()
