"""IngressController.sync with fake informers, a recording client and a fake nginx: no processes, no HTTP."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from kybernetes.client.rest import ENDPOINTSLICES, SECRETS, SERVICES
from kybernetes.ingress import classes, controller, nginxconf
from kybernetes.ingress.nginx import ConfigError
from tests.controllers.fakes import FakeClient, FakeRecorder
from tests.ingress import builders as b

CONFIG = controller.CONFIG_KEY


class FakeNginx:
    """Records applied configurations; ``reject`` makes the next applies fail like ``nginx -t``."""

    def __init__(self) -> None:
        self.applied: list[str] = []
        self.reject: str | None = None
        self._pid: int | None = None
        self.exited = asyncio.Event()
        self.applying = asyncio.Event()

    @property
    def pid(self) -> int | None:
        return self._pid

    async def apply(self, text: str) -> bool:
        self.applying.set()
        if self.reject:
            raise ConfigError(self.reject)
        self._pid = 4242
        if self.applied and self.applied[-1] == text:
            return False
        self.applied.append(text)
        return True

    async def wait(self) -> int:
        await self.exited.wait()
        self.exited.clear()
        self._pid = None
        return 1


def setup(tmp_path: Path, *objs: tuple, publish: str = "192.0.2.10") -> tuple[
        FakeClient, controller.IngressController, FakeRecorder, FakeNginx]:
    client = FakeClient()
    for res, obj in objs:
        client.add(res, obj)
    (tmp_path / "certs").mkdir()
    rec, nx = FakeRecorder(), FakeNginx()
    infs = [client.informer(r) for r in (classes.INGRESSES, classes.INGRESSCLASSES, SERVICES, ENDPOINTSLICES,
                                         SECRETS)]
    ctrl = controller.IngressController(*infs, client, rec, nx, nginxconf.Settings(str(tmp_path), 8080, 8443),
                                        publish_address=publish)
    return client, ctrl, rec, nx


def lb(client: FakeClient, name: str) -> list | None:
    ing = client.stored(classes.INGRESSES, name, "default")
    assert ing is not None
    return ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress")


BASE = ((classes.INGRESSCLASSES, b.ingress_class()), (SERVICES, b.service("web")),
        (ENDPOINTSLICES, b.endpoint_slice("web", "http", 8080, "10.42.0.7")))


async def test_sync_applies_config_records_sync_and_publishes_status(tmp_path: Path) -> None:
    ing = b.ingress("web", b.rule("web.example.com", b.path("/", "web", 80, "Prefix")), class_name=None)
    client, ctrl, rec, nx = setup(tmp_path, *BASE, (classes.INGRESSES, ing))
    await ctrl.sync(CONFIG)
    assert len(nx.applied) == 1 and "server_name web.example.com;" in nx.applied[0]
    assert "server 10.42.0.7:8080 max_fails=0;" in nx.applied[0]
    assert rec.events == [("web", "Normal", "Sync", "Scheduled for sync")]
    await ctrl.sync("default/web")
    assert lb(client, "web") == [{"ip": "192.0.2.10"}]
    patch = [a for a in client.actions if a.verb == "patch"]
    assert len(patch) == 1 and patch[0].subresource == "status" and patch[0].resource == "ingresses"
    client.clear()
    await ctrl.sync(CONFIG)          # nothing changed: no event, no status write
    await ctrl.sync("default/web")
    assert len(rec.events) == 1 and client.verbs("ingresses") == []


async def test_other_classes_are_ignored_and_status_is_withdrawn(tmp_path: Path) -> None:
    foreign_class = b.ingress_class("traefik", controller="traefik.io/ingress-controller", default=False)
    mine = b.ingress("mine", b.rule("a", b.path("/", "web", 80, "Prefix")))
    theirs = b.ingress("theirs", b.rule("b", b.path("/", "web", 80, "Prefix")), class_name="traefik")
    client, ctrl, rec, nx = setup(tmp_path, *BASE, (classes.INGRESSCLASSES, foreign_class),
                                  (classes.INGRESSES, mine), (classes.INGRESSES, theirs))
    await ctrl.sync(CONFIG)
    for key in ("default/mine", "default/theirs"):
        await ctrl.sync(key)
    assert "server_name a;" in nx.applied[-1] and "server_name b;" not in nx.applied[-1]
    assert lb(client, "mine") == [{"ip": "192.0.2.10"}] and lb(client, "theirs") is None
    assert [e[0] for e in rec.events] == ["mine"]
    # the Ingress moves to the other class: out of nginx, and our address leaves its status
    await client.patch(classes.INGRESSES, "mine", {"spec": {"ingressClassName": "traefik"}}, "default")
    await ctrl.sync(CONFIG)
    await ctrl.sync("default/mine")
    assert "server_name a;" not in nx.applied[-1]
    assert lb(client, "mine") is None


async def test_rejected_config_warns_the_changed_ingress_once(tmp_path: Path) -> None:
    good = b.ingress("good", b.rule("a", b.path("/", "web", 80, "Prefix")))
    client, ctrl, rec, nx = setup(tmp_path, *BASE, (classes.INGRESSES, good))
    await ctrl.sync(CONFIG)
    applied = list(nx.applied)
    nx.reject = 'nginx: [emerg] unknown directive "bogus" in /x/nginx.conf.tmp:60'
    client.add(classes.INGRESSES, b.ingress("bad", b.rule("b", b.path("/", "web", 80, "Prefix"))))
    await ctrl.sync(CONFIG)
    await ctrl.sync(CONFIG)          # the same rejected text again: no second event
    assert nx.applied == applied
    assert rec.events[1:] == [("bad", "Warning", "RELOAD", f"Error reloading NGINX: {nx.reject}")]
    await ctrl.sync("default/bad")   # not served, so no address published
    assert lb(client, "bad") is None
    nx.reject = None
    await ctrl.sync(CONFIG)
    assert rec.events[-1] == ("bad", "Normal", "Sync", "Scheduled for sync")


async def test_tls_files_are_private_and_pruned(tmp_path: Path) -> None:
    ing = b.ingress("tls", b.rule("s", b.path("/", "web", 80, "Prefix")),
                    tls=[{"hosts": ["s"], "secretName": "cert"}])
    client, ctrl, _rec, nx = setup(tmp_path, *BASE, (SECRETS, b.tls_secret("cert", "s")),
                                   (classes.INGRESSES, ing))
    await ctrl.sync(CONFIG)
    [path] = list((tmp_path / "certs").glob("default-cert-*.pem"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert f"ssl_certificate {path};" in nx.applied[-1]
    await client.delete(classes.INGRESSES, "tls", "default")
    await ctrl.sync(CONFIG)
    assert not path.exists()


async def test_run_starts_after_cache_sync_and_restarts_nginx(tmp_path: Path) -> None:
    client, ctrl, _rec, nx = setup(tmp_path, *BASE)
    task = asyncio.create_task(ctrl.run())
    try:
        client.add(classes.INGRESSES, b.ingress("late", b.rule("late", b.path("/", "web", 80, "Prefix"))))
        await client.wait_for(lambda: lb(client, "late") == [{"ip": "192.0.2.10"}], 5)
        before = len(nx.applied)
        nx.applying.clear()
        nx.exited.set()              # nginx dies: the supervisor asks for a config sync, which starts it again
        await asyncio.wait_for(nx.applying.wait(), 5)
        assert nx.pid == 4242 and len(nx.applied) == before
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.parametrize("exists", [False, True])
async def test_ensure_ingress_class(exists: bool) -> None:
    client = FakeClient()
    if exists:
        client.add(classes.INGRESSCLASSES, b.ingress_class("nginx", controller="someone.else/x", default=False))
    await controller.ensure_ingress_class(client, "nginx", classes.CONTROLLER)
    stored = client.stored(classes.INGRESSCLASSES, "nginx")
    assert stored is not None
    assert stored["spec"]["controller"] == ("someone.else/x" if exists else classes.CONTROLLER)
    assert classes.is_default(stored) is not exists
