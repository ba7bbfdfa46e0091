"""The nginx process manager against the real nginx: start, test-before-swap, reload, stale cleanup, stop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kybernetes.ingress import annotations as annots
from kybernetes.ingress import certs, model, nginx, nginxconf, statedir
from tests.ingress import builders as b
from tests.ingress import httpkit, seed

pytestmark = pytest.mark.skipif(nginx.find_binary() is None,
                                reason="nginx is not installed (scripts/install installs nginx-light)")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.fixture
async def nx(tmp_path: Path) -> AsyncIterator[tuple[nginx.Nginx, nginxconf.Settings]]:
    state = tmp_path / "state"
    (state / "tmp").mkdir(parents=True)
    (state / "certs").mkdir()
    certs.ensure_default_certificate(state / "certs" / "default.pem")
    settings = nginxconf.Settings(str(state), httpkit.free_port(), httpkit.free_port(), "127.0.0.1", "1")
    proc = nginx.Nginx(state)
    try:
        yield proc, settings
    finally:
        await proc.stop(grace=5)


def conf(settings: nginxconf.Settings, *ingresses: dict, allow_snippets: bool = False) -> str:
    svc, sl = b.service("web"), b.endpoint_slice("web", "http", 9, "127.0.0.1")
    m = model.build(list(ingresses), model.StaticListers((svc,), (sl,)), allow_snippets=allow_snippets)
    return nginxconf.render(m, settings)


async def test_binary_is_debians() -> None:
    assert nginx.find_binary() == nginx.NGINX_BINARY == "/usr/sbin/nginx"


async def test_start_reload_and_stop_by_pid(nx: tuple[nginx.Nginx, nginxconf.Settings]) -> None:
    proc, settings = nx
    assert await proc.apply(conf(settings)) is True
    pid = proc.pid
    assert pid is not None and alive(pid)
    assert int((proc.state_dir / "nginx.pid").read_text()) == pid
    r = await httpkit.request(settings.http_port, "anything", "/")
    assert r.status == 404
    assert await proc.apply(conf(settings)) is False     # same text: nothing to do
    ing = b.ingress("i", b.rule("h", b.path("/", "web", 80, "Prefix")), annotations={
        "nginx.ingress.kubernetes.io/configuration-snippet": "return 299;"})
    assert await proc.apply(conf(settings, ing, allow_snippets=True)) is True
    await httpkit.eventually(lambda: httpkit.request(settings.http_port, "h", "/"), lambda r: r.status == 299,
                             what="the reloaded configuration")
    assert proc.pid == pid                                 # reloaded in place, same master
    await proc.stop()
    assert proc.pid is None and not alive(pid)
    assert not (proc.state_dir / "nginx.pid").exists()


async def test_bad_configuration_is_never_swapped_in(nx: tuple[nginx.Nginx, nginxconf.Settings]) -> None:
    proc, settings = nx
    good = conf(settings)
    await proc.apply(good)
    bad = b.ingress("i", b.rule("h", b.path("/", "web", 80, "Prefix")), annotations={
        "nginx.ingress.kubernetes.io/configuration-snippet": "no_such_directive on;"})
    with pytest.raises(nginx.ConfigError, match=r'unknown directive "no_such_directive"'):
        await proc.apply(conf(settings, bad, allow_snippets=True))
    assert proc.conf.read_text() == good and proc.current == good
    assert not (proc.state_dir / "nginx.conf.tmp").exists()
    assert (await httpkit.request(settings.http_port, "h", "/")).status == 404


async def test_first_configuration_failing_starts_nothing(nx: tuple[nginx.Nginx, nginxconf.Settings]) -> None:
    proc, _settings = nx
    with pytest.raises(nginx.ConfigError):
        await proc.apply("events {}\nhttp { broken }\n")
    assert proc.pid is None and not proc.conf.exists()


async def test_start_failure_reports_the_error_log(nx: tuple[nginx.Nginx, nginxconf.Settings]) -> None:
    proc, settings = nx
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", settings.http_port))
        busy.listen()
        with pytest.raises(nginx.NginxError, match="Address already in use"):
            await proc.apply(conf(settings))
    assert proc.pid is None


async def test_a_stale_nginx_on_the_state_dir_is_stopped_first(nx: tuple[nginx.Nginx, nginxconf.Settings]) -> None:
    proc, settings = nx
    await proc.apply(conf(settings))
    old_pid = proc.pid
    assert old_pid is not None
    successor = nginx.Nginx(proc.state_dir)   # a restarted controller finds the previous master still running
    try:
        await successor.apply(conf(settings))
        assert successor.pid not in (None, old_pid)
        assert not alive(old_pid)
        assert (await httpkit.request(settings.http_port, "x", "/")).status == 404
    finally:
        await successor.stop()
        await proc.stop()
        assert not alive(old_pid) and not proc.pid_file.exists()


async def test_a_reload_the_master_refuses_keeps_the_old_configuration(
        nx: tuple[nginx.Nginx, nginxconf.Settings]) -> None:
    proc, settings = nx
    await proc.apply(conf(settings))
    pid = proc.pid
    with socket.socket() as busy:     # nginx -t does not bind; the reload itself fails
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        moved = nginxconf.Settings(settings.state_dir, busy.getsockname()[1], settings.https_port, "127.0.0.1", "1")
        with pytest.raises(nginx.NginxError, match="Address already in use"):
            await proc.apply(conf(moved))
    assert proc.pid == pid and proc.current is None
    assert (await httpkit.request(settings.http_port, "x", "/")).status == 404   # still the old listeners
    await proc.apply(conf(settings))                 # the next apply reloads the good configuration again
    assert (await httpkit.request(settings.http_port, "x", "/")).status == 404


async def test_every_construct_the_renderer_emits_passes_nginx_t(nx: tuple[nginx.Nginx, nginxconf.Settings]) -> None:
    proc, settings = nx
    svcs = [*seed.services(), b.service("web"), b.service("v6")]
    slices = [b.endpoint_slice(svc, pname, 9000 + i, "127.0.0.1", ns=seed.NAMESPACE)
              for i, (svc, pname) in enumerate(seed.BACKENDS)]
    slices += [b.endpoint_slice("web", "http", 9, "127.0.0.1"), b.endpoint_slice("v6", "http", 9, "::1")]
    secret = b.tls_secret("tls", "secure.example")
    ingresses = [
        seed.ingress(),
        b.ingress("all", b.rule("secure.example", b.path("/p", "web", 80, "Prefix"), b.path("/e", "web", 80, "Exact"),
                                b.path("/v6", "v6", 80, "Prefix"), b.path("/none", "missing", 80)),
                  b.rule("*.wild.example", b.path("/", "web", 80, "Prefix")),
                  b.rule("", b.path("/hostless", "web", 80, "Prefix")),
                  tls=[{"hosts": ["secure.example"], "secretName": "tls"}], default_backend=("web", 80),
                  annotations={annots.SSL_REDIRECT: "true", annots.FORCE_SSL_REDIRECT: "true",
                               annots.BACKEND_PROTOCOL: "HTTPS", annots.PROXY_BODY_SIZE: "16m"}),
        b.ingress("rw", b.rule("rw.example", b.path("/api(/|$)(.*)", "web", 80), b.path(r"/d/\d{3}", "web", 80)),
                  annotations={annots.REWRITE_TARGET: "/$2", annots.USE_REGEX: "true"}),
    ]
    m = model.build(ingresses, model.StaticListers(tuple(svcs), tuple(slices), (secret,)))
    assert [p for _k, p in m.problems] == ['service "default/missing" not found']
    prepared = await asyncio.to_thread(statedir.prepare, Path(settings.state_dir))
    try:
        for cert in m.certificates:
            certs.write_private(Path(settings.certs_dir) / cert.name, cert.pem)
        conf_path = Path(settings.state_dir) / "check.conf"
        conf_path.write_text(nginxconf.render(m, settings))
        await proc.test(conf_path)
    finally:
        statedir.cleanup(prepared)
