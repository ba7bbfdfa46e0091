"""Fakes for controller tests: informers with pre-filled caches, a recording in-memory client, a recorder.

``FakeClient`` keeps objects by (plural, namespace, name), records every call as an ``Action``, and —
when an informer is attached for the resource — echoes each write into that informer at once, like
an instantaneous watch. Detach (or never attach) to test against a stale cache. ``fail`` injects
errors for matching calls. No HTTP, no sleeps.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from kybernetes.api.printing import format_time
from kybernetes.api.selectors import parse_label_selector
from kybernetes.client import errors
from kybernetes.client.informer import Informer
from kybernetes.client.rest import Client, Resource
from tests.controllers.fakepatch import merge_patch, strategic_patch

Obj = dict[str, Any]
T0 = 1_700_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeInformer(Informer):
    def __init__(self, resource: Resource, objs: list[Obj] = ()) -> None:  # type: ignore[assignment]
        super().__init__(cast(Client, None), resource)
        self._synced.set()
        for o in objs:
            self.add(o)

    def _fill(self, obj: Obj) -> Obj:
        obj.setdefault("apiVersion", self.resource.api_version)
        obj.setdefault("kind", self.resource.kind)
        return obj

    def add(self, obj: Obj) -> None:
        self._apply("ADDED", self._fill(obj))

    def update(self, obj: Obj) -> None:
        self._apply("MODIFIED", self._fill(obj))

    def delete(self, obj: Obj) -> None:
        self._apply("DELETED", self._fill(obj))


@dataclass
class Action:
    verb: str
    resource: str
    namespace: str | None
    name: str
    body: Any = None
    subresource: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


def _status(code: int, reason: str, message: str, causes: list[dict[str, str]] | None = None) -> dict[str, Any]:
    st: dict[str, Any] = {"kind": "Status", "status": "Failure", "code": code, "reason": reason, "message": message}
    if causes:
        st["details"] = {"causes": causes}
    return st


def not_found(res: Resource, name: str) -> errors.ApiError:
    return errors.from_status(404, _status(404, "NotFound", f'{res.plural} "{name}" not found'))


def conflict(res: Resource, name: str, why: str = "the object has been modified") -> errors.ApiError:
    return errors.from_status(409, _status(409, "Conflict", f'Operation cannot be fulfilled on {res.plural} "{name}": {why}'))


class FakeRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str]] = []  # (name, type, reason, message)

    def record(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        self.events.append(((obj.get("metadata") or {}).get("name", ""), type_, reason, message))

    def reasons(self) -> list[str]:
        return [e[2] for e in self.events]

    def messages(self, reason: str | None = None) -> list[str]:
        return [e[3] for e in self.events if reason is None or e[2] == reason]


class FakeClient:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.objects: dict[tuple[str, str, str], Obj] = {}
        self.actions: list[Action] = []
        self.informers: dict[str, FakeInformer] = {}
        self.responses: dict[str, dict[str, Any]] = {}  # GET path → body, for request()
        self._failures: list[tuple[Callable[[Action], bool], errors.ApiError | Exception, list[int]]] = []
        self._rv = itertools.count(1000)
        self._uid = itertools.count(1)
        self._names = itertools.count(1)
        self.history: list[tuple[int, str, dict[str, Any]]] = []  # (rv, plural, watch event) for watch()
        self._changed: asyncio.Condition | None = None

    # --- test setup ----------------------------------------------------------------------------
    def informer(self, res: Resource, attach: bool = True) -> FakeInformer:
        inf = FakeInformer(res)
        for (plural, _ns, _n), obj in self.objects.items():
            if plural == res.plural:
                inf.add(copy.deepcopy(obj))
        if attach:
            self.informers[res.plural] = inf
        return inf

    def add(self, res: Resource, obj: Obj) -> Obj:
        """Seed an object (defaults filled in), mirrored into an attached informer."""
        md = obj.setdefault("metadata", {})
        obj.setdefault("apiVersion", res.api_version)
        obj.setdefault("kind", res.kind)
        md.setdefault("uid", f"uid-{next(self._uid)}")
        md.setdefault("resourceVersion", str(next(self._rv)))
        md.setdefault("creationTimestamp", format_time(self.clock()))
        md.setdefault("generation", 1)
        self.objects[(res.plural, md.get("namespace", ""), md["name"])] = obj
        self._echo(res, "ADDED", obj)
        return obj

    def fail(self, verb: str, plural: str, error: errors.ApiError | Exception, times: int = 1_000_000,
             when: Callable[[Action], bool] | None = None) -> None:
        def match(a: Action) -> bool:
            return a.verb == verb and a.resource == plural and (when is None or when(a))
        self._failures.append((match, error, [times]))

    def stored(self, res: Resource, name: str, namespace: str = "") -> Obj | None:
        return self.objects.get((res.plural, namespace if res.namespaced else "", name))

    def all(self, res: Resource, namespace: str | None = None) -> list[Obj]:
        return [o for (p, ns, _n), o in self.objects.items() if p == res.plural and (namespace is None or ns == namespace)]

    def verbs(self, plural: str | None = None) -> list[str]:
        return [a.verb for a in self.actions if plural is None or a.resource == plural]

    def clear(self) -> None:
        self.actions.clear()

    # --- internals -----------------------------------------------------------------------------
    def _record(self, action: Action) -> None:
        self.actions.append(action)
        for match, error, left in self._failures:
            if left[0] > 0 and match(action):
                left[0] -= 1
                raise error

    def _echo(self, res: Resource, kind: str, obj: Obj) -> None:
        if kind == "DELETED":
            obj = copy.deepcopy(obj)
            self._bump(obj)
        rv = int(obj["metadata"]["resourceVersion"])
        self.history.append((rv, res.plural, {"type": kind, "object": copy.deepcopy(obj)}))
        if self._changed is not None:
            asyncio.get_running_loop().create_task(self._notify())
        inf = self.informers.get(res.plural)
        if inf is not None:
            getattr(inf, {"ADDED": "add", "MODIFIED": "update", "DELETED": "delete"}[kind])(copy.deepcopy(obj))

    def _key(self, res: Resource, namespace: str | None, name: str) -> tuple[str, str, str]:
        return (res.plural, (namespace or "") if res.namespaced else "", name)

    def _bump(self, obj: Obj) -> None:
        obj["metadata"]["resourceVersion"] = str(next(self._rv))

    def _write(self, res: Resource, key: tuple[str, str, str], new: Obj, subresource: str | None) -> Obj:
        old = self.objects[key]
        if subresource == "status":
            new["spec"] = copy.deepcopy(old.get("spec"))
            new["metadata"]["generation"] = old["metadata"].get("generation", 1)
        elif subresource == "finalize":
            fin = (new.get("spec") or {}).get("finalizers") or []
            new = copy.deepcopy(old)
            new.setdefault("spec", {})["finalizers"] = fin
        elif subresource is None:
            if "status" in old or "status" in new:
                new["status"] = copy.deepcopy(old.get("status"))
                if new["status"] is None:
                    new.pop("status")
            gen = old["metadata"].get("generation", 1)
            changed = new.get("spec") != old.get("spec") or (
                res.plural == "deployments" and new["metadata"].get("annotations") != old["metadata"].get("annotations"))
            new["metadata"]["generation"] = gen + 1 if changed else gen
        for f in ("uid", "creationTimestamp", "deletionTimestamp"):
            if f in old["metadata"]:
                new["metadata"][f] = old["metadata"][f]
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if new == old:
            return copy.deepcopy(old)
        self._bump(new)
        md = new["metadata"]
        if md.get("deletionTimestamp") and not md.get("finalizers") and not (new.get("spec") or {}).get("finalizers"):
            del self.objects[key]
            self._echo(res, "DELETED", new)
            return copy.deepcopy(new)
        self.objects[key] = new
        self._echo(res, "MODIFIED", new)
        return copy.deepcopy(new)

    async def _notify(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], bool], deadline: float = 10.0) -> None:
        """Wait (without polling) until a write makes ``predicate`` true."""
        if self._changed is None:
            self._changed = asyncio.Condition()
        cond = self._changed

        async def waiter() -> None:
            async with cond:
                await cond.wait_for(predicate)

        await asyncio.wait_for(waiter(), deadline)

    # --- the Client surface controllers use ------------------------------------------------------
    async def get(self, res: Resource, name: str, namespace: str | None = None,
                  subresource: str | None = None) -> Obj:
        self._record(Action("get", res.plural, namespace, name, subresource=subresource))
        obj = self.objects.get(self._key(res, namespace, name))
        if obj is None:
            raise not_found(res, name)
        return copy.deepcopy(obj)

    async def list(self, res: Resource, namespace: str | None = None, **params: Any) -> Obj:
        self._record(Action("list", res.plural, namespace, "", params=params))
        sel = parse_label_selector(params.get("labelSelector"))
        items = [copy.deepcopy(o) for (p, ns, _n), o in sorted(self.objects.items(), key=lambda kv: kv[0])
                 if p == res.plural and (not namespace or ns == namespace)
                 and sel.matches((o.get("metadata") or {}).get("labels"))]
        return {"items": items, "metadata": {"resourceVersion": str(next(self._rv))}}

    async def create(self, res: Resource, obj: Obj, namespace: str | None = None, subresource: str | None = None,
                     name: str | None = None, **params: Any) -> Obj:
        obj = copy.deepcopy(obj)
        md = obj.setdefault("metadata", {})
        self._record(Action("create", res.plural, namespace, md.get("name") or md.get("generateName", ""), obj,
                            subresource, params))
        if subresource:
            return obj
        if not md.get("name"):
            md["name"] = f"{md.get('generateName', '')}{next(self._names):05d}"
        key = self._key(res, namespace, md["name"])
        if key in self.objects:
            raise errors.from_status(409, _status(409, "AlreadyExists", f'{res.plural} "{md["name"]}" already exists'))
        if res.namespaced:
            md["namespace"] = namespace
        md["uid"] = f"uid-{next(self._uid)}"
        md["creationTimestamp"] = format_time(self.clock())
        md["generation"] = 1
        md["resourceVersion"] = str(next(self._rv))
        obj.setdefault("apiVersion", res.api_version)
        obj.setdefault("kind", res.kind)
        self.objects[key] = obj
        self._echo(res, "ADDED", obj)
        return copy.deepcopy(obj)

    async def replace(self, res: Resource, obj: Obj, namespace: str | None = None,
                      subresource: str | None = None) -> Obj:
        obj = copy.deepcopy(obj)
        name = obj["metadata"]["name"]
        self._record(Action("update", res.plural, namespace, name, obj, subresource))
        key = self._key(res, namespace, name)
        old = self.objects.get(key)
        if old is None:
            raise not_found(res, name)
        rv = obj["metadata"].get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise conflict(res, name)
        return self._write(res, key, obj, subresource)

    async def patch(self, res: Resource, name: str, patch: Any, namespace: str | None = None,
                    subresource: str | None = None, patch_type: str = "application/merge-patch+json",
                    **params: Any) -> Obj:
        self._record(Action("patch", res.plural, namespace, name, patch, subresource, {"type": patch_type, **params}))
        key = self._key(res, namespace, name)
        old = self.objects.get(key)
        if old is None:
            raise not_found(res, name)
        pmd = (patch.get("metadata") or {}) if isinstance(patch, dict) else {}
        if pmd.get("uid") and pmd["uid"] != old["metadata"].get("uid"):
            raise conflict(res, name, "Precondition failed: UID mismatch")
        if pmd.get("resourceVersion") and pmd["resourceVersion"] != old["metadata"]["resourceVersion"]:
            raise conflict(res, name)
        apply = strategic_patch if "strategic" in patch_type else merge_patch
        new = apply(old, patch)
        return self._write(res, key, new, subresource)

    async def delete(self, res: Resource, name: str, namespace: str | None = None, **options: Any) -> Obj:
        self._record(Action("delete", res.plural, namespace, name, options))
        key = self._key(res, namespace, name)
        old = self.objects.get(key)
        if old is None:
            raise not_found(res, name)
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != old["metadata"].get("uid"):
            raise conflict(res, name, "Precondition failed: UID in precondition")
        md = old["metadata"]
        fins = list(md.get("finalizers") or [])
        policy = options.get("propagationPolicy")
        if policy == "Foreground" and "foregroundDeletion" not in fins:
            fins.append("foregroundDeletion")
        if policy == "Orphan" and "orphan" not in fins:
            fins.append("orphan")
        if fins or (old.get("spec") or {}).get("finalizers"):
            new = copy.deepcopy(old)
            new["metadata"]["finalizers"] = fins
            new["metadata"].setdefault("deletionTimestamp", format_time(self.clock()))
            if res.plural == "namespaces":
                new.setdefault("status", {})["phase"] = "Terminating"
            self._bump(new)
            self.objects[key] = new
            self._echo(res, "MODIFIED", new)
            return copy.deepcopy(new)
        del self.objects[key]
        self._echo(res, "DELETED", old)
        return {"kind": "Status", "status": "Success"}

    async def delete_collection(self, res: Resource, namespace: str | None = None, body: Obj | None = None,
                                **params: Any) -> Obj:
        self._record(Action("deletecollection", res.plural, namespace, "", body, params=params))
        for (p, ns, n) in list(self.objects):
            if p == res.plural and (not namespace or ns == namespace):
                await self.delete(res, n, ns, **(body or {}))
        return {"kind": "Status", "status": "Success"}

    async def watch(self, res: Resource, namespace: str | None = None, resource_version: str = "",
                    timeout_seconds: int = 300, **params: Any) -> AsyncIterator[dict[str, Any]]:
        """Events after ``resource_version`` (replayed from history), then live ones."""
        if self._changed is None:
            self._changed = asyncio.Condition()
        seen = int(resource_version or 0)
        while True:
            for rv, plural, ev in list(self.history):
                if rv <= seen or plural != res.plural:
                    continue
                seen = rv
                if namespace and (ev["object"].get("metadata") or {}).get("namespace") != namespace:
                    continue
                yield copy.deepcopy(ev)
            async with self._changed:
                await self._changed.wait_for(functools.partial(self._has_news, res.plural, seen))

    def _has_news(self, plural: str, after: int) -> bool:
        return any(rv > after and p == plural for rv, p, _ in self.history)

    async def request(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None,
                      content_type: str = "application/json", request_timeout: float = 60) -> Obj:
        self.actions.append(Action(method.lower(), path, None, "", body))
        if path not in self.responses:
            raise errors.from_status(404, _status(404, "NotFound", "the server could not find the requested resource"))
        return copy.deepcopy(self.responses[path])


def as_client(fake: FakeClient) -> Client:
    return cast(Client, fake)
