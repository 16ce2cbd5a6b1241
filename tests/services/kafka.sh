#!/usr/bin/env bash
# kafka.sh up|down|env|status|libs|cluster-id: a single-node Apache Kafka (KRaft, broker+controller
# in one JVM) on 127.0.0.1:19092 (controller 127.0.0.1:19093) for the kafka/e2e tests. The
# official jars come from Maven Central through deploy/kafka/pom.xml (cached in ~/.m2, copied once
# into ${WB_STATE_DIR:-<repo>/.wb}/kafka/libs; `libs` does only that, `cluster-id [N]` prints N
# new cluster ids); data and logs live beside them.
# A second listener on 127.0.0.1:19094 stands in for Azure Event Hubs' Kafka endpoint: SASL_SSL,
# mechanism PLAIN, user name `$ConnectionString` and a namespace connection string as password,
# TLS from a test CA (made once under eventhub/). stdout carries only the `export
# WB_TEST_KAFKA_BOOTSTRAP=...` and `export WB_TEST_EH_*=...` lines; everything else goes to
# stderr. Environment: WB_STATE_DIR, WB_KAFKA_PORT (19092; controller on the next port, the
# Event Hubs listener on the one after: WB_KAFKA_EH_PORT), WB_KAFKA_JVM_OPTS,
# WB_KAFKA_START_TIMEOUT (seconds, 90).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
state=${WB_STATE_DIR:-$repo/.wb}/kafka

host=127.0.0.1
# Overridable so a second broker (own WB_STATE_DIR) can run beside the shared one.
port=${WB_KAFKA_PORT:-19092}
ctl_port=${WB_KAFKA_CONTROLLER_PORT:-$((port + 1))}
bootstrap=$host:$port
eh_port=${WB_KAFKA_EH_PORT:-$((port + 2))}
eh_bootstrap=$host:$eh_port

pom=$repo/deploy/kafka/pom.xml
log4j=$repo/deploy/kafka/log4j2.yaml
libs=$state/libs
data=$state/data
props=$state/server.properties
pidfile=$state/kafka.pid
serverlog=$state/server.log
# Class-data-sharing archive of the broker's classes: written when a broker started without
# one exits cleanly (kafka.sh down), used by every later start (about 1 s faster).
jsa=$state/kafka.jsa
start_timeout=${WB_KAFKA_START_TIMEOUT:-90}
# The Event Hubs stand-in: test CA and server certificate, the connection string (a secret:
# mode 600, and server.properties that holds it too).
eh=$state/eventhub
eh_connstr=$eh/connection-string
eh_ca=$eh/tls/ca.pem
eh_namespace=wbtest.servicebus.windows.net

# Startup-oriented JVM settings: a small serial-GC heap starts fastest on a 2-core machine.
jvm_opts=(-Xms128m -Xmx512m -XX:+UseSerialGC -XX:-UsePerfData -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$log4j" -Dlog4j2.disable.jmx=true "-Xlog:cds*=off")
# Extra JVM options for the broker, e.g. WB_KAFKA_JVM_OPTS="-Xmx1g" for benchmarks.
read -ra extra_opts <<<"${WB_KAFKA_JVM_OPTS:-}"

# shellcheck source=testtls.sh
. "$here/testtls.sh"

exec 3>&1 1>&2

log() { echo "kafka.sh: $*" >&2; }
die() {
    log "error: $*"
    exit 1
}

print_env() {
    cat >&3 <<EOF
export WB_TEST_KAFKA_BOOTSTRAP=$bootstrap
export WB_TEST_EH_BOOTSTRAP=$eh_bootstrap
export WB_TEST_EH_CONNSTR_FILE=$eh_connstr
export WB_TEST_EH_CA=$eh_ca
EOF
}

# Our broker: the PID we recorded, alive, not a zombie, and a java running kafka.Kafka with our
# server.properties (so a recycled PID is never mistaken for ours).
running_pid() {
    local pid
    [[ -s $pidfile ]] || return 1
    pid=$(cat "$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    grep -q 'State:.Z' "/proc/$pid/status" 2>/dev/null && return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $props" || return 1
    echo "$pid"
}

# A real Kafka round trip: Metadata v4 request (no topics) over /dev/tcp; ready when the
# answer lists at least one broker, i.e. ours is registered and unfenced.
broker_ready() {
    timeout 3 bash -c '
        exec 4<>/dev/tcp/$0/$1 || exit 1
        # size=23 | api_key=3 (Metadata) v4 | correlation 1 | client_id "wb-probe" |
        # topics=[] | allow_auto_topic_creation=false
        printf "\x00\x00\x00\x17\x00\x03\x00\x04\x00\x00\x00\x01\x00\x08wb-probe\x00\x00\x00\x00\x00" >&4
        # size, correlation id, throttle_time_ms, broker count
        set -- $(head -c 16 <&4 | od -An -tu1)
        [[ $# -eq 16 ]] || exit 1
        [[ "${5}${6}${7}${8}" == 0001 ]] || exit 1
        (( ($13 << 24) + ($14 << 16) + ($15 << 8) + $16 > 0 ))
    ' "$host" "$port" 2>/dev/null
}

# A cluster id is 16 random bytes in URL-safe base64 without padding; made here to save a JVM
# start. One that begins with '-' would be read by StorageTool as an option ("expected one
# argument"), 1 start in 64: draw again until it does not.
new_cluster_id() {
    local id
    until [[ ${id:-} =~ ^[A-Za-z0-9_] ]]; do
        id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    done
    echo "$id"
}

port_in_use() { (exec 4<>"/dev/tcp/$host/$1") 2>/dev/null; }

# Copy the jars out of ~/.m2 (fetching them on first use); redone when pom.xml changes.
ensure_libs() {
    local sum
    sum=$(sha256sum "$pom" | cut -d' ' -f1)
    if [[ -f $libs/.pom.sha256 && $(cat "$libs/.pom.sha256") == "$sum" ]]; then
        return 0
    fi
    command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
    command -v java >/dev/null || die "java not found (apt-get install openjdk-17-jre-headless)"
    log "fetching Kafka jars with Maven (first run only)"
    rm -rf "$libs" "$jsa" "$jsa.new"
    # -B and style.color=never keep Maven's own messages plain; Debian's Maven 3.8.7 with jansi
    # 2.4 still writes ESC[0m resets to stdout and stderr when it uninstalls its console
    # streams, which only the JVM property jansi.noreset turns off (too late as a mvn -D).
    MAVEN_OPTS="${MAVEN_OPTS:+$MAVEN_OPTS }-Djansi.noreset=true" \
        mvn -B -q -Dstyle.color=never -f "$pom" -Dkafka.libs="$libs" package >&2 ||
        die "mvn failed for $pom"
    echo "$sum" >"$libs/.pom.sha256"
}

# The Event Hubs stand-in's certificate and connection string, made once.
ensure_eventhub() {
    mkdir -p "$eh"
    if [[ ! -s $eh/tls/server.pem ]]; then
        wb_make_tls "$eh/tls"
        # Kafka's PEM key store: the unencrypted PKCS#8 key followed by the certificate.
        (umask 077 && cat "$eh/tls/key.pem" "$eh/tls/cert.pem" >"$eh/tls/server.pem")
    fi
    if [[ ! -s $eh_connstr ]]; then
        (umask 077 && printf 'Endpoint=sb://%s/;SharedAccessKeyName=%s;SharedAccessKey=%s\n' \
            "$eh_namespace" RootManageSharedAccessKey "$(openssl rand -base64 32)" \
            >"$eh_connstr")
    fi
}

write_props() {
    local connstr
    connstr=$(cat "$eh_connstr")
    (umask 077 && : >"$props")
    cat >"$props" <<EOF
# Generated by tests/services/kafka.sh; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$host:$ctl_port
listeners=PLAINTEXT://$host:$port,CONTROLLER://$host:$ctl_port,EVENTHUB://$host:$eh_port
advertised.listeners=PLAINTEXT://$host:$port,EVENTHUB://$host:$eh_port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,EVENTHUB:SASL_SSL
# Azure Event Hubs' Kafka endpoint as clients see it: SASL PLAIN over TLS, user name
# \$ConnectionString, password the namespace connection string.
listener.name.eventhub.sasl.enabled.mechanisms=PLAIN
listener.name.eventhub.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_\$ConnectionString="$connstr";
listener.name.eventhub.ssl.keystore.type=PEM
listener.name.eventhub.ssl.keystore.location=$eh/tls/server.pem
log.dirs=$data
num.partitions=12
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Fast start and quick fencing of dead test clients.
broker.heartbeat.interval.ms=500
log.segment.bytes=67108864
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
EOF
}

# Short-lived tool JVMs: the C1 compiler alone starts quickest.
java_tool() { java "${jvm_opts[@]}" -XX:TieredStopAtLevel=1 -cp "$libs/*" "$@"; }

cmd_up() {
    local pid i cluster_id cds_opts
    mkdir -p "$state"
    # A broker started by an older kafka.sh has no Event Hubs listener: restart it.
    if running_pid >/dev/null && ! grep -q '^listeners=.*EVENTHUB://' "$props"; then
        log "the running broker has no Event Hubs listener; restarting it"
        cmd_down
    fi
    if pid=$(running_pid); then
        for ((i = 0; i < start_timeout * 5; i++)); do
            broker_ready && {
                print_env
                return 0
            }
            sleep 0.2
        done
        die "broker pid $pid runs but does not answer on $bootstrap; see $serverlog"
    fi
    port_in_use "$port" && die "$bootstrap is taken by a process we did not start"
    port_in_use "$ctl_port" && die "$host:$ctl_port is taken by a process we did not start"
    port_in_use "$eh_port" && die "$eh_bootstrap is taken by a process we did not start"
    ensure_libs
    ensure_eventhub
    write_props
    if [[ ! -f $data/meta.properties ]]; then
        cluster_id=$(new_cluster_id)
        rm -rf "$data"
        if ! java_tool kafka.tools.StorageTool format -t "$cluster_id" -c "$props" \
            >"$state/format.log" 2>&1; then
            cat "$state/format.log" >&2
            die "formatting $data failed"
        fi
    fi
    if [[ -s $jsa ]]; then
        cds_opts=(-XX:SharedArchiveFile="$jsa")
    else
        cds_opts=(-XX:ArchiveClassesAtExit="$jsa.new")
    fi
    [[ -f $serverlog ]] && mv -f "$serverlog" "$serverlog.1"
    # The broker must not hold our stdout (fd 3: $(kafka.sh up) would never end) or the lock.
    setsid java "${jvm_opts[@]}" "${cds_opts[@]}" "${extra_opts[@]}" -cp "$libs/*" \
        kafka.Kafka "$props" >"$serverlog" 2>&1 </dev/null 3>&- 9>&- &
    pid=$!
    echo "$pid" >"$pidfile"
    for ((i = 0; i < start_timeout * 10; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$serverlog" >&2
            rm -f "$pidfile"
            die "broker exited during start; log: $serverlog"
        fi
        if broker_ready; then
            log "broker pid $pid ready on $bootstrap"
            print_env
            return 0
        fi
        sleep 0.1
    done
    tail -n 30 "$serverlog" >&2
    die "broker pid $pid did not answer on $bootstrap within ${start_timeout}s; log: $serverlog"
}

cmd_down() {
    local pid i
    if ! pid=$(running_pid); then
        rm -f "$pidfile"
        log "not running"
        return 0
    fi
    kill -TERM "$pid"
    for ((i = 0; i < 300; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "broker pid $pid ignored SIGTERM for 30s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
    # A complete archive exists only after a clean exit; a killed JVM leaves none or a torn one.
    if ((i < 300)) && [[ -s $jsa.new ]]; then
        mv -f "$jsa.new" "$jsa"
    fi
    rm -f "$jsa.new"
    log "stopped broker pid $pid"
}

# One kafka.sh at a time per state directory (parallel test runners share the broker).
with_lock() {
    mkdir -p "$state"
    exec 9>"$state.lock"
    flock -w 120 9 || die "waited 120 s for $state.lock"
    "$@"
}

case ${1:-} in
up) with_lock cmd_up ;;
libs) with_lock ensure_libs ;;
down) with_lock cmd_down ;;
env) print_env ;;
cluster-id)
    for ((i = 0; i < ${2:-1}; i++)); do new_cluster_id >&3; done
    ;;
status)
    if running_pid >/dev/null && broker_ready; then
        log "running, pid $(cat "$pidfile")"
        print_env
    else
        log "not running"
        exit 1
    fi
    ;;
*)
    echo "usage: $0 up|down|env|status|libs|cluster-id" >&2
    exit 2
    ;;
esac
