#!/usr/bin/env python3
"""writebackctl soa-policy check's enforcement coverage (issue 15 item 5) against Samba AD:
every DC computer object is listed with operatingSystem, operatingSystemVersion and read-only
or not, and a verdict (Windows Server 2022/2025: can enforce once updated, which LDAP cannot
show; older Windows and Samba: no; a read-only DC takes no writes), and one summary line counts
the writable DCs that can enforce, zero while the policy is absent, and names the drift mode.
Windows DCs are computer objects made to look like them (userAccountControl SERVER_TRUST or
PARTIAL_SECRETS) in the test's own OU; the test's policy object is its own (--policy-dn)."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import harness as h  # noqa: E402
import ctlrun  # noqa: E402

FAKES = [  # cn, userAccountControl, operatingSystem, version, expected verdict
    ("W22", 8192, "Windows Server 2022 Datacenter", "10.0 (20348)", "yes-if-updated"),
    ("W25", 8192, "Windows Server 2025 Standard", "10.0 (26100)", "yes-if-updated"),
    ("W19", 8192, "Windows Server 2019 Standard", "10.0 (17763)", "no"),
    ("R25", 67112960, "Windows Server 2025 Standard", "10.0 (26100)", "n/a (read-only)"),
]


def main():
    ctlrun.require_built()
    with h.E2E("0406-ctl-soa-dcs", partitions=1) as e:
        env = e.env
        ctl = ctlrun.Ctl(e, {"drift.mode": "repair"}, ldap=True)
        pol = "CN=wbtest-%s,OU=users,%s" % (e.rand, e.ou)
        tag = e.rand.upper()

        def check(want):
            return ctl.json("soa-policy", "check", "--policy-dn", pol, want=want)

        e.ldap.add("\n".join(
            "dn: CN=%s%s,%s\nobjectClass: computer\nsAMAccountName: %s%s$\n"
            "userAccountControl: %d\noperatingSystem: %s\noperatingSystemVersion: %s\n"
            "dNSHostName: %s%s.wb.test\n" % (cn, tag, e.ou, cn, tag, uac, os_, ver, cn.lower(), tag)
            for cn, uac, os_, ver, _ in FAKES))

        d = check(1)  # no policy: check fails, and no DC counts as enforcing
        dcs = {x["dn"]: x for x in d["domainControllers"]}
        for cn, uac, os_, ver, verdict in FAKES:
            x = dcs.get("CN=%s%s,%s" % (cn, tag, e.ou))
            assert x, "fake DC %s not listed: %s" % (cn, sorted(dcs))
            assert x["operatingSystem"] == os_ and x["operatingSystemVersion"] == ver, x
            assert x["readOnly"] == (uac != 8192), x
            assert x["canEnforce"] == verdict, x
            if verdict == "yes-if-updated":
                assert "ntdsai.dll" in x["note"], x
        samba = [x for x in d["domainControllers"] if x["operatingSystem"].startswith("Samba")]
        assert samba and all(x["canEnforce"] == "no" for x in samba), samba
        writable = sum(1 for x in d["domainControllers"] if not x["readOnly"])
        can = sum(1 for x in d["domainControllers"]
                  if not x["readOnly"] and x["canEnforce"] == "yes-if-updated")
        assert d["writableDCs"] == writable and d["enforcingDCs"] == 0, d
        assert d["summary"].startswith("0 of %d writable DCs can enforce" % writable), d["summary"]
        assert d["summary"].endswith("drift mode is repair"), d["summary"]

        # a valid policy: the two updated-OS writable DCs count (the update is checked by hand)
        sid = h.sid_to_str(e.ldap.search(env["WB_TEST_LDAP_BIND_DN"], attrs=["objectSid"],
                                         scope="base")[0][1]["objectsid"][0])
        ctl.run("soa-policy", "add-sid", sid, "--policy-dn", pol, want=0)
        d = check(0)
        assert d["enforcingDCs"] == can and can >= 2, d
        assert d["summary"].startswith("%d of %d writable DCs can enforce (if updated" % (
            can, writable)), d["summary"]
        text = ctl.run("soa-policy", "check", "--policy-dn", pol).stdout
        assert d["summary"] in text and "w22%s.wb.test" % tag in text, text
        h.log(d["summary"])


if __name__ == "__main__":
    main()
