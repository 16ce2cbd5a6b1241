"""Model-based randomized soak of the whole pipeline (driver shared by tests/e2e/0960-soak.py
and tests/bench/0961-soak-long.py).

For one seed, a random.Random(seed) draws a sequence of steps. Each step is a tenant mutation
through the simulator's admin API (groups created, renamed, re-described, deleted; members
added and removed; users deleted and made cloud-only; groups leaving and entering scope;
nested groups added, removed and deleted; a big group changing by thousands; users deleted and
made cloud-only while the producer is killed, before it restarts) or a Graph fault (429 with
Retry-After and 503 on any Graph endpoint, 410 and syncStateNotFound on each delta link,
malformed and truncated pages, token endpoint errors, expired access tokens, one at a time and
back to back, duplicated and split member entries, a sync-state reset in the middle of paging,
every delta link invalidated at once).
Meanwhile a chaos thread kills the producer or a worker with SIGKILL every `chaos` seconds
(uniform in the range) and restarts it half a second later, as systemd or Kubernetes would.

Every `check_every` steps, and after the last, the run reaches a quiescent point: mutations
and faults stop (kills go on) and the time until AD equals the simulator's expected state is
measured (time-to-convergence under chaos); then kills stop, every process is running, the
workers' committed offsets pass the last event, and AD must equal /_sim/expected exactly
(groups, cn/dn, attributes, user and group members), and the dead-letter topic must hold
exactly the conflicts the driver made (a group whose DN or sAMAccountName an object without
our anchor holds in AD: a dn_conflict or sam_conflict for each such group, group_not_found
for later member changes of it, nothing else, and no object in AD with its anchor). A failure prints the seed and the one command that replays
it. The sequence of mutations and faults is a function of the seed alone; the moments of the
kills depend on timing."""

import os
import random
import sys
import threading
import time
import traceback
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "graphsim"))
import harness as h  # noqa: E402
from simtenant import ad_cn, dn_escape  # noqa: E402  (the CN rule the worker follows)

# Kinds of Graph faults and how each is injected (see tests/graphsim/README.md, Faults). The
# producer calls the token endpoint, /groups/delta, /users/delta, getByIds and group members;
# faults without a path hit whichever Graph request comes next.
GROUPS_DELTA, USERS_DELTA = "/v1.0/groups/delta", "/v1.0/users/delta"
ANY_GRAPH = "/v1.0/"
FAULTS = {
    "429": lambda r: {"kind": "429", "count": r.randint(1, 3), "retry_after": 1,
                      "path": r.choice([ANY_GRAPH, GROUPS_DELTA, USERS_DELTA])},
    "503": lambda r: {"kind": "503", "count": r.randint(1, 3),
                      "path": r.choice([ANY_GRAPH, GROUPS_DELTA, USERS_DELTA])},
    "410_groups_delta": lambda r: {"kind": "410", "path": GROUPS_DELTA,
                                   "contains": "$deltatoken"},
    "410_users_delta": lambda r: {"kind": "410", "path": USERS_DELTA, "contains": "$deltatoken"},
    "sync_state_not_found_groups_delta": lambda r: {
        "kind": "sync_state_not_found", "path": GROUPS_DELTA, "contains": "$deltatoken"},
    "sync_state_not_found_users_delta": lambda r: {
        "kind": "sync_state_not_found", "path": USERS_DELTA, "contains": "$deltatoken"},
    "malformed": lambda r: {"kind": "malformed",
                            "path": r.choice([ANY_GRAPH, GROUPS_DELTA, USERS_DELTA])},
    "truncated": lambda r: {"kind": "truncated",
                            "path": r.choice([ANY_GRAPH, GROUPS_DELTA, USERS_DELTA])},
    "token_error": lambda r: {"kind": "token_error", "count": r.randint(1, 2)},
    "expired_token": lambda r: {"kind": "expired_token"},
    # back to back: a 401 to the token renewed right after the first one (and maybe more)
    "expired_token_back_to_back": lambda r: {
        "kind": "expired_token", "count": r.randint(2, 4),
        "path": r.choice([ANY_GRAPH, GROUPS_DELTA, USERS_DELTA])},
    "duplicate_members": lambda r: {"kind": "duplicate_members", "path": GROUPS_DELTA,
                                    "count": r.randint(1, 3)},
    "split_members": lambda r: {"kind": "split_members", "path": GROUPS_DELTA,
                                "count": r.randint(1, 3)},
    "reset_mid_paging": lambda r: {"kind": "reset", "contains": "$skiptoken",
                                   "path": [GROUPS_DELTA, USERS_DELTA],
                                   "mode": r.choice(["410", "sync_state_not_found"])},
}
# Faults that are admin actions rather than queued answers.
ACTIONS = ("expire_tokens", "invalidate_410", "invalidate_sync_state_not_found")

MUTATIONS = (("create_group", 8), ("rename", 6), ("describe", 4), ("delete_group", 3),
             ("add_members", 8), ("remove_members", 6), ("delete_user", 2),
             ("cloud_only_user", 2), ("leave_scope", 2), ("enter_scope", 2),
             ("nest", 3), ("unnest", 2), ("big_change", 2), ("conflict", 2),
             ("producer_down", 2))


class SoakFailure(AssertionError):
    pass


def replay_command(script, seed, steps, chaos, static, check_every, pause):
    return "python3 %s --seed %d --steps %d --chaos %s --check-every %d --pause %g-%g%s" % (
        os.path.relpath(script, h.ROOT) if script.startswith(h.ROOT) else script,
        seed, steps, "%g-%g" % chaos if chaos else "0", check_every, pause[0], pause[1],
        "" if static else " --dynamic")


class Stats:
    """Counts over a run: faults by kind, kills, checks, times to convergence."""

    def __init__(self):
        self.faults = {}
        self.mutations = {}
        self.kills = {"producer": 0, "worker": 0}
        self.checks = 0
        self.steps = 0
        self.seeds = 0
        self.convergence = []        # seconds; None when it did not converge under chaos

    def add(self, other):
        for k, v in other.faults.items():
            self.faults[k] = self.faults.get(k, 0) + v
        for k, v in other.mutations.items():
            self.mutations[k] = self.mutations.get(k, 0) + v
        for k in self.kills:
            self.kills[k] += other.kills[k]
        self.checks += other.checks
        self.steps += other.steps
        self.seeds += other.seeds
        self.convergence += other.convergence


def _uuid(rng, salt):
    """An object id whose first 16 hex digits come from the seed's rng (they fix every sort
    order the driver's choices depend on) and whose last 16 are unique to this run: runs of
    the same seed, at once or one after another, must not share ids or sAMAccountNames (the
    worker finds groups by anchor anywhere under ldap.base_dn)."""
    return str(uuid.UUID(int=(rng.getrandbits(64) << 64) | salt.getrandbits(64), version=4))


class Soak:
    """One seed's run. workers: how many; static: workers have a worker.id (static group
    membership) or not; chaos: (low, high) seconds between kills, or None."""

    def __init__(self, seed, steps, chaos=(2.0, 6.0), static=True, workers=2, partitions=4,
                 users=40, pool=1200, big_change=(400, 900), check_every=15,
                 converge_timeout=240, pause=(0.2, 1.5), script=None):
        self.seed, self.steps, self.chaos, self.static = seed, steps, chaos, static
        self.nworkers, self.partitions = workers, partitions
        self.nusers, self.npool, self.big_change = users, pool, big_change
        self.check_every, self.converge_timeout = check_every, converge_timeout
        self.pause = pause
        self.script = script or sys.argv[0]
        self.rng = random.Random(seed)
        self.salt = random.Random()        # from os.urandom: unique ids per run
        self.stats = Stats()
        self.stats.seeds = 1
        self.e = None
        self.workers = {}
        self.producer = None
        self.lock = threading.Lock()       # process table vs. the chaos thread
        self.chaos_stop = threading.Event()
        self.chaos_thread = None
        self.chaos_rng = random.Random(seed * 7919 + 1)   # kill moments and victims
        self.crashed = None
        self.pending = set()               # killed by the chaos thread, restart due
        # the driver's model: what it needs to pick valid mutations
        self.groups = {}          # id -> {"order": n, "in_scope": bool, "members": set()}
        self.users = []           # synced user ids still synced and present
        self.cloud = []           # cloud-only user ids
        self.pool_ids = []        # ids of the pool users (big group)
        self.big = None
        self.order = 0
        self.conflicts = {}       # id -> the dead-letter reason its AD conflict must produce

    # ------------------------------------------------------------ processes
    def _worker_over(self):
        return {} if self.static else {"worker__id": None}

    def start_worker(self, wid):
        self.workers[wid] = self.e.start_worker(wid, wait_ready=False, **self._worker_over())

    def start_producer(self):
        self.producer = self.e.start_producer()

    def _chaos(self):
        try:
            self._chaos_loop()
        except Exception:  # noqa: BLE001 (the main thread reports it at the next check)
            self.crashed = "the chaos thread failed:\n" + traceback.format_exc()

    def _chaos_loop(self):
        r = self.chaos_rng
        while not self.chaos_stop.wait(r.uniform(*self.chaos)):
            victim = r.choice(["producer"] + sorted(self.workers))
            with self.lock:
                if self.chaos_stop.is_set():
                    return
                p = self.producer if victim == "producer" else self.workers[victim]
                if not p.alive():   # died on its own: a crash, not ours
                    self.crashed = "%s exited by itself (rc %s):\n%s" % (
                        victim, p.p.returncode, p.tail())
                    return
                p.kill9()
                self.pending.add(victim)
            time.sleep(0.5)
            with self.lock:
                self.pending.discard(victim)
                if victim == "producer":
                    self.start_producer()
                    self.stats.kills["producer"] += 1
                else:
                    self.start_worker(victim)
                    self.stats.kills["worker"] += 1

    def chaos_on(self):
        if not self.chaos:
            return
        self.chaos_stop.clear()
        self.chaos_thread = threading.Thread(target=self._chaos, daemon=True)
        self.chaos_thread.start()

    def chaos_off(self):
        if self.chaos_thread:
            self.chaos_stop.set()
            self.chaos_thread.join()
            self.chaos_thread = None
        if self.crashed:
            raise SoakFailure(self.crashed)
        with self.lock:
            for wid, p in self.workers.items():
                if not p.alive():
                    raise SoakFailure("worker %s exited (rc %s):\n%s" % (wid, p.p.returncode,
                                                                        p.tail()))
            if not self.producer.alive():
                raise SoakFailure("producer exited (rc %s):\n%s" % (
                    self.producer.p.returncode, self.producer.tail()))

    # ------------------------------------------------------------ tenant
    def seed_tenant(self):
        e, r = self.e, self.rng
        ad_users = e.create_users(self.nusers)
        pool = e.user_pool(self.npool) if self.npool else []
        users = []
        for u in ad_users + pool:
            u["oid"] = _uuid(r, self.salt)
            users.append(h.synced_user(u))
        self.users = [u["oid"] for u in ad_users]
        self.pool_ids = [u["oid"] for u in pool]
        for i in range(4):
            c = h.cloud_user(i)
            c["id"] = _uuid(r, self.salt)
            users.append(c)
            self.cloud.append(c["id"])
        groups = []
        for i in range(10):
            gid = _uuid(r, self.salt)
            mem = set(r.sample(self.users, r.randint(0, 12)))
            if r.random() < 0.3:
                mem.add(r.choice(self.cloud))
            groups.append(h.seed_group("Soak %d-%d" % (self.seed, i), "seed group %d" % i,
                                       sorted(mem), gid=gid))
            self.groups[gid] = {"order": self.order, "in_scope": True, "members": mem}
            self.order += 1
        if pool:
            gid = _uuid(r, self.salt)
            mem = set(r.sample(self.pool_ids, min(len(pool), r.randint(*self.big_change))))
            groups.append(h.seed_group("Soak big %d" % self.seed, "big", sorted(mem), gid=gid))
            self.groups[gid] = {"order": self.order, "in_scope": True, "members": mem}
            self.big = gid
            self.order += 1
        return users, groups

    def mutate(self):
        r, sim = self.rng, self.e.sim
        kinds = [k for k, w in MUTATIONS for _ in range(w)]
        kind = r.choice(kinds)
        gids = sorted(g for g in self.groups if g != self.big)
        if kind in ("rename", "describe", "delete_group", "add_members", "remove_members",
                    "leave_scope", "nest", "unnest") and not gids:
            kind = "create_group"
        if kind == "create_group":
            gid = _uuid(r, self.salt)
            mem = set(r.sample(self.users, min(len(self.users), r.randint(0, 10))))
            sim.add_group({"id": gid, "displayName": "Soak %d-%d %s" % (
                self.seed, self.order, r.choice(["", "x", "Ünïcode", "a,b+c"])),
                "description": r.choice([None, "created at step", "  padded  "]),
                "securityEnabled": True, "mailEnabled": False, "groupTypes": []}, sorted(mem))
            self.groups[gid] = {"order": self.order, "in_scope": True, "members": mem}
            self.order += 1
        elif kind == "rename":
            gid = r.choice(gids)
            sim.update_group(gid, displayName="Soak %d renamed %d" % (self.seed,
                                                                     r.randint(0, 10**6)))
        elif kind == "describe":
            gid = r.choice(gids)
            sim.update_group(gid, description=r.choice([None, "described %d" % r.randint(0, 999),
                                                        "x" * r.randint(440, 460)]))
        elif kind == "delete_group":
            gid = r.choice(gids)
            sim.delete_group(gid)
            del self.groups[gid]
            for g in self.groups.values():
                g["members"].discard(gid)
        elif kind in ("add_members", "remove_members"):
            gid = r.choice(gids)
            g = self.groups[gid]
            if kind == "add_members":
                cand = [u for u in self.users + self.cloud if u not in g["members"]]
                ids = r.sample(cand, min(len(cand), r.randint(1, 5)))
                sim.members(gid, add=ids)
                g["members"].update(ids)
            else:
                have = sorted(g["members"])
                ids = r.sample(have, min(len(have), r.randint(1, 5)))
                sim.members(gid, remove=ids)
                g["members"].difference_update(ids)
        elif kind in ("delete_user", "cloud_only_user"):
            if not self.user_change(kind):
                return self.mutate()
        elif kind == "producer_down":
            done = self.producer_down()
            if not done:
                return self.mutate()
            for k in done:
                self.stats.mutations["down_" + k] = self.stats.mutations.get("down_" + k, 0) + 1
        elif kind == "leave_scope":
            gid = r.choice(gids)
            how = r.choice([{"securityEnabled": False}, {"mailEnabled": True},
                            {"groupTypes": ["Unified"]}])
            sim.update_group(gid, **how)
            self.groups[gid]["in_scope"] = False
            self.groups[gid]["how"] = how
        elif kind == "enter_scope":
            out = [g for g in gids if not self.groups[g]["in_scope"]]
            if not out:
                return self.mutate()
            gid = r.choice(out)
            back = {k: {"securityEnabled": True, "mailEnabled": False, "groupTypes": []}[k]
                    for k in self.groups[gid].pop("how")}
            sim.update_group(gid, **back)
            self.groups[gid]["in_scope"] = True
        elif kind == "nest":
            parent = r.choice(gids)
            later = [g for g in gids if self.groups[g]["order"] > self.groups[parent]["order"]
                     and g not in self.groups[parent]["members"]]
            if not later:
                return self.mutate()
            child = r.choice(later)
            sim.members(parent, add=[child])
            self.groups[parent]["members"].add(child)
        elif kind == "unnest":
            pairs = [(p, c) for p in gids for c in sorted(self.groups[p]["members"])
                     if c in self.groups]
            if not pairs:
                return self.mutate()
            p, c = r.choice(pairs)
            sim.members(p, remove=[c])
            self.groups[p]["members"].discard(c)
        elif kind == "conflict":
            self.conflict_group()
        elif kind == "big_change":
            if not self.big:
                return self.mutate()
            g = self.groups[self.big]
            n = r.randint(*self.big_change)
            if r.random() < 0.5 and len(g["members"]) > n:
                ids = r.sample(sorted(g["members"]), n)
                sim.members(self.big, remove=ids)
                g["members"].difference_update(ids)
            else:
                cand = [u for u in self.pool_ids if u not in g["members"]]
                ids = r.sample(cand, min(n, len(cand)))
                sim.members(self.big, add=ids)
                g["members"].update(ids)
        self.stats.mutations[kind] = self.stats.mutations.get(kind, 0) + 1
        return kind

    def conflict_group(self):
        """A new Entra group whose DN or sAMAccountName an object without our anchor already
        holds in AD (made first, so the worker meets it): the expected state says it is a
        conflict, so the worker must dead-letter it (dn_conflict / sam_conflict), write
        nothing for it, and go on with everything else. The driver leaves the group alone
        afterwards (no member, nesting or scope changes)."""
        r, e = self.rng, self.e
        gid = _uuid(r, self.salt)
        name = "Soak %d conflict %d" % (self.seed, self.order)
        self.order += 1
        foreign = "wbsoak%s" % uuid.uuid4().hex[:12]   # unique in the domain, every run
        if r.random() < 0.5:
            reason = "dn_conflict"   # the CN the worker would give it is taken
            dn = "CN=%s,%s" % (dn_escape(ad_cn(name, gid)), e.ou)
            sam = foreign
        else:
            reason = "sam_conflict"  # its sAMAccountName is taken by another object
            dn = "CN=%s,%s" % (foreign, e.ou)
            sam = "Group_" + gid[-12:]
        e.ldap.add("dn: %s\nobjectClass: group\nsAMAccountName: %s\n"
                   "description: not ours (soak conflict)\n" % (dn, sam))
        mem = sorted(r.sample(self.users, min(len(self.users), r.randint(0, 4))))
        self.e.sim.add_group({"id": gid, "displayName": name, "description": None,
                              "securityEnabled": True, "mailEnabled": False,
                              "groupTypes": []}, mem)
        self.conflicts[gid.lower()] = reason

    def user_change(self, kind):
        """delete_user or cloud_only_user on a random synced user; False when too few are
        left."""
        r, sim = self.rng, self.e.sim
        if len(self.users) < 10:
            return False
        uid = r.choice(self.users)
        self.users.remove(uid)
        if kind == "delete_user":
            sim.req("DELETE", "users/" + uid)
            for g in self.groups.values():
                g["members"].discard(uid)
        else:
            sim.req("PATCH", "users/" + uid, {
                "onPremisesSyncEnabled": None, "onPremisesSecurityIdentifier": None,
                "onPremisesObjectIdentifier": None, "onPremisesSamAccountName": None,
                "onPremisesDistinguishedName": None, "onPremisesDomainName": None})
            self.cloud.append(uid)
        return True

    def producer_down(self):
        """kill -9 of the producer, 1-3 users deleted or made cloud-only while it is down, a
        restart half a second later: the restarted producer must catch up with them."""
        r = self.rng
        kinds = [r.choice(["delete_user", "cloud_only_user"]) for _ in range(r.randint(1, 3))]
        if len(self.users) < 10 + len(kinds):
            return None
        with self.lock:
            if "producer" in self.pending:
                # the chaos thread killed it a moment ago and restarts it once we are done
                for k in kinds:
                    self.user_change(k)
                return kinds
            if not self.producer.alive():
                raise SoakFailure("producer exited by itself (rc %s):\n%s" % (
                    self.producer.p.returncode, self.producer.tail()))
            self.producer.kill9()
            for k in kinds:
                self.user_change(k)
            time.sleep(0.5)
            self.start_producer()
            self.stats.kills["producer"] += 1
        return kinds

    def fault(self):
        r, sim = self.rng, self.e.sim
        kind = r.choice(sorted(FAULTS) + list(ACTIONS))
        if kind == "expire_tokens":
            sim.req("POST", "tokens/expire")
        elif kind.startswith("invalidate_"):
            sim.req("POST", "deltatokens/invalidate", {"mode": kind[len("invalidate_"):]})
        else:
            sim.req("POST", "faults", FAULTS[kind](r))
        self.stats.faults[kind] = self.stats.faults.get(kind, 0) + 1
        return kind

    # ------------------------------------------------------------ checks
    def quiescent_check(self, step):
        e = self.e
        e.sim.req("DELETE", "faults")
        # time to convergence while the kills go on
        t0 = time.time()
        took = None
        ign = sorted(self.conflicts)
        while time.time() - t0 < self.converge_timeout:
            problems, _, _ = e.diff(ignore=ign)
            if not problems:
                took = time.time() - t0
                break
            time.sleep(1)
        self.stats.convergence.append(took)
        h.log("seed %d step %d: %s under chaos" % (
            self.seed, step, "converged in %.1f s" % took if took is not None else
            "NOT converged within %d s" % self.converge_timeout))
        self.chaos_off()
        if took is None and not self.chaos:
            problems, _, _ = e.diff(ignore=ign)
            raise SoakFailure("AD did not converge within %d s; %d differences:\n  %s" % (
                self.converge_timeout, len(problems), "\n  ".join(problems[:30])))
        # exact check with everything running and caught up
        e.wait_converged(self.converge_timeout, dead_letters_ok=True, settle=2, ignore=ign)
        # a member change of a conflicting group after a worker restart waits up to
        # worker.dependency_timeout_ms (120 s) before its dead letter (the worker does not
        # remember across restarts that the group's create was dead-lettered)
        e.wait_caught_up(timeout=240)
        problems, exp, ad = e.diff(ignore=ign)
        # a conflicting group is never written: no object carries its anchor
        problems += ["conflicting group %s was written to AD: %s" % (g, ad["anchored"][g]["dn"])
                     for g in ign if g in ad["anchored"]]
        if problems:
            raise SoakFailure("AD differs from the expected state after catching up:\n  " +
                              "\n  ".join(problems[:30]))
        # the dead-letter topic holds exactly the conflicts of the expected state
        dlq = e.dlq(idle_ms=2000)
        # (a later member change of such a group finds no group: group_not_found is right)
        wrong = ["key=%s reason=%s" % (d["key"], d["headers"].get("wb.reason")) for d in dlq
                 if d["headers"].get("wb.reason") not in (
                     self.conflicts.get(str(d["key"]).lower()), "group_not_found")
                 or str(d["key"]).lower() not in self.conflicts]
        if wrong:
            raise SoakFailure("dead letters where the expected state has no such conflict:\n  "
                              + "\n  ".join(wrong[:10]))
        missing = sorted(set(ign) - set(str(d["key"]).lower() for d in dlq
                                         if d["headers"].get("wb.reason") ==
                                         self.conflicts.get(str(d["key"]).lower())))
        if missing:
            raise SoakFailure("conflicts without a dead letter: %s" % ", ".join(
                "%s (%s)" % (g, self.conflicts[g]) for g in missing))
        self.stats.checks += 1
        h.log("seed %d step %d: check passed (%d groups)" % (self.seed, step, exp["count"]))
        if step < self.steps:
            self.chaos_on()

    # ------------------------------------------------------------ run
    def run(self):
        tag = "soak%d%s" % (self.seed, "" if self.static else "d")
        with h.E2E(tag, partitions=self.partitions) as e:
            self.e = e
            users, groups = self.seed_tenant()
            e.start_sim(users, groups)
            for i in range(self.nworkers):
                self.start_worker("w%d" % (i + 1))
            self.start_producer()
            self.chaos_on()
            try:
                for step in range(1, self.steps + 1):
                    what = self.fault() if self.rng.random() < 0.3 else self.mutate()
                    self.stats.steps += 1
                    h.log("seed %d step %d: %s" % (self.seed, step, what))
                    time.sleep(self.rng.uniform(*self.pause))
                    if step % self.check_every == 0 or step == self.steps:
                        self.quiescent_check(step)
            except BaseException as ex:
                self.chaos_stop.set()
                sys.stderr.write("\nSOAK FAILED: seed %d, step %d\n%s\nreplay: %s\n\n" % (
                    self.seed, self.stats.steps, "\n".join(str(ex).splitlines()[:20]),
                    replay_command(self.script, self.seed, self.steps, self.chaos,
                                   self.static, self.check_every, self.pause)))
                raise
            finally:
                self.chaos_stop.set()
                if self.chaos_thread:
                    self.chaos_thread.join()
            e.stop_all(check=True)
        return self.stats


def parse_args(argv, seeds, steps, chaos, check_every=15, pause="0.2-1.5", extra=None):
    """--seed N (repeatable) | --seeds N, --steps N, --chaos LOW-HIGH|0, --check-every N,
    --pause LOW-HIGH, --dynamic; extra(ap) adds a script's own options."""
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--check-every", type=int, default=check_every,
                    help="steps between quiescent checks")
    ap.add_argument("--pause", default=pause, help="seconds between steps, LOW-HIGH")
    if extra:
        extra(ap)
    ap.add_argument("--seed", type=int, action="append")
    ap.add_argument("--seeds", type=int, default=seeds)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--steps", type=int, default=steps)
    ap.add_argument("--chaos", default=chaos, help="seconds between kills, LOW-HIGH, or 0")
    ap.add_argument("--dynamic", action="store_true", help="workers without worker.id")
    a = ap.parse_args(argv)
    a.seed_list = a.seed or list(range(a.first_seed, a.first_seed + a.seeds))
    a.chaos_range = None if a.chaos in ("0", "") else tuple(float(x) for x in
                                                            a.chaos.split("-"))
    a.pause_range = tuple(float(x) for x in a.pause.split("-"))
    return a


def fmt_conv(vals):
    ok = sorted(v for v in vals if v is not None)
    miss = len(vals) - len(ok)
    if not ok:
        return "none converged (%d)" % miss
    p50 = ok[len(ok) // 2]
    return "p50 %.1f s, max %.1f s%s" % (p50, ok[-1], (", %d not converged" % miss)
                                         if miss else "")


def summary(st, label=""):
    lines = ["soak summary%s: %d seeds, %d steps, %d checks passed" % (
        " (" + label + ")" if label else "", st.seeds, st.steps, st.checks),
        "  faults: " + ", ".join("%s %d" % kv for kv in sorted(st.faults.items())),
        "  mutations: " + ", ".join("%s %d" % kv for kv in sorted(st.mutations.items())),
        "  kills: producer %d, worker %d" % (st.kills["producer"], st.kills["worker"]),
        "  time to convergence under chaos: " + fmt_conv(st.convergence)]
    return "\n".join(lines)
