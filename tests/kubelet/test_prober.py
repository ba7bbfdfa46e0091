"""Probe logic with a fake runtime and clock: thresholds, initial delay, startup gating, events, kills; and the
http/tcp/grpc handlers against servers on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from kybernetes.kubelet import podstate, prober, probes
from kybernetes.kubelet.podstate import ContainerInfo, PodRuntime, SandboxInfo
from kybernetes.runtime import cri, errors


class FakeRuntime:
    def __init__(self) -> None:
        self.exits: list[int] = []
        self.calls: list[tuple[str, list[str], int]] = []
        self.timeout = False

    async def exec_sync(self, container_id: str, cmd: list[str], timeout_seconds: int = 0) -> cri.ExecResult:
        self.calls.append((container_id, list(cmd), timeout_seconds))
        if self.timeout:
            import grpc

            raise errors.DeadlineExceededError("ExecSync", grpc.StatusCode.DEADLINE_EXCEEDED, "timeout")
        code = self.exits.pop(0) if self.exits else 0
        err = b"cat: can't open '/tmp/healthy': No such file or directory\n" if code else b""
        return cri.ExecResult(b"", err, code)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def container(cid: str = "c1", state: str = podstate.RUNNING, started: float = 1000.0) -> ContainerInfo:
    return ContainerInfo(id=cid, name="app", attempt=0, state=state, sandbox_id="sb", started_at=started)


def pod(**probes_: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "default", "uid": "u1"},
            "spec": {"containers": [{"name": "app", "image": "busybox", **probes_}]}}


EXEC = {"exec": {"command": ["cat", "/tmp/healthy"]}, "periodSeconds": 5, "timeoutSeconds": 1,
        "successThreshold": 1, "failureThreshold": 3, "initialDelaySeconds": 0}


def rt(*containers: ContainerInfo) -> PodRuntime:
    return PodRuntime("u1", "p", "default", (SandboxInfo("sb", True, ip="127.0.0.1"),), containers)


@pytest.fixture
async def env() -> AsyncIterator[tuple[prober.ProbeManager, FakeRuntime, Clock, list[Any], list[str]]]:
    runtime, clock, events, changes = FakeRuntime(), Clock(), [], []
    m = prober.ProbeManager(runtime, lambda p, t, r, msg, fp="": events.append((t, r, msg)), changes.append,  # type: ignore[arg-type]
                            clock=clock)
    yield m, runtime, clock, events, changes
    await m.stop()


def worker(m: prober.ProbeManager, kind: str) -> Any:
    return m._pods["u1"].workers[("app", kind)]


async def test_liveness_threshold_events_and_kill(env: Any) -> None:
    m, runtime, _clock, events, changes = env
    p = pod(livenessProbe=EXEC)
    m.update(p, rt(container()))
    w = worker(m, prober.LIVENESS)
    w.task.cancel()
    runtime.exits = [0, 1, 1, 1]
    assert await m._probe_once(w) == 5
    assert m.results[prober.LIVENESS]["c1"] is True and m.failed("c1") is None
    await m._probe_once(w)
    await m._probe_once(w)
    assert m.failed("c1") is None  # two failures < failureThreshold
    await m._probe_once(w)
    assert m.failed("c1") == prober.LIVENESS and changes == ["u1"]
    assert events == [("Warning", "Unhealthy",
                       "Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory\n")] * 3
    await m._probe_once(w)
    assert len(runtime.calls) == 4  # on hold until a new container appears
    m.update(p, rt(container("c2")))
    assert m.failed("c1") is None
    await m._probe_once(w)
    assert len(runtime.calls) == 5 and runtime.calls[-1][0] == "c2" and runtime.calls[-1][2] == 1


async def test_readiness_starts_false_and_follows_thresholds(env: Any) -> None:
    m, runtime, _clock, _events, changes = env
    m.update(pod(readinessProbe={**EXEC, "successThreshold": 2, "failureThreshold": 1}), rt(container()))
    w = worker(m, prober.READINESS)
    w.task.cancel()
    runtime.exits = [0, 0, 1]
    await m._probe_once(w)
    assert m.readiness.get("c1") is False
    await m._probe_once(w)
    assert m.readiness["c1"] is True
    await m._probe_once(w)
    assert m.readiness["c1"] is False and changes == ["u1", "u1"]


async def test_initial_delay(env: Any) -> None:
    m, runtime, clock, _events, _changes = env
    m.update(pod(livenessProbe={**EXEC, "initialDelaySeconds": 5}), rt(container(started=1000.0)))
    w = worker(m, prober.LIVENESS)
    w.task.cancel()
    clock.now = 1002.0
    assert await m._probe_once(w) == pytest.approx(3.0)
    assert runtime.calls == []
    clock.now = 1005.0
    await m._probe_once(w)
    assert len(runtime.calls) == 1


async def test_startup_gates_liveness_and_its_failure_kills(env: Any) -> None:
    m, runtime, _clock, events, _changes = env
    m.update(pod(livenessProbe=EXEC, startupProbe={**EXEC, "failureThreshold": 2}), rt(container()))
    live, start = worker(m, prober.LIVENESS), worker(m, prober.STARTUP)
    live.task.cancel()
    start.task.cancel()
    await m._probe_once(live)
    assert runtime.calls == []  # not started yet
    runtime.exits = [1, 1]
    await m._probe_once(start)
    await m._probe_once(start)
    assert m.failed("c1") == prober.STARTUP
    assert events[-1][2].startswith("Startup probe failed: ")


async def test_exec_timeout_is_a_failure(env: Any) -> None:
    m, runtime, _clock, events, _changes = env
    runtime.timeout = True
    m.update(pod(livenessProbe={**EXEC, "failureThreshold": 1}), rt(container()))
    w = worker(m, prober.LIVENESS)
    w.task.cancel()
    await m._probe_once(w)
    assert m.failed("c1") == prober.LIVENESS
    assert events[0][2] == 'Liveness probe failed: command "cat /tmp/healthy" timed out'


async def test_not_running_container_is_not_ready(env: Any) -> None:
    m, _runtime, _clock, _events, _changes = env
    m.update(pod(readinessProbe=EXEC), rt(container(state=podstate.EXITED)))
    w = worker(m, prober.READINESS)
    w.task.cancel()
    await m._probe_once(w)
    assert m.readiness.get("c1") is False


async def test_workers_run_and_stop() -> None:
    runtime, changes = FakeRuntime(), []
    m = prober.ProbeManager(runtime, lambda *a: None, changes.append)  # type: ignore[arg-type]
    m.update(pod(readinessProbe={**EXEC, "periodSeconds": 1}), rt(container()))
    for _ in range(200):
        if m.readiness.get("c1"):
            break
        await asyncio.sleep(0.01)
    assert m.readiness["c1"] is True
    await m.stop_pod("u1")
    assert "c1" not in m.readiness and m._pods == {}


# ---- handlers against loopback servers ---------------------------------------------------------------

@pytest.fixture
async def http_server() -> AsyncIterator[int]:
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text=f"ok {request.headers.get('X-Custom', '')} {request.headers['User-Agent']}")

    async def fail(request: web.Request) -> web.Response:
        return web.Response(status=500, text="boom")

    app = web.Application()
    app.router.add_get("/healthz", ok)
    app.router.add_get("/fail", fail)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield port
    await runner.cleanup()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_http_handler(http_server: int) -> None:
    ctr = {"name": "app", "ports": [{"name": "http", "containerPort": http_server}]}
    kw: dict[str, Any] = {"runtime": None, "container_id": "c", "container": ctr, "pod_ip": "127.0.0.1", "seconds": 1}
    res = await probes.run_handler({"httpGet": {"path": "/healthz", "port": "http",
                                                "httpHeaders": [{"name": "X-Custom", "value": "v"}]}}, **kw)
    assert res.ok and res.output.startswith("ok v kube-probe/1.32")
    res = await probes.run_handler({"httpGet": {"path": "/fail", "port": http_server}}, **kw)
    assert not res.ok and res.output == "HTTP probe failed with statuscode: 500"
    port = closed_port()
    res = await probes.run_handler({"httpGet": {"path": "/", "port": port}}, **kw)
    assert not res.ok and res.output == (f'Get "http://127.0.0.1:{port}/": dial tcp 127.0.0.1:{port}: '
                                         "connect: connection refused")
    res = await probes.run_handler({"httpGet": {"port": "nope"}}, **kw)
    assert not res.ok and res.error


async def test_tcp_handler(http_server: int) -> None:
    kw: dict[str, Any] = {"runtime": None, "container_id": "c", "container": {}, "pod_ip": "127.0.0.1", "seconds": 1}
    assert (await probes.run_handler({"tcpSocket": {"port": http_server}}, **kw)).ok
    port = closed_port()
    res = await probes.run_handler({"tcpSocket": {"port": port}}, **kw)
    assert res.output == f"dial tcp 127.0.0.1:{port}: connect: connection refused"


async def test_grpc_handler_unreachable() -> None:
    kw: dict[str, Any] = {"runtime": None, "container_id": "c", "container": {}, "pod_ip": "127.0.0.1", "seconds": 0.5}
    res = await probes.run_handler({"grpc": {"port": closed_port()}}, **kw)
    assert not res.ok and ("failed to connect" in res.output or "timeout" in res.output)


def test_health_messages() -> None:
    assert probes._health_request("") == b"" and probes._health_request("svc") == b"\x0a\x03svc"
    assert probes._health_status(b"\x08\x01") == 1 and probes._health_status(b"") == 0
