"""The whole controller with the real nginx: ``run_ingress_controller`` watches an in-memory API (the
recording fake client, through real informers), nginx listens on free loopback ports and proxies to
tiny backends on 127.0.0.1 (the EndpointSlices point at them). Every check is an HTTP request.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kybernetes.client.rest import ENDPOINTSLICES, EVENTS, SECRETS, SERVICES
from kybernetes.ingress import annotations as annots
from kybernetes.ingress import certs, classes, controller, nginx
from tests.controllers.fakes import FakeClient
from tests.ingress import builders as b
from tests.ingress import httpkit, seed

pytestmark = pytest.mark.skipif(nginx.find_binary() is None,
                                reason="nginx is not installed (scripts/install installs nginx-light)")


@dataclass
class Env:
    client: FakeClient
    backends: httpkit.Backends
    http: int
    https: int
    state: Path

    async def get(self, host: str, path: str, **kw: object) -> httpkit.Response:
        return await httpkit.request(self.https if kw.get("tls") else self.http, host, path, **kw)  # type: ignore[arg-type]

    async def backend_of(self, host: str, path: str, **kw: object) -> str:
        r = await self.get(host, path, **kw)
        return r.json()["backend"] if r.status == 200 else str(r.status)

    async def serves(self, host: str, path: str, want: str, **kw: object) -> None:
        await httpkit.eventually(lambda: self.backend_of(host, path, **kw), lambda got: got == want,
                                 what=f"{host}{path} → {want}")

    async def add_service(self, name: str, ns: str = "default", *ports: tuple[str, int]) -> None:
        """A Service whose every port is served by its own backend (named ``name`` or ``name:port``)."""
        ports = ports or (("http", 80),)
        self.client.add(SERVICES, b.service(name, *ports, ns=ns))
        for pname, _port in ports:
            label = name if len(ports) == 1 else f"{name}:{pname}"
            target = await self.backends.start(label)
            self.client.add(ENDPOINTSLICES, b.endpoint_slice(name, pname, target, "127.0.0.1", ns=ns,
                                                             suffix=f"{pname}x"))

    async def published(self, name: str, ns: str = "default") -> None:
        """Wait for the Ingress's status address: set only once nginx has fully switched to a config serving it."""
        def done() -> bool:
            ing = self.client.stored(classes.INGRESSES, name, ns) or {}
            return bool(((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress"))
        await self.client.wait_for(done, 15)

    def events(self, reason: str) -> list[dict]:
        return [e for e in self.client.all(EVENTS) if e["reason"] == reason]


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    client, backends = FakeClient(), httpkit.Backends()
    e = Env(client, backends, httpkit.free_port(), httpkit.free_port(), tmp_path / "ingress")
    stop = asyncio.Event()
    task = asyncio.create_task(controller.run_ingress_controller(
        client, stop, state_dir=e.state, http_port=e.http, https_port=e.https, listen_address="127.0.0.1",
        publish_address="127.0.0.1", worker_processes="2", allow_snippets=True))
    pid = 0
    try:
        await httpkit.eventually(lambda: e.get("nothing.example", "/"), lambda r: r.status == 404,
                                 what="nginx answering")
        pid = int((e.state / "nginx.pid").read_text())
        yield e
    finally:
        stop.set()
        await task
        await backends.stop()
        if pid and alive(pid):        # the controller must have stopped it; never leave ours behind
            os.kill(pid, signal.SIGKILL)
            pytest.fail(f"nginx (pid {pid}) outlived the controller")


async def test_seed_paths_reach_their_services(env: Env) -> None:
    for name, ports in seed.SERVICES.items():
        await env.add_service(name, seed.NAMESPACE, *ports)
    env.client.add(classes.INGRESSES, seed.ingress(class_name=None))   # class-less: ours through the default class
    created = env.client.stored(classes.INGRESSCLASSES, classes.DEFAULT_CLASS_NAME)
    assert created is not None and classes.is_default(created)
    admin = "cos-power-customer-service-admin"
    want = {
        "/v1/repair/orders": "kct-cos-power-repair",
        "/repair/": "kct-cos-power-repair-web-admin-svc",
        "/v1/customer/42": f"{admin}:http",
        "/v1_admin/customer/x": f"{admin}:http",
        "/app_v1/customer/y": f"{admin}:http",
        "/customer/index.html": "cos-power-customer-service-web-admin-svc",
        "/mobile/app.js": "cos-power-mobile-h5-svc",
        "/v1/customer/jmx": f"{admin}:jmx",          # longest match wins over /v1/customer/
        "/v1/customer/jmx/beans": f"{admin}:jmx",
        "/nothing/here": "404",
        "/": "404",
    }
    for path, backend in want.items():
        await env.serves(seed.HOST, path, backend)
    assert await env.backend_of("other.example", "/v1/repair/") == "404"    # another host
    r = await env.get(seed.HOST, "/v1/repair/x?q=1")
    body = r.json()
    assert body["path"] == "/v1/repair/x?q=1" and body["host"] == seed.HOST
    assert body["xff"] == "127.0.0.1" and body["xrealip"] == "127.0.0.1" and body["proto"] == "http"
    await env.client.wait_for(lambda: bool(
        (env.client.stored(classes.INGRESSES, "www-kct-ingress", seed.NAMESPACE) or {}).get("status", {})
        .get("loadBalancer", {}).get("ingress") == [{"ip": "127.0.0.1"}]), 10)
    await env.client.wait_for(lambda: bool(env.events("Sync")), 10)
    assert env.events("Sync")[0]["involvedObject"]["name"] == "www-kct-ingress"
    assert "www.gxcospower.cn" in (env.state / "nginx.conf").read_text()
    access = (env.state / "access.log").read_text()
    assert '"GET /v1/repair/x?q=1 HTTP/1.1" 200' in access
    assert f"[{seed.upstream('kct-cos-power-repair', 8081)}]" in access


async def test_prefix_and_exact_differ(env: Env) -> None:
    await env.add_service("prefix")
    await env.add_service("exact")
    env.client.add(classes.INGRESSES, b.ingress("paths", b.rule("paths.example", b.path("/foo", "prefix", 80, "Prefix"),
                                                                 b.path("/bar", "exact", 80, "Exact"))))
    await env.serves("paths.example", "/foo", "prefix")
    for path, backend in {"/foo/": "prefix", "/foo/x/y": "prefix", "/foobar": "404",
                          "/bar": "exact", "/bar/": "404", "/bar/x": "404", "/barx": "404"}.items():
        assert await env.backend_of("paths.example", path) == backend, path


async def test_tls_from_secret_with_sni_and_default_certificate(env: Env) -> None:
    await env.add_service("secure")
    env.client.add(SECRETS, b.tls_secret("secure-tls", "secure.example"))
    env.client.add(classes.INGRESSES, b.ingress(
        "secure", b.rule("secure.example", b.path("/", "secure", 80, "Prefix")),
        tls=[{"hosts": ["secure.example"], "secretName": "secure-tls"}], annotations={annots.SSL_REDIRECT: "true"}))
    await env.serves("secure.example", "/", "secure", tls=True)
    r = await env.get("secure.example", "/x", tls=True)
    assert r.cert_cn == "secure.example" and r.json()["proto"] == "https"
    unknown = await env.get("unknown.example", "/", tls=True)
    assert unknown.status == 404 and unknown.cert_cn == certs.DEFAULT_CERT_CN
    plain = await env.get("secure.example", "/x")
    assert plain.status == 308            # ssl-redirect is on for this Ingress


async def test_reload_does_not_drop_requests(env: Env) -> None:
    await env.add_service("steady")
    env.client.add(classes.INGRESSES, b.ingress("steady", b.rule("steady.example", b.path("/", "steady", 80, "Prefix"))))
    await env.published("steady")   # older workers (whose config lacked it) no longer accept connections
    assert await env.backend_of("steady.example", "/") == "steady"
    results: list[str] = []
    reloading = True

    async def stream() -> None:
        while reloading or len(results) < 100:
            try:
                results.append(await env.backend_of("steady.example", "/"))
            except (OSError, TimeoutError, ValueError) as e:
                results.append(f"error: {e!r}")

    streams = [asyncio.create_task(stream()) for _ in range(4)]
    try:
        for i in range(5):              # five reloads under load, each confirmed through nginx
            await env.add_service(f"extra{i}")
            env.client.add(classes.INGRESSES, b.ingress(
                f"extra{i}", b.rule(f"extra{i}.example", b.path("/", f"extra{i}", 80, "Prefix"))))
            await env.published(f"extra{i}")
            assert await env.backend_of(f"extra{i}.example", "/") == f"extra{i}"
        reloading = False
        await asyncio.wait_for(asyncio.gather(*streams), 30)
    finally:
        reloading = False
        for t in streams:
            t.cancel()
        await asyncio.gather(*streams, return_exceptions=True)
    failures = [r for r in results if r != "steady"]
    assert len(results) >= 100 and failures == [], failures[:5]
    assert "reconfiguring" in (env.state / "error.log").read_text()


async def test_config_error_keeps_old_config_and_warns(env: Env) -> None:
    await env.add_service("good")
    env.client.add(classes.INGRESSES, b.ingress("good", b.rule("good.example", b.path("/", "good", 80, "Prefix"))))
    await env.serves("good.example", "/", "good")
    before = (env.state / "nginx.conf").read_text()
    env.client.add(classes.INGRESSES, b.ingress(
        "broken", b.rule("broken.example", b.path("/", "good", 80, "Prefix")),
        annotations={annots.CONFIGURATION_SNIPPET: "this_is_not_a_directive on;"}))
    await env.client.wait_for(lambda: bool(env.events("RELOAD")), 10)
    [warning] = env.events("RELOAD")
    assert warning["type"] == "Warning" and warning["involvedObject"]["name"] == "broken"
    assert warning["message"].startswith("Error reloading NGINX: ")
    assert 'unknown directive "this_is_not_a_directive"' in warning["message"]
    assert (env.state / "nginx.conf").read_text() == before           # never half-applied
    assert await env.backend_of("good.example", "/") == "good"
    assert await env.backend_of("broken.example", "/") == "404"
    # fixing the Ingress applies it
    fixed = await env.client.get(classes.INGRESSES, "broken", "default")
    del fixed["metadata"]["annotations"][annots.CONFIGURATION_SNIPPET]
    await env.client.replace(classes.INGRESSES, fixed, "default")
    await env.serves("broken.example", "/", "good")


async def test_rewrite_target_reaches_the_backend_rewritten(env: Env) -> None:
    await env.add_service("api")
    await env.add_service("site")
    env.client.add(classes.INGRESSES, b.ingress("api", b.rule("rw.example", b.path("/api(/|$)(.*)", "api", 80)),
                                                annotations={annots.REWRITE_TARGET: "/$2"}))
    env.client.add(classes.INGRESSES, b.ingress("site", b.rule("rw.example", b.path("/", "site", 80, "Prefix"))))
    await env.published("api")
    await env.published("site")
    r = await env.get("rw.example", "/api/v2/items?x=1")
    assert r.json() == r.json() | {"backend": "api", "path": "/v2/items?x=1"}
    assert (await env.get("rw.example", "/API")).json()["path"] == "/"       # regex paths are case-insensitive
    assert await env.backend_of("rw.example", "/apix") == "site"             # (/|$) keeps /apix out
    assert (await env.get("rw.example", "/about")).json()["path"] == "/about"


async def test_request_bodies_and_proxy_body_size(env: Env) -> None:
    await env.add_service("upload")
    env.client.add(classes.INGRESSES, b.ingress("small", b.rule("small.example", b.path("/", "upload", 80, "Prefix"))))
    env.client.add(classes.INGRESSES, b.ingress("large", b.rule("large.example", b.path("/", "upload", 80, "Prefix")),
                                                annotations={annots.PROXY_BODY_SIZE: "4m"}))
    await env.published("small")
    await env.published("large")
    # 600 KiB: over the workers' in-memory buffer, so nginx spools it to its temp dir first
    r = await env.get("small.example", "/", body=b"x" * 600_000)
    assert r.status == 200 and r.json()["received"] == 600_000
    assert (await env.get("small.example", "/", body=b"x" * 2_000_000)).status == 413   # client_max_body_size 1m
    r = await env.get("large.example", "/", body=b"x" * 2_000_000)
    assert r.status == 200 and r.json()["received"] == 2_000_000
