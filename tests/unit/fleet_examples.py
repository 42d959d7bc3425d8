#!/usr/bin/env python3
# The fleet deployment examples (examples/fleet, issue 19) checked without a
# cluster: the Kubernetes manifests through a YAML parser against the fields
# they must have, the Slurm script with `bash -n` and run with a stand-in
# chaoscontrol, the systemd unit through a small unit-file parser (and
# `systemd-analyze verify` where that works without a running systemd).
# Prints TAP; exit status 1 if a check failed.
#
#   python3 tests/unit/fleet_examples.py [FLEET_DIR]    (default examples/fleet)

import os
import re
import shutil
import subprocess
import sys
import tempfile
from urllib.parse import urlparse

try:
    import yaml
except ImportError:
    print("Bail out! python3-yaml missing (apt-get install python3-yaml)")
    sys.exit(1)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLEET = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "examples", "fleet")

REDIS_YAML = "k8s/redis.yaml"
JOB_YAML = "k8s/explore-job.yaml"
SBATCH = "slurm/explore.sbatch"
UNIT = "systemd/chaoscontrol-worker@.service"
ENV_EXAMPLE = "systemd/worker.env.example"

# The apiVersion each kind the examples may use must carry.
API_VERSIONS = {
    "Deployment": "apps/v1",
    "Service": "v1",
    "PersistentVolumeClaim": "v1",
    "Job": "batch/v1",
    "NetworkPolicy": "networking.k8s.io/v1",
}
SERVICE = "chaoscontrol-redis"
WORKER_JOB = "chaoscontrol-workers"
CREATE_JOB = "chaoscontrol-create"
KVM_RESOURCE = "devices.kubevirt.io/kvm"


class Fail(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise Fail(msg)


def path(rel):
    return os.path.join(FLEET, rel)


def read(rel):
    with open(path(rel), encoding="utf-8") as f:
        return f.read()


# --- Kubernetes ----------------------------------------------------------

_docs = {}


def docs(rel):
    """Every document of a multi-document YAML file (comment-only ones
    dropped, as kubectl does); each must be an object with kind."""
    if rel not in _docs:
        out = []
        for i, d in enumerate(yaml.safe_load_all(read(rel))):
            if d is None:
                continue
            need(isinstance(d, dict), f"{rel}: document {i + 1} is not a mapping")
            for key in ("apiVersion", "kind"):
                need(isinstance(d.get(key), str), f"{rel}: document {i + 1} has no {key}")
            need(isinstance(d.get("metadata"), dict) and isinstance(d["metadata"].get("name"), str),
                 f"{rel}: document {i + 1} ({d['kind']}) has no metadata.name")
            out.append(d)
        need(out, f"{rel}: no documents")
        _docs[rel] = out
    return _docs[rel]


def find(rel, kind, name=None):
    hits = [d for d in docs(rel) if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    need(len(hits) == 1, f"{rel}: {len(hits)} {kind} objects" + (f" named {name}" if name else "") +
         ", want exactly 1")
    return hits[0]


def pod_spec(obj):
    try:
        spec = obj["spec"]["template"]["spec"]
    except (KeyError, TypeError):
        raise Fail(f"{obj['kind']} {obj['metadata']['name']}: no spec.template.spec")
    need(isinstance(spec, dict), f"{obj['metadata']['name']}: pod spec is not a mapping")
    return spec


def containers(obj, init=True):
    spec = pod_spec(obj)
    out = list(spec.get("containers") or [])
    need(out, f"{obj['metadata']['name']}: no containers")
    if init:
        out += list(spec.get("initContainers") or [])
    return out


def argv(c):
    return list(c.get("command") or []) + list(c.get("args") or [])


def has_seq(args, seq):
    return any(args[i:i + len(seq)] == seq for i in range(len(args)))


def opt(args, name):
    """The value of --name V or --name=V, or None."""
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if isinstance(a, str) and a.startswith(name + "="):
            return a[len(name) + 1:]
    return None


def container_running(obj, seq):
    for c in containers(obj, init=False):
        if has_seq(argv(c), seq):
            return c
    raise Fail(f"{obj['metadata']['name']}: no container runs {' '.join(seq)!r}")


def cpus(q):
    """A Kubernetes CPU quantity ("2", 1, "1500m") in cores."""
    s = str(q)
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(m?)", s)
    need(m, f"CPU quantity {s!r} not understood")
    return float(m.group(1)) / (1000 if m.group(2) else 1)


def service_address():
    svc = find(REDIS_YAML, "Service", SERVICE)
    ports = [p.get("port") for p in svc["spec"].get("ports") or []]
    need(6379 in ports, f"Service {SERVICE} ports {ports}, want 6379")
    return SERVICE, 6379


def check_parses(rel):
    def check():
        docs(rel)
    return check


def check_redis_kinds():
    seen = set()
    for d in docs(REDIS_YAML):
        want = API_VERSIONS.get(d["kind"])
        need(want, f"unexpected kind {d['kind']}")
        need(d["apiVersion"] == want, f"{d['kind']} has apiVersion {d['apiVersion']}, want {want}")
        seen.add(d["kind"])
    for kind in ("Deployment", "Service", "PersistentVolumeClaim"):
        need(kind in seen, f"no {kind}")


def check_job_kinds():
    for d in docs(JOB_YAML):
        need(d["kind"] == "Job", f"{d['metadata']['name']} is a {d['kind']}, want Job")
        need(d["apiVersion"] == "batch/v1", f"Job {d['metadata']['name']} has apiVersion {d['apiVersion']}")
    find(JOB_YAML, "Job", CREATE_JOB)
    find(JOB_YAML, "Job", WORKER_JOB)


def check_strings():
    # A bare yes/no/on/off or number in command or args is a YAML boolean or
    # integer, which Kubernetes refuses: every entry must be a string.
    for rel in (REDIS_YAML, JOB_YAML):
        for d in docs(rel):
            if "template" not in (d.get("spec") or {}):
                continue
            for c in containers(d):
                lists = [c.get("command") or [], c.get("args") or []]
                for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                    lists.append(((c.get(probe) or {}).get("exec") or {}).get("command") or [])
                for lst in lists:
                    need(isinstance(lst, list), f"{rel}: {c.get('name')}: command/args not a list")
                    for a in lst:
                        need(isinstance(a, str), f"{rel}: container {c.get('name')}: "
                             f"{a!r} ({type(a).__name__}) is not a string; quote it")


def check_redis_deployment():
    dep = find(REDIS_YAML, "Deployment")
    need(dep["spec"].get("replicas") == 1, f"replicas {dep['spec'].get('replicas')!r}, want 1")
    c = containers(dep, init=False)[0]
    need(str(c.get("image", "")).startswith("redis:7"), f"image {c.get('image')!r}, want redis:7")
    args = argv(c)
    need(has_seq(args, ["--appendonly", "yes"]), f"args {args} lack --appendonly yes")
    need(has_seq(args, ["--appendfsync", "everysec"]), f"args {args} lack --appendfsync everysec")


def check_redis_volume():
    dep = find(REDIS_YAML, "Deployment")
    c = containers(dep, init=False)[0]
    mounts = {m.get("mountPath"): m.get("name") for m in c.get("volumeMounts") or []}
    need("/data" in mounts, "nothing mounted at /data")
    vols = {v.get("name"): v for v in pod_spec(dep).get("volumes") or []}
    vol = vols.get(mounts["/data"])
    need(vol, f"volume {mounts['/data']!r} not defined")
    claim = (vol.get("persistentVolumeClaim") or {}).get("claimName")
    need(claim, "/data is not a persistentVolumeClaim")
    find(REDIS_YAML, "PersistentVolumeClaim", claim)


def check_redis_probe():
    dep = find(REDIS_YAML, "Deployment")
    c = containers(dep, init=False)[0]
    cmd = ((c.get("readinessProbe") or {}).get("exec") or {}).get("command") or []
    need(has_seq(cmd, ["redis-cli", "ping"]), f"readinessProbe exec {cmd}, want redis-cli ping")


def check_service():
    service_address()
    svc = find(REDIS_YAML, "Service", SERVICE)
    dep = find(REDIS_YAML, "Deployment")
    sel = svc["spec"].get("selector") or {}
    need(sel, "Service has no selector")
    labels = (dep["spec"]["template"].get("metadata") or {}).get("labels") or {}
    for k, v in sel.items():
        need(labels.get(k) == v, f"selector {k}={v} does not match the pod labels {labels}")
    match = (dep["spec"].get("selector") or {}).get("matchLabels") or {}
    need(match, "Deployment has no selector.matchLabels")
    for k, v in match.items():
        need(labels.get(k) == v, f"Deployment selector {k}={v} does not match its pod labels {labels}")


def check_worker_indexed():
    spec = find(JOB_YAML, "Job", WORKER_JOB)["spec"]
    need(spec.get("completionMode") == "Indexed", f"completionMode {spec.get('completionMode')!r}")
    for key in ("completions", "parallelism", "backoffLimit"):
        v = spec.get(key)
        need(type(v) is int and v >= (0 if key == "backoffLimit" else 1), f"{key} {v!r} is not a count")


def check_worker_command():
    job = find(JOB_YAML, "Job", WORKER_JOB)
    args = argv(container_running(job, ["explore", "worker"]))
    url = opt(args, "--redis")
    need(url, f"no --redis in {args}")
    u = urlparse(url)
    host, port = service_address()
    need(u.scheme == "redis", f"--redis {url}: scheme {u.scheme!r}, want redis")
    need(u.hostname == host or (u.hostname or "").startswith(host + "."),
         f"--redis {url} does not name the Service {host}")
    need((u.port or 6379) == port, f"--redis {url}: port {u.port}, the Service's is {port}")
    wid = opt(args, "--id")
    need(wid and "$(JOB_COMPLETION_INDEX)" in wid, f"--id {wid!r} does not use $(JOB_COMPLETION_INDEX)")


def check_restart_policy():
    for d in docs(JOB_YAML):
        rp = pod_spec(d).get("restartPolicy")
        need(rp in ("OnFailure", "Never"), f"Job {d['metadata']['name']}: restartPolicy {rp!r}, "
             "want OnFailure or Never")


def check_worker_resources():
    job = find(JOB_YAML, "Job", WORKER_JOB)
    res = container_running(job, ["explore", "worker"]).get("resources") or {}
    lim, req = res.get("limits") or {}, res.get("requests") or {}
    need(str(lim.get(KVM_RESOURCE)) == "1", f"limits.{KVM_RESOURCE} is {lim.get(KVM_RESOURCE)!r}, want \"1\"")
    need("cpu" in req and "cpu" in lim, "CPU requests and limits both wanted")
    r, l = cpus(req["cpu"]), cpus(lim["cpu"])
    need(1 <= r <= l <= 2, f"CPU request {r} and limit {l}: want 1 <= request <= limit <= 2")


def check_create_job():
    create = find(JOB_YAML, "Job", CREATE_JOB)
    args = argv(container_running(create, ["explore", "run"]))
    need(opt(args, "--workers") == "0", f"--workers {opt(args, '--workers')!r}, want 0")
    for o in ("--kernel", "--initrd", "--rounds", "--branches", "--output"):
        need(opt(args, o), f"no {o} in {args}")
    wargs = argv(container_running(find(JOB_YAML, "Job", WORKER_JOB), ["explore", "worker"]))
    for o in ("--redis", "--name"):
        need(opt(args, o) == opt(wargs, o), f"{o}: create has {opt(args, o)!r}, workers {opt(wargs, o)!r}")


def check_same_image():
    create = container_running(find(JOB_YAML, "Job", CREATE_JOB), ["explore", "run"])
    worker = container_running(find(JOB_YAML, "Job", WORKER_JOB), ["explore", "worker"])
    need(create.get("image") and create.get("image") == worker.get("image"),
         f"create uses {create.get('image')!r}, workers {worker.get('image')!r}")
    for o in ("--kernel", "--initrd"):
        w = opt(argv(worker), o)
        need(w is None or w == opt(argv(create), o), f"workers' {o} {w} differs from create's")


# --- Slurm -----------------------------------------------------------------

def sbatch_directives(text):
    """#SBATCH options as sbatch reads them: up to the first command."""
    out = []
    for line in text.splitlines()[1:]:
        s = line.strip()
        if s.startswith("#SBATCH"):
            out.append(s[len("#SBATCH"):].strip())
        elif s and not s.startswith("#"):
            break
    return out


def shell_commands(text):
    """Logical lines (backslash continuations joined), comments dropped."""
    out, cur = [], ""
    for line in text.splitlines():
        if not cur and line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        out.append(cur + line)
        cur = ""
    return out


def check_bash_n():
    bash = shutil.which("bash")
    need(bash, "bash not found")
    r = subprocess.run([bash, "-n", path(SBATCH)], capture_output=True, text=True)
    need(r.returncode == 0, "bash -n: " + r.stderr.strip())


def check_sbatch_directives():
    d = sbatch_directives(read(SBATCH))
    need(any(re.fullmatch(r"--array=\d+-\d+(%\d+)?", x) for x in d), f"no #SBATCH --array=A-B in {d}")
    need(any(x.startswith("--cpus-per-task=") for x in d), "no #SBATCH --cpus-per-task")
    need(any(x.startswith("--time=") for x in d), "no #SBATCH --time")
    need(any(x.startswith("--output=") and "%A" in x and "%a" in x for x in d),
         "no #SBATCH --output naming %A and %a")


def check_sbatch_worker():
    lines = [ln for ln in shell_commands(read(SBATCH)) if "explore worker" in ln]
    need(len(lines) == 1, f"{len(lines)} command lines run explore worker, want 1")
    ln = lines[0]
    need("--redis" in ln and "REDIS_URL" in ln, "the worker's --redis does not come from REDIS_URL")
    need("--id" in ln, "the worker gets no --id")
    code = "\n".join(shell_commands(read(SBATCH)))
    need(re.search(r"^\s*:?\s*\"?\$\{?REDIS_URL:?[-=]|REDIS_URL=\$\{REDIS_URL:-", code, re.M),
         "REDIS_URL has no default")


def run_sbatch(env_extra, kvm):
    """Run a copy of the script outside Slurm with a stand-in chaoscontrol
    that prints its arguments, /dev/kvm replaced by KVM (this host may have
    none)."""
    with tempfile.TemporaryDirectory() as tmp:
        fake = os.path.join(tmp, "chaoscontrol")
        with open(fake, "w") as f:
            f.write('#!/bin/sh\nfor a in "$@"; do printf "<%s>" "$a"; done; echo\n')
        os.chmod(fake, 0o755)
        script = os.path.join(tmp, "explore.sbatch")
        with open(script, "w") as f:
            f.write(read(SBATCH).replace("/dev/kvm", kvm))
        env = {k: v for k, v in os.environ.items()
               if k not in ("REDIS_URL", "NAME", "KERNEL", "INITRD", "DISK_IMAGE", "LEASE")}
        env.update(CHAOSCONTROL=fake, SLURM_ARRAY_JOB_ID="4242", SLURM_ARRAY_TASK_ID="7", **env_extra)
        return subprocess.run(["bash", script], capture_output=True, text=True, env=env, timeout=30)


def check_sbatch_runs():
    r = run_sbatch({"REDIS_URL": "redis://10.1.2.3:6380"}, "/dev/null")
    need(r.returncode == 0, f"exit {r.returncode}: {r.stderr.strip()}")
    want = "<explore><worker><--redis><redis://10.1.2.3:6380>"
    need(want in r.stdout, f"worker arguments {r.stdout.strip()!r} lack {want}")
    need("<--id><slurm-4242-7>" in r.stdout, f"worker arguments {r.stdout.strip()!r} lack --id slurm-4242-7")
    r = run_sbatch({}, "/dev/null")
    need(r.returncode == 0 and "<--redis><redis://" in r.stdout, "no default REDIS_URL reaches the worker")


def check_sbatch_kvm():
    missing = "/nonexistent-dir/kvm"
    need(missing not in read(SBATCH), "test path clash")
    r = run_sbatch({}, missing)
    need(r.returncode != 0, "ran without /dev/kvm")
    need("<explore>" not in r.stdout, "started the worker without /dev/kvm")
    need(missing in r.stderr, f"the message does not name /dev/kvm: {r.stderr.strip()!r}")


# --- systemd ---------------------------------------------------------------

def parse_unit(text):
    """A systemd unit file: {section: [(key, value), ...]}; '#'/';'
    comments, backslash continuations. Raises Fail on a line outside a
    section or without '='."""
    sections, cur, pending = {}, None, ""
    for n, raw in enumerate(text.splitlines(), 1):
        line = pending + raw.strip() if pending else raw.strip()
        if not pending and (not line or line[0] in "#;"):
            continue
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        m = re.fullmatch(r"\[([A-Za-z0-9-]+)\]", line)
        if m:
            cur = sections.setdefault(m.group(1), [])
            continue
        need(cur is not None, f"line {n}: outside a section")
        key, eq, value = line.partition("=")
        need(eq and re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", key.strip()), f"line {n}: not KEY=VALUE: {raw!r}")
        cur.append((key.strip(), value.strip()))
    need(not pending, "file ends in a continuation")
    return sections


def unit():
    return parse_unit(read(UNIT))


def values(section, key):
    return [v for k, v in unit().get(section, []) if k == key]


def one(section, key):
    v = values(section, key)
    need(len(v) == 1, f"[{section}] {key}= given {len(v)} times, want 1")
    return v[0]


def check_unit_sections():
    s = unit()
    need(set(s) == {"Unit", "Service", "Install"}, f"sections {sorted(s)}, want Unit, Service, Install")


def check_unit_exec():
    ex = one("Service", "ExecStart")
    need(ex.startswith("/"), f"ExecStart {ex!r}: not an absolute path")
    words = ex.split()
    need(has_seq(words, ["explore", "worker"]), f"ExecStart {ex!r} does not run explore worker")
    need(opt(words, "--redis") and opt(words, "--name"), "ExecStart lacks --redis or --name")
    need("%i" in (opt(words, "--id") or ""), "ExecStart's --id does not use the instance (%i)")


def check_unit_restart():
    need(one("Service", "Restart") == "on-failure", "Restart is not on-failure")


def check_unit_kvm():
    allow = values("Service", "DeviceAllow")
    need(any(v.split()[0] == "/dev/kvm" and "rw" in v.split()[1:] for v in allow if v),
         f"DeviceAllow {allow} does not allow /dev/kvm rw")
    need(values("Service", "PrivateDevices") in ([], ["no"], ["false"]),
         "PrivateDevices=yes hides /dev/kvm")


def check_unit_hardening():
    need(one("Service", "PrivateTmp") in ("yes", "true"), "no PrivateTmp=yes")
    need(one("Service", "ProtectSystem") == "strict", "ProtectSystem is not strict")
    need(values("Service", "StateDirectory"), "ProtectSystem=strict without a StateDirectory")
    need(one("Service", "NoNewPrivileges") in ("yes", "true"), "no NoNewPrivileges=yes")


def check_unit_install():
    need(any(values("Install", "WantedBy")), "[Install] has no WantedBy")


def parse_env(text):
    env = {}
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        key, eq, value = s.partition("=")
        need(eq and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key), f"{ENV_EXAMPLE}:{n}: not KEY=VALUE")
        env[key] = value
    return env


def check_unit_env():
    need(values("Service", "EnvironmentFile") == ["/etc/chaoscontrol/worker.env"],
         "EnvironmentFile is not /etc/chaoscontrol/worker.env")
    env = parse_env(read(ENV_EXAMPLE))
    for k in ("REDIS_URL", "NAME"):
        need(env.get(k), f"{ENV_EXAMPLE} does not set {k}")
    defaults = set()
    for v in values("Service", "Environment"):
        defaults |= {w.partition("=")[0] for w in v.split()}
    used = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", one("Service", "ExecStart")))
    for k in used:
        need(k in env or k in defaults, f"ExecStart uses ${k}, set neither in {ENV_EXAMPLE} nor Environment=")


def analyze_verify(unit_dir, name):
    exe = shutil.which("systemd-analyze")
    r = subprocess.run([exe, "verify", os.path.join(unit_dir, name)],
                       capture_output=True, text=True, timeout=60)
    return r.returncode, (r.stdout + r.stderr).strip()


SKIP = object()
TRUE = shutil.which("true") or "/bin/true"


def check_systemd_analyze():
    # systemd-analyze verify loads units in its own manager, without PID 1;
    # find out first whether it works here: a trivial unit must verify
    # silently. Otherwise skip, and say why.
    if not shutil.which("systemd-analyze"):
        return SKIP, "systemd-analyze not installed"
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "cc-probe.service"), "w") as f:
            f.write(f"[Service]\nExecStart={TRUE}\n")
        try:
            rc, out = analyze_verify(tmp, "cc-probe.service")
        except (OSError, subprocess.SubprocessError) as e:
            return SKIP, f"systemd-analyze verify does not run here: {e}"
        if rc != 0 or out:
            return SKIP, f"systemd-analyze verify fails on a trivial unit here: {out[:200]!r}"
        # It also wants ExecStart's program to exist: where chaoscontrol is
        # not installed, verify with true(1) in its place.
        text = read(UNIT)
        exe = one("Service", "ExecStart").split()[0]
        note = ""
        if not os.access(exe, os.X_OK):
            text = re.sub(r"(?m)^(ExecStart=)" + re.escape(exe),
                          lambda m: m.group(1) + TRUE, text)
            note = f" ({exe} not installed: {TRUE} in its place)"
        with open(os.path.join(tmp, os.path.basename(UNIT)), "w") as f:
            f.write(text)
        rc, out = analyze_verify(tmp, os.path.basename(UNIT).replace("@.", "@1."))
        need(rc == 0 and not out, f"systemd-analyze verify: exit {rc}: {out}")
        return None, note


# --- README ----------------------------------------------------------------

def check_readme():
    text = read("README.md")
    for s in ("--workers 0", "explore worker", "explore status", "explore export",
              "--lease", "/dev/kvm", "SHA-256"):
        need(s in text, f"README.md does not mention {s}")


CHECKS = [
    (f"{REDIS_YAML}: every document parses as a Kubernetes object", check_parses(REDIS_YAML)),
    (f"{JOB_YAML}: every document parses as a Kubernetes object", check_parses(JOB_YAML)),
    (f"{REDIS_YAML}: kinds and apiVersions (apps/v1 Deployment, v1 Service, v1 PVC)", check_redis_kinds),
    (f"{JOB_YAML}: batch/v1 Jobs {CREATE_JOB} and {WORKER_JOB}", check_job_kinds),
    ("k8s: every command and args entry is a string", check_strings),
    ("redis Deployment: 1 replica of redis:7, --appendonly yes --appendfsync everysec", check_redis_deployment),
    ("redis Deployment: /data on a PersistentVolumeClaim of the file", check_redis_volume),
    ("redis Deployment: readiness probe runs redis-cli ping", check_redis_probe),
    (f"Service {SERVICE}: port 6379, selector matches the Deployment's pod labels", check_service),
    ("worker Job: Indexed, completions/parallelism/backoffLimit are ints", check_worker_indexed),
    ("worker Job: explore worker --redis <the Service> --id ...$(JOB_COMPLETION_INDEX)", check_worker_command),
    ("Jobs: restartPolicy OnFailure or Never", check_restart_policy),
    (f"worker Job: limits {KVM_RESOURCE}: \"1\", 1-2 CPUs", check_worker_resources),
    ("create Job: explore run --workers 0 with the workers' --redis and --name", check_create_job),
    ("create and worker Jobs: the same image (kernel and initrd)", check_same_image),
    (f"{SBATCH}: bash -n", check_bash_n),
    (f"{SBATCH}: #SBATCH --array, --cpus-per-task, --time, --output with %A_%a", check_sbatch_directives),
    (f"{SBATCH}: one explore worker line with --redis $REDIS_URL (defaulted) and --id", check_sbatch_worker),
    (f"{SBATCH}: a stand-in worker gets --redis REDIS_URL --id slurm-JOB-TASK", check_sbatch_runs),
    (f"{SBATCH}: without /dev/kvm, stops with a message naming it", check_sbatch_kvm),
    (f"{UNIT}: sections [Unit] [Service] [Install], KEY=VALUE lines", check_unit_sections),
    (f"{UNIT}: ExecStart runs explore worker --redis --name --id %i", check_unit_exec),
    (f"{UNIT}: Restart=on-failure", check_unit_restart),
    (f"{UNIT}: DeviceAllow=/dev/kvm rw, no PrivateDevices", check_unit_kvm),
    (f"{UNIT}: PrivateTmp, ProtectSystem=strict with StateDirectory, NoNewPrivileges", check_unit_hardening),
    (f"{UNIT}: WantedBy", check_unit_install),
    (f"{UNIT}: EnvironmentFile, {ENV_EXAMPLE} sets what ExecStart uses", check_unit_env),
    (f"{UNIT}: systemd-analyze verify", check_systemd_analyze),
    ("README.md: create, workers, status, export, leases, /dev/kvm, hashes", check_readme),
]


def main():
    print(f"1..{len(CHECKS)}")
    failed = 0
    for n, (desc, fn) in enumerate(CHECKS, 1):
        try:
            res = fn()
        except Fail as e:
            res = e
        except Exception as e:  # a missing file, bad YAML, a wrong type
            res = Fail(f"{type(e).__name__}: {e}")
        if isinstance(res, Fail):
            failed += 1
            print(f"not ok {n} - {desc}")
            for line in str(res).splitlines():
                print(f"# {line}")
        elif isinstance(res, tuple) and res[0] is SKIP:
            print(f"ok {n} - {desc} # SKIP {res[1]}")
        else:
            note = res[1] if isinstance(res, tuple) else ""
            print(f"ok {n} - {desc}{note}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
