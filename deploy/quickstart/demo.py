#!/usr/bin/env python3
"""Helper of deploy/quickstart.sh (Python 3 standard library plus ldap-utils): creates the demo
domain's users and the sids file for the Graph simulator, resets the demo OU, watches the
initial sync (groups and member values in AD against the simulator's expected state, lag from
the workers' metrics) and prints the summary. Not meant to be run by hand."""

import argparse
import base64
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

EXT_DN_CONTROL = "!1.2.840.113556.1.4.529=::MAMCAQE="  # extended DN, string form
EXT_DN_RE = re.compile(r"^<GUID=([0-9a-fA-F-]{36})>(?:;<SID=([^>]+)>)?;(.*)$", re.S)


def die(msg):
    sys.stderr.write("quickstart: error: %s\n" % msg)
    sys.exit(1)


# ------------------------------------------------------------------------ LDAP (ldap-utils)
class Ldap:
    def __init__(self, a):
        self.uri, self.bind_dn, self.pwfile = a.ldap_uri, a.bind_dn, a.password_file
        self.env = dict(os.environ, LDAPTLS_CACERT=a.ca_file, LDAPTLS_REQCERT="demand")

    def run(self, tool, args, ldif=None):
        argv = [tool, "-H", self.uri, "-x", "-D", self.bind_dn, "-y", self.pwfile,
                "-o", "nettimeout=10"] + args
        return subprocess.run(argv, input=ldif.encode() if ldif is not None else None,
                              capture_output=True, env=self.env, timeout=600)

    def search(self, base, filt, attrs, extended_dn=False, scope="sub"):
        args = ["-LLL", "-o", "ldif-wrap=no", "-b", base, "-s", scope]
        if extended_dn:
            args += ["-E", EXT_DN_CONTROL]
        p = self.run("ldapsearch", args + [filt] + attrs)
        if p.returncode == 32:
            return []
        if p.returncode != 0:
            die("ldapsearch -b %r failed: %s" % (base, p.stderr.decode(errors="replace")[-500:]))
        return parse_ldif(p.stdout.decode("utf-8", "replace"))

    def add(self, ldif, ok_exists=False):
        p = self.run("ldapadd", ["-c"] if ok_exists else [], ldif)
        if p.returncode not in ((0, 68) if ok_exists else (0,)):
            die("ldapadd failed: %s" % p.stderr.decode(errors="replace")[-500:])


def parse_ldif(text):
    entries, cur = [], None
    for line in text.split("\n"):
        if not line:
            cur = None
            continue
        if line.startswith("#"):
            continue
        name, _, rest = line.partition(":")
        if rest.startswith(":"):
            raw = base64.b64decode(rest[1:].strip())
        else:
            raw = rest[1:].encode() if rest.startswith(" ") else rest.encode()
        lname = name.lower()
        if lname == "dn":
            cur = (raw.decode("utf-8", "replace"), {})
            entries.append(cur)
        elif cur is not None:
            if lname not in ("objectsid", "objectguid"):
                raw = raw.decode("utf-8", "replace")
            cur[1].setdefault(lname, []).append(raw)
    return entries


def sid_str(b):
    n = b[1]
    subs = [int.from_bytes(b[8 + 4 * i:12 + 4 * i], "little") for i in range(n)]
    return "S-%d-%d%s" % (b[0], int.from_bytes(b[2:8], "big"), "".join("-%d" % s for s in subs))


# ------------------------------------------------------------------------ commands
def cmd_users(a):
    """Makes sure OU a.ou holds at least a.count users demo.NNNNN and writes the first a.count
    of them as the simulator's --sids-file."""
    ld = Ldap(a)
    ld.add("dn: %s\nobjectClass: organizationalUnit\n" % a.ou, ok_exists=True)
    have = {}
    for dn, at in ld.search(a.ou, "(objectClass=user)", ["sAMAccountName", "objectSid",
                                                          "objectGUID"], scope="one"):
        sam = at["samaccountname"][0]
        have[sam] = {"sid": sid_str(at["objectsid"][0]), "sam": sam, "dn": dn,
                     "guid": str(uuid.UUID(bytes_le=bytes(at["objectguid"][0])))}
    names = ["demo.%05d" % i for i in range(a.count)]
    missing = [n for n in names if n not in have]
    if missing:
        sys.stderr.write("quickstart: creating %d demo users in %s\n" % (len(missing), a.ou))
        for i in range(0, len(missing), 500):
            ld.add("\n".join("dn: CN=%s,%s\nobjectClass: user\nsAMAccountName: %s\n"
                             "givenName: Demo\nsn: %s\n" % (n, a.ou, n, n[5:])
                             for n in missing[i:i + 500]))
        return cmd_users_reread(a, names)
    write_sids(a.out, [have[n] for n in names])
    return 0


def cmd_users_reread(a, names):
    ld = Ldap(a)
    have = {}
    for dn, at in ld.search(a.ou, "(objectClass=user)", ["sAMAccountName", "objectSid",
                                                          "objectGUID"], scope="one"):
        sam = at["samaccountname"][0]
        have[sam] = {"sid": sid_str(at["objectsid"][0]), "sam": sam, "dn": dn,
                     "guid": str(uuid.UUID(bytes_le=bytes(at["objectguid"][0])))}
    lost = [n for n in names if n not in have]
    if lost:
        die("%d demo users were not created (first: %s)" % (len(lost), lost[0]))
    write_sids(a.out, [have[n] for n in names])
    return 0


def write_sids(path, users):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for u in users:
            f.write(json.dumps({"sid": u["sid"], "guid": u["guid"], "sam": u["sam"],
                                "dn": u["dn"]}) + "\n")
    os.replace(tmp, path)


def cmd_reset_ou(a):
    """Deletes the demo group OU with everything under it and creates it again empty."""
    ld = Ldap(a)
    p = ld.run("ldapdelete", ["-r", a.ou])
    if p.returncode not in (0, 32):
        die("ldapdelete -r %s failed: %s" % (a.ou, p.stderr.decode(errors="replace")[-500:]))
    ld.add("dn: %s\nobjectClass: organizationalUnit\n" % a.ou)
    return 0


# ------------------------------------------------------------------------ watching the sync
def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode("utf-8", "replace")


def metrics(url):
    """Prometheus text at url -> [(name, {labels}, value)], or None when it does not answer."""
    try:
        text = http_get(url, 5)
    except (urllib.error.URLError, OSError):
        return None
    out = []
    for line in text.splitlines():
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)', line)
        if not m or line.startswith("#"):
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        try:
            out.append((m.group(1), labels, float(m.group(4))))
        except ValueError:
            pass
    return out


def ctl_lag(cmd):
    """Total lag in messages from `writebackctl -c CONF lag` (committed offsets against the
    end, transaction markers discounted), or None when it fails."""
    try:
        p = subprocess.run(cmd.split() + ["lag"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"lag (\d+) messages", p.stdout)
    return int(m.group(1)) if m else None


def by_label(samples, name, label):
    res = {}
    for n, ls, v in samples:
        if n == name and v:
            res[ls.get(label, "")] = res.get(ls.get(label, ""), 0) + int(v)
    return res


def ad_state(ld, ou):
    """Groups under ou: {objectId: {"guid", "sids": set, "guids": set(member GUIDs)}}."""
    res = {}
    for dn, at in ld.search(ou, "(objectClass=group)", ["msDS-ExternalDirectoryObjectId",
                                                        "member"], extended_dn=True):
        m = EXT_DN_RE.match(dn)
        anchor = (at.get("msds-externaldirectoryobjectid") or [""])[0]
        if not m or not anchor.startswith("Group_"):
            continue
        sids, guids = set(), set()
        for v in at.get("member", []):
            mm = EXT_DN_RE.match(v)
            if mm:
                guids.add(mm.group(1).lower())
                if mm.group(2):
                    sids.add(mm.group(2))
        res[anchor[6:].lower()] = {"guid": m.group(1).lower(), "sid": m.group(2), "sids": sids,
                                   "guids": guids}
    return res


def compare(exp, ad):
    """Counts of what is in AD against the expected state. A member value whose GUID is one of
    our groups counts as a nested group; any other value counts as a user, by its SID."""
    by_guid = {g["guid"]: oid for oid, g in ad.items()}
    want = {g["objectId"].lower(): g for g in exp["groups"]}
    r = {"groups_expected": len(want), "groups_in_ad": 0, "groups_extra": 0,
         "members_expected": 0, "members_in_ad": 0, "members_missing": 0, "members_extra": 0,
         "user_members": 0, "group_members": 0}
    for oid, g in want.items():
        ws, wg = set(g["memberSids"]), set(x.lower() for x in g["memberGroups"])
        r["members_expected"] += len(ws) + len(wg)
        a = ad.get(oid)
        if a is None:
            r["members_missing"] += len(ws) + len(wg)
            continue
        r["groups_in_ad"] += 1
        got_groups = set(by_guid[x] for x in a["guids"] if x in by_guid)
        user_vals = len(a["guids"]) - len(got_groups)
        got_sids = a["sids"] - set(ad[x]["sid"] for x in got_groups if ad[x].get("sid"))
        ok_u, ok_g = len(ws & got_sids), len(wg & got_groups)
        r["user_members"] += ok_u
        r["group_members"] += ok_g
        r["members_in_ad"] += ok_u + ok_g
        r["members_missing"] += len(ws) + len(wg) - ok_u - ok_g
        r["members_extra"] += (user_vals - ok_u) + (len(got_groups) - ok_g)
    r["groups_extra"] = len(set(ad) - set(want))
    return r


def cmd_watch(a):
    ld = Ldap(a)
    try:
        exp = json.loads(http_get(a.sim + "/_sim/expected?target_ou=" +
                                  urllib.request.quote(a.ou), 60))
        tenant = json.loads(http_get(a.sim + "/_sim/tenant", 10))
    except (urllib.error.URLError, OSError, ValueError) as e:
        die("the Graph simulator at %s does not answer: %s" % (a.sim, e))
    workers = [u for u in a.worker_metrics.split(",") if u]
    t0 = time.time()
    tty = sys.stdout.isatty()
    last_print, last_change, last_key = 0.0, time.time(), None
    stall = a.stall
    while True:
        ad = ad_state(ld, a.ou)
        c = compare(exp, ad)
        wm = [metrics(u) for u in workers]
        pm = metrics(a.producer_metrics)
        lag = ctl_lag(a.ctl) if a.ctl else None
        if lag is None:  # no writebackctl: the workers' gauges (may overstate, see report)
            lag = sum(int(v) for s in wm if s for n, ls, v in s
                      if n == "writeback_worker_lag_messages")
        dlq = {}
        for s in wm:
            for k, v in by_label(s or [], "writeback_worker_dead_letters_total", "reason").items():
                dlq[k] = dlq.get(k, 0) + v
        converged = (c["groups_in_ad"] == c["groups_expected"] and c["members_missing"] == 0
                     and c["members_extra"] == 0 and c["groups_extra"] == 0)
        now = time.time()
        line = ("  %5.0f s  groups %d/%d  member values %d/%d  lag %d  dead letters %d" % (
            now - t0, c["groups_in_ad"], c["groups_expected"], c["members_in_ad"],
            c["members_expected"], lag, sum(dlq.values())))
        key = (c["groups_in_ad"], c["members_in_ad"], lag, sum(dlq.values()))
        if key != last_key:
            last_key, last_change = key, now
        if tty:
            sys.stdout.write("\r" + line + "   ")
            sys.stdout.flush()
        elif now - last_print >= 5 or converged:
            print(line, flush=True)
            last_print = now
        # Done when AD is right and the lag is 0 or has stopped moving (the workers' lag
        # gauges can stay above 0 once everything is applied); give up when nothing has
        # changed for --stall seconds or after --timeout.
        if converged and (lag == 0 or now - last_change >= 5):
            break
        if now - t0 > a.timeout or now - last_change > stall:
            break
        time.sleep(a.interval)
    if tty:
        print()
    elapsed = time.time() - t0
    wsk = {}
    for s in wm:
        for k, v in by_label(s or [], "writeback_worker_members_skipped_total", "reason").items():
            wsk[k] = wsk.get(k, 0) + v
    summary = dict(c, converged=converged, seconds=round(elapsed, 1), lag=lag,
                   dead_letters=dlq, worker_skipped=wsk,
                   producer_skipped=by_label(pm or [], "writeback_producer_dropped_members_total",
                                             "reason"),
                   expected_skipped={
                       "cloud_only": sum(g.get("skippedCloudOnlyUsers", 0)
                                         for g in exp["groups"]),
                       "group_out_of_scope": sum(g.get("skippedOutOfScopeGroups", 0)
                                                 for g in exp["groups"])},
                   out_of_scope_groups=len(exp.get("outOfScope", [])),
                   tenant_counts=tenant.get("counts", {}), target_ou=a.ou)
    with open(a.summary_json + ".tmp", "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
    os.replace(a.summary_json + ".tmp", a.summary_json)
    print_summary(summary)
    return 0 if converged and not dlq else 1


def fmt_reasons(d, names):
    if not d:
        return "none"
    return ", ".join("%d %s" % (v, names.get(k, k)) for k, v in sorted(d.items()))


def print_summary(s):
    skip_names = {"cloud_only": "cloud-only users (no AD account)",
                  "group_out_of_scope": "nested groups that are out of scope",
                  "unresolved": "users whose on-prem identity Graph did not give",
                  "unsupported_type": "members that are neither users nor groups"}
    tc = s["tenant_counts"]
    print("")
    print("== writeback quickstart: initial sync %s after %.1f s" % (
        "complete" if s["converged"] else "NOT complete", s["seconds"]))
    if tc:
        print("  Entra tenant (simulator)  %s" % ", ".join("%s %s" % (v, k)
                                                          for k, v in sorted(tc.items())))
    print("  Groups created in AD      %d of %d expected (%d groups out of scope, not written)"
          % (s["groups_in_ad"], s["groups_expected"], s["out_of_scope_groups"]))
    print("  Member values written     %d of %d expected (%d users, %d nested groups)" % (
        s["members_in_ad"], s["members_expected"], s["user_members"], s["group_members"]))
    if s["members_missing"] or s["members_extra"] or s["groups_extra"]:
        print("  Differences               %d member values missing, %d extra, %d extra groups"
              % (s["members_missing"], s["members_extra"], s["groups_extra"]))
    print("  Members skipped           %s (producer; expected: %d cloud-only, %d out of scope)"
          % (fmt_reasons(s["producer_skipped"], skip_names),
             s["expected_skipped"]["cloud_only"], s["expected_skipped"]["group_out_of_scope"]))
    print("  Members skipped by workers %s" % fmt_reasons(s["worker_skipped"], {}))
    print("  Dead letters              %s" % fmt_reasons(s["dead_letters"], {}))
    print("  Consumer lag              %d messages" % s["lag"])
    print("  Target OU                 %s" % s["target_ou"])


def main():
    ap = argparse.ArgumentParser(prog="demo.py")
    ap.add_argument("command", choices=["users", "reset-ou", "watch"])
    for k in ("ldap-uri", "bind-dn", "password-file", "ca-file", "ou"):
        ap.add_argument("--" + k, required=True)
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--out")
    ap.add_argument("--sim")
    ap.add_argument("--producer-metrics", default="")
    ap.add_argument("--worker-metrics", default="")
    ap.add_argument("--summary-json")
    ap.add_argument("--ctl", default="", help="writebackctl -c CONF (lag source)")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--stall", type=float, default=120)
    ap.add_argument("--interval", type=float, default=1.0)
    a = ap.parse_args()
    if a.command == "users":
        return cmd_users(a)
    if a.command == "reset-ou":
        return cmd_reset_ou(a)
    return cmd_watch(a)


if __name__ == "__main__":
    sys.exit(main())
