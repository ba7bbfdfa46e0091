"""Subresources served by the apiserver itself: status, scale, binding, eviction, namespace finalize.

Each maps onto the generic object store with the subresource's strategy, as Kubernetes' REST
storage for ``pods/binding``, ``deployments/scale`` etc. does. Streaming subresources (logs,
exec, attach, port-forward, proxy) go to the kubelet and live in their own module.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kybernetes.api import errors
from kybernetes.api.printing import format_time
from kybernetes.api.strategy import ResourceInfo, Strategy, WriteContext
from kybernetes.apiserver import request as rq
from kybernetes.apiserver.objects import DeleteOptions, ObjectStore
from kybernetes.apiserver.request import RequestInfo
from kybernetes.apiserver.writes import Writes, respond, write_options


class _BindingStrategy(Strategy):
    """``pods/binding`` writes exactly what its mutation set (nodeName, PodScheduled), nothing else."""

    has_status = False

    def prepare_for_update(self, obj: dict[str, Any], old: dict[str, Any], ctx: WriteContext) -> None:
        return None


_BINDING = _BindingStrategy()


def set_pod_scheduled(status: dict[str, Any], now: str) -> None:
    """``PodScheduled=True`` in place of an earlier PodScheduled condition (or added last); the
    transition time changes only if the status did."""
    conds = list(status.get("conditions") or [])
    i = next((i for i, c in enumerate(conds) if c.get("type") == "PodScheduled"), None)
    since = conds[i].get("lastTransitionTime") if i is not None and conds[i].get("status") == "True" else now
    cond = {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": since}
    if i is None:
        conds.append(cond)
    else:
        conds[i] = cond
    status["conditions"] = conds


def scale_object(info: ResourceInfo, obj: dict[str, Any]) -> dict[str, Any]:
    assert info.scale is not None
    md = obj["metadata"]
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in md},
        "spec": {"replicas": info.scale.get_spec_replicas(obj)},
        "status": {"replicas": info.scale.get_status_replicas(obj), "selector": info.scale.get_selector(obj)},
    }


class Subresources:
    def __init__(self, objects: ObjectStore, writes: Writes) -> None:
        self.objects = objects
        self.writes = writes

    async def handle(self, request: web.Request, ri: RequestInfo, info: ResourceInfo) -> web.StreamResponse:
        sub = ri.subresource
        declared = {s.name: s for s in info.subresources}
        if sub not in declared:
            raise errors.not_found(f"{info.plural}/{sub}" if sub else info.plural, info.group, ri.name)
        verbs = declared[sub].verbs
        method = request.method
        verb = {"GET": "get", "PUT": "update", "PATCH": "patch", "POST": "create"}.get(method, method.lower())
        if verb not in verbs:
            raise errors.method_not_allowed()
        if sub == "status":
            return await self.status(request, ri, info)
        if sub == "scale" and info.scale is not None:
            return await self.scale(request, ri, info)
        if sub == "binding":
            return await self.binding(request, ri, info)
        if sub == "eviction":
            return await self.eviction(request, ri, info)
        strategy = info.subresource_strategies.get(sub)
        if strategy is not None:
            if method == "GET":
                return rq.json_response(await self.objects.get(info, ri.namespace, ri.name))
            if method == "PUT":
                return await self.writes.update(request, ri, info, strategy)
            return await self.writes.patch(request, ri, info, strategy)
        raise errors.StatusError(404, "NotFound", f"the server could not find the requested resource "
                                 f"({method.lower()} {info.plural}/{sub})")

    async def status(self, request: web.Request, ri: RequestInfo, info: ResourceInfo) -> web.Response:
        if request.method == "GET":
            return rq.json_response(await self.objects.get(info, ri.namespace, ri.name))
        strategy = info.status_strategy or info.strategy
        if request.method == "PUT":
            return await self.writes.update(request, ri, info, strategy)
        return await self.writes.patch(request, ri, info, strategy)

    async def scale(self, request: web.Request, ri: RequestInfo, info: ResourceInfo) -> web.Response:
        assert info.scale is not None
        if request.method == "GET":
            return rq.json_response(scale_object(info, await self.objects.get(info, ri.namespace, ri.name)))
        ctx = self.writes.context(request, ri)
        opts = write_options(request, "scale")
        raw = await rq.read_body(request)
        ctype = rq.media_type(request)
        if request.method == "PUT":
            body = rq.decode_object(raw, ctype)
        else:
            body = rq.decode_patch_body(raw, ctype)

        def mutate(current: dict[str, Any] | None) -> dict[str, Any]:
            assert current is not None and info.scale is not None
            scale = scale_object(info, current)
            if request.method == "PUT":
                new_scale = body
            else:
                from kybernetes.api import patch as patching

                if ctype == rq.JSON_PATCH:
                    new_scale = patching.apply_json_patch(scale, body)
                elif ctype in (rq.MERGE_PATCH, rq.STRATEGIC_PATCH, rq.APPLY_PATCH):
                    new_scale = patching.apply_merge_patch(scale, body)
                else:
                    raise errors.unsupported_media_type(ctype)
            rv = (new_scale.get("metadata") or {}).get("resourceVersion")
            if rv and rv != current["metadata"].get("resourceVersion"):
                raise errors.stale(info.plural, info.group, ri.name)
            replicas = (new_scale.get("spec") or {}).get("replicas", 0)
            if not isinstance(replicas, int) or replicas < 0:
                raise errors.invalid_object("Scale", "autoscaling", ri.name, [errors.invalid(
                    "spec.replicas", replicas, "must be greater than or equal to 0")])
            info.scale.set_spec_replicas(current, replicas)
            current["metadata"].pop("resourceVersion", None)
            return current

        hook = self.writes.track(info, opts, ctx)
        obj, _ = await self.objects.update(info, ri.namespace, ri.name, mutate, ctx, opts, on_prepared=hook)
        return respond(scale_object(info, obj), 200, ctx)

    async def binding(self, request: web.Request, ri: RequestInfo, info: ResourceInfo) -> web.Response:
        ctx = self.writes.context(request, ri)
        opts = write_options(request, "binding")
        body = rq.decode_object(await rq.read_body(request), rq.media_type(request))
        target = body.get("target") or {}
        node = target.get("name", "")
        if not node:
            raise errors.invalid_object("Binding", "", ri.name, [errors.required("target.name", "")])

        meta = body.get("metadata") or {}
        uid = meta.get("uid") or ""

        def mutate(current: dict[str, Any] | None) -> dict[str, Any]:
            assert current is not None
            md = current["metadata"]
            if uid and uid != md.get("uid"):
                raise errors.conflict(info.plural, info.group, ri.name, f"Precondition failed: UID in precondition: "
                                      f"{uid}, UID in object meta: {md.get('uid', '')}")
            if md.get("deletionTimestamp"):
                raise errors.conflict(info.plural, info.group, ri.name, "pod is being deleted, cannot be assigned "
                                      "to a host")
            spec = current.setdefault("spec", {})
            if spec.get("nodeName"):
                raise errors.conflict(info.plural, info.group, ri.name,
                                      f'pod {ri.name} is already assigned to node "{spec["nodeName"]}"')
            if spec.get("schedulingGates"):
                raise errors.conflict(info.plural, info.group, ri.name,
                                      f"pod {ri.name} has non-empty .spec.schedulingGates")
            spec["nodeName"] = node
            ann = meta.get("annotations")
            if ann:
                md.setdefault("annotations", {}).update(ann)
            set_pod_scheduled(current.setdefault("status", {}), format_time())
            md.pop("resourceVersion", None)
            return current

        # Like upstream's BindingREST, a direct read-modify-write of the stored pod: no strategy
        # hooks and no managedFields entry (the request object is the Binding, not the pod), so
        # the current pod is only read.
        await self.objects.update(info, ri.namespace, ri.name, mutate, ctx, opts, _BINDING,
                                  precondition_rv=meta.get("resourceVersion") or None, shared_current=True)
        return respond({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201},
                       201, ctx)

    async def eviction(self, request: web.Request, ri: RequestInfo, info: ResourceInfo) -> web.Response:
        ctx = self.writes.context(request, ri)
        body = rq.decode_object(await rq.read_body(request), rq.media_type(request))
        pod = await self.objects.get(info, ri.namespace, ri.name)
        blocked = self._pdb_blocks(pod)
        if blocked:
            raise errors.StatusError(429, "TooManyRequests", "Cannot evict pod as it would violate the pod's "
                                     "disruption budget.",
                                     {"causes": [{"reason": "DisruptionBudget", "message":
                                                  f"The disruption budget {blocked} needs more healthy pods"}]})
        options = body.get("deleteOptions") or {}
        opts = DeleteOptions(grace_period_seconds=options.get("gracePeriodSeconds"),
                             propagation_policy=options.get("propagationPolicy"),
                             dry_run=bool(options.get("dryRun")))
        await self.objects.delete(info, ri.namespace, ri.name, ctx, opts)
        return respond({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201},
                       201, ctx)

    def _pdb_blocks(self, pod: dict[str, Any]) -> str | None:
        from kybernetes.api.selectors import selector_from_label_selector

        ns = pod["metadata"].get("namespace", "")
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed", "Pending"):
            return None
        for e in self.objects.cache.list(f"/registry/policy/poddisruptionbudgets/{ns}/"):
            sel = selector_from_label_selector((e.obj.get("spec") or {}).get("selector"))
            if sel is None or not sel.matches(pod["metadata"].get("labels")):
                continue
            if int((e.obj.get("status") or {}).get("disruptionsAllowed") or 0) < 1:
                return e.obj["metadata"]["name"]
        return None
