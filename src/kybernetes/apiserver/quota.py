"""ResourceQuota admission: a create that would push a namespace over one of its quotas is refused
with 403 (``pods "x" is forbidden: exceeded quota: …``); one that fits is charged to the quotas'
``status.used`` *before* it is stored, so that concurrent creates cannot all slip under the limit
(each charge is a compare-and-swap on the quota, and the loser re-checks against the new usage; within
one API server, charges to a namespace's quotas take turns so that bursts do not end in conflicts).

Like Kubernetes, only creates are checked; the quota controller later recomputes ``status.used`` from
what exists (so a create that fails after being charged is forgotten within a resync). A quota whose
``status.hard`` the controller has not filled in yet does not limit anything; one that limits a
resource it has no usage for yet refuses (``status unknown for quota``), as upstream does.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kybernetes.api import errors
from kybernetes.api import quota as qe
from kybernetes.api.strategy import ResourceInfo, WriteContext
from kybernetes.apiserver.objects import ObjectStore, WriteOptions

Obj = dict[str, Any]

_PREFIX = "/registry/core/resourcequotas/"


def collection_of(info: ResourceInfo) -> str:
    """How quota names spell a resource: ``pods``, ``jobs.batch``."""
    return f"{info.plural}.{info.group}" if info.group else info.plural


class QuotaAdmission:
    def __init__(self, objects: ObjectStore, quotas: ResourceInfo) -> None:
        self.objects = objects
        self.quotas = quotas
        self._turns: dict[str, asyncio.Lock] = {}

    async def admit_create(self, info: ResourceInfo, obj: Obj, dry_run: bool) -> None:
        """Refuse ``obj`` if it exceeds a quota of its namespace; otherwise charge it (unless a dry run)."""
        ns = (obj.get("metadata") or {}).get("namespace")
        if not ns:
            return
        entries = self.objects.cache.list(f"{_PREFIX}{ns}/")
        if not entries:
            return
        resource = collection_of(info)
        for entry in entries:
            self._check(entry.obj, obj, resource, info)
        if dry_run:
            return
        counting = [e.obj for e in entries if qe.charged(e.obj, obj, resource) is not None]
        if not counting:
            return
        async with self._turns.setdefault(ns, asyncio.Lock()):  # one small lock per namespace with quotas
            for quota in counting:
                await self._charge(quota, obj, resource, info)

    def _check(self, quota: Obj, obj: Obj, resource: str, info: ResourceInfo) -> None:
        message = qe.admission_check(quota, obj, resource)
        if message is not None:
            name = (obj.get("metadata") or {}).get("name", "")
            raise errors.forbidden_message(f'{info.plural} "{name}" is forbidden: {message}', info.plural,
                                           info.group, name)

    async def _charge(self, quota: Obj, obj: Obj, resource: str, info: ResourceInfo) -> None:
        md = quota.get("metadata") or {}

        def add_usage(current: Obj | None) -> Obj:
            if current is None:  # deleted meanwhile: nothing left to charge
                raise errors.not_found(self.quotas.plural, self.quotas.group, md.get("name", ""))
            self._check(current, obj, resource, info)
            used = qe.charged(current, obj, resource)
            if used is not None:
                current.setdefault("status", {})["used"] = used
            return current

        try:
            await self.objects.update(self.quotas, md.get("namespace", ""), md.get("name", ""), add_usage,
                                      WriteContext(user="system:apiserver", groups=("system:masters",)),
                                      WriteOptions(subresource="status"),
                                      strategy=self.quotas.status_strategy or self.quotas.strategy)
        except errors.StatusError as e:
            if e.code != 404:
                raise
