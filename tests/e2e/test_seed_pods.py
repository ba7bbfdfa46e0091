"""The pods of the user's study notes on a real node: one ``kyb server`` with its embedded agent and
containerd for the module, driven by the real kubectl 1.32 (the dispatcher) and 1.37, each in its own
namespace. The manifests are the notes' own (:mod:`tests.e2e.seed_manifests`).

What a note checks with ``kubectl exec`` or ``kubectl attach`` (a file written by postStart, cgroup
limits, a mounted secret, ``ps`` in a shared PID namespace) is checked that way and also from the node,
through the container's processes in ``/proc`` (:mod:`tests.e2e.nodeview`: PID namespaces, mount options,
every cgroup value); where the note reads ``kubectl logs`` the test does too. The slow ones (liveness
restart, CrashLoopBackOff, secret refresh) are in test_seed_pod_timing.py.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import shutil
import socket
import subprocess
import termios
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import seed_manifests as seeds
from tests.e2e.conftest import DISPATCHER, Cluster, Kubectl, agent_server, kubectl_137, wait_until
from tests.e2e.nodeview import (
    NamespacedKubectl,
    cgroup_limits,
    container_pids,
    exists_in_container,
    init_pid,
    mount_options,
    pid_in_namespace,
    pid_namespace,
    read_in_container,
)

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(os.geteuid() != 0, reason="the node agent needs root")]

VERSIONS = ["1.32", "1.37"]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    counter_dir_existed = Path(seeds.COUNTER_HOST_DIR).exists()
    try:
        with agent_server(tmp_path_factory.mktemp("kyb-seeds"), f"kybseed-{uuid.uuid4().hex[:6]}") as c:
            yield c
    finally:
        if not counter_dir_existed:  # the counter pod's hostPath, made by the runtime for us
            shutil.rmtree(seeds.COUNTER_HOST_DIR, ignore_errors=True)


@pytest.fixture(params=VERSIONS)
def k(request: pytest.FixtureRequest, node: Cluster) -> NamespacedKubectl:
    return NamespacedKubectl(node, request.param, f"seeds-{request.param.replace('.', '')}")


def create(k: Kubectl, manifest: str) -> None:
    k("create", "-f", "-", input=manifest)


def wait_ready(k: Kubectl, name: str, timeout: int = 90) -> None:
    k("wait", f"pod/{name}", "--for=condition=Ready", f"--timeout={timeout}s", timeout=timeout + 10)


def delete(k: Kubectl, *what: str, grace: int | None = 2) -> None:
    """Delete and wait until gone; a short grace period by default, as most of these containers' PID 1 is a
    shell or sleep, which ignore SIGTERM and would hold the deletion for the default 30 s."""
    flags = [f"--grace-period={grace}"] if grace is not None else []
    k("delete", *what, *flags, "--wait=true", "--timeout=90s", timeout=100)


def container_id(k: NamespacedKubectl, pod: str, container: str) -> str:
    cid = k.status_of(pod, container).get("containerID", "")
    assert cid.startswith("containerd://"), cid
    return cid


def test_nginx_pod_runs(k: NamespacedKubectl) -> None:
    create(k, seeds.NGINX_POD)
    wait_ready(k, "nginx")
    pod = k.pod("nginx")
    st = pod["status"]
    assert st["phase"] == "Running" and st["qosClass"] == "BestEffort"
    assert st["podIP"].startswith("10.42.")
    cs = st["containerStatuses"][0]
    assert cs["ready"] and cs["started"] and cs["restartCount"] == 0 and "running" in cs["state"]
    assert cs["image"] == "docker.io/library/nginx:latest" and cs["imageID"]
    pids = container_pids(cs["containerID"])
    names = {Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[0].decode() for p in pids}
    assert "nginx: master process nginx -g daemon off;" in names and "nginx: worker process" in names
    delete(k, "pod", "nginx")


def _counter_numbers(text: str) -> list[int]:
    return [int(m.group(1)) for m in re.finditer(r"^(\d+): \S.*$", text, re.M)]


def test_counter_pod_logs_of_each_container(k: NamespacedKubectl) -> None:
    create(k, seeds.COUNTER)
    wait_ready(k, "counter")
    # the hostPath file outlives the pod: an earlier run's lines come first, this one's count from 0 after them
    def counting() -> bool:
        last3 = _counter_numbers(k("logs", "counter", "-c", "count-log", "--tail=3"))
        return len(last3) == 3 and last3 == list(range(last3[0], last3[0] + 3))

    wait_until("count-log to show the count going on", counting, 30, 0.3)
    assert k("logs", "counter", "-c", "count") == ""  # it writes to the shared file, not to stdout
    assert 0 in _counter_numbers(k("logs", "counter", "-c", "count-log"))
    every = k("logs", "counter", "--all-containers")
    assert len(_counter_numbers(every)) >= 3
    assert _counter_numbers(k("logs", "counter", "-c", "count-log", "--since=2m"))
    with subprocess.Popen([k.binary, f"--cache-dir={k.cache_dir}", f"--namespace={k.namespace}", "logs", "-f",
                           "counter", "-c", "count-log", "--tail=1"], stdout=subprocess.PIPE, text=True,
                          env=k.env()) as follow:
        try:
            assert follow.stdout is not None
            first, second = _counter_numbers(follow.stdout.readline()), _counter_numbers(follow.stdout.readline())
        finally:
            follow.kill()
    assert len(first) == 1 and len(second) == 1 and second[0] == first[0] + 1
    assert k.pod("counter")["status"]["qosClass"] == "BestEffort"
    delete(k, "pod", "counter")


def test_resource_requests_and_limits(k: NamespacedKubectl) -> None:
    create(k, seeds.RESOURCE_DEMO)
    wait_ready(k, "resource-demo1")
    assert k.pod("resource-demo1")["status"]["qosClass"] == "Burstable"
    limits = cgroup_limits(container_id(k, "resource-demo1", "resource-demo1"))
    assert limits["memory"] == 100 * 1024 * 1024
    assert (limits["cpu_quota"], limits["cpu_period"]) == (10_000, 100_000)  # 100m of a 100 ms period
    if "cpu_shares" in limits:
        assert limits["cpu_shares"] == 51  # 50m → 50 * 1024 / 1000
    inside = k("exec", "resource-demo1", "--", "sh", "-c",
               "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes")
    assert inside == f"{100 * 1024 * 1024}\n"
    delete(k, "pod", "resource-demo1")


GUARANTEED = """\
apiVersion: v1
kind: Pod
metadata:
  name: guaranteed
spec:
  containers:
  - name: main
    image: busybox
    args: [sleep, "3600"]
    resources:
      limits:
        memory: 64Mi
        cpu: 250m
"""


def test_guaranteed_qos_from_limits_alone(k: NamespacedKubectl) -> None:
    create(k, GUARANTEED)
    wait_ready(k, "guaranteed")
    pod = k.pod("guaranteed")
    assert pod["status"]["qosClass"] == "Guaranteed"
    assert pod["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "250m", "memory": "64Mi"}
    limits = cgroup_limits(container_id(k, "guaranteed", "main"))
    assert limits["memory"] == 64 * 1024 * 1024 and limits["cpu_quota"] == 25_000
    delete(k, "pod", "guaranteed")


# Not in the notes: a container that needs more memory than its limit (the shell string doubles until the
# cgroup's OOM killer ends it).
MEMORY_HOG = """\
apiVersion: v1
kind: Pod
metadata:
  name: memory-hog
spec:
  containers:
  - name: hog
    image: busybox
    command: ["sh", "-c", "echo allocating; a=x; while true; do a=$a$a; done"]
    resources:
      limits:
        memory: 32Mi
"""


def test_memory_hog_is_oom_killed(k: NamespacedKubectl) -> None:
    create(k, MEMORY_HOG)

    def oom_killed() -> dict[str, object]:
        last = k.status_of("memory-hog", "hog").get("lastState") or {}
        return last.get("terminated") or {}

    term = wait_until("the hog to be OOM killed and restarted", oom_killed, 60, 0.5)
    assert term["reason"] == "OOMKilled" and term["exitCode"] == 137, term
    st = k.status_of("memory-hog", "hog")
    assert st["restartCount"] >= 1
    assert k("logs", "memory-hog", "--previous") == "allocating\n"
    delete(k, "pod", "memory-hog")


def test_job_counts_down_and_completes(k: NamespacedKubectl) -> None:
    create(k, seeds.JOB_DEMO)
    k("wait", "job/job-demo", "--for=condition=Complete", "--timeout=90s", timeout=100)
    assert k("logs", "job/job-demo") == "".join(f"{i}\n" for i in range(9, 0, -1))
    job = json.loads(k("get", "job", "job-demo", "-o", "json"))
    assert job["status"]["succeeded"] == 1
    pods = json.loads(k("get", "pods", "-l", "job-name=job-demo", "-o", "json"))["items"]
    assert len(pods) == 1 and pods[0]["status"]["phase"] == "Succeeded"
    assert pods[0]["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    delete(k, "job", "job-demo")


@pytest.mark.parametrize("version", VERSIONS)
def test_replicaset_deployment_daemonset_run_nginx(node: Cluster, version: str) -> None:
    # these manifests name the namespace "default" themselves
    k = Kubectl(node, DISPATCHER if version == "1.32" else kubectl_137(), version)
    create(k, seeds.NGINX_RS)
    wait_until("nginx-rs to have 3 ready replicas",
               lambda: k("get", "rs", "nginx-rs", "-o", "jsonpath={.status.readyReplicas}") == "3", 90, 0.5)
    delete(k, "rs", "nginx-rs")
    create(k, seeds.NGINX_DEPLOY)
    k("rollout", "status", "deployment/nginx-deploy", "--timeout=90s", timeout=100)
    assert k("get", "deploy", "nginx-deploy", "-o", "jsonpath={.status.availableReplicas}") == "3"
    delete(k, "deployment", "nginx-deploy")
    create(k, seeds.NGINX_DS)
    k("rollout", "status", "daemonset/nginx-ds", "--timeout=90s", timeout=100)
    pods = json.loads(k("get", "pods", "-l", "k8s-app=nginx", "-o", "json"))["items"]
    assert len(pods) == 1 and pods[0]["status"]["containerStatuses"][0]["image"] == "docker.io/library/nginx:1.7.9"
    delete(k, "daemonset", "nginx-ds")
    wait_until("the workloads' pods to be gone",
               lambda: k("get", "pods", "-l", "app in (nginx)", "-o", "name") == "", 60, 0.5)


def test_host_network_ipc_and_pid_namespaces(k: NamespacedKubectl) -> None:
    create(k, seeds.HOST_NAMESPACES)
    # only the shell is waited for: nginx takes the node's port 80, which something else may hold
    wait_until("the shell container to run",
               lambda: "running" in (k.status_of("nginx", "shell").get("state") or {}), 90, 0.5)
    shell = init_pid(container_id(k, "nginx", "shell"))
    for ns in ("net", "ipc", "pid"):
        assert os.readlink(f"/proc/{shell}/ns/{ns}") == os.readlink(f"/proc/self/ns/{ns}"), ns
    st = k.pod("nginx")["status"]
    assert st["podIP"] == st["hostIP"]
    assert k("exec", "nginx", "-c", "shell", "--", "hostname").strip() == socket.gethostname()
    # the shell sees the node's processes, this test's among them
    pids = {line.split()[0] for line in k("exec", "nginx", "-c", "shell", "--", "ps", "ax").splitlines()[1:]}
    assert str(os.getpid()) in pids
    delete(k, "pod", "nginx")


def _hosts(text: str) -> dict[str, str]:
    names: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        for name in fields[1:]:
            names.setdefault(name, fields[0])
    return names


def test_host_aliases_in_etc_hosts(k: NamespacedKubectl) -> None:
    create(k, seeds.HOST_ALIASES)
    k("wait", "pod/hostaliases-pod", "--for=jsonpath={.status.phase}=Succeeded", "--timeout=90s", timeout=100)
    text = k("logs", "hostaliases-pod")
    assert text.startswith("# Kubernetes-managed hosts file.\n")
    names = _hosts(text)
    ip = k.pod("hostaliases-pod")["status"]["podIP"]
    assert names["localhost"] == "127.0.0.1"
    assert names["hostaliases-pod"] == ip
    assert names["foo.remote"] == "10.1.2.3" and names["bar.remote"] == "10.1.2.3"
    delete(k, "pod", "hostaliases-pod")


def test_downward_api_labels_file(k: NamespacedKubectl) -> None:
    create(k, seeds.DOWNWARD_API)
    wanted = 'cluster="test-cluster1"\nrack="rack-22"\nzone="us-est-coast"'
    wait_until("the labels file in the logs",
               lambda: wanted in k.run("logs", "test-downwardapi-volume", check=False).stdout, 60, 0.5)
    delete(k, "pod", "test-downwardapi-volume")


# The note lists metadata.annotations among the fields; this is its pod with an annotation and both files.
DOWNWARD_API_ANNOTATIONS = """\
apiVersion: v1
kind: Pod
metadata:
  name: downwardapi-annotations
  labels:
    zone: us-est-coast
  annotations:
    build: two
    builder: john-doe
spec:
  restartPolicy: Never
  containers:
  - name: client-container
    image: busybox
    command: ["sh", "-c", "cat /etc/podinfo/labels; echo; echo --; cat /etc/podinfo/annotations; echo"]
    volumeMounts:
    - name: podinfo
      mountPath: /etc/podinfo
  volumes:
  - name: podinfo
    downwardAPI:
      items:
      - path: "labels"
        fieldRef:
          fieldPath: metadata.labels
      - path: "annotations"
        fieldRef:
          fieldPath: metadata.annotations
"""


def test_downward_api_annotations_file(k: NamespacedKubectl) -> None:
    create(k, DOWNWARD_API_ANNOTATIONS)
    k("wait", "pod/downwardapi-annotations", "--for=jsonpath={.status.phase}=Succeeded", "--timeout=90s", timeout=100)
    labels, annotations = k("logs", "downwardapi-annotations").split("--\n")
    assert labels.strip() == 'zone="us-est-coast"'
    assert 'build="two"\nbuilder="john-doe"' in annotations
    delete(k, "pod", "downwardapi-annotations")


def test_projected_secret_volume(k: NamespacedKubectl, tmp_path: Path) -> None:
    (tmp_path / "username.txt").write_text(seeds.USERNAME_TXT)
    (tmp_path / "password.txt").write_text(seeds.PASSWORD_TXT)
    k("create", "secret", "generic", "user", f"--from-file={tmp_path / 'username.txt'}")
    k("create", "secret", "generic", "pass", f"--from-file={tmp_path / 'password.txt'}")
    create(k, seeds.MYSECRET)
    table = {line.split()[0]: line.split()[1:3] for line in k("get", "secrets").splitlines()[1:]}
    assert table["user"] == ["Opaque", "1"] and table["pass"] == ["Opaque", "1"] and table["mysecret"] == ["Opaque", "2"]
    create(k, seeds.PROJECTED_SECRETS)
    wait_ready(k, "test-projected-volume")
    cid = container_id(k, "test-projected-volume", "test-secret-volume")
    assert read_in_container(cid, "/projected-volume/username.txt") == seeds.USERNAME_TXT
    assert read_in_container(cid, "/projected-volume/password.txt") == seeds.PASSWORD_TXT
    assert "ro" in mount_options(cid, "/projected-volume")
    assert k("exec", "test-projected-volume", "--", "ls", "/projected-volume/") == "password.txt\nusername.txt\n"
    assert k("exec", "test-projected-volume", "--", "cat", "/projected-volume/username.txt") == seeds.USERNAME_TXT
    delete(k, "pod", "test-projected-volume")
    delete(k, "secret", "user", "pass", "mysecret")


def test_lifecycle_post_start_and_pre_stop(k: NamespacedKubectl) -> None:
    create(k, seeds.LIFECYCLE_DEMO)
    wait_ready(k, "lifecycle-demo")
    cid = container_id(k, "lifecycle-demo", "lifecycle-demo-container")
    wait_until("postStart's message", lambda: exists_in_container(cid, "/usr/share/message"), 10)
    assert read_in_container(cid, "/usr/share/message") == "Hello from the postStart handler\n"
    assert k("exec", "lifecycle-demo", "--", "cat", "/usr/share/message") == "Hello from the postStart handler\n"
    delete(k, "pod", "lifecycle-demo", grace=None)
    reasons = k.reasons("lifecycle-demo")
    assert "Killing" in reasons and "FailedPreStopHook" not in reasons and "FailedPostStartHook" not in reasons


# The note's pod with its preStop also leaving a mark on the node (a hostPath), so the test sees it ran
# on delete, while the container's main process (PID 1, nginx) was still there, and before nginx quit.
PRE_STOP_MARK = """\
apiVersion: v1
kind: Pod
metadata:
  name: lifecycle-mark
spec:
  volumes:
  - name: mark
    hostPath:
      path: {dir}
  containers:
  - name: lifecycle-demo-container
    image: nginx
    volumeMounts:
    - name: mark
      mountPath: /mark
    lifecycle:
      postStart:
        exec:
          command: ["/bin/sh", "-c", "echo Hello from the postStart handler > /usr/share/message"]
      preStop:
        exec:
          command: ["/bin/sh", "-c", "tr '\\\\0' ' ' < /proc/1/cmdline > /mark/pre-stop; /usr/sbin/nginx -s quit"]
"""


def test_pre_stop_runs_on_delete(k: NamespacedKubectl, tmp_path: Path) -> None:
    create(k, PRE_STOP_MARK.format(dir=tmp_path))
    wait_ready(k, "lifecycle-mark")
    assert not (tmp_path / "pre-stop").exists()
    delete(k, "pod", "lifecycle-mark", grace=None)
    assert (tmp_path / "pre-stop").read_text().strip() == "nginx: master process nginx -g daemon off;"


def test_share_process_namespace(k: NamespacedKubectl) -> None:
    create(k, seeds.SHARE_PROCESS_NAMESPACE)
    wait_ready(k, "nginx")
    nginx = init_pid(container_id(k, "nginx", "nginx"))
    shell = init_pid(container_id(k, "nginx", "shell"))
    assert pid_namespace(nginx) == pid_namespace(shell)
    # the pause process is PID 1 of the shared namespace; neither container's process is
    pids = [p for p in Path("/proc").iterdir() if p.name.isdigit()]
    in_ns = [int(p.name) for p in pids if _same_ns(int(p.name), nginx)]
    ones = [p for p in in_ns if pid_in_namespace(p) == 1]
    assert len(ones) == 1 and Path(f"/proc/{ones[0]}/cmdline").read_bytes().split(b"\0")[0].endswith(b"pause")
    assert pid_in_namespace(nginx) != 1 and pid_in_namespace(shell) != 1
    assert Path(f"/proc/{shell}/cmdline").read_bytes().split(b"\0")[0] == b"sh"  # waiting on its tty
    # as the note does it: attach to the shell's terminal and run ps there
    screen = attach_and_type(k, "nginx", "shell", b"ps ax\r", b"nginx: worker process")
    assert re.search(rb"^\s*1 \S+\s+(\S+\s+)?/pause", screen, re.M), screen
    assert b"nginx: master process nginx -g daemon off;" in screen
    assert k.status_of("nginx", "shell")["restartCount"] == 0  # leaving the terminal left the shell alone
    delete(k, "pod", "nginx")


def attach_and_type(k: NamespacedKubectl, pod: str, container: str, keys: bytes, until: bytes) -> bytes:
    """``kubectl attach -it`` from a pseudo-terminal: type ``keys``, return the screen once it shows ``until``;
    then kubectl is killed (the container keeps running)."""
    master, slave = os.openpty()
    proc = subprocess.Popen([k.binary, f"--cache-dir={k.cache_dir}", f"--namespace={k.namespace}", "attach",
                             "-it", pod, "-c", container], stdin=slave, stdout=slave, stderr=slave, env=k.env(),
                            start_new_session=True, preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    os.close(slave)
    screen = bytearray()

    def shows(marker: bytes) -> bool:
        while marker not in screen:
            if not select.select([master], [], [], 0.2)[0]:
                return False
            try:
                screen.extend(os.read(master, 4096))
            except OSError:  # kubectl went away
                return marker in screen
        return True

    try:
        wait_until("kubectl attach to connect", lambda: proc.poll() is None and (os.write(master, b"\r") and
                                                                                 shows(b"# ")), 30, 0.5)
        os.write(master, keys)
        wait_until(f"{until!r} on the terminal", lambda: shows(until), 30)
        return bytes(screen)
    finally:
        proc.kill()
        proc.wait()
        os.close(master)


def _same_ns(pid: int, other: int) -> bool:
    try:
        return pid_namespace(pid) == pid_namespace(other)
    except OSError:
        return False


# The note's pod, its shell running `ps ax` itself so its output is in `kubectl logs`.
SHARE_PROCESS_NAMESPACE_PS = """\
apiVersion: v1
kind: Pod
metadata:
  name: nginx-ps
spec:
  shareProcessNamespace: true
  containers:
  - name: nginx
    image: nginx
  - name: shell
    image: busybox
    command: ["sh", "-c", "while true; do ps ax; echo --; sleep 1; done"]
"""


def test_shared_process_namespace_ps_sees_the_other_container(k: NamespacedKubectl) -> None:
    create(k, SHARE_PROCESS_NAMESPACE_PS)
    wait_ready(k, "nginx-ps")

    def ps() -> str:
        blocks = k("logs", "nginx-ps", "-c", "shell").split("--\n")
        return next((b for b in reversed(blocks) if "nginx: master process" in b), "")

    table = wait_until("ps to list nginx", ps, 30, 0.5)
    lines = table.splitlines()
    width = len(lines[0].split())  # PID USER [TIME] COMMAND, as this busybox was built
    rows = {f[0]: f[-1] for f in (line.split(None, width - 1) for line in lines[1:] if line.strip())}
    assert rows["1"].split()[0] == "/pause", table
    assert any(cmd.startswith("nginx: worker process") for cmd in rows.values()), table
    assert any(cmd.startswith("sh -c while true; do ps ax") for cmd in rows.values()), table
    delete(k, "pod", "nginx-ps")


def test_agent_restart_keeps_pods_running(node: Cluster) -> None:
    k = NamespacedKubectl(node, "1.37", "seeds-restart")
    create(k, seeds.COUNTER)
    wait_ready(k, "counter")
    wait_until("the counter to count", lambda: _counter_numbers(k("logs", "counter", "count-log", "--tail=1")), 30)
    before = {c: k.status_of("counter", c) for c in ("count", "count-log")}
    last = _counter_numbers(k("logs", "counter", "count-log", "--tail=1"))[0]
    node.restart()
    name = json.loads(k("get", "nodes", "-o", "json"))["items"][0]["metadata"]["name"]
    k("wait", f"node/{name}", "--for=condition=Ready", "--timeout=60s")
    # the kubelet serves the pod's logs again, and the same processes went on counting meanwhile
    numbers = wait_until("the counter to go on after the restart",
                         lambda: [n for n in _counter_numbers(k("logs", "counter", "count-log", "--tail=5",
                                                                check=False)) if n > last + 3], 60, 0.5)
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    after = {c: k.status_of("counter", c) for c in ("count", "count-log")}
    for c in before:
        for key in ("containerID", "restartCount"):
            assert after[c][key] == before[c][key], (c, key)
        assert after[c]["state"]["running"]["startedAt"] == before[c]["state"]["running"]["startedAt"]
    pod = k.pod("counter")
    assert pod["status"]["phase"] == "Running"
    assert {c["type"]: c["status"] for c in pod["status"]["conditions"]}["Ready"] == "True"
    assert "SandboxChanged" not in k.reasons("counter")
    delete(k, "pod", "counter")
