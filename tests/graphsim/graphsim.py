#!/usr/bin/env python3
"""Graph simulator: a stand-in for Microsoft Graph (groups/users delta, user and group reads,
group members, a user's memberOf, getByIds, subscriptions with change notifications delivered
to an Event Hub stand-in) and the Entra token endpoint, with an admin API
under /_sim/ to change the tenant, switch faults on and read the AD state correct provisioning
must produce. Python 3 standard library only. Usage: graphsim.py --listen 127.0.0.1:0 [--users N --groups M --members K]."""

import argparse
import base64
import binascii
import collections
import http
import http.server
import json
import os
import re
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import simnotify  # noqa: E402
import simtenant  # noqa: E402
from simtenant import SimError  # noqa: E402

GRAPH_CTYPE = ("application/json;odata.metadata=minimal;odata.streaming=true;"
               "IEEE754Compatible=false;charset=utf-8")
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
FAULT_KINDS = ("429", "503", "410", "sync_state_not_found", "slow", "truncated", "malformed",
               "token_error", "link", "bytes", "expired_token", "duplicate_members",
               "split_members", "reset")
# Faults that answer for a delta link default to both delta endpoints.
DELTA_PATHS = ["/v1.0/groups/delta", "/v1.0/users/delta"]
REQUEST_LOG_MAX = 20000
SYNC_STATE_MSG = ("The sync state generation is not found. The delta token is expired and data "
                  "must be synchronized again.")
GUID_SEG = re.compile(r"/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                      r"[0-9a-fA-F]{12}(?=/|$)")
QUERY_OPTS = ("select", "filter", "expand", "top", "orderby", "skiptoken", "deltatoken",
              "count", "search", "skip")


def b64e(obj):
    raw = json.dumps(obj, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def b64d(text):
    try:
        pad = "=" * (-len(text) % 4)
        d = json.loads(base64.urlsafe_b64decode(text + pad))
    except (ValueError, binascii.Error):
        return None
    return d if isinstance(d, dict) else None


def utcnow():
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())


class Resp:
    __slots__ = ("status", "headers", "body", "close")

    def __init__(self, status, body=b"", headers=None, ctype=GRAPH_CTYPE):
        self.status = status
        if isinstance(body, (dict, list)):
            body = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.body = body
        self.headers = list(headers or [])
        if ctype and body:
            self.headers.append(("Content-Type", ctype))
        self.close = False


def graph_error(status, code, message, headers=None):
    body = {"error": {"code": code, "message": message,
                      "innerError": {"date": utcnow(), "request-id": str(uuid.uuid4()),
                                     "client-request-id": str(uuid.uuid4())}}}
    return Resp(status, body, headers)


def aad_error(status, error, code, text):
    trace, corr, ts = str(uuid.uuid4()), str(uuid.uuid4()), time.strftime(
        "%Y-%m-%d %H:%M:%SZ", time.gmtime())
    body = {"error": error,
            "error_description": "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\n"
                                 "Timestamp: %s" % (code, text, trace, corr, ts),
            "error_codes": [code], "timestamp": ts, "trace_id": trace, "correlation_id": corr,
            "error_uri": "https://login.microsoftonline.com/error?code=%d" % code}
    return Resp(status, body, [("Cache-Control", "no-store, no-cache")],
                "application/json; charset=utf-8")


def reshape_members(body, kind):
    """A delta page with every members@delta entry twice (duplicate_members), or with every
    group object that has two or more member entries split into two objects on the same page,
    the properties repeated and the entries divided (split_members)."""
    try:
        d = json.loads(body)
    except ValueError:
        return body
    if not isinstance(d, dict) or not isinstance(d.get("value"), list):
        return body
    out = []
    for o in d["value"]:
        md = o.get("members@delta") if isinstance(o, dict) else None
        if not isinstance(md, list) or not md:
            out.append(o)
        elif kind == "duplicate_members":
            o["members@delta"] = [e for e in md for _ in (0, 1)]
            out.append(o)
        elif len(md) < 2:
            out.append(o)
        else:
            half = len(md) // 2
            a, b = dict(o), dict(o)
            a["members@delta"], b["members@delta"] = md[:half], md[half:]
            out += [a, b]
    d["value"] = out
    return json.dumps(d, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def admin_json(status, obj):
    return Resp(status, obj, None, "application/json")


class Fault:
    def __init__(self, d):
        kind = str(d.get("kind", ""))
        if kind not in FAULT_KINDS:
            raise SimError(400, "BadFault", "kind must be one of %s" % ", ".join(FAULT_KINDS))
        self.kind = kind
        self.count = int(d.get("count", 1))
        default_path = {"token_error": None, "410": DELTA_PATHS,
                        "sync_state_not_found": DELTA_PATHS}.get(kind, "/v1.0/")
        self.path = d.get("path", default_path)
        if not (self.path is None or isinstance(self.path, str) or (
                isinstance(self.path, list) and self.path and
                all(isinstance(x, str) for x in self.path))):
            raise SimError(400, "BadFault", "path must be a string or a list of strings")
        self.location = bool(d.get("location", True))
        self.mode = str(d.get("mode", "410"))
        if self.mode not in ("410", "sync_state_not_found"):
            raise SimError(400, "BadFault", "mode must be 410 or sync_state_not_found")
        self.contains = d.get("contains")
        self.method = d.get("method")
        self.retry_after = d.get("retry_after")
        self.delay_ms = int(d.get("delay_ms", 2000 if kind == "slow" else 0))
        self.status = int(d.get("status", 0))
        # "link": the value that replaces @odata.<which>Link ("next", "delta" or "any")
        self.link = d.get("link")
        self.which = d.get("which", "any")
        if kind == "link" and (not isinstance(self.link, str) or
                               self.which not in ("next", "delta", "any")):
            raise SimError(400, "BadFault", "link needs a string link and which next|delta|any")
        # "bytes": every occurrence of find in the body becomes the bytes of replace_hex
        self.find = d.get("find")
        self.replace_hex = d.get("replace_hex", "")
        if kind == "bytes":
            try:
                bytes.fromhex(self.replace_hex)
            except (TypeError, ValueError):
                raise SimError(400, "BadFault", "replace_hex must be hex digits")
            if not isinstance(self.find, str) or not self.find:
                raise SimError(400, "BadFault", "bytes needs a non-empty find string")
        self.applied = 0

    def matches(self, method, path, target):
        if self.method and self.method.upper() != method:
            return False
        if self.path is None:
            if not path.endswith("/oauth2/v2.0/token"):
                return False
        elif not any(path.startswith(p) for p in (
                [self.path] if isinstance(self.path, str) else self.path)):
            return False
        if self.contains and self.contains not in urllib.parse.unquote(target):
            return False
        return True

    def as_dict(self):
        return {"kind": self.kind, "count": self.count, "path": self.path,
                "contains": self.contains, "method": self.method,
                "retry_after": self.retry_after, "delay_ms": self.delay_ms,
                "status": self.status, "link": self.link, "which": self.which,
                "find": self.find, "replace_hex": self.replace_hex, "mode": self.mode,
                "location": self.location, "applied": self.applied}


class Sim:
    """Server-wide state shared by the handler threads."""

    def __init__(self, tenant, args):
        self.tenant = tenant
        self.client_id = args.client_id
        self.client_secret = args.client_secret
        self.instance = secrets.token_hex(4)
        self.cfg = {"page_size": args.page_size, "page_members": args.page_members,
                    "token_lifetime": args.token_lifetime,
                    "delta_token_ttl": args.delta_token_ttl, "latency_ms": args.latency_ms,
                    "auth": not args.no_auth,
                    "subscription_min_minutes": simnotify.MIN_MINUTES,
                    "subscription_quota": simnotify.APP_TENANT_QUOTA,
                    "notify_latency_ms": 0}
        self.public_url = args.public_url.rstrip("/") if args.public_url else None
        self.scheme = "https" if args.tls_cert else "http"
        self.lock = threading.Lock()
        self.tokens = {}
        self.tokens_issued = 0
        self.rounds = collections.OrderedDict()
        self.round_seq = 0
        self.max_rounds = 32
        self.faults = []
        self.stats = {}
        self.fault_stats = {}
        self.total = 0
        self.log = collections.deque(maxlen=REQUEST_LOG_MAX)
        self.verbose = args.verbose
        self.notifier = simnotify.Notifier(tenant, args, self.cfg)

    # -------------------------------------------------------------- bookkeeping
    def count(self, key, status, method=None, target=None):
        with self.lock:
            if target is not None:
                self.log.append({"method": method, "target": target, "status": status})
            d = self.stats.setdefault(key, {})
            s = str(status)
            d[s] = d.get(s, 0) + 1
            self.total += 1

    def take_fault(self, method, path, target):
        with self.lock:
            for f in self.faults:
                if f.matches(method, path, target):
                    f.applied += 1
                    if f.count > 0:
                        f.count -= 1
                        if f.count == 0:
                            self.faults.remove(f)
                    self.fault_stats[f.kind] = self.fault_stats.get(f.kind, 0) + 1
                    return f
        return None

    def put_round(self, rnd):
        with self.lock:
            self.round_seq += 1
            rnd.id = self.round_seq
            self.rounds[rnd.id] = rnd
            while len(self.rounds) > self.max_rounds:
                self.rounds.popitem(last=False)
        return rnd

    def get_round(self, rid):
        with self.lock:
            rnd = self.rounds.get(rid)
            if rnd is not None:
                self.rounds.move_to_end(rid)
            return rnd

    def issue_token(self):
        tok = ".".join([b64e({"typ": "JWT", "alg": "RS256", "kid": "graphsim"}),
                        b64e({"aud": "https://graph.microsoft.com", "tid": self.tenant.tenant_id,
                              "appid": self.client_id, "iat": int(time.time()),
                              "jti": secrets.token_hex(8)}),
                        secrets.token_urlsafe(32)])
        with self.lock:
            now = time.time()
            if len(self.tokens) > 10000:
                self.tokens = {k: v for k, v in self.tokens.items() if v > now}
            self.tokens[tok] = now + self.cfg["token_lifetime"]
            self.tokens_issued += 1
        return tok


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "graphsim/1.0"
    timeout = 300

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, fmt, *args):
        if self.server.sim.verbose:
            sys.stderr.write("graphsim: %s %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PUT(self):
        self.dispatch("PUT")

    # -------------------------------------------------------------- plumbing
    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            parts = []
            while True:
                line = self.rfile.readline(65537)
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(n))
                self.rfile.readline(65537)
            return b"".join(parts)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def base_url(self):
        sim = self.server.sim
        if sim.public_url:
            return sim.public_url
        host = self.headers.get("Host")
        if not host:
            h, p = self.server.server_address[:2]
            host = "%s:%d" % (h, p)
        return "%s://%s" % (sim.scheme, host)

    def send(self, r, truncate=False):
        lines = ["HTTP/1.1 %d %s" % (r.status, http.HTTPStatus(r.status).phrase)]
        rid = self.headers.get("client-request-id") or str(uuid.uuid4())
        lines.append("Date: %s" % self.date_time_string())
        lines.append("request-id: %s" % rid)
        lines.append("client-request-id: %s" % rid)
        for k, v in r.headers:
            lines.append("%s: %s" % (k, v))
        lines.append("Content-Length: %d" % len(r.body))
        if r.close or self.close_connection:
            lines.append("Connection: close")
            self.close_connection = True
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if truncate:
            self.wfile.write(head + r.body[:max(1, len(r.body) // 2)])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.wfile.write(head + r.body)

    def dispatch(self, method):
        sim = self.server.sim
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        target = self.path
        split = urllib.parse.urlsplit(target)
        path = split.path
        q = {}
        admin = path.startswith("/_sim/") or path == "/_sim"
        for k, v in urllib.parse.parse_qsl(split.query, keep_blank_values=True):
            if admin:
                pass
            elif k.lower() in QUERY_OPTS:
                k = "$" + k.lower()
            elif k.startswith("$"):
                k = k.lower()
            q[k] = v
        if admin:
            try:
                r = self.admin(method, path, q, body)
            except SimError as e:
                r = admin_json(e.status, {"error": e.message, "code": e.code})
            except Exception as e:  # a bug must not kill the connection thread silently
                import traceback
                traceback.print_exc()
                r = admin_json(500, {"error": "%s: %s" % (type(e).__name__, e)})
            self.send(r)
            return
        key = "%s %s" % (method, self.stat_path(path))
        fault = sim.take_fault(method, path, target)
        truncate = False
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay_ms / 1000.0)
            fault = None
        if fault is not None and fault.kind in ("truncated", "malformed", "link", "bytes"):
            r = self.route(method, path, q, body)
            if fault.kind == "truncated":
                truncate = True
            elif fault.kind == "malformed":
                cut = r.body[:max(1, len(r.body) // 2)]
                r.body = cut + b'\x00{"@odata.nextLink":'
            elif fault.kind == "bytes":
                r.body = r.body.replace(fault.find.encode("utf-8"),
                                        bytes.fromhex(fault.replace_hex))
            elif r.status == 200:
                page = json.loads(r.body)
                for w in ("next", "delta"):
                    key = "@odata.%sLink" % w
                    if key in page and fault.which in (w, "any"):
                        page[key] = fault.link
                r.body = json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode()
        elif fault is not None and fault.kind == "reset":
            # the answer is normal; then every delta and skip token issued so far dies
            r = self.route(method, path, q, body)
            if r.status == 200:
                sim.tenant.invalidate_delta_tokens(fault.mode)
        elif fault is not None and fault.kind in ("duplicate_members", "split_members"):
            r = self.route(method, path, q, body)
            if r.status == 200:
                r.body = reshape_members(r.body, fault.kind)
        elif fault is not None and fault.kind == "expired_token":
            r = self.expire_presented_token()
        elif fault is not None:
            r = self.fault_response(fault, path, q)
        else:
            r = self.route(method, path, q, body)
        lat = sim.cfg["latency_ms"]
        if lat and path.startswith("/v1.0/"):
            time.sleep(lat / 1000.0)
        sim.count(key, r.status, method, target)
        self.send(r, truncate)

    @staticmethod
    def stat_path(path):
        m = re.match(r"^/[^/]+/oauth2/v2\.0/token$", path)
        if m:
            return "/{tenant}/oauth2/v2.0/token"
        p = GUID_SEG.sub("/{id}", path)
        p = re.sub(r"^/v1\.0/users/(?!delta)[^/]+", "/v1.0/users/{id}", p)
        return p

    def fault_response(self, f, path, q):
        if f.kind == "429":
            ra = f.retry_after if f.retry_after is not None else 1
            return graph_error(429, "TooManyRequests",
                               "Too many requests. Please try again after %s seconds." % ra,
                               [("Retry-After", str(ra))])
        if f.kind == "503":
            h = [] if f.retry_after is None else [("Retry-After", str(f.retry_after))]
            return graph_error(503, "serviceNotAvailable",
                               "The service is temporarily unavailable.", h)
        if f.kind == "410":
            r = self.gone(path, q)
            if not f.location:
                r.headers = [h for h in r.headers if h[0] != "Location"]
            return r
        if f.kind == "sync_state_not_found":
            return graph_error(400, "syncStateNotFound", SYNC_STATE_MSG)
        # token_error
        st = f.status or 503
        if st in (400, 401):
            return aad_error(st, "invalid_client", 7000215,
                             "Invalid client secret provided (graphsim fault).")
        return aad_error(st, "temporarily_unavailable", 50028 if st >= 500 else 90002,
                         "The service is temporarily unavailable (graphsim fault).")

    def expire_presented_token(self):
        """401 InvalidAuthenticationToken as for an expired token; the token presented is
        expired from now on, so only a new one helps."""
        sim = self.server.sim
        h = self.headers.get("Authorization", "")
        tok = h[7:].strip() if h[:7].lower() == "bearer " else ""
        with sim.lock:
            if tok in sim.tokens:
                sim.tokens[tok] = 0
        return graph_error(401, "InvalidAuthenticationToken",
                           "Lifetime validation failed, the token is expired.",
                           [("WWW-Authenticate", 'Bearer realm="", error="invalid_token", '
                             'error_description="The access token has expired"')])

    def gone(self, path, q):
        """410 Gone with a Location naming the request URL with an empty $deltatoken; the
        $select/$filter that were encoded in the token are written out so the restart keeps
        the same shape."""
        parts = []
        tok = b64d(q.get("$deltatoken", "") or q.get("$skiptoken", "") or "")
        if tok and "r" in tok:          # a nextLink: the round knows the selection
            rnd = self.server.sim.get_round(tok["r"])
            tok = {"sel": rnd.select, "f": rnd.filter} if rnd else {"sel": None, "f": None}
        if tok:
            sel, filt = tok.get("sel"), tok.get("f")
        else:
            sel = q["$select"].split(",") if q.get("$select") else None
            filt = None
        if sel:
            parts.append("$select=" + ",".join(sel))
        if filt:
            parts.append("$filter=" + urllib.parse.quote(
                " or ".join("id eq '%s'" % x for x in filt), safe="'="))
        elif not tok and q.get("$filter"):
            parts.append("$filter=" + urllib.parse.quote(q["$filter"], safe="'="))
        parts.append("$deltatoken=")
        loc = "%s%s?%s" % (self.base_url(), path, "&".join(parts))
        return graph_error(410, "resyncRequired",
                           "Resync required. Replace any local cached copies of the items "
                           "with the results of a new delta query.", [("Location", loc)])

    # -------------------------------------------------------------- routing (Graph + token)
    def route(self, method, path, q, body):
        try:
            m = re.match(r"^/([^/]+)/oauth2/v2\.0/token$", path)
            if m:
                if method != "POST":
                    return aad_error(405, "invalid_request", 900561,
                                     "The endpoint only accepts POST requests.")
                return self.token(m.group(1), body)
            if not path.startswith("/v1.0/"):
                return graph_error(404, "UnknownError", "No HTTP resource was found that "
                                   "matches the request URI '%s'." % path)
            bad = self.check_auth()
            if bad is not None:
                return bad
            seg = path[len("/v1.0/"):].rstrip("/").split("/")
            if method == "GET" and seg in (["groups", "delta"], ["groups", "delta()"]):
                return self.delta("groups", q)
            if method == "GET" and seg in (["users", "delta"], ["users", "delta()"]):
                return self.delta("users", q)
            if method == "GET" and len(seg) == 2 and seg[0] in ("users", "groups"):
                return self.get_object(seg[0], urllib.parse.unquote(seg[1]), q)
            if method == "GET" and len(seg) == 3 and seg[0] == "groups" and seg[2] == "members":
                return self.group_members(seg[1].lower(), q)
            if (method == "GET" and seg[0] == "users" and len(seg) in (3, 4) and
                    seg[2] == "memberOf" and seg[3:] in ([], ["microsoft.graph.group"])):
                return self.member_of(urllib.parse.unquote(seg[1]).lower(), len(seg) == 4, q)
            if method == "POST" and seg == ["directoryObjects", "getByIds"]:
                return self.get_by_ids(q, body)
            if seg[0] == "subscriptions":
                r = self.subscriptions(method, seg, body)
                if r is not None:
                    return r
            return graph_error(400, "BadRequest",
                               "Resource not found for the segment '%s'." % seg[-1])
        except SimError as e:
            return graph_error(e.status, e.code, e.message)

    def subscriptions(self, method, seg, body):
        """POST/GET /subscriptions, GET/PATCH/DELETE /subscriptions/{id}, POST
        /subscriptions/{id}/reauthorize; None for any other shape."""
        n = self.server.sim.notifier
        ctx = self.base_url() + "/v1.0/$metadata#subscriptions"
        if seg == ["subscriptions"] and method == "POST":
            return Resp(201, dict({"@odata.context": ctx + "/$entity"}, **n.create(body)))
        if seg == ["subscriptions"] and method == "GET":
            return Resp(200, {"@odata.context": ctx, "value": n.list()})
        if len(seg) == 2 and method == "GET":
            return Resp(200, dict({"@odata.context": ctx + "/$entity"}, **n.get(seg[1])))
        if len(seg) == 2 and method == "PATCH":
            return Resp(200, dict({"@odata.context": ctx + "/$entity"},
                                  **n.update(seg[1], body)))
        if len(seg) == 2 and method == "DELETE":
            n.delete(seg[1])
            return Resp(204)
        if len(seg) == 3 and seg[2] == "reauthorize" and method == "POST":
            n.reauthorize(seg[1])
            return Resp(204)
        return None

    def token(self, tenant, body):
        sim = self.server.sim
        form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"),
                                           keep_blank_values=True))
        t = sim.tenant
        if tenant.lower() not in (t.tenant_id.lower(), "graphsim.onmicrosoft.com"):
            return aad_error(400, "invalid_request", 90002,
                             "Tenant '%s' not found. Check to make sure you have the correct "
                             "tenant ID and are signing into the correct cloud." % tenant)
        gt = form.get("grant_type")
        if not gt:
            return aad_error(400, "invalid_request", 900144,
                             "The request body must contain the following parameter: "
                             "'grant_type'.")
        if gt != "client_credentials":
            return aad_error(400, "unsupported_grant_type", 70003,
                             "The app requested an unsupported grant type '%s'." % gt)
        cid = form.get("client_id")
        if not cid:
            return aad_error(400, "invalid_request", 900144,
                             "The request body must contain the following parameter: "
                             "'client_id'.")
        if cid != sim.client_id:
            return aad_error(400, "unauthorized_client", 700016,
                             "Application with identifier '%s' was not found in the directory "
                             "'%s'." % (cid, t.tenant_id))
        scope = form.get("scope")
        if scope != GRAPH_SCOPE:
            return aad_error(400, "invalid_scope", 70011,
                             "The provided request must include a 'scope' input parameter. The "
                             "provided value for the input parameter 'scope' is not valid. The "
                             "scope %s is not valid." % (scope or "''"))
        if "client_assertion" in form:
            return aad_error(401, "invalid_client", 700027,
                             "Client assertion failed signature validation (graphsim supports "
                             "client secrets only).")
        sec = form.get("client_secret")
        if not sec:
            return aad_error(401, "invalid_client", 7000218,
                             "The request body must contain the following parameter: "
                             "'client_assertion' or 'client_secret'.")
        if not secrets.compare_digest(sec.encode(), sim.client_secret.encode()):
            return aad_error(401, "invalid_client", 7000215,
                             "Invalid client secret provided. Ensure the secret being sent in "
                             "the request is the client secret value, not the client secret "
                             "ID, for a secret added to app '%s'." % cid)
        life = int(sim.cfg["token_lifetime"])
        return Resp(200, {"token_type": "Bearer", "expires_in": life, "ext_expires_in": life,
                          "access_token": sim.issue_token()},
                    [("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache")],
                    "application/json; charset=utf-8")

    def check_auth(self):
        sim = self.server.sim
        if not sim.cfg["auth"]:
            return None
        www = [("WWW-Authenticate", 'Bearer realm="", authorization_uri="https://login.'
                'microsoftonline.com/common/oauth2/authorize", '
                'client_id="00000003-0000-0000-c000-000000000000"')]
        h = self.headers.get("Authorization", "")
        tok = h[7:].strip() if h[:7].lower() == "bearer " else ""
        if not tok:
            return graph_error(401, "InvalidAuthenticationToken", "Access token is empty.", www)
        with sim.lock:
            exp = sim.tokens.get(tok)
        if exp is None:
            return graph_error(401, "InvalidAuthenticationToken",
                               "Access token validation failure. Invalid audience.", www)
        if exp <= time.time():
            return graph_error(401, "InvalidAuthenticationToken",
                               "Lifetime validation failed, the token is expired.", www)
        return None

    # -------------------------------------------------------------- query helpers
    @staticmethod
    def parse_select(q, kind, allow_members):
        raw = q.get("$select")
        if raw is None:
            return None
        allowed = simtenant.USER_PROPS if kind == "users" else simtenant.GROUP_PROPS
        out = []
        for s in raw.split(","):
            s = s.strip()
            if not s or s in out:
                continue
            ok = (s in allowed or simtenant.EXT_RE.match(s) or
                  (allow_members and kind == "groups" and s in simtenant.GROUP_RELATIONS))
            if not ok:
                raise SimError(400, "Request_BadRequest",
                               "Could not find a property named '%s' on type "
                               "'microsoft.graph.%s'." % (s, kind[:-1]))
            out.append(s)
        return tuple(out)

    @staticmethod
    def parse_id_filter(q):
        f = q.get("$filter")
        if f is None:
            return None
        ids = []
        for part in re.split(r"\s+or\s+", f.strip(), flags=re.I):
            m = re.fullmatch(r"\s*id\s+eq\s+'([0-9a-fA-F-]{36})'\s*", part, re.I)
            if not m:
                raise SimError(400, "Request_UnsupportedQuery",
                               "Unsupported query. The only supported $filter on delta is "
                               "\"id eq '<id>'\" joined by 'or'.")
            ids.append(m.group(1).lower())
        if len(ids) > 50:
            raise SimError(400, "Request_UnsupportedQuery",
                           "The number of ids in the filter (%d) exceeds the limit of 50."
                           % len(ids))
        return tuple(dict.fromkeys(ids))

    # -------------------------------------------------------------- delta
    def delta(self, kind, q):
        sim = self.server.sim
        t = sim.tenant
        base = self.base_url()
        minimal = "return=minimal" in self.headers.get("Prefer", "").replace(" ", "").lower()
        skip = q.get("$skiptoken")
        dtok = q.get("$deltatoken")
        for opt in ("$top", "$orderby", "$search", "$count", "$skip"):
            if opt in q:
                raise SimError(400, "Request_UnsupportedQuery",
                               "The query option %s is not supported with delta." % opt)
        if (skip or (dtok and dtok != "latest")) and ("$select" in q or "$filter" in q):
            raise SimError(400, "Request_UnsupportedQuery",
                           "$select and $filter must be given on the initial delta request "
                           "only; they are carried in the nextLink/deltaLink.")
        if skip:
            st = b64d(skip)
            if not st or st.get("k") != kind or not isinstance(st.get("i"), int):
                raise SimError(400, "Request_BadRequest", "Invalid skip token.")
            rnd = sim.get_round(st.get("r")) if st.get("x") == sim.instance else None
            if rnd is None:
                return graph_error(400, "syncStateNotFound", SYNC_STATE_MSG)
            if st.get("g", 0) < t.gen:      # a reset between pages: this link is dead too
                if t.gen_mode == "410":
                    return self.gone("/v1.0/%s/delta" % kind, q)
                return graph_error(400, "syncStateNotFound", SYNC_STATE_MSG)
            return self.page(kind, rnd, st["i"], int(st.get("m", 0)), base, minimal)
        if dtok and dtok != "latest":
            st = b64d(dtok)
            if not st or st.get("k") != kind or not isinstance(st.get("s"), int):
                raise SimError(400, "Request_BadRequest", "Invalid delta token.")
            if st.get("x") != sim.instance or st["s"] > t.seq:
                return graph_error(400, "syncStateNotFound", SYNC_STATE_MSG)
            if st.get("g", 0) < t.gen:
                if t.gen_mode == "410":
                    return self.gone("/v1.0/%s/delta" % kind, q)
                return graph_error(400, "syncStateNotFound", SYNC_STATE_MSG)
            if time.time() - st.get("t", 0) > sim.cfg["delta_token_ttl"]:
                return graph_error(400, "syncStateNotFound", SYNC_STATE_MSG)
            sel = tuple(st["sel"]) if st.get("sel") is not None else None
            filt = tuple(st["f"]) if st.get("f") is not None else None
            since = st["s"]
        else:
            sel = self.parse_select(q, kind, True)
            if kind == "groups" and "$expand" in q:
                if q["$expand"].strip() != "members":
                    raise SimError(400, "Request_UnsupportedQuery",
                                   "$expand is only accepted as $expand=members on delta.")
                if sel is not None and "members" not in sel:
                    sel = sel + ("members",)
            elif "$expand" in q:
                raise SimError(400, "Request_UnsupportedQuery",
                               "$expand is not supported with delta.")
            filt = self.parse_id_filter(q)
            since = None
            if dtok == "latest":
                with t.lock:
                    upper = t.seq
                link = self.delta_link(kind, upper, sel, filt, base)
                return Resp(200, '{"@odata.context":"%s","value":[],"@odata.deltaLink":"%s"}'
                            % (self.context(kind, sel, base), link))
        start = (t.start_group_round if kind == "groups" else t.start_user_round)
        rnd = sim.put_round(start(since, sel, filt))
        return self.page(kind, rnd, 0, 0, base, minimal)

    def context(self, kind, sel, base):
        if sel is None:
            return "%s/v1.0/$metadata#%s" % (base, kind)
        cols = [s for s in sel if s not in simtenant.GROUP_RELATIONS]
        if "id" not in cols:
            cols.insert(0, "id")
        return "%s/v1.0/$metadata#%s(%s)" % (base, kind, ",".join(cols))

    def delta_link(self, kind, upper, sel, filt, base):
        t = self.server.sim.tenant
        tok = b64e({"v": 1, "x": self.server.sim.instance, "k": kind, "s": upper, "g": t.gen,
                    "t": int(time.time()), "sel": list(sel) if sel is not None else None,
                    "f": list(filt) if filt is not None else None})
        return "%s/v1.0/%s/delta?$deltatoken=%s" % (base, kind, tok)

    def page(self, kind, rnd, i, m, base, minimal):
        sim = self.server.sim
        t = sim.tenant
        cfg = sim.cfg
        minimal = minimal and rnd.incremental
        if kind == "groups":
            out, nxt = t.render_group_page(rnd, i, m, cfg["page_size"], cfg["page_members"],
                                           minimal)
        else:
            out, nxt = t.render_user_page(rnd, i, cfg["page_size"], minimal)
        ctx = self.context(kind, rnd.select, base)
        if nxt is not None:
            link = "%s/v1.0/%s/delta?$skiptoken=%s" % (
                base, kind, b64e({"x": sim.instance, "k": kind, "r": rnd.id, "i": nxt[0],
                                  "m": nxt[1], "g": t.gen}))
            text = '{"@odata.context":"%s","@odata.nextLink":"%s","value":[%s]}' % (
                ctx, link, ",".join(out))
        else:
            link = self.delta_link(kind, rnd.upper, rnd.select, rnd.filter, base)
            text = '{"@odata.context":"%s","value":[%s],"@odata.deltaLink":"%s"}' % (
                ctx, ",".join(out), link)
        h = [("Preference-Applied", "return=minimal")] if minimal else []
        return Resp(200, text, h)

    # -------------------------------------------------------------- reads
    def not_found(self, oid):
        return graph_error(404, "Request_ResourceNotFound",
                           "Resource '%s' does not exist or one of its queried "
                           "reference-property objects are not present." % oid)

    def get_object(self, coll, oid, q):
        t = self.server.sim.tenant
        sel = self.parse_select(q, coll, False)
        key = oid.lower()
        if coll == "users" and not simtenant.GUID_RE.match(oid):
            with t.lock:
                for u in t.users.values():
                    if (u.props.get("userPrincipalName") or "").lower() == key:
                        key = u.id
                        break
        with t.lock:
            ok = key in (t.users if coll == "users" else t.groups)
        if not ok:
            return self.not_found(oid)
        d = t.object_json(key, sel)
        if d is None:
            return self.not_found(oid)
        ctx = "%s/v1.0/$metadata#%s/$entity" % (self.base_url(), coll)
        if sel is not None:
            ctx = "%s/v1.0/$metadata#%s(%s)/$entity" % (self.base_url(), coll, ",".join(sel))
        return Resp(200, dict([("@odata.context", ctx)] + list(d.items())))

    def group_members(self, gid, q):
        t = self.server.sim.tenant

        def ids():
            g = t.groups.get(gid)
            return None if g is None else g.member_tuple()
        return self.paged_objects(q, gid, ids, "groups/%s/members" % gid, "directoryObjects")

    def member_of(self, uid, cast, q):
        """GET /v1.0/users/{id}/memberOf[/microsoft.graph.group]: the groups (only groups here:
        the tenant has no directory roles or administrative units) that hold uid as a direct
        member, sorted by id."""
        t = self.server.sim.tenant

        def ids():
            if uid not in t.users:
                return None
            return sorted(gid for gid, g in t.groups.items() if uid in g.members)
        return self.paged_objects(q, uid, ids, "users/%s/memberOf%s" % (
            uid, "/microsoft.graph.group" if cast else ""), "groups" if cast else
            "directoryObjects")

    def paged_objects(self, q, owner, ids_of, path, ctx):
        """One page of the objects whose ids ids_of() lists (None: owner does not exist, 404),
        $top 1-999 (default 100), $select, @odata.nextLink with an opaque $skiptoken."""
        t = self.server.sim.tenant
        base = self.base_url()
        top = 100
        if "$top" in q:
            try:
                top = int(q["$top"])
            except ValueError:
                top = 0
            if not 1 <= top <= 999:
                raise SimError(400, "Request_BadRequest",
                               "Invalid page size specified: '%s'. Must be between 1 and 999 "
                               "inclusive." % q["$top"])
        sel = q.get("$select")
        sel = tuple(s.strip() for s in sel.split(",") if s.strip()) if sel else None
        off = 0
        if q.get("$skiptoken"):
            st = b64d(q["$skiptoken"])
            if not st or st.get("g") != owner:
                raise SimError(400, "Request_BadRequest", "Invalid skip token.")
            off = int(st.get("o", 0))
            top = int(st.get("n", top))
            sel = tuple(st["sel"]) if st.get("sel") else None
        with t.lock:
            all_ids = ids_of()
            if all_ids is None:
                return self.not_found(owner)
            ids = all_ids[off:off + top]
            more = off + top < len(all_ids)
        value = [t.object_json(x, sel, with_type=True) for x in ids]
        out = {"@odata.context": "%s/v1.0/$metadata#%s" % (base, ctx)}
        if more:
            out["@odata.nextLink"] = "%s/v1.0/%s?$skiptoken=%s" % (
                base, path, b64e({"g": owner, "o": off + top, "n": top,
                                  "sel": list(sel) if sel else None}))
        out["value"] = [v for v in value if v is not None]
        return Resp(200, out)

    def get_by_ids(self, q, body):
        t = self.server.sim.tenant
        try:
            req = json.loads(body or b"null")
        except ValueError:
            raise SimError(400, "Request_BadRequest", "Invalid JSON in the request body.")
        if not isinstance(req, dict) or not isinstance(req.get("ids"), list):
            raise SimError(400, "Request_BadRequest",
                           "The request body must contain an 'ids' collection.")
        ids = req["ids"]
        if len(ids) > 1000:
            raise SimError(400, "Request_BadRequest",
                           "The ids collection can contain at most 1000 ids.")
        types = req.get("types")
        types = None if not types else set(str(x).lower().split(".")[-1] for x in types)
        raw = q.get("$select")
        sel = tuple(s.strip() for s in raw.split(",") if s.strip()) if raw else None
        if sel:
            for s in sel:
                if (s not in simtenant.USER_PROPS and s not in simtenant.GROUP_PROPS
                        and not simtenant.EXT_RE.match(s)):
                    raise SimError(400, "Request_BadRequest",
                                   "Could not find a property named '%s' on type "
                                   "'microsoft.graph.directoryObject'." % s)
        value = []
        for oid in ids:
            if not isinstance(oid, str):
                continue
            oid = oid.lower()
            k = t.kind.get(oid)
            if k is None or (types is not None and k not in types):
                continue
            d = t.object_json(oid, sel, with_type=True)
            if d is not None:
                value.append(d)
        return Resp(200, {"@odata.context": "%s/v1.0/$metadata#directoryObjects"
                          % self.base_url(), "value": value})

    # -------------------------------------------------------------- admin API
    def admin(self, method, path, q, body):
        sim = self.server.sim
        t = sim.tenant
        seg = path.strip("/").split("/")[1:]

        def js():
            if not body:
                return {}
            try:
                d = json.loads(body)
            except ValueError:
                raise SimError(400, "BadJson", "request body is not valid JSON")
            if not isinstance(d, dict):
                raise SimError(400, "BadJson", "request body must be a JSON object")
            return d

        def need_list(v, name):
            if v is None:
                return []
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise SimError(400, "BadJson", "%s must be a list of ids" % name)
            return v

        if seg == ["health"]:
            return admin_json(200, {"ok": True, "seq": t.seq})
        if seg == ["tenant"] and method == "GET":
            with t.lock:
                nm = sum(len(g.members) for g in t.groups.values())
                return admin_json(200, {
                    "tenantId": t.tenant_id, "clientId": sim.client_id,
                    "extAppId": t.ext_app_id,
                    "extensionWritebackEnabled": "extension_%s_WritebackEnabled" % t.ext_app_id,
                    "users": len(t.users), "groups": len(t.groups), "memberships": nm,
                    "seq": t.seq, "config": sim.cfg, "instance": sim.instance})
        if seg == ["dump"] and method == "GET":
            return admin_json(200, t.dump())
        if seg == ["config"] and method == "GET":
            return admin_json(200, sim.cfg)
        if seg == ["config"] and method == "POST":
            d = js()
            for k, v in d.items():
                if k not in sim.cfg:
                    raise SimError(400, "BadConfig", "unknown config key %s" % k)
                if k == "auth":
                    v = bool(v)
                else:
                    if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                        raise SimError(400, "BadConfig", "%s must be a number >= 0" % k)
                    if k in ("page_size", "page_members") and v < 1:
                        raise SimError(400, "BadConfig", "%s must be >= 1" % k)
                    if k in ("page_size", "page_members"):
                        v = int(v)
                sim.cfg[k] = v
            return admin_json(200, sim.cfg)
        if seg == ["faults"]:
            if method == "POST":
                d = js()
                items = d.get("faults", [d]) if "faults" in d else [d]
                fs = [Fault(x) for x in items]
                with sim.lock:
                    sim.faults.extend(fs)
                return admin_json(200, {"faults": [f.as_dict() for f in sim.faults]})
            if method == "DELETE":
                with sim.lock:
                    sim.faults = []
                return admin_json(200, {"faults": []})
            with sim.lock:
                return admin_json(200, {"faults": [f.as_dict() for f in sim.faults]})
        if seg == ["stats"]:
            with sim.lock:
                if method == "DELETE":
                    sim.stats = {}
                    sim.fault_stats = {}
                    sim.total = 0
                    sim.tokens_issued = 0
                return admin_json(200, {"requests": sim.stats, "total": sim.total,
                                        "faultsApplied": sim.fault_stats,
                                        "tokensIssued": sim.tokens_issued,
                                        "faultsPending": len(sim.faults)})
        if seg == ["tokens"] and method == "GET":
            with sim.lock:
                toks = list(sim.tokens)
            return admin_json(200, {"tokens": toks})
        if seg == ["requests"]:
            with sim.lock:
                if method == "DELETE":
                    sim.log.clear()
                log = list(sim.log)
            c = q.get("contains")
            if c:
                log = [x for x in log if c in urllib.parse.unquote(x["target"])]
            return admin_json(200, {"requests": log})
        if seg == ["tokens", "expire"] and method == "POST":
            with sim.lock:
                n = len(sim.tokens)
                sim.tokens = {k: 0 for k in sim.tokens}
            return admin_json(200, {"expired": n})
        if seg == ["deltatokens", "invalidate"] and method == "POST":
            mode = js().get("mode", "410")
            if mode not in ("410", "sync_state_not_found"):
                raise SimError(400, "BadMode", "mode must be 410 or sync_state_not_found")
            t.invalidate_delta_tokens(mode)
            return admin_json(200, {"generation": t.gen, "mode": mode})
        if seg and seg[0] in ("subscriptions", "notify"):
            return self.admin_notify(method, seg, q, js)
        if seg == ["expected"] and method == "GET":
            ids = re.split(r"[,;\s]+", q.get("group_ids", "").strip())
            ids = [x for x in ids if x]
            return admin_json(200, t.expected(q.get("mode", "all"), ids, q.get("filter"),
                                              q.get("target_ou") or None))
        if seg and seg[0] == "groups":
            if len(seg) == 1 and method == "POST":
                d = js()
                mem = need_list(d.pop("members", None), "members")
                g = t.add_group(d, mem)
                return admin_json(201, self.admin_view(g))
            if len(seg) == 1 and method == "GET":
                with t.lock:
                    return admin_json(200, {"ids": list(t.groups)})
            gid = seg[1].lower() if len(seg) > 1 else ""
            if len(seg) == 2 and method == "GET":
                g = t.groups.get(gid)
                if g is None:
                    raise SimError(404, "NotFound", "no group %s" % gid)
                return admin_json(200, self.admin_view(g))
            if len(seg) == 2 and method == "PATCH":
                return admin_json(200, self.admin_view(t.update_group(gid, js())))
            if len(seg) == 2 and method == "DELETE":
                reason = q.get("reason", "deleted")
                if reason not in ("deleted", "changed"):
                    raise SimError(400, "BadReason", "reason must be deleted or changed")
                t.delete_group(gid, reason)
                return admin_json(200, {"deleted": gid})
            if len(seg) == 3 and seg[2] == "members" and method == "POST":
                d = js()
                n = t.change_members(gid, need_list(d.get("add"), "add"),
                                     need_list(d.get("remove"), "remove"))
                return admin_json(200, {"changed": n, "seq": t.seq})
        if seg and seg[0] == "users":
            if len(seg) == 1 and method == "POST":
                d = js()
                if d.pop("synced", False) and not d.get("onPremisesSecurityIdentifier"):
                    self.synthesize_onprem(d)
                u = t.add_user(d)
                return admin_json(201, dict(u.props))
            uid = seg[1].lower() if len(seg) > 1 else ""
            if len(seg) == 2 and method == "GET":
                u = t.users.get(uid)
                if u is None:
                    raise SimError(404, "NotFound", "no user %s" % uid)
                return admin_json(200, dict(u.props))
            if len(seg) == 2 and method == "PATCH":
                return admin_json(200, dict(t.update_user(uid, js()).props))
            if len(seg) == 2 and method == "DELETE":
                reason = q.get("reason", "deleted")
                if reason not in ("deleted", "changed"):
                    raise SimError(400, "BadReason", "reason must be deleted or changed")
                t.delete_user(uid, reason)
                return admin_json(200, {"deleted": uid})
        raise SimError(404, "NotFound", "no admin route %s %s" % (method, path))

    def admin_notify(self, method, seg, q, js):
        """/_sim/subscriptions[/{id}/lifecycle|expire|remove|forge] and
        /_sim/notify/faults|stats|messages."""
        n = self.server.sim.notifier
        if seg == ["subscriptions"] and method == "GET":
            return admin_json(200, n.admin_view())
        if len(seg) == 3 and seg[0] == "subscriptions" and method == "POST":
            sid, act = seg[1], seg[2]
            if act == "lifecycle":
                return admin_json(200, {"message": n.lifecycle(sid, js().get("event"))})
            if act == "expire":
                n.expire(sid)
                return admin_json(200, {"expired": sid})
            if act == "remove":
                return admin_json(200, {"removed": sid, "message": n.remove(sid)})
            if act == "forge":
                d = js()
                return admin_json(200, {"message": n.forge(sid, d.get("groupId"),
                                                           d.get("clientState"))})
        if seg == ["notify", "faults"]:
            if method == "POST":
                d = js()
                return admin_json(200, {"faults": n.add_faults(d.get("faults", [d]))})
            if method == "DELETE":
                n.clear_faults()
            return admin_json(200, {"faults": n.list_faults()})
        if seg == ["notify", "stats"]:
            if method == "DELETE":
                n.reset()
            return admin_json(200, n.counters())
        if seg == ["notify", "messages"] and method == "GET":
            return admin_json(200, {"messages": n.messages(q.get("topic"))})
        raise SimError(404, "NotFound", "no admin route %s /_sim/%s" % (method, "/".join(seg)))

    def synthesize_onprem(self, d):
        sim = self.server.sim
        t = sim.tenant
        n = int(t.seq) + 900000
        sam = d.get("onPremisesSamAccountName") or "simuser%d" % n
        name = d.get("displayName") or sam
        dom = sim.domain
        dn = "CN=%s,OU=Users,%s" % (simtenant.dn_escape(name),
                                    ",".join("DC=" + x for x in dom.split(".")))
        d.setdefault("displayName", name)
        d.setdefault("userPrincipalName", "%s@%s" % (sam, dom))
        d.update(onPremisesSyncEnabled=True,
                 onPremisesSecurityIdentifier="%s-%d" % (sim.domain_sid, n),
                 onPremisesObjectIdentifier=d.get("onPremisesObjectIdentifier") or
                 str(uuid.uuid4()),
                 onPremisesSamAccountName=sam, onPremisesDistinguishedName=dn,
                 onPremisesDomainName=dom, onPremisesUserPrincipalName="%s@%s" % (sam, dom))

    @staticmethod
    def admin_view(g):
        d = dict(g.props)
        d["members"] = [{"id": k, "type": v} for k, v in g.members.items()]
        return d


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    ssl_ctx = None

    def finish_request(self, request, client_address):
        if self.ssl_ctx is None:
            return super().finish_request(request, client_address)
        try:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            request.settimeout(60)
            tls = self.ssl_ctx.wrap_socket(request, server_side=True)
            tls.settimeout(None)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, socket.timeout)):
            return
        super().handle_error(request, client_address)


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="graphsim.py", description="Microsoft Graph + Entra token endpoint simulator.")
    a = ap.add_argument
    a("--listen", default="127.0.0.1:0", help="host:port (port 0 = pick a free one)")
    a("--port-file", help="write the bound port number to this file when ready")
    a("--url-file", help="write the base URL to this file when ready")
    a("--public-url", help="base URL used in links (default: from the Host header)")
    a("--tls-cert", help="PEM certificate: serve HTTPS")
    a("--tls-key", help="PEM private key for --tls-cert")
    a("--tenant-id", default=None, help="tenant id (GUID) accepted by the token endpoint")
    a("--client-id", default="11111111-2222-3333-4444-555555555555")
    a("--client-secret", default="graphsim-secret")
    a("--client-secret-file", help="read the client secret from this file")
    a("--token-lifetime", type=int, default=3599, help="access token lifetime, seconds")
    a("--delta-token-ttl", type=float, default=7 * 86400,
      help="deltaLink lifetime in seconds (then syncStateNotFound)")
    a("--page-size", type=int, default=100, help="objects per delta page")
    a("--page-members", type=int, default=1000, help="members@delta entries per page")
    a("--latency-ms", type=float, default=0, help="added latency per Graph request")
    a("--no-auth", action="store_true", help="do not require a bearer token on /v1.0")
    a("--seed-file", help="load the tenant from this JSON file (format of GET /_sim/dump)")
    a("--users", type=int, default=50)
    a("--groups", type=int, default=20)
    a("--members", type=int, default=200, help="total memberships")
    a("--seed", type=int, default=1, help="random seed for generation")
    a("--synced-share", type=float, default=0.7, help="share of users synced from AD")
    a("--sids-file", help="JSON lines {sid, guid, sam, dn} of real AD users for synced users")
    a("--domain-sid", default="S-1-5-21-1004336348-1177238915-682003330")
    a("--domain", default="example.com", help="AD DNS domain of synced users")
    a("--ext-app-id", default=None, help="app id of directory extensions (hex, no hyphens)")
    a("--no-odd-names", action="store_true", help="no DN-special/emoji/long group names")
    a("--out-of-scope-share", type=float, default=0.1)
    a("--nested-share", type=float, default=0.05)
    a("--max-group-size", type=int, default=50000)
    a("--dump-seed", help="write the tenant as a seed file and exit")
    a("--verbose", action="store_true", help="log every request to stderr")
    a("--eventhub-bootstrap", help="HOST:PORT of the Kafka broker that stands in for Event "
      "Hubs (change notifications go to the topic named by the subscription's hub)")
    a("--eventhub-connstr-file", help="connection string: SASL_SSL, PLAIN, $ConnectionString")
    a("--eventhub-ca", help="CA of the broker's certificate (with --eventhub-connstr-file)")
    a("--eventhub-python", default="/usr/bin/python3" if os.path.exists("/usr/bin/python3")
      else sys.executable, help="interpreter with confluent_kafka for simhub.py "
      "(Debian's, where python3-confluent-kafka is)")
    args = ap.parse_args(argv)
    if args.client_secret_file:
        with open(args.client_secret_file, encoding="utf-8") as f:
            args.client_secret = f.read().strip()
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    if args.page_size < 1 or args.page_members < 1:
        ap.error("--page-size and --page-members must be >= 1")
    for n in ("users", "groups", "members"):
        if getattr(args, n) < 0:
            ap.error("--%s must be >= 0" % n)
    return args


def build_tenant(args):
    t = simtenant.Tenant(args.tenant_id, args.ext_app_id)
    t0 = time.time()
    if args.seed_file:
        with open(args.seed_file, encoding="utf-8") as f:
            try:
                seed = json.load(f)
            except ValueError as e:
                raise SystemExit("graphsim: %s: bad JSON: %s" % (args.seed_file, e))
        if args.tenant_id:
            seed.pop("tenantId", None)
        if args.ext_app_id:
            seed.pop("extAppId", None)
        try:
            t.load(seed)
        except SimError as e:
            raise SystemExit("graphsim: %s: %s" % (args.seed_file, e.message))
        info = {"users": len(t.users), "groups": len(t.groups)}
    else:
        sids = simtenant.read_sids_file(args.sids_file) if args.sids_file else None
        info = simtenant.generate(t, args.users, args.groups, args.members, args.seed,
                                  args.synced_share, sids, args.domain_sid, args.domain,
                                  not args.no_odd_names, args.out_of_scope_share,
                                  args.nested_share, args.max_group_size)
    info["seconds"] = round(time.time() - t0, 2)
    return t, info


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    tenant, info = build_tenant(args)
    if args.dump_seed:
        with open(args.dump_seed, "w", encoding="utf-8") as f:
            json.dump(tenant.dump(), f, ensure_ascii=False)
        return 0
    host, _, port = args.listen.rpartition(":")
    try:
        port = int(port)
    except ValueError:
        raise SystemExit("graphsim: --listen must be host:port")
    host = host.strip("[]") or "127.0.0.1"
    if ":" in host:
        Server.address_family = socket.AF_INET6
    srv = Server((host, port), Handler)
    srv.sim = Sim(tenant, args)
    srv.sim.domain = args.domain
    srv.sim.domain_sid = args.domain_sid
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        srv.ssl_ctx = ctx
    bound = srv.server_address[1]
    shown = "[%s]" % host if ":" in host else host
    url = args.public_url.rstrip("/") if args.public_url else "%s://%s:%d" % (
        srv.sim.scheme, shown, bound)
    for fname, text in ((args.port_file, str(bound)), (args.url_file, url)):
        if fname:
            tmp = fname + ".tmp"
            with open(tmp, "w") as f:
                f.write(text + "\n")
            os.replace(tmp, fname)
    sys.stderr.write("graphsim: tenant %s: %s\n" % (tenant.tenant_id, json.dumps(info)))
    sys.stdout.write("GRAPHSIM_URL=%s\n" % url)
    sys.stdout.flush()

    def stop(signum, frame):
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)
    try:
        srv.serve_forever(poll_interval=0.25)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        srv.server_close()
        srv.sim.notifier.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
