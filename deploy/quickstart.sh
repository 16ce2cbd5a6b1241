#!/usr/bin/env bash
# The one-command demo: installs what is missing, builds writeback, starts (or reuses) a Kafka
# broker and a Samba AD DC, a Graph simulator with a demo tenant whose synced users are real
# users of the demo domain, one producer and two workers; shows the initial sync's progress,
# prints a summary and leaves everything running until Ctrl-C or `--stop`.
#
#   ./deploy/quickstart.sh [--demo-size small|default|large] [--no-wait] [--timeout S]
#   ./deploy/quickstart.sh --stop      stop what the quickstart started (nothing else)
#   ./deploy/quickstart.sh --status    print the last summary and what is running
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
qs=${WB_QUICKSTART_DIR:-$root/.wb/quickstart}
build=${WB_QUICKSTART_BUILD:-$root/build/quickstart}
demo_py=$root/deploy/quickstart/demo.py
started=$qs/started # services this quickstart started: one name a line (kafka, samba)
pids=$qs/pids       # processes of the current run: "name pid" a line
runenv=$qs/run.env  # the current run's settings, sourceable (used by tests/e2e/0950-*)

size=default
wait_mode=1
timeout=900
action=up

usage() {
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    echo
    echo "Demo sizes: small (150 users, 40 groups), default (2,500 users of which 2,000 synced"
    echo "from the demo domain, 500 groups), large (12,000 users, 3,000 groups)."
}

while [ $# -gt 0 ]; do
    case $1 in
    --demo-size)
        [ $# -ge 2 ] || { echo "quickstart: --demo-size needs a value" >&2; exit 2; }
        size=$2
        shift 2
        ;;
    --demo-size=*) size=${1#*=}; shift ;;
    --no-wait) wait_mode=0; shift ;;
    --timeout)
        [ $# -ge 2 ] || { echo "quickstart: --timeout needs seconds" >&2; exit 2; }
        timeout=$2
        shift 2
        ;;
    --stop) action=stop; shift ;;
    --status) action=status; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "quickstart: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[[ $timeout =~ ^[0-9]+$ ]] || { echo "quickstart: --timeout takes whole seconds" >&2; exit 2; }

# users (total), synced share, groups, memberships
case $size in
small) users=150 synced=120 groups=40 members=800 ;;
default) users=2500 synced=2000 groups=500 members=25000 ;;
large) users=12000 synced=10000 groups=3000 members=150000 ;;
*) echo "quickstart: --demo-size must be small, default or large" >&2; exit 2 ;;
esac

step() { printf '\033[1m[quickstart %s]\033[0m %s\n' "$(date +%H:%M:%S)" "$*"; }
[ -t 1 ] || step() { printf '[quickstart %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() {
    echo "quickstart: error: $*" >&2
    exit 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    # the wanted port if nothing listens there, else one the kernel picks
    if ! port_open "$1"; then
        echo "$1"
        return
    fi
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A recorded process is ours only while its command line still names our run directory.
ours() {
    local pid=$1 dir=$2
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir/"
}

stop_processes() {
    local name pid dir i
    [ -s "$pids" ] || return 0
    dir=$(sed -n 's/^QS_RUN_DIR=//p' "$runenv" 2>/dev/null | tr -d "'")
    # The record goes first: a foreground quickstart waiting on this run sees it gone and exits
    # (it checks every few seconds) instead of reporting its processes as crashed.
    mv -f "$pids" "$pids.stopping"
    while read -r name pid; do
        if [ -n "$dir" ] && ours "$pid" "$dir"; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done <"$pids.stopping"
    while read -r name pid; do
        for ((i = 0; i < 150; i++)); do
            [ -n "$dir" ] && ours "$pid" "$dir" || break
            sleep 0.2
        done
        if [ -n "$dir" ] && ours "$pid" "$dir"; then
            echo "quickstart: $name (pid $pid) ignored SIGTERM for 30 s; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        echo "quickstart: stopped $name (pid $pid)" >&2
    done <"$pids.stopping"
    rm -f "$pids.stopping"
}

stop_services() {
    local s
    [ -s "$started" ] || return 0
    # samba first: it takes longest, and the broker may still be flushing
    for s in $(tac "$started"); do
        WB_STATE_DIR=$qs "$root/tests/services/$s.sh" down || true
    done
    rm -f "$started"
}

case $action in
stop)
    stop_processes
    stop_services
    echo "quickstart: stopped what the quickstart started; build in $build and state in $qs kept"
    exit 0
    ;;
status)
    if [ -s "$qs/summary.txt" ]; then cat "$qs/summary.txt"; fi
    if [ -s "$pids" ]; then
        dir=$(sed -n 's/^QS_RUN_DIR=//p' "$runenv" | tr -d "'")
        while read -r name pid; do
            if ours "$pid" "$dir"; then echo "running: $name (pid $pid)"; else echo "gone: $name"; fi
        done <"$pids"
    else
        echo "quickstart: nothing running"
    fi
    exit 0
    ;;
esac

mkdir -p "$qs"
exec 8>"$qs/.lock"
flock -n 8 || die "another quickstart runs with $qs"

t0=$(date +%s)
on_signal() {
    trap - INT TERM
    echo
    step "stopping (Ctrl-C)"
    stop_processes
    stop_services
    exit 130
}
trap on_signal INT TERM

# ---------------------------------------------------------------- 1. packages and build
step "installing Debian packages (only what is missing)"
"$root/deploy/install-deps.sh"

step "building writeback into $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$qs/cmake.log" 2>&1 ||
    { tail -20 "$qs/cmake.log" >&2; die "cmake failed; see $qs/cmake.log"; }
targets=(writeback-producer writeback-worker)
if cmake --build "$build" --target help 2>/dev/null | grep -q 'writebackctl'; then
    targets+=(writebackctl)
fi
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" -- --no-print-directory \
    >"$qs/build.log" 2>&1 || { tail -30 "$qs/build.log" >&2; die "build failed; see $qs/build.log"; }
producer_bin=$build/producer/writeback-producer
worker_bin=$build/worker/writeback-worker
ctl_bin=$build/ctl/writebackctl

# A previous run's processes go; services stay (they are reused below).
stop_processes

# ---------------------------------------------------------------- 2. Kafka and Samba
# The service scripts listen on fixed ports (Kafka 19092, LDAPS 636). A service that already
# answers there (e.g. started by ./tests/run.sh) is reused and left alone by --stop.
envfile=$qs/services.env
: >"$envfile"
if port_open 19092; then
    step "Kafka answers on 127.0.0.1:19092: reusing it"
    echo "export WB_TEST_KAFKA_BOOTSTRAP=127.0.0.1:19092" >>"$envfile"
else
    step "starting Kafka (KRaft, single node; the first run fetches the jars with Maven)"
    grep -qx kafka "$started" 2>/dev/null || echo kafka >>"$started"
    WB_STATE_DIR=$qs "$root/tests/services/kafka.sh" up >>"$envfile"
fi

ldap_ok() {
    LDAPTLS_CACERT=$WB_TEST_LDAP_CA_FILE LDAPTLS_REQCERT=demand ldapsearch -o nettimeout=3 \
        -H "$WB_TEST_LDAP_URI" -x -D "$WB_TEST_LDAP_BIND_DN" -y "$WB_TEST_LDAP_PASSWORD_FILE" \
        -b "$WB_TEST_LDAP_BASE_DN" -s base dn >/dev/null 2>&1
}
samba_env=
if port_open 636; then
    # Whose server is it? Try the credentials we know: the environment, ours, the tests'.
    if [ -n "${WB_TEST_LDAP_URI:-}" ] && ldap_ok; then
        samba_env=$(env | grep '^WB_TEST_LDAP_' | sed 's/^/export /')
    else
        for dir in "$qs" "$root/.wb"; do
            [ -f "$dir/samba/provisioned" ] || continue
            cand=$(WB_STATE_DIR=$dir "$root/tests/services/samba.sh" env 2>/dev/null) || continue
            if (eval "$cand" && ldap_ok); then
                samba_env=$cand
                break
            fi
        done
    fi
    [ -n "$samba_env" ] || die "an LDAP server listens on 127.0.0.1:636 but none of the known \
credentials bind; stop it or export the WB_TEST_LDAP_* variables of tests/services/samba.sh"
    step "Samba AD DC answers on 127.0.0.1:636: reusing it"
else
    step "starting the Samba AD DC (the first run provisions the demo domain, about a minute)"
    grep -qx samba "$started" 2>/dev/null || echo samba >>"$started"
    samba_env=$(WB_STATE_DIR=$qs "$root/tests/services/samba.sh" up)
fi
echo "$samba_env" >>"$envfile"
# shellcheck disable=SC1090
. "$envfile"
base_dn=$WB_TEST_LDAP_BASE_DN
domain=$(echo "$base_dn" | sed 's/[Dd][Cc]=//g; s/,/./g')
users_ou="OU=Quickstart Users,$base_dn"
groups_ou="OU=Quickstart Groups,$base_dn"
ldap_args=(--ldap-uri "$WB_TEST_LDAP_URI" --bind-dn "$WB_TEST_LDAP_BIND_DN"
    --password-file "$WB_TEST_LDAP_PASSWORD_FILE" --ca-file "$WB_TEST_LDAP_CA_FILE")

# ---------------------------------------------------------------- 3. demo domain and tenant
step "demo domain: $synced users in $users_ou (created once, reused later)"
sids=$qs/sids-$synced.jsonl
python3 "$demo_py" users "${ldap_args[@]}" --ou "$users_ou" --count "$synced" --out "$sids"
step "emptying $groups_ou for a fresh initial sync"
python3 "$demo_py" reset-ou "${ldap_args[@]}" --ou "$groups_ou"

run_id=$(date +%Y%m%d%H%M%S)-$$
run=$qs/run-$run_id
mkdir -p "$run"
ls -1dt "$qs"/run-* 2>/dev/null | tail -n +4 | xargs -r rm -rf # keep the last three runs
secret=$qs/graph-client.secret
[ -s "$secret" ] || (umask 077 && openssl rand -hex 24 >"$secret")
tenant_id=8f2a6e0c-3d9b-4c71-a5e2-1b7c9d0e4f36
client_id=11111111-2222-3333-4444-555555555555

: >"$pids"
spawn() { # name log command...: detached from this terminal, output in log
    local name=$1 logf=$2
    shift 2
    setsid "$@" </dev/null >"$logf" 2>&1 &
    echo "$name $!" >>"$pids"
}

# This run's processes are gone because `--stop` (another shell) took them, or a later run
# replaced this one: its record is no longer this run's.
stopped_elsewhere() {
    [ ! -s "$pids" ] || ! grep -qxF "QS_RUN_DIR='$run'" "$runenv" 2>/dev/null
}
exited_processes() { # names of this run's processes that are no longer running
    local name pid
    while read -r name pid; do
        ours "$pid" "$run" || printf '%s ' "$name"
    done <"$pids" 2>/dev/null
}
report_exited() {
    local name
    for name in $1; do
        echo "quickstart: $name exited; last lines of $run/$name.log:" >&2
        tail -15 "$run/$name.log" >&2
    done
}

step "starting the Graph simulator ($users users, $groups groups, $members memberships)"
spawn graphsim "$run/graphsim.log" python3 "$root/tests/graphsim/graphsim.py" \
    --listen 127.0.0.1:0 --url-file "$run/graphsim.url" --tenant-id "$tenant_id" \
    --client-id "$client_id" --client-secret-file "$secret" --users "$users" \
    --groups "$groups" --members "$members" --synced-share "$(python3 -c "print($synced / $users)")" \
    --sids-file "$sids" --domain "$domain" --seed 7
for ((i = 0; i < 600; i++)); do
    [ -s "$run/graphsim.url" ] && break
    ours "$(awk '$1 == "graphsim" {print $2}' "$pids")" "$run" ||
        { tail -20 "$run/graphsim.log" >&2; die "the Graph simulator exited"; }
    sleep 0.1
done
[ -s "$run/graphsim.url" ] || die "the Graph simulator did not start in 60 s; see $run/graphsim.log"
sim=$(cat "$run/graphsim.url")

# ---------------------------------------------------------------- 4. producer and workers
topics=writeback.quickstart.$run_id
p_port=$(free_port 9465)
w_ports=("$(free_port 9464)")
w_ports+=("$(free_port 9466)")
cat >"$run/producer.conf" <<EOF
# Written by deploy/quickstart.sh. For a real tenant change graph.tenant_id, graph.client_id,
# graph.client_secret_file and remove graph.authority/graph.endpoint (see deploy/CONFIG.md).
tenant = quickstart
graph.tenant_id = $tenant_id
graph.client_id = $client_id
graph.client_secret_file = $secret
graph.authority = $sim
graph.endpoint = $sim
graph.poll_interval_ms = 5000
kafka.bootstrap.servers = $WB_TEST_KAFKA_BOOTSTRAP
topic.events = $topics.groups
topic.dlq = $topics.groups.dlq
topic.state = $topics.state
topic.partitions = 12
producer.transactional_id = writeback-quickstart-$run_id
producer.metrics_listen = 127.0.0.1:$p_port
EOF
for n in 1 2; do
    cat >"$run/worker-$n.conf" <<EOF
# Written by deploy/quickstart.sh; ldap.* point at the demo domain.
tenant = quickstart
kafka.bootstrap.servers = $WB_TEST_KAFKA_BOOTSTRAP
topic.events = $topics.groups
topic.dlq = $topics.groups.dlq
ldap.uri = $WB_TEST_LDAP_URI
ldap.bind_dn = $WB_TEST_LDAP_BIND_DN
ldap.password_file = $WB_TEST_LDAP_PASSWORD_FILE
ldap.ca_file = $WB_TEST_LDAP_CA_FILE
ldap.base_dn = $base_dn
ldap.target_ou = $groups_ou
worker.group_id = writeback-quickstart-$run_id
worker.id = quickstart-w$n
worker.metrics_listen = 127.0.0.1:${w_ports[$((n - 1))]}
# A local demo: retry a missing nested group sooner than the production default (60 s cap).
worker.retry_backoff_ms = 200
worker.retry_backoff_max_ms = 5000
EOF
done
# writebackctl reads keys of both sides (only those its table lists for ctl).
cat >"$run/ctl.conf" <<EOF
# Written by deploy/quickstart.sh for writebackctl.
tenant = quickstart
graph.tenant_id = $tenant_id
graph.client_id = $client_id
graph.client_secret_file = $secret
graph.authority = $sim
graph.endpoint = $sim
kafka.bootstrap.servers = $WB_TEST_KAFKA_BOOTSTRAP
topic.events = $topics.groups
topic.dlq = $topics.groups.dlq
topic.state = $topics.state
topic.partitions = 12
ldap.uri = $WB_TEST_LDAP_URI
ldap.bind_dn = $WB_TEST_LDAP_BIND_DN
ldap.password_file = $WB_TEST_LDAP_PASSWORD_FILE
ldap.ca_file = $WB_TEST_LDAP_CA_FILE
ldap.base_dn = $base_dn
ldap.target_ou = $groups_ou
worker.group_id = writeback-quickstart-$run_id
EOF

step "starting one producer and two workers"
spawn producer "$run/producer.log" "$producer_bin" -c "$run/producer.conf"
for n in 1 2; do
    spawn "worker-$n" "$run/worker-$n.log" "$worker_bin" -c "$run/worker-$n.conf"
done

cat >"$runenv" <<EOF
QS_RUN_DIR='$run'
QS_SIZE='$size'
QS_GRAPHSIM_URL='$sim'
QS_TARGET_OU='$groups_ou'
QS_USERS_OU='$users_ou'
QS_TOPIC_PREFIX='$topics'
QS_PRODUCER_METRICS='http://127.0.0.1:$p_port/metrics'
QS_WORKER_METRICS='http://127.0.0.1:${w_ports[0]}/metrics,http://127.0.0.1:${w_ports[1]}/metrics'
QS_CTL_CONF='$run/ctl.conf'
QS_SUMMARY_JSON='$qs/summary.json'
EOF
cat "$envfile" | sed 's/^export //' >>"$runenv"

# ---------------------------------------------------------------- 5. progress and summary
ctl_arg=()
[ -x "$ctl_bin" ] && ctl_arg=(--ctl "$ctl_bin -c $run/ctl.conf")
step "initial sync (groups and member values in AD against the expected total, lag):"
set +e
python3 "$demo_py" watch "${ldap_args[@]}" --ou "$groups_ou" --sim "$sim" \
    --producer-metrics "http://127.0.0.1:$p_port/metrics" \
    --worker-metrics "http://127.0.0.1:${w_ports[0]}/metrics,http://127.0.0.1:${w_ports[1]}/metrics" \
    --summary-json "$qs/summary.json" --timeout "$timeout" "${ctl_arg[@]}" | tee "$qs/summary.txt"
rc=${PIPESTATUS[0]}
set -e
stopped_elsewhere && { step "stopped by ./deploy/quickstart.sh --stop; exiting"; exit 0; }
exited=$(exited_processes)
if [ -n "$exited" ]; then
    report_exited "$exited"
    rc=1
fi

ctl_line="(writebackctl is not built yet)"
[ -x "$ctl_bin" ] && ctl_line="$ctl_bin -c $run/ctl.conf lag"
cat <<EOF | tee -a "$qs/summary.txt"

Metrics:  producer http://127.0.0.1:$p_port/metrics   workers http://127.0.0.1:${w_ports[0]}/metrics http://127.0.0.1:${w_ports[1]}/metrics
          (also /healthz and /readyz on each)
Logs:     $run/{graphsim,producer,worker-1,worker-2}.log
Look around:
  LDAPTLS_CACERT=$WB_TEST_LDAP_CA_FILE ldapsearch -H $WB_TEST_LDAP_URI -x \\
      -D '$WB_TEST_LDAP_BIND_DN' -y $WB_TEST_LDAP_PASSWORD_FILE \\
      -b '$groups_ou' '(objectClass=group)' cn member
  curl -s http://127.0.0.1:${w_ports[0]}/metrics | grep ^writeback_worker_events_total
  $ctl_line
  curl -s -X PATCH $sim/_sim/groups/<id> -d '{"displayName": "Renamed"}'   # then watch AD follow
Stop:     Ctrl-C, or ./deploy/quickstart.sh --stop (stops only what the quickstart started)
EOF
step "done in $(($(date +%s) - t0)) s"

if [ "$wait_mode" = 0 ]; then
    exit "$rc"
fi
step "running; press Ctrl-C to stop (or run ./deploy/quickstart.sh --stop anywhere)"
while :; do
    sleep 2 &
    wait $! || true
    if stopped_elsewhere; then
        step "stopped by ./deploy/quickstart.sh --stop; exiting"
        exit 0
    fi
    exited=$(exited_processes)
    if [ -n "$exited" ]; then
        report_exited "$exited"
        trap - INT TERM
        step "stopping the rest"
        stop_processes
        stop_services
        exit 1
    fi
done
