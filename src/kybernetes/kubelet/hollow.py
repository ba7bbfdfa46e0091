"""Hollow nodes (like kwok): one agent process simulates N kubelets without containers. Each node is
registered, heartbeats through its Lease in kube-node-lease (every 10 s) and posts node status
(every 5 min, the kubelet's report frequency for a status that does not change); pods bound to it
are reported Running and Ready at once, with a pod IP from the node's podCIDR (``spec.podCIDR`` as
the controller manager's nodeipam assigns it, read back from the API's answers and, while missing,
when a pod needs an address: after 5 s, then ever less often, up to every 5 min; else derived:
10.42.<i>.0/24 for up to 256 nodes, /24s of 100.64.0.0/10 beyond)
and containerd-looking container statuses. A pod being deleted is "stopped" at once and removed
with ``DELETE gracePeriodSeconds=0`` (uid precondition).

Pods that should finish: annotate ``kybernetes.io/hollow-exit-code: "<n>"`` (optionally
``kybernetes.io/hollow-runtime-seconds: "<s>"``, default 0). With restartPolicy Never or OnFailure the
pod runs that long, then goes Succeeded (exit 0) or — Never — Failed; OnFailure with a non-zero code
is reported Running after one simulated restart. restartPolicy Always pods keep running.

Entry point: ``run_hollow_agent(client, stop, count, prefix, ...)`` (``kyb agent --hollow N``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import math
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from kybernetes.api.printing import format_time, parse_time
from kybernetes.client.errors import AlreadyExistsError, ApiError, ConflictError, NotFoundError
from kybernetes.client.informer import Informer
from kybernetes.client.rest import LEASES, NODES, PODS, Client
from kybernetes.client.workqueue import WorkQueue
from kybernetes.kubelet import nodestatus
from kybernetes.kubelet.nodestatus import NodeConfig

log = logging.getLogger(__name__)

Obj = dict[str, Any]
ANNOTATION_EXIT_CODE = "kybernetes.io/hollow-exit-code"
ANNOTATION_RUNTIME = "kybernetes.io/hollow-runtime-seconds"
NODE_IP_BASE = ipaddress.IPv4Address("198.18.0.0")  # RFC 2544 benchmarking range: fake node addresses
SMALL_POD_RANGE = ipaddress.IPv4Network("10.42.0.0/16")
LARGE_POD_RANGE = ipaddress.IPv4Network("100.64.0.0/10")
TICK = 0.1
# seconds between reads of a Node still without podCIDR, when a pod needs an IP: doubling from 5 s to
# 5 min (without a controller manager — a bare benchmark — none ever comes; status answers bring it too)
CIDR_RECHECK, CIDR_RECHECK_MAX = 5.0, 300.0
ASSIGNED = "spec.nodeName!="
STATUS_INTERVAL = 300.0  # the kubelet's nodeStatusReportFrequency: a hollow node's status never changes


@dataclass(frozen=True, slots=True)
class HollowConfig:
    count: int
    prefix: str = "hollow-"
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[Obj, ...] = ()
    cpu: str = "4"
    memory: str = "16Gi"
    pods: int = 110
    lease_duration: int = 40
    lease_interval: float = 10.0
    status_interval: float = STATUS_INTERVAL
    workers: int = 32
    concurrency: int = 32  # parallel heartbeats / registrations


def pod_cidr(index: int, count: int) -> ipaddress.IPv4Network:
    base = SMALL_POD_RANGE if count <= 256 else LARGE_POD_RANGE
    return ipaddress.IPv4Network((int(base.network_address) + index * 256, 24))


def normalize_image(image: str) -> str:
    """What containerd reports: ``nginx`` → ``docker.io/library/nginx:latest``."""
    name = image
    first = name.split("/", 1)[0]
    if "/" not in name or not ("." in first or ":" in first or first == "localhost"):
        name = "docker.io/" + (name if "/" in name else "library/" + name)
    if "@" not in name and ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return name


def image_id(image: str) -> str:
    repo = image.split("@", 1)[0].rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image.split("@")[0]
    return f"{repo}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def qos_class(spec: Obj) -> str:
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    requests, limits, guaranteed = False, False, True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        requests = requests or bool(req) or bool(lim)
        limits = limits or bool(lim)
        for r in ("cpu", "memory"):
            if r not in lim or req.get(r, lim[r]) != lim[r]:
                guaranteed = False
    if not requests:
        return "BestEffort"
    return "Guaranteed" if guaranteed and limits else "Burstable"


def _condition(type_: str, status: str, now: str, reason: str = "", message: str = "") -> Obj:
    c: Obj = {"type": type_, "status": status, "lastProbeTime": None, "lastTransitionTime": now}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def pod_status(pod: Obj, host_ip: str, pod_ip: str, now: str, exit_code: int | None = None) -> Obj:
    """The status a kubelet posts: running and ready, or (``exit_code`` given) terminated."""
    spec, old = pod.get("spec") or {}, pod.get("status") or {}
    start = old.get("startTime") or now
    by_name = {s.get("name"): s for s in [*(old.get("containerStatuses") or []),
                                           *(old.get("initContainerStatuses") or [])]}
    restart_policy = spec.get("restartPolicy") or "Always"
    done = exit_code is not None and not (exit_code != 0 and restart_policy == "OnFailure")
    phase = "Running" if not done else ("Succeeded" if exit_code == 0 else "Failed")

    def status(c: Obj, init: bool) -> Obj:
        prev = by_name.get(c.get("name")) or {}
        image = normalize_image(c.get("image") or "")
        st: Obj = {"name": c.get("name"), "image": image, "imageID": image_id(image),
                   "containerID": prev.get("containerID") or f"containerd://{secrets.token_hex(32)}",
                   "restartCount": int(prev.get("restartCount") or 0), "lastState": prev.get("lastState") or {}}
        started = ((prev.get("state") or {}).get("running") or {}).get("startedAt") or start
        if init and c.get("restartPolicy") != "Always":
            st.update(state={"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": start,
                                            "finishedAt": start, "containerID": st["containerID"]}},
                      ready=True, started=False)
        elif done:
            st.update(state={"terminated": {"exitCode": exit_code, "reason": "Completed" if exit_code == 0
                                            else "Error", "startedAt": started, "finishedAt": now,
                                            "containerID": st["containerID"]}}, ready=False, started=False)
        else:
            if exit_code and not st["restartCount"]:  # OnFailure, non-zero: one simulated restart
                st["restartCount"] = 1
                st["lastState"] = {"terminated": {"exitCode": exit_code, "reason": "Error", "startedAt": started,
                                                  "finishedAt": now, "containerID": st["containerID"]}}
                started = now
            st.update(state={"running": {"startedAt": started}}, ready=True, started=True)
        return st

    prev_conds = {c.get("type"): c for c in old.get("conditions") or []}

    def cond(type_: str, ok: bool, reason: str = "", message: str = "") -> Obj:
        prev = prev_conds.get(type_)
        s = "True" if ok else "False"
        since = prev.get("lastTransitionTime") if prev and prev.get("status") == s else now
        return _condition(type_, s, since or now, reason, message)

    names = [c.get("name", "") for c in spec.get("containers") or []]
    not_ready_reason = "PodCompleted" if phase == "Succeeded" else "ContainersNotReady"
    not_ready_msg = "" if phase == "Succeeded" else f"containers with unready status: [{' '.join(names)}]"
    conditions = [cond("PodReadyToStartContainers", not done), cond("Initialized", True),
                  cond("Ready", not done, *(() if not done else (not_ready_reason, not_ready_msg))),
                  cond("ContainersReady", not done, *(() if not done else (not_ready_reason, not_ready_msg))),
                  prev_conds.get("PodScheduled") or _condition("PodScheduled", "True", start)]
    out: Obj = {"phase": phase, "conditions": conditions, "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
                "podIP": pod_ip, "podIPs": [{"ip": pod_ip}], "startTime": start,
                "containerStatuses": [status(c, False) for c in spec.get("containers") or []],
                "qosClass": old.get("qosClass") or qos_class(spec)}
    if spec.get("initContainers"):
        out["initContainerStatuses"] = [status(c, True) for c in spec["initContainers"]]
    return out


class _Node:
    __slots__ = ("assigned", "cfg", "checked", "ips", "lease", "network", "obj", "recheck")

    def __init__(self, cfg: NodeConfig, network: ipaddress.IPv4Network) -> None:
        self.cfg = cfg
        self.network = network  # derived until the Node has a spec.podCIDR
        self.assigned = False
        self.checked = 0.0  # monotonic time the Node was last read for its podCIDR
        self.recheck = CIDR_RECHECK  # seconds until the next such read
        self.ips: dict[str, str] = {}  # pod uid → IP
        self.obj: Obj | None = None
        self.lease: Obj | None = None

    def adopt(self, obj: Obj) -> None:
        """Remember the Node as the API returned it, with its podCIDR (IPv4) once assigned."""
        self.obj = obj
        cidr = (obj.get("spec") or {}).get("podCIDR") or ""
        if cidr and not self.assigned and ":" not in cidr:
            self.network = ipaddress.IPv4Network(cidr)
            self.assigned = True

    def allocate(self, uid: str, current: str = "") -> str:
        """The pod's IP: kept if it has one, else the lowest free host address after the gateway (.1)."""
        ip = self.ips.get(uid)
        if ip is None:
            taken = set(self.ips.values())
            if current and current not in taken:
                ip = current
            else:
                base = int(self.network.network_address)
                ip = next((str(ipaddress.IPv4Address(base + k)) for k in range(2, self.network.num_addresses - 1)
                           if str(ipaddress.IPv4Address(base + k)) not in taken), "")
            self.ips[uid] = ip
        return ip


class HollowAgent:
    """``client`` watches pods; each node writes through its own client (``node_clients``, by node name:
    a kubelet acts as ``system:node:<name>``) or, for nodes without one, through ``client``."""

    def __init__(self, client: Client, cfg: HollowConfig, node_clients: dict[str, Client] | None = None) -> None:
        self.client = client
        self.node_clients = dict(node_clients or {})
        self.cfg = cfg
        self.nodes: dict[str, _Node] = {}
        for i in range(cfg.count):
            name = f"{cfg.prefix}{i}"
            ip = str(NODE_IP_BASE + i + 1)
            ncfg = NodeConfig(name, ip, cpu=cfg.cpu, memory=cfg.memory, pods=cfg.pods, labels=dict(cfg.labels),
                              taints=cfg.taints)
            self.nodes[name] = _Node(ncfg, pod_cidr(i, cfg.count))
        self.queue = WorkQueue(base_delay=0.05, max_delay=10.0)
        self.pods = Informer(client, PODS)
        self.pods.add_index("nodeName", lambda p: [(p.get("spec") or {}).get("nodeName") or ""])
        self.ready = asyncio.Event()
        self._sem = asyncio.Semaphore(cfg.concurrency)

    def _client(self, n: _Node) -> Client:
        return self.node_clients.get(n.cfg.name, self.client)

    # --- registration and heartbeats ---------------------------------------------------------------
    async def register(self) -> None:
        await asyncio.gather(*(self._register(n) for n in self.nodes.values()))
        log.info("registered %d hollow nodes (%s0..%s%d)", len(self.nodes), self.cfg.prefix, self.cfg.prefix,
                 len(self.nodes) - 1)

    async def _register(self, n: _Node) -> None:
        async with self._sem:
            body = nodestatus.build_node(n.cfg)
            try:
                n.adopt(await self._client(n).create(NODES, body))
            except AlreadyExistsError:
                n.adopt(await self._client(n).get(NODES, n.cfg.name))
                await self._post_status(n)
            await self._renew(n)

    async def _renew(self, n: _Node) -> None:
        assert n.obj is not None
        now = format_time(micro=True)
        try:
            if n.lease is None:
                try:
                    n.lease = await self._client(n).create(LEASES, nodestatus.lease(n.obj, self.cfg.lease_duration, now),
                                                       "kube-node-lease")
                    return
                except AlreadyExistsError:
                    n.lease = await self._client(n).get(LEASES, n.cfg.name, "kube-node-lease")
            n.lease = await self._client(n).replace(
                LEASES, {**n.lease, "spec": {**(n.lease.get("spec") or {}), "renewTime": now}}, "kube-node-lease")
        except (ConflictError, NotFoundError):
            n.lease = None  # re-read or re-create next time
        except (ApiError, OSError, TimeoutError) as e:
            log.debug("renewing lease of %s: %s", n.cfg.name, e)

    async def _post_status(self, n: _Node) -> None:
        if n.obj is None:
            return
        now = format_time()
        status = {"conditions": nodestatus.conditions(now, nodestatus.transition_times(n.obj)),
                  "capacity": nodestatus.capacity(n.cfg), "allocatable": nodestatus.allocatable(n.cfg),
                  "addresses": nodestatus.addresses(n.cfg), "nodeInfo": nodestatus.node_info(n.cfg)}
        try:
            n.adopt(await self._client(n).patch(NODES, n.cfg.name, {"status": status}, subresource="status"))
        except (ApiError, OSError, TimeoutError) as e:
            log.debug("posting status of %s: %s", n.cfg.name, e)

    async def _paced(self, stop: asyncio.Event, interval: float, action: Any) -> None:
        """Call ``action(node)`` for every node once per ``interval``, spread evenly over it (ticks
        are scheduled by the clock, so slow calls do not stretch the period)."""
        nodes = list(self.nodes.values())
        per_tick = max(1, math.ceil(len(nodes) * TICK / interval))
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        i = 0
        while not stop.is_set():
            batch = [nodes[(i + k) % len(nodes)] for k in range(min(per_tick, len(nodes)))]
            i = (i + per_tick) % len(nodes)
            await asyncio.gather(*(self._bounded(action, n) for n in batch))
            next_tick += TICK
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, next_tick - loop.time()))

    async def _bounded(self, action: Any, n: _Node) -> None:
        async with self._sem:
            await action(n)

    # --- pods --------------------------------------------------------------------------------------
    def _enqueue(self, pod: Obj) -> None:
        if (pod.get("spec") or {}).get("nodeName") in self.nodes:
            md = pod.get("metadata") or {}
            self.queue.add(f"{md.get('namespace')}/{md.get('name')}")

    def _on_delete(self, pod: Obj) -> None:
        n = self.nodes.get((pod.get("spec") or {}).get("nodeName") or "")
        if n is not None:
            n.ips.pop((pod.get("metadata") or {}).get("uid", ""), None)

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            if key is None:
                return
            try:
                await self.sync_pod(key)
                self.queue.forget(key)
            except (ApiError, OSError, TimeoutError) as e:
                log.debug("syncing pod %s: %s", key, e)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)

    async def sync_pod(self, key: str) -> None:
        pod = self.pods.get(key)
        if pod is None:
            return
        md, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
        n = self.nodes.get(spec.get("nodeName") or "")
        if n is None or n.obj is None:
            return
        if md.get("deletionTimestamp"):
            with contextlib.suppress(NotFoundError, ConflictError):
                await self._client(n).delete(PODS, md["name"], md.get("namespace"), gracePeriodSeconds=0,
                                         preconditions={"uid": md.get("uid")})
            n.ips.pop(md.get("uid", ""), None)
            return
        if status.get("phase") in ("Succeeded", "Failed"):
            n.ips.pop(md.get("uid", ""), None)
            return
        exit_code = None
        ann = md.get("annotations") or {}
        if ANNOTATION_EXIT_CODE in ann and spec.get("restartPolicy") in ("Never", "OnFailure"):
            started = parse_time(status.get("startTime"))
            runtime = float(ann.get(ANNOTATION_RUNTIME) or 0)
            if started is not None:
                wait = started + runtime - time.time()
                if wait <= 0:
                    exit_code = int(ann[ANNOTATION_EXIT_CODE])
                else:
                    self.queue.add_after(key, wait)
        running = status.get("phase") == "Running" and status.get("podIP") and len(
            status.get("containerStatuses") or []) == len(spec.get("containers") or [])
        if running:
            n.allocate(md.get("uid", ""), status.get("podIP") or "")  # remembered across agent restarts
        if running and exit_code is None:
            return  # already reported
        if running and exit_code and spec.get("restartPolicy") == "OnFailure" and any(
                int(s.get("restartCount") or 0) for s in status.get("containerStatuses") or []):
            return  # the one simulated restart was already reported
        if not n.assigned and md.get("uid", "") not in n.ips and time.monotonic() - n.checked > n.recheck:
            if n.checked:
                n.recheck = min(n.recheck * 2, CIDR_RECHECK_MAX)
            n.checked = time.monotonic()  # the controller manager assigns podCIDRs just after registration
            with contextlib.suppress(ApiError, OSError, TimeoutError):
                n.adopt(await self._client(n).get(NODES, n.cfg.name))
        ip = n.allocate(md.get("uid", ""), status.get("podIP") or "")
        new = pod_status(pod, n.cfg.internal_ip, ip, format_time(), exit_code)
        await self._client(n).patch(PODS, md["name"], {"metadata": {"uid": md.get("uid")}, "status": new},
                                    md.get("namespace"), subresource="status", decode=False)  # the watch brings it
        if exit_code is None and ANNOTATION_EXIT_CODE in ann and spec.get("restartPolicy") in ("Never", "OnFailure"):
            self.queue.add_after(key, float(ann.get(ANNOTATION_RUNTIME) or 0))

    # --- lifecycle ---------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        await self.register()
        try:  # only bound pods matter: skip every pending pod's events (any server: fall back to all pods)
            await self.client.list(PODS, fieldSelector=ASSIGNED, limit=1)
            self.pods.field_selector = ASSIGNED
        except ApiError as e:
            log.warning("pods cannot be listed with %s (%s); watching all pods", ASSIGNED, e)
        self.pods.add_handlers(self._enqueue, lambda old, new: self._enqueue(new), self._on_delete)
        self.pods.start()
        workers = [asyncio.create_task(self._worker(), name=f"hollow-pod-worker-{i}") for i in range(self.cfg.workers)]
        loops = [asyncio.create_task(self._paced(stop, self.cfg.lease_interval, self._renew), name="hollow-leases"),
                 asyncio.create_task(self._paced(stop, self.cfg.status_interval, self._post_status),
                                     name="hollow-status")]
        try:
            await self.pods.wait_synced()
            self.ready.set()
            log.info("Running %d hollow kubelets", len(self.nodes))
            await stop.wait()
        finally:
            await self.queue.shutdown()
            for t in loops:
                t.cancel()
            await asyncio.gather(*workers, *loops, return_exceptions=True)
            await self.pods.stop()


async def run_hollow_agent(client: Client, stop: asyncio.Event, count: int, prefix: str = "hollow-",
                           labels: dict[str, str] | None = None, taints: tuple[Obj, ...] = (), cpu: str = "4",
                           memory: str = "16Gi", pods: int = 110, node_clients: dict[str, Client] | None = None,
                           **options: Any) -> None:
    """Register ``count`` hollow nodes and run their kubelets until ``stop``."""
    cfg = HollowConfig(count, prefix, dict(labels or {}), tuple(taints), cpu, memory, pods, **options)
    await HollowAgent(client, cfg, node_clients).run(stop)
