"""The ingress controller: informers → one nginx configuration → nginx, plus Ingress status and events.

Informer callbacks only enqueue keys: :data:`CONFIG_KEY` (rebuild nginx.conf) and Ingress ``ns/name``
keys (publish status). ``sync`` reads the caches only: the config sync selects our Ingresses
(``ingress/classes.py``), builds the model (``ingress/model.py``), writes the TLS files it names,
renders (``ingress/nginxconf.py``) and applies it (``ingress/nginx.py``) — nothing happens when the
text is unchanged. On success each Ingress that is new or changed gets ``Sync`` "Scheduled for
sync" (ingress-nginx's event) and its status is set to the publish address through
``ingresses/status``; a configuration nginx rejects leaves the old one serving and records a
Warning ``RELOAD`` "Error reloading NGINX: <nginx's message>" on the Ingresses that changed.
``run_ingress_controller`` wires the informers, the recorder and the nginx process for one node.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import os
from pathlib import Path
from typing import Any, Protocol

import orjson

from kybernetes.client.errors import AlreadyExistsError, ApiError, NotFoundError
from kybernetes.client.events import NORMAL, WARNING, EventRecorder
from kybernetes.client.informer import Informer, key_of
from kybernetes.client.rest import ENDPOINTSLICES, SECRETS, SERVICES
from kybernetes.client.workqueue import WorkQueue
from kybernetes.ingress import certs, classes, model, nginxconf, statedir
from kybernetes.ingress.nginx import ConfigError, Nginx, NginxError

__all__ = ["CONFIG_KEY", "IngressController", "run_ingress_controller"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
CONFIG_KEY = "<nginx.conf>"
COMPONENT = "nginx-ingress-controller"
SYNC = "Sync"
RELOAD = "RELOAD"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_MESSAGE = 1024          # events.k8s.io caps a note at 1 KiB; keep core Events as short


class Recorder(Protocol):
    def record(self, obj: Obj, type_: str, reason: str, message: str) -> None: ...


class Applier(Protocol):
    """What the controller needs of ``ingress.nginx.Nginx``."""

    @property
    def pid(self) -> int | None: ...

    async def apply(self, text: str) -> bool: ...

    async def wait(self) -> int: ...


class InformerListers:
    """:class:`model.Listers` over the controller's informers (EndpointSlices indexed by Service)."""

    def __init__(self, services: Informer, slices: Informer, secrets: Informer) -> None:
        self.services, self.slices, self.secrets = services, slices, secrets
        slices.add_index("service", _slice_service)

    def service(self, namespace: str, name: str) -> Obj | None:
        return self.services.get(f"{namespace}/{name}")

    def endpoint_slices(self, namespace: str, service: str) -> list[Obj]:
        return self.slices.by_index("service", f"{namespace}/{service}")

    def secret(self, namespace: str, name: str) -> Obj | None:
        return self.secrets.get(f"{namespace}/{name}")


def _slice_service(sl: Obj) -> list[str]:
    md = sl.get("metadata") or {}
    svc = (md.get("labels") or {}).get(model.SERVICE_NAME_LABEL)
    return [f"{md.get('namespace', '')}/{svc}"] if svc else []


def _digest(ing: Obj) -> str:
    """What makes an Ingress "changed" for events: identity, spec and annotations (not status)."""
    md = ing.get("metadata") or {}
    ann = {k: v for k, v in (md.get("annotations") or {}).items() if k != LAST_APPLIED}
    raw = orjson.dumps([md.get("uid"), ing.get("spec"), ann], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(raw).hexdigest()


def load_balancer_entry(address: str) -> Obj:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return {"hostname": address}
    return {"ip": address}


class IngressController:
    """Keeps nginx serving exactly the Ingresses of our classes, and their status pointing at us."""

    name = "ingress-nginx"

    def __init__(self, ingresses: Informer, ingress_classes: Informer, services: Informer, slices: Informer,
                 secrets: Informer, client: Any, recorder: Recorder, nginx: Applier, settings: nginxconf.Settings,
                 *, publish_address: str, controller: str = classes.CONTROLLER, allow_snippets: bool = False) -> None:
        self.ingresses, self.ingress_classes = ingresses, ingress_classes
        self.listers = InformerListers(services, slices, secrets)
        self._informers = (ingresses, ingress_classes, services, slices, secrets)
        self.client, self.recorder, self.nginx, self.settings = client, recorder, nginx, settings
        self.publish = [load_balancer_entry(publish_address)] if publish_address else []
        self.controller = controller
        self.allow_snippets = allow_snippets
        self.queue = WorkQueue()
        self.applied: dict[str, str] = {}       # ns/name → digest of the Ingresses nginx runs
        self._failed: str | None = None         # last rejected configuration text
        self._problems: tuple[tuple[str, str], ...] = ()
        self._running = asyncio.Event()
        self._stopping = False
        ingresses.add_handlers(on_add=self._ingress_changed, on_update=self._ingress_updated,
                               on_delete=self._ingress_changed)
        ingress_classes.add_handlers(on_add=self._classes_changed, on_update=lambda _o, n: self._classes_changed(n),
                                     on_delete=self._classes_changed)
        for inf in (services, slices, secrets):
            inf.add_handlers(on_add=self._config_changed, on_update=lambda _o, n: self._config_changed(n),
                             on_delete=self._config_changed)

    # --- callbacks: keys only -----------------------------------------------------------------------
    def _config_changed(self, _obj: Obj) -> None:
        self.queue.add(CONFIG_KEY)

    def _ingress_changed(self, ing: Obj) -> None:
        self.queue.add(CONFIG_KEY)
        self.queue.add(key_of(ing))

    def _ingress_updated(self, old: Obj, new: Obj) -> None:
        if _digest(old) != _digest(new):
            self.queue.add(CONFIG_KEY)
        self.queue.add(key_of(new))

    def _classes_changed(self, _obj: Obj) -> None:
        self.queue.add(CONFIG_KEY)
        for ing in self.ingresses.list():
            self.queue.add(key_of(ing))

    # --- sync ---------------------------------------------------------------------------------------
    def ours(self) -> list[Obj]:
        mine = classes.our_classes(self.ingress_classes.list(), self.controller)
        return [ing for ing in self.ingresses.list() if classes.is_ours(ing, mine)]

    async def sync(self, key: str) -> None:
        if key == CONFIG_KEY:
            await self.sync_config()
        else:
            await self.sync_status(key)

    async def sync_config(self) -> None:
        ours = self.ours()
        m = model.build(ours, self.listers, allow_snippets=self.allow_snippets)
        if m.problems != self._problems:
            for ing_key, problem in m.problems:
                log.warning("Ingress %s: %s", ing_key, problem)
            self._problems = m.problems
        await asyncio.to_thread(self._write_certificates, m)
        text = nginxconf.render(m, self.settings)
        digests = {key_of(ing): _digest(ing) for ing in ours}
        try:
            await self.nginx.apply(text)
        except ConfigError as e:
            if text != self._failed:
                self._failed = text
                log.error("nginx rejected the new configuration; keeping the old one: %s", e)
                changed = [ing for ing in ours if self.applied.get(key_of(ing)) != digests[key_of(ing)]]
                message = f"Error reloading NGINX: {e}"[:MAX_MESSAGE]
                for ing in changed or ours:
                    self.recorder.record(ing, WARNING, RELOAD, message)
            return
        self._failed = None
        if self.nginx.pid is not None:
            self._running.set()
        for ing in ours:
            if self.applied.get(key_of(ing)) != digests[key_of(ing)]:
                self.recorder.record(ing, NORMAL, SYNC, "Scheduled for sync")
        gone = set(self.applied) - set(digests)
        self.applied = digests
        for ing_key in sorted(set(digests) | gone):
            self.queue.add(ing_key)
        await asyncio.to_thread(self._remove_stale_certificates, m)

    def _write_certificates(self, m: model.Model) -> None:
        certs_dir = Path(self.settings.certs_dir)
        for cert in m.certificates:
            path = certs_dir / cert.name
            if not path.exists():
                certs.write_private(path, cert.pem)

    def _remove_stale_certificates(self, m: model.Model) -> None:
        keep = {c.name for c in m.certificates} | {Path(self.settings.default_certificate).name}
        for path in Path(self.settings.certs_dir).glob("*.pem"):
            if path.name not in keep:
                path.unlink(missing_ok=True)

    async def sync_status(self, key: str) -> None:
        ing = self.ingresses.get(key)
        if ing is None:
            return
        current = ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        current = [{k: v for k, v in e.items() if k in ("ip", "hostname")} for e in current]
        if key in self.applied:
            want: list[Obj] | None = self.publish
        elif self.publish and current == self.publish:
            want = None         # no longer ours: withdraw the address we published
        else:
            return
        if (want or []) == current:
            return
        md = ing["metadata"]
        try:
            await self.client.patch(classes.INGRESSES, md["name"], {"status": {"loadBalancer": {"ingress": want}}},
                                    md.get("namespace"), subresource="status")
        except NotFoundError:
            return
        log.info("Ingress %s: load balancer %s", key, ", ".join(str(next(iter(e.values()))) for e in want or [])
                 or "cleared")

    # --- loop ---------------------------------------------------------------------------------------
    async def run(self, workers: int = 1) -> None:
        log.info("Starting %s controller", self.name)
        try:
            await asyncio.gather(*(inf.wait_synced() for inf in self._informers))
            self.queue.add(CONFIG_KEY)
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._supervise(), name=f"{self.name}-supervisor")
                for i in range(workers):
                    tg.create_task(self._worker(), name=f"{self.name}-{i}")
        finally:
            self._stopping = True
            await self.queue.shutdown()
            log.info("Shutting down %s controller", self.name)

    async def _worker(self) -> None:
        while (key := await self.queue.get()) is not None:
            try:
                await self.sync(key)
                self.queue.forget(key)
            except (ApiError, NginxError, OSError) as e:
                log.warning("%s: error syncing %s: %s", self.name, key, e)
                self.queue.add_rate_limited(key)
            except Exception:
                log.exception("%s: error syncing %s", self.name, key)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)

    async def _supervise(self) -> None:
        """Restart nginx (through a config sync) whenever its master process exits on its own."""
        while True:
            await self._running.wait()
            pid = self.nginx.pid
            if pid is None:
                self._running.clear()
                continue
            code = await self.nginx.wait()
            if self._stopping:
                return
            log.error("nginx (pid %d) exited with status %d; restarting it", pid, code)
            self._running.clear()
            self.queue.add(CONFIG_KEY)


async def ensure_ingress_class(client: Any, name: str, controller: str) -> None:
    """Create our default IngressClass ``name`` unless an IngressClass by that name exists."""
    try:
        await client.get(classes.INGRESSCLASSES, name)
        return
    except NotFoundError:
        pass
    try:
        await client.create(classes.INGRESSCLASSES, classes.default_class(name, controller))
        log.info("Created IngressClass %s (controller %s, default class)", name, controller)
    except AlreadyExistsError:
        pass


async def run_ingress_controller(client: Any, stop: asyncio.Event, *, state_dir: str | os.PathLike[str],
                                 http_port: int = 80, https_port: int = 443, listen_address: str = "0.0.0.0",
                                 publish_address: str = "127.0.0.1", ingress_class: str = classes.DEFAULT_CLASS_NAME,
                                 create_class: bool = True, controller: str = classes.CONTROLLER,
                                 allow_snippets: bool = False, worker_processes: str = "auto",
                                 nginx_binary: str | None = None, recorder: Recorder | None = None) -> None:
    """Run the ingress controller and its nginx until ``stop`` is set; nginx is stopped on the way out."""
    if http_port == https_port:
        raise ValueError(f"the HTTP and HTTPS ports must differ (both {http_port}); pick another https_port")
    state_files = await asyncio.to_thread(statedir.prepare, Path(state_dir))
    state = state_files.path
    if create_class:
        try:
            await ensure_ingress_class(client, ingress_class, controller)
        except ApiError as e:
            log.warning("Could not create IngressClass %s: %s", ingress_class, e)
    settings = nginxconf.Settings(str(state), http_port, https_port, listen_address, worker_processes,
                                  temp_dir=str(state_files.temp))
    ingresses, ingress_classes, services, slices, secrets = (
        Informer(client, res) for res in (classes.INGRESSES, classes.INGRESSCLASSES, SERVICES, ENDPOINTSLICES, SECRETS))
    informers = (ingresses, ingress_classes, services, slices, secrets)
    own_recorder = EventRecorder(client, COMPONENT) if recorder is None else None
    nginx = Nginx(state, nginx_binary)
    ctrl = IngressController(ingresses, ingress_classes, services, slices, secrets, client,
                             recorder or own_recorder or EventRecorder(client, COMPONENT), nginx, settings,
                             publish_address=publish_address, controller=controller, allow_snippets=allow_snippets)
    if own_recorder is not None:
        own_recorder.start()
    for inf in informers:
        inf.start()
    log.info("Running ingress controller on %s (http %d, https %d), state in %s",
             listen_address, http_port, https_port, state)
    task = asyncio.create_task(ctrl.run(), name="ingress-controller")
    stopped = asyncio.create_task(stop.wait(), name="ingress-controller-stop")
    try:
        await asyncio.wait((task, stopped), return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # the controller ended on its own: surface why
    finally:
        for t in (task, stopped):
            t.cancel()
        await asyncio.gather(task, stopped, return_exceptions=True)
        await nginx.stop()
        await asyncio.to_thread(statedir.cleanup, state_files)
        await asyncio.gather(*(inf.stop() for inf in informers))
        if own_recorder is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(own_recorder.flush(), 5)
            await own_recorder.stop()
