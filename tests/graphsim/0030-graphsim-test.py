#!/usr/bin/env python3
"""Tests of the Graph simulator (tests/graphsim/graphsim.py) over real HTTP: token endpoint,
delta shapes of docs/microsoft.md (Graph), paging to a deltaLink, the member split across
pages, incremental rounds after admin changes, every fault switch, the expected-AD-state
endpoint, generation, HTTPS and the README curl walk-through. Run: python3 <this file>."""

import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "graphsim.py")
sys.path.insert(0, HERE)
import simnotify  # noqa: E402
import simtenant  # noqa: E402

TENANT = "0b0c0d0e-1111-4222-8333-444455556666"
CLIENT = "11111111-2222-3333-4444-555555555555"
SECRET = "s3cret"
SCOPE = "https://graph.microsoft.com/.default"
APP = "0123456789abcdef0123456789abcdef"
EXT_WB = "extension_%s_WritebackEnabled" % APP
SPEC_SELECT = ("id,displayName,description,securityEnabled,mailEnabled,groupTypes,"
               "onPremisesSyncEnabled,members")


def gid(n):
    return "00000000-0000-4000-8000-%012d" % n


def uid(n):
    return "10000000-0000-4000-8000-%012d" % n


G1, G2, G3, G4, G5, G6, G7, G8, G9 = (gid(i) for i in range(1, 10))
ODD = "  Comma, Plus+ \"Q\" \U0001F680 a name that is clearly longer than fifty-one chars  "
LONG_DESC = "  " + "d" * 500 + "  "


def user(n, synced):
    p = {"id": uid(n), "displayName": "User %d" % n, "userPrincipalName": "u%d@x.test" % n}
    if synced:
        p.update(onPremisesSyncEnabled=True,
                 onPremisesSecurityIdentifier="S-1-5-21-1-2-3-%d" % (1000 + n),
                 onPremisesObjectIdentifier="20000000-0000-4000-8000-%012d" % n,
                 onPremisesSamAccountName="u%d" % n,
                 onPremisesDistinguishedName="CN=User %d,OU=Users,DC=x,DC=test" % n,
                 onPremisesDomainName="x.test")
    else:
        p.update(onPremisesSyncEnabled=None, onPremisesSecurityIdentifier=None,
                 onPremisesObjectIdentifier=None, onPremisesSamAccountName=None,
                 onPremisesDistinguishedName=None, onPremisesDomainName=None)
    return p


def seed():
    users = [user(1, True), user(2, True), user(3, False)] + [user(n, True)
                                                              for n in range(4, 49)]

    def grp(i, name, members=(), **kw):
        p = {"id": gid(i), "displayName": name, "description": None, "securityEnabled": True,
             "mailEnabled": False, "groupTypes": [], "onPremisesSyncEnabled": None,
             "mailNickname": "g%d" % i, "members": list(members)}
        p.update(kw)
        return p

    groups = [
        grp(1, "App-Finance-Readers", [uid(1), uid(3), G2], description="Kerberos app access",
            **{EXT_WB: True}),
        grp(2, "Nested Child", [uid(2)], **{EXT_WB: False}),
        grp(3, "Mail-enabled security", [uid(1)], mailEnabled=True, mail="m@x.test"),
        grp(4, "M365", [uid(1)], mailEnabled=True, securityEnabled=False,
            groupTypes=["Unified"]),
        grp(5, "Distribution", [uid(2)], mailEnabled=True, securityEnabled=False),
        grp(6, "Synced from AD", [uid(1)], onPremisesSyncEnabled=True,
            onPremisesSecurityIdentifier="S-1-5-21-1-2-3-9999"),
        grp(7, "Big", [uid(n) for n in range(4, 49)], description="big one"),
        grp(8, ODD, [G6, G3, G1], description=LONG_DESC),
        grp(9, "Empty", []),
    ]
    return {"tenantId": TENANT, "extAppId": APP, "users": users, "groups": groups}


class Sim:
    """A running graphsim process and a keep-alive HTTP client for it."""

    def __init__(self, *extra, seed_obj=None, tls=None):
        self.tmp = tempfile.mkdtemp(prefix="graphsim-test-")
        args = [sys.executable, SIM, "--listen", "127.0.0.1:0", "--tenant-id", TENANT,
                "--client-id", CLIENT,
                "--client-secret", SECRET, "--port-file", os.path.join(self.tmp, "port")]
        if seed_obj is not None:
            path = os.path.join(self.tmp, "seed.json")
            with open(path, "w") as f:
                json.dump(seed_obj, f)
            args += ["--seed-file", path]
        if tls:
            args += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        self.proc = subprocess.Popen(args + list(extra), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("GRAPHSIM_URL="):
            err = self.proc.stderr.read()
            raise RuntimeError("graphsim did not start: %r %s" % (line, err))
        self.url = line.strip().split("=", 1)[1]
        with open(os.path.join(self.tmp, "port")) as f:
            assert int(f.read()) == urllib.parse.urlsplit(self.url).port
        self.tls_ctx = None
        if tls:
            self.tls_ctx = ssl.create_default_context(cafile=tls[0])
        self.conn = None
        self.token = None

    def close(self):
        if self.conn:
            self.conn.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _conn(self):
        if self.conn is None:
            u = urllib.parse.urlsplit(self.url)
            if self.tls_ctx:
                self.conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=30,
                                                        context=self.tls_ctx)
            else:
                self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        return self.conn

    def raw(self, method, url, body=None, headers=None):
        """Returns (status, headers dict (lower-case keys), body bytes)."""
        if url.startswith("http"):
            assert url.startswith(self.url), "link %s is not on %s" % (url, self.url)
            url = url[len(self.url):]
        h = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        for attempt in (0, 1):
            c = self._conn()
            try:
                c.request(method, url, body=body, headers=h)
                r = c.getresponse()
                data = r.read()
                hdrs = {k.lower(): v for k, v in r.getheaders()}
                if hdrs.get("connection", "").lower() == "close":
                    c.close()
                    self.conn = None
                return r.status, hdrs, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                c.close()
                self.conn = None
                if attempt:
                    raise

    def json(self, method, url, body=None, headers=None):
        st, h, data = self.raw(method, url, body, headers)
        return st, h, (json.loads(data) if data else None)

    def admin(self, method, path, body=None):
        st, h, d = self.json(method, "/_sim/" + path, body)
        return st, d

    def get_token(self, **over):
        form = {"client_id": CLIENT, "client_secret": SECRET, "scope": SCOPE,
                "grant_type": "client_credentials"}
        form.update(over)
        form = {k: v for k, v in form.items() if v is not None}
        return self.json("POST", "/%s/oauth2/v2.0/token" % over.pop("tenant", TENANT),
                         urllib.parse.urlencode(form),
                         {"Content-Type": "application/x-www-form-urlencoded"})

    def graph(self, url, method="GET", body=None, headers=None):
        if self.token is None:
            st, _, d = self.get_token()
            assert st == 200, d
            self.token = d["access_token"]
        h = {"Authorization": "Bearer " + self.token}
        h.update(headers or {})
        return self.json(method, url, body, h)

    def walk(self, url, headers=None):
        """Follows nextLinks to the deltaLink; returns (pages, deltaLink)."""
        pages = []
        while True:
            st, _, d = self.graph(url, headers=headers)
            assert st == 200, (st, d)
            pages.append(d)
            assert ("@odata.nextLink" in d) != ("@odata.deltaLink" in d), d.keys()
            if "@odata.deltaLink" in d:
                return pages, d["@odata.deltaLink"]
            url = d["@odata.nextLink"]
            assert len(pages) < 10000


def merge(pages):
    """Merges repeated group objects across pages: id -> (props, added set, removed set)."""
    out = {}
    for p in pages:
        for o in p["value"]:
            ent = out.setdefault(o["id"], [{}, set(), set()])
            for k, v in o.items():
                if k == "members@delta":
                    for m in v:
                        (ent[2] if "@removed" in m else ent[1]).add(m["id"])
                else:
                    ent[0][k] = v
    return out


def check_graph_error(tc, d, code):
    tc.assertEqual(set(d), {"error"})
    tc.assertEqual(d["error"]["code"], code)
    tc.assertIsInstance(d["error"]["message"], str)
    tc.assertTrue(d["error"]["message"])
    tc.assertEqual(set(d["error"]["innerError"]), {"date", "request-id", "client-request-id"})


class SeededTests(unittest.TestCase):
    """One simulator on the hand-written seed; page sizes small so paging shows."""

    @classmethod
    def setUpClass(cls):
        cls.sim = Sim("--page-size", "3", "--page-members", "20", seed_obj=seed())

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()

    def setUp(self):
        self.sim.admin("DELETE", "faults")

    # ------------------------------------------------------------------ token endpoint
    def test_token_success_shape(self):
        st, h, d = self.sim.get_token()
        self.assertEqual(st, 200)
        self.assertEqual(d["token_type"], "Bearer")
        self.assertIsInstance(d["expires_in"], int)
        self.assertEqual(d["expires_in"], 3599)
        self.assertTrue(d["access_token"])
        self.assertTrue(h["content-type"].startswith("application/json"))

    def test_token_errors(self):
        cases = [({"client_secret": "wrong"}, 401, "invalid_client", 7000215),
                 ({"scope": "https://graph.microsoft.com/User.Read"}, 400, "invalid_scope",
                  70011),
                 ({"scope": None}, 400, "invalid_scope", 70011),
                 ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
                 ({"client_id": "99999999-2222-3333-4444-555555555555"}, 400,
                  "unauthorized_client", 700016),
                 ({"tenant": "ffffffff-1111-4222-8333-444455556666"}, 400, "invalid_request",
                  90002)]
        for over, status, err, code in cases:
            st, _, d = self.sim.get_token(**over)
            self.assertEqual(st, status, over)
            self.assertEqual(d["error"], err)
            self.assertEqual(d["error_codes"], [code])
            self.assertTrue(d["error_description"].startswith("AADSTS%d:" % code))
            for k in ("timestamp", "trace_id", "correlation_id", "error_uri"):
                self.assertIn(k, d)

    def test_graph_requires_token(self):
        st, h, d = self.sim.json("GET", "/v1.0/groups/delta")
        self.assertEqual(st, 401)
        check_graph_error(self, d, "InvalidAuthenticationToken")
        self.assertIn("www-authenticate", h)
        st, _, d = self.sim.json("GET", "/v1.0/groups/delta",
                                 headers={"Authorization": "Bearer not-a-token"})
        self.assertEqual(st, 401)
        check_graph_error(self, d, "InvalidAuthenticationToken")

    def test_token_expiry(self):
        s = Sim("--token-lifetime", "1", seed_obj=seed())
        try:
            st, _, d = s.get_token()
            self.assertEqual(d["expires_in"], 1)
            s.token = d["access_token"]
            st, _, _ = s.graph("/v1.0/groups/" + G1)
            self.assertEqual(st, 200)
            time.sleep(1.2)
            st, _, d = s.graph("/v1.0/groups/" + G1)
            self.assertEqual(st, 401)
            check_graph_error(self, d, "InvalidAuthenticationToken")
            self.assertIn("expired", d["error"]["message"])
            # a fresh token works again; the admin switch expires every issued token
            s.token = None
            self.assertEqual(s.graph("/v1.0/groups/" + G1)[0], 200)
            s.admin("POST", "config", {"token_lifetime": 3600})
            s.token = None
            self.assertEqual(s.graph("/v1.0/groups/" + G1)[0], 200)
            st, d = s.admin("POST", "tokens/expire")
            self.assertGreaterEqual(d["expired"], 1)
            self.assertEqual(s.graph("/v1.0/groups/" + G1)[0], 401)
        finally:
            s.close()

    # ------------------------------------------------------------------ delta shapes
    def test_initial_round_shape_with_select(self):
        pages, dl = self.sim.walk("/v1.0/groups/delta?$select=" + SPEC_SELECT)
        self.assertGreater(len(pages), 2)
        allowed = set(SPEC_SELECT.split(",")) - {"members"} | {"members@delta"}
        for p in pages:
            self.assertEqual(p["@odata.context"], self.sim.url + "/v1.0/$metadata#groups(id,"
                             "displayName,description,securityEnabled,mailEnabled,groupTypes,"
                             "onPremisesSyncEnabled)")
            link = p.get("@odata.nextLink") or p.get("@odata.deltaLink")
            self.assertTrue(link.startswith(self.sim.url + "/v1.0/groups/delta?$"))
            self.assertNotIn("select", link.split("?", 1)[1].lower())   # opaque token
            for o in p["value"]:
                self.assertLessEqual(set(o), allowed)
                self.assertEqual(set(o) - {"members@delta"}, allowed - {"members@delta"})
                for m in o.get("members@delta", []):
                    self.assertEqual(set(m), {"@odata.type", "id"})
                    self.assertIn(m["@odata.type"], ("#microsoft.graph.user",
                                                     "#microsoft.graph.group"))
        self.assertIn("$deltatoken=", dl)
        self.assertNotIn("@odata.nextLink", pages[-1])
        got = merge(pages)
        # Graph returns every group; scope is the client's business
        self.assertEqual(set(got), {gid(i) for i in range(1, 10)})
        g1 = got[G1][0]
        self.assertEqual(g1["displayName"], "App-Finance-Readers")
        self.assertEqual(g1["description"], "Kerberos app access")
        self.assertIs(g1["securityEnabled"], True)
        self.assertIs(g1["mailEnabled"], False)
        self.assertEqual(g1["groupTypes"], [])
        self.assertIsNone(g1["onPremisesSyncEnabled"])
        self.assertEqual(got[G1][1], {uid(1), uid(3), G2})
        self.assertEqual(got[G4][0]["groupTypes"], ["Unified"])
        self.assertIs(got[G6][0]["onPremisesSyncEnabled"], True)
        self.assertEqual(got[G8][0]["displayName"], ODD)
        # nested group typed as a group
        types = {m["id"]: m["@odata.type"] for p in pages for o in p["value"]
                 for m in o.get("members@delta", [])}
        self.assertEqual(types[G2], "#microsoft.graph.group")
        self.assertEqual(types[uid(1)], "#microsoft.graph.user")
        # a group without members has no members@delta in the initial round
        g9 = [o for p in pages for o in p["value"] if o["id"] == G9]
        self.assertEqual(len(g9), 1)
        self.assertNotIn("members@delta", g9[0])

    def test_member_split_across_pages(self):
        pages, _ = self.sim.walk("/v1.0/groups/delta?$select=" + SPEC_SELECT)
        seen = [(i, o) for i, p in enumerate(pages) for o in p["value"] if o["id"] == G7]
        self.assertGreaterEqual(len(seen), 3)          # 45 members, 20 per page
        self.assertEqual(len({i for i, _ in seen}), len(seen))    # one slice per page
        for _, o in seen:
            self.assertEqual(o["displayName"], "Big")   # the group object is repeated
            self.assertLessEqual(len(o["members@delta"]), 20)
        ids = [m["id"] for _, o in seen for m in o["members@delta"]]
        self.assertEqual(len(ids), 45)
        self.assertEqual(set(ids), {uid(n) for n in range(4, 49)})
        for p in pages:
            self.assertLessEqual(sum(len(o.get("members@delta", [])) for o in p["value"]), 20)
            self.assertLessEqual(len(p["value"]), 3)

    def test_default_properties_without_select(self):
        pages, _ = self.sim.walk("/v1.0/groups/delta")
        got = merge(pages)
        g1 = got[G1][0]
        for k in ("displayName", "description", "createdDateTime", "mailNickname",
                  "securityEnabled", "groupTypes", "proxyAddresses", "onPremisesSyncEnabled"):
            self.assertIn(k, g1)
        self.assertNotIn(EXT_WB, g1)          # directory extensions only when selected
        self.assertEqual(got[G1][1], {uid(1), uid(3), G2})
        self.assertEqual(pages[0]["@odata.context"], self.sim.url + "/v1.0/$metadata#groups")

    def test_unselected_properties_not_returned(self):
        pages, _ = self.sim.walk("/v1.0/groups/delta?$select=displayName")
        for p in pages:
            for o in p["value"]:
                self.assertEqual(set(o), {"id", "displayName"})

    def test_extension_property_selected(self):
        pages, _ = self.sim.walk("/v1.0/groups/delta?$select=id,%s" % EXT_WB)
        got = merge(pages)
        self.assertIs(got[G1][0][EXT_WB], True)
        self.assertIs(got[G2][0][EXT_WB], False)
        self.assertNotIn(EXT_WB, got[G7][0])      # unset: omitted

    def test_unknown_select_and_unsupported_options(self):
        st, _, d = self.sim.graph("/v1.0/groups/delta?$select=nosuchprop")
        self.assertEqual(st, 400)
        check_graph_error(self, d, "Request_BadRequest")
        for q in ("$top=5", "$orderby=displayName", "$expand=owners"):
            st, _, d = self.sim.graph("/v1.0/groups/delta?" + q)
            self.assertEqual(st, 400, q)
            check_graph_error(self, d, "Request_UnsupportedQuery")
        st, _, d = self.sim.graph("/v1.0/groups/delta?$expand=members&$select=displayName")
        self.assertEqual(st, 200)
        self.assertTrue(any("members@delta" in o for o in d["value"]))

    def test_filter_by_id(self):
        f = urllib.parse.quote("id eq '%s' or id eq '%s'" % (G1, G7))
        pages, dl = self.sim.walk("/v1.0/groups/delta?$select=displayName,members&$filter=" + f)
        self.assertEqual(set(merge(pages)), {G1, G7})
        # the filter is carried in the deltaLink: a change to another group is not returned
        self.sim.admin("PATCH", "groups/" + G2, {"displayName": "Nested Child"})
        self.sim.admin("PATCH", "groups/" + G1, {"displayName": "App-Finance-Readers"})
        pages, _ = self.sim.walk(dl)
        self.assertEqual(set(merge(pages)), {G1})
        many = " or ".join("id eq '%s'" % gid(100 + i) for i in range(51))
        st, _, d = self.sim.graph("/v1.0/groups/delta?$filter=" + urllib.parse.quote(many))
        self.assertEqual(st, 400)
        check_graph_error(self, d, "Request_UnsupportedQuery")
        st, _, d = self.sim.graph("/v1.0/groups/delta?$filter=" +
                                  urllib.parse.quote("displayName eq 'x'"))
        self.assertEqual(st, 400)
        fifty = " or ".join("id eq '%s'" % gid(100 + i) for i in range(50))
        st, _, d = self.sim.graph("/v1.0/groups/delta?$filter=" + urllib.parse.quote(fifty))
        self.assertEqual(st, 200)
        self.assertEqual(d["value"], [])

    def test_select_with_skiptoken_rejected(self):
        st, _, d = self.sim.graph("/v1.0/groups/delta?$select=displayName")
        link = d["@odata.nextLink"] + "&$select=description"
        st, _, d = self.sim.graph(link)
        self.assertEqual(st, 400)
        check_graph_error(self, d, "Request_UnsupportedQuery")

    def test_next_link_replay_is_stable(self):
        st, _, d = self.sim.graph("/v1.0/groups/delta?$select=displayName,members")
        link = d["@odata.nextLink"]
        a = self.sim.graph(link)[2]
        b = self.sim.graph(link)[2]
        self.assertEqual(a["value"], b["value"])


class IncrementalTests(unittest.TestCase):
    """Each test gets its own simulator: incremental rounds depend on the change history."""

    def setUp(self):
        self.sim = Sim("--page-size", "4", "--page-members", "20", seed_obj=seed())

    def tearDown(self):
        self.sim.close()

    def test_incremental_round_after_admin_changes(self):
        s = self.sim
        pages, d1 = s.walk("/v1.0/groups/delta?$select=" + SPEC_SELECT)
        self.assertEqual(s.admin("PATCH", "groups/" + G1,
                                 {"displayName": "App-Finance-Writers"})[0], 200)
        self.assertEqual(s.admin("POST", "groups/%s/members" % G1,
                                 {"add": [uid(2)], "remove": [uid(1)]})[0], 200)
        self.assertEqual(s.admin("DELETE", "groups/" + G2)[0], 200)
        st, g10 = s.admin("POST", "groups", {"displayName": "New group",
                                             "members": [uid(1), G7]})
        self.assertEqual(st, 201)
        g10 = g10["id"]
        # an unselected property change does not surface
        s.admin("PATCH", "groups/" + G5, {"mailNickname": "changed"})
        # a member added then removed again within the window is no change
        s.admin("POST", "groups/%s/members" % G9, {"add": [uid(5)]})
        s.admin("POST", "groups/%s/members" % G9, {"remove": [uid(5)]})
        pages, d2 = s.walk(d1)
        vals = [o for p in pages for o in p["value"]]
        by = {}
        for o in vals:
            by.setdefault(o["id"], []).append(o)
        self.assertEqual(set(by), {G1, G2, g10})
        g1 = by[G1][0]
        self.assertEqual(g1["displayName"], "App-Finance-Writers")
        self.assertEqual(g1["description"], "Kerberos app access")   # default: all selected
        md = {m["id"]: m for m in g1["members@delta"]}
        self.assertEqual(set(md), {uid(1), uid(2), G2})
        self.assertNotIn("@removed", md[uid(2)])
        self.assertEqual(md[uid(1)]["@removed"], {"reason": "deleted"})
        self.assertEqual(md[G2]["@removed"], {"reason": "deleted"})
        self.assertEqual(md[G2]["@odata.type"], "#microsoft.graph.group")
        self.assertEqual(by[G2], [{"id": G2, "@removed": {"reason": "deleted"}}])
        self.assertEqual({m["id"] for m in by[g10][0]["members@delta"]}, {uid(1), G7})
        # next round: nothing changed
        pages, d3 = s.walk(d2)
        self.assertEqual([o for p in pages for o in p["value"]], [])
        # an old deltaLink replays the same round
        again, _ = s.walk(d1)
        self.assertEqual(merge(again), merge([{"value": vals}]))
        # Prefer: return=minimal returns only changed properties
        pages, _ = s.walk(d1, headers={"Prefer": "return=minimal"})
        g1m = [o for p in pages for o in p["value"] if o["id"] == G1][0]
        self.assertEqual(set(g1m), {"id", "displayName", "members@delta"})
        # a user deleted: its memberships are removed in the next round
        s.admin("DELETE", "users/" + uid(4))
        pages, _ = s.walk(d3)
        got = merge(pages)
        self.assertEqual(set(got), {G7})
        self.assertEqual(got[G7][2], {uid(4)})

    def test_deltatoken_latest(self):
        s = self.sim
        st, _, d = s.graph("/v1.0/groups/delta?$deltatoken=latest&$select=displayName,members")
        self.assertEqual(st, 200)
        self.assertEqual(d["value"], [])
        self.assertIn("@odata.deltaLink", d)
        self.assertNotIn("@odata.nextLink", d)
        s.admin("PATCH", "groups/" + G7, {"displayName": "Bigger", "description": "x"})
        pages, _ = s.walk(d["@odata.deltaLink"])
        vals = [o for p in pages for o in p["value"]]
        self.assertEqual(vals, [{"id": G7, "displayName": "Bigger"}])

    def test_large_incremental_member_change_is_split(self):
        s = self.sim
        _, dl = s.walk("/v1.0/groups/delta?$select=displayName,members")
        st, d = s.admin("POST", "groups/%s/members" % G9,
                        {"add": [uid(n) for n in range(4, 49)]})
        self.assertEqual(d["changed"], 45)
        pages, _ = s.walk(dl)
        seen = [o for p in pages for o in p["value"] if o["id"] == G9]
        self.assertGreaterEqual(len(seen), 3)
        self.assertEqual(sum(len(o["members@delta"]) for o in seen), 45)

    def test_users_delta_and_reads(self):
        s = self.sim
        sel = ("id,displayName,onPremisesSyncEnabled,onPremisesSecurityIdentifier,"
               "onPremisesObjectIdentifier,onPremisesSamAccountName,"
               "onPremisesDistinguishedName,onPremisesDomainName")
        pages, dl = s.walk("/v1.0/users/delta?$select=" + sel)
        self.assertGreater(len(pages), 1)
        users = {o["id"]: o for p in pages for o in p["value"]}
        self.assertEqual(len(users), 48)
        self.assertEqual(users[uid(1)]["onPremisesSecurityIdentifier"], "S-1-5-21-1-2-3-1001")
        self.assertIs(users[uid(1)]["onPremisesSyncEnabled"], True)
        for k in sel.split(",")[2:]:
            self.assertIsNone(users[uid(3)][k], k)
            self.assertIsNotNone(users[uid(2)][k], k)
        self.assertEqual(set(users[uid(3)]), set(sel.split(",")))
        # incremental: a new user and a deleted one
        st, nu = s.admin("POST", "users", {"displayName": "Fresh", "synced": True})
        self.assertEqual(st, 201)
        self.assertTrue(nu["onPremisesSecurityIdentifier"].startswith("S-1-5-21-"))
        s.admin("DELETE", "users/%s?reason=changed" % uid(3))
        pages, _ = s.walk(dl)
        vals = {o["id"]: o for p in pages for o in p["value"]}
        self.assertEqual(set(vals), {nu["id"], uid(3)})
        self.assertEqual(vals[uid(3)], {"id": uid(3), "@removed": {"reason": "changed"}})
        # GET /users/{id}: default set has no on-prem fields; $select returns them
        st, _, d = s.graph("/v1.0/users/" + uid(1))
        self.assertEqual(st, 200)
        self.assertIn("userPrincipalName", d)
        self.assertNotIn("onPremisesSecurityIdentifier", d)
        st, _, d = s.graph("/v1.0/users/%s?$select=%s" % (uid(1), sel))
        self.assertEqual(d["onPremisesObjectIdentifier"], "20000000-0000-4000-8000-000000000001")
        self.assertEqual(d["onPremisesDistinguishedName"], "CN=User 1,OU=Users,DC=x,DC=test")
        self.assertEqual(d["onPremisesSamAccountName"], "u1")
        self.assertEqual(d["onPremisesDomainName"], "x.test")
        st, _, d = s.graph("/v1.0/users/u2@x.test?$select=id")
        self.assertEqual((st, d["id"]), (200, uid(2)))
        st, _, d = s.graph("/v1.0/users/" + uid(999))
        self.assertEqual(st, 404)
        check_graph_error(self, d, "Request_ResourceNotFound")

    def test_get_by_ids_and_group_reads(self):
        s = self.sim
        st, _, d = s.graph("/v1.0/directoryObjects/getByIds?$select=id,"
                           "onPremisesSecurityIdentifier", "POST",
                           {"ids": [uid(1), uid(2), G1, uid(999)], "types": ["user"]})
        self.assertEqual(st, 200)
        self.assertEqual([o["id"] for o in d["value"]], [uid(1), uid(2)])
        self.assertEqual(d["value"][0], {"@odata.type": "#microsoft.graph.user", "id": uid(1),
                                         "onPremisesSecurityIdentifier": "S-1-5-21-1-2-3-1001"})
        st, _, d = s.graph("/v1.0/directoryObjects/getByIds", "POST", {"ids": [G1, uid(3)]})
        self.assertEqual([o["@odata.type"] for o in d["value"]],
                         ["#microsoft.graph.group", "#microsoft.graph.user"])
        st, _, d = s.graph("/v1.0/directoryObjects/getByIds", "POST", {"nope": 1})
        self.assertEqual(st, 400)
        st, _, d = s.graph("/v1.0/groups/%s?$select=displayName,%s" % (G1, EXT_WB))
        self.assertEqual((d["displayName"], d[EXT_WB]), ("App-Finance-Readers", True))
        self.assertNotIn("description", d)
        st, _, d = s.graph("/v1.0/groups/" + gid(999))
        self.assertEqual(st, 404)
        check_graph_error(self, d, "Request_ResourceNotFound")
        url = "/v1.0/groups/%s/members?$top=10&$select=id,onPremisesSecurityIdentifier" % G7
        ids = []
        while url:
            st, _, d = s.graph(url)
            self.assertEqual(st, 200)
            self.assertLessEqual(len(d["value"]), 10)
            for o in d["value"]:
                self.assertEqual(set(o), {"@odata.type", "id", "onPremisesSecurityIdentifier"})
            ids += [o["id"] for o in d["value"]]
            url = d.get("@odata.nextLink")
        self.assertEqual(ids, [uid(n) for n in range(4, 49)])
        st, _, d = s.graph("/v1.0/groups/%s/members?$top=1000" % G7)
        self.assertEqual(st, 400)

    def test_member_of(self):
        s = self.sim
        st, u = s.admin("POST", "users", {"displayName": "In three groups",
                                          "userPrincipalName": "three@graphsim.test"})
        self.assertEqual(st, 201, u)
        mine = []
        for i in range(3):
            st, g = s.admin("POST", "groups", {"displayName": "MemberOf %d" % i,
                                               "securityEnabled": True, "mailEnabled": False,
                                               "mailNickname": "mo%d" % i, "members": [u["id"]]})
            self.assertEqual(st, 201, g)
            mine.append(g["id"])
        for cast in ("", "/microsoft.graph.group"):
            url = "/v1.0/users/%s/memberOf%s?$select=id&$top=2" % (u["id"], cast)
            ids, pages = [], 0
            while url:
                st, _, d = s.graph(url)
                self.assertEqual(st, 200, d)
                pages += 1
                for o in d["value"]:
                    self.assertEqual(o, {"@odata.type": "#microsoft.graph.group", "id": o["id"]})
                ids += [o["id"] for o in d["value"]]
                url = d.get("@odata.nextLink")
            self.assertEqual((ids, pages), (sorted(mine), 2))
        st, _, d = s.graph("/v1.0/users/%s/memberOf" % uid(999))
        self.assertEqual(st, 404)
        check_graph_error(self, d, "Request_ResourceNotFound")
        # faults reach it through the default path
        self.fault(kind="503", count=1)
        self.assertEqual(s.graph("/v1.0/users/%s/memberOf" % u["id"])[0], 503)
        self.assertEqual(s.graph("/v1.0/users/%s/memberOf" % u["id"])[0], 200)

    # ------------------------------------------------------------------ faults
    def fault(self, **kw):
        st, d = self.sim.admin("POST", "faults", kw)
        self.assertEqual(st, 200, d)

    def test_fault_429_and_stats(self):
        s = self.sim
        s.admin("DELETE", "stats")
        self.fault(kind="429", count=2, retry_after=3)
        for _ in range(2):
            st, h, d = s.graph("/v1.0/groups/delta")
            self.assertEqual(st, 429)
            self.assertEqual(h["retry-after"], "3")
            check_graph_error(self, d, "TooManyRequests")
        st, _, _ = s.graph("/v1.0/groups/delta")
        self.assertEqual(st, 200)
        st, d = s.admin("GET", "stats")
        self.assertEqual(d["requests"]["GET /v1.0/groups/delta"], {"429": 2, "200": 1})
        self.assertEqual(d["requests"]["POST /{tenant}/oauth2/v2.0/token"], {"200": 1})
        self.assertEqual(d["faultsApplied"], {"429": 2})
        s.graph("/v1.0/groups/" + G1)
        st, d = s.admin("GET", "stats")
        self.assertEqual(d["requests"]["GET /v1.0/groups/{id}"], {"200": 1})

    def test_fault_503_and_path_match(self):
        s = self.sim
        self.fault(kind="503", count=1, path="/v1.0/users/")
        self.assertEqual(s.graph("/v1.0/groups/" + G1)[0], 200)     # other path untouched
        st, h, d = s.graph("/v1.0/users/" + uid(1))
        self.assertEqual(st, 503)
        check_graph_error(self, d, "serviceNotAvailable")
        self.assertEqual(s.graph("/v1.0/users/" + uid(1))[0], 200)

    def test_fault_410_on_delta_link(self):
        s = self.sim
        _, dl = s.walk("/v1.0/groups/delta?$select=displayName,members")
        self.fault(kind="410", contains="$deltatoken")
        st, h, d = s.graph(dl)
        self.assertEqual(st, 410)
        check_graph_error(self, d, "resyncRequired")
        loc = h["location"]
        self.assertTrue(loc.startswith(s.url + "/v1.0/groups/delta?"))
        self.assertTrue(loc.endswith("$deltatoken="))
        self.assertIn("$select=displayName,members", loc)
        pages, _ = s.walk(loc)        # following Location restarts a full round
        got = merge(pages)
        self.assertEqual(len(got), 9)
        self.assertEqual(set(got[G1][0]), {"id", "displayName"})
        self.assertEqual(got[G1][1], {uid(1), uid(3), G2})

    def test_fault_sync_state_not_found(self):
        s = self.sim
        _, dl = s.walk("/v1.0/groups/delta?$select=displayName")
        self.fault(kind="sync_state_not_found")
        st, _, d = s.graph(dl)
        self.assertEqual(st, 400)
        check_graph_error(self, d, "syncStateNotFound")
        self.assertIn("delta token is expired", d["error"]["message"])
        self.assertEqual(s.graph(dl)[0], 200)
        # expiry by age
        s.admin("POST", "config", {"delta_token_ttl": 0})
        time.sleep(1.1)
        st, _, d = s.graph(dl)
        self.assertEqual(st, 400)
        check_graph_error(self, d, "syncStateNotFound")

    def test_invalidate_all_delta_tokens(self):
        s = self.sim
        _, dl = s.walk("/v1.0/groups/delta?$select=displayName")
        s.admin("POST", "deltatokens/invalidate", {"mode": "410"})
        st, h, _ = s.graph(dl)
        self.assertEqual(st, 410)
        self.assertIn("$deltatoken=", h["location"])
        _, dl2 = s.walk(h["location"])
        self.assertEqual(s.graph(dl2)[0], 200)
        s.admin("POST", "deltatokens/invalidate", {"mode": "sync_state_not_found"})
        st, _, d = s.graph(dl2)
        self.assertEqual(st, 400)
        check_graph_error(self, d, "syncStateNotFound")

    def test_fault_410_default_hits_both_deltas(self):
        s = self.sim
        _, gl = s.walk("/v1.0/groups/delta?$select=displayName")
        _, ul = s.walk("/v1.0/users/delta?$select=id")
        self.fault(kind="410", count=2)
        for link, kind in ((ul, "users"), (gl, "groups")):
            st, h, d = s.graph(link)
            self.assertEqual(st, 410)
            check_graph_error(self, d, "resyncRequired")
            self.assertTrue(h["location"].startswith(s.url + "/v1.0/%s/delta?" % kind))
        self.fault(kind="sync_state_not_found", path=["/v1.0/users/delta"])
        self.assertEqual(s.graph(gl)[0], 200)
        st, _, d = s.graph(ul)
        self.assertEqual(st, 400)
        check_graph_error(self, d, "syncStateNotFound")
        self.fault(kind="410", location=False)
        st, h, d = s.graph(gl)
        self.assertEqual(st, 410)
        check_graph_error(self, d, "resyncRequired")
        self.assertNotIn("location", h)
        st, d = s.admin("POST", "faults", {"kind": "410", "path": 5})
        self.assertEqual(st, 400)

    def test_fault_reset_mid_paging(self):
        """A reset between pages: the nextLink issued before it and the old deltaLink die."""
        s = self.sim
        _, dl = s.walk("/v1.0/groups/delta?$select=displayName")
        s.admin("DELETE", "requests")
        self.fault(kind="reset", path="/v1.0/groups/delta", contains="$skiptoken")
        st, _, p1 = s.graph("/v1.0/groups/delta?$select=displayName")
        self.assertEqual(st, 200)
        st, _, p2 = s.graph(p1["@odata.nextLink"])        # served, then the reset
        self.assertEqual(st, 200)
        st, h, d = s.graph(p2["@odata.nextLink"])
        self.assertEqual(st, 410)
        check_graph_error(self, d, "resyncRequired")
        self.assertIn("$select=displayName", h["location"])
        self.assertEqual(s.graph(dl)[0], 410)
        pages, _ = s.walk(h["location"])                   # a new round works
        self.assertEqual(len(merge(pages)), 9)
        st, d = s.admin("GET", "requests?contains=$skiptoken")
        self.assertEqual([x["status"] for x in d["requests"]], [200, 410] + [200] * (
            len(pages) - 1))
        self.fault(kind="reset", mode="sync_state_not_found", contains="$skiptoken")
        st, _, p1 = s.graph("/v1.0/groups/delta?$select=displayName")
        s.graph(p1["@odata.nextLink"])
        st, _, d = s.graph(p1["@odata.nextLink"])
        self.assertEqual(st, 400)
        check_graph_error(self, d, "syncStateNotFound")

    def test_fault_expired_token(self):
        s = self.sim
        self.fault(kind="expired_token", path="/v1.0/users/")
        self.assertEqual(s.graph("/v1.0/groups/" + G1)[0], 200)
        st, h, d = s.graph("/v1.0/users/" + uid(1))
        self.assertEqual(st, 401)
        check_graph_error(self, d, "InvalidAuthenticationToken")
        self.assertIn("www-authenticate", h)
        # the token stays expired for every endpoint; a new one works
        self.assertEqual(s.graph("/v1.0/groups/" + G1)[0], 401)
        s.token = None
        self.assertEqual(s.graph("/v1.0/groups/" + G1)[0], 200)

    def test_fault_duplicate_and_split_members(self):
        s = self.sim
        url = "/v1.0/groups/delta?$select=displayName,members"
        want = merge(s.walk(url)[0])
        self.fault(kind="duplicate_members", count=-1, path="/v1.0/groups/delta")
        pages, _ = s.walk(url)
        s.admin("DELETE", "faults")
        entries = [m["id"] for p in pages for o in p["value"] for m in o.get("members@delta", [])]
        self.assertTrue(entries and all(entries.count(x) % 2 == 0 for x in entries))
        self.assertEqual(merge(pages), want)
        self.fault(kind="split_members", count=-1, path="/v1.0/groups/delta")
        pages, _ = s.walk(url)
        s.admin("DELETE", "faults")
        ids = [o["id"] for p in pages for o in p["value"]]
        split = [x for x in set(ids) if ids.count(x) > 1]
        self.assertTrue(split)
        for p in pages:
            for o in p["value"]:
                self.assertIn("displayName", o)        # properties repeated on each part
        self.assertEqual(merge(pages), want)

    def test_fault_slow(self):
        self.fault(kind="slow", delay_ms=400)
        t0 = time.time()
        st, _, _ = self.sim.graph("/v1.0/groups/" + G1)
        self.assertEqual(st, 200)
        self.assertGreaterEqual(time.time() - t0, 0.39)
        t0 = time.time()
        self.sim.graph("/v1.0/groups/" + G1)
        self.assertLess(time.time() - t0, 0.3)

    def test_fault_truncated(self):
        s = self.sim
        s.graph("/v1.0/groups/" + G1)       # have a token first
        self.fault(kind="truncated")
        c = s._conn()
        c.request("GET", "/v1.0/groups/delta", headers={"Authorization": "Bearer " + s.token})
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        with self.assertRaises(http.client.IncompleteRead):
            r.read()
        c.close()
        s.conn = None
        self.assertEqual(s.graph("/v1.0/groups/delta")[0], 200)

    def test_fault_malformed(self):
        s = self.sim
        s.graph("/v1.0/groups/" + G1)
        self.fault(kind="malformed")
        st, h, data = s.raw("GET", "/v1.0/groups/delta",
                            headers={"Authorization": "Bearer " + s.token})
        self.assertEqual(st, 200)
        self.assertEqual(int(h["content-length"]), len(data))
        with self.assertRaises(ValueError):
            json.loads(data)
        self.assertEqual(s.graph("/v1.0/groups/delta")[0], 200)

    def test_fault_token_error(self):
        s = self.sim
        self.assertEqual(s.graph("/v1.0/groups/" + G1)[0], 200)   # holds a token now
        self.fault(kind="token_error", count=2)
        self.assertEqual(s.graph("/v1.0/groups/" + G1)[0], 200)   # Graph not affected
        st, _, d = s.get_token()
        self.assertEqual(st, 503)
        self.assertEqual(d["error"], "temporarily_unavailable")
        self.assertIsInstance(d["error_codes"], list)
        st, _, d = s.get_token()
        self.assertEqual(st, 503)
        self.assertEqual(s.get_token()[0], 200)
        self.fault(kind="token_error", status=401)
        st, _, d = s.get_token()
        self.assertEqual((st, d["error"]), (401, "invalid_client"))

    def test_fault_clear_and_validation(self):
        s = self.sim
        self.fault(kind="429", count=5)
        st, d = s.admin("GET", "faults")
        self.assertEqual(len(d["faults"]), 1)
        s.admin("DELETE", "faults")
        self.assertEqual(s.graph("/v1.0/groups/" + G1)[0], 200)
        st, d = s.admin("POST", "faults", {"kind": "bogus"})
        self.assertEqual(st, 400)
        st, d = s.admin("POST", "faults", {"kind": "429", "count": -1})   # until cleared
        for _ in range(3):
            self.assertEqual(s.graph("/v1.0/groups/" + G1)[0], 429)
        s.admin("DELETE", "faults")
        self.assertEqual(s.graph("/v1.0/groups/" + G1)[0], 200)

    def test_admin_validation(self):
        s = self.sim
        st, d = s.json("POST", "/_sim/groups", b"{not json")[0], None
        self.assertEqual(st, 400)
        st, d = s.admin("POST", "groups/%s/members" % G1, {"add": [uid(777)]})
        self.assertEqual(st, 404)
        st, d = s.admin("POST", "groups/%s/members" % G1, {"add": [G1]})
        self.assertEqual(st, 400)
        st, d = s.admin("POST", "config", {"page_size": 0})
        self.assertEqual(st, 400)
        st, d = s.admin("PATCH", "groups/" + G1, {"bogusProp": 1})
        self.assertEqual(st, 400)
        st, d = s.admin("POST", "groups", {"id": G1, "displayName": "dup"})
        self.assertEqual(st, 409)
        st, d = s.admin("DELETE", "groups/" + gid(555))
        self.assertEqual(st, 404)

    # ------------------------------------------------------------------ expected AD state
    def expected(self, **params):
        st, _, d = self.sim.json("GET", "/_sim/expected?" + urllib.parse.urlencode(params))
        return st, d

    def test_expected_all(self):
        st, d = self.expected(mode="all", target_ou="OU=Cloud,DC=x,DC=test")
        self.assertEqual(st, 200)
        by = {g["objectId"]: g for g in d["groups"]}
        self.assertEqual(set(by), {G1, G2, G7, G8, G9})
        self.assertEqual(set(d["outOfScope"]), {G3, G4, G5, G6})
        g1 = by[G1]
        self.assertEqual(g1["cn"], "App-Finance-Readers_" + G1[-12:])
        self.assertEqual(g1["sAMAccountName"], "Group_" + G1[-12:])
        self.assertEqual(g1["msDS-ExternalDirectoryObjectId"], "Group_" + G1)
        self.assertEqual(g1["adminDescription"], "Group_" + G1)
        self.assertEqual(g1["groupType"], -2147483640)
        self.assertEqual(g1["description"], "Kerberos app access")
        self.assertEqual(g1["memberSids"], ["S-1-5-21-1-2-3-1001"])   # cloud-only u3 skipped
        self.assertEqual(g1["memberGuids"], ["20000000-0000-4000-8000-000000000001"])
        self.assertEqual(g1["memberGroups"], [G2])
        self.assertEqual(g1["skippedCloudOnlyUsers"], 1)
        self.assertEqual(g1["dn"], "CN=App-Finance-Readers_%s,OU=Cloud,DC=x,DC=test"
                         % G1[-12:])
        self.assertEqual(sorted(g1["memberDns"]),
                         sorted(["CN=User 1,OU=Users,DC=x,DC=test",
                                 "CN=Nested Child_%s,OU=Cloud,DC=x,DC=test" % G2[-12:]]))
        g8 = by[G8]
        # ODD holds one emoji (two UTF-16 units), so the 51-unit cut keeps 50 characters and
        # the cn is 64 UTF-16 units, AD's rangeUpper for cn.
        want_cn = ODD.strip()[:50] + "_" + G8[-12:]
        self.assertEqual(g8["cn"], want_cn)
        self.assertEqual(len(g8["cn"].encode("utf-16-le")) // 2, 64)
        self.assertEqual(g8["description"], "d" * 448)
        self.assertEqual(g8["memberGroups"], [G1])        # G3 mail-enabled, G6 synced: out
        self.assertEqual(g8["skippedOutOfScopeGroups"], 2)
        self.assertTrue(g8["dn"].startswith("CN=Comma\\, Plus\\+ \\\"Q\\\" \U0001F680"))
        self.assertEqual(by[G9]["memberSids"], [])
        self.assertIsNone(by[G9]["description"])
        self.assertEqual(len(by[G7]["memberSids"]), 45)

    def test_expected_selected_and_filter(self):
        st, d = self.expected(mode="selected", group_ids="%s,%s" % (G1, G3))
        self.assertEqual(st, 200)
        self.assertEqual([g["objectId"] for g in d["groups"]], [G1])   # G3 fails base scope
        self.assertEqual(d["groups"][0]["memberGroups"], [])          # G2 not selected
        self.assertEqual(d["groups"][0]["skippedOutOfScopeGroups"], 1)
        st, d = self.expected(mode="filter", filter="%s IS TRUE" % EXT_WB)
        self.assertEqual([g["objectId"] for g in d["groups"]], [G1])
        st, d = self.expected(mode="filter",
                              filter="displayName REGEX_MATCH '^(Big|Empty)$' OR %s IS FALSE"
                              % EXT_WB)
        self.assertEqual({g["objectId"] for g in d["groups"]}, {G2, G7, G9})
        st, d = self.expected(mode="filter",
                              filter="description NOT EQUALS 'big one' AND "
                                     "description IS NOT NULL")
        self.assertEqual({g["objectId"] for g in d["groups"]}, {G1, G8})
        st, d = self.expected(mode="filter", filter="displayName FROBNICATES x")
        self.assertEqual(st, 400)
        st, d = self.expected(mode="filter", filter="displayName EQUALS 'unterminated")
        self.assertEqual(st, 400)
        st, d = self.expected(mode="nonsense")
        self.assertEqual(st, 400)
        # expected state follows admin changes
        self.sim.admin("POST", "groups/%s/members" % G1, {"remove": [uid(1)]})
        self.sim.admin("PATCH", "groups/" + G1, {EXT_WB: None})
        st, d = self.expected(mode="filter", filter="%s IS TRUE" % EXT_WB)
        self.assertEqual(d["groups"], [])
        st, d = self.expected(mode="all")
        g1 = [g for g in d["groups"] if g["objectId"] == G1][0]
        self.assertEqual(g1["memberSids"], [])


def iso_in(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))


def hub_url(hub, tenant=TENANT):
    return ("EventHub:https://wbtest.servicebus.windows.net/eventhubname/%s?tenantId=%s"
            % (hub, tenant))


def sub_body(hub="hub1", **over):
    b = {"changeType": "created,updated,deleted", "notificationUrl": hub_url(hub),
         "lifecycleNotificationUrl": hub_url(hub + "-life"), "resource": "groups",
         "expirationDateTime": iso_in(3600), "clientState": "client-state-1"}
    b.update(over)
    return {k: v for k, v in b.items() if v is not None}


def wait_messages(sim, topic, n, timeout=10):
    """The notifications for topic in the order they left the queue, once n did (without a
    broker each ends "failed": the shape and the order are what the unit tests check)."""
    deadline = time.time() + timeout
    while True:
        st, d = sim.admin("GET", "notify/messages?topic=" + topic)
        msgs = sorted((m for m in d["messages"] if m["sent"]), key=lambda m: m["sent"])
        if len(msgs) >= n or time.time() > deadline:
            return [dict(m, value=json.loads(m["value"])) for m in msgs]
        time.sleep(0.05)


class SubscriptionTests(unittest.TestCase):
    """/subscriptions: the documented fields, validation and errors, and what the simulator
    would put on the Event Hub for each change, fault and lifecycle event (no broker here:
    tests/kafka/0160-graphsim-notifications.py reads them from the real one)."""

    def setUp(self):
        self.sim = Sim(seed_obj=seed())

    def tearDown(self):
        self.sim.close()

    def create(self, **over):
        st, _, d = self.sim.graph("/v1.0/subscriptions", "POST", sub_body(**over))
        self.assertEqual(st, 201, d)
        return d

    def test_create_get_list_patch_delete(self):
        s = self.sim
        d = self.create()
        self.assertTrue(re.match(r"^[0-9a-f-]{36}$", d["id"]))
        self.assertTrue(d["@odata.context"].endswith("/v1.0/$metadata#subscriptions/$entity"))
        for k in ("resource", "changeType", "notificationUrl", "lifecycleNotificationUrl",
                  "clientState"):
            self.assertEqual(d[k], sub_body()[k])
        self.assertEqual(d["applicationId"], CLIENT)
        self.assertTrue(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$",
                                 d["expirationDateTime"]))
        st, _, g = s.graph("/v1.0/subscriptions/" + d["id"])
        self.assertEqual(st, 200)
        self.assertEqual(g["id"], d["id"])
        self.assertIsNone(g["clientState"])    # the secret is not read back
        st, _, lst = s.graph("/v1.0/subscriptions")
        self.assertEqual(st, 200)
        self.assertEqual([x["id"] for x in lst["value"]], [d["id"]])
        # renew
        exp = iso_in(20 * 86400)
        st, _, p = s.graph("/v1.0/subscriptions/" + d["id"], "PATCH",
                           {"expirationDateTime": exp})
        self.assertEqual(st, 200, p)
        self.assertEqual(p["expirationDateTime"][:19], exp[:19])
        st, _, e = s.graph("/v1.0/subscriptions/" + d["id"], "PATCH", {"resource": "users"})
        self.assertEqual(st, 400)
        check_graph_error(self, e, "ValidationError")
        st, _, _ = s.graph("/v1.0/subscriptions/%s/reauthorize" % d["id"], "POST")
        self.assertEqual(st, 204)
        st, _, _ = s.graph("/v1.0/subscriptions/" + d["id"], "DELETE")
        self.assertEqual(st, 204)
        for method, body in (("GET", None), ("PATCH", {"expirationDateTime": exp}),
                             ("DELETE", None)):
            st, _, e = s.graph("/v1.0/subscriptions/" + d["id"], method, body)
            self.assertEqual(st, 404, method)
            check_graph_error(self, e, "ResourceNotFound")
        st, _, lst = s.graph("/v1.0/subscriptions")
        self.assertEqual(lst["value"], [])
        st, stats = s.admin("GET", "stats")
        self.assertEqual(stats["requests"]["POST /v1.0/subscriptions"], {"201": 1})
        self.assertEqual(stats["requests"]["GET /v1.0/subscriptions/{id}"],
                         {"200": 1, "404": 1})

    def test_validation_errors(self):
        s = self.sim
        bad = [
            dict(expirationDateTime=iso_in(41760 * 60 + 120)),        # beyond the maximum
            dict(expirationDateTime=iso_in(-60)),                     # in the past
            dict(expirationDateTime="tomorrow"),
            dict(expirationDateTime=None),
            dict(changeType="created,renamed"),
            dict(changeType=""),
            dict(changeType="updated,updated"),
            dict(resource="users"),
            dict(resource="me/messages"),
            dict(notificationUrl=None),
            dict(notificationUrl="EventHub:https://x.servicebus.windows.net/eventhubname/h"),
            dict(notificationUrl=hub_url("h", "00000000-0000-0000-0000-000000000000")),
            dict(notificationUrl="https://webhook.example/notify"),
            dict(lifecycleNotificationUrl="https://webhook.example/life"),
            dict(clientState="x" * 129),
            dict(includeResourceData=True),
        ]
        for over in bad:
            st, _, e = s.graph("/v1.0/subscriptions", "POST", sub_body(**over))
            self.assertEqual(st, 400, (over, e))
            check_graph_error(self, e, "ValidationError")
        st, _, e = s.graph("/v1.0/subscriptions", "POST", "{not json")
        self.assertEqual(st, 400)
        # just inside the maximum is fine; a subset of change types and groups/{id} too
        self.create(expirationDateTime=iso_in(41760 * 60 - 120), clientState="x" * 128)
        self.create(changeType="updated", resource="groups/" + G1,
                    lifecycleNotificationUrl=None, clientState=None)
        st, _, lst = s.graph("/v1.0/subscriptions")
        self.assertEqual(len(lst["value"]), 2)
        # the same authentication as every Graph endpoint
        st, _, e = s.json("POST", "/v1.0/subscriptions", sub_body())
        self.assertEqual(st, 401)
        check_graph_error(self, e, "InvalidAuthenticationToken")
        st, _, e = s.json("GET", "/v1.0/subscriptions", None, {"Authorization": "Bearer x"})
        self.assertEqual(st, 401)

    def test_change_notifications_shape(self):
        s = self.sim
        d = self.create()
        s.admin("PATCH", "groups/" + G1, {"displayName": "Renamed"})
        s.admin("POST", "groups/" + G2 + "/members", {"add": [uid(5)]})
        st, g = s.admin("POST", "groups", {"displayName": "New one", "id": gid(50)})
        self.assertEqual(st, 201)
        s.admin("DELETE", "groups/" + G9)
        s.admin("DELETE", "groups/" + G4)      # Microsoft 365: a soft delete
        msgs = wait_messages(s, "hub1", 5)
        # a creation and a soft delete are "updated"; only a permanent delete is "deleted"
        self.assertEqual([(m["what"], m["value"]["value"][0]["resourceData"]["id"])
                          for m in msgs],
                         [("updated", G1), ("updated", G2), ("updated", gid(50)),
                          ("deleted", G9), ("updated", G4)])
        n = msgs[0]["value"]
        self.assertEqual(set(n), {"value"})
        self.assertEqual(n["value"][0], {
            "subscriptionId": d["id"], "subscriptionExpirationDateTime":
            d["expirationDateTime"], "changeType": "updated", "resource": "Groups/" + G1,
            "resourceData": {"@odata.type": "#Microsoft.Graph.Group",
                             "@odata.id": "Groups/" + G1, "id": G1,
                             "organizationId": TENANT},
            "clientState": "client-state-1", "tenantId": TENANT})
        self.assertEqual({m["key"] for m in msgs}, {d["id"]})
        # no broker configured: each one failed, and says why
        self.assertEqual({m["status"] for m in msgs}, {"failed"})
        self.assertIn("--eventhub-bootstrap", msgs[0]["error"])
        # deleting a group that is a member of another updates that one too
        s.admin("DELETE", "groups/" + G2)      # G2 is a member of G1
        msgs = wait_messages(s, "hub1", 7)
        self.assertEqual([(m["what"], m["value"]["value"][0]["resourceData"]["id"])
                          for m in msgs[5:]], [("deleted", G2), ("updated", G1)])

    def test_hub_child_that_dies(self):
        """A simhub.py child that cannot run (here: an interpreter that exits at once) fails
        each notification with the reason instead of leaving it "sent" for ever."""
        s = Sim("--eventhub-bootstrap", "127.0.0.1:9", "--eventhub-python", "/bin/false",
                seed_obj=seed())
        try:
            st, _, d = s.graph("/v1.0/subscriptions", "POST", sub_body())
            self.assertEqual(st, 201, d)
            for n in range(3):
                s.admin("PATCH", "groups/" + G1, {"displayName": "n%d" % n})
            deadline = time.time() + 15
            while time.time() < deadline:
                st, m = s.admin("GET", "notify/messages")
                if all(x["status"] == "failed" for x in m["messages"]):
                    break
                time.sleep(0.1)
            self.assertEqual([x["status"] for x in m["messages"]], ["failed"] * 3)
            for x in m["messages"]:
                self.assertRegex(x["error"], "simhub.py (exited with status 1|is not running)")
        finally:
            s.close()

    def test_change_type_and_resource_filters(self):
        s = self.sim
        self.create(hub="only-deleted", changeType="deleted")
        self.create(hub="only-created", changeType="created")
        self.create(hub="only-g1", resource="groups/" + G1)
        s.admin("POST", "groups", {"displayName": "created, notified as updated"})
        s.admin("DELETE", "groups/" + G4)      # Microsoft 365: soft delete, "updated"
        s.admin("PATCH", "groups/" + G7, {"displayName": "x"})
        s.admin("PATCH", "groups/" + G1, {"displayName": "y"})
        s.admin("DELETE", "groups/" + G9)
        self.assertEqual([m["what"] for m in wait_messages(s, "only-deleted", 1)], ["deleted"])
        self.assertEqual([m["value"]["value"][0]["resourceData"]["id"]
                          for m in wait_messages(s, "only-g1", 1)], [G1])
        time.sleep(0.3)
        self.assertEqual(len(wait_messages(s, "only-deleted", 1)), 1)
        self.assertEqual(len(wait_messages(s, "only-g1", 1)), 1)
        self.assertEqual(wait_messages(s, "only-created", 0, timeout=0), [])

    def test_faults(self):
        s = self.sim
        self.create()
        rename = iter(range(1000))

        def change(g=G7):
            s.admin("PATCH", "groups/" + g, {"displayName": "n%d" % next(rename)})

        def ids(msgs):
            return [m["value"]["value"][0]["resourceData"]["id"] for m in msgs]

        st, f = s.admin("POST", "notify/faults", {"kind": "bogus"})
        self.assertEqual(st, 400)
        # drop: nothing queued; duplicate: twice
        s.admin("POST", "notify/faults", {"faults": [{"kind": "drop"}, {"kind": "duplicate"}]})
        change(G1)
        change(G2)
        msgs = wait_messages(s, "hub1", 2)
        self.assertEqual(ids(msgs), [G2, G2])
        # forge: the real change with a wrong clientState
        s.admin("POST", "notify/faults", {"kind": "forge"})
        change(G1)
        msgs = wait_messages(s, "hub1", 3)
        cs = msgs[2]["value"]["value"][0]["clientState"]
        self.assertNotEqual(cs, "client-state-1")
        self.assertTrue(cs)
        # reorder: G1's notification leaves after G2's
        s.admin("POST", "notify/faults", {"kind": "reorder"})
        change(G1)
        time.sleep(0.3)
        self.assertEqual(len(wait_messages(s, "hub1", 3, timeout=0)), 3)   # held back
        change(G2)
        msgs = wait_messages(s, "hub1", 5)
        self.assertEqual(ids(msgs[3:]), [G2, G1])
        # delay: leaves after delay_ms, later changes are not held up
        s.admin("POST", "notify/faults", {"kind": "delay", "delay_ms": 1500})
        t0 = time.time()
        change(G1)
        change(G2)
        msgs = wait_messages(s, "hub1", 6)
        self.assertEqual(ids(msgs[5:]), [G2])
        msgs = wait_messages(s, "hub1", 7)
        self.assertEqual(ids(msgs[6:]), [G1])
        self.assertGreaterEqual(time.time() - t0, 1.4)
        st, c = s.admin("GET", "notify/stats")
        for k, v in (("dropped", 1), ("duplicated", 1), ("forged", 1), ("reordered", 1),
                     ("delayed", 1), ("changes", 7), ("queued", 7), ("failed", 7)):
            self.assertEqual(c.get(k), v, (k, c))
        self.assertEqual(s.admin("GET", "notify/faults")[1]["faults"], [])
        # a forged notification without any change
        # a latency for every notification
        s.admin("POST", "config", {"notify_latency_ms": 1000})
        t0 = time.time()
        change(G3)
        self.assertEqual(len(wait_messages(s, "hub1", 8, timeout=0.5)), 7)
        self.assertEqual(ids(wait_messages(s, "hub1", 8)[7:]), [G3])
        self.assertGreaterEqual(time.time() - t0, 0.95)
        s.admin("POST", "config", {"notify_latency_ms": 0})
        st, subs = s.admin("GET", "subscriptions")
        sid = subs["subscriptions"][0]["id"]
        st, r = s.admin("POST", "subscriptions/%s/forge" % sid, {"clientState": "evil"})
        self.assertEqual(st, 200, r)
        msgs = wait_messages(s, "hub1", 9)
        self.assertEqual(msgs[8]["value"]["value"][0]["clientState"], "evil")

    def test_lifecycle_expire_remove(self):
        s = self.sim
        a = self.create(hub="a")
        b = self.create(hub="b")
        c = self.create(hub="c", lifecycleNotificationUrl=None)
        for ev in ("reauthorizationRequired", "missed"):
            st, r = s.admin("POST", "subscriptions/%s/lifecycle" % a["id"], {"event": ev})
            self.assertEqual(st, 200, r)
        st, r = s.admin("POST", "subscriptions/%s/lifecycle" % a["id"], {"event": "nope"})
        self.assertEqual(st, 400)
        st, r = s.admin("POST", "subscriptions/%s/lifecycle" % c["id"], {"event": "missed"})
        self.assertEqual(st, 409)
        msgs = wait_messages(s, "a-life", 2)
        self.assertEqual(msgs[0]["value"], {"value": [{
            "subscriptionId": a["id"], "subscriptionExpirationDateTime":
            a["expirationDateTime"], "tenantId": TENANT, "clientState": "client-state-1",
            "lifecycleEvent": "reauthorizationRequired"}]})
        self.assertEqual(msgs[1]["value"]["value"][0]["lifecycleEvent"], "missed")
        st, v = s.admin("GET", "subscriptions")
        self.assertTrue([x for x in v["subscriptions"] if x["id"] == a["id"]][0][
            "reauthorizationPending"])
        # removed: subscriptionRemoved on the lifecycle hub, then gone
        st, r = s.admin("POST", "subscriptions/%s/remove" % b["id"])
        self.assertEqual(st, 200, r)
        self.assertEqual(wait_messages(s, "b-life", 1)[0]["value"]["value"][0][
            "lifecycleEvent"], "subscriptionRemoved")
        st, _, e = s.graph("/v1.0/subscriptions/" + b["id"])
        self.assertEqual(st, 404)
        # expired: gone, and no more notifications
        st, r = s.admin("POST", "subscriptions/%s/expire" % c["id"])
        self.assertEqual(st, 200)
        st, _, e = s.graph("/v1.0/subscriptions/" + c["id"])
        self.assertEqual(st, 404)
        s.admin("PATCH", "groups/" + G1, {"displayName": "after"})
        self.assertEqual(len(wait_messages(s, "a", 1)), 1)
        time.sleep(0.3)
        self.assertEqual(wait_messages(s, "b", 0, timeout=0), [])
        self.assertEqual(wait_messages(s, "c", 0, timeout=0), [])
        # an expiry reached by the clock works the same way (below 45 minutes Graph makes it
        # 45 minutes: the test lowers that floor)
        d = self.create(hub="e", expirationDateTime=iso_in(60))
        self.assertGreaterEqual(simnotify.parse_time(d["expirationDateTime"]),
                                time.time() + 45 * 60 - 5)
        st, cfg = s.admin("POST", "config", {"subscription_min_minutes": 0})
        self.assertEqual(st, 200, cfg)
        d = self.create(hub="d", expirationDateTime=iso_in(2))
        time.sleep(2.2)
        st, _, e = s.graph("/v1.0/subscriptions/" + d["id"])
        self.assertEqual(st, 404)
        s.admin("PATCH", "groups/" + G1, {"displayName": "later"})
        self.assertEqual(len(wait_messages(s, "a", 2)), 2)
        self.assertEqual(wait_messages(s, "d", 0, timeout=0), [])
        st, c = s.admin("GET", "notify/stats")
        self.assertEqual(c["subscriptionsExpired"], 2)
        # the quota of subscriptions per app and tenant
        s.admin("POST", "config", {"subscription_quota": 3})   # a, e, and one more
        self.create(hub="f")
        st, _, e = s.graph("/v1.0/subscriptions", "POST", sub_body("g"))
        self.assertEqual(st, 403, e)
        check_graph_error(self, e, "ExtensionError")
        self.assertEqual(c["subscriptionsRemoved"], 1)
        self.assertEqual(c["lifecycle.missed"], 1)


class ScopeFilterTests(unittest.TestCase):
    def test_operators(self):
        p = {"a": "Hello", "n": 7, "t": True, "f": False, "z": None}
        cases = [("a EQUALS Hello", True), ("a EQUALS hello", False),
                 ("a NOT_EQUALS hello", True), ("t IS TRUE", True), ("f IS_FALSE", True),
                 ("z IS NULL", True), ("a IS NOT NULL", True), ("n GREATER_THAN 6", True),
                 ("n GREATER THAN OR EQUALS 8", False), ("a REGEX MATCH ^H.l", True),
                 ("z NOT REGEX MATCH x", False), ("a NOT_REGEX_MATCH ^x", True),
                 ("a EQUALS Hello AND n GREATER_THAN 9", False),
                 ("a EQUALS Hello AND n GREATER_THAN 9 OR t IS TRUE", True),
                 ("a eq 'Hello' && t IS TRUE", True), ("missing IS NULL", True)]
        for text, want in cases:
            self.assertEqual(simtenant.ScopeFilter(text).match(p), want, text)
        for bad in ("", "a", "a EQUALS", "a BOGUS 1", "n GREATER_THAN x", "a IS TRUE AND",
                    "a EQUALS 1 2"):
            with self.assertRaises(simtenant.SimError, msg=bad):
                simtenant.ScopeFilter(bad)

    def test_cn_rules(self):
        oid = "2e5807ce-58f3-4a94-9b37-ffff2e085957"
        self.assertEqual(simtenant.ad_cn("  x  ", oid), "x_ffff2e085957")
        # .NET Left() counts UTF-16 units: 25 emoji fill 50 units, the 26th would split.
        name = "\U0001F600" * 60
        self.assertEqual(simtenant.ad_cn(name, oid), "\U0001F600" * 25 + "_ffff2e085957")
        self.assertEqual(simtenant.ad_cn("\u4e2d" * 60, oid), "\u4e2d" * 51 + "_ffff2e085957")
        self.assertEqual(simtenant.ad_cn("\u00a0\u3000x\u2003", oid), "x_ffff2e085957")
        self.assertEqual(simtenant.dn_escape(" #a,b+c\"d\\e<f>g;h "),
                         "\\ #a\\,b\\+c\\\"d\\\\e\\<f\\>g\\;h\\ ")
        self.assertEqual(simtenant.dn_escape("#x"), "\\#x")


class GeneratedTenantTests(unittest.TestCase):
    def test_generation_is_deterministic_and_varied(self):
        def make(s):
            t = simtenant.Tenant()
            info = simtenant.generate(t, 300, 120, 3000, s)
            return t, info
        a, ia = make(7)
        b, _ = make(7)
        c, _ = make(8)
        self.assertEqual(a.dump(), b.dump())
        self.assertNotEqual(a.dump()["groups"], c.dump()["groups"])
        self.assertEqual(ia["memberships"], 3000)
        self.assertEqual(sum(len(g.members) for g in a.groups.values()), 3000)
        for cat in ("mailsec", "unified", "distribution", "synced", "cloud"):
            self.assertGreater(ia["categories"][cat], 0, cat)
        self.assertGreater(ia["odd_names"], 3)
        self.assertTrue(any(k == "group" for g in a.groups.values() for k in g.members.values()))
        synced = [u for u in a.users.values() if u.props["onPremisesSyncEnabled"]]
        self.assertEqual(len(synced), 210)
        sids = {u.props["onPremisesSecurityIdentifier"] for u in synced}
        self.assertEqual(len(sids), 210)
        names = [g.props["displayName"] for g in a.groups.values()]
        self.assertTrue(any(n != n.strip() for n in names))
        self.assertTrue(any(len(n) > 51 for n in names))
        self.assertTrue(any(any(ord(ch) > 0xFFFF for ch in n) for n in names))
        self.assertTrue(any(any(ch in n for ch in ',+"\\<>;') for n in names))

    def test_sids_file(self):
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            for i in range(5):
                f.write(json.dumps({"sid": "S-1-5-21-9-9-9-%d" % (2000 + i),
                                    "guid": "30000000-0000-4000-8000-%012d" % i,
                                    "sam": "ad%d" % i,
                                    "dn": "CN=AD User %d,CN=Users,DC=s,DC=test" % i}) + "\n")
            path = f.name
        try:
            t = simtenant.Tenant()
            simtenant.generate(t, 10, 4, 20, 1, synced_share=1.0,
                               sids=simtenant.read_sids_file(path))
            synced = [u.props for u in t.users.values() if u.props["onPremisesSyncEnabled"]]
            self.assertEqual(len(synced), 5)
            self.assertEqual(synced[0]["onPremisesSecurityIdentifier"], "S-1-5-21-9-9-9-2000")
            self.assertEqual(synced[0]["onPremisesObjectIdentifier"],
                             "30000000-0000-4000-8000-000000000000")
            self.assertEqual(synced[0]["onPremisesDistinguishedName"],
                             "CN=AD User 0,CN=Users,DC=s,DC=test")
            self.assertEqual(synced[0]["displayName"], "AD User 0")
        finally:
            os.unlink(path)

    def test_full_walk_reconstructs_generated_tenant(self):
        s = Sim("--users", "300", "--groups", "120", "--members", "3000", "--seed", "7",
                "--page-size", "7", "--page-members", "50")
        try:
            pages, dl = s.walk("/v1.0/groups/delta?$select=" + SPEC_SELECT)
            got = merge(pages)
            st, dump = s.admin("GET", "dump")
            want = {g["id"]: set(g["members"]) for g in dump["groups"]}
            self.assertEqual(set(got), set(want))
            for g, mem in want.items():
                self.assertEqual(got[g][1], mem, g)
                self.assertEqual(got[g][2], set())
            for p in pages:
                self.assertLessEqual(len(p["value"]), 7)
                self.assertLessEqual(sum(len(o.get("members@delta", [])) for o in p["value"]),
                                     50)
            st, exp = s.admin("GET", "expected?mode=all")
            self.assertGreater(exp["count"], 50)
            self.assertEqual(exp["count"] + len(exp["outOfScope"]), 120)
        finally:
            s.close()

    def test_bad_command_line_and_seed(self):
        r = subprocess.run([sys.executable, SIM, "--page-size", "0"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("page-size", r.stderr)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write("{not json")
        try:
            r = subprocess.run([sys.executable, SIM, "--seed-file", f.name],
                               capture_output=True, text=True, timeout=30)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("bad JSON", r.stderr)
            self.assertNotIn("Traceback", r.stderr)
        finally:
            os.unlink(f.name)


class TlsTests(unittest.TestCase):
    def test_https(self):
        if not shutil.which("openssl"):
            self.skipTest("openssl not installed")
        d = tempfile.mkdtemp(prefix="graphsim-tls-")
        try:
            cert, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                            "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                           capture_output=True, timeout=60)
            s = Sim(seed_obj=seed(), tls=(cert, key))
            try:
                self.assertTrue(s.url.startswith("https://127.0.0.1:"))
                pages, dl = s.walk("/v1.0/groups/delta?$select=displayName")
                self.assertTrue(dl.startswith("https://"))
                self.assertEqual(len(merge(pages)), 9)
            finally:
                s.close()
        finally:
            shutil.rmtree(d, ignore_errors=True)


class ReadmeTests(unittest.TestCase):
    def test_readme_walkthrough(self):
        """Runs the ```sh blocks of the README's walk-through section, as written."""
        if not shutil.which("curl"):
            self.skipTest("curl not installed")
        with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
            text = f.read()
        m = re.search(r"<!-- walkthrough:begin -->(.*?)<!-- walkthrough:end -->", text, re.S)
        self.assertIsNotNone(m, "README has no walk-through markers")
        blocks = re.findall(r"```sh\n(.*?)```", m.group(1), re.S)
        self.assertGreaterEqual(len(blocks), 5)
        work = tempfile.mkdtemp(prefix="graphsim-readme-")
        script = ("set -euo pipefail\ncd %s\ntrap 'kill $SIM_PID 2>/dev/null || true' EXIT\n"
                  % json.dumps(os.path.dirname(os.path.dirname(HERE))) + "\n".join(blocks))
        try:
            r = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                               timeout=120, cwd=work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        self.assertEqual(r.returncode, 0, "stdout:\n%s\nstderr:\n%s" % (r.stdout, r.stderr))
        out = r.stdout
        self.assertIn('"token_type":"Bearer"', out)
        self.assertIn("@odata.nextLink", out)
        self.assertIn("@odata.deltaLink", out)
        self.assertIn("Renamed-by-walkthrough", out)
        self.assertIn('"@removed":{"reason":"deleted"}', out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
