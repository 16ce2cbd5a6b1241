"""Validates the deployment files that cannot be run here: docker-compose.yml (with Debian's
`docker-compose config` when installed, and structurally: services, start order, health
checks, every referenced file), the systemd units (`systemd-analyze verify`, hardening keys),
the Kubernetes manifests (YAML parse and shape: probes, scrape annotations, ConfigMap and
Secret references, KEDA capped at the partition count), the Prometheus rules (`promtool` when
installed; every metric they name exists in the sources; every exported metric is documented in
ctl/OPERATIONS.md and nothing else is) and every config file's keys against deploy/CONFIG.md.
Each checker is also run on a broken copy and must complain."""

import copy
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml  # Debian python3-yaml

ROOT = os.environ.get("WB_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.environ.get("WB_BUILD_DIR") or ""
D = os.path.join(ROOT, "deploy")
errors = []


def err(msg):
    errors.append(msg)


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return list(yaml.safe_load_all(f))


# ------------------------------------------------------------------------ config keys
def config_keys():
    with open(os.path.join(D, "CONFIG.md"), encoding="utf-8") as f:
        return set(re.findall(r"^\| `([a-z0-9_.]+)` \|", f.read(), re.M))


KEYS = config_keys()


def conf_text_problems(text, where):
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if "=" not in s:
            out.append("%s:%d: not key = value" % (where, n))
            continue
        k = s.split("=", 1)[0].strip()
        if k not in KEYS and not k.startswith("kafka."):
            out.append("%s:%d: unknown key %s (not in deploy/CONFIG.md)" % (where, n, k))
    return out


# ------------------------------------------------------------------------ compose
WANT_SERVICES = {"kafka", "samba-ad", "graphsim", "producer", "worker", "prometheus"}


def compose_problems(c):
    out = []
    sv = c.get("services") or {}
    if set(sv) != WANT_SERVICES:
        out.append("compose services are %s, want %s" % (sorted(sv), sorted(WANT_SERVICES)))
        return out
    if not str(sv["kafka"].get("image", "")).startswith("apache/kafka:"):
        out.append("kafka must use the official apache/kafka image")
    env = sv["kafka"].get("environment") or {}
    if "broker,controller" not in str(env.get("KAFKA_PROCESS_ROLES", "")):
        out.append("kafka must run in KRaft mode (broker,controller)")
    if (sv["worker"].get("deploy") or {}).get("replicas") != 3:
        out.append("worker deploy.replicas must default to 3")
    for name in ("kafka", "samba-ad", "graphsim", "producer", "worker"):
        if not (sv[name].get("healthcheck") or {}).get("test"):
            out.append("service %s has no health check" % name)
    for name, deps in (("producer", {"kafka", "graphsim"}), ("worker", {"kafka", "samba-ad"})):
        dep = sv[name].get("depends_on") or {}
        for d in deps:
            if not isinstance(dep, dict) or (dep.get(d) or {}).get("condition") != \
                    "service_healthy":
                out.append("%s must wait for %s to be healthy" % (name, d))
    for name in ("producer", "worker"):
        if not sv[name].get("secrets"):
            out.append("%s gets no secret" % name)
    if "worker.id=" not in " ".join(sv["worker"].get("command") or []):
        out.append("worker must be given a stable worker.id (static group membership)")
    return out


def compose_files(c, base):
    """Every file the compose file points at: build contexts and Dockerfiles, bind mounts,
    secrets; returns problems."""
    out = []
    for name, s in (c.get("services") or {}).items():
        b = s.get("build")
        if b:
            ctx = b if isinstance(b, str) else b.get("context", ".")
            ctx = os.path.join(base, ctx)
            df = os.path.join(ctx, "Dockerfile" if isinstance(b, str) else
                              b.get("dockerfile", "Dockerfile"))
            if not os.path.isdir(ctx) or not os.path.isfile(df):
                out.append("%s: build context or Dockerfile missing (%s)" % (name, df))
            else:
                with open(df) as f:
                    for m in re.finditer(r"^COPY\s+(?!--from)(.+)$", f.read(), re.M):
                        for src in m.group(1).split()[:-1]:
                            if src != "." and not os.path.exists(os.path.join(ctx, src)):
                                out.append("%s: %s copies missing %s" % (name, df, src))
        for v in s.get("volumes") or []:
            src = v.split(":")[0] if isinstance(v, str) else v.get("source", "")
            if src.startswith((".", "/")) and not os.path.exists(os.path.join(base, src)):
                out.append("%s: mounted file %s does not exist" % (name, src))
    for name, sec in (c.get("secrets") or {}).items():
        if not os.path.isfile(os.path.join(base, sec.get("file", ""))):
            out.append("secret %s: file %s does not exist" % (name, sec.get("file")))
    return out


def check_compose():
    path = os.path.join(ROOT, "docker-compose.yml")
    c = load_yaml(path)[0]
    dc = shutil.which("docker-compose")
    if dc:
        p = subprocess.run([dc, "-f", path, "config"], capture_output=True, text=True,
                           cwd=ROOT)
        if p.returncode != 0:
            err("docker-compose config failed: %s" % p.stderr[-1500:])
        else:
            c = yaml.safe_load(p.stdout)  # the resolved form (anchors merged, paths absolute)
            print("docker-compose config: valid")
    else:
        print("note: docker-compose not installed; structural checks only")
    for e in compose_problems(c) + compose_files(c, ROOT):
        err(e)
    for f in ("producer.conf", "worker.conf"):
        with open(os.path.join(D, "compose", f)) as fh:
            for e in conf_text_problems(fh.read(), "deploy/compose/" + f):
                err(e)
    broken = copy.deepcopy(c)
    del broken["services"]["worker"]["healthcheck"]
    broken["services"]["worker"]["deploy"]["replicas"] = 1
    broken["services"]["worker"]["command"] = ["writeback-worker"]
    if len(compose_problems(broken)) < 3:
        err("self-check: compose checker missed a removed health check / replica count / "
            "worker.id")
    broken = copy.deepcopy(c)
    broken["secrets"]["ldap_password"]["file"] = "deploy/compose/secrets/nope.txt"
    if not compose_files(broken, ROOT):
        err("self-check: compose checker missed a missing secret file")


# ------------------------------------------------------------------------ systemd
HARDENING = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
             "PrivateTmp": "yes", "User": "writeback"}


def unit_problems(text, name):
    out = []
    kv = {}
    for line in text.splitlines():
        m = re.match(r"^(\w+)=(.*)$", line)
        if m:
            kv.setdefault(m.group(1), m.group(2))
    for k, v in HARDENING.items():
        if kv.get(k) != v:
            out.append("%s: %s=%s expected" % (name, k, v))
    if "LoadCredential" not in kv:
        out.append("%s: secrets must come in as credentials (LoadCredential)" % name)
    if "CREDENTIALS_DIRECTORY" not in kv.get("ExecStart", ""):
        out.append("%s: ExecStart does not read the credential" % name)
    if name.endswith("@.service") and not re.search(r"-X worker\.id=\S*%i", kv.get("ExecStart",
                                                                                    "")):
        out.append("%s: worker.id must come from the instance name (%%i)" % name)
    return out


def check_systemd():
    units = sorted(glob.glob(os.path.join(D, "systemd", "*.service")))
    names = [os.path.basename(u) for u in units]
    for want in ("writeback-producer.service", "writeback-worker@.service"):
        if want not in names:
            err("deploy/systemd/%s missing" % want)
    with open(os.path.join(D, "systemd", "writeback.sysusers.conf")) as f:
        if not re.search(r"^u writeback ", f.read(), re.M):
            err("writeback.sysusers.conf does not create the writeback user")
    tmp = tempfile.mkdtemp(prefix="wb-units-")
    try:
        for u in units:
            with open(u) as f:
                text = f.read()
            for e in unit_problems(text, os.path.basename(u)):
                err(e)
            # verify against binaries that exist here: the build's, else /bin/true
            for prog, sub in (("writeback-producer", "producer"), ("writeback-worker", "worker")):
                real = os.path.join(BUILD, sub, prog) if BUILD else ""
                text = text.replace("/usr/local/bin/" + prog,
                                    real if real and os.access(real, os.X_OK) else "/bin/true")
            name = os.path.basename(u).replace("@.service", "@1.service")
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
        sa = shutil.which("systemd-analyze")
        if sa:
            for name in sorted(os.listdir(tmp)):
                p = subprocess.run([sa, "verify", "--man=no", os.path.join(tmp, name)],
                                   capture_output=True, text=True, cwd=tmp)
                msg = (p.stdout + p.stderr).strip()
                if p.returncode != 0 or msg:
                    err("systemd-analyze verify %s: %s" % (name, msg[-1000:]))
            print("systemd-analyze verify: %d units checked" % len(os.listdir(tmp)))
        else:
            print("note: systemd-analyze not found; structural checks only")
    finally:
        shutil.rmtree(tmp)
    if not unit_problems("[Service]\nUser=root\nExecStart=/bin/x\n", "broken"):
        err("self-check: unit checker accepted an unhardened unit")
    with open(os.path.join(D, "systemd", "writeback-worker@.service")) as f:
        unit = re.sub(r"-X worker\.id=\S+ ", "", f.read())
    if not unit_problems(unit, "writeback-worker@.service"):
        err("self-check: unit checker accepted a worker unit without a stable worker.id")


# ------------------------------------------------------------------------ Kubernetes
def worker_identity_problems(sts, c, by):
    """Each worker pod's stable name is its worker.id (static group membership): the
    StatefulSet names a headless Service and passes metadata.name as worker.id."""
    out = []
    svc = by.get(("Service", sts["spec"].get("serviceName")))
    if not svc or svc["spec"].get("clusterIP") != "None":
        out.append("writeback-worker: serviceName must name a headless Service")
    env = {e["name"]: e for e in c.get("env") or []}
    if "-X" not in c.get("args", []) or "worker.id=$(POD_NAME)" not in c.get("args", []) or \
            ((env.get("POD_NAME") or {}).get("valueFrom") or {}).get("fieldRef", {}).get(
                "fieldPath") != "metadata.name":
        out.append("writeback-worker: worker.id must be the pod name (-X worker.id=$(POD_NAME))")
    return out


def k8s_problems(docs):
    out = []
    by = {}
    for d in docs:
        if not isinstance(d, dict) or not d.get("apiVersion") or not d.get("kind") or \
                not (d.get("metadata") or {}).get("name"):
            out.append("manifest without apiVersion/kind/metadata.name: %r" % str(d)[:80])
            continue
        by[(d["kind"], d["metadata"]["name"])] = d
    cm = by.get(("ConfigMap", "writeback-config"))
    if not cm:
        return out + ["ConfigMap writeback-config missing"]
    for k, v in (cm.get("data") or {}).items():
        out += conf_text_problems(v, "configmap " + k)

    def conf_value(fname, key, default=None):
        for line in (cm["data"].get(fname) or "").splitlines():
            if line.split("=", 1)[0].strip() == key:
                return line.split("=", 1)[1].strip()
        return default

    for name, kind, port, want_reps in (("writeback-producer", "Deployment", 9465, 1),
                                        ("writeback-worker", "StatefulSet", 9464, None)):
        dep = by.get((kind, name))
        if not dep:
            out.append("%s %s missing" % (kind, name))
            continue
        spec = dep["spec"]
        if want_reps is not None and spec.get("replicas") != want_reps:
            out.append("%s must run %d replica" % (name, want_reps))
        sel = spec["selector"]["matchLabels"]
        tmpl = spec["template"]
        if any(tmpl["metadata"]["labels"].get(k) != v for k, v in sel.items()):
            out.append("%s: selector does not match the pod labels" % name)
        ann = tmpl["metadata"].get("annotations") or {}
        if ann.get("prometheus.io/scrape") != "true" or ann.get("prometheus.io/port") != \
                str(port):
            out.append("%s: Prometheus scrape annotation missing or wrong port" % name)
        c = tmpl["spec"]["containers"][0]
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports") or []}
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            hg = (c.get(probe) or {}).get("httpGet") or {}
            pport = ports.get(hg.get("port"), hg.get("port"))
            if hg.get("path") != path or pport != port:
                out.append("%s: %s must GET %s on port %d" % (name, probe, path, port))
        vols = {v["name"]: v for v in tmpl["spec"].get("volumes") or []}
        for vm in c.get("volumeMounts") or []:
            v = vols.get(vm["name"])
            if not v:
                out.append("%s: volumeMount %s has no volume" % (name, vm["name"]))
            elif "configMap" in v:
                if v["configMap"]["name"] != "writeback-config" or \
                        vm.get("subPath") not in cm["data"]:
                    out.append("%s: config mount points at a missing ConfigMap key" % name)
            elif "secret" not in v or not v["secret"].get("secretName"):
                out.append("%s: volume %s is neither the ConfigMap nor a Secret" % (
                    name, vm["name"]))
        if kind == "StatefulSet":
            out += worker_identity_problems(dep, c, by)
        conf = "producer.conf" if "producer" in name else "worker.conf"
        listen = conf_value(conf, name.split("-")[1] + ".metrics_listen", "")
        if not listen.startswith("0.0.0.0:%d" % port):
            out.append("%s: %s must listen on 0.0.0.0:%d for probes" % (name, conf, port))
        for key in ("graph.client_secret_file", "ldap.password_file", "ldap.ca_file"):
            path = conf_value(conf, key)
            if path and not any(path.startswith(m["mountPath"] + "/")
                                for m in c.get("volumeMounts") or []):
                out.append("%s: %s=%s is not under a mounted volume" % (name, key, path))
    so = by.get(("ScaledObject", "writeback-worker"))
    if not so:
        return out + ["KEDA ScaledObject writeback-worker missing"]
    if so["spec"]["scaleTargetRef"]["name"] != "writeback-worker" or \
            so["spec"]["scaleTargetRef"].get("kind") != "StatefulSet":
        out.append("ScaledObject does not target the worker StatefulSet")
    parts = int(conf_value("producer.conf", "topic.partitions", "12"))
    if not 1 <= so["spec"].get("maxReplicaCount", 100) <= parts:
        out.append("ScaledObject maxReplicaCount must be capped at the %d partitions" % parts)
    trig = [t for t in so["spec"]["triggers"] if t["type"] == "kafka"]
    if not trig:
        out.append("ScaledObject has no kafka trigger")
    else:
        md = trig[0]["metadata"]
        if md.get("consumerGroup") != conf_value("worker.conf", "worker.group_id",
                                                  "writeback-workers"):
            out.append("ScaledObject consumerGroup is not the workers' worker.group_id")
        if md.get("topic") != conf_value("worker.conf", "topic.events", "writeback.groups"):
            out.append("ScaledObject topic is not topic.events")
        if md.get("allowIdleConsumers") not in ("false", False):
            out.append("ScaledObject must not allow idle consumers")
    return out


def check_k8s():
    kd = os.path.join(D, "k8s")
    kust = load_yaml(os.path.join(kd, "kustomization.yaml"))[0]
    docs = []
    for r in kust["resources"]:
        if not os.path.isfile(os.path.join(kd, r)):
            err("kustomization lists missing %s" % r)
            continue
        docs += [d for d in load_yaml(os.path.join(kd, r)) if d is not None]
    listed = set(kust["resources"]) | {"kustomization.yaml"}
    for f in glob.glob(os.path.join(kd, "*.yaml")):
        if os.path.basename(f) not in listed:
            err("deploy/k8s/%s is not in kustomization.yaml" % os.path.basename(f))
    for e in k8s_problems(docs):
        err(e)
    print("k8s: %d manifests checked" % len(docs))
    broken = copy.deepcopy(docs)
    for d in broken:
        if d["kind"] == "ScaledObject":
            d["spec"]["maxReplicaCount"] = 50
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "writeback-producer":
            d["spec"]["replicas"] = 2
            del d["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
        if d["kind"] == "StatefulSet":
            d["spec"]["template"]["spec"]["containers"][0]["args"] = ["writeback-worker"]
    if len(k8s_problems(broken)) < 4:
        err("self-check: k8s checker missed broken replicas/probe/KEDA cap/worker.id")


# ------------------------------------------------------------------------ Prometheus
def source_metrics():
    names = set()
    for f in glob.glob(os.path.join(ROOT, "producer", "*.c")) + \
            glob.glob(os.path.join(ROOT, "worker", "*.c")) + \
            glob.glob(os.path.join(ROOT, "common", "**", "*.c"), recursive=True):
        with open(f, encoding="utf-8", errors="replace") as fh:
            names |= set(re.findall(r'"((?:writeback|kafka_consumergroup)_[a-z_]+)"', fh.read()))
    return names


def rule_problems(doc, known):
    out = []
    rules = [r for g in doc.get("groups") or [] for r in g.get("rules") or []]
    alerts = {r.get("alert") for r in rules}
    for r in rules:
        if not r.get("alert") or not r.get("expr"):
            out.append("rule without alert/expr: %r" % r)
            continue
        for m in re.findall(r"\b((?:writeback|kafka_consumergroup)_[a-z_]+)\b", r["expr"]):
            if m not in known:
                out.append("alert %s uses %s, which no program exports" % (r["alert"], m))
    for want, pat in (("lag", r"Lag"), ("dead letters", r"DeadLetter"),
                      ("throttling", r"Throttl"), ("stale round", r"Stale")):
        if not any(a and re.search(pat, a) for a in alerts):
            out.append("no alert for %s" % want)
    return out


def doc_problems(text, known):
    """Metrics the operations guide's table lacks, or names that no program exports."""
    documented = set(re.findall(r"`((?:writeback|kafka_consumergroup)_[a-z_]+)`", text))
    return (["metric %s is not documented in ctl/OPERATIONS.md" % m
             for m in sorted(known - documented)] +
            ["ctl/OPERATIONS.md documents %s, which no program exports" % m
             for m in sorted(documented - known)])


def check_prometheus():
    pd = os.path.join(D, "prometheus")
    rules = load_yaml(os.path.join(pd, "alerts.yml"))[0]
    for e in rule_problems(rules, source_metrics()):
        err(e)
    with open(os.path.join(ROOT, "ctl", "OPERATIONS.md"), encoding="utf-8") as f:
        guide = f.read()
    for e in doc_problems(guide, source_metrics()):
        err(e)
    if len(doc_problems(guide.replace("`writeback_worker_ldap_writes_total`", "")
                        + " `writeback_gone_total`", source_metrics())) != 2:
        err("self-check: metrics documentation checker missed a missing and an unknown name")
    cfg = load_yaml(os.path.join(pd, "prometheus.yml"))[0]
    jobs = {j["job_name"] for j in cfg.get("scrape_configs") or []}
    if not {"writeback-producer", "writeback-worker"} <= jobs:
        err("prometheus.yml does not scrape both producer and workers: %s" % jobs)
    pt = shutil.which("promtool")
    if pt:
        tmp = tempfile.mkdtemp(prefix="wb-prom-")
        try:
            shutil.copy(os.path.join(pd, "alerts.yml"), tmp)
            with open(os.path.join(pd, "prometheus.yml")) as f:
                text = f.read().replace("/etc/prometheus/alerts.yml", "alerts.yml")
            with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
                f.write(text)
            for args in (["check", "rules", "alerts.yml"], ["check", "config",
                                                            "prometheus.yml"]):
                p = subprocess.run([pt] + args, capture_output=True, text=True, cwd=tmp)
                if p.returncode != 0:
                    err("promtool %s: %s" % (" ".join(args), (p.stdout + p.stderr)[-1500:]))
            print("promtool: rules and config valid")
        finally:
            shutil.rmtree(tmp)
    else:
        print("note: promtool not installed (Debian package prometheus); structural checks only")
    broken = {"groups": [{"name": "x", "rules": [{"alert": "WritebackLag",
                                                  "expr": "writeback_no_such_metric > 0"}]}]}
    if len(rule_problems(broken, source_metrics())) < 4:
        err("self-check: rule checker missed an unknown metric / missing alerts")


def main():
    for fn in (check_compose, check_systemd, check_k8s, check_prometheus):
        try:
            fn()
        except Exception as e:  # noqa: BLE001 (report, then fail)
            err("%s raised %s: %s" % (fn.__name__, type(e).__name__, e))
    if errors:
        print("0060-deploy-files: %d problems:\n  %s" % (len(errors), "\n  ".join(errors)))
        sys.exit(1)
    print("0060-deploy-files: PASS")


if __name__ == "__main__":
    main()
