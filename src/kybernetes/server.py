"""Composition root of ``kyb server``: PKI → store → API server (→ later controllers, scheduler,
embedded agent), each started once, in order, and stopped in reverse on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import logging
import secrets
import signal
import socket
import ssl
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from aiohttp import web

from kybernetes.apiserver import certs, fastlane
from kybernetes.apiserver.app import ApiServer, ApiServerConfig, make_app
from kybernetes.apiserver.authn import User
from kybernetes.apiserver.nodecredentials import BOOTSTRAP_USER
from kybernetes.store.interface import Store

if TYPE_CHECKING:
    from kybernetes.controllers.nodeipam import IPAMConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    data_dir: Path
    bind_address: str = "0.0.0.0"
    https_listen_port: int = 6443
    datastore_endpoint: str = ""
    advertise_address: str = "127.0.0.1"
    service_cidr: str = "10.43.0.0/16"
    cluster_cidr: str = "10.42.0.0/16"
    node_cidr_mask_size: int = 0  # each node's pod range (0: /24 for IPv4, /64 for IPv6)
    disable_agent: bool = False
    disable_controller_manager: bool = False
    disable_scheduler: bool = False
    node_name: str = ""  # embedded agent's node (default: the host name)
    node_ip: str = ""  # embedded agent's address (default: the advertise address)
    kubelet_port: int = 10250
    kubelet_backoff_base: float = 10.0  # first CrashLoopBackOff / image pull back-off delay
    disable: frozenset[str] = frozenset()  # packaged components not to run (PACKAGED_COMPONENTS)
    disable_kube_proxy: bool = False
    ingress_http_port: int = 80
    ingress_https_port: int = 443
    cluster_domain: str = "cluster.local"
    registries: Path | None = None  # embedded agent's registries.yaml (default <data-dir>/agent/etc/registries.yaml)


#: What ``--disable`` turns off, as k3s's ``--disable coredns,servicelb,traefik``: cluster DNS and
#: the ingress controller run with the embedded agent (they serve its node), ServiceLB and the
#: local-path provisioner (with its default StorageClass) always.
PACKAGED_COMPONENTS = ("dns", "servicelb", "ingress", "local-storage")
#: k3s's names for the same components, so its command lines work here too
COMPONENT_ALIASES = {"coredns": "dns", "traefik": "ingress"}


def disabled_components(values: list[str]) -> frozenset[str]:
    """``--disable`` values (repeatable, comma-separated) as canonical component names."""
    out = set()
    for value in values:
        for name in filter(None, (v.strip() for v in value.split(","))):
            name = COMPONENT_ALIASES.get(name, name)
            if name not in PACKAGED_COMPONENTS:
                raise ValueError(f"--disable {name}: unknown component; use any of "
                                 f"{', '.join(PACKAGED_COMPONENTS)} (or k3s's coredns, traefik)")
            out.add(name)
    return frozenset(out)


def cluster_dns_ip(service_cidr: str) -> str:
    """The kube-dns ClusterIP: the tenth address of the service range (10.43.0.10), as in k3s."""
    return str(ipaddress.ip_network(service_cidr, strict=False)[10])


def open_store(endpoint: str, data_dir: Path) -> Store:
    """``""``/``sqlite://`` → embedded SQLite under the data dir; ``sqlite:///abs/path.db`` → that file."""
    from kybernetes.store.sqlite import SQLiteStore

    if not endpoint or endpoint == "sqlite://":
        db = data_dir / "server" / "db" / "state.db"
    elif endpoint.startswith("sqlite://"):
        db = Path(endpoint[len("sqlite://"):])
    else:
        raise ValueError(f"unsupported --datastore-endpoint {endpoint!r}: use sqlite:///path (etcd support is "
                         "not available yet)")
    db.parent.mkdir(parents=True, exist_ok=True)
    return SQLiteStore(str(db))


# The collector's generations (gc.set_threshold). A collection traverses every object of its
# generations still alive, and each write leaves many behind (watch cache entries and window,
# informer caches), so Python's defaults (700, 10, 10) cost tens of µs per request and, under
# sustained writes, full collections (tens of ms each) every few seconds. Young collections every
# 5k net allocations and the middle one every 5 of those keep each pause at a few ms; a full
# collection needs 100 middle ones (and the heap grown by a quarter, as always).
GC_THRESHOLDS = (5_000, 5, 100)


def tune_gc() -> None:
    """Once serving: what start-up built (modules, schemas, caches) lives as long as the process,
    so it moves out of the collector's way (``gc.freeze``); then collection resumes, tuned."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    gc.enable()


def server_url(cfg: ServerConfig) -> str:
    host = cfg.bind_address if cfg.bind_address not in ("0.0.0.0", "::", "") else cfg.advertise_address
    return f"https://{host}:{cfg.https_listen_port}"


def component_client(url: str, pki: certs.Pki, token: str | None, user_agent: str,
                     cert: tuple[Path, Path] | None = None, unix_socket: str = "") -> Any:
    """A client for an embedded component: it reaches the API over HTTPS like a remote one would,
    with a token or a client certificate (``cert``: certificate and key files). A component with a
    token goes through ``unix_socket`` instead when there is one: the same requests and
    authentication, without TLS on both ends of a connection inside this process."""
    from kybernetes.client.rest import Client, ClientConfig

    ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
    if cert is not None:
        ctx.load_cert_chain(*cert)
    return Client(ClientConfig(url, ctx, token, user_agent, unix_socket=unix_socket if cert is None else ""))


async def run_components(cfg: ServerConfig, pki: certs.Pki, tokens: dict[str, str], stop: asyncio.Event,
                         ipam: IPAMConfig | None = None, sock: str = "") -> None:
    """Controller manager, scheduler, the embedded agent (kubelet + kube-proxy), cluster DNS, the
    ingress controller and ServiceLB, each with its own identity (started after the API is up)."""
    url = f"https://127.0.0.1:{cfg.https_listen_port}" if cfg.bind_address in ("0.0.0.0", "::", "127.0.0.1") \
        else server_url(cfg)
    identity = f"{socket.gethostname()}_{uuid.uuid4()}"
    clients = []
    try:
        async with asyncio.TaskGroup() as tg:
            if not cfg.disable_controller_manager:
                from kybernetes.controllers.manager import run_controller_manager

                client = component_client(url, pki, tokens["kube-controller-manager"], "kube-controller-manager", unix_socket=sock)
                clients.append(client)
                log.info("Running kube-controller-manager")
                tg.create_task(run_controller_manager(client, stop, identity, root_ca_pem=pki.ca_cert.read_text(),
                                                      ipam=ipam),
                               name="kube-controller-manager")
            if not cfg.disable_agent:
                # the node's own identity, system:node:<name>, as a joining agent gets it
                cert = await asyncio.to_thread(certs.issue_node_credentials, pki, embedded_node_name(cfg),
                                               cfg.data_dir / "agent")
                kubelet = component_client(url, pki, None, "kubelet", cert=cert)
                proxy = None if cfg.disable_kube_proxy else \
                    component_client(url, pki, tokens["kube-proxy"], "kube-proxy", unix_socket=sock)
                clients += [c for c in (kubelet, proxy) if c is not None]
                tg.create_task(run_embedded_agent(cfg, pki, kubelet, proxy, stop), name="agent")
                if "dns" not in cfg.disable:
                    client = component_client(url, pki, tokens["kube-dns"], "kube-dns", unix_socket=sock)
                    clients.append(client)
                    tg.create_task(run_packaged("dns", run_cluster_dns(cfg, client, stop)), name="dns")
                if "ingress" not in cfg.disable:
                    client = component_client(url, pki, tokens["ingress-nginx"], "nginx-ingress-controller", unix_socket=sock)
                    clients.append(client)
                    tg.create_task(run_packaged("ingress", run_ingress(cfg, client, stop)), name="ingress")
            if "servicelb" not in cfg.disable:
                from kybernetes.network.servicelb import run_servicelb

                client = component_client(url, pki, tokens["servicelb"], "service-lb-controller", unix_socket=sock)
                clients.append(client)
                log.info("Running ServiceLB")
                tg.create_task(run_packaged("servicelb", run_servicelb(client, stop)), name="servicelb")
            if "local-storage" not in cfg.disable:
                client = component_client(url, pki, tokens["local-path-provisioner"], "local-path-provisioner", unix_socket=sock)
                clients.append(client)
                tg.create_task(run_packaged("local-storage", run_local_storage(cfg, client, stop)),
                               name="local-storage")
            if not cfg.disable_scheduler:
                from kybernetes.scheduler import run_scheduler

                client = component_client(url, pki, tokens["kube-scheduler"], "kube-scheduler", unix_socket=sock)
                clients.append(client)
                log.info("Running kube-scheduler")
                tg.create_task(run_scheduler(client, stop, identity), name="kube-scheduler")
    finally:
        for c in clients:
            await c.close()


async def run_local_storage(cfg: ServerConfig, client: Any, stop: asyncio.Event) -> None:
    """k3s's local-storage: the default ``local-path`` StorageClass and the provisioner's config
    (volumes under ``<data-dir>/storage`` on each node), then the provisioner itself."""
    from kybernetes.controllers import localpathprovisioner

    await localpathprovisioner.install(client, str(cfg.data_dir / "storage"))
    log.info("Running local-path-provisioner")
    await localpathprovisioner.run_local_path_provisioner(client, stop)


def embedded_node_name(cfg: ServerConfig) -> str:
    return cfg.node_name or socket.gethostname().lower()


async def run_embedded_agent(cfg: ServerConfig, pki: certs.Pki, client: Any, proxy_client: Any | None,
                             stop: asyncio.Event) -> None:
    """The node agent joins like a remote one would (node token, HTTPS), as k3s's embedded agent does."""
    from kybernetes.agent import run_node

    try:
        await run_node(client, proxy_client, stop, node_name=embedded_node_name(cfg),
                       node_ip=cfg.node_ip or cfg.advertise_address, data_dir=cfg.data_dir,
                       cluster_cidr=cfg.cluster_cidr, control_plane=True, client_ca_file=pki.ca_cert,
                       server_port=cfg.kubelet_port, backoff_base=cfg.kubelet_backoff_base,
                       cluster_dns=(cluster_dns_ip(cfg.service_cidr),), cluster_domain=cfg.cluster_domain,
                       registries=cfg.registries)
    except Exception:
        log.exception("the embedded agent failed (it needs root and containerd: run scripts/install); "
                      "use --disable-agent to run the control plane alone")
        raise


async def run_packaged(name: str, component: Coroutine[Any, Any, None]) -> None:
    """A packaged component: its failure is logged with the way to turn it off, and the rest of the
    server keeps running (as a failing CoreDNS or Traefik pod leaves k3s up)."""
    try:
        await component
    except Exception:
        log.exception("%s failed and is not running (pass --disable %s to leave it off)", name, name)


async def run_cluster_dns(cfg: ServerConfig, client: Any, stop: asyncio.Event) -> None:
    """Cluster DNS on the embedded node's pod gateway, as the kube-dns Service's endpoint."""
    from kybernetes.kubelet.config import DEFAULT_POD_CIDR
    from kybernetes.network.dns import run_node_dns

    await run_node_dns(client, stop, embedded_node_name(cfg), DEFAULT_POD_CIDR, cluster_domain=cfg.cluster_domain)


async def run_ingress(cfg: ServerConfig, client: Any, stop: asyncio.Event) -> None:
    """The nginx ingress controller on the node's ports (80/443 unless configured)."""
    from kybernetes.ingress import nginx, run_ingress_controller

    if nginx.find_binary() is None:
        raise RuntimeError("nginx is not installed (scripts/install installs nginx-light)")
    await run_ingress_controller(client, stop, state_dir=cfg.data_dir / "agent" / "ingress",
                                 http_port=cfg.ingress_http_port, https_port=cfg.ingress_https_port,
                                 publish_address=cfg.node_ip or cfg.advertise_address)


async def serve_components_socket(front: fastlane.Front, path: Path) -> str:
    """The API on a unix socket only this user can open (``<data-dir>/server/api.sock``), for the
    components running inside the server; "" if the path is too long for a socket."""
    if len(str(path).encode()) >= 108:
        log.info("the data dir path is too long for a unix socket: embedded components use HTTPS")
        return ""
    await asyncio.to_thread(path.unlink, missing_ok=True)
    await front.listen_unix(str(path))
    await asyncio.to_thread(path.chmod, 0o600)  # connecting needs write permission: the owner's alone
    return str(path)


async def run(cfg: ServerConfig, started: asyncio.Event | None = None) -> None:
    t0 = time.monotonic()
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    pki = await asyncio.to_thread(certs.ensure_pki, cfg.data_dir, [cfg.bind_address, cfg.advertise_address])
    admin = User("system:admin", ("system:masters", "system:authenticated"))
    store = open_store(cfg.datastore_endpoint, cfg.data_dir)
    # embedded components authenticate with per-start tokens (never written to disk)
    component_tokens = {name: secrets.token_hex(32) for name in ("kube-controller-manager", "kube-scheduler",
                                                                 "kube-proxy", "kube-dns", "ingress-nginx",
                                                                 "servicelb", "local-path-provisioner")}
    api = ApiServer(ApiServerConfig(service_cidr=cfg.service_cidr,
                                    server_address=f"{cfg.advertise_address}:{cfg.https_listen_port}",
                                    tokens={**{tok: User(f"system:{name}", ("system:masters", "system:authenticated"))
                                               for name, tok in component_tokens.items()},
                                            pki.admin_token: admin,
                                            # the join token only buys node credentials (/v1-kybernetes/...)
                                            pki.node_token: BOOTSTRAP_USER, pki.join_token: BOOTSTRAP_USER},
                                    cluster_ca_cert=pki.ca_cert, cluster_ca_key=pki.ca_key,
                                    service_account_key=pki.dir / "service-account.key",
                                    kubelet_client_cert=pki.admin_cert, kubelet_client_key=pki.admin_key,
                                    cluster_dns_service="dns" not in cfg.disable), store)
    app = make_app(api)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    # the handlers only read what fastlane.Request has of an aiohttp request
    front = fastlane.Front(runner, cast(fastlane.Handler, api.serve_api))
    await front.listen_tcp(cfg.bind_address, cfg.https_listen_port, pki.server_ssl_context(), backlog=1024)
    sock = await serve_components_socket(front, cfg.data_dir / "server" / "api.sock")
    kubeconfig = cfg.data_dir / "kubeconfig.yaml"
    await asyncio.to_thread(certs.write_kubeconfig, kubeconfig, pki, server_url(cfg))
    log.info("Running kube-apiserver on %s (ready in %.0f ms); kubeconfig at %s", server_url(cfg),
             (time.monotonic() - t0) * 1000, kubeconfig)
    if started is not None:
        started.set()
    tune_gc()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        # imported once serving (the controllers' import is slow); a bad flag stops the server here
        from kybernetes.controllers import nodeipam

        ipam = nodeipam.IPAMConfig.parse(cfg.cluster_cidr, cfg.node_cidr_mask_size, cfg.service_cidr)
        await run_components(cfg, pki, component_tokens, stop, ipam, sock)
        await stop.wait()
    finally:
        log.info("Shutting down")
        await front.close()
        await runner.cleanup()
