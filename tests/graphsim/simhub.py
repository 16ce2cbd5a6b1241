#!/usr/bin/python3
"""simhub: the Graph simulator's side of the Event Hub stand-in (the test Kafka broker), and a
reader for tests. Needs confluent_kafka (Debian's python3-confluent-kafka, in Debian's
/usr/bin/python3; graphsim.py itself stays standard library only and runs this as a child).

  simhub.py produce --bootstrap HOST:PORT [--connstr-file F --ca PEM]
      reads JSON lines {"id", "topic", "key", "value"} on stdin and produces each value (a
      string) to its topic; writes one JSON line {"id", "ok", "error"} per delivery report on
      stdout. EOF on stdin: flush and exit.
  simhub.py consume --bootstrap HOST:PORT [--connstr-file F --ca PEM] --topic T [--count N]
                    [--timeout S]
      reads topic T from the beginning and prints each message as a JSON line {"topic",
      "partition", "offset", "key", "value"}; exit 0 after N messages (or, without --count,
      when S seconds passed), 1 if fewer than N arrived within S seconds (default 20), 3 if the
      broker refused the credentials.

With --connstr-file the connection is SASL_SSL with mechanism PLAIN, user name
`$ConnectionString` and the file's first line as password (as for Azure Event Hubs' Kafka
endpoint); --ca is the CA that signed the broker certificate. Without it, PLAINTEXT."""

import argparse
import json
import sys
import threading
import time
import uuid

import confluent_kafka


def kafka_conf(args):
    conf = {"bootstrap.servers": args.bootstrap, "client.id": "graphsim-hub"}
    if args.connstr_file:
        with open(args.connstr_file, encoding="utf-8") as f:
            connstr = f.readline().strip()
        conf.update({"security.protocol": "SASL_SSL", "sasl.mechanisms": "PLAIN",
                     "sasl.username": "$ConnectionString", "sasl.password": connstr})
        if args.ca:
            conf["ssl.ca.location"] = args.ca
    return conf


def produce(args):
    out_lock = threading.Lock()

    def report(rid):
        def cb(err, msg):
            line = json.dumps({"id": rid, "ok": err is None,
                               "error": None if err is None else str(err)})
            with out_lock:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
        return cb

    conf = kafka_conf(args)
    conf.update({"linger.ms": 0, "message.timeout.ms": args.message_timeout_ms,
                 "error_cb": lambda e: sys.stderr.write("simhub: %s\n" % e)})
    p = confluent_kafka.Producer(conf)
    stop = threading.Event()

    def poller():
        while not stop.is_set():
            p.poll(0.05)

    t = threading.Thread(target=poller, daemon=True)
    t.start()
    for line in sys.stdin:
        if not line.strip():
            continue
        m = json.loads(line)
        key = m.get("key")
        while True:
            try:
                p.produce(m["topic"], m["value"].encode("utf-8"),
                          key.encode("utf-8") if key else None, on_delivery=report(m["id"]))
                break
            except BufferError:
                time.sleep(0.05)
    p.flush(args.message_timeout_ms / 1000.0 + 5)
    stop.set()
    t.join()
    return 0


def consume(args):
    auth = []

    def on_error(e):
        if e.code() == confluent_kafka.KafkaError._AUTHENTICATION:
            auth.append(str(e))

    conf = kafka_conf(args)
    conf.update({"group.id": "simhub-" + uuid.uuid4().hex, "auto.offset.reset": "earliest",
                 "enable.auto.commit": False, "error_cb": on_error})
    c = confluent_kafka.Consumer(conf)
    c.subscribe([args.topic])
    n = 0
    deadline = time.monotonic() + args.timeout
    try:
        while time.monotonic() < deadline and (args.count is None or n < args.count):
            if auth:
                sys.stderr.write("simhub: authentication failed: %s\n" % auth[0])
                return 3
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() != confluent_kafka.KafkaError._PARTITION_EOF:
                    sys.stderr.write("simhub: %s\n" % m.error())
                continue
            k = m.key()
            print(json.dumps({"topic": m.topic(), "partition": m.partition(),
                              "offset": m.offset(), "key": k.decode() if k else None,
                              "value": m.value().decode("utf-8")}), flush=True)
            n += 1
    finally:
        c.close()
    if auth:
        sys.stderr.write("simhub: authentication failed: %s\n" % auth[0])
        return 3
    return 0 if args.count is None or n >= args.count else 1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=("produce", "consume"))
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--connstr-file")
    ap.add_argument("--ca")
    ap.add_argument("--topic")
    ap.add_argument("--count", type=int)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--message-timeout-ms", type=int, default=30000)
    args = ap.parse_args(argv)
    if args.mode == "produce":
        return produce(args)
    if not args.topic:
        ap.error("consume needs --topic")
    return consume(args)


if __name__ == "__main__":
    sys.exit(main())
