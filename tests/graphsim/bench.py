#!/usr/bin/env python3
"""Benchmark of the Graph simulator: fetches the full initial groups delta of a generated
tenant (default 100,000 groups, 1,000,000 memberships) over one keep-alive connection and
reports pages/s and objects/s (objects = group entries + members@delta entries).
Usage: python3 tests/graphsim/bench.py [--groups N --members K ...] [--url URL]."""

import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SELECT = ("id,displayName,description,securityEnabled,mailEnabled,groupTypes,"
          "onPremisesSyncEnabled,members")
NEXT_RE = re.compile(rb'"@odata.nextLink":"([^"]+)"')
DELTA_RE = re.compile(rb'"@odata.deltaLink":"([^"]+)"')


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", help="use a running simulator instead of starting one")
    ap.add_argument("--users", type=int, default=100000)
    ap.add_argument("--groups", type=int, default=100000)
    ap.add_argument("--members", type=int, default=1000000)
    ap.add_argument("--page-size", type=int, default=100)
    ap.add_argument("--page-members", type=int, default=1000)
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--select", default=SELECT, help="'' for no $select (default properties)")
    ap.add_argument("--json", action="store_true", help="print the result as one JSON line")
    args = ap.parse_args()

    proc = None
    started = time.time()
    if args.url:
        url = args.url.rstrip("/")
    else:
        proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "graphsim.py"), "--listen", "127.0.0.1:0",
             "--users", str(args.users), "--groups", str(args.groups), "--members",
             str(args.members), "--page-size", str(args.page_size), "--page-members",
             str(args.page_members)], stdout=subprocess.PIPE, text=True)
        line = proc.stdout.readline()
        if not line.startswith("GRAPHSIM_URL="):
            proc.kill()
            sys.exit("bench: simulator did not start")
        url = line.strip().split("=", 1)[1]
    ready = time.time() - started
    try:
        res = run(url, args)
    finally:
        if proc:
            proc.terminate()
            proc.wait()
    res["startup_s"] = round(ready, 2)
    if args.json:
        print(json.dumps(res))
        return
    print("tenant: %d groups, %d memberships, %d users (startup incl. generation %.1f s)"
          % (args.groups, args.members, args.users, ready))
    for p in res["passes"]:
        print("pass %d: %d pages, %d objects (%d groups + %d member entries), %.1f MB in "
              "%.2f s: %.0f pages/s, %.0f objects/s, %.1f MB/s; with json.loads of every "
              "page: %.0f objects/s"
              % (p["pass"], p["pages"], p["objects"], p["group_entries"], p["member_entries"],
                 p["bytes"] / 1e6, p["seconds"], p["pages_per_s"], p["objects_per_s"],
                 p["bytes"] / 1e6 / p["seconds"], p["objects_per_s_parsed"]))


def run(url, args):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    conn.request("GET", "/_sim/tenant")
    t = json.loads(conn.getresponse().read())
    body = urllib.parse.urlencode({"client_id": t["clientId"], "client_secret":
                                   "graphsim-secret", "grant_type": "client_credentials",
                                   "scope": "https://graph.microsoft.com/.default"})
    conn.request("POST", "/%s/oauth2/v2.0/token" % t["tenantId"], body,
                 {"Content-Type": "application/x-www-form-urlencoded"})
    r = conn.getresponse()
    tok = json.loads(r.read())
    if r.status != 200:
        sys.exit("bench: token request failed: %s" % tok)
    hdr = {"Authorization": "Bearer " + tok["access_token"]}
    out = {"url": url, "passes": []}
    first = "/v1.0/groups/delta" + ("?$select=" + args.select if args.select else "")
    for n in range(1, args.passes + 1):
        # pass: fetch only (what the server sustains); counted with byte scans, no parsing
        path = first
        pages = objs = members = 0
        nbytes = 0
        bodies = []
        t0 = time.time()
        while True:
            conn.request("GET", path, headers=hdr)
            r = conn.getresponse()
            data = r.read()
            if r.status != 200:
                sys.exit("bench: HTTP %d: %s" % (r.status, data[:300]))
            pages += 1
            nbytes += len(data)
            ids = data.count(b'"id":"')
            mem = data.count(b'"@odata.type":"#microsoft.graph.')
            objs += ids
            members += mem
            if len(bodies) < 400:
                bodies.append(data)
            m = NEXT_RE.search(data, 0, 2048)
            if m:
                path = m.group(1).decode()[len(url):]
                continue
            if not DELTA_RE.search(data, max(0, len(data) - 4096)):
                sys.exit("bench: page without nextLink or deltaLink")
            break
        dt = time.time() - t0
        # client-side JSON parsing cost, measured on a sample and scaled
        t1 = time.time()
        sample_objs = 0
        for b in bodies:
            d = json.loads(b)
            sample_objs += len(d["value"]) + sum(len(o.get("members@delta", ()))
                                                 for o in d["value"])
        parse_rate = sample_objs / max(1e-9, time.time() - t1)
        combined = objs / (dt + objs / parse_rate)
        out["passes"].append({
            "pass": n, "pages": pages, "objects": objs, "group_entries": objs - members,
            "member_entries": members, "bytes": nbytes, "seconds": round(dt, 3),
            "pages_per_s": round(pages / dt, 1), "objects_per_s": round(objs / dt),
            "objects_per_s_parsed": round(combined)})
    conn.close()
    return out


if __name__ == "__main__":
    main()
