"""Leader election through a coordination.k8s.io/v1 Lease, with client-go's semantics: a candidate
takes the lease when it is free or its holder stopped renewing for ``lease_duration``; the leader
renews every ``retry_period`` and steps down if it could not renew within ``renew_deadline``.
Writes are optimistic (resourceVersion), so two candidates never both win.

Any component uses it the same way (scheduler, controller manager)::

    elector = LeaderElector(client, "kube-system", "kube-scheduler", identity)
    await elector.run(lead, stop)   # lead(lost: asyncio.Event) runs while this process leads
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any

from kybernetes.api.printing import format_time, parse_time
from kybernetes.client.errors import AlreadyExistsError, ApiError, ConflictError, NotFoundError
from kybernetes.client.rest import LEASES, Client

log = logging.getLogger(__name__)

Lead = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


class LeaderElector:
    def __init__(self, client: Client, namespace: str, name: str, identity: str, lease_duration: float = 15.0,
                 renew_deadline: float = 10.0, retry_period: float = 2.0, release_on_cancel: bool = True,
                 clock: Callable[[], float] = time.time) -> None:
        if renew_deadline >= lease_duration:
            raise ValueError("renew_deadline must be shorter than lease_duration")
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.release_on_cancel = release_on_cancel
        self._clock = clock
        self._lease: dict[str, Any] | None = None
        self.is_leader = False
        self.observed_holder = ""

    # --- one attempt -----------------------------------------------------------------------------------
    async def try_acquire_or_renew(self) -> bool:
        """One optimistic attempt to take or keep the lease; True if this candidate now holds it."""
        now = self._clock()
        stamp = format_time(now, micro=True)
        try:
            lease = await self.client.get(LEASES, self.name, self.namespace)
        except NotFoundError:
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.name, "namespace": self.namespace},
                    "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.lease_duration),
                             "acquireTime": stamp, "renewTime": stamp, "leaseTransitions": 0}}
            try:
                self._lease = await self.client.create(LEASES, body, self.namespace)
            except (AlreadyExistsError, ConflictError):
                return False
            self.observed_holder = self.identity
            return True
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        self.observed_holder = holder
        renewed = parse_time(spec.get("renewTime")) or 0.0
        duration = float(spec.get("leaseDurationSeconds") or self.lease_duration)
        if holder and holder != self.identity and renewed + duration > now:
            return False  # someone else holds a live lease
        new_spec = dict(spec)
        if holder != self.identity:
            new_spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if holder else 0)
            new_spec["acquireTime"] = stamp
        new_spec.update(holderIdentity=self.identity, leaseDurationSeconds=int(self.lease_duration),
                        renewTime=stamp)
        lease = {**lease, "spec": new_spec}
        try:
            self._lease = await self.client.replace(LEASES, lease, self.namespace)
        except (ConflictError, NotFoundError):
            return False
        self.observed_holder = self.identity
        return True

    async def release(self) -> None:
        """Give the lease up (holder cleared) so a successor need not wait for it to expire."""
        if self._lease is None or not self.is_leader:
            return
        stamp = format_time(self._clock(), micro=True)
        spec = dict(self._lease.get("spec") or {})
        spec.update(holderIdentity=None, leaseDurationSeconds=1, renewTime=stamp, acquireTime=stamp)
        with contextlib.suppress(ApiError):
            await self.client.replace(LEASES, {**self._lease, "spec": spec}, self.namespace)
        self.is_leader = False

    # --- the loop ------------------------------------------------------------------------------------
    async def _sleep(self, stop: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)

    async def _attempt(self) -> bool:
        try:
            return await self.try_acquire_or_renew()
        except (ApiError, OSError, TimeoutError) as e:
            log.debug("lease %s/%s: %s", self.namespace, self.name, e)
            return False

    async def run(self, lead: Lead, stop: asyncio.Event) -> None:
        """Campaign until ``stop``; while leading, ``lead(lost)`` runs. On losing the lease ``lost`` is
        set, ``lead`` gets ``renew_deadline`` to return, and the campaign starts again."""
        while not stop.is_set():
            log.info("attempting to acquire leader lease %s/%s...", self.namespace, self.name)
            while not stop.is_set() and not await self._attempt():
                await self._sleep(stop, self.retry_period * (1 + random.random() * 0.2))
            if stop.is_set():
                return
            self.is_leader = True
            log.info("successfully acquired lease %s/%s", self.namespace, self.name)
            lost = asyncio.Event()
            task = asyncio.create_task(lead(lost), name=f"leading-{self.name}")
            await self._renew_loop(stop, task)
            lost.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), self.renew_deadline)
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                exc = await asyncio.gather(task, return_exceptions=True)
                if exc and isinstance(exc[0], Exception):
                    log.error("leader task of %s failed", self.name, exc_info=exc[0])
            if stop.is_set() and self.release_on_cancel:
                await self.release()
            self.is_leader = False

    async def _renew_loop(self, stop: asyncio.Event, task: asyncio.Task[None]) -> None:
        loop = asyncio.get_running_loop()
        last_renew = loop.time()
        while not stop.is_set() and not task.done():
            await self._sleep(stop, self.retry_period)
            if stop.is_set() or task.done():
                return
            if await self._attempt():
                last_renew = loop.time()
            elif loop.time() - last_renew > self.renew_deadline:
                log.warning("leaderelection lost for %s/%s", self.namespace, self.name)
                return
