"""Integration: real containerd, CNI bridge networking, offline images, pods driven through CRI.

Runs as root only (skipped otherwise). Every wait polls CRI or the filesystem with a deadline.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import ipaddress
import json
import shutil
import tarfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest

from kybernetes.cli import main as cli
from kybernetes.runtime import bootstrap, containerd, cri, criconfig, crilog, errors, images, oci
from kybernetes.runtime.proto import cri_pb2 as api
from tests.runtime import node as nodes
from tests.runtime.node import eventually


async def _run_pod(node: nodes.Node, name: str, *, namespaces: api.NamespaceOption | None = None,
                   port_mappings: Sequence[api.PortMapping] = ()) -> tuple[str, api.PodSandboxConfig]:
    uid = str(uuid.uuid4())
    cfg = criconfig.sandbox_config(name=name, namespace="kybt", uid=uid, logs_root=str(node.log_root),
                                   cgroup_parent=node.cgroup_parent(uid), namespaces=namespaces,
                                   port_mappings=port_mappings, dns_servers=["10.43.0.10"],
                                   dns_searches=["kybt.svc.cluster.local"], dns_options=["ndots:5"])
    sandbox_id = await node.client.run_pod_sandbox(cfg)
    return sandbox_id, cfg


async def _running(node: nodes.Node, container_id: str) -> bool:
    return bool((await node.client.container_status(container_id)).state == api.CONTAINER_RUNNING)


async def test_busybox_pod_lifecycle(busybox_node: nodes.Node) -> None:
    node = busybox_node
    rt = node.client
    version = await rt.version()
    assert version.runtime_name == "containerd" and version.runtime_api_version == "v1"
    await eventually(lambda: _ready(rt, network=True), within=10, what="NetworkReady")

    t0 = time.monotonic()
    sandbox_id, sandbox = await _run_pod(node, "hello")
    t_sandbox = time.monotonic() - t0
    status = await rt.pod_sandbox_status(sandbox_id)
    assert status.status.state == api.SANDBOX_READY
    pod_ip = status.status.network.ip
    assert ipaddress.ip_address(pod_ip) in node.subnet and node.subnet.subnet_of(nodes.TEST_RANGE)
    # the bridge named in our conflist exists and is the pod's gateway
    assert f"{node.subnet[1]}/28" in await nodes.sh("ip", "-4", "addr", "show", node.bridge)

    t1 = time.monotonic()
    cfg = criconfig.container_config(name="main", image="busybox", sandbox=sandbox,
                                     command=["sh", "-c", "echo hello; sleep 3600"], env={"GREETING": "hi"},
                                     resources=criconfig.linux_resources(memory_limit=64 << 20,
                                                                         cpu_limit_millicores=500))
    container_id = await rt.create_container(sandbox_id, cfg, sandbox)
    await rt.start_container(container_id)
    await eventually(lambda: _running(node, container_id), within=10, what="container running")
    t_container = time.monotonic() - t1
    node.timings.update(sandbox=t_sandbox, container_create_start=t_container)

    # the CRI log file at the kubelet layout carries "hello"
    log_path = Path(sandbox.log_directory) / "main" / "0.log"
    st = await rt.container_status(container_id)
    assert st.log_path == str(log_path)
    assert st.metadata.name == "main" and st.image.image.endswith("busybox:latest")

    async def logged() -> list[crilog.LogRecord]:
        data = await asyncio.to_thread(log_path.read_bytes)
        return [r for r in crilog.read_lines(data) if r.content == b"hello"]

    records = await eventually(logged, within=10, what="hello in the container log")
    assert records[0].stream == "stdout" and not records[0].partial

    # exec: output, exit codes, env, hostname, resolv.conf, cgroup placement and limits
    res = await rt.exec_sync(container_id, ["echo", "ok"], timeout_seconds=10)
    assert (res.stdout, res.exit_code) == (b"ok\n", 0)
    res = await rt.exec_sync(container_id, ["sh", "-c", "echo err >&2; exit 7"], timeout_seconds=10)
    assert (res.stderr, res.exit_code) == (b"err\n", 7)
    res = await rt.exec_sync(container_id, ["sh", "-c", "echo $GREETING; hostname; cat /etc/resolv.conf; "
                                            "cat /proc/self/cgroup; cat /sys/fs/cgroup/memory/memory.limit_in_bytes"],
                             timeout_seconds=10)
    out = res.stdout.decode()
    assert out.splitlines()[:2] == ["hi", "hello"]
    assert "nameserver 10.43.0.10" in out and "ndots:5" in out
    assert f"/{node.cgroup_name}/pod{sandbox.metadata.uid}/{container_id}" in out
    assert str(64 << 20) in out
    with pytest.raises(errors.DeadlineExceededError):
        await rt.exec_sync(container_id, ["sleep", "5"], timeout_seconds=1)

    # the streaming server listens on loopback at our port
    url = await rt.exec(container_id, ["sh"], stdin=True)
    assert url.startswith(f"http://127.0.0.1:{node.proc.stream_port}/exec/")

    # list filters and labels
    listed = await rt.list_containers(pod_sandbox_id=sandbox_id, state=api.CONTAINER_RUNNING)
    assert [c.id for c in listed] == [container_id]
    assert listed[0].labels[criconfig.CONTAINER_NAME_LABEL] == "main"
    pods = await rt.list_pod_sandbox(labels={criconfig.POD_NAME_LABEL: "hello"})
    assert [p.id for p in pods] == [sandbox_id]

    # the host reaches the pod IP over the bridge: busybox httpd (it daemonizes) serves a file
    res = await rt.exec_sync(container_id, ["sh", "-c", "echo from-pod > /var/www/index.html && "
                                            "httpd -p 8080 -h /var/www"], timeout_seconds=10)
    assert res.exit_code == 0, res.stderr
    status_code, body = await eventually(lambda: _http_get(pod_ip, 8080, "/index.html"), within=10,
                                         what=f"http://{pod_ip}:8080/")
    assert (status_code, body) == (200, b"from-pod\n")

    # stop (PID 1 `sh` ignores SIGTERM → SIGKILL after the grace period), remove
    t2 = time.monotonic()
    await rt.stop_container(container_id, 1)
    st = await rt.container_status(container_id)
    assert st.state == api.CONTAINER_EXITED and st.exit_code == 137
    assert time.monotonic() - t2 < 10
    await rt.remove_container(container_id)
    with pytest.raises(errors.NotFoundError):
        await rt.container_status(container_id)
    await rt.stop_pod_sandbox(sandbox_id)
    await rt.remove_pod_sandbox(sandbox_id)
    assert await rt.list_pod_sandbox() == []
    print("\ntimings:", json.dumps({k: round(v, 3) for k, v in node.timings.items()}))


async def _ready(rt: cri.RuntimeClient, network: bool) -> bool:
    cond = await rt.conditions()
    return bool(cond.get("RuntimeReady") and (cond.get("NetworkReady") or not network))


async def _http_get(host: str, port: int, path: str = "/") -> tuple[int, bytes]:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    try:
        writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_nginx_pod_serves_welcome_page(nginx_node: nodes.Node) -> None:
    node = nginx_node
    rt = node.client
    await eventually(lambda: _ready(rt, network=True), within=10, what="NetworkReady")
    host_port = containerd.free_port()
    sandbox_id, sandbox = await _run_pod(
        node, "web", port_mappings=[criconfig.port_mapping(80, host_port, host_ip="127.0.0.1")])
    pod_ip = (await rt.pod_sandbox_status(sandbox_id)).status.network.ip
    cfg = criconfig.container_config(name="nginx", image="nginx:1.7.9", sandbox=sandbox)
    container_id = await rt.create_container(sandbox_id, cfg, sandbox)
    await rt.start_container(container_id)
    await eventually(lambda: _running(node, container_id), within=10, what="nginx running")

    async def fetch_pod() -> tuple[int, bytes]:
        return await _http_get(pod_ip, 80)

    status, body = await eventually(fetch_pod, within=15, what=f"http://{pod_ip}:80/")
    assert status == 200 and b"Welcome to nginx!" in body

    # hostPort through portmap on loopback
    status, body = await eventually(lambda: _http_get("127.0.0.1", host_port), within=10,
                                    what=f"hostPort 127.0.0.1:{host_port}")
    assert status == 200 and b"Welcome to nginx!" in body

    # access log goes to the container's stdout, hence to the CRI log file
    log_path = Path(sandbox.log_directory) / "nginx" / "0.log"

    async def access_logged() -> bool:
        data = await asyncio.to_thread(log_path.read_bytes)
        return any(b'"GET / HTTP/1.0" 200' in r.content for r in crilog.read_lines(data))

    await eventually(access_logged, within=10, what="nginx access log line")

    # busybox inside the nginx image makes `kubectl exec … sh` work; workers run as user nginx
    res = await rt.exec_sync(container_id, ["sh", "-c", "ps -o user,args | grep 'nginx: worker' | grep -v grep"],
                             timeout_seconds=10)
    assert res.exit_code == 0 and res.stdout.split()[0] == b"nginx"

    # the image's STOPSIGNAL is SIGQUIT: nginx shuts down gracefully well within the grace period
    t0 = time.monotonic()
    await rt.stop_container(container_id, 10)
    assert time.monotonic() - t0 < 5
    st = await rt.container_status(container_id)
    assert st.state == api.CONTAINER_EXITED and st.exit_code == 0
    await rt.remove_container(container_id)
    await rt.stop_pod_sandbox(sandbox_id)
    await rt.remove_pod_sandbox(sandbox_id)


async def test_shared_pid_namespace_pause_is_pid1_and_reaps(busybox_node: nodes.Node) -> None:
    node = busybox_node
    rt = node.client
    sandbox_id, sandbox = await _run_pod(node, "shared",
                                         namespaces=criconfig.namespace_options(share_process_namespace=True))
    cfg = criconfig.container_config(name="main", image="k8s.gcr.io/busybox", sandbox=sandbox,
                                     command=["sleep", "3600"])
    container_id = await rt.create_container(sandbox_id, cfg, sandbox)
    await rt.start_container(container_id)
    await eventually(lambda: _running(node, container_id), within=10, what="container running")
    res = await rt.exec_sync(container_id, ["ps", "-o", "pid,user,args"], timeout_seconds=10)
    rows = [line.split(None, 2) for line in res.stdout.decode().splitlines()[1:]]
    pid1 = next(r for r in rows if r[0] == "1")
    assert pid1[1] == "65535" and pid1[2].split()[0] == "/pause"
    assert any(r[2] == "sleep 3600" for r in rows)
    # an orphan of an exec is re-parented to the pause process, which must reap it
    res = await rt.exec_sync(container_id, ["sh", "-c", "sleep 0.1 & exit 0"], timeout_seconds=10)
    assert res.exit_code == 0

    async def no_zombies() -> bool:
        r = await rt.exec_sync(container_id, ["ps", "-o", "stat,args"], timeout_seconds=10)
        return all(not line.split()[0].startswith("Z") for line in r.stdout.decode().splitlines()[1:])

    await eventually(no_zombies, within=10, what="orphans reaped by the pause process")
    await rt.stop_pod_sandbox(sandbox_id)
    await rt.remove_pod_sandbox(sandbox_id)


async def test_stats_and_oom_killed(busybox_node: nodes.Node) -> None:
    node = busybox_node
    rt = node.client
    sandbox_id, sandbox = await _run_pod(node, "limits")
    limits = criconfig.linux_resources(memory_limit=32 << 20)
    sleeper = await rt.create_container(sandbox_id, criconfig.container_config(
        name="sleeper", image="busybox", sandbox=sandbox, command=["sleep", "3600"], resources=limits), sandbox)
    # the hog allocates only once told to, so the runtime is surely watching its cgroup for OOM by then
    hog = await rt.create_container(sandbox_id, criconfig.container_config(
        name="hog", image="busybox", sandbox=sandbox, command=[
            "sh", "-c", "until [ -e /tmp/go ]; do sleep 0.05; done; exec dd if=/dev/zero of=/dev/null bs=128M "
                        "count=1"], resources=limits), sandbox)
    await rt.start_container(sleeper)
    await rt.start_container(hog)
    await eventually(lambda: _running(node, hog), within=10, what="hog running")
    assert (await rt.exec_sync(hog, ["touch", "/tmp/go"], timeout_seconds=10)).exit_code == 0

    async def exited() -> api.ContainerStatus | None:
        st = await rt.container_status(hog)
        return st if st.state == api.CONTAINER_EXITED else None

    st = await eventually(exited, within=15, what="memory hog exit")
    assert (st.exit_code, st.reason) == (137, "OOMKilled")

    async def stats() -> api.ContainerStats | None:
        s = await rt.container_stats(sleeper)
        return s if s.memory.working_set_bytes.value > 0 and s.cpu.usage_core_nano_seconds.value > 0 else None

    s = await eventually(stats, within=15, what="container stats (memory working set and cpu time)")
    assert s.attributes.id == sleeper
    ps = await rt.pod_sandbox_stats(sandbox_id)
    assert ps.attributes.id == sandbox_id
    await rt.stop_pod_sandbox(sandbox_id)
    await rt.remove_pod_sandbox(sandbox_id)


def _docker_archive(path: Path, name: str) -> None:
    """A minimal `docker save` archive: manifest.json, config, one uncompressed layer."""
    layer = oci.Layer()
    layer.add_file("/hello.txt", b"from a docker archive\n")
    raw = layer.tar()
    diff_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    config = json.dumps({"architecture": oci.oci_architecture(), "os": "linux", "config": {"Cmd": ["/x"]},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [name], "Layers": ["l1/layer.tar"]}]).encode()
    with tarfile.open(path, "w") as tf:
        for member, data in ((config_name, config), ("l1/layer.tar", raw), ("manifest.json", manifest)):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


async def test_image_import_cli_and_airgap_dir(busybox_node: nodes.Node, tmp_path: Path) -> None:
    node = busybox_node
    rt = node.client
    # an OCI archive, gzip-compressed, through `kyb images import`
    layer = oci.Layer()
    layer.add_file("/hello.txt", b"hi\n")
    oci_tar = tmp_path / "app.oci.tar"
    oci.write_archive(oci_tar, [layer], oci.ImageConfig(cmd=("/x",)), ["localhost/kybt/app:1"])
    gz = tmp_path / "app.oci.tar.gz"
    gz.write_bytes(gzip.compress(oci_tar.read_bytes()))
    rc = await asyncio.to_thread(cli.main, ["images", "import", "--data-dir", str(node.data_dir), str(gz)])
    assert rc == 0
    assert await rt.image_status("localhost/kybt/app:1") is not None
    # a docker-archive dropped into <data-dir>/agent/images, imported at start
    drop = images.airgap_dir(node.data_dir)
    drop.mkdir(parents=True)
    _docker_archive(drop / "legacy.tar", "kybt.example/legacy:2")
    (drop / "notes.txt").write_text("ignored")
    (drop / "broken.tar").write_bytes(b"not a tar")
    done = await images.import_directory(node.proc.socket, drop)
    assert done == {drop / "legacy.tar": ["kybt.example/legacy:2"]}
    img = await rt.image_status("kybt.example/legacy:2")
    assert img is not None and list(img.repo_tags) == ["kybt.example/legacy:2"]
    # a missing file is an error with a message, not a traceback
    rc = await asyncio.to_thread(cli.main, ["images", "import", "--data-dir", str(node.data_dir),
                                            str(tmp_path / "missing.tar")])
    assert rc == 1


async def test_bring_up_starts_imports_and_restarts(tmp_path: Path, image_cache: Path) -> None:
    nodes.require_root()
    data = tmp_path / "data"
    cache = images.builtin_cache_dir(data)
    cache.mkdir(parents=True)
    for key in ("pause", "busybox", "nginx"):  # reuse this session's builds; bring_up would build them too
        archive = await images.build_archive(key, image_cache)
        await asyncio.to_thread(shutil.copy, archive, cache / archive.name)
    drop = images.airgap_dir(data)
    drop.mkdir(parents=True)
    layer = oci.Layer()
    layer.add_file("/x", b"x")
    oci.write_archive(drop / "extra.tar", [layer], oci.ImageConfig(), ["localhost/kybt/extra:1"])
    opts = bootstrap.RuntimeOptions(data_dir=data)

    first = await bootstrap.bring_up(opts)
    try:
        assert first.managed is not None and first.managed.host_fixes.restrict_oom_score_adj in (True, False)
        for name in ("localhost/kybernetes/pause:3.10", "busybox", "k8s.gcr.io/busybox", "nginx:1.7.9",
                     "nginx", "localhost/kybt/extra:1"):
            assert await first.client.image_status(name) is not None, name
        pid = first.managed.pid
    finally:
        await first.close()
    assert pid is not None and not await asyncio.to_thread(Path(f"/proc/{pid}").exists)

    second = await bootstrap.bring_up(opts)  # a restart: state and images are kept
    try:
        assert second.managed is not None and second.managed.pid != pid
        assert await second.client.image_status("nginx:1.28") is not None
        print("\nbring_up timings: first", first.timings, "restart", second.timings)
    finally:
        await second.close()


async def test_pods_survive_a_containerd_restart(busybox_node: nodes.Node) -> None:
    node = busybox_node
    sandbox_id, sandbox = await _run_pod(node, "survivor")
    cid = await node.client.create_container(sandbox_id, criconfig.container_config(
        name="main", image="busybox", sandbox=sandbox, command=["sleep", "3600"]), sandbox)
    await node.client.start_container(cid)
    await eventually(lambda: _running(node, cid), within=10, what="container running")
    old_pid = node.proc.pid
    await node.client.close()
    await node.proc.stop()
    t0 = time.monotonic()
    node.client = await node.proc.start()  # same config, state and socket; the fixture cleans up with it
    node.timings["containerd_restart"] = time.monotonic() - t0
    assert node.proc.pid != old_pid
    assert await _running(node, cid)
    assert (await node.client.pod_sandbox_status(sandbox_id)).status.state == api.SANDBOX_READY
    res = await node.client.exec_sync(cid, ["echo", "still here"], timeout_seconds=10)
    assert res.stdout == b"still here\n"
