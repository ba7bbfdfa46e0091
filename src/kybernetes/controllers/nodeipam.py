"""Node IPAM controller (kube-controller-manager's range allocator): every Node gets its pod range.

The cluster CIDR (``--cluster-cidr``, one range per IP family) is cut into node-sized blocks
(``--node-cidr-mask-size``: /24 for IPv4 and /64 for IPv6 by default). ``sync(node)`` gives a Node
without ``spec.podCIDRs`` the next free block of each range (a rotating cursor, as upstream, so a
block just freed is not handed out again at once) and patches ``spec.podCIDR``/``spec.podCIDRs``;
a Node that has them keeps them (the API makes them immutable) and its blocks count as used; a
deleted Node's blocks are freed. The used-block sets live only in memory: ``run`` rebuilds them from
the Nodes in the cache before any allocation, so a restarted controller never hands out a block a
Node already holds. When a range is full the Node gets a ``CIDRNotAvailable`` event and waits until
a block is freed. The Service range is never handed out where it overlaps the cluster CIDR.

Next step: the node's agent reads ``spec.podCIDR`` (kubelet/cni.py writes it into the CNI config)
and every agent routes the other nodes' ranges to them (network/routes.py).
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from kybernetes.client.errors import ApiError, NotFoundError
from kybernetes.client.events import NORMAL
from kybernetes.client.informer import Informer
from kybernetes.client.rest import NODES, Client
from kybernetes.controllers import loop
from kybernetes.controllers.loop import Obj

__all__ = ["CIDR_NOT_AVAILABLE", "CIDRSet", "IPAMConfig", "NodeIPAMController"]

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
CIDR_NOT_AVAILABLE = "CIDRNotAvailable"
DEFAULT_MASK_SIZES = {4: 24, 6: 64}
#: IPv6 blocks per range are capped as upstream caps them (its bitmap is uncompressed).
MAX_IPV6_MASK_DIFF = 16


@dataclass(frozen=True, slots=True)
class IPAMConfig:
    """The allocator's ranges: one cluster CIDR per IP family with its node mask size."""

    cluster_cidrs: tuple[Network, ...]
    node_mask_sizes: tuple[int, ...]
    service_cidrs: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, cluster_cidr: str, node_cidr_mask_size: int = 0, service_cidr: str = "") -> IPAMConfig:
        """From the flags; ``ValueError`` messages name the flag to fix."""
        cidrs = [_network(c, "--cluster-cidr") for c in cluster_cidr.split(",") if c.strip()]
        if not cidrs:
            raise ValueError("--cluster-cidr is empty: give the pod network range, e.g. 10.42.0.0/16")
        if len(cidrs) > 2 or len({c.version for c in cidrs}) != len(cidrs):
            raise ValueError(f"--cluster-cidr {cluster_cidr!r}: give one range, or one IPv4 and one IPv6 range "
                             "separated by a comma")
        if node_cidr_mask_size and len(cidrs) > 1:
            raise ValueError("--node-cidr-mask-size cannot be used with a dual-stack --cluster-cidr: the default "
                             "sizes (/24 for IPv4, /64 for IPv6) apply")
        sizes = []
        for c in cidrs:
            size = node_cidr_mask_size or DEFAULT_MASK_SIZES[c.version]
            if not c.prefixlen <= size <= c.max_prefixlen:
                raise ValueError(f"--node-cidr-mask-size {size} does not fit --cluster-cidr {c}: use a size between "
                                 f"{c.prefixlen} and {c.max_prefixlen}")
            if c.version == 6 and size - c.prefixlen > MAX_IPV6_MASK_DIFF:
                raise ValueError(f"--node-cidr-mask-size {size} cuts --cluster-cidr {c} into more than "
                                 f"2^{MAX_IPV6_MASK_DIFF} node ranges: use at most /{c.prefixlen + MAX_IPV6_MASK_DIFF}")
            sizes.append(size)
        services = tuple(_network(c, "--service-cidr") for c in service_cidr.split(",") if c.strip())
        return cls(tuple(cidrs), tuple(sizes), services)


def _network(text: str, flag: str) -> Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as e:
        raise ValueError(f"{flag} {text.strip()!r} is not a network in CIDR notation ({e})") from None


class CIDRSet:
    """One cluster CIDR cut into blocks of ``mask`` bits: which blocks are used, and where to look next."""

    def __init__(self, cluster: Network, mask: int) -> None:
        self.cluster = cluster
        self.mask = mask
        self.size = 1 << (mask - cluster.prefixlen)
        self.used: set[int] = set()
        self._next = 0
        self._shift = cluster.max_prefixlen - mask
        self._base = int(cluster.network_address)

    def block(self, index: int) -> Network:
        return ipaddress.ip_network((self._base + (index << self._shift), self.mask))

    def allocate_next(self) -> Network | None:
        """The first free block at or after the cursor (wrapping), now used; None when all are used."""
        if len(self.used) >= self.size:
            return None
        index = self._next
        while index in self.used:
            index = (index + 1) % self.size
        self._next = (index + 1) % self.size
        self.used.add(index)
        return self.block(index)

    def _indices(self, net: Network) -> range:
        if net.version != self.cluster.version or not net.overlaps(self.cluster):
            raise ValueError(f"cidr {net} is out of the range of cluster cidr {self.cluster}")
        first = max(int(net.network_address), self._base)
        last = min(int(net.broadcast_address), int(self.cluster.broadcast_address))
        return range((first - self._base) >> self._shift, ((last - self._base) >> self._shift) + 1)

    def occupy(self, net: Network) -> None:
        """Mark every block ``net`` overlaps as used (``ValueError`` if it is outside the cluster CIDR)."""
        self.used.update(self._indices(net))

    def release(self, net: Network) -> None:
        self.used.difference_update(self._indices(net))


@dataclass(frozen=True, slots=True)
class _Held:
    uid: str
    spec: tuple[str, ...]  # the node's podCIDRs as written ("" while our patch is on its way)
    cidrs: tuple[Network, ...]  # the blocks counted as used for it


class NodeIPAMController(loop.Controller):
    name = "nodeipam"

    def __init__(self, node_informer: Informer, client: Client, recorder: loop.Recorder, cfg: IPAMConfig) -> None:
        super().__init__([node_informer])
        self.nodes = node_informer
        self.client = client
        self.recorder = recorder
        self.cfg = cfg
        self.sets = [CIDRSet(c, m) for c, m in zip(cfg.cluster_cidrs, cfg.node_mask_sizes, strict=True)]
        self._held: dict[str, _Held] = {}  # node name → the blocks it holds (or is being patched with)
        self._waiting: set[str] = set()  # nodes that found the ranges full
        node_informer.add_handlers(self.enqueue, lambda _old, cur: self.enqueue(cur), self.enqueue)

    async def wait_for_cache_sync(self) -> None:
        """Caches synced, then the used blocks rebuilt from them: no allocation happens before."""
        await super().wait_for_cache_sync()
        for s in self.sets:
            for svc in self.cfg.service_cidrs:
                if svc.version == s.cluster.version and svc.overlaps(s.cluster):
                    s.occupy(svc)
        for node in self.nodes.list():
            if (node.get("spec") or {}).get("podCIDRs"):
                self._occupy(node)
        log.info("nodeipam: %s", ", ".join(f"{s.cluster} in /{s.mask}s, {len(s.used)} used" for s in self.sets))

    def _occupy(self, node: Obj) -> None:
        """Count the node's podCIDRs as used (those outside the cluster CIDR are logged and skipped)."""
        md = node.get("metadata") or {}
        spec = tuple((node.get("spec") or {}).get("podCIDRs") or ())
        cidrs = []
        for text in spec:
            try:
                cidr = ipaddress.ip_network(text, strict=False)
                self._set_for(cidr).occupy(cidr)
                cidrs.append(cidr)
            except ValueError as e:
                log.warning("node %s: podCIDR %s is not tracked: %s", md.get("name"), text, e)
        self._held[md["name"]] = _Held(md.get("uid", ""), spec, tuple(cidrs))

    def _set_for(self, cidr: Network) -> CIDRSet:
        for s in self.sets:
            if s.cluster.version == cidr.version:
                return s
        raise ValueError(f"no cluster cidr of IPv{cidr.version} is configured")

    def _release(self, name: str) -> None:
        held = self._held.pop(name, None)
        if held is None:
            return
        for cidr in held.cidrs:
            self._set_for(cidr).release(cidr)
        for waiting in self._waiting:  # a block is free again
            self.queue.add(waiting)
        self._waiting.clear()

    async def sync(self, key: str) -> None:
        node = self.nodes.get(key)
        held = self._held.get(key)
        if node is None:
            self._release(key)
            return
        md, spec = node.get("metadata") or {}, node.get("spec") or {}
        uid, pod_cidrs = md.get("uid", ""), tuple(spec.get("podCIDRs") or ())
        if pod_cidrs:
            if held is None or held.uid != uid or held.spec != pod_cidrs:
                self._release(key)
                self._occupy(node)
            self._waiting.discard(key)
            return
        if held is not None and held.uid != uid:  # a new Node of the same name: the old one's blocks are free
            self._release(key)
            held = None
        if held is None:  # (else our earlier patch has not reached the cache yet: sending it again is harmless)
            cidrs = self._allocate()
            if cidrs is None:
                self._waiting.add(key)
                self.recorder.record(node, NORMAL, CIDR_NOT_AVAILABLE, f"Node {key} status is now: {CIDR_NOT_AVAILABLE}")
                log.warning("nodeipam: no pod range left for node %s in %s", key,
                            ", ".join(str(c) for c in self.cfg.cluster_cidrs))
                return
            held = self._held[key] = _Held(uid, (), cidrs)
        texts = [str(c) for c in held.cidrs]
        try:
            await self.client.patch(NODES, key, {"metadata": {"uid": uid},
                                                 "spec": {"podCIDR": texts[0], "podCIDRs": texts}})
        except NotFoundError:
            self._release(key)
            return
        except ApiError:  # refused (node replaced, podCIDRs set meanwhile): retried from what the cache then says
            self._release(key)
            raise
        # (any other failure leaves the outcome unknown: the blocks stay held and the retry sends the same patch)
        self._waiting.discard(key)
        log.info("Set node %s PodCIDR to %s", key, texts)

    def _allocate(self) -> tuple[Network, ...] | None:
        got: list[tuple[CIDRSet, Network]] = []
        for s in self.sets:
            cidr = s.allocate_next()
            if cidr is None:
                for owner, c in got:
                    owner.release(c)
                return None
            got.append((s, cidr))
        return tuple(c for _, c in got)
