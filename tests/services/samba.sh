#!/usr/bin/env bash
# samba.sh up|down|env: a throwaway Samba AD DC (realm WB.TEST) for the ldap/e2e tests.
# State lives in ${WB_STATE_DIR:-<repo>/.wb}/samba: provisioned once (schema extended with
# msDS-ExternalDirectoryObjectId and msDS-ObjectSoa, OU=Writeback created, our own CA and a
# server certificate for 127.0.0.1), then started and stopped by PID. stdout carries only the
# `export WB_TEST_LDAP_*=...` lines; everything else goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
state=${WB_STATE_DIR:-$repo/.wb}/samba

realm=WB.TEST
domain=WB
base_dn=DC=wb,DC=test
bind_dn=CN=Administrator,CN=Users,$base_dn
target_ou=OU=Writeback,$base_dn
ldaps_uri=ldaps://127.0.0.1:636
plain_uri=ldap://127.0.0.1:389

conf=$state/etc/smb.conf
pidfile=$state/wb-samba.pid
passfile=$state/admin.pass
sidfile=$state/domain.sid
cafile=$state/tls/ca.pem
marker=$state/provisioned
# samba-tool and Samba's Python bindings live in Debian's python, not a pyenv shim.
py=/usr/bin/python3

# shellcheck source=testtls.sh
. "$here/testtls.sh"

exec 3>&1 1>&2

log() { echo "samba.sh: $*" >&2; }
die() {
    log "error: $*"
    exit 1
}

print_env() {
    cat >&3 <<EOF
export WB_TEST_LDAP_URI=$ldaps_uri
export WB_TEST_LDAP_PLAIN_URI=$plain_uri
export WB_TEST_LDAP_CA_FILE=$cafile
export WB_TEST_LDAP_BIND_DN=$bind_dn
export WB_TEST_LDAP_PASSWORD_FILE=$passfile
export WB_TEST_LDAP_BASE_DN=$base_dn
export WB_TEST_LDAP_TARGET_OU=$target_ou
export WB_TEST_LDAP_DOMAIN_SID=$(cat "$sidfile")
EOF
}

# Our samba process: the PID we recorded, still /usr/sbin/samba, and the PID Samba itself
# wrote into our pid directory (so a recycled PID is never mistaken for ours).
running_pid() {
    local pid
    [[ -s $pidfile ]] || return 1
    pid=$(cat "$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == /usr/sbin/samba ]] || return 1
    grep -q State:.Z "/proc/$pid/status" 2>/dev/null && return 1
    if [[ -s $state/run/samba.pid ]]; then
        [[ $(tr -dc 0-9 <"$state/run/samba.pid") == "$pid" ]] || return 1
    fi
    echo "$pid"
}

ldaps_ok() {
    LDAPTLS_CACERT=$cafile LDAPTLS_REQCERT=demand \
        ldapsearch -o nettimeout=2 -l 5 -H "$ldaps_uri" -x -D "$bind_dn" -y "$passfile" \
        -b "$base_dn" -s base dn >/dev/null 2>&1
}

write_conf() {
    cat >"$conf" <<EOF
# Written by tests/services/samba.sh; a throwaway test domain.
[global]
	netbios name = WBDC
	workgroup = $domain
	realm = $realm
	server role = active directory domain controller
	server services = ldap
	interfaces = lo
	bind interfaces only = yes
	private dir = $state/private
	lock directory = $state
	state directory = $state/state
	cache directory = $state/cache
	binddns dir = $state/bind-dns
	pid directory = $state/run
	log file = $state/log/samba.log
	logging = file
	log level = 1
	max log size = 10000
	dsdb:schema update allowed = true
	ldb:nosync = true
	tls enabled = yes
	tls keyfile = $state/tls/key.pem
	tls certfile = $state/tls/cert.pem
	tls cafile = $state/tls/ca.pem
EOF
}

# Offline, before the first start: the 2016 schema attributes Cloud Sync writes (definitions
# from Samba's copy of the Windows Server 2016 schema), allowed on group and user, and the
# target OU. Prints the domain SID.
extend_schema() {
    "$py" "$repo/deploy/samba/extend-schema.py" "$conf" "$base_dn" "$target_ou"
}

provision() {
    local pass
    log "provisioning a new domain in $state"
    rm -rf "$state"
    mkdir -p "$state"/{etc,run,log,cache}
    (
        umask 077
        # Meets AD complexity: upper, lower, digit, symbol.
        pass="Wb-$(openssl rand -hex 12)-X9"
        printf '%s' "$pass" >"$passfile"
    )
    chmod 600 "$passfile"
    samba-tool domain provision --realm "$realm" --domain "$domain" --server-role dc \
        --dns-backend NONE --backend-store=mdb --adminpass "$(cat "$passfile")" \
        --host-name wbdc --targetdir "$state" \
        --option="netbios name = WBDC" --option="interfaces = lo" --option="bind interfaces only = yes" \
        >"$state/log/provision.log" 2>&1 ||
        die "samba-tool domain provision failed; see $state/log/provision.log"
    write_conf
    wb_make_tls "$state/tls"
    extend_schema >"$sidfile.tmp" 2>"$state/log/schema.log" ||
        die "schema extension failed; see $state/log/schema.log"
    [[ $(cat "$sidfile.tmp") =~ ^S-1-5-21-[0-9-]+$ ]] || die "no domain SID from provisioning"
    mv "$sidfile.tmp" "$sidfile"
    touch "$marker"
}

start() {
    local pid i
    if ss -Hltn '( sport = :636 or sport = :389 )' 2>/dev/null | grep -q .; then
        die "ports 389/636 are already taken by a process this script did not start"
    fi
    rm -f "$state/run/samba.pid"
    # -F: foreground without -i, so a closed stdin does not stop it (docs/microsoft.md, Samba).
    # setsid: the server outlives the caller's process group (ctest, a CI step).
    # The server must not inherit our stdout (a caller's $(...) would never end), the lock of
    # this script, or any other descriptor of the caller: close everything above 2.
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            if ((fd > 2)); then
                eval "exec $fd>&-" 2>/dev/null || true
            fi
        done
        exec setsid samba -s "$conf" -F -M single </dev/null >>"$state/log/samba.out" 2>&1
    ) &
    pid=$!
    echo "$pid" >"$pidfile"
    for ((i = 0; i < 300; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$state/log/samba.out" "$state/log/samba.log" >&2 || true
            rm -f "$pidfile"
            die "samba exited during start-up"
        fi
        if ldaps_ok; then
            log "samba (pid $pid) answers on $ldaps_uri"
            return 0
        fi
        sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    rm -f "$pidfile"
    die "samba did not answer an LDAPS bind+search within 30 s"
}

stop() {
    local pid i
    if ! pid=$(running_pid); then
        log "not running"
        rm -f "$pidfile"
        return 0
    fi
    kill -TERM "$pid"
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        grep -q State:.Z "/proc/$pid/status" 2>/dev/null && break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null && ! grep -q State:.Z "/proc/$pid/status" 2>/dev/null; then
        log "samba (pid $pid) ignored SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
    log "stopped samba (pid $pid)"
}

cmd=${1:-}
mkdir -p "$state"
# One caller at a time: parallel test runs may all call `up`.
exec 9>"$state/../samba.lock"
flock 9

case $cmd in
up)
    t0=$(date +%s%N)
    if running_pid >/dev/null; then
        ldaps_ok || die "samba (pid $(cat "$pidfile")) is running but LDAPS does not answer"
    else
        [[ -f $marker ]] || provision
        start
    fi
    log "up in $((($(date +%s%N) - t0) / 1000000)) ms"
    print_env
    ;;
down)
    stop
    ;;
env)
    [[ -f $marker ]] || die "not provisioned; run: $0 up"
    print_env
    ;;
*)
    echo "usage: $0 up|down|env" >&2
    exit 2
    ;;
esac
