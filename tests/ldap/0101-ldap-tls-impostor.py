"""An impostor LDAPS server on loopback (a self-signed certificate, a Python ssl socket that
records what it receives) must never see the bind password, whatever the environment says.

Each case runs the real programs through their connect paths: the worker (its wb_ldap
session, which reconnects by itself) and writebackctl soa-policy (wb_ldap directly), with
LDAPTLS_REQCERT=never in the environment and one of: ldap.ca_file missing, not PEM, a PEM block
libldap cannot load (its TLS context then fails, and libldap used to fall back to the
process-wide one, built from LDAPTLS_REQCERT=never), or a CA that did not issue the impostor's certificate; LDAPTLS_CACERT / LDAPTLS_CACERTDIR naming the
impostor's certificate; an ldaprc with TLS_REQCERT never in HOME and in the working directory.
Every case must refuse before sending the bind. A control case (ldap.ca_file = the impostor's
own certificate) must send it, which shows the impostor would notice a leak.
"""
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading

BUILD = os.environ.get("WB_BUILD_DIR") or os.path.join(
    os.environ.get("WB_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")),
    "build", "test")
WORKER = os.path.join(BUILD, "worker", "writeback-worker")
CTL = os.path.join(BUILD, "ctl", "writebackctl")
PASSWORD = "impostor-must-never-see-" + os.urandom(6).hex()


def run(cmd, **kw):
    subprocess.run(cmd, check=True, capture_output=True, **kw)


def self_signed(d, name):
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".pem")
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", key, "-out", crt])
    return key, crt


class Impostor:
    """Accepts TLS connections; records every byte received after a completed handshake."""

    def __init__(self, key, crt):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(crt, key)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.received = b""
        self.handshakes = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.one, args=(c,), daemon=True).start()

    def one(self, c):
        c.settimeout(5)
        try:
            with self.ctx.wrap_socket(c, server_side=True) as t:
                with self.lock:
                    self.handshakes += 1
                while True:
                    data = t.recv(4096)
                    if not data:
                        return
                    with self.lock:
                        self.received += data
        except (OSError, ssl.SSLError):
            return
        finally:
            c.close()

    def take(self):
        with self.lock:
            got, hs = self.received, self.handshakes
            self.received, self.handshakes = b"", 0
        return got, hs


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_conf(d, port, ca_file):
    pw = os.path.join(d, "password")
    with open(os.open(pw, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(PASSWORD + "\n")  # 0600: the programs refuse secret files others can read
    keys = {
        "kafka.bootstrap.servers": "127.0.0.1:9",
        "ldap.uri": "ldaps://127.0.0.1:%d" % port,
        "ldap.bind_dn": "CN=Administrator,CN=Users,DC=wb,DC=test",
        "ldap.password_file": pw,
        "ldap.base_dn": "DC=wb,DC=test",
        "ldap.target_ou": "OU=Writeback,DC=wb,DC=test",
        "ldap.timeout_ms": "5000",
        "worker.metrics_listen": "127.0.0.1:%d" % free_port(),
    }
    if ca_file:
        keys["ldap.ca_file"] = ca_file
    path = os.path.join(d, "wb.conf")
    with open(path, "w") as f:
        f.write("".join("%s = %s\n" % kv for kv in keys.items()))
    return path


def programs(conf):
    return {
        "worker (wb_ldap session)": [WORKER, "-c", conf],
        "writebackctl soa-policy (wb_ldap)": [CTL, "-c", conf, "soa-policy", "show"],
    }


def main():
    d = tempfile.mkdtemp(prefix="wb-0101-")
    try:
        key, crt = self_signed(d, "impostor")
        _, other_ca = self_signed(d, "other-ca")
        garbage = os.path.join(d, "garbage.pem")
        with open(garbage, "w") as f:
            f.write("not a certificate\n")
        corrupt = os.path.join(d, "corrupt.pem")
        with open(corrupt, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n"
                    "-----END CERTIFICATE-----\n")
        cadir = os.path.join(d, "cadir")
        os.mkdir(cadir)
        shutil.copy(crt, cadir)
        run(["openssl", "rehash", cadir])
        home = os.path.join(d, "home")
        os.mkdir(home)
        rc = "TLS_REQCERT never\nTLS_CACERT %s\n" % crt
        for p in (os.path.join(home, ".ldaprc"), os.path.join(home, "ldaprc"),
                  os.path.join(d, "ldaprc")):
            with open(p, "w") as f:
                f.write(rc)
        imp = Impostor(key, crt)
        never = {"LDAPTLS_REQCERT": "never"}
        cases = [
            ("ldap.ca_file missing", os.path.join(d, "no-such-ca.pem"), never),
            ("ldap.ca_file not PEM", garbage, never),
            ("ldap.ca_file a corrupt PEM block", corrupt, never),
            ("ldap.ca_file another CA, LDAPTLS_CACERT=impostor", other_ca,
             dict(never, LDAPTLS_CACERT=crt)),
            ("ldap.ca_file another CA, LDAPTLS_CACERTDIR=impostor", other_ca,
             dict(never, LDAPTLS_CACERTDIR=cadir)),
            ("ldap.ca_file unset, LDAPTLS_CACERT=impostor", None, dict(never, LDAPTLS_CACERT=crt)),
            ("ldap.ca_file unset, ldaprc in HOME and cwd", None, dict(never, HOME=home)),
            ("ldap.ca_file another CA, ldaprc in HOME and cwd", other_ca, dict(never, HOME=home)),
        ]
        failures = []
        for name, ca, env in cases + [("control: ldap.ca_file = impostor's certificate", crt, {})]:
            conf = write_conf(d, imp.port, ca)
            for prog, cmd in programs(conf).items():
                e = dict(os.environ, ASAN_OPTIONS="detect_leaks=1", **env)
                p = subprocess.run(cmd, cwd=d, env=e, capture_output=True, text=True, timeout=60)
                got, hs = imp.take()
                leaked = PASSWORD.encode() in got
                err = (p.stderr.strip().splitlines() or [""])[-1][:200]
                print("%-55s %-35s exit=%d handshakes=%d password_seen=%s | %s" %
                      (name, prog, p.returncode, hs, leaked, err))
                if "runtime error" in p.stderr or "Sanitizer" in p.stderr:
                    failures.append("%s / %s: sanitizer report:\n%s" % (name, prog, p.stderr))
                if PASSWORD in p.stdout + p.stderr:
                    failures.append("%s / %s: the password appears in the output" % (name, prog))
                if name.startswith("control"):
                    if not leaked:
                        failures.append("%s / %s: the bind did not reach the impostor, so the "
                                        "other cases prove nothing" % (name, prog))
                elif got:
                    # libldap verifies the certificate once the handshake is done, so a
                    # handshake alone is no leak; any LDAP request after it is.
                    failures.append("%s / %s: sent %d bytes (the bind%s) to the impostor" % (
                        name, prog, len(got), ", with the password" if leaked else ""))
                elif p.returncode == 0:
                    failures.append("%s / %s: exit 0 without a server" % (name, prog))
        if failures:
            print("FAIL:\n  " + "\n  ".join(failures))
            return 1
        print("ok: every connect path refused the impostor before the bind")
        return 0
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
