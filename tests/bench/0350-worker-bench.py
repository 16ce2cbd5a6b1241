#!/usr/bin/env python3
"""0350-worker-bench: the worker benchmark of issue 5, against the test Samba domain and Kafka.

(a) raw ceiling: the final AD state written by one ldapmodify process from optimally batched
    LDIF (one add per group, members in modifies of --chunk values);
(b) the pipeline: the same shape of state from events already in a topic (upsert + snapshot
    chunks per group, as the producer emits them), with one worker and with two;
then a replay of the converged topic by a new consumer group (time, LDAP writes: target 0) and
the worker's peak RSS (VmHWM) over the one-worker run, which includes the big group.
Users live in OU=WbBenchUsers (sub-OUs of 1,000) and are created once, then reused.

Needs the WB_TEST_* variables of tests/services/{kafka,samba}.sh and WB_BUILD_DIR (a build with
writeback-worker and wb-bench-produce). Defaults are sized for a few minutes; --full uses
60,000 users and a 60,000-member group. Exit 1 when a phase fails to converge (not on targets).
"""
import argparse
import base64
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

USER_OU_SIZE = 1000


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def need_env(name):
    v = os.environ.get(name)
    if not v:
        sys.exit("0350-worker-bench: %s is not set (source the output of tests/services/*.sh up)"
                 % name)
    return v


class Ldap:
    def __init__(self):
        self.uri = need_env("WB_TEST_LDAP_URI")
        self.bind_dn = need_env("WB_TEST_LDAP_BIND_DN")
        self.pwfile = need_env("WB_TEST_LDAP_PASSWORD_FILE")
        self.base = need_env("WB_TEST_LDAP_BASE_DN")
        self.target = need_env("WB_TEST_LDAP_TARGET_OU")
        self.env = dict(os.environ, LDAPTLS_CACERT=need_env("WB_TEST_LDAP_CA_FILE"))

    def _args(self):
        return ["-H", self.uri, "-x", "-D", self.bind_dn, "-y", self.pwfile]

    def modify(self, ldif, cont=False):
        """Runs one ldapmodify process on ldif (text); returns elapsed seconds."""
        args = ["ldapmodify"] + self._args() + (["-c"] if cont else [])
        t0 = time.monotonic()
        p = subprocess.run(args, input=ldif.encode(), env=self.env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
        dt = time.monotonic() - t0
        if p.returncode != 0 and not (cont and p.returncode == 68):
            raise RuntimeError("ldapmodify exit %d: %s" % (p.returncode,
                                                            p.stderr.decode()[-2000:]))
        return dt

    def search(self, base, filt, attrs, scope="sub"):
        """Yields (dn, {attr: [values as bytes]}) with paged results."""
        args = (["ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-E", "pr=1000/noprompt", "-s",
                 scope] + self._args() + ["-b", base, filt] + attrs)
        p = subprocess.run(args, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if p.returncode not in (0, 32):
            raise RuntimeError("ldapsearch exit %d: %s" % (p.returncode, p.stderr.decode()))
        for block in p.stdout.decode().split("\n\n"):
            dn, a = None, {}
            for line in block.splitlines():
                if line.startswith("#") or ":" not in line:
                    continue
                k, v = line.split(":", 1)
                if v.startswith(":"):
                    val = base64.b64decode(v[1:].strip())
                else:
                    val = v.strip().encode()
                if k == "dn":
                    dn = val.decode()
                else:
                    a.setdefault(k.split(";")[0].lower(), []).append(val)
            if dn:
                yield dn, a

    def exists(self, dn):
        return any(True for _ in self.search(dn, "(objectClass=*)", ["1.1"], scope="base"))

    def delete_tree(self, dn):
        subprocess.run(["ldapdelete", "-r", "-c"] + self._args() + [dn], env=self.env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def sid_str(b):
    rev, n = b[0], b[1]
    auth = int.from_bytes(b[2:8], "big")
    subs = struct.unpack("<%dI" % n, b[8:8 + 4 * n])
    return "S-%d-%d" % (rev, auth) + "".join("-%d" % s for s in subs)


def ensure_users(ld, count):
    """Users wbbu<i> in OU=s<k>,OU=WbBenchUsers; returns [(entra id, sid)] of the first count."""
    root = "OU=WbBenchUsers," + ld.base
    subs = (count + USER_OU_SIZE - 1) // USER_OU_SIZE
    have = {}
    if ld.exists(root):
        for dn, a in ld.search(root, "(objectClass=user)", ["sAMAccountName"]):
            have[a["samaccountname"][0].decode()] = dn
    else:
        ld.modify("dn: %s\nchangetype: add\nobjectClass: organizationalUnit\n\n" % root)
    missing = [i for i in range(count) if "wbbu%d" % i not in have]
    if missing:
        lines = []
        made_ous = {dn.split(",", 1)[1] for dn in have.values()}
        for k in range(subs):
            ou = "OU=s%03d,%s" % (k, root)
            if ou not in made_ous and not ld.exists(ou):
                lines.append("dn: %s\nchangetype: add\nobjectClass: organizationalUnit\n" % ou)
        for i in missing:
            lines.append("dn: CN=wbbu%d,OU=s%03d,%s\nchangetype: add\nobjectClass: user\n"
                         "sAMAccountName: wbbu%d\n" % (i, i // USER_OU_SIZE, root, i))
        log("creating %d users in bulk (one ldapmodify process, sub-OUs of %d)" %
            (len(missing), USER_OU_SIZE))
        dt = ld.modify("\n".join(lines), cont=True)
        log("created %d users in %.1f s (%.0f users/s)" % (len(missing), dt, len(missing) / dt))
    sids = {}
    for dn, a in ld.search(root, "(objectClass=user)", ["sAMAccountName", "objectSid"]):
        sids[a["samaccountname"][0].decode()] = sid_str(a["objectsid"][0])
    out = []
    for i in range(count):
        sid = sids.get("wbbu%d" % i)
        if not sid:
            raise RuntimeError("user wbbu%d missing after creation" % i)
        out.append((str(uuid.uuid5(uuid.NAMESPACE_OID, "wbbu%d" % i)), sid))
    return out


def group_sizes(ngroups, nusers, big):
    """Member counts: a mix of small and mid-sized groups plus one big group."""
    pattern = [5, 20, 50, 100, 250, 500]
    sizes = [min(pattern[i % len(pattern)], nusers) for i in range(ngroups)]
    return sizes + [big]


def group_ids(tag, n):
    return [str(uuid.uuid5(uuid.NAMESPACE_URL, "wb-bench/%s/%d" % (tag, i))) for i in range(n)]


def members_of(i, size, users):
    start = (i * 7919) % len(users)
    return [users[(start + j) % len(users)] for j in range(size)]


def ldif_state(ou, ids, sizes, users, chunk):
    out = []
    for i, (gid, size) in enumerate(zip(ids, sizes)):
        name = "Bench %d" % i
        cn = "%s_%s" % (name, gid[-12:])
        dn = "CN=%s,%s" % (cn, ou)
        out.append("dn: %s\nchangetype: add\nobjectClass: group\ncn: %s\ndisplayName: %s\n"
                   "adminDescription: Group_%s\nmsDS-ExternalDirectoryObjectId: Group_%s\n"
                   "groupType: -2147483640\nsAMAccountName: Group_%s\n"
                   % (dn, cn, name, gid, gid, gid[-12:]))
        mem = members_of(i, size, users)
        for c in range(0, len(mem), chunk):
            out.append("dn: %s\nchangetype: modify\nadd: member\n%s-\n" % (
                dn, "".join("member: <SID=%s>\n" % sid for _, sid in mem[c:c + chunk])))
    return "\n".join(out) + "\n"


def events(ids, sizes, users, chunk):
    """key<TAB>value lines: upsert + snapshot chunks per group, as the producer sends them."""
    ts = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    lines = []
    for i, (gid, size) in enumerate(zip(ids, sizes)):
        env = '"v":1,"tenant":"bench.onmicrosoft.com","group":"%s","round":"r1","ts":"%s"' % (
            gid, ts)
        lines.append('%s\t{%s,"type":"group.upsert","attrs":{"displayName":"Bench %d",'
                     '"description":null,"securityEnabled":true,"mailEnabled":false,'
                     '"groupTypes":[]}}' % (gid, env, i))
        mem = members_of(i, size, users)
        chunks = max(1, (len(mem) + chunk - 1) // chunk)
        for c in range(chunks):
            part = ",".join('{"kind":"user","id":"%s","sid":"%s"}' % u
                            for u in mem[c * chunk:(c + 1) * chunk])
            lines.append('%s\t{%s,"type":"group.snapshot","snapshot":"s1","chunk":%d,'
                         '"chunks":%d,"members":[%s]}' % (gid, env, c + 1, chunks, part))
    return lines


class Worker:
    def __init__(self, build, work, name, topic, group_id, ou, port):
        self.name, self.port = name, port
        ld = Ldap()
        conf = {
            "kafka.bootstrap.servers": need_env("WB_TEST_KAFKA_BOOTSTRAP"),
            "topic.events": topic, "topic.dlq": topic + ".dlq",
            "ldap.uri": ld.uri, "ldap.bind_dn": ld.bind_dn, "ldap.password_file": ld.pwfile,
            "ldap.ca_file": need_env("WB_TEST_LDAP_CA_FILE"), "ldap.base_dn": ld.base,
            "ldap.target_ou": ou, "worker.group_id": group_id, "worker.id": name,
            "worker.metrics_listen": "127.0.0.1:%d" % port,
        }
        path = os.path.join(work, name + ".conf")
        with open(path, "w") as f:
            f.writelines("%s = %s\n" % kv for kv in conf.items())
        self.logf = open(os.path.join(work, name + ".log"), "w")
        self.proc = subprocess.Popen([os.path.join(build, "worker", "writeback-worker"), "-c",
                                      path], stdout=self.logf, stderr=subprocess.STDOUT)
        self.hwm = 0

    def metrics(self):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.port,
                                        timeout=2) as r:
                text = r.read().decode()
        except OSError:
            return None
        m = {}
        for line in text.splitlines():
            if line.startswith("#") or not line:
                continue
            k, v = line.rsplit(" ", 1)
            m[k] = float(v)
        return m

    def sample_rss(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        self.hwm = max(self.hwm, int(line.split()[1]))
        except OSError:
            pass

    def stop(self):
        self.sample_rss()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        return self.proc.returncode


def msum(m, prefix, **labels):
    t = 0.0
    for k, v in (m or {}).items():
        if k == prefix or k.startswith(prefix + "{"):
            if all('%s="%s"' % kv in k for kv in labels.items()):
                t += v
    return t


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def ldap_time(ms):
    """{op: (operations, seconds)} summed over the workers' metrics ms."""
    out = {}
    for m in ms:
        for k, v in (m or {}).items():
            mt = re.match(r'writeback_worker_ldap_operation_seconds_(sum|count)\{op="(\w+)"\}$', k)
            if mt:
                n, sec = out.get(mt.group(2), (0, 0.0))
                out[mt.group(2)] = (n + v, sec) if mt.group(1) == "count" else (n, sec + v)
    return out


def run_workers(build, work, tag, n, topic, group_id, ou, total, timeout):
    """Starts n workers; returns (seconds to converge, writes, peak VmHWM kB, first-write s,
    LDAP time by operation)."""
    t0 = time.monotonic()
    ws = [Worker(build, work, "%s-w%d" % (tag, k + 1), topic, group_id, ou, free_port())
          for k in range(n)]
    first_write = None
    try:
        while True:
            time.sleep(0.05)
            for w in ws:
                w.sample_rss()
                if w.proc.poll() is not None:
                    raise RuntimeError("worker %s exited with %d; see %s/%s.log" %
                                       (w.name, w.proc.returncode, work, w.name))
            ms = [w.metrics() for w in ws]
            done = sum(msum(m, "writeback_worker_events_total") for m in ms)
            writes = sum(msum(m, "writeback_worker_ldap_writes_total") for m in ms)
            dlq = sum(msum(m, "writeback_worker_dead_letters_total") for m in ms)
            if writes > 0 and first_write is None:
                first_write = time.monotonic() - t0
            if dlq:
                raise RuntimeError("%s: %d dead letters; see %s" % (tag, dlq, work))
            if done >= total:
                dt = time.monotonic() - t0
                ops = ldap_time(ms)
                break
            if time.monotonic() - t0 > timeout:
                raise RuntimeError("%s: %d of %d events after %d s" % (tag, done, total, timeout))
    finally:
        for w in ws:
            w.stop()
    return dt, writes, max(w.hwm for w in ws), first_write or 0.0, ops


def verify(ld, ou, ids, sizes):
    """Every group present under ou with its member count."""
    counts = {}
    for dn, a in ld.search(ou, "(objectClass=group)", ["msDS-ExternalDirectoryObjectId"]):
        counts[a["msds-externaldirectoryobjectid"][0].decode()[6:]] = dn
    bad = [g for g in ids if g not in counts]
    if bad:
        raise RuntimeError("%d groups missing under %s (e.g. %s)" % (len(bad), ou, bad[0]))
    # member counts of the biggest group and one small one, read with ranged retrieval
    for i in (len(ids) - 1, 0):
        n = 0
        low = 0
        while True:
            got = list(ld.search(counts[ids[i]], "(objectClass=*)",
                                 ["member;range=%d-%d" % (low, low + 4999)], scope="base"))
            attrs = got[0][1]
            vals = attrs.get("member", [])
            n += len(vals)
            if len(vals) < 5000:
                break
            low += 5000
        if n != sizes[i]:
            raise RuntimeError("group %s under %s has %d members, want %d" % (ids[i], ou, n,
                                                                               sizes[i]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="60,000 users and a 60,000-member group")
    ap.add_argument("--users", type=int, help="users (default 10000, --full 60000)")
    ap.add_argument("--groups", type=int, default=300, help="groups besides the big one")
    ap.add_argument("--big", type=int, help="members of the big group (default: all users)")
    ap.add_argument("--chunk", type=int, default=1000, help="member values per modify/chunk")
    ap.add_argument("--partitions", type=int, default=12)
    ap.add_argument("--keep", action="store_true", help="keep the AD OUs and work dir")
    args = ap.parse_args()
    nusers = args.users or (60000 if args.full else 10000)
    big = args.big or nusers
    build = need_env("WB_BUILD_DIR")
    boot = need_env("WB_TEST_KAFKA_BOOTSTRAP")
    producer = os.path.join(build, "worker", "wb-bench-produce")
    for exe in (producer, os.path.join(build, "worker", "writeback-worker")):
        if not os.access(exe, os.X_OK):
            sys.exit("0350-worker-bench: %s not built" % exe)
    cache = os.path.join(build, "CMakeCache.txt")
    sanitized = os.path.exists(cache) and re.search(r"WB_SANITIZE:BOOL=ON", open(cache).read())
    ld = Ldap()
    run = "%x" % (int(time.time()) & 0xffffff)
    work = tempfile.mkdtemp(prefix="wb-bench-")
    root_ou = "OU=bench-%s,%s" % (run, ld.target)
    log("run %s, work dir %s, build %s%s" % (run, work, build,
                                             " (SANITIZER BUILD: figures not representative)"
                                             if sanitized else ""))

    t = time.monotonic()
    users = ensure_users(ld, nusers)
    log("%d users ready in %.1f s" % (nusers, time.monotonic() - t))
    sizes = group_sizes(args.groups, nusers, big)
    ngroups, nvalues = len(sizes), sum(sizes)
    log("workload: %d groups, %d member values (biggest group %d)" % (ngroups, nvalues, big))
    ld.modify("".join("dn: %s\nchangetype: add\nobjectClass: organizationalUnit\n\n" % dn
                      for dn in [root_ou] + ["OU=%s,%s" % (p, root_ou)
                                             for p in ("ldif", "w1", "w2")]))
    res = {}
    rc = 0
    try:
        # (a) raw ceiling
        ids_a = group_ids(run + "/a", ngroups)
        ldif = ldif_state("OU=ldif," + root_ou, ids_a, sizes, users, args.chunk)
        res["a"] = ld.modify(ldif)
        verify(ld, "OU=ldif," + root_ou, ids_a, sizes)
        log("(a) ldapmodify: %.2f s" % res["a"])

        # (b) pipeline, one worker and two workers
        for tag, nw in (("w1", 1), ("w2", 2)):
            ids = group_ids(run + "/" + tag, ngroups)
            topic = "wb-bench-%s-%s" % (run, tag)
            lines = events(ids, sizes, users, args.chunk)
            p = subprocess.run([producer, boot, topic, str(args.partitions)],
                               input="\n".join(lines).encode() + b"\n", stdout=subprocess.PIPE)
            if p.returncode != 0:
                raise RuntimeError("wb-bench-produce failed")
            log("(b) %s: %d events in topic %s" % (tag, len(lines), topic))
            dt, writes, hwm, fw, ops = run_workers(build, work, tag, nw, topic,
                                                   "bench-" + run + tag,
                                                   "OU=%s,%s" % (tag, root_ou), len(lines), 1800)
            verify(ld, "OU=%s,%s" % (tag, root_ou), ids, sizes)
            res[tag] = (dt, writes, hwm, fw, len(lines), ops)
            log("(b) %d worker(s): %.2f s (first LDAP write after %.2f s), %d LDAP writes, "
                "peak RSS %.1f MiB" % (nw, dt, fw, writes, hwm / 1024))
            log("(b) %d worker(s), LDAP time by operation: %s" % (nw, ", ".join(
                "%s %d ops %.2f s" % (op, c, sec) for op, (c, sec) in sorted(ops.items()))))
            if tag == "w1":
                rdt, rwrites, _, _, _ = run_workers(build, work, "replay", 1, topic,
                                                 "bench-" + run + "replay",
                                                 "OU=w1," + root_ou, len(lines), 1800)
                res["replay"] = (rdt, rwrites, len(lines))
                log("replay: %.2f s, %d LDAP writes" % (rdt, rwrites))
    except RuntimeError as e:
        log("FAILED: %s" % e)
        rc = 1
    finally:
        if not args.keep:
            ld.delete_tree(root_ou)
            if rc == 0:
                shutil.rmtree(work, ignore_errors=True)

    if rc:
        return rc
    a = res["a"]
    print()
    print("=== writeback worker benchmark: %d groups, %d member values, %d users, biggest "
          "group %d%s ===" % (ngroups, nvalues, nusers, big,
                               " [sanitizer build]" if sanitized else ""))
    print("%-34s %9s %10s %14s %8s" % ("", "seconds", "groups/s", "values/s", "b/a"))
    print("%-34s %9.2f %10.1f %14.0f %8s" % ("(a) ldapmodify, batched LDIF", a, ngroups / a,
                                             nvalues / a, "-"))
    for tag, label in (("w1", "(b) pipeline, 1 worker"), ("w2", "(b) pipeline, 2 workers")):
        dt = res[tag][0]
        print("%-34s %9.2f %10.1f %14.0f %8.2f" % (label, dt, ngroups / dt, nvalues / dt, a / dt))
    print("(b) times run from worker start (bind, group join, fetch) to the last event applied;"
          " target b/a >= 0.8")
    for tag, label in (("w1", "1 worker"), ("w2", "2 workers")):
        print("LDAP time of (b) %s, summed over workers: %s" % (label, ", ".join(
            "%s %d ops %.2f s" % (op, c, sec) for op, (c, sec) in sorted(res[tag][5].items()))))
    r = res["replay"]
    print("replay of the converged topic (%d events, new consumer group): %.2f s, %d LDAP "
          "writes (target 0)" % (r[2], r[0], r[1]))
    print("worker peak RSS (VmHWM) over the 1-worker run incl. the %d-member group: %.1f MiB "
          "(target < 64 MiB)" % (big, res["w1"][2] / 1024))
    return 0


if __name__ == "__main__":
    sys.exit(main())
