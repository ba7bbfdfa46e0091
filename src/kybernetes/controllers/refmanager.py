"""Owner references and the claim protocol (``ControllerRefManager`` in Kubernetes).

A controller *claims* the objects it should manage: ones it already controls and still selects are
kept; ones it controls but no longer selects are released (its ownerReference removed); orphans it
selects are adopted (a controller ownerReference added), but only after ``can_adopt`` re-reads the
controller from the API and confirms it is the same object and not being deleted. Objects owned by
another controller are never touched. Adoption and release are strategic-merge patches that carry
the object's uid as a precondition.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kybernetes.api.selectors import LabelSelector
from kybernetes.client.errors import InvalidError, NotFoundError
from kybernetes.client.rest import Client, Resource
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)

SMP = "application/strategic-merge-patch+json"
CanAdopt = Callable[[], Awaitable[None]]


def controller_ref_of(obj: Obj) -> dict[str, Any] | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            return ref
    return None


def new_controller_ref(owner: Obj, api_version: str, kind: str) -> dict[str, Any]:
    md = owner.get("metadata") or {}
    return {"apiVersion": api_version, "kind": kind, "name": md.get("name", ""), "uid": md.get("uid", ""),
            "controller": True, "blockOwnerDeletion": True}


def uid_of(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def recheck_deletion_timestamp(get_fresh: Callable[[], Awaitable[Obj]], owner: Obj) -> CanAdopt:
    """A ``can_adopt`` that re-reads the owner: it must have the same uid and no deletionTimestamp."""
    md = owner.get("metadata") or {}

    async def check() -> None:
        fresh = await get_fresh()
        fmd = fresh.get("metadata") or {}
        if fmd.get("uid") != md.get("uid"):
            raise RuntimeError(f"original {md.get('namespace')}/{md.get('name')} is gone: got uid "
                               f"{fmd.get('uid')}, wanted {md.get('uid')}")
        if fmd.get("deletionTimestamp"):
            raise RuntimeError(f"{md.get('namespace')}/{md.get('name')} has just been deleted at "
                               f"{fmd.get('deletionTimestamp')}")

    return check


class ControllerRefManager:
    def __init__(self, client: Client, resource: Resource, controller: Obj, selector: LabelSelector,
                 api_version: str, kind: str, can_adopt: CanAdopt) -> None:
        self.client = client
        self.resource = resource
        self.controller = controller
        self.selector = selector
        self.api_version = api_version
        self.kind = kind
        self._can_adopt = can_adopt
        self._adopt_checked: Exception | bool | None = False

    @property
    def _md(self) -> dict[str, Any]:
        return self.controller.get("metadata") or {}

    async def _check_can_adopt(self) -> None:
        if self._adopt_checked is False:
            try:
                await self._can_adopt()
                self._adopt_checked = None
            except Exception as e:  # remembered: every adoption in this claim fails the same way
                self._adopt_checked = e
        if isinstance(self._adopt_checked, Exception):
            raise self._adopt_checked

    async def claim(self, objs: list[Obj], match: Callable[[Obj], bool] | None = None) -> list[Obj]:
        """The objects this controller should manage; adopts and releases as needed. The first
        error is raised after every object has been considered."""
        def matches(o: Obj) -> bool:
            labels = (o.get("metadata") or {}).get("labels") or {}
            return self.selector.matches(labels) and (match is None or match(o))

        claimed: list[Obj] = []
        first_error: Exception | None = None
        for obj in objs:
            try:
                if await self._claim_one(obj, matches):
                    claimed.append(obj)
            except Exception as e:
                first_error = first_error or e
        if first_error is not None:
            raise first_error
        return claimed

    async def _claim_one(self, obj: Obj, matches: Callable[[Obj], bool]) -> bool:
        ref = controller_ref_of(obj)
        omd = obj.get("metadata") or {}
        if ref is not None:
            if ref.get("uid") != self._md.get("uid"):
                return False  # someone else's
            if matches(obj):
                return True
            if self._md.get("deletionTimestamp"):
                return False
            try:
                await self.release(obj)
            except NotFoundError:
                pass
            return False
        if self._md.get("deletionTimestamp") or not matches(obj) or omd.get("deletionTimestamp"):
            return False
        if self._md.get("namespace") and self._md.get("namespace") != omd.get("namespace"):
            return False
        try:
            await self.adopt(obj)
        except NotFoundError:
            return False
        return True

    async def adopt(self, obj: Obj) -> None:
        await self._check_can_adopt()
        omd = obj.get("metadata") or {}
        ref = new_controller_ref(self.controller, self.api_version, self.kind)
        patch = {"metadata": {"ownerReferences": [ref], "uid": omd.get("uid")}}
        log.info("%s %s/%s adopting %s %s", self.kind, self._md.get("namespace"), self._md.get("name"),
                 self.resource.kind, omd.get("name"))
        await self.client.patch(self.resource, omd["name"], patch, omd.get("namespace"), patch_type=SMP)

    async def release(self, obj: Obj) -> None:
        omd = obj.get("metadata") or {}
        patch = {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": self._md.get("uid")}],
                              "uid": omd.get("uid")}}
        log.info("%s %s/%s releasing %s %s", self.kind, self._md.get("namespace"), self._md.get("name"),
                 self.resource.kind, omd.get("name"))
        try:
            await self.client.patch(self.resource, omd["name"], patch, omd.get("namespace"), patch_type=SMP)
        except (NotFoundError, InvalidError):
            # gone, or recreated under the same name (the uid precondition failed): nothing to release
            return
