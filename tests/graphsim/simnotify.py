"""Graph change notifications for the simulator: the /subscriptions resource (create, list,
read, renew, reauthorize, delete) with Graph's documented validation, and delivery of change
and lifecycle notifications into Azure Event Hubs, here topics of the test Kafka broker, with
faults for tests (drop, duplicate, delay, reorder, forged clientState, lifecycle events,
expiry, removal). Standard library only: the Kafka client runs in a child process
(simhub.py, under Debian's python3 with python3-confluent-kafka) fed through a pipe by one
delivery thread, so no HTTP request ever waits for Kafka.

What is simulated, with the admin API: tests/graphsim/README.md ("Change notifications")."""

import collections
import datetime
import heapq
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import uuid

from simtenant import SimError

# Maximum subscription length for groups (subscription resource type, "Maximum length of
# subscription per resource type"): 41,760 minutes, under 29 days.
GROUPS_MAX_MINUTES = 41760
# "Any value under 45 minutes after the time of the request is automatically set to 45
# minutes after the request time" (subscription resource type, expirationDateTime); tests
# lower it through /_sim/config subscription_min_minutes.
MIN_MINUTES = 45
# group subscriptions: at most 100 per app and tenant (change notifications API overview,
# "Maximum subscription quotas"); /_sim/config subscription_quota.
APP_TENANT_QUOTA = 100
CHANGE_TYPES = ("created", "updated", "deleted")
# subscription resource type: clientState "maximum length of 128 characters" (the
# changeNotification page says 255 for what it carries; a subscription is refused above 128).
CLIENT_STATE_MAX = 128
# The managed-identity Event Hubs form of notificationUrl and lifecycleNotificationUrl.
EVENTHUB_URL = re.compile(
    r"^EventHub:https://([A-Za-z0-9][A-Za-z0-9.-]*)/eventhubname/([A-Za-z0-9][A-Za-z0-9._-]*)"
    r"\?tenantId=([0-9A-Za-z.-]+)$", re.I)
GROUP_RESOURCE = re.compile(r"^/?groups(?:/([0-9a-fA-F-]{36}))?$", re.I)
ISO_TIME = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?"
                      r"(Z|[+-]\d\d:\d\d)?$")
NOTIFY_FAULT_KINDS = ("drop", "duplicate", "delay", "reorder", "forge")
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")
PATCHABLE = ("expirationDateTime", "notificationUrl")
LOG_MAX = 5000


def parse_time(text):
    """An ISO 8601 date-time (UTC when no offset is given) as epoch seconds, or None."""
    m = ISO_TIME.match(text) if isinstance(text, str) else None
    if not m:
        return None
    y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
    frac = float("0." + m.group(7)) if m.group(7) else 0.0
    try:
        dt = datetime.datetime(y, mo, d, h, mi, s, tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    off = m.group(8)
    if off and off != "Z":
        sign = 1 if off[0] == "+" else -1
        dt -= sign * datetime.timedelta(hours=int(off[1:3]), minutes=int(off[4:6]))
    return dt.timestamp() + frac


def format_time(epoch):
    """Graph's form: seven fractional digits and Z."""
    dt = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%07dZ" % (dt.microsecond * 10)


def invalid(message):
    return SimError(400, "ValidationError", message)


class Subscription:
    __slots__ = ("id", "resource", "group_id", "change_types", "notification_url",
                 "lifecycle_url", "topic", "lifecycle_topic", "expires", "client_state",
                 "application_id", "reauth_pending")

    def view(self, with_state):
        return {"id": self.id, "resource": self.resource, "applicationId": self.application_id,
                "changeType": ",".join(t for t in CHANGE_TYPES if t in self.change_types),
                "clientState": self.client_state if with_state else None,
                "notificationUrl": self.notification_url, "notificationQueryOptions": None,
                "lifecycleNotificationUrl": self.lifecycle_url,
                "expirationDateTime": format_time(self.expires), "creatorId": None,
                "includeResourceData": None, "latestSupportedTlsVersion": "v1_2",
                "encryptionCertificate": None, "encryptionCertificateId": None,
                "notificationUrlAppId": None}


class NotifyFault:
    def __init__(self, d):
        self.kind = str(d.get("kind", ""))
        if self.kind not in NOTIFY_FAULT_KINDS:
            raise SimError(400, "BadFault",
                           "kind must be one of %s" % ", ".join(NOTIFY_FAULT_KINDS))
        try:
            self.count = int(d.get("count", 1))
            self.delay_ms = int(d.get("delay_ms", 3000))
            self.hold_ms = int(d.get("hold_ms", 10000))
        except (TypeError, ValueError):
            raise SimError(400, "BadFault", "count, delay_ms and hold_ms are integers")
        self.subscription = d.get("subscription")
        self.change_type = d.get("changeType")
        self.client_state = d.get("clientState")
        self.applied = 0

    def matches(self, sub, change_type):
        return ((not self.subscription or self.subscription == sub.id) and
                (not self.change_type or self.change_type == change_type))

    def as_dict(self):
        return {"kind": self.kind, "count": self.count, "delay_ms": self.delay_ms,
                "hold_ms": self.hold_ms, "subscription": self.subscription,
                "changeType": self.change_type, "applied": self.applied}


class Hub:
    """The simhub.py child that produces to the broker, started on first use and again after
    it died. send() is called by the delivery thread only; reports come back on a reader
    thread and settle the log entries."""

    def __init__(self, args, on_report):
        self.argv = None
        if args.eventhub_bootstrap:
            self.argv = [args.eventhub_python, os.path.join(os.path.dirname(
                os.path.abspath(__file__)), "simhub.py"), "produce",
                "--bootstrap", args.eventhub_bootstrap]
            if args.eventhub_connstr_file:
                self.argv += ["--connstr-file", args.eventhub_connstr_file]
            if args.eventhub_ca:
                self.argv += ["--ca", args.eventhub_ca]
        self.on_report = on_report
        self.proc = None
        self.inflight = set()           # ids sent to the current child and not reported on
        self.lock = threading.Lock()

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        self.inflight = set()
        threading.Thread(target=self.read_reports, args=(self.proc, self.inflight),
                         daemon=True).start()

    def read_reports(self, proc, inflight):
        for line in proc.stdout:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                inflight.discard(r.get("id"))
            self.on_report(r.get("id"), bool(r.get("ok")), r.get("error"))
        # the child is gone (e.g. no confluent_kafka in --eventhub-python): what it had not
        # reported on is lost
        status = proc.wait()
        with self.lock:
            lost = sorted(inflight)
            inflight.clear()
        for rid in lost:
            self.on_report(rid, False, "simhub.py exited with status %s before reporting"
                           % status)

    def send(self, rid, topic, key, value):
        if self.argv is None:
            return "no Event Hub configured (--eventhub-bootstrap)"
        for _ in range(2):
            if self.proc is None or self.proc.poll() is not None:
                self.start()
            try:
                with self.lock:
                    self.inflight.add(rid)
                self.proc.stdin.write(json.dumps({"id": rid, "topic": topic, "key": key,
                                                  "value": value}) + "\n")
                self.proc.stdin.flush()
                return None
            except (BrokenPipeError, OSError):
                with self.lock:
                    self.inflight.discard(rid)
                self.proc = None
        return "simhub.py is not running"

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()


class Notifier:
    """Subscriptions and their notifications. Graph answers come from the handler threads;
    the tenant calls group_changed() under its own lock; one thread delivers."""

    def __init__(self, tenant, args, cfg):
        self.tenant = tenant
        self.cfg = cfg
        self.application_id = args.client_id
        self.lock = threading.Condition()
        self.subs = {}
        self.faults = []
        self.queue = []                 # heap of (due, seq, entry)
        self.seq = 0
        self.held = None                # queue slot held back by a reorder fault
        self.sent = 0                   # messages handed to the hub, in order
        self.log = collections.OrderedDict()    # id -> entry (the last LOG_MAX messages)
        self.stats = collections.Counter()
        self.hub = Hub(args, self.report)
        tenant.listener = self.group_changed
        threading.Thread(target=self.deliver_loop, daemon=True).start()

    # ------------------------------------------------------------------ Graph endpoints
    def create(self, body):
        d = self.body_object(body)
        sub = Subscription()
        sub.id = str(uuid.uuid4())
        sub.application_id = self.application_id
        sub.reauth_pending = False
        res = d.get("resource")
        m = GROUP_RESOURCE.match(res) if isinstance(res, str) else None
        if not m:
            raise invalid("Resource '%s' is not supported (the simulator serves 'groups' and "
                          "'groups/{id}')." % (res,))
        sub.resource, sub.group_id = res, (m.group(1) or "").lower() or None
        ct = d.get("changeType")
        parts = ct.split(",") if isinstance(ct, str) else [None]
        if not all(p in CHANGE_TYPES for p in parts) or len(set(parts)) != len(parts):
            raise invalid("Invalid changeType '%s': a comma-separated list of created, "
                          "updated, deleted." % (ct,))
        sub.change_types = frozenset(parts)
        sub.notification_url, sub.topic = self.hub_url(d.get("notificationUrl"),
                                                       "notificationUrl")
        sub.lifecycle_url, sub.lifecycle_topic = None, None
        if d.get("lifecycleNotificationUrl") is not None:
            sub.lifecycle_url, sub.lifecycle_topic = self.hub_url(
                d.get("lifecycleNotificationUrl"), "lifecycleNotificationUrl")
        sub.expires = self.expiry(d.get("expirationDateTime"))
        cs = d.get("clientState")
        if cs is not None and (not isinstance(cs, str) or len(cs) > CLIENT_STATE_MAX):
            raise invalid("clientState must be a string of at most %d characters."
                          % CLIENT_STATE_MAX)
        sub.client_state = cs
        for k in ("includeResourceData", "encryptionCertificate"):
            if d.get(k):
                raise invalid("%s is not supported for resource groups." % k)
        with self.lock:
            self.sweep()
            if len(self.subs) >= self.cfg["subscription_quota"]:
                raise SimError(403, "ExtensionError", "Operation: Create; Exception: [Status "
                               "Code: Forbidden; Reason: The number of subscriptions for this "
                               "application and tenant has reached the limit of %d.]"
                               % self.cfg["subscription_quota"])
            self.subs[sub.id] = sub
            self.stats["subscriptionsCreated"] += 1
            return sub.view(True)

    def list(self):
        with self.lock:
            self.sweep()
            return [s.view(False) for s in self.subs.values()]

    def get(self, sid):
        with self.lock:
            return self.find(sid).view(False)

    def update(self, sid, body):
        d = self.body_object(body)
        bad = [k for k in d if k not in PATCHABLE]
        if bad:
            raise invalid("Only expirationDateTime and notificationUrl can be updated, not %s."
                          % ", ".join(sorted(bad)))
        exp = self.expiry(d["expirationDateTime"]) if "expirationDateTime" in d else None
        url = (self.hub_url(d["notificationUrl"], "notificationUrl")
               if "notificationUrl" in d else None)
        with self.lock:
            sub = self.find(sid)
            if exp is not None:
                sub.expires = exp
                sub.reauth_pending = False
                self.stats["subscriptionsRenewed"] += 1
            if url is not None:
                sub.notification_url, sub.topic = url
            return sub.view(True)

    def reauthorize(self, sid):
        with self.lock:
            self.find(sid).reauth_pending = False
            self.stats["subscriptionsReauthorized"] += 1

    def delete(self, sid):
        with self.lock:
            self.find(sid)
            del self.subs[sid.lower()]
            self.stats["subscriptionsDeleted"] += 1

    # ------------------------------------------------------------------ validation helpers
    @staticmethod
    def body_object(body):
        try:
            d = json.loads(body or b"{}")
        except ValueError:
            raise SimError(400, "BadRequest", "Invalid JSON in the request body.")
        if not isinstance(d, dict):
            raise SimError(400, "BadRequest", "The request body must be a JSON object.")
        return d

    def hub_url(self, url, name):
        if not isinstance(url, str) or not url:
            raise invalid("%s is required." % name)
        m = EVENTHUB_URL.match(url)
        if not m:
            if url.lower().startswith("https://"):
                # A webhook: Graph would POST a validationToken to it first; the simulator
                # reaches no webhook, as Graph reaches no endpoint on a test machine.
                raise invalid("Subscription validation request failed. Notification endpoint "
                              "must respond with 200 OK to validation request.")
            raise invalid("Invalid %s '%s': the simulator delivers to Event Hubs only, "
                          "EventHub:https://<namespace>.servicebus.windows.net/eventhubname/"
                          "<hub>?tenantId=<tenant>." % (name, url))
        if m.group(3).lower() not in (self.tenant.tenant_id.lower(),
                                      "graphsim.onmicrosoft.com"):
            raise invalid("The tenantId in %s is not this tenant." % name)
        return url, m.group(2)

    def expiry(self, text):
        exp = parse_time(text)
        if exp is None:
            raise invalid("expirationDateTime is required, an ISO 8601 date-time in UTC.")
        now = time.time()
        if exp <= now:
            raise invalid("Subscription expiration must be in the future.")
        if exp > now + GROUPS_MAX_MINUTES * 60:
            raise invalid("Subscription expiration can only be %d minutes in the future."
                          % GROUPS_MAX_MINUTES)
        return max(exp, now + self.cfg["subscription_min_minutes"] * 60)

    def find(self, sid):
        """The live subscription (lock held); expired ones are gone, as in Graph."""
        self.sweep()
        sub = self.subs.get(sid.lower())
        if sub is None:
            raise SimError(404, "ResourceNotFound",
                           "The object was not found. Subscription '%s'." % sid)
        return sub

    def sweep(self):
        now = time.time()
        for sid in [s.id for s in self.subs.values() if s.expires <= now]:
            del self.subs[sid]
            self.stats["subscriptionsExpired"] += 1

    # ------------------------------------------------------------------ admin (/_sim/)
    def admin_view(self):
        with self.lock:
            self.sweep()
            out = []
            for s in self.subs.values():
                v = s.view(True)
                v.update(topic=s.topic, lifecycleTopic=s.lifecycle_topic,
                         reauthorizationPending=s.reauth_pending)
                out.append(v)
            return {"subscriptions": out}

    def add_faults(self, items):
        fs = [NotifyFault(x) for x in items]
        with self.lock:
            self.faults.extend(fs)
            return [f.as_dict() for f in self.faults]

    def clear_faults(self):
        with self.lock:
            self.faults = []

    def list_faults(self):
        with self.lock:
            return [f.as_dict() for f in self.faults]

    def lifecycle(self, sid, event):
        """Sends a lifecycle notification now; subscriptionRemoved also removes it."""
        if event not in LIFECYCLE_EVENTS:
            raise SimError(400, "BadEvent", "event must be one of %s"
                           % ", ".join(LIFECYCLE_EVENTS))
        with self.lock:
            sub = self.find(sid)
            if sub.lifecycle_topic is None:
                raise SimError(409, "NoLifecycleUrl",
                               "subscription %s has no lifecycleNotificationUrl" % sid)
            if event == "reauthorizationRequired":
                sub.reauth_pending = True
            item = {"subscriptionId": sub.id,
                    "subscriptionExpirationDateTime": format_time(sub.expires),
                    "tenantId": self.tenant.tenant_id, "clientState": sub.client_state,
                    "lifecycleEvent": event}
            e = self.push(sub, sub.lifecycle_topic, item, time.time(), event)
            if event == "subscriptionRemoved":
                del self.subs[sub.id]
                self.stats["subscriptionsRemoved"] += 1
            self.stats["lifecycle." + event] += 1
            return e["id"]

    def remove(self, sid):
        """Graph removed the subscription: subscriptionRemoved if it has a lifecycle URL."""
        with self.lock:
            sub = self.find(sid)
            if sub.lifecycle_topic is not None:
                return self.lifecycle(sid, "subscriptionRemoved")
            del self.subs[sub.id]
            self.stats["subscriptionsRemoved"] += 1
            return None

    def expire(self, sid):
        """The subscription reaches its expirationDateTime now: no more notifications, and
        GET answers 404."""
        with self.lock:
            self.find(sid).expires = time.time()
            self.sweep()

    def forge(self, sid, group_id, client_state):
        """A notification nobody's change caused, with a wrong clientState, on the
        subscription's hub (as a third party that can send to the hub could)."""
        with self.lock:
            sub = self.find(sid)
            gid = group_id or str(uuid.uuid4())
            item = self.change_item(sub, "updated", gid)
            item["clientState"] = client_state or "forged-" + secrets.token_hex(8)
            self.stats["forged"] += 1
            return self.push(sub, sub.topic, item, time.time(), "updated")["id"]

    def messages(self, topic=None):
        with self.lock:
            return [dict(e) for e in self.log.values() if topic is None or e["topic"] == topic]

    def counters(self):
        with self.lock:
            c = dict(self.stats)
            c.update(pending=sum(1 for slot in self.queue if not slot[3]),
                     subscriptions=len(self.subs))
            return c

    def reset(self):
        with self.lock:
            self.stats.clear()
            self.log.clear()

    # ------------------------------------------------------------------ delivery
    def change_item(self, sub, change_type, gid):
        tid = self.tenant.tenant_id
        return {"subscriptionId": sub.id,
                "subscriptionExpirationDateTime": format_time(sub.expires),
                "changeType": change_type, "resource": "Groups/" + gid,
                "resourceData": {"@odata.type": "#Microsoft.Graph.Group",
                                 "@odata.id": "Groups/" + gid, "id": gid,
                                 "organizationId": tid},
                "clientState": sub.client_state, "tenantId": tid}

    def group_changed(self, gid, change, props):
        """Called by the tenant (under its lock) for every change of a group: created, updated
        (properties or members) or deleted. As documented for groups, a creation is notified
        as "updated", and so is the deletion of a Microsoft 365 (Unified) group, which is a
        soft delete; only the permanent deletion of a security group is "deleted"."""
        change_type = "updated"
        if change == "deleted" and "Unified" not in (props.get("groupTypes") or []):
            change_type = "deleted"
        with self.lock:
            self.sweep()
            # Microsoft documents no latency for group notifications: 0 unless a test or a
            # benchmark sets /_sim/config notify_latency_ms
            now = time.time() + self.cfg["notify_latency_ms"] / 1000.0
            for sub in list(self.subs.values()):
                if change_type not in sub.change_types or (
                        sub.group_id and sub.group_id != gid):
                    continue
                self.stats["changes"] += 1
                item = self.change_item(sub, change_type, gid)
                fault = self.take_fault(sub, change_type)
                kind = fault.kind if fault else None
                if kind == "drop":
                    self.stats["dropped"] += 1
                    continue
                if kind == "forge":
                    item["clientState"] = fault.client_state or "forged-" + secrets.token_hex(8)
                    self.stats["forged"] += 1
                due = now + (fault.delay_ms / 1000.0 if kind == "delay" else 0)
                if kind == "delay":
                    self.stats["delayed"] += 1
                held, self.held = self.held, None
                self.push(sub, sub.topic, item, due, change_type,
                          hold=fault.hold_ms / 1000.0 if kind == "reorder" else None)
                if kind == "reorder":
                    self.stats["reordered"] += 1
                if kind == "duplicate":
                    self.stats["duplicated"] += 1
                    self.push(sub, sub.topic, item, due, change_type)
                if held is not None and not held[3]:
                    self.requeue(held, due)

    def take_fault(self, sub, change_type):
        for f in self.faults:
            if f.matches(sub, change_type):
                f.applied += 1
                if f.count > 0:
                    f.count -= 1
                    if f.count == 0:
                        self.faults.remove(f)
                return f
        return None

    def push(self, sub, topic, item, due, what, hold=None):
        """Queues one message (lock held); returns its log entry. The queue holds
        [due, order, entry, cancelled] so that a held message can be moved."""
        self.seq += 1
        e = {"id": self.seq, "topic": topic, "key": sub.id, "what": what,
             "value": json.dumps({"value": [item]}, separators=(",", ":")),
             "status": "queued", "error": None, "sent": None}
        self.log[e["id"]] = e
        while len(self.log) > LOG_MAX:
            self.log.popitem(last=False)
        slot = [due + (hold or 0), self.seq, e, False]
        heapq.heappush(self.queue, slot)
        if hold is not None:
            self.held = slot
        self.stats["queued"] += 1
        self.lock.notify()
        return e

    def requeue(self, slot, due):
        """Moves a held message to right after the one just queued (lock held)."""
        slot[3] = True
        self.seq += 1
        heapq.heappush(self.queue, [due, self.seq, slot[2], False])
        self.lock.notify()

    def deliver_loop(self):
        while True:
            with self.lock:
                while True:
                    now = time.time()
                    while self.queue and self.queue[0][3]:
                        heapq.heappop(self.queue)
                    if self.queue and self.queue[0][0] <= now:
                        slot = heapq.heappop(self.queue)
                        if self.held is slot:
                            self.held = None
                        break
                    self.lock.wait(self.queue[0][0] - now if self.queue else None)
                e = slot[2]
                self.sent += 1
                e["status"], e["sent"] = "sent", self.sent
            err = self.hub.send(e["id"], e["topic"], e["key"], e["value"])
            if err:
                self.report(e["id"], False, err)

    def report(self, rid, ok, error):
        with self.lock:
            e = self.log.get(rid)
            if e is not None:
                e["status"], e["error"] = ("delivered", None) if ok else ("failed", error)
            self.stats["delivered" if ok else "failed"] += 1
            if not ok:
                sys.stderr.write("graphsim: notification %s not delivered: %s\n" % (rid, error))

    def stop(self):
        self.hub.stop()
