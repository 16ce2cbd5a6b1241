"""The README's first command in reduced size: ./deploy/quickstart.sh --demo-size small --no-wait
must bring the demo up and print a summary that agrees with the Graph simulator's expected
state and with Active Directory as read here independently; --stop must then stop exactly the
processes the quickstart started. Then the foreground form (no --no-wait), twice: --stop from
another shell makes it exit 0 on its own, and a process of the demo that dies makes it exit 1
naming it. No output carries terminal escapes, the Maven step of a first run (kafka.sh
fetching the jars into a new state directory) included. Uses its own quickstart state
directory under the build."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402  (the e2e helpers: LDAP reads, AD/expected comparison)

ROOT = harness.ROOT
QS = os.path.join(ROOT, "deploy", "quickstart.sh")


def fail(msg):
    sys.stderr.write("0950-quickstart: FAIL: %s\n" % msg)
    sys.exit(1)


def read_env(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^(?:export )?(\w+)='?(.*?)'?$", line.strip())
            if m:
                out[m.group(1)] = m.group(2)
    return out


def alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        with open("/proc/%d/status" % pid) as f:
            return "State:\tZ" not in f.read()
    except OSError:
        return False


def summary_number(text, label, pattern=r"(\d+) of (\d+)"):
    m = re.search(r"^\s*%s\s+%s" % (re.escape(label), pattern), text, re.M)
    if not m:
        fail("summary line %r not found in:\n%s" % (label, text))
    return tuple(int(x) for x in m.groups())


def no_escapes(what, text):
    if "\x1b" in text:
        i = text.index("\x1b")
        fail("%s carries a terminal escape: %r" % (what, text[max(0, i - 80):i + 40]))


def maven_step():
    """A first run's Maven step, as the quickstart's output shows it: kafka.sh fetching the
    Kafka jars into a new state directory (Maven itself reads ~/.m2, filled by the services'
    first start)."""
    tmp = tempfile.mkdtemp(prefix="wb-0950-")
    try:
        p = subprocess.run(["bash", os.path.join(ROOT, "tests", "services", "kafka.sh"), "libs"],
                           env=dict(os.environ, WB_STATE_DIR=tmp), capture_output=True,
                           text=True, timeout=600)
        if p.returncode != 0 or not os.listdir(os.path.join(tmp, "kafka", "libs")):
            fail("kafka.sh libs failed (%d): %s" % (p.returncode, p.stderr[-1500:]))
        if "Maven" not in p.stderr:
            fail("kafka.sh libs did not run Maven: %r" % p.stderr)
        no_escapes("kafka.sh's Maven step", p.stdout + p.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def foreground(env, state, how):
    """./deploy/quickstart.sh --demo-size small in the foreground, as the README shows it;
    once it waits, `how` is "stop" (./deploy/quickstart.sh --stop from another shell) or a
    process name of the demo to kill. Returns (exit status, output, seconds from the end of
    --stop or the kill to the exit)."""
    p = subprocess.Popen(["bash", QS, "--demo-size", "small", "--timeout", "600"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, waiting = [], threading.Event()

    def reader():
        for line in p.stdout:
            out.append(line)
            if "press Ctrl-C to stop" in line:
                waiting.set()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    if not waiting.wait(1500):
        p.kill()
        fail("the foreground quickstart did not reach its wait loop:\n" + "".join(out)[-3000:])
    with open(os.path.join(state, "pids")) as f:
        pids = dict(line.split() for line in f)
    t0 = time.time()
    if how == "stop":
        s = subprocess.run(["bash", QS, "--stop"], env=env, capture_output=True, text=True,
                           timeout=300)
        if s.returncode != 0:
            fail("--stop exited %d: %s" % (s.returncode, s.stderr))
        sys.stderr.write("--stop took %.1f s\n" % (time.time() - t0))
    else:
        os.kill(int(pids[how]), signal.SIGKILL)
    t0 = time.time()
    try:
        rc = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        fail("the foreground quickstart still waits 60 s after %s" % (
            "--stop" if how == "stop" else "%s died" % how))
    took = time.time() - t0
    t.join(10)
    text = "".join(out)
    left = [n for n, pid in pids.items() if alive(int(pid))]
    if left:
        fail("still running after the foreground quickstart exited: %s" % left)
    return rc, text, took


def main():
    state = os.path.join(os.environ.get("WB_BUILD_DIR") or "/tmp/build-e2e", "quickstart-test")
    env = dict(os.environ, WB_QUICKSTART_DIR=state)
    maven_step()
    # bad usage is refused with status 2, before anything starts
    for bad in (["--demo-size", "huge"], ["--bogus"], ["--timeout", "x"]):
        p = subprocess.run(["bash", QS] + bad, env=env, capture_output=True, text=True)
        if p.returncode != 2 or "quickstart:" not in p.stderr:
            fail("%s: expected exit 2 with a message, got %d %r" % (bad, p.returncode, p.stderr))

    t0 = time.time()
    p = subprocess.run(["bash", QS, "--demo-size", "small", "--no-wait", "--timeout", "600"],
                       env=env, capture_output=True, text=True, timeout=1500)
    out = p.stdout
    sys.stderr.write(out[-4000:] + "\n" + p.stderr[-3000:] + "\n")
    no_escapes("the quickstart's output", out + p.stderr)
    sys.stderr.write("quickstart took %.0f s, exit %d\n" % (time.time() - t0, p.returncode))
    run = read_env(os.path.join(state, "run.env"))
    pids = []
    with open(os.path.join(state, "pids")) as f:
        for line in f:
            name, pid = line.split()
            pids.append((name, int(pid)))
    try:
        check(p, out, run, state, pids)
    finally:
        s = subprocess.run(["bash", QS, "--stop"], env=env, capture_output=True, text=True,
                           timeout=300)
        if s.returncode != 0:
            fail("--stop exited %d: %s" % (s.returncode, s.stderr))
    deadline = time.time() + 10
    while time.time() < deadline and any(alive(pid) for _, pid in pids):
        time.sleep(0.2)
    left = [n for n, pid in pids if alive(pid)]
    if left:
        fail("still running after --stop: %s" % left)
    if os.path.exists(os.path.join(state, "pids")):
        fail("--stop left the process record behind")
    # services the quickstart reused (the test services) must still answer
    if not os.path.exists(os.path.join(state, "started")):
        ld = harness.Ldap(svc_env(run))
        if not ld.exists(ld.base_dn):
            fail("--stop took down the LDAP server it did not start")

    # the foreground form: --stop from elsewhere ends it; so does a process of the demo dying
    rc, text, took = foreground(env, state, "stop")
    sys.stderr.write("foreground quickstart exited %d %.1f s after --stop\n" % (rc, took))
    if rc != 0 or "stopped by ./deploy/quickstart.sh --stop" not in text:
        fail("after --stop the foreground quickstart exited %d:\n%s" % (rc, text[-2000:]))
    no_escapes("the foreground quickstart's output", text)
    rc, text, took = foreground(env, state, "worker-2")
    sys.stderr.write("foreground quickstart exited %d %.1f s after worker-2 died\n" % (rc, took))
    if rc != 1 or "worker-2 exited" not in text:
        fail("after worker-2 died the foreground quickstart exited %d:\n%s" % (rc, text[-2000:]))
    if os.path.exists(os.path.join(state, "pids")):
        fail("the foreground quickstart left its process record behind")
    print("0950-quickstart: PASS")


def svc_env(run):
    return {k: v for k, v in run.items() if k.startswith("WB_TEST_")}


def check(p, out, run, state, pids):
    if p.returncode != 0:
        fail("quickstart exited %d" % p.returncode)
    for name, pid in pids:
        if not alive(pid):
            fail("%s (pid %d) is not running after --no-wait" % (name, pid))
    if len([n for n, _ in pids if n.startswith("worker")]) != 2 or \
            not any(n == "producer" for n, _ in pids):
        fail("expected one producer and two workers, got %s" % pids)

    # the expected state, straight from the simulator
    q = urllib.parse.urlencode({"target_ou": run["QS_TARGET_OU"]})
    with urllib.request.urlopen(run["QS_GRAPHSIM_URL"] + "/_sim/expected?" + q,
                                timeout=60) as r:
        exp = json.loads(r.read())
    n_groups = len(exp["groups"])
    n_members = sum(len(g["memberSids"]) + len(g["memberGroups"]) for g in exp["groups"])
    cloud_only = sum(g["skippedCloudOnlyUsers"] for g in exp["groups"])
    oos = sum(g["skippedOutOfScopeGroups"] for g in exp["groups"])
    if n_groups < 20 or n_members < 100 or not exp["outOfScope"] or not cloud_only:
        fail("the small demo tenant lacks variety: %d groups, %d members, %d out of scope, "
             "%d cloud-only" % (n_groups, n_members, len(exp["outOfScope"]), cloud_only))
    if not any(g["memberGroups"] for g in exp["groups"]):
        fail("the small demo tenant has no nested groups")

    # AD as read here, compared member by member
    ld = harness.Ldap(svc_env(run))
    ad = harness.read_ad_groups(ld, run["QS_TARGET_OU"])
    problems = harness.diff_state(exp, ad, run["QS_TARGET_OU"])
    if problems:
        fail("AD differs from the expected state:\n  " + "\n  ".join(problems[:20]))

    # the printed summary tells the same numbers
    if "initial sync complete" not in out:
        fail("summary does not say the sync completed")
    if summary_number(out, "Groups created in AD") != (n_groups, n_groups):
        fail("groups line disagrees with the %d expected groups" % n_groups)
    if summary_number(out, "Member values written") != (n_members, n_members):
        fail("member values line disagrees with the %d expected values" % n_members)
    m = re.search(r"Members skipped\s+(.*)", out)
    if not m or ("%d cloud-only users" % cloud_only) not in m.group(1):
        fail("skipped line does not report %d cloud-only users: %r" % (
            cloud_only, m and m.group(1)))
    if oos and ("%d nested groups that are out of scope" % oos) not in m.group(1):
        fail("skipped line does not report %d out-of-scope nested groups" % oos)
    if not re.search(r"Dead letters\s+none", out):
        fail("dead letters reported")
    if not re.search(r"Consumer lag\s+0 messages", out):
        fail("lag not 0 at the end")
    with open(os.path.join(state, "summary.json")) as f:
        s = json.load(f)
    if not s["converged"] or s["groups_in_ad"] != n_groups or s["members_in_ad"] != n_members:
        fail("summary.json disagrees: %s" % s)

    # every URL and command the summary shows works
    for url in re.findall(r"http://127\.0\.0\.1:\d+/metrics", out):
        with urllib.request.urlopen(url, timeout=5) as r:
            if b"writeback_" not in r.read():
                fail("%s has no writeback_ metrics" % url)
        for path in ("/healthz", "/readyz"):
            with urllib.request.urlopen(url.replace("/metrics", path), timeout=5) as r:
                if r.status != 200:
                    fail("%s%s answered %d" % (url, path, r.status))
    cmd = re.search(r"^\s*(LDAPTLS_CACERT=.*?cn member)$", out, re.S | re.M)
    if not cmd:
        fail("no ldapsearch command in the summary")
    ls = subprocess.run(["bash", "-c", cmd.group(1)], capture_output=True, text=True,
                        timeout=60)
    # LDIF writes a DN that is not plain ASCII (the odd demo names) base64-encoded, "dn:: "
    listed = len(re.findall(r"^dn::? ", ls.stdout, re.M))
    if ls.returncode != 0 or listed < n_groups:
        fail("the summary's ldapsearch failed or listed too few groups (%d of %d): %s" % (
            listed, n_groups, ls.stderr))
    ctl = re.search(r"^\s*(\S*writebackctl -c \S+ lag)$", out, re.M)
    if ctl:
        c = subprocess.run(ctl.group(1).split(), capture_output=True, text=True, timeout=120)
        if c.returncode != 0:
            fail("%s exited %d: %s" % (ctl.group(1), c.returncode, c.stderr[-500:]))

    # --status reports the running processes
    env = dict(os.environ, WB_QUICKSTART_DIR=state)
    st = subprocess.run(["bash", QS, "--status"], env=env, capture_output=True, text=True)
    if "running: producer" not in st.stdout:
        fail("--status does not show the running producer: %s" % st.stdout)


if __name__ == "__main__":
    main()
