#!/usr/bin/env bash
# 0990-fresh-root: the README's two commands on a machine where nothing of writeback is
# installed. Builds a minimal Debian 12 root with debootstrap (bookworm, minbase: no JDK, no
# Maven, no compiler, no Samba), copies a clean `git clone` of this checkout's branch into it and,
# chrooted there in a network namespace of its own, runs
#   ./tests/run.sh                              (installs the Debian packages, builds, all tests)
#   ./deploy/quickstart.sh --demo-size small    (foreground, until --stop from a second shell)
#   ./deploy/quickstart.sh --stop
# then prints where each minute went. Fails on any failure. Label `fresh`: not in the default
# ./tests/run.sh; run it as root with `bash tests/fresh/0990-fresh-root.sh` (30-60 min).
#
# Only committed work is tested (the clone). The root is built from a cached debootstrap tarball
# (<state>/fresh-root/bookworm-minbase.tar, made on first use) and unpacked anew every run, so
# each run starts without any package the project needs. The namespace has no route out: apt
# and Maven inside reach Debian's archive and Maven Central through a small forwarding proxy
# (allow-listed hosts only) whose listening socket is in the namespace and whose outgoing
# connections are made from the host's namespace; it is configured in the root's apt.conf.d and
# ~/.m2/settings.xml, the way a user behind a proxy would; the host's locally added CA
# certificates (/usr/local/share/ca-certificates) are copied in for the same reason. Environment:
#   WB_STATE_DIR         state directory (<repo>/.wb); the root lives in $WB_STATE_DIR/fresh-root
#   WB_FRESH_MIRROR      Debian mirror (default: the one the host's apt sources name)
#   WB_FRESH_SECURITY    Debian security archive (default: the host's)
#   WB_FRESH_ALLOW       more hosts the proxy lets through, comma-separated
#   WB_FRESH_QS_TIMEOUT  seconds the quickstart may take to reach its wait loop (1800)
set -euo pipefail
# All of it in one block, so bash has read the whole file before running any of it: an edit
# (a `git pull`) during the hour this takes cannot change what runs.
{
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
state=${WB_STATE_DIR:-$repo/.wb}/fresh-root
rootfs=$state/root
qs_timeout=${WB_FRESH_QS_TIMEOUT:-1800}
proxy_port=3142
# The registries this machine is set up for, named by its own configuration rather than here:
# Debian's archive and security archive from the host's apt sources, Maven's repository from
# the super POM of the installed Maven. Prints "MIRROR SECURITY MAVEN_URL".
registries() {
    python3 - <<'PYEOF'
import glob, re, sys, zipfile
src = []  # (uri, suites)
for f in glob.glob("/etc/apt/sources.list") + glob.glob("/etc/apt/sources.list.d/*.list"):
    for line in open(f):
        m = re.match(r"\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", line)
        if m:
            src.append((m.group(1), [m.group(2)]))
for f in glob.glob("/etc/apt/sources.list.d/*.sources"):
    for stanza in open(f).read().split("\n\n"):
        kv = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.M))
        if "deb" in kv.get("Types", "").split() and kv.get("Enabled", "yes") != "no":
            for uri in kv.get("URIs", "").split():
                src.append((uri, kv.get("Suites", "").split()))
def find(suite):
    for uri, suites in src:
        if suite in suites:
            return uri.rstrip("/")
    sys.exit("fresh: no apt source for %s on this machine" % suite)
maven = None
for jar in glob.glob("/usr/share/maven/lib/maven-model-builder*.jar"):
    pom = zipfile.ZipFile(jar).read("org/apache/maven/model/pom-4.0.0.xml").decode()
    maven = re.search(r"<url>(\S+?)</url>", pom).group(1)
if not maven:
    sys.exit("fresh: cannot read Maven's central repository from the installed Maven")
print(find("bookworm"), find("bookworm-security"), maven)
PYEOF
}
read -r host_mirror host_security maven_repo < <(registries) || true
[ -n "${maven_repo:-}" ] || { echo "fresh: cannot tell which registries this machine uses" >&2; exit 1; }
mirror=${WB_FRESH_MIRROR:-$host_mirror}
security=${WB_FRESH_SECURITY:-$host_security}
hostof() { python3 -c 'import sys,urllib.parse;print(urllib.parse.urlsplit(sys.argv[1]).hostname)' "$1"; }
# the proxy lets through only these hosts (WB_FRESH_ALLOW adds more, comma-separated)
allow=$(hostof "$mirror"),$(hostof "$security"),$(hostof "$maven_repo")${WB_FRESH_ALLOW:+,$WB_FRESH_ALLOW}
home_in_root=/root # root's home inside the new root, where the clone goes
chroot_env=(env -i HOME=$home_in_root USER=root LOGNAME=root LANG=C.UTF-8 TERM=dumb
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)

say() { printf '[fresh %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() {
    say "FAIL: $*" >&2
    exit 1
}

# ------------------------------------------------------------------ inside the namespace
# Runs under `ip netns exec`, which gives it a mount namespace of its own (a slave of the
# host's), so the mounts below never show on the host; they are also unmounted on exit.
inner() {
    local log=$1 i
    mounts=()
    rc=0
    qs_pid=""
    cleanup_inner() {
        local pid m
        # anything still running in the root is a failure of --stop or of run.sh's cleanup
        for pid in $(ip netns pids "$(ip netns identify $$)" 2>/dev/null); do
            [ "$pid" = $$ ] && continue
            if [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$rootfs" ]; then
                say "left running in the root: pid $pid $(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -c1-120)"
                kill -KILL "$pid" 2>/dev/null || true
                rc=1
            fi
        done
        for ((m = ${#mounts[@]} - 1; m >= 0; m--)); do
            umount "${mounts[$m]}" 2>/dev/null || umount -l "${mounts[$m]}" || true
        done
    }
    trap cleanup_inner EXIT
    mnt() { # mount ARGS... TARGET
        mount "$@"
        mounts+=("${!#}")
    }
    mnt -t proc proc "$rootfs/proc"
    mnt -t sysfs sysfs "$rootfs/sys"
    mnt --bind /dev "$rootfs/dev"
    mnt -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$rootfs/dev/pts"
    mnt -t tmpfs -o mode=1777 shm "$rootfs/dev/shm"

    # Every output line goes to the terminal as it comes and to the log with the epoch second
    # and the step's name: "EPOCH<TAB>STEP<TAB>line".
    stamp() {
        local line
        while IFS= read -r line; do
            printf '%(%s)T\t%s\t%s\n' -1 "$1" "$line" >>"$log"
            printf '%s\n' "$line"
        done
    }
    in_root() { chroot "$rootfs" "${chroot_env[@]}" bash -c "cd $home_in_root/writeback && $1"; }
    step_run() { # name command
        local s
        printf '%(%s)T\t%s\t%s\n' -1 "$1" "== begin: $2" >>"$log"
        set +e
        in_root "$2" 2>&1 | stamp "$1"
        s=${PIPESTATUS[0]}
        set -e
        printf '%(%s)T\t%s\t%s\n' -1 "$1" "== end: exit $s" >>"$log"
        return "$s"
    }

    step_run run.sh "./tests/run.sh" || { say "./tests/run.sh failed"; exit 1; }

    # The quickstart in the foreground, as the README shows it; stopped from "another terminal".
    printf '%(%s)T\t%s\t%s\n' -1 quickstart "== begin: ./deploy/quickstart.sh --demo-size small" \
        >>"$log"
    (in_root "./deploy/quickstart.sh --demo-size small" 2>&1 | stamp quickstart
        exit "${PIPESTATUS[0]}") &
    qs_pid=$!
    for ((i = 0; i < qs_timeout; i++)); do
        grep -q 'running; press Ctrl-C to stop' "$log" && break
        kill -0 "$qs_pid" 2>/dev/null || break
        sleep 1
    done
    grep -q 'running; press Ctrl-C to stop' "$log" ||
        { kill "$qs_pid" 2>/dev/null; die "the quickstart did not reach its wait loop"; }
    step_run stop "./deploy/quickstart.sh --stop" || die "./deploy/quickstart.sh --stop failed"
    # the foreground quickstart must notice and exit by itself
    for ((i = 0; i < 60; i++)); do
        kill -0 "$qs_pid" 2>/dev/null || break
        sleep 1
    done
    if kill -0 "$qs_pid" 2>/dev/null; then
        kill "$qs_pid" 2>/dev/null || true
        die "the foreground quickstart kept waiting 60 s after --stop"
    fi
    wait "$qs_pid" || rc=$?
    printf '%(%s)T\t%s\t%s\n' -1 quickstart "== end: exit $rc" >>"$log"
    [ "$rc" = 0 ] || die "the foreground quickstart exited $rc after --stop"
    exit "$rc"
}

if [ "${1:-}" = --inner ]; then
    rootfs=$2
    inner "$3"
fi

# ------------------------------------------------------------------ on the host
[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot, mount, ip netns)"
ip route get 1.1.1.1 >/dev/null 2>&1 ||
    die "no route out of this network namespace: run on the host's, the script makes its own"
mkdir -p "$state"
t0=$(date +%s)
log=$state/run-$(date +%Y%m%d-%H%M%S).log
: >"$log"
say "log: $log"

if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

# A stale root must not be mounted anywhere before it is removed.
if findmnt -rno TARGET | grep -qF "$rootfs/"; then
    die "something is still mounted under $rootfs"
fi
rm -rf --one-file-system "$rootfs"

tarball=$state/bookworm-minbase.tar
if [ ! -s "$tarball" ]; then
    say "debootstrap --variant=minbase bookworm (first run; cached in $tarball)"
    printf '%(%s)T\t%s\t%s\n' -1 debootstrap "== begin" >>"$log"
    rm -rf --one-file-system "$state/base"
    debootstrap --variant=minbase bookworm "$state/base" "$mirror" >>"$state/debootstrap.log" 2>&1 ||
        { tail -20 "$state/debootstrap.log"; die "debootstrap failed; see $state/debootstrap.log"; }
    tar -C "$state/base" -cf "$tarball.new" .
    mv "$tarball.new" "$tarball"
    rm -rf --one-file-system "$state/base"
    printf '%(%s)T\t%s\t%s\n' -1 debootstrap "== end: exit 0" >>"$log"
fi
say "unpacking a pristine root into $rootfs"
mkdir -p "$rootfs"
tar -C "$rootfs" -xf "$tarball"

# What a Debian 12 installation has that debootstrap does not write: the full sources list
# (updates, security) and the installer's /etc/hosts.
cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
    "$(hostname)" >"$rootfs/etc/hosts"
hostname >"$rootfs/etc/hostname"
# A certificate authority this machine added locally (a TLS-inspecting egress re-signs Maven
# Central's certificate with one): a user behind such a proxy adds it the same way; the
# ca-certificates package picks it up when install-deps.sh installs it (Java's store as well).
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    mkdir -p "$rootfs/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    say "copied the host's local CA certificates: $(cd /usr/local/share/ca-certificates && echo *.crt)"
fi
# The way out (see the header): a proxy for apt and Maven, nothing else.
cat >"$rootfs/etc/apt/apt.conf.d/90fresh-root-proxy" <<EOF
Acquire::http::Proxy "http://127.0.0.1:$proxy_port";
Acquire::http::Pipeline-Depth "0";
EOF
mkdir -p "$rootfs/root/.m2"
cat >"$rootfs/root/.m2/settings.xml" <<EOF
<settings>
  <proxies>
    <proxy><id>fresh-https</id><active>true</active><protocol>https</protocol>
      <host>127.0.0.1</host><port>$proxy_port</port></proxy>
    <proxy><id>fresh-http</id><active>true</active><protocol>http</protocol>
      <host>127.0.0.1</host><port>$proxy_port</port></proxy>
  </proxies>
</settings>
EOF

branch=$(git -C "$repo" rev-parse --abbrev-ref HEAD)
commit=$(git -C "$repo" rev-parse HEAD)
[ -z "$(git -C "$repo" status --porcelain --untracked-files=no)" ] ||
    say "note: uncommitted changes in $repo are not part of this run (a clone of $commit is)"
git clone -q --no-hardlinks --branch "$branch" "$repo" "$rootfs/root/writeback"
[ "$(git -C "$rootfs/root/writeback" rev-parse HEAD)" = "$commit" ] || die "clone is not at $commit"
say "clean clone of $branch at ${commit:0:12} in the root"

ns=wbfresh$$
proxy_pid=""
cleanup() {
    [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null
    ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
python3 - "/run/netns/$ns" "$proxy_port" "$allow" >>"$state/proxy.log" 2>&1 <<'EOF' &
# Listens on 127.0.0.1:PORT inside the namespace, connects out from the host's namespace, for
# the allow-listed hosts only; CONNECT for https, absolute-URI GET for http (one request per
# connection).
import ctypes, os, socket, sys, threading, urllib.parse
ns_path, port, allow = sys.argv[1], int(sys.argv[2]), set(sys.argv[3].split(","))
libc = ctypes.CDLL(None, use_errno=True)
home = os.open("/proc/self/ns/net", os.O_RDONLY)
if libc.setns(os.open(ns_path, os.O_RDONLY), 0x40000000):
    raise OSError(ctypes.get_errno(), "setns " + ns_path)
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(64)
if libc.setns(home, 0x40000000):
    raise OSError(ctypes.get_errno(), "setns back")

def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    try:
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass

def handle(c):
    up = None
    try:
        buf = b""
        while b"\r\n\r\n" not in buf and len(buf) < 65536:
            d = c.recv(65536)
            if not d:
                return
            buf += d
        head, rest = buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        method, target, ver = lines[0].decode("latin-1").split(" ", 2)
        if method == "CONNECT":
            host, _, p = target.rpartition(":")
            port_ = int(p)
        else:
            u = urllib.parse.urlsplit(target)
            host, port_ = u.hostname, u.port or 80
            keep = [l for l in lines[1:] if not l.lower().startswith((b"connection:",
                                                                       b"proxy-connection:"))]
            head = b"\r\n".join([lines[0]] + keep + [b"Connection: close"])
        print(method, host, port_, flush=True)
        if host not in allow:
            c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        up = socket.create_connection((host, port_), timeout=60)
        up.settimeout(None)
        if method == "CONNECT":
            c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                up.sendall(rest)
        else:
            up.sendall(head + b"\r\n\r\n" + rest)
        t = threading.Thread(target=pipe, args=(up, c), daemon=True)
        t.start()
        pipe(c, up)
        t.join()
    except Exception as e:
        print("error:", e, flush=True)
    finally:
        c.close()
        if up:
            up.close()

while True:
    conn, _ = srv.accept()
    threading.Thread(target=handle, args=(conn,), daemon=True).start()
EOF
proxy_pid=$!
for ((i = 0; i < 50; i++)); do
    ip netns exec "$ns" bash -c "(exec 3<>/dev/tcp/127.0.0.1/$proxy_port) 2>/dev/null" && break
    kill -0 "$proxy_pid" 2>/dev/null || die "the proxy exited; see $state/proxy.log"
    sleep 0.1
done

say "running the README's commands in the root (network namespace $ns)"
set +e
ip netns exec "$ns" bash "$here/0990-fresh-root.sh" --inner "$rootfs" "$log"
rc=$?
set -e
printf '%(%s)T\t%s\t%s\n' -1 total "== end: exit $rc" >>"$log"
python3 "$here/fresh_timing.py" "$log" "$t0"
[ "$rc" = 0 ] || die "see $log"
say "PASS in $(($(date +%s) - t0)) s"
exit 0
}
