"""ControllerRevisions: the template snapshots StatefulSets and DaemonSets roll between.

A revision stores a strategic merge patch that puts a template back (``{"spec": {"template": {...,
"$patch": "replace"}}}``) and a ``revision`` number; the newest number is the update revision.
``revision_data`` builds that patch, ``new_revision`` the object (named ``<parent>-<hash>``,
labelled with the template's labels plus ``controller.kubernetes.io/hash``, controlled by the
parent), ``hash_revision`` the name hash (FNV-1 over the patch bytes and the collision count,
encoded with the vowel-free alphabet, as ``history.HashControllerRevision``). ``History`` lists a
parent's revisions from the informer and creates (renaming on collisions), renumbers, adopts and
deletes them through the client. Callers: ``statefulset.py`` and ``daemonset.py``.
"""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from kybernetes.api.printing import parse_time
from kybernetes.api.selectors import LabelSelector
from kybernetes.client.errors import AlreadyExistsError, NotFoundError
from kybernetes.client.informer import Informer
from kybernetes.client.rest import CONTROLLERREVISIONS, Client
from kybernetes.controllers import refmanager, templatehash
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)

HASH_LABEL = "controller.kubernetes.io/hash"
FNV32_OFFSET = 0x811C9DC5
FNV32_PRIME = 0x01000193
MAX_PREFIX = 223


def _md(obj: Obj) -> dict[str, Any]:
    return obj.get("metadata") or {}


def fnv32(data: bytes, h: int = FNV32_OFFSET) -> int:
    """FNV-1 (multiply, then xor) — Go's ``fnv.New32``, which revision hashing uses."""
    for b in data:
        h = ((h * FNV32_PRIME) & 0xFFFFFFFF) ^ b
    return h


def canonical(data: Any) -> bytes:
    """JSON as Go marshals a map: sorted keys, no spaces."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def revision_data(template: dict[str, Any]) -> dict[str, Any]:
    """The patch that restores ``template`` onto its parent (``getPatch``)."""
    restored = copy.deepcopy(template)
    restored["$patch"] = "replace"
    return {"spec": {"template": restored}}


def template_of(revision: Obj) -> dict[str, Any]:
    """The pod template a revision restores (``ApplyRevision`` for the only field revisions carry)."""
    template = copy.deepcopy(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return template


def hash_revision(data: Any, probe: int | None) -> str:
    h = fnv32(canonical(data))
    if probe is not None:
        h = fnv32(str(probe).encode(), h)
    return templatehash.safe_encode_string(str(h))


def revision_name(prefix: str, hash_: str) -> str:
    return f"{prefix[:MAX_PREFIX]}-{hash_}"


def new_revision(parent: Obj, api_version: str, kind: str, template_labels: dict[str, str] | None,
                 data: dict[str, Any], revision: int, collision_count: int | None) -> Obj:
    """A ControllerRevision of ``parent`` (``history.NewControllerRevision``)."""
    labels = dict(template_labels or {})
    hash_ = hash_revision(data, collision_count)
    labels[HASH_LABEL] = hash_
    md = {"name": revision_name(_md(parent).get("name", ""), hash_), "namespace": _md(parent).get("namespace", ""),
          "labels": labels, "ownerReferences": [refmanager.new_controller_ref(parent, api_version, kind)]}
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": md, "data": data,
            "revision": revision}


def _by_revision(a: Obj, b: Obj) -> int:
    ra, rb = int(a.get("revision") or 0), int(b.get("revision") or 0)
    if ra != rb:
        return -1 if ra < rb else 1
    ta, tb = parse_time(_md(a).get("creationTimestamp")) or 0.0, parse_time(_md(b).get("creationTimestamp")) or 0.0
    if ta != tb:
        return -1 if ta < tb else 1
    na, nb = str(_md(a).get("name", "")), str(_md(b).get("name", ""))
    return (na > nb) - (na < nb)


def sort_revisions(revisions: list[Obj]) -> list[Obj]:
    """Oldest revision number first; ties by creation time, then name."""
    return sorted(revisions, key=functools.cmp_to_key(_by_revision))


def equal_revision(a: Obj, b: Obj) -> bool:
    """Same data (and, when both carry one, the same hash label)."""
    ha, hb = (_md(a).get("labels") or {}).get(HASH_LABEL), (_md(b).get("labels") or {}).get(HASH_LABEL)
    if ha and hb and ha != hb:
        return False
    return canonical(a.get("data")) == canonical(b.get("data"))


def next_revision(revisions: list[Obj]) -> int:
    """One more than the highest revision number (1 for an empty, sorted history)."""
    return int(revisions[-1].get("revision") or 0) + 1 if revisions else 1


class History:
    """A parent's ControllerRevisions: read from the informer, written through the client."""

    def __init__(self, client: Client, informer: Informer, api_version: str, kind: str) -> None:
        self.client = client
        self.informer = informer
        self.api_version = api_version
        self.kind = kind

    def owned(self, parent: Obj, selector: LabelSelector) -> list[Obj]:
        """Revisions in the parent's namespace that it selects and that it (or nobody) controls."""
        uid = _md(parent).get("uid")
        out = []
        for rev in self.informer.list(_md(parent).get("namespace", "")):
            if not selector.matches(_md(rev).get("labels")):
                continue
            ref = refmanager.controller_ref_of(rev)
            if ref is None or ref.get("uid") == uid:
                out.append(rev)
        return out

    async def adopt_orphans(self, parent: Obj, selector: LabelSelector, revisions: list[Obj],
                            fresh: Callable[[], Awaitable[Obj]]) -> None:
        """Adopt every orphan in ``revisions`` (after re-reading the parent once)."""
        orphans = [r for r in revisions if refmanager.controller_ref_of(r) is None]
        if not orphans:
            return
        manager = refmanager.ControllerRefManager(self.client, CONTROLLERREVISIONS, parent, selector,
                                                  self.api_version, self.kind,
                                                  refmanager.recheck_deletion_timestamp(fresh, parent))
        for rev in orphans:
            await manager.adopt(rev)

    async def create(self, parent: Obj, revision: Obj, collision_count: int) -> tuple[Obj, int]:
        """Create ``revision``; on a name clash with different data bump the collision count and
        rename. Returns the stored revision and the collision count used."""
        ns = _md(parent).get("namespace", "")
        while True:
            clone = copy.deepcopy(revision)
            hash_ = hash_revision(clone.get("data"), collision_count)
            clone["metadata"]["name"] = revision_name(_md(parent).get("name", ""), hash_)
            clone["metadata"].setdefault("labels", {})[HASH_LABEL] = hash_
            try:
                return await self.client.create(CONTROLLERREVISIONS, clone, ns), collision_count
            except AlreadyExistsError:
                existing = await self.client.get(CONTROLLERREVISIONS, clone["metadata"]["name"], ns)
                if canonical(existing.get("data")) == canonical(clone.get("data")):
                    return existing, collision_count
                collision_count += 1
                log.debug("revision name %s collides; collision count now %d", clone["metadata"]["name"],
                          collision_count)

    async def update_revision(self, revision: Obj, number: int) -> Obj:
        """Give an existing revision a new number (a rollback makes an old template current again)."""
        if int(revision.get("revision") or 0) == number:
            return revision
        clone = copy.deepcopy(revision)
        clone["revision"] = number
        return await self.client.replace(CONTROLLERREVISIONS, clone, _md(clone).get("namespace"))

    async def delete(self, revision: Obj) -> None:
        try:
            await self.client.delete(CONTROLLERREVISIONS, _md(revision)["name"], _md(revision).get("namespace"))
        except NotFoundError:
            pass
