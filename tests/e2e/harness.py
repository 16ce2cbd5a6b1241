"""End-to-end harness: runs the real writeback-producer and writeback-worker against the Graph
simulator, the test Kafka broker and the Samba AD DC, each test in its own Kafka topics,
consumer group and sub-OU, and compares the AD state with the simulator's expected state.
Python 3 standard library only, plus ldapsearch/ldapadd/ldapmodify/ldapdelete (ldap-utils)
and the Kafka command-line tools run from the broker's jars (.wb/kafka/libs)."""

import base64
import importlib.util
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("WB_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BUILD = os.environ.get("WB_BUILD_DIR") or "/tmp/build-e2e"
STATE = os.environ.get("WB_STATE_DIR") or os.path.join(ROOT, ".wb")
GRAPHSIM = os.path.join(ROOT, "tests", "graphsim", "graphsim.py")
PRODUCER = os.path.join(BUILD, "producer", "writeback-producer")
WORKER = os.path.join(BUILD, "worker", "writeback-worker")
TOPIC_DUMP = os.path.join(BUILD, "producer", "wb-topic-dump")
KEEP = os.environ.get("WB_E2E_KEEP") == "1"   # keep OU, topics and logs after the test

EXT_DN_CONTROL = "!1.2.840.113556.1.4.529=::MAMCAQE="   # extended DN, string form
GROUP_TYPE_UNIVERSAL_SECURITY = -2147483640


def log(msg):
    sys.stderr.write("[e2e %s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


class E2EError(AssertionError):
    """A failed expectation; the message is meant to be read by a person."""


# ------------------------------------------------------------------------ services
def _script_env(script):
    """Runs tests/services/<script> up and returns the variables its export lines set."""
    p = subprocess.run(["bash", os.path.join(ROOT, "tests", "services", script), "up"],
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise E2EError("%s up failed:\n%s" % (script, p.stderr[-2000:]))
    out = {}
    for line in p.stdout.splitlines():
        m = re.match(r"^export (\w+)=(.*)$", line.strip())
        if m:
            out[m.group(1)] = m.group(2)
    return out


def services_env():
    """The WB_TEST_* variables of Kafka and Samba: from the environment (tests/run.sh), else
    from the service scripts (which start the services if needed)."""
    env = {k: v for k, v in os.environ.items() if k.startswith("WB_TEST_")}
    if "WB_TEST_KAFKA_BOOTSTRAP" not in env:
        try:
            env.update(_script_env("kafka.sh"))
        except E2EError:
            # a broker started from another state directory still serves the same address
            s = socket.socket()
            s.settimeout(2)
            try:
                s.connect(("127.0.0.1", 19092))
            except OSError:
                raise
            finally:
                s.close()
            env["WB_TEST_KAFKA_BOOTSTRAP"] = "127.0.0.1:19092"
    if "WB_TEST_LDAP_URI" not in env:
        env.update(_script_env("samba.sh"))
    return env


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(pred, timeout, what, interval=1.0):
    """Polls pred() until it returns something true (returned) or timeout seconds pass."""
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() > deadline:
            raise E2EError("timed out waiting for " + what)
        time.sleep(interval)


def require(programs=(), variables=()):
    """Exits with status 77 (SKIP_RETURN_CODE: CTest lists the test as skipped, not passed)
    after a "SKIP:" line when one of the programs is not built or one of the environment
    variables is unset. For script tests that do not start services themselves (E2E does)."""
    for v in variables:
        if not os.environ.get(v):
            print("SKIP: %s is not set (tests/services/*.sh up, or run through tests/run.sh)" % v)
            sys.exit(77)
    for p in programs:
        if not os.access(p, os.X_OK):
            print("SKIP: %s is not built" % p)
            sys.exit(77)


def load_test(rel):
    """The numbered test script tests/<rel> ("unit/0202-producer-dryrun.py") as a module, for
    the helpers later tests share with it. Loaded once: every caller gets the same module."""
    name = "wbtest_" + os.path.basename(rel).split("-")[0]
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "tests", rel))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


# ------------------------------------------------------------------------ LDAP
def sid_to_str(b):
    if len(b) < 8:
        raise ValueError("SID too short")
    n = b[1]
    auth = int.from_bytes(b[2:8], "big")
    subs = [int.from_bytes(b[8 + 4 * i:12 + 4 * i], "little") for i in range(n)]
    return "S-%d-%d%s" % (b[0], auth, "".join("-%d" % s for s in subs))


def guid_to_str(b):
    return str(uuid.UUID(bytes_le=bytes(b)))


EXT_DN_RE = re.compile(r"^<GUID=([0-9a-fA-F-]{36})>(?:;<SID=([^>]+)>)?;(.*)$", re.S)


def parse_ext_dn(v):
    """'<GUID=g>;<SID=s>;dn' -> (guid, sid or None, dn)."""
    m = EXT_DN_RE.match(v)
    if not m:
        return None, None, v
    return m.group(1).lower(), m.group(2), m.group(3)


BINARY_ATTRS = {"objectguid", "objectsid"}


def parse_ldif(text):
    """ldapsearch -LLL -o ldif-wrap=no output -> [(dn, {attr_lower: [values]})]. Values of
    objectGUID/objectSid stay bytes; everything else is decoded UTF-8."""
    entries = []
    cur = None
    for line in text.split("\n"):
        if not line:
            cur = None
            continue
        if line.startswith("#"):
            continue
        if line.startswith(" ") and cur is not None:
            raise E2EError("unexpected LDIF continuation (ldif-wrap=no expected)")
        name, _, rest = line.partition(":")
        if rest.startswith(":"):
            raw = base64.b64decode(rest[1:].strip())
        else:
            raw = (rest[1:] if rest.startswith(" ") else rest).encode("utf-8")
        lname = name.lower()
        if lname == "dn":
            cur = (raw.decode("utf-8"), {})
            entries.append(cur)
            continue
        if cur is None:
            continue
        if lname not in BINARY_ATTRS:
            raw = raw.decode("utf-8")
        cur[1].setdefault(lname, []).append(raw)
    return entries


def ldif_value(attr, v):
    """One 'attr: value' LDIF line, base64 when the value needs it."""
    s = str(v)
    if (not s or s[0] in " :<" or s[-1] == " " or any(ord(c) > 126 or ord(c) < 32 for c in s)):
        return "%s:: %s" % (attr, base64.b64encode(s.encode("utf-8")).decode())
    return "%s: %s" % (attr, s)


class Ldap:
    """The ldap-utils command-line tools over LDAPS with the test CA."""

    def __init__(self, env, uri=None):
        self.uri = uri or env["WB_TEST_LDAP_URI"]
        self.bind_dn = env["WB_TEST_LDAP_BIND_DN"]
        self.pwfile = env["WB_TEST_LDAP_PASSWORD_FILE"]
        self.base_dn = env["WB_TEST_LDAP_BASE_DN"]
        self.penv = dict(os.environ, LDAPTLS_CACERT=env["WB_TEST_LDAP_CA_FILE"],
                         LDAPTLS_REQCERT="demand")

    def run(self, tool, args, ldif=None, check=True, timeout=600):
        argv = [tool, "-H", self.uri, "-x", "-D", self.bind_dn, "-y", self.pwfile,
                "-o", "nettimeout=10"] + list(args)
        p = subprocess.run(argv, input=ldif.encode("utf-8") if ldif is not None else None,
                           capture_output=True, env=self.penv, timeout=timeout)
        if check and p.returncode != 0:
            raise E2EError("%s %s failed (rc %d): %s" % (
                tool, " ".join(args[:6]), p.returncode,
                p.stderr.decode("utf-8", "replace")[-1500:]))
        return p

    def add(self, ldif):
        self.run("ldapadd", [], ldif)

    def modify(self, ldif):
        self.run("ldapmodify", [], ldif)

    def search(self, base, filt="(objectClass=*)", attrs=(), scope="sub", extended_dn=False,
               check=True):
        args = ["-LLL", "-o", "ldif-wrap=no", "-b", base, "-s", scope]
        if extended_dn:
            args += ["-E", EXT_DN_CONTROL]
        p = self.run("ldapsearch", args + [filt] + list(attrs), check=False)
        if p.returncode == 32 and not check:
            return []
        if p.returncode != 0:
            raise E2EError("ldapsearch -b %s %s failed (rc %d): %s" % (
                base, filt, p.returncode, p.stderr.decode("utf-8", "replace")[-800:]))
        return parse_ldif(p.stdout.decode("utf-8"))

    def exists(self, dn):
        p = self.run("ldapsearch", ["-LLL", "-b", dn, "-s", "base", "(objectClass=*)", "1.1"],
                     check=False)
        return p.returncode == 0

    def delete_tree(self, dn):
        p = self.run("ldapdelete", ["-r", dn], check=False)
        if p.returncode not in (0, 32):
            raise E2EError("ldapdelete -r %s failed: %s" % (
                dn, p.stderr.decode("utf-8", "replace")[-800:]))


# ------------------------------------------------------------------------ Kafka
class Kafka:
    """Kafka's own command-line tools (TopicCommand, ConsoleConsumer, ConsumerGroupCommand)
    run from the broker's jars."""

    def __init__(self, bootstrap):
        self.bootstrap = bootstrap
        libs = os.environ.get("WB_KAFKA_LIBS") or os.path.join(STATE, "kafka", "libs")
        if not os.path.isdir(libs):
            raise E2EError("Kafka jars not found in %s (run tests/services/kafka.sh up or set "
                           "WB_KAFKA_LIBS)" % libs)
        self.java = ["java", "-Xms32m", "-Xmx256m", "-XX:+UseSerialGC",
                     "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData", "-Djava.awt.headless=true",
                     "-Dlog4j2.configurationFile=" + os.path.join(ROOT, "deploy", "kafka",
                                                                  "log4j2.yaml"),
                     "-cp", os.path.join(libs, "*")]

    def tool(self, cls, args, timeout=120, check=True):
        p = subprocess.run(self.java + [cls, "--bootstrap-server", self.bootstrap] + args,
                           capture_output=True, timeout=timeout)
        if check and p.returncode != 0:
            raise E2EError("%s %s failed (rc %d): %s" % (
                cls.rsplit(".", 1)[-1], " ".join(args[:4]), p.returncode,
                p.stderr.decode("utf-8", "replace")[-1500:]))
        return p

    def create_topics(self, specs):
        """specs: [(name, partitions, {config: value})], created in parallel."""
        procs = []
        for name, parts, cfg in specs:
            args = ["--create", "--if-not-exists", "--topic", name, "--partitions", str(parts),
                    "--replication-factor", "1"]
            for k, v in (cfg or {}).items():
                args += ["--config", "%s=%s" % (k, v)]
            procs.append((name, subprocess.Popen(
                self.java + ["org.apache.kafka.tools.TopicCommand", "--bootstrap-server",
                             self.bootstrap] + args,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)))
        for name, p in procs:
            out, err = p.communicate(timeout=120)
            if p.returncode != 0:
                raise E2EError("creating topic %s failed: %s" % (name, err.decode()[-1000:]))

    def delete_topics(self, pattern):
        """Deletes every topic matching the regular expression (TopicCommand accepts one)."""
        self.tool("org.apache.kafka.tools.TopicCommand", ["--delete", "--if-exists", "--topic",
                                                          pattern], check=False)

    def dump(self, topic, timeout_ms=60000):
        """Every record of the topic, read_committed, up to each partition's high watermark at
        the time of reading: [{partition, offset, headers: {k: v}, key, value}] (strings)."""
        p = subprocess.run([TOPIC_DUMP, self.bootstrap, topic, str(timeout_ms)],
                           capture_output=True, timeout=timeout_ms / 1000 + 60)
        if p.returncode != 0:
            raise E2EError("wb-topic-dump %s failed (rc %d): %s" % (
                topic, p.returncode, p.stderr.decode("utf-8", "replace")[-1000:]))
        recs = []
        for line in p.stdout.decode("utf-8", "replace").splitlines():
            if line.strip():
                r = json.loads(line)
                recs.append({"partition": r["p"], "offset": r["o"], "key": r["k"],
                             "value": r["v"], "headers": r.get("h") or {}})
        return recs

    def consume(self, topic, idle_ms=4000, max_messages=None, read_committed=False):
        """Every record of the topic from the beginning, until idle_ms pass without one:
        [{partition, offset, headers: {k: v}, key, value}] (strings, UTF-8)."""
        fs, rs = "\x1f", "\x1e"
        args = ["--topic", topic, "--from-beginning", "--timeout-ms", str(idle_ms),
                "--formatter-property", "print.partition=true",
                "--formatter-property", "print.offset=true",
                "--formatter-property", "print.headers=true",
                "--formatter-property", "print.key=true",
                "--formatter-property", "print.value=true",
                "--formatter-property", "key.separator=" + fs,
                "--formatter-property", "headers.separator=" + rs,
                "--formatter-property", "line.separator=\x1d\n",
                "--command-property", "group.id=wb-e2e-reader-" + secrets.token_hex(4)]
        if read_committed:
            args += ["--isolation-level", "read_committed"]
        if max_messages:
            args += ["--max-messages", str(max_messages)]
        p = self.tool("org.apache.kafka.tools.consumer.ConsoleConsumer", args, timeout=300,
                      check=False)
        text = p.stdout.decode("utf-8", "replace")
        recs = []
        for chunk in text.split("\x1d\n"):
            # the tool also prints warnings and log lines on stdout: a record starts a line
            # with "Partition:"
            m = re.search(r"(?:^|\n)(Partition:\d+\x1f.*)$", chunk, re.S)
            if not m:
                continue
            parts = m.group(1).split(fs)
            if len(parts) < 5:
                raise E2EError("unparsable console-consumer record: %r" % chunk[:300])
            rec = {"partition": int(parts[0].split(":", 1)[1]),
                   "offset": int(parts[1].split(":", 1)[1]), "headers": {}}
            hdr = parts[2]
            if hdr != "NO_HEADERS":
                for h in hdr.split(rs):
                    k, _, v = h.partition(":")
                    rec["headers"][k] = v
            rec["key"] = parts[3]
            rec["value"] = fs.join(parts[4:])
            recs.append(rec)
        return recs

    def group_lag(self, group):
        """{partition: (current, end, lag)} of a consumer group on every topic, or {}."""
        p = self.tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
                      ["--describe", "--group", group], check=False)
        out = {}
        for line in p.stdout.decode().splitlines():
            f = line.split()
            if len(f) >= 6 and f[0] == group and f[2].isdigit():
                cur = None if f[3] == "-" else int(f[3])
                end = None if f[4] == "-" else int(f[4])
                lag = None if f[5] == "-" else int(f[5])
                out[(f[1], int(f[2]))] = (cur, end, lag)
        return out


# ------------------------------------------------------------------------ processes
class Proc:
    """A subprocess with its output in a log file."""

    def __init__(self, name, argv, logpath, env=None, cwd=None):
        self.name = name
        self.argv = argv
        self.logpath = logpath
        self.logf = open(logpath, "ab")
        self.p = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                  start_new_session=True)
        self.rc = None
        self.metrics_port = None

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def wait(self, timeout):
        try:
            self.rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.rc

    def stop(self, timeout=30):
        """SIGTERM, then SIGKILL after timeout; returns the exit status."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                log("%s ignored SIGTERM for %ds; killing it" % (self.name, timeout))
                self.p.kill()
                self.p.wait()
        self.rc = self.p.returncode
        self.logf.close()
        return self.rc

    def kill9(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        self.rc = self.p.returncode
        self.logf.close()

    def log_text(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def tail(self, n=40):
        lines = [ln for ln in self.log_text().splitlines()
                 if "0 groups changed, 0 events" not in ln]
        return "\n".join(lines[-n:])

    def sanitizer_errors(self):
        t = self.log_text()
        return [ln for ln in t.splitlines()
                if "ERROR: AddressSanitizer" in ln or "ERROR: LeakSanitizer" in ln
                or "runtime error:" in ln]


def parse_metrics(text):
    """Prometheus text -> {(name, frozenset(labels.items())): value}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)', line)
        if not m:
            continue
        labels = {}
        if m.group(3):
            for lm in re.finditer(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3)):
                labels[lm.group(1)] = lm.group(2)
        try:
            out[(m.group(1), frozenset(labels.items()))] = float(m.group(4))
        except ValueError:
            pass
    return out


def metric_sum(metrics, name, **labels):
    """Sum of every series of name whose labels include the given ones."""
    want = set(labels.items())
    return sum(v for (n, ls), v in metrics.items() if n == name and want <= set(ls))


# ------------------------------------------------------------------------ outage proxy
class TcpProxy:
    """A TCP relay on 127.0.0.1 to a server; down() drops every connection and closes the
    listening port (clients see resets, then connection refused), up() listens again on the
    same port. Simulates a server outage without stopping a shared server."""

    def __init__(self, host, port):
        self.target = (host, port)
        self.lsock = None
        self.port = 0
        self.conns = set()
        self.lock = threading.Lock()
        self.up()

    def up(self):
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(64)
        self.port = ls.getsockname()[1]
        self.lsock = ls
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()

    def down(self):
        ls, self.lsock = self.lsock, None
        if ls:
            try:
                ls.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            ls.close()
        with self.lock:
            conns, self.conns = self.conns, set()
        for c in conns:
            try:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                c.close()
            except OSError:
                pass

    def _accept(self, ls):
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            try:
                s = socket.create_connection(self.target, timeout=5)
                s.settimeout(None)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns.update((c, s))
            for a, b in ((c, s), (s, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for x in (a, b):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# ------------------------------------------------------------------------ Graph simulator
class Sim:
    """The Graph simulator as a subprocess, and its admin API."""

    def __init__(self, workdir, seed, tenant_id, client_id, secret_file, extra_args=()):
        self.tenant_id = tenant_id
        self.client_id = client_id
        seed_file = os.path.join(workdir, "seed.json")
        with open(seed_file, "w", encoding="utf-8") as f:
            json.dump(seed, f, ensure_ascii=False)
        url_file = os.path.join(workdir, "graphsim.url")
        argv = [sys.executable, GRAPHSIM, "--listen", "127.0.0.1:0", "--url-file", url_file,
                "--tenant-id", tenant_id, "--client-id", client_id,
                "--client-secret-file", secret_file, "--seed-file", seed_file] + list(extra_args)
        self.proc = Proc("graphsim", argv, os.path.join(workdir, "graphsim.log"))
        deadline = time.time() + 60
        while not os.path.exists(url_file):
            if not self.proc.alive():
                raise E2EError("graphsim exited during start:\n" + self.proc.tail())
            if time.time() > deadline:
                raise E2EError("graphsim did not start within 60 s:\n" + self.proc.tail())
            time.sleep(0.05)
        with open(url_file) as f:
            self.url = f.read().strip()

    def req(self, method, path, body=None, query=None):
        url = self.url + "/_sim/" + path.lstrip("/")
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode() if body is not None else None
        r = urllib.request.Request(url, data=data, method=method,
                                   headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(r, timeout=60) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            raise E2EError("graphsim %s %s: HTTP %d %s" % (method, path, e.code,
                                                           e.read()[:500].decode()))

    def add_group(self, props, members=()):
        return self.req("POST", "groups", dict(props, members=list(members)))

    def update_group(self, gid, **changes):
        return self.req("PATCH", "groups/" + gid, changes)

    def delete_group(self, gid):
        return self.req("DELETE", "groups/" + gid)

    def members(self, gid, add=(), remove=()):
        return self.req("POST", "groups/%s/members" % gid, {"add": list(add),
                                                             "remove": list(remove)})

    def add_user(self, props):
        return self.req("POST", "users", props)

    def expected(self, target_ou, mode="all", group_ids=None, filt=None):
        q = {"mode": mode, "target_ou": target_ou}
        if group_ids:
            q["group_ids"] = ",".join(group_ids)
        if filt:
            q["filter"] = filt
        return self.req("GET", "expected", query=q)

    def stop(self):
        self.proc.stop(10)


# ------------------------------------------------------------------------ seeds
def new_id():
    return str(uuid.uuid4())


def murmur2(data):
    """Kafka's murmur2 (the Java client's default partitioner, librdkafka murmur2_random)."""
    length = len(data)
    m = 0x5bd1e995
    h = (0x9747b28c ^ length) & 0xffffffff
    for i in range(length // 4):
        i4 = i * 4
        k = data[i4] | (data[i4 + 1] << 8) | (data[i4 + 2] << 16) | (data[i4 + 3] << 24)
        k = (k * m) & 0xffffffff
        k ^= k >> 24
        k = (k * m) & 0xffffffff
        h = (h * m) & 0xffffffff
        h ^= k
    rem = length % 4
    b = length & ~3
    if rem == 3:
        h ^= data[b + 2] << 16
    if rem >= 2:
        h ^= data[b + 1] << 8
    if rem >= 1:
        h ^= data[b]
        h = (h * m) & 0xffffffff
    h ^= h >> 13
    h = (h * m) & 0xffffffff
    h ^= h >> 15
    return h


def partition_of(key, partitions):
    return (murmur2(key.encode("utf-8")) & 0x7fffffff) % partitions


def id_in_partition(partitions, want=None, avoid=(), pred=None):
    """A fresh object id whose events land in partition want (or not in any of avoid)."""
    while True:
        oid = new_id()
        p = partition_of(oid, partitions)
        if (want is None or p == want) and p not in avoid and (pred is None or pred(oid)):
            return oid


def seed_group(name, description=None, members=(), gid=None, **props):
    """A cloud security group for a seed file or POST /_sim/groups."""
    g = {"id": gid or new_id(), "displayName": name, "description": description,
         "securityEnabled": True, "mailEnabled": False, "groupTypes": [],
         "mailNickname": "g" + secrets.token_hex(4), "members": list(members)}
    g.update(props)
    return g


def synced_user(adu):
    """A simulator user synced from the AD user adu (from E2E.create_users)."""
    return {"id": adu["oid"], "displayName": adu["cn"],
            "userPrincipalName": adu["sam"] + "@wb.test",
            "onPremisesSyncEnabled": True, "onPremisesSecurityIdentifier": adu["sid"],
            "onPremisesObjectIdentifier": adu["guid"], "onPremisesSamAccountName": adu["sam"],
            "onPremisesDistinguishedName": adu["dn"], "onPremisesDomainName": "wb.test",
            "accountEnabled": True}


def cloud_user(i):
    return {"id": new_id(), "displayName": "Cloud User %d" % i,
            "userPrincipalName": "cloud%d.%s@graphsim.onmicrosoft.com" % (i, secrets.token_hex(3)),
            "onPremisesSyncEnabled": None, "onPremisesSecurityIdentifier": None,
            "accountEnabled": True}


# ------------------------------------------------------------------------ AD state
def read_ad_groups(ldap, base):
    """Every group under base: {'anchored': {objectId: info}, 'duplicates': [...],
    'unanchored': [info]}; info has dn, parent, cn, displayName, description, sAMAccountName,
    adminDescription, groupType, guid, usnchanged, members [(guid, sid, dn)]."""
    attrs = ["cn", "displayName", "description", "sAMAccountName", "adminDescription",
             "msDS-ExternalDirectoryObjectId", "groupType", "objectGUID", "uSNChanged",
             "member"]
    res = {"anchored": {}, "duplicates": [], "unanchored": [], "by_guid": {}}
    for dn, a in ldap.search(base, "(objectClass=group)", attrs, extended_dn=True):
        guid, _, plain_dn = parse_ext_dn(dn)
        info = {"dn": plain_dn, "guid": guid}
        for k in ("cn", "displayname", "description", "samaccountname", "admindescription",
                  "msds-externaldirectoryobjectid", "usnchanged"):
            v = a.get(k)
            info[k] = v[0] if v else None
        info["grouptype"] = int(a["grouptype"][0]) if a.get("grouptype") else None
        info["parent"] = plain_dn.split(",", 1)[1] if "," in plain_dn else ""
        m = re.match(r"^CN=((?:[^,\\]|\\.)*),(.*)$", plain_dn, re.S | re.I)
        if m:
            info["parent"] = m.group(2)
        members = [parse_ext_dn(v) for v in a.get("member", [])]
        info["members"] = members
        info["member_count"] = len(members)
        res["by_guid"][guid] = info
        anchor = info["msds-externaldirectoryobjectid"]
        if anchor and anchor.startswith("Group_"):
            oid = anchor[6:].lower()
            if oid in res["anchored"]:
                res["duplicates"].append(info)
            else:
                res["anchored"][oid] = info
        else:
            res["unanchored"].append(info)
    return res


def _short(s, n=12):
    s = sorted(s)
    return ", ".join(s[:n]) + (" ... (%d in all)" % len(s) if len(s) > n else "")


def diff_state(expected, ad, target_ou, allow_extra=(), ignore=(), lenient=None):
    """List of human-readable differences between the simulator's expected state and AD.
    allow_extra: anchored groups AD may hold beyond the expected ones; ignore: groups not
    compared at all; lenient: {objectId: attribute names not compared for that group}."""
    problems = []
    lenient = {k.lower(): set(v) for k, v in (lenient or {}).items()}
    exp = {g["objectId"].lower(): g for g in expected["groups"]}
    anchored = ad["anchored"]
    ignore = set(x.lower() for x in ignore)
    allow_extra = set(x.lower() for x in allow_extra)
    for d in ad["duplicates"]:
        problems.append("duplicate anchor %s on %s" % (d["msds-externaldirectoryobjectid"],
                                                       d["dn"]))
    for oid in sorted(set(anchored) - set(exp) - allow_extra - ignore):
        problems.append("extra group in AD: %s (%s)" % (anchored[oid]["dn"], oid))
    # Nested-group members in AD are referenced by GUID: map AD group GUID -> objectId.
    guid_to_oid = {info["guid"]: oid for oid, info in anchored.items()}
    for oid in sorted(exp):
        if oid in ignore:
            continue
        e = exp[oid]
        a = anchored.get(oid)
        if a is None:
            problems.append("missing group in AD: %r (%s)" % (e["cn"], oid))
            continue
        pre = "group %s %r:" % (oid, e["cn"])
        for ek, ak in (("cn", "cn"), ("displayName", "displayname"),
                       ("description", "description"), ("sAMAccountName", "samaccountname"),
                       ("adminDescription", "admindescription")):
            if ek in lenient.get(oid, ()):
                continue
            if (e.get(ek) or None) != (a.get(ak) or None):
                problems.append("%s %s is %r, expected %r" % (pre, ek, a.get(ak), e.get(ek)))
        if a["grouptype"] != e.get("groupType", GROUP_TYPE_UNIVERSAL_SECURITY):
            problems.append("%s groupType is %r" % (pre, a["grouptype"]))
        if a["parent"].lower() != target_ou.lower():
            problems.append("%s parent is %r, expected %r" % (pre, a["parent"], target_ou))
        want_sids = set(e["memberSids"])
        user_sids, groups_in_ad, unknown = set(), set(), []
        for mg, ms, mdn in a["members"]:
            if mg in guid_to_oid:
                groups_in_ad.add(guid_to_oid[mg])
            elif ms:
                user_sids.add(ms)
            else:
                unknown.append(mdn)
        if user_sids != want_sids:
            miss, extra = want_sids - user_sids, user_sids - want_sids
            problems.append("%s user members differ: %d missing [%s], %d extra [%s]" % (
                pre, len(miss), _short(miss, 5), len(extra), _short(extra, 5)))
        want_groups = set(x.lower() for x in e["memberGroups"])
        if groups_in_ad != want_groups:
            problems.append("%s group members are [%s], expected [%s]" % (
                pre, _short(groups_in_ad), _short(want_groups)))
        if unknown:
            problems.append("%s members that are neither our groups nor SIDs: %s" % (
                pre, _short(unknown, 3)))
    return problems


# ------------------------------------------------------------------------ one test's world
class E2E:
    """One end-to-end test environment: its own sub-OU (target OU of the worker), users,
    Kafka topics, consumer group, Graph simulator, producer and workers. Use as a context
    manager; on an exception the logs' tails are printed; everything is removed at the end
    (unless WB_E2E_KEEP=1)."""

    def __init__(self, name, partitions=4):
        self.name = re.sub(r"[^A-Za-z0-9-]", "-", name)
        self.rand = secrets.token_hex(3)
        self.env = services_env()
        self.ldap = Ldap(self.env)
        self.kafka = Kafka(self.env["WB_TEST_KAFKA_BOOTSTRAP"])
        self.partitions = partitions
        root = os.path.join(BUILD, "e2e-work")
        os.makedirs(root, exist_ok=True)
        self.work = tempfile.mkdtemp(prefix="%s-%s-" % (self.name, self.rand), dir=root)
        self.target_ou = self.env["WB_TEST_LDAP_TARGET_OU"]
        self.ou = "OU=e2e-%s-%s,%s" % (self.name, self.rand, self.target_ou)
        self.users_ou = "OU=users,%s" % self.ou
        pfx = "writeback.%s.%s" % (self.name, self.rand)
        self.topics = {"events": pfx + ".events", "dlq": pfx + ".dlq", "state": pfx + ".state"}
        self.topic_prefix = pfx
        self.group_id = "wb-e2e-%s-%s" % (self.name, self.rand)
        self.procs = []
        self.sim = None
        self.users = []
        self.secret_file = os.path.join(self.work, "client.secret")
        with open(self.secret_file, "w") as f:
            f.write("e2e-" + secrets.token_hex(16) + "\n")
        os.chmod(self.secret_file, 0o600)
        self.tenant_id = new_id()
        self.client_id = new_id()
        self.last_diff = None
        self.failed = False

    # ------------------------------------------------------------ set-up and tear-down
    def __enter__(self):
        log("%s: work dir %s, OU %s, topics %s.*" % (self.name, self.work, self.ou,
                                                     self.topic_prefix))
        self.ldap.add("dn: %s\nobjectClass: organizationalUnit\n\n"
                      "dn: %s\nobjectClass: organizationalUnit\n" % (self.ou, self.users_ou))
        self.kafka.create_topics([
            (self.topics["events"], self.partitions, {"retention.ms": 7 * 86400000}),
            (self.topics["dlq"], self.partitions, {}),
            (self.topics["state"], 1, {"cleanup.policy": "compact"})])
        return self

    def __exit__(self, et, ev, tb):
        if et is not None:
            self.failed = True
            self.dump_diagnostics(ev)
        for p in self.procs:
            if p.alive():
                p.stop(20)
        if self.sim:
            self.sim.stop()
        if KEEP:
            log("WB_E2E_KEEP=1: leaving %s, topics %s.* and %s" % (self.ou, self.topic_prefix,
                                                                     self.work))
            return False
        try:
            self.ldap.delete_tree(self.ou)
        except Exception as e:  # noqa: BLE001 (clean-up must not hide the test's result)
            log("cleanup: %s" % e)
        try:
            self.kafka.delete_topics(re.escape(self.topic_prefix) + r"\..*")
        except Exception as e:  # noqa: BLE001
            log("cleanup: %s" % e)
        if not self.failed:
            shutil.rmtree(self.work, ignore_errors=True)
        else:
            log("logs kept in %s" % self.work)
        return False

    def dump_diagnostics(self, exc=None):
        for p in self.procs:
            sys.stderr.write("---- %s (pid %d, %s) last lines of %s ----\n%s\n" % (
                p.name, p.pid, "running" if p.alive() else "exit %s" % p.p.returncode,
                p.logpath, p.tail(60)))
        if self.sim:
            sys.stderr.write("---- graphsim: %s\n" % self.sim.proc.tail(15))
        sys.stderr.flush()

    # ------------------------------------------------------------ AD users
    def create_users(self, n, prefix="u", ou=None):
        """Creates n AD users in one ldapadd and returns [{dn, cn, sam, sid, guid, oid}];
        oid is a fresh Entra object id for the simulator's synced user."""
        ou = ou or self.users_ou
        tag = self.rand
        lines = []
        names = []
        for i in range(n):
            cn = "%s%s%05d" % (prefix, tag, i)
            names.append(cn)
            lines.append("dn: CN=%s,%s\nobjectClass: user\nsAMAccountName: %s\n" % (cn, ou, cn))
        for i in range(0, n, 5000):
            self.ldap.add("\n".join(lines[i:i + 5000]))
        got = {}
        for dn, a in self.ldap.search(ou, "(objectClass=user)", ["cn", "objectSid",
                                                                  "objectGUID", "sAMAccountName"],
                                      scope="one"):
            got[a["cn"][0]] = {"dn": dn, "cn": a["cn"][0], "sam": a["samaccountname"][0],
                               "sid": sid_to_str(a["objectsid"][0]),
                               "guid": guid_to_str(a["objectguid"][0])}
        out = []
        for cn in names:
            if cn not in got:
                raise E2EError("user %s was not created" % cn)
            u = dict(got[cn], oid=new_id())
            out.append(u)
        self.users.extend(out)
        return out

    def user_pool(self, n):
        """n AD users from a pool OU kept between runs (OU=wb-e2e-pool under the base DN),
        created the first time; for tests that need tens of thousands of members. Same
        dicts as create_users, with fresh Entra object ids."""
        pool = "OU=wb-e2e-pool,%s" % self.env["WB_TEST_LDAP_BASE_DN"]
        if not self.ldap.exists(pool):
            self.ldap.add("dn: %s\nobjectClass: organizationalUnit\n" % pool)
        have = {}
        for dn, a in self.ldap.search(pool, "(objectClass=user)", ["cn", "objectSid",
                                                                    "objectGUID", "sAMAccountName"],
                                      scope="one"):
            have[a["cn"][0]] = {"dn": dn, "cn": a["cn"][0], "sam": a["samaccountname"][0],
                                "sid": sid_to_str(a["objectsid"][0]),
                                "guid": guid_to_str(a["objectguid"][0])}
        names = ["wbe2ep%05d" % i for i in range(n)]
        todo = [cn for cn in names if cn not in have]
        if todo:
            t0 = time.time()
            for i in range(0, len(todo), 5000):
                self.ldap.add("\n".join("dn: CN=%s,%s\nobjectClass: user\nsAMAccountName: %s\n"
                                        % (cn, pool, cn) for cn in todo[i:i + 5000]))
            log("created %d pool users in %.1f s" % (len(todo), time.time() - t0))
            return self.user_pool(n)
        return [dict(have[cn], oid=new_id()) for cn in names]

    # ------------------------------------------------------------ simulator
    def start_sim(self, users=(), groups=(), extra_args=()):
        seed = {"tenantId": self.tenant_id, "users": list(users), "groups": list(groups)}
        self.sim = Sim(self.work, seed, self.tenant_id, self.client_id, self.secret_file,
                       extra_args)
        log("graphsim at %s with %d users, %d groups" % (self.sim.url, len(seed["users"]),
                                                          len(seed["groups"])))
        return self.sim

    # ------------------------------------------------------------ configs and processes
    def write_conf(self, fname, keys):
        path = os.path.join(self.work, fname)
        with open(path, "w", encoding="utf-8") as f:
            f.write("# written by tests/e2e/harness.py\n")
            for k, v in keys.items():
                if v is None:
                    continue
                if isinstance(v, bool):
                    v = "true" if v else "false"
                f.write("%s = %s\n" % (k, v))
        return path

    def producer_keys(self, **over):
        keys = {
            "tenant": "e2e",
            "graph.tenant_id": self.tenant_id,
            "graph.client_id": self.client_id,
            "graph.client_secret_file": self.secret_file,
            "graph.authority": self.sim.url,
            "graph.endpoint": self.sim.url,
            "graph.poll_interval_ms": 1000,
            "kafka.bootstrap.servers": self.env["WB_TEST_KAFKA_BOOTSTRAP"],
            "topic.events": self.topics["events"],
            "topic.dlq": self.topics["dlq"],
            "topic.state": self.topics["state"],
            "topic.partitions": self.partitions,
            "producer.transactional_id": "wb-e2e-%s-%s" % (self.name, self.rand),
            "producer.metrics_listen": "127.0.0.1:%d" % free_port(),
        }
        keys.update({k.replace("__", "."): v for k, v in over.items()})
        return keys

    def worker_keys(self, wid, **over):
        keys = {
            "tenant": "e2e",
            "kafka.bootstrap.servers": self.env["WB_TEST_KAFKA_BOOTSTRAP"],
            "topic.events": self.topics["events"],
            "topic.dlq": self.topics["dlq"],
            "ldap.uri": self.env["WB_TEST_LDAP_URI"],
            "ldap.bind_dn": self.env["WB_TEST_LDAP_BIND_DN"],
            "ldap.password_file": self.env["WB_TEST_LDAP_PASSWORD_FILE"],
            "ldap.ca_file": self.env["WB_TEST_LDAP_CA_FILE"],
            "ldap.base_dn": self.env["WB_TEST_LDAP_BASE_DN"],
            "ldap.target_ou": self.ou,
            "worker.group_id": self.group_id,
            "worker.id": "%s-%s" % (self.name, wid),
            "worker.metrics_listen": "127.0.0.1:%d" % free_port(),
        }
        keys.update({k.replace("__", "."): v for k, v in over.items()})
        return keys

    def ctl_keys(self, **over):
        """writebackctl's configuration: the producer's keys (Graph, scope, topics) and the
        workers' ldap.* keys, what provision and drift report need."""
        keys = self.producer_keys()
        keys.update({k: v for k, v in self.worker_keys("ctl").items() if k.startswith("ldap.")})
        for k in ("producer.transactional_id", "producer.metrics_listen", "topic.partitions",
                  "graph.poll_interval_ms"):
            keys.pop(k, None)
        keys.update({k.replace("__", "."): v for k, v in over.items()})
        return keys

    def _binary(self, path):
        if not os.access(path, os.X_OK):
            raise E2EError("%s is not built (set WB_BUILD_DIR to the build directory)" % path)
        return path

    def _penv(self):
        return dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
                    UBSAN_OPTIONS="print_stacktrace=1")

    def start_producer(self, name="producer", args=(), **over):
        keys = self.producer_keys(**over)
        conf = self.write_conf(name + ".conf", keys)
        p = Proc(name, [self._binary(PRODUCER), "-c", conf] + list(args),
                 os.path.join(self.work, name + ".log"), env=self._penv())
        p.metrics_port = int(keys["producer.metrics_listen"].rsplit(":", 1)[1])
        self.procs.append(p)
        return p

    def start_worker(self, wid="w1", wait_ready=True, args=(), **over):
        keys = self.worker_keys(wid, **over)
        conf = self.write_conf("worker-%s.conf" % wid, keys)
        p = Proc("worker-" + wid, [self._binary(WORKER), "-c", conf] + list(args),
                 os.path.join(self.work, "worker-%s.log" % wid), env=self._penv())
        ml = keys.get("worker.metrics_listen") or ""
        p.metrics_port = int(ml.rsplit(":", 1)[1]) if ":" in ml else None
        self.procs.append(p)
        if wait_ready and p.metrics_port:
            self.wait_http(p, "/healthz", 30)
        return p

    def wait_http(self, p, path, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not p.alive():
                raise E2EError("%s exited (rc %s) during start:\n%s" % (
                    p.name, p.p.returncode, p.tail()))
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d%s" % (p.metrics_port, path),
                                            timeout=2):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        raise E2EError("%s did not answer %s within %ds:\n%s" % (p.name, path, timeout,
                                                                 p.tail()))

    def stop_all(self, check=True):
        """SIGTERM every running process; with check, each must exit 0 without sanitizer
        reports."""
        bad = []
        for p in self.procs:
            if p.alive():
                rc = p.stop(30)
                if check and rc != 0:
                    bad.append("%s exited %s" % (p.name, rc))
            if check:
                errs = p.sanitizer_errors()
                if errs:
                    bad.append("%s: %s" % (p.name, errs[0]))
        if bad:
            raise E2EError("process problems: " + "; ".join(bad))

    # ------------------------------------------------------------ observations
    def metrics(self, p):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % p.metrics_port,
                                    timeout=5) as r:
            return parse_metrics(r.read().decode("utf-8", "replace"))

    def ad(self):
        return read_ad_groups(self.ldap, self.ou)

    def expected(self, **kw):
        return self.sim.expected(self.ou, **kw)

    def diff(self, allow_extra=(), ignore=(), lenient=None, **kw):
        exp = self.expected(**kw)
        ad = self.ad()
        return diff_state(exp, ad, self.ou, allow_extra, ignore, lenient), exp, ad

    def dead_letters(self):
        """{worker name: {reason: count}} from the metrics of the running workers."""
        out = {}
        for p in self.procs:
            if p.name.startswith("worker") and p.alive() and p.metrics_port:
                try:
                    m = self.metrics(p)
                except OSError:
                    continue
                out[p.name] = {dict(ls).get("reason", "?"): v for (n, ls), v in m.items()
                               if n == "writeback_worker_dead_letters_total" and v > 0}
        return out

    def wait_converged(self, timeout=60, allow_extra=(), ignore=(), settle=0.0, lenient=None,
                       dead_letters_ok=False, **kw):
        """Polls until AD equals the simulator's expected state (then, with settle > 0,
        checks it stays equal that long); raises with a readable diff on timeout, and at once
        when a process exits or (unless dead_letters_ok) a worker dead-letters an event."""
        t0 = time.time()
        deadline = t0 + timeout
        problems = None
        while True:
            for p in self.procs:
                if not p.alive() and p.rc is None and p.name != "graphsim":
                    p.rc = p.p.returncode
                    raise E2EError("%s exited unexpectedly (rc %s)" % (p.name, p.rc))
            if not dead_letters_ok:
                dl = {k: v for k, v in self.dead_letters().items() if v}
                if dl:
                    time.sleep(1)   # let the DLQ write finish, then show the records
                    recs = ["key=%s %s" % (r["key"], {k: v for k, v in r["headers"].items()
                                                       if k in ("wb.reason", "wb.class",
                                                                "wb.ldap.rc",
                                                                "wb.ldap.message")})
                            for r in self.dlq(idle_ms=2000)]
                    raise E2EError("dead letters while waiting for convergence: %s\n  %s" % (
                        dl, "\n  ".join(recs[:10])))
            problems, exp, ad = self.diff(allow_extra, ignore, lenient, **kw)
            if not problems:
                if settle > 0:
                    time.sleep(settle)
                    problems, exp, ad = self.diff(allow_extra, ignore, lenient, **kw)
                if not problems:
                    log("%s: converged in %.1f s (%d groups)" % (self.name, time.time() - t0,
                                                                 exp["count"]))
                    return exp, ad
            if time.time() > deadline:
                break
            time.sleep(1.0)
        self.last_diff = problems
        raise E2EError("AD did not converge within %ds; %d differences:\n  %s" % (
            timeout, len(problems), "\n  ".join(problems[:40])))

    def dlq(self, idle_ms=None):
        """Every dead letter, read up to each partition's end (wb-topic-dump): not "until
        nothing came for a while", which on a loaded machine can return before the consumer
        even joined and so find nothing. idle_ms is accepted for old callers and unused."""
        return self.kafka.dump(self.topics["dlq"])

    def events(self, idle_ms=None):
        """Every committed event, read up to each partition's end (see dlq); idle_ms is
        accepted for old callers and unused."""
        recs = self.kafka.dump(self.topics["events"])
        for r in recs:
            try:
                r["json"] = json.loads(r["value"])
            except ValueError:
                r["json"] = None
        return recs

    def wait_caught_up(self, group=None, timeout=60, events=None):
        """Polls the committed offsets of a consumer group until every partition is past the
        last event in the topic (the topic must not grow meanwhile: stop the producer). Not
        'lag 0': a transactional topic ends with a commit marker that librdkafka's stored
        offsets (last message + 1) never pass, so the tools keep showing a lag of 1."""
        group = group or self.group_id
        if events is None:
            events = self.events(idle_ms=2000)
        want = {}
        for r in events:
            want[r["partition"]] = max(want.get(r["partition"], 0), r["offset"] + 1)
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            lag = self.kafka.group_lag(group)
            cur = {k[1]: v[0] for k, v in lag.items() if k[0] == self.topics["events"]}
            last = cur
            if all((cur.get(p) or 0) >= off for p, off in want.items()):
                return cur
            time.sleep(1)
        raise E2EError("consumer group %s did not reach %s within %ds: committed %s" % (
            group, want, timeout, last))


# ------------------------------------------------------------------------ test runner
def run(tests, argv=None):
    """Runs the given test functions in order (or those named on the command line), prints
    PASS/FAIL with times, exits 1 when one failed."""
    argv = sys.argv[1:] if argv is None else argv

    def on_term(signum, frame):
        raise KeyboardInterrupt("SIGTERM")   # unwinds through E2E.__exit__: clean-up runs
    signal.signal(signal.SIGTERM, on_term)
    sel = [t for t in tests if not argv or t.__name__ in argv or
           any(a in t.__name__ for a in argv)]
    failed = []
    t_all = time.time()
    for t in sel:
        t0 = time.time()
        log("=== %s" % t.__name__)
        try:
            t()
        except Exception:  # noqa: BLE001 (report every failure, run the rest)
            failed.append(t.__name__)
            log("FAIL %s (%.1f s)\n%s" % (t.__name__, time.time() - t0, traceback.format_exc()))
            continue
        log("PASS %s (%.1f s)" % (t.__name__, time.time() - t0))
    log("%d/%d passed in %.1f s%s" % (len(sel) - len(failed), len(sel), time.time() - t_all,
                                      ("; failed: " + ", ".join(failed)) if failed else ""))
    sys.exit(1 if failed or not sel else 0)
