#!/usr/bin/env python3
"""0231 the producer publishes nothing the worker's decoder refuses (issue 13, finding 5).
Hostile groups in the Graph simulator: an extension attribute nested 40 deep, one with 300
keys, a 1.1 MB description, 17 groupTypes, and invalid UTF-8 in a displayName (raw bytes put
into the delta page by the simulator's "bytes" fault). Expected: the invalid UTF-8 is replaced
by U+FFFD and the group provisioned; every other hostile group is refused with a log line
naming it, gets no event, and is kept out of the checkpoint's in-scope set (so it is not
marked provisioned: it enters scope again when it changes in Entra); the round commits and
every ordinary group goes out. A refused group that is fixed in Entra is provisioned by the
next round."""

import json
import os
import subprocess
import sys
import tempfile
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import harness as h  # noqa: E402
lib = h.load_test("unit/0202-producer-dryrun.py")
check = lib.check

# the decoder's limits (common/wb_event.h)
MAX_BYTES, MAX_DEPTH, MAX_KEYS, MAX_GROUP_TYPES = 1024 * 1024, 32, 256, 16


def depth(v):
    if isinstance(v, dict):
        return 1 + max([depth(x) for x in v.values()] or [0])
    if isinstance(v, list):
        return 1 + max([depth(x) for x in v] or [0])
    return 0


def max_keys(v):
    if isinstance(v, dict):
        return max([len(v)] + [max_keys(x) for x in v.values()])
    if isinstance(v, list):
        return max([0] + [max_keys(x) for x in v])
    return 0


def decoder_problems(raw):
    """Why the worker's decoder would refuse this record value (bytes), or None."""
    if len(raw) > MAX_BYTES:
        return "%d bytes" % len(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return "not UTF-8: %s" % e
    ev = json.loads(text)
    if depth(ev) > MAX_DEPTH:
        return "nested %d deep" % depth(ev)
    if max_keys(ev) > MAX_KEYS:
        return "an object with %d keys" % max_keys(ev)
    if len(ev.get("attrs", {}).get("groupTypes", [])) > MAX_GROUP_TYPES:
        return "%d groupTypes" % len(ev["attrs"]["groupTypes"])
    return None


def dump_raw(topic):
    """(key, value bytes) of every record: wb-topic-dump's output read as bytes, so that a
    value that is not UTF-8 comes back as it is in Kafka."""
    p = subprocess.run([lib.DUMP, os.environ["WB_TEST_KAFKA_BOOTSTRAP"], topic, "60000"],
                       capture_output=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("wb-topic-dump %s failed: %s" % (topic, p.stderr))
    out = []
    for line in p.stdout.decode("utf-8", "surrogateescape").splitlines():
        if line.strip():
            r = json.loads(line)
            out.append((r["k"], r["v"].encode("utf-8", "surrogateescape")))
    return out


def main():
    h.require([lib.PRODUCER, lib.DUMP], ["WB_TEST_KAFKA_BOOTSTRAP"])
    with tempfile.TemporaryDirectory(prefix="wb0231-") as wd:
        sim = lib.Sim(wd, "--users", "20", "--groups", "6", "--members", "60",
                      "--out-of-scope-share", "0", "--nested-share", "0")
        try:
            run(wd, sim)
        finally:
            sim.stop()
    print("%d failure(s)" % len(lib.FAILURES))
    return 1 if lib.FAILURES else 0


def run(wd, sim):
    app = sim.call("GET", "tenant")["extAppId"]
    deep_attr, keys_attr = "extension_%s_Deep" % app, "extension_%s_Keys" % app
    deep = {}
    node = deep
    for _ in range(39):
        node["a"] = {}
        node = node["a"]
    node["a"] = 1
    user = sim.call("POST", "users", {"displayName": "hostile member", "synced": True})["id"]

    def group(name, **props):
        props.update({"displayName": name, "members": [user]})
        return sim.call("POST", "groups", props)["id"]

    hostile = {
        "deep": group("Hostile deep", **{deep_attr: deep}),
        "keys": group("Hostile keys", **{keys_attr: {"k%03d" % i: i for i in range(300)}}),
        "big": group("Hostile big", description="x" * (1100 * 1024)),
        "types": group("Hostile types", groupTypes=["T%02d" % i for i in range(17)]),
    }
    bad_utf8 = group("Bad-XXBADXX-name")
    sim.call("POST", "faults", {"kind": "bytes", "find": "XXBADXX", "replace_hex": "ff",
                                "count": -1, "path": "/v1.0/groups"})
    tag = uuid.uuid4().hex[:8]
    tenant, events, state = "t0231" + tag, "wbt0231.%s.groups" % tag, "wbt0231.%s.state" % tag
    filt = "%s IS NULL OR %s IS NOT NULL OR %s IS NULL OR %s IS NOT NULL" % (
        deep_attr, deep_attr, keys_attr, keys_attr)
    conf = lib.write_conf(wd, sim, {
        "tenant": tenant, "topic.events": events, "topic.dlq": "wbt0231.%s.dlq" % tag,
        "topic.state": state, "topic.partitions": "2", "scope.mode": "filter",
        "scope.filter": filt}, name="p-%s.conf" % tag)

    rc, out, err = lib.run_producer(conf, "--once")
    check(rc == 0 and "committed" in err, "round 1 commits despite hostile groups (rc %d)" % rc)
    recs = dump_raw(events)
    bad = [(k, decoder_problems(v)) for k, v in recs if decoder_problems(v)]
    check(not bad, "every published event passes the decoder's limits: %s" % bad[:4])
    by_group = {}
    for k, v in recs:
        by_group.setdefault(k, []).append(json.loads(v.decode("utf-8", "replace")))
    ck = lib.last_checkpoint(state, tenant) or {"inScope": []}
    for what, gid in hostile.items():
        check(gid not in by_group, "%s: no event published" % what)
        check("group %s: group.upsert event refused" % gid in err and
              "group %s: not provisioned" % gid in err, "%s: refusal logged with the group id"
              % what)
        check(gid not in ck["inScope"], "%s: not in the checkpoint's in-scope set" % what)
    ups = [e for e in by_group.get(bad_utf8, []) if e["type"] == "group.upsert"]
    check(ups and ups[0]["attrs"]["displayName"] == "Bad-\ufffd-name",
          "invalid UTF-8 replaced by U+FFFD and the group published (%s)"
          % (ups and ups[0]["attrs"]["displayName"]))
    ordinary = [g["objectId"] for g in sim.call("GET", "expected")["groups"]
                if g["objectId"] not in hostile.values() and g["objectId"] != bad_utf8]
    check(ordinary and all(g in by_group and g in ck["inScope"] for g in ordinary),
          "all %d ordinary groups published and in scope" % len(ordinary))
    check("groups refused" in err and "4 groups refused" in err,
          "the round summary counts the refused groups")

    # the 17-groupTypes group is fixed in Entra: the next round provisions it whole
    sim.call("PATCH", "groups/" + hostile["types"], {"groupTypes": ["T01"]})
    rc, out, err = lib.run_producer(conf, "--once")
    recs = dump_raw(events)
    types = [json.loads(v.decode("utf-8", "replace"))["type"] for k, v in recs
             if k == hostile["types"]]
    ck = lib.last_checkpoint(state, tenant) or {"inScope": []}
    check(rc == 0 and "group.upsert" in types and "group.snapshot" in types and
          hostile["types"] in ck["inScope"],
          "fixed in Entra: upsert and snapshot published, in scope (%s)" % types)
    check(hostile["deep"] not in ck["inScope"], "still hostile: still not in scope")


if __name__ == "__main__":
    sys.exit(main())
