"""Integration (root only): the kubelet on our own containerd, fed by a real ``kyb server``.

Each test gets a fresh containerd, CNI bridge, cgroup root and agent (see conftest.py); pods are created
through the API with ``nodeName`` set. Every wait polls the API, the runtime or the filesystem with a
deadline; the teardown checks that nothing of the node is left on the host.
"""

from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path
from typing import Any

import aiohttp

from kybernetes.client.errors import NotFoundError
from kybernetes.client.rest import PODS
from kybernetes.kubelet import cgroups
from kybernetes.kubelet.volumes import is_mountpoint
from kybernetes.runtime import criconfig
from tests.kubelet.conftest import KubeletNode, eventually, status_of

BUSYBOX = "busybox"


def phase_is(*phases: str) -> Any:
    return lambda p: (p.get("status") or {}).get("phase") in phases


def _terminated(pod: dict[str, Any], container: str) -> dict[str, Any]:
    return dict((status_of(pod, container).get("state") or {}).get("terminated") or {})


async def fetch_logs(kn: KubeletNode, pod: str, container: str, query: str = "",
                     client_cert: bool = True) -> tuple[int, str]:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if client_cert:
        tls = kn.cluster.data_dir / "server" / "tls"
        ctx.load_cert_chain(tls / "client-admin.crt", tls / "client-admin.key")
    url = f"https://127.0.0.1:{kn.agent.server.port}/containerLogs/default/{pod}/{container}{query}"
    async with aiohttp.ClientSession() as s, s.get(url, ssl=ctx) as r:
        return r.status, await r.text()


async def test_busybox_echo_never_succeeds(kubelet_node: KubeletNode) -> None:
    kn = kubelet_node
    pod = await kn.create_pod("echo", {"restartPolicy": "Never", "containers": [
        {"name": "main", "image": BUSYBOX, "command": ["sh", "-c", "echo hello; echo oops >&2; echo $MSG"],
         "env": [{"name": "MSG", "value": "from $(POD)"},
                 {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}]})
    uid = pod["metadata"]["uid"]
    done = await kn.wait_pod("echo", phase_is("Succeeded", "Failed"), 60, "finished")
    assert done["status"]["phase"] == "Succeeded", done["status"]
    term = _terminated(done, "main")
    assert term["exitCode"] == 0 and term["reason"] == "Completed"
    assert ipaddress.IPv4Address(done["status"]["podIP"]) in kn.subnet
    conds = {c["type"]: c for c in done["status"]["conditions"]}
    assert conds["Ready"]["reason"] == "PodCompleted" and conds["PodReadyToStartContainers"]["status"] == "False"
    log_file = kn.cfg.pod_logs_root / f"default_echo_{uid}" / "main" / "0.log"
    records = log_file.read_text().splitlines()
    # stdout and stderr are separate pipes: their relative order in the file is not fixed
    assert sorted(r.split(" ", 3)[1:] for r in records) == [["stderr", "F", "oops"], ["stdout", "F", "from $(POD)"],
                                                            ["stdout", "F", "hello"]]
    assert [r.split(" ", 3)[3] for r in records if " stdout " in r] == ["hello", "from $(POD)"]
    cid = status_of(done, "main")["containerID"].split("://")[1]
    link = kn.cfg.containers_log_dir / f"echo_default_main-{cid}.log"
    assert link.is_symlink() and Path(link.resolve()) == log_file.resolve()
    status, text = await fetch_logs(kn, "echo", "main")
    assert status == 200 and text == "".join(r.split(" ", 3)[3] + "\n" for r in records)
    status, text = await fetch_logs(kn, "echo", "main", "?tailLines=1&timestamps=true")
    assert status == 200 and text.endswith("Z " + records[-1].split(" ", 3)[3] + "\n")
    assert len(text.split(" ", 1)[0]) == 30  # RFC 3339 with nine fractional digits
    assert (await fetch_logs(kn, "echo", "main", client_cert=False))[0] == 401
    assert await fetch_logs(kn, "echo", "nope") == (404, 'container "nope" not found in pod "echo"')
    assert (await fetch_logs(kn, "echo", "main", "?previous=true"))[0] == 400
    # the sandbox is stopped once the pod is terminal, its volumes (tmpfs token) torn down
    sandboxes = await kn.rt_node.client.list_pod_sandbox(labels={criconfig.POD_UID_LABEL: uid})
    assert sandboxes and all(s.state != 0 for s in sandboxes)
    assert not (kn.cfg.pod_dir(uid) / "volumes").exists()
    events = await kn.events("echo")
    assert ("Pulled", f'Container image "{BUSYBOX}" already present on machine') in events
    assert ("Created", "Created container: main") in events and ("Started", "Started container main") in events


async def test_crash_loop_backoff_delays_grow(kubelet_node: KubeletNode) -> None:
    kn = kubelet_node
    pod = await kn.create_pod("crash", {"restartPolicy": "Always", "containers": [
        {"name": "c", "image": BUSYBOX, "command": ["sh", "-c", "echo run; exit 3"]}]})
    uid = pod["metadata"]["uid"]
    seen_backoff: list[str] = []

    async def restarted() -> bool:
        p = await kn.pod("crash")
        waiting = (status_of(p, "c").get("state") or {}).get("waiting") or {}
        if waiting.get("reason") == "CrashLoopBackOff":
            seen_backoff.append(waiting.get("message", ""))
        return int(status_of(p, "c").get("restartCount") or 0) >= 4

    await eventually(restarted, within=60, what="four restarts")
    infos = sorted([c for c in (await kn.agent.pleg.pod(uid)).containers if c.name == "c"], key=lambda c: c.attempt)
    gaps = [infos[i + 1].started_at - infos[i].finished_at for i in range(4)]
    # base 1 s in this test: restart at once, then 1 s, 2 s, 4 s (kubelet: 0, 10 s, 20 s, 40 s … 5 min)
    assert gaps[0] < 1.0, gaps
    for i, expected in enumerate((1.0, 2.0, 4.0), start=1):
        assert expected - 0.05 <= gaps[i] < expected + 1.5, gaps
    assert gaps[1] < gaps[2] < gaps[3]
    assert infos[-1].exit_code == 3 or infos[-1].state == "running"
    assert any(m.startswith("back-off ") and "restarting failed container=c pod=crash_default(" in m
               for m in seen_backoff), seen_backoff
    p = await kn.pod("crash")
    last = (status_of(p, "c").get("lastState") or {}).get("terminated") or {}
    assert last.get("exitCode") == 3 and last.get("reason") == "Error"
    events = await kn.events("crash")
    assert any(r == "BackOff" and m.startswith("Back-off restarting failed container c in pod crash_default(")
               for r, m in events)
    status, text = await fetch_logs(kn, "crash", "c", "?previous=true")
    assert (status, text) == (200, "run\n")


async def test_liveness_exec_failure_restarts(kubelet_node: KubeletNode) -> None:
    kn = kubelet_node
    await kn.create_pod("liveness-exec", {"containers": [
        {"name": "liveness", "image": BUSYBOX,
         "args": ["/bin/sh", "-c", "touch /tmp/healthy; sleep 2; rm -rf /tmp/healthy; sleep 600"],
         "livenessProbe": {"exec": {"command": ["cat", "/tmp/healthy"]}, "initialDelaySeconds": 1,
                           "periodSeconds": 1, "failureThreshold": 2}}]})
    first = await kn.wait_pod("liveness-exec", lambda p: status_of(p, "liveness").get("ready") is True, 60, "ready")
    first_id = status_of(first, "liveness")["containerID"]
    again = await kn.wait_pod("liveness-exec", lambda p: int(status_of(p, "liveness").get("restartCount") or 0) >= 1
                              and "running" in (status_of(p, "liveness").get("state") or {}), 60, "restarted")
    assert status_of(again, "liveness")["containerID"] != first_id
    assert (status_of(again, "liveness").get("lastState") or {}).get("terminated", {}).get("exitCode") in (137, 143)
    events = await kn.events("liveness-exec")
    assert ("Unhealthy", "Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory\n") in events
    assert ("Killing", "Container liveness failed liveness probe, will be restarted") in events


async def test_two_containers_share_empty_dir_and_agent_restart_adopts(kubelet_node: KubeletNode) -> None:
    kn = kubelet_node
    pod = await kn.create_pod("counter", {"volumes": [{"name": "varlog", "emptyDir": {}}], "containers": [
        {"name": "count", "image": BUSYBOX, "args": [
            "/bin/sh", "-c", 'i=0; while true; do echo "$i: $(date)" >> /var/log/1.log; i=$((i+1)); sleep 0.2; done'],
         "volumeMounts": [{"name": "varlog", "mountPath": "/var/log"}]},
        {"name": "count-log", "image": BUSYBOX, "args": ["/bin/sh", "-c", "tail -n+1 -f /var/log/1.log"],
         "volumeMounts": [{"name": "varlog", "mountPath": "/var/log"}]}]})
    uid = pod["metadata"]["uid"]
    running = await kn.wait_pod("counter", lambda p: all(status_of(p, c).get("ready") for c in ("count", "count-log")),
                                60, "both containers ready")
    assert running["status"]["phase"] == "Running"
    assert {c["type"]: c["status"] for c in running["status"]["conditions"]}["Ready"] == "True"
    shared = kn.cfg.pod_dir(uid) / "volumes" / "kubernetes.io~empty-dir" / "varlog" / "1.log"

    async def counted() -> str | None:
        status, text = await fetch_logs(kn, "counter", "count-log")
        return text if status == 200 and "\n2: " in text else None

    text = await eventually(counted, within=30, what="count-log shows the counter")
    assert text.startswith("0: ") and shared.exists()
    token_vol = next(v["name"] for v in running["spec"]["volumes"] if v["name"].startswith("kube-api-access-"))
    token_dir = kn.cfg.pod_dir(uid) / "volumes" / "kubernetes.io~projected" / token_vol
    assert is_mountpoint(token_dir) and (token_dir / "token").read_text().count(".") == 2
    assert (token_dir / "namespace").read_text() == "default" and (token_dir / "ca.crt").exists()
    ids = {c: status_of(running, c)["containerID"] for c in ("count", "count-log")}

    await kn.restart_agent()

    async def resynced() -> bool:
        return uid in kn.agent.workers.status.last

    await eventually(resynced, within=30, what="new agent synced the pod")
    after = await kn.pod("counter")
    assert {c: status_of(after, c)["containerID"] for c in ("count", "count-log")} == ids
    assert all(int(status_of(after, c).get("restartCount") or 0) == 0 for c in ids)
    rt = await kn.agent.pleg.pod(uid)
    assert len(rt.containers) == 2 and len(rt.sandboxes) == 1


async def test_delete_with_grace_runs_pre_stop_then_term(kubelet_node: KubeletNode, tmp_path: Path) -> None:
    kn = kubelet_node
    out = tmp_path / "evidence"
    out.mkdir()
    pod = await kn.create_pod("graceful", {
        "terminationGracePeriodSeconds": 20,
        "volumes": [{"name": "out", "hostPath": {"path": str(out), "type": "Directory"}},
                    {"name": "creds", "secret": {"secretName": "kt-missing", "optional": True}}],
        "containers": [{"name": "main", "image": BUSYBOX, "args": [
            "/bin/sh", "-c", "trap 'touch /out/term; exit 0' TERM; echo up; while true; do sleep 0.1; done"],
            "volumeMounts": [{"name": "out", "mountPath": "/out"}, {"name": "creds", "mountPath": "/creds"}],
            "lifecycle": {"preStop": {"exec": {"command": ["/bin/sh", "-c", "touch /out/prestop; sleep 1"]}},
                          "postStart": {"exec": {"command": ["/bin/sh", "-c", "echo started > /out/poststart"]}}}}]})
    uid = pod["metadata"]["uid"]
    await kn.wait_pod("graceful", lambda p: status_of(p, "main").get("ready") is True, 60, "running")
    assert (out / "poststart").read_text() == "started\n"
    secret_dir = kn.cfg.pod_dir(uid) / "volumes" / "kubernetes.io~secret" / "creds"
    assert is_mountpoint(secret_dir)
    await kn.client.delete(PODS, "graceful", "default")

    async def gone() -> bool:
        try:
            await kn.pod("graceful")
        except NotFoundError:
            return True
        return False

    await eventually(gone, within=30, what="pod removed by the kubelet")
    prestop, term = (out / "prestop").stat().st_mtime, (out / "term").stat().st_mtime
    assert prestop + 0.9 < term < prestop + 10  # SIGTERM only after the preStop hook (which sleeps 1 s)
    events = await kn.events("graceful")
    assert ("Killing", "Stopping container main") in events

    async def cleaned() -> bool:  # the kubelet removes everything else right after the DELETE
        return ((await kn.agent.pleg.pod(uid)).empty and not kn.cfg.pod_dir(uid).exists()
                and not (kn.cfg.pod_logs_root / f"default_graceful_{uid}").exists()
                and cgroups.pod_cgroup_dirs(kn.cfg.cgroup_root, uid) == []
                and not list(kn.cfg.containers_log_dir.glob("graceful_default_*")))

    await eventually(cleaned, within=20, what="containers, sandbox, dirs, log links and cgroups removed")
    assert not is_mountpoint(secret_dir)


async def test_init_containers_then_sidecar_then_main(kubelet_node: KubeletNode) -> None:
    kn = kubelet_node
    await kn.create_pod("init", {
        "volumes": [{"name": "work", "emptyDir": {}}],
        "initContainers": [
            {"name": "first", "image": BUSYBOX, "command": ["sh", "-c", "echo one > /work/order"],
             "volumeMounts": [{"name": "work", "mountPath": "/work"}]},
            {"name": "side", "image": BUSYBOX, "restartPolicy": "Always",
             "command": ["sh", "-c", "echo side >> /work/order; exec sleep 600"],
             "volumeMounts": [{"name": "work", "mountPath": "/work"}]},
            {"name": "second", "image": BUSYBOX, "command": ["sh", "-c", "echo two >> /work/order"],
             "volumeMounts": [{"name": "work", "mountPath": "/work"}]}],
        "containers": [{"name": "main", "image": BUSYBOX, "command": ["sh", "-c", "cat /work/order; exec sleep 600"],
                        "volumeMounts": [{"name": "work", "mountPath": "/work"}]}]})
    p = await kn.wait_pod("init", lambda p: status_of(p, "main").get("ready") is True, 60, "main running")
    inits = {s["name"]: s for s in p["status"]["initContainerStatuses"]}
    assert [s["name"] for s in p["status"]["initContainerStatuses"]] == ["first", "side", "second"]
    assert inits["first"]["state"]["terminated"]["reason"] == "Completed" and inits["first"]["ready"]
    assert "running" in inits["side"]["state"] and inits["side"]["started"] and inits["side"]["ready"]
    assert inits["second"]["state"]["terminated"]["exitCode"] == 0
    conds = {c["type"]: c["status"] for c in p["status"]["conditions"]}
    assert conds["Initialized"] == "True" and conds["Ready"] == "True" and p["status"]["phase"] == "Running"

    async def logged() -> str | None:
        status, text = await fetch_logs(kn, "init", "main")
        return text if status == 200 and text else None

    assert await eventually(logged, within=20, what="main's log") == "one\nside\ntwo\n"
