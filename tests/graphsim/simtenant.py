"""Tenant model of the Graph simulator: users, groups and memberships with a change log of
sequence numbers, delta rounds (initial and incremental) and their page rendering, tenant
generation and seed files, and the AD state that correct provisioning must produce.
Standard library only; the HTTP side lives in graphsim.py."""

import bisect
import json
import random
import re
import threading
import uuid

GRAPH_TYPE = {"user": "#microsoft.graph.user", "group": "#microsoft.graph.group"}

# Properties returned when a request has no $select (Graph v1.0 default sets).
USER_DEFAULT = ("id", "businessPhones", "displayName", "givenName", "jobTitle", "mail",
                "mobilePhone", "officeLocation", "preferredLanguage", "surname",
                "userPrincipalName")
USER_EXTRA = ("accountEnabled", "createdDateTime", "department", "employeeId",
              "onPremisesSyncEnabled", "onPremisesSecurityIdentifier",
              "onPremisesObjectIdentifier", "onPremisesSamAccountName",
              "onPremisesDistinguishedName", "onPremisesDomainName",
              "onPremisesUserPrincipalName", "onPremisesImmutableId",
              "onPremisesLastSyncDateTime", "deletedDateTime")
USER_PROPS = frozenset(USER_DEFAULT + USER_EXTRA)
USER_DEFAULTS = {"businessPhones": []}

GROUP_DEFAULT = ("id", "deletedDateTime", "classification", "createdDateTime", "creationOptions",
                 "description", "displayName", "expirationDateTime", "groupTypes",
                 "isAssignableToRole", "mail", "mailEnabled", "mailNickname", "membershipRule",
                 "membershipRuleProcessingState", "onPremisesDomainName",
                 "onPremisesLastSyncDateTime", "onPremisesNetBiosName",
                 "onPremisesSamAccountName", "onPremisesSecurityIdentifier",
                 "onPremisesSyncEnabled", "preferredDataLocation", "preferredLanguage",
                 "proxyAddresses", "renewedDateTime", "resourceBehaviorOptions",
                 "resourceProvisioningOptions", "securityEnabled", "securityIdentifier",
                 "theme", "visibility", "onPremisesProvisioningErrors",
                 "serviceProvisioningErrors")
GROUP_PROPS = frozenset(GROUP_DEFAULT + ("onPremisesObjectIdentifier", "isManagementRestricted"))
GROUP_DEFAULTS = {"creationOptions": [], "groupTypes": [], "proxyAddresses": [],
                  "resourceBehaviorOptions": [], "resourceProvisioningOptions": [],
                  "onPremisesProvisioningErrors": [], "serviceProvisioningErrors": []}
# Relationships that may be selected on groups/delta (members is the one that is tracked).
GROUP_RELATIONS = frozenset(("members", "owners"))

EXT_RE = re.compile(r"^extension_[0-9a-fA-F]{32}_[A-Za-z0-9_]+$")
GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                     r"[0-9a-fA-F]{12}$")


class SimError(Exception):
    """A request the tenant refuses; graphsim.py turns it into an HTTP answer."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _member_frag(kind, mid):
    return '{"@odata.type":"%s","id":"%s"}' % (GRAPH_TYPE[kind], mid)


def _removed_frag(kind, mid):
    return ('{"@odata.type":"%s","id":"%s","@removed":{"reason":"deleted"}}'
            % (GRAPH_TYPE[kind], mid))


class User:
    __slots__ = ("id", "props", "created_seq", "changed_seq", "prop_seqs", "fcache")

    def __init__(self, uid, props, seq):
        self.id = uid
        self.props = props
        self.created_seq = seq
        self.changed_seq = seq
        self.prop_seqs = None
        self.fcache = None


class Group:
    __slots__ = ("id", "props", "members", "mtuple", "created_seq", "prop_seqs", "mlog_seq",
                 "mlog", "fcache", "mcache")

    def __init__(self, gid, props, members, seq):
        self.id = gid
        self.props = props
        self.members = members          # member id -> "user" | "group", insertion ordered
        self.mtuple = None              # cached tuple(members), reset on change
        self.created_seq = seq
        self.prop_seqs = None           # property -> seq of its last change
        self.mlog_seq = None            # membership log: seqs (sorted) ...
        self.mlog = None                # ... and (member id, kind, added)
        self.fcache = None              # (props object, select key, serialized text)
        self.mcache = None              # (member tuple, its members@delta text)

    def member_tuple(self):
        t = self.mtuple
        if t is None:
            t = self.mtuple = tuple(self.members)
        return t


class Round:
    """One delta round: the items it returns, fixed when it starts, and the seq it ends at."""
    __slots__ = ("id", "kind", "items", "upper", "select", "filter", "incremental")

    def __init__(self, kind, items, upper, select, filt, incremental):
        self.id = None
        self.kind = kind
        self.items = items
        self.upper = upper
        self.select = select
        self.filter = filt
        self.incremental = incremental


class Tenant:
    def __init__(self, tenant_id=None, ext_app_id=None):
        self.tenant_id = tenant_id or "8f2a6e0c-3d9b-4c71-a5e2-1b7c9d0e4f36"
        self.ext_app_id = (ext_app_id or "9b1c2d3e4f5a46b7a8c9d0e1f2a3b4c5").replace("-", "")
        self.lock = threading.RLock()
        self.seq = 0
        self.users = {}
        self.groups = {}
        self.deleted_users = {}         # id -> (created_seq, deleted_seq, reason)
        self.deleted_groups = {}
        self.gch_seq = []               # group change log, parallel lists for bisect
        self.gch_id = []
        self.uch_seq = []
        self.uch_id = []
        self.frag = {}                  # object id -> members@delta fragment (added)
        self.kind = {}                  # object id -> "user" | "group" (ever created)
        self.gen = 0                    # delta-token generation (bumped to invalidate)
        self.gen_mode = "410"
        # Called as listener(group_id, "created" | "updated" | "deleted", group properties)
        # for every group change, under self.lock (the change notifications of simnotify.py).
        self.listener = None

    # ---------------------------------------------------------------- mutation helpers
    def _bump(self):
        self.seq += 1
        return self.seq

    def _gchange(self, seq, gid, change_type="updated", props=None):
        self.gch_seq.append(seq)
        self.gch_id.append(gid)
        if self.listener is not None:
            self.listener(gid, change_type, props if props is not None else
                          self.groups[gid].props)

    def _uchange(self, seq, uid):
        self.uch_seq.append(seq)
        self.uch_id.append(uid)

    def _check_new_id(self, oid):
        if oid is None:
            return str(uuid.uuid4())
        if not isinstance(oid, str) or not GUID_RE.match(oid):
            raise SimError(400, "Request_BadRequest", "id must be a GUID: %r" % (oid,))
        oid = oid.lower()
        if oid in self.users or oid in self.groups:
            raise SimError(409, "Request_BadRequest", "object %s already exists" % oid)
        return oid

    def _clean_props(self, props, allowed, what):
        out = {}
        for k, v in props.items():
            if k in ("id", "members", "@odata.type"):
                continue
            if k not in allowed and not EXT_RE.match(k):
                raise SimError(400, "Request_BadRequest",
                               "Could not find a property named '%s' on type "
                               "'microsoft.graph.%s'." % (k, what))
            out[k] = v
        return out

    def add_user(self, props, uid=None):
        with self.lock:
            uid = self._check_new_id(uid or props.get("id"))
            p = self._clean_props(props, USER_PROPS, "user")
            p["id"] = uid
            seq = self._bump()
            if "createdDateTime" not in p:
                p["createdDateTime"] = "2024-01-01T00:00:00Z"
            u = User(uid, p, seq)
            self.users[uid] = u
            self.deleted_users.pop(uid, None)
            self.kind[uid] = "user"
            self.frag[uid] = _member_frag("user", uid)
            self._uchange(seq, uid)
            return u

    def update_user(self, uid, changes):
        with self.lock:
            u = self.users.get(uid)
            if u is None:
                raise SimError(404, "Request_ResourceNotFound", "no user %s" % uid)
            ch = self._clean_props(changes, USER_PROPS, "user")
            seq = self._bump()
            p = dict(u.props)
            p.update(ch)
            u.props = p
            if u.prop_seqs is None:
                u.prop_seqs = {}
            for k in ch:
                u.prop_seqs[k] = seq
            u.changed_seq = seq
            self._uchange(seq, uid)
            return u

    def delete_user(self, uid, reason="deleted"):
        with self.lock:
            u = self.users.pop(uid, None)
            if u is None:
                raise SimError(404, "Request_ResourceNotFound", "no user %s" % uid)
            seq = self._bump()
            self.deleted_users[uid] = (u.created_seq, seq, reason)
            self._uchange(seq, uid)
            self._drop_member_everywhere(uid, seq)

    def _drop_member_everywhere(self, mid, seq):
        for g in self.groups.values():
            if mid in g.members:
                self._log_members(g, seq, [(mid, g.members.pop(mid), False)])

    def _log_members(self, g, seq, entries):
        if g.mlog is None:
            g.mlog_seq = []
            g.mlog = []
        for e in entries:
            g.mlog_seq.append(seq)
            g.mlog.append(e)
        g.mtuple = None
        self._gchange(seq, g.id)

    def add_group(self, props, members=(), gid=None):
        with self.lock:
            gid = self._check_new_id(gid or props.get("id"))
            p = self._clean_props(props, GROUP_PROPS, "group")
            p["id"] = gid
            p.setdefault("securityEnabled", True)
            p.setdefault("mailEnabled", False)
            p.setdefault("groupTypes", [])
            p.setdefault("createdDateTime", "2024-01-01T00:00:00Z")
            mem = {}
            for mid in members:
                mem[mid] = self._member_kind(mid, gid)
            seq = self._bump()
            g = Group(gid, p, mem, seq)
            self.groups[gid] = g
            self.deleted_groups.pop(gid, None)
            self.kind[gid] = "group"
            self.frag[gid] = _member_frag("group", gid)
            self._gchange(seq, gid, "created")
            return g

    def _member_kind(self, mid, gid):
        if not isinstance(mid, str):
            raise SimError(400, "Request_BadRequest", "member id must be a string")
        mid = mid.lower()
        if mid in self.users:
            return "user"
        if mid in self.groups:
            if mid == gid:
                raise SimError(400, "Request_BadRequest", "a group cannot contain itself")
            return "group"
        raise SimError(404, "Request_ResourceNotFound", "no user or group %s" % mid)

    def update_group(self, gid, changes):
        with self.lock:
            g = self.groups.get(gid)
            if g is None:
                raise SimError(404, "Request_ResourceNotFound", "no group %s" % gid)
            ch = self._clean_props(changes, GROUP_PROPS, "group")
            seq = self._bump()
            p = dict(g.props)
            for k, v in ch.items():
                if v is None and EXT_RE.match(k):
                    p.pop(k, None)
                else:
                    p[k] = v
            g.props = p
            if g.prop_seqs is None:
                g.prop_seqs = {}
            for k in ch:
                g.prop_seqs[k] = seq
            self._gchange(seq, gid)
            return g

    def change_members(self, gid, add=(), remove=()):
        with self.lock:
            g = self.groups.get(gid)
            if g is None:
                raise SimError(404, "Request_ResourceNotFound", "no group %s" % gid)
            adds = [(m.lower(), self._member_kind(m, gid)) for m in add]
            rems = [m.lower() for m in remove if isinstance(m, str)]
            seq = self._bump()
            entries = []
            for mid, kind in adds:
                if mid not in g.members:
                    g.members[mid] = kind
                    entries.append((mid, kind, True))
            for mid in rems:
                kind = g.members.pop(mid, None)
                if kind is not None:
                    entries.append((mid, kind, False))
            if entries:
                self._log_members(g, seq, entries)
            return len(entries)

    def delete_group(self, gid, reason="deleted"):
        with self.lock:
            g = self.groups.pop(gid, None)
            if g is None:
                raise SimError(404, "Request_ResourceNotFound", "no group %s" % gid)
            seq = self._bump()
            self.deleted_groups[gid] = (g.created_seq, seq, reason)
            self._gchange(seq, gid, "deleted", g.props)
            self._drop_member_everywhere(gid, seq)

    def invalidate_delta_tokens(self, mode):
        with self.lock:
            self.gen += 1
            self.gen_mode = mode

    # ---------------------------------------------------------------- delta rounds
    def start_group_round(self, since, select, filt):
        """since None = initial round; select None = default properties (members included)."""
        with_members = select is None or "members" in select
        relevant = set(GROUP_DEFAULT) if select is None else set(select)
        with self.lock:
            upper = self.seq
            items = []
            if since is None:
                if filt is None:
                    src = self.groups.values()
                else:
                    src = [self.groups[i] for i in filt if i in self.groups]
                for g in src:
                    items.append(("full", g, g.props, g.member_tuple() if with_members else ()))
                return Round("groups", items, upper, select, filt, False)
            start = bisect.bisect_right(self.gch_seq, since)
            for gid in dict.fromkeys(self.gch_id[start:]):
                if filt is not None and gid not in filt:
                    continue
                g = self.groups.get(gid)
                if g is None:
                    d = self.deleted_groups.get(gid)
                    if d is not None and d[0] <= since:
                        items.append(("rm", gid, d[2]))
                    continue
                if g.created_seq > since:
                    items.append(("full", g, g.props, g.member_tuple() if with_members else ()))
                    continue
                changed = frozenset(k for k, s in (g.prop_seqs or {}).items()
                                    if s > since and k in relevant)
                entries = []
                if with_members and g.mlog is not None:
                    j = bisect.bisect_right(g.mlog_seq, since)
                    first = {}
                    for mid, kind, added in g.mlog[j:]:
                        if mid not in first:
                            first[mid] = (kind, added)
                    for mid, (kind, added_first) in first.items():
                        now = mid in g.members
                        if now == added_first:   # absent then, present now (or reverse)
                            entries.append((mid, kind, now))
                if changed or entries:
                    items.append(("chg", g, g.props, changed, entries))
            return Round("groups", items, upper, select, filt, True)

    def start_user_round(self, since, select, filt):
        relevant = set(USER_DEFAULT) if select is None else set(select)
        with self.lock:
            upper = self.seq
            items = []
            if since is None:
                src = (self.users.values() if filt is None
                       else [self.users[i] for i in filt if i in self.users])
                for u in src:
                    items.append(("full", u, u.props))
                return Round("users", items, upper, select, filt, False)
            start = bisect.bisect_right(self.uch_seq, since)
            for uid in dict.fromkeys(self.uch_id[start:]):
                if filt is not None and uid not in filt:
                    continue
                u = self.users.get(uid)
                if u is None:
                    d = self.deleted_users.get(uid)
                    if d is not None and d[0] <= since:
                        items.append(("rm", uid, d[2]))
                    continue
                if u.created_seq > since:
                    items.append(("full", u, u.props))
                    continue
                changed = frozenset(k for k, s in (u.prop_seqs or {}).items()
                                    if s > since and k in relevant)
                if changed:
                    items.append(("chg", u, u.props, changed))
            return Round("users", items, upper, select, filt, True)

    # ---------------------------------------------------------------- rendering
    @staticmethod
    def props_text(obj, props, select, defaults_names, defaults, only=None):
        """Serialized object without its closing brace: '{"id":"…",…'."""
        if only is None:
            c = obj.fcache
            if c is not None and c[0] is props and c[1] == select:
                return c[2]
        names = defaults_names if select is None else select
        d = {"id": obj.id}
        for n in names:
            if n == "id" or n in GROUP_RELATIONS:
                continue
            if only is not None and n not in only:
                continue
            if n in props:
                d[n] = props[n]
            elif n.startswith("extension_"):
                continue        # unset extension properties are omitted
            else:
                d[n] = defaults.get(n)
        text = _dumps(d)[:-1]
        if only is None:
            obj.fcache = (props, select, text)
        return text

    def render_group_page(self, rnd, i, m, page_size, page_members, minimal):
        """Returns (list of JSON object texts, next cursor (i, m) or None)."""
        items = rnd.items
        sel = rnd.select
        with_members = sel is None or "members" in sel
        out = []
        nmem = 0
        frag = self.frag
        while i < len(items) and len(out) < page_size:
            it = items[i]
            tag = it[0]
            if tag == "rm":
                out.append('{"id":"%s","@removed":{"reason":"%s"}}' % (it[1], it[2]))
                i += 1
                continue
            g, props = it[1], it[2]
            if tag == "full":
                head = self.props_text(g, props, sel, GROUP_DEFAULT, GROUP_DEFAULTS)
                entries = it[3]
            else:
                only = it[3] if minimal else None
                head = self.props_text(g, props, sel, GROUP_DEFAULT, GROUP_DEFAULTS, only)
                entries = it[4]
            n = len(entries) - m
            if not with_members or n <= 0:
                out.append(head + "}")
                i += 1
                m = 0
                continue
            room = page_members - nmem
            if room <= 0:
                break
            take = min(n, room)
            if tag == "full" and m == 0 and take == n:
                # a whole member list: cached per member-tuple snapshot (warm rounds)
                mc = g.mcache
                if mc is not None and mc[0] is entries:
                    body = mc[1]
                else:
                    body = ",".join([frag[x] for x in entries])
                    g.mcache = (entries, body)
                out.append('%s,"members@delta":[%s]}' % (head, body))
                nmem += take
                i += 1
                continue
            sl = entries[m:m + take]
            if tag == "full":
                body = ",".join([frag[x] for x in sl])
            else:
                body = ",".join([(_member_frag(k, x) if a else _removed_frag(k, x))
                                 for x, k, a in sl])
            out.append('%s,"members@delta":[%s]}' % (head, body))
            nmem += take
            if take < n:
                m += take
                break           # the rest of this group continues on the next page
            i += 1
            m = 0
        if i >= len(items):
            return out, None
        return out, (i, m)

    def render_user_page(self, rnd, i, page_size, minimal):
        items = rnd.items
        out = []
        while i < len(items) and len(out) < page_size:
            it = items[i]
            if it[0] == "rm":
                out.append('{"id":"%s","@removed":{"reason":"%s"}}' % (it[1], it[2]))
            elif it[0] == "full":
                out.append(self.props_text(it[1], it[2], rnd.select, USER_DEFAULT,
                                           USER_DEFAULTS) + "}")
            else:
                only = it[3] if minimal else None
                out.append(self.props_text(it[1], it[2], rnd.select, USER_DEFAULT,
                                           USER_DEFAULTS, only) + "}")
            i += 1
        return out, (None if i >= len(items) else (i, 0))

    def object_json(self, oid, select, with_type=False):
        """A user or group as a Graph object (dict), or None."""
        with self.lock:
            u = self.users.get(oid)
            g = None if u is not None else self.groups.get(oid)
        if u is not None:
            text = self.props_text(u, u.props, select, USER_DEFAULT, USER_DEFAULTS) + "}"
            kind = "user"
        elif g is not None:
            sel = None if select is None else tuple(s for s in select if s != "members")
            text = self.props_text(g, g.props, sel, GROUP_DEFAULT, GROUP_DEFAULTS) + "}"
            kind = "group"
        else:
            return None
        d = json.loads(text)
        if with_type:
            d = dict([("@odata.type", GRAPH_TYPE[kind])] + list(d.items()))
        return d

    # ---------------------------------------------------------------- seed files
    def dump(self):
        with self.lock:
            return {
                "tenantId": self.tenant_id,
                "extAppId": self.ext_app_id,
                "users": [dict(u.props) for u in self.users.values()],
                "groups": [dict(g.props, members=list(g.members)) for g in self.groups.values()],
            }

    def load(self, seed):
        if not isinstance(seed, dict):
            raise SimError(400, "BadSeed", "seed must be a JSON object")
        if seed.get("tenantId"):
            self.tenant_id = seed["tenantId"]
        if seed.get("extAppId"):
            self.ext_app_id = seed["extAppId"].replace("-", "")
        for u in seed.get("users", []):
            self.add_user(u)
        pending = []
        for g in seed.get("groups", []):
            gg = self.add_group({k: v for k, v in g.items() if k != "members"})
            pending.append((gg, g.get("members", [])))
        # Members after all groups exist, so nested groups may be listed in any order; the
        # initial state is not logged as changes.
        with self.lock:
            for gg, mem in pending:
                for mid in mem:
                    gg.members[mid.lower()] = self._member_kind(mid, gg.id)
                gg.mtuple = None

    # ---------------------------------------------------------------- expected AD state
    def expected(self, mode="all", group_ids=None, filt=None, target_ou=None):
        if mode not in ("all", "selected", "filter"):
            raise SimError(400, "BadRequest", "mode must be all, selected or filter")
        if mode == "filter" and not filt:
            raise SimError(400, "BadRequest", "mode=filter needs filter=")
        scope = ScopeFilter(filt) if mode == "filter" else None
        ids = set(x.lower() for x in (group_ids or []))
        with self.lock:
            in_scope = {}
            out_scope = []
            for g in self.groups.values():
                p = g.props
                ok = base_scope(p)
                if ok and mode == "selected":
                    ok = g.id in ids
                elif ok and mode == "filter":
                    ok = scope.match(p)
                if ok:
                    in_scope[g.id] = g
                else:
                    out_scope.append(g.id)
            res = []
            for g in in_scope.values():
                p = g.props
                cn = ad_cn(p.get("displayName"), g.id)
                ent = {
                    "objectId": g.id,
                    "cn": cn,
                    "displayName": p.get("displayName"),
                    "description": ad_description(p.get("description")),
                    "sAMAccountName": "Group_" + g.id[-12:],
                    "adminDescription": "Group_" + g.id,
                    "msDS-ExternalDirectoryObjectId": "Group_" + g.id,
                    "groupType": -2147483640,
                }
                if target_ou:
                    ent["dn"] = "CN=%s,%s" % (dn_escape(cn), target_ou)
                users = []
                groups = []
                skipped_cloud = 0
                skipped_groups = 0
                for mid, kind in g.members.items():
                    if kind == "user":
                        up = self.users[mid].props
                        if up.get("onPremisesSecurityIdentifier"):
                            users.append(up)
                        else:
                            skipped_cloud += 1
                    elif mid in in_scope:
                        groups.append(mid)
                    else:
                        skipped_groups += 1
                users.sort(key=lambda x: x["onPremisesSecurityIdentifier"])
                groups.sort()
                ent["memberSids"] = [u["onPremisesSecurityIdentifier"] for u in users]
                ent["memberGuids"] = [u.get("onPremisesObjectIdentifier") for u in users]
                ent["memberUserIds"] = [u["id"] for u in users]
                ent["memberGroups"] = groups
                if target_ou:
                    ent["memberDns"] = sorted(
                        [u["onPremisesDistinguishedName"] for u in users
                         if u.get("onPremisesDistinguishedName")] +
                        ["CN=%s,%s" % (dn_escape(ad_cn(in_scope[x].props.get("displayName"), x)),
                                       target_ou) for x in groups])
                ent["skippedCloudOnlyUsers"] = skipped_cloud
                ent["skippedOutOfScopeGroups"] = skipped_groups
                res.append(ent)
            res.sort(key=lambda e: e["objectId"])
            return {"seq": self.seq, "mode": mode, "count": len(res), "groups": res,
                    "outOfScope": sorted(out_scope)}


# -------------------------------------------------------------------- Cloud Sync rules
def base_scope(p):
    """The hard-coded default security clause (docs/microsoft.md, Scope): security, not mail-enabled,
    not synced from AD (null and false alike), not a Microsoft 365 group."""
    return (p.get("securityEnabled") is True and p.get("mailEnabled") is not True
            and p.get("onPremisesSyncEnabled") is not True
            and "Unified" not in (p.get("groupTypes") or []))


# .NET Char.IsWhiteSpace: what Trim() removes (Python's str.strip also removes U+001C-U+001F).
_NET_SPACE = "".join(map(chr, [*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
                               0x2028, 0x2029, 0x202F, 0x205F, 0x3000]))


def net_left(text, n):
    """Left(Trim(text), n) as Cloud Sync's .NET expression engine computes it: n counts UTF-16
    code units (an emoji outside the BMP counts 2), and a character that does not fit whole is
    dropped rather than split. NUL characters are dropped first, as the worker does."""
    text = (text or "").replace("\0", "").strip(_NET_SPACE)
    out, units = [], 0
    for ch in text:
        w = 2 if ord(ch) > 0xFFFF else 1
        if units + w > n:
            break
        out.append(ch)
        units += w
    return "".join(out)


def ad_cn(display_name, oid):
    """Append(Append(Left(Trim([displayName]),51),"_"),Mid([objectId],25,12))."""
    return net_left(display_name, 51) + "_" + oid[24:36]


def ad_description(desc):
    if desc is None:
        return None
    d = net_left(desc, 448)
    return d or None


def dn_escape(v):
    """RFC 4514 attribute value escaping."""
    out = []
    for i, ch in enumerate(v):
        edge = i == 0 or i == len(v) - 1
        if ch in ',+"\\<>;' or (ch == "#" and i == 0) or (ch == " " and edge):
            out.append("\\" + ch)
        elif ch == "\0":
            out.append("\\00")
        else:
            out.append(ch)
    return "".join(out)


class ScopeFilter:
    """Cloud Sync attribute value filter (docs/microsoft.md, Scope). Text form:

        clause [AND clause ...] [OR clause [AND clause ...] ...]
        clause = attribute OPERATOR [value]

    Operators (case-insensitive, spaces or underscores between words): EQUALS, NOT EQUALS,
    IS TRUE, IS FALSE, IS NULL, IS NOT NULL, GREATER THAN, GREATER THAN OR EQUALS,
    REGEX MATCH, NOT REGEX MATCH; `&&`/`||` may replace AND/OR. Values are 'single' or
    "double" quoted (backslash escapes) or a bare word. EQUALS/NOT EQUALS compare strings
    case-sensitively (booleans as true/false); GREATER THAN compares integers; REGEX MATCH
    is a search anywhere in the value; NOT REGEX MATCH is false for null."""

    OPS = [("GREATER", "THAN", "OR", "EQUALS"), ("NOT", "REGEX", "MATCH"), ("IS", "NOT", "NULL"),
           ("NOT", "EQUALS"), ("IS", "TRUE"), ("IS", "FALSE"), ("IS", "NULL"),
           ("GREATER", "THAN"), ("REGEX", "MATCH"), ("EQUALS",)]
    UNARY = {"IS_TRUE", "IS_FALSE", "IS_NULL", "IS_NOT_NULL"}
    SYNONYM = {"EQ": "EQUALS", "==": "EQUALS", "NE": "NOT_EQUALS", "!=": "NOT_EQUALS",
               "GT": "GREATER_THAN", "GE": "GREATER_THAN_OR_EQUALS"}

    def __init__(self, text):
        self.text = text
        self.alts = self._parse(self._tokens(text))

    @staticmethod
    def _tokens(text):
        toks = []
        i = 0
        while i < len(text):
            ch = text[i]
            if ch.isspace():
                i += 1
            elif ch in "'\"":
                j = i + 1
                buf = []
                while j < len(text) and text[j] != ch:
                    if text[j] == "\\" and j + 1 < len(text):
                        j += 1
                    buf.append(text[j])
                    j += 1
                if j >= len(text):
                    raise SimError(400, "BadFilter", "unterminated quote in filter")
                toks.append(("str", "".join(buf)))
                i = j + 1
            else:
                j = i
                while j < len(text) and not text[j].isspace():
                    j += 1
                toks.append(("word", text[i:j]))
                i = j
        return toks

    def _parse(self, toks):
        alts = [[]]
        i = 0

        def word(k):
            return toks[k][1].upper().replace("_", " ").split() if toks[k][0] == "word" else None

        while i < len(toks):
            if toks[i][0] != "word":
                raise SimError(400, "BadFilter", "expected an attribute name, got a string")
            attr = toks[i][1]
            i += 1
            # operator: longest match over the next words (each word may hold a_b_c)
            flat = []
            k = i
            while k < len(toks) and toks[k][0] == "word" and len(flat) < 4:
                for w in word(k):
                    flat.append((w, k))
                k += 1
            op = None
            if flat and flat[0][0] in self.SYNONYM:
                op, i = self.SYNONYM[flat[0][0]], flat[0][1] + 1
            else:
                for cand in self.OPS:
                    ws = [w for w, _ in flat[:len(cand)]]
                    if tuple(ws) == cand:
                        last_tok = flat[len(cand) - 1][1]
                        # the op must end on a token boundary
                        if len(cand) < len(flat) and flat[len(cand)][1] == last_tok:
                            continue
                        op, i = "_".join(cand), last_tok + 1
                        break
            if op is None:
                raise SimError(400, "BadFilter", "unknown operator after %r" % attr)
            val = None
            if op not in self.UNARY:
                if i >= len(toks):
                    raise SimError(400, "BadFilter", "missing value for %s" % op)
                val = toks[i][1]
                i += 1
                if op.startswith("GREATER"):
                    try:
                        val = int(val)
                    except ValueError:
                        raise SimError(400, "BadFilter", "%s needs an integer" % op)
                elif "REGEX" in op:
                    try:
                        val = re.compile(val)
                    except re.error as e:
                        raise SimError(400, "BadFilter", "bad regex: %s" % e)
            alts[-1].append((attr, op, val))
            if i < len(toks):
                conn = toks[i][1].upper() if toks[i][0] == "word" else ""
                if conn in ("AND", "&&"):
                    i += 1
                elif conn in ("OR", "||"):
                    alts.append([])
                    i += 1
                else:
                    raise SimError(400, "BadFilter", "expected AND or OR, got %r" % toks[i][1])
                if i >= len(toks):
                    raise SimError(400, "BadFilter", "filter ends with a connector")
        if not alts[0]:
            raise SimError(400, "BadFilter", "empty filter")
        return alts

    @staticmethod
    def _s(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)

    def _clause(self, props, attr, op, val):
        v = props.get(attr)
        if op == "IS_NULL":
            return v is None
        if op == "IS_NOT_NULL":
            return v is not None
        if op == "IS_TRUE":
            return v is True or (isinstance(v, str) and v.lower() == "true")
        if op == "IS_FALSE":
            return v is False or (isinstance(v, str) and v.lower() == "false")
        if op == "EQUALS":
            return v is not None and self._s(v) == val
        if op == "NOT_EQUALS":
            return v is None or self._s(v) != val
        if op.startswith("GREATER"):
            try:
                n = int(v)
            except (TypeError, ValueError):
                return False
            return n > val if op == "GREATER_THAN" else n >= val
        if op == "REGEX_MATCH":
            return v is not None and val.search(self._s(v)) is not None
        if op == "NOT_REGEX_MATCH":
            return v is not None and val.search(self._s(v)) is None
        return False

    def match(self, props):
        return any(all(self._clause(props, a, o, v) for a, o, v in alt) for alt in self.alts)


# -------------------------------------------------------------------- generation
ODD_NAMES = [
    "  Leading and trailing spaces  ",
    'Comma, Plus+ Quote" Back\\slash <Angle> Semi; Equals= #Hash',
    "#StartsWithHash",
    "Emoji \U0001F680 Rocket Team \u2728",
    "\u00dcn\u00efc\u00f6d\u00e9 Gr\u00fcppe \u2014 \u00e9t\u00e9",
    "CJK \u7fa4\u7ec4 \u30c6\u30b9\u30c8",
    "A very long group name that goes well beyond fifty-one characters in total",
    "Exactly-fifty-one-characters-long-name-xxxxxxxxxxxx",
    # code points 50-52 are emoji: the 51-unit (UTF-16) cut falls inside them
    "Emoji straddling the 51-char cut " + "." * 16 + "\U0001F600\U0001F600\U0001F600",
    "Trailing dot.",
    "Slash/and*star?",
]
DEPTS = ["Finance", "HR", "Engineering", "Sales", "Legal", "Ops", "Research", "Support"]


def _guid(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def read_sids_file(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                d = json.loads(line)
                out.append((d["sid"], d["guid"], d.get("sam"), d.get("dn")))
            except (ValueError, KeyError, TypeError) as e:
                raise SystemExit("graphsim: %s line %d: need JSON with sid, guid (sam, dn): %s"
                                 % (path, n, e))
    return out


def generate(tenant, users=50, groups=20, members=200, seed=1, synced_share=0.7, sids=None,
             domain_sid="S-1-5-21-1004336348-1177238915-682003330", domain="example.com",
             odd_names=True, out_of_scope_share=0.1, nested_share=0.05, max_group_size=50000):
    """Fills an empty tenant deterministically from the seed. Returns a summary dict."""
    rng = random.Random(seed)
    ext_wb = "extension_%s_WritebackEnabled" % tenant.ext_app_id
    ext_dept = "extension_%s_Department" % tenant.ext_app_id
    domain_dn = ",".join("DC=" + x for x in domain.split("."))
    netbios = domain.split(".")[0].upper()
    n_synced = int(round(users * synced_share))
    if sids is not None:
        n_synced = min(n_synced, len(sids))
    seq = tenant._bump()
    uids = []
    T = tenant
    for i in range(users):
        uid = _guid(rng)
        p = {"id": uid, "businessPhones": [], "givenName": "User", "surname": "%06d" % i,
             "jobTitle": None, "mobilePhone": None, "officeLocation": None,
             "preferredLanguage": None, "accountEnabled": True,
             "createdDateTime": "2024-01-01T00:00:00Z"}
        if i < n_synced:
            if sids is not None:
                sid, guid, sam, dn = sids[i]
                sam = sam or "u%06d" % i
                m = re.match(r"(?i)CN=((?:[^,\\]|\\.)+)", dn or "")
                name = m.group(1).replace("\\", "") if m else sam
            else:
                sid = "%s-%d" % (domain_sid, 1100 + i)
                guid = _guid(rng)
                sam = "u%06d" % i
                name = "User %06d" % i
                dn = "CN=%s,OU=Users,%s" % (name, domain_dn)
            upn = "%s@%s" % (sam, domain)
            p.update(displayName=name, userPrincipalName=upn, mail=upn,
                     onPremisesSyncEnabled=True, onPremisesSecurityIdentifier=sid,
                     onPremisesObjectIdentifier=guid, onPremisesSamAccountName=sam,
                     onPremisesDistinguishedName=dn, onPremisesDomainName=domain,
                     onPremisesUserPrincipalName=upn,
                     onPremisesImmutableId=None,
                     onPremisesLastSyncDateTime="2024-01-01T00:00:00Z")
        else:
            upn = "cloud%06d@graphsim.onmicrosoft.com" % i
            p.update(displayName="Cloud User %06d" % i, userPrincipalName=upn, mail=upn,
                     onPremisesSyncEnabled=None, onPremisesSecurityIdentifier=None,
                     onPremisesObjectIdentifier=None, onPremisesSamAccountName=None,
                     onPremisesDistinguishedName=None, onPremisesDomainName=None,
                     onPremisesUserPrincipalName=None, onPremisesImmutableId=None,
                     onPremisesLastSyncDateTime=None)
        T.users[uid] = User(uid, p, seq)
        T.kind[uid] = "user"
        T.frag[uid] = '{"@odata.type":"#microsoft.graph.user","id":"%s"}' % uid
        uids.append(uid)

    gids = [_guid(rng) for _ in range(groups)]
    cats = {"cloud": 0, "dynamic": 0, "mailsec": 0, "unified": 0, "distribution": 0,
            "synced": 0}
    oos = ["mailsec", "unified", "distribution", "synced"]
    gprops = []
    n_odd = 0
    for i, gid in enumerate(gids):
        r = rng.random()
        cat = oos[i % 4] if r < out_of_scope_share else ("dynamic" if r > 0.95 else "cloud")
        # the first groups cover each out-of-scope kind once so small tenants have them
        if groups >= 12 and 2 <= i < 6:
            cat = oos[i - 2]
        cats[cat] += 1
        dept = DEPTS[i % len(DEPTS)]
        name = "SG-%s-%06d" % (dept, i)
        if odd_names and (i % 97 == 7 or (groups >= 12 and 6 <= i < 6 + len(ODD_NAMES)
                                          and i - 6 < groups // 2)):
            name = ODD_NAMES[n_odd % len(ODD_NAMES)]
            n_odd += 1
        desc_r = rng.random()
        if desc_r < 0.2:
            desc = None
        elif desc_r < 0.23:
            desc = "  Long description " + "x" * 500 + "  "
        else:
            desc = "Access group for %s (%d)" % (dept, i)
        nick = "sg%06d" % i
        p = {"id": gid, "displayName": name, "description": desc, "securityEnabled": True,
             "mailEnabled": False, "mailNickname": nick, "mail": None, "groupTypes": [],
             "onPremisesSyncEnabled": None, "onPremisesSecurityIdentifier": None,
             "onPremisesSamAccountName": None, "createdDateTime": "2024-01-01T00:00:00Z",
             "securityIdentifier": "S-1-12-1-%d-%d-%d-%d" % tuple(rng.getrandbits(32)
                                                                for _ in range(4)),
             "visibility": None, "isAssignableToRole": None, "membershipRule": None,
             "membershipRuleProcessingState": None}
        if cat == "dynamic":
            p["groupTypes"] = ["DynamicMembership"]
            p["membershipRule"] = '(user.department -eq "%s")' % dept
            p["membershipRuleProcessingState"] = "On"
        elif cat == "mailsec":
            p.update(mailEnabled=True, mail="%s@graphsim.onmicrosoft.com" % nick)
        elif cat == "unified":
            p.update(mailEnabled=True, securityEnabled=False, groupTypes=["Unified"],
                     mail="%s@graphsim.onmicrosoft.com" % nick, visibility="Private")
        elif cat == "distribution":
            p.update(mailEnabled=True, securityEnabled=False,
                     mail="%s@graphsim.onmicrosoft.com" % nick)
        elif cat == "synced":
            p.update(onPremisesSyncEnabled=True,
                     onPremisesSecurityIdentifier="%s-%d" % (domain_sid, 500000 + i),
                     onPremisesSamAccountName="ad-group-%06d" % i,
                     onPremisesDomainName=domain, onPremisesNetBiosName=netbios,
                     onPremisesLastSyncDateTime="2024-01-01T00:00:00Z")
        if cat in ("cloud", "dynamic"):
            x = rng.random()
            if x < 0.5:
                p[ext_wb] = True
            elif x < 0.75:
                p[ext_wb] = False
            p[ext_dept] = dept
        gprops.append(p)

    # membership sizes: heavy-tailed weights, capped, exact total
    # a group can hold every user and every later group (nesting only points forward)
    cap = [max(0, min(max_group_size, users + groups - i - 1)) for i in range(groups)]
    sizes = [0] * groups
    if groups and members:
        # about 5% of the groups stay empty (no members@delta in the initial round)
        w = [0.0 if rng.random() < 0.05 else rng.paretovariate(1.16) for _ in range(groups)]
        tw = sum(w) or 1.0
        for i in range(groups):
            sizes[i] = min(cap[i], int(members * w[i] / tw))
        left = members - sum(sizes)
        room = [i for i in range(groups) if sizes[i] < cap[i] and w[i] > 0]
        while left > 0 and room:
            k = rng.randrange(len(room))
            i = room[k]
            add = min(left, cap[i] - sizes[i], max(1, left // max(1, len(room))))
            sizes[i] += add
            left -= add
            if sizes[i] >= cap[i]:
                room[k] = room[-1]
                room.pop()
    total = 0
    urange = range(users)
    for i, gid in enumerate(gids):
        s = sizes[i]
        mem = {}
        if s:
            n_nested = 0
            later = groups - i - 1
            if later > 0 and nested_share > 0:
                n_nested = min(later, int(s * nested_share + rng.random()))
            n_users = min(users, s - n_nested)
            n_nested = min(later, s - n_users)
            if n_users:
                for k in rng.sample(urange, n_users):
                    mem[uids[k]] = "user"
            if n_nested:
                for k in rng.sample(range(i + 1, groups), n_nested):
                    mem[gids[k]] = "group"
        total += len(mem)
        g = Group(gid, gprops[i], mem, seq)
        T.groups[gid] = g
        T.kind[gid] = "group"
        T.frag[gid] = '{"@odata.type":"#microsoft.graph.group","id":"%s"}' % gid
    return {"users": users, "synced_users": n_synced, "groups": groups, "memberships": total,
            "categories": cats, "odd_names": n_odd}
