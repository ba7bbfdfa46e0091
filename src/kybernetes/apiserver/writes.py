"""Write handlers: create (POST), update (PUT), patch (all four types), delete, deletecollection.

Each decodes the request, checks kind/namespace/name against the URL, applies field validation
(``fieldValidation`` Strict/Warn/Ignore; unknown fields are dropped otherwise), records the field
manager in ``managedFields`` and hands the object to ``ObjectStore``. Status and scale writes reuse
these with the subresource's strategy (see ``subresources.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from kybernetes.api import apply as ssa
from kybernetes.api import errors, fieldvalidation, gofmt, patch
from kybernetes.api.schema import Schemas
from kybernetes.api.strategy import ResourceInfo, Strategy, WriteContext
from kybernetes.apiserver import request as rq
from kybernetes.apiserver.objects import DeleteOptions, ObjectStore, WriteOptions
from kybernetes.apiserver.request import RequestInfo

DRY_RUN_VALUES = ("All",)


def write_options(request: web.Request, subresource: str = "") -> WriteOptions:
    if not request.query_string:  # the common case: every option at its default
        return WriteOptions(field_manager=default_manager(request.headers.get("User-Agent", "")),
                            field_validation=fieldvalidation.WARN, subresource=subresource, result_read_only=True)
    dry = request.query.getall("dryRun", [])
    for d in dry:
        if d not in DRY_RUN_VALUES:
            raise errors.bad_request(f'Invalid dry run value "{d}": Unsupported value: "{d}": supported values: "All"')
    options_kind = {"POST": "CreateOptions", "PUT": "UpdateOptions", "PATCH": "PatchOptions"}.get(request.method,
                                                                                                   "CreateOptions")
    fv = fieldvalidation.parse_directive(request.query.get("fieldValidation"), options_kind)
    manager = request.query.get("fieldManager", "")
    if len(manager) > 128:
        raise errors.invalid_object("PatchOptions", "meta.k8s.io", "", [errors.too_long("fieldManager", manager, 128)])
    if not manager:
        manager = default_manager(request.headers.get("User-Agent", ""))
    return WriteOptions(dry_run=bool(dry), field_manager=manager, field_validation=fv, subresource=subresource,
                        result_read_only=True)


def _merge_patch_sets(doc: dict[str, Any]) -> dict[str, Any]:
    """What a JSON merge patch puts into the object: the patch without the fields it deletes
    (nulls in maps; lists replace whole lists, so they stay as they are)."""
    return {k: _merge_patch_sets(v) if type(v) is dict else v for k, v in doc.items() if v is not None}


def _duplicates_source(raw: bytes, body: dict[str, Any]) -> bytes:
    """What the repeated-key check must read: ``raw``, or nothing when ``raw`` is exactly what
    encoding the decoded ``body`` gives again (compact JSON as orjson and, mostly, Go write it):
    a repeated key would have been lost in the round trip, so there is none."""
    try:
        return b"" if orjson.dumps(body) == raw else raw
    except (TypeError, orjson.JSONEncodeError):
        return raw


def default_manager(user_agent: str) -> str:
    """Like the apiserver: the User-Agent up to its first '/', at most 128 characters."""
    return (user_agent.split("/", 1)[0] or "unknown")[:128]


def respond(obj: Any, status: int, ctx: WriteContext) -> web.Response:
    resp = rq.json_response(obj, status)
    for w in dict.fromkeys(ctx.warnings):
        resp.headers.add("Warning", '299 - "' + w.replace('"', '\\"') + '"')
    return resp


class Writes:
    def __init__(self, objects: ObjectStore, schemas: Schemas,
                 context_factory: Callable[[web.Request, RequestInfo], WriteContext]) -> None:
        self.objects = objects
        self.schemas = schemas
        self.context = context_factory

    def schema_root(self, info: ResourceInfo) -> dict[str, Any] | None:
        return self.schemas.for_gvk(info.gvk)

    # --- field validation & managed fields ------------------------------------------------------
    def check_fields(self, info: ResourceInfo, obj: dict[str, Any], opts: WriteOptions, ctx: WriteContext,
                     raw: bytes = b"", content_type: str = "", patch_value: str | None = None,
                     new_part: dict[str, Any] | None = None) -> None:
        """Unknown (and, for raw bodies, duplicate) fields per ``fieldValidation``; unknown ones are
        dropped. ``new_part``: the only part of ``obj`` that can hold unknown fields (what a merge
        patch sets; the stored rest has none), walked instead of all of ``obj``."""
        root = self.schema_root(info)
        if root is None:
            return
        unknown = fieldvalidation.unknown_fields(obj if new_part is None else new_part, root, self.schemas)
        if getattr(info.strategy, "custom_resource", False):
            unknown.sort()
        dups = fieldvalidation.duplicate_fields(raw, content_type) if raw and opts.field_validation != "Ignore" \
            else []
        if not unknown and not dups:
            return
        if opts.field_validation == "Strict":
            if patch_value is not None:
                raise fieldvalidation.patch_strict_error(unknown, dups, patch_value)
            raise fieldvalidation.strict_error(unknown, dups, kind=info.kind, version=info.version)
        if opts.field_validation == "Warn":
            ctx.warnings.extend(fieldvalidation.warnings(unknown, dups))
        fieldvalidation.prune(obj, unknown)

    def track(self, info: ResourceInfo, opts: WriteOptions, ctx: WriteContext, operation: str = "Update"
              ) -> Callable[[dict[str, Any], dict[str, Any] | None], None]:
        root = self.schema_root(info)

        def hook(new: dict[str, Any], old: dict[str, Any] | None) -> None:
            ssa.update_managed_fields(old, new, opts.field_manager, operation, info.api_version, ctx.now,
                                      self.schemas, root, subresource=opts.subresource)

        return hook

    # --- create ---------------------------------------------------------------------------------
    async def create(self, request: web.Request, ri: RequestInfo, info: ResourceInfo,
                     body: dict[str, Any] | None = None) -> web.Response:
        ctx = self.context(request, ri)
        opts = write_options(request)
        raw = b""
        ctype = rq.media_type(request)
        if body is None:
            raw = await rq.read_body(request)
            body = rq.decode_object(raw, ctype)
            raw = _duplicates_source(raw, body) if ctype != rq.PROTOBUF else b""
        self.objects.check_kind(info, body)
        self.objects.check_namespace(info, body, ri.namespace)
        self.check_fields(info, body, opts, ctx, raw, ctype or rq.JSON)
        hook = self.track(info, opts, ctx)
        obj = await self.objects.create(info, body, ctx, opts, on_prepared=lambda o: hook(o, None))
        return respond(obj, 201, ctx)

    # --- update (PUT) ---------------------------------------------------------------------------
    async def update(self, request: web.Request, ri: RequestInfo, info: ResourceInfo,
                     strategy: Strategy | None = None) -> web.Response:
        ctx = self.context(request, ri)
        opts = write_options(request, ri.subresource)
        ctype = rq.media_type(request)
        raw = await rq.read_body(request)
        body = rq.decode_object(raw, ctype)
        raw = _duplicates_source(raw, body) if ctype != rq.PROTOBUF else b""
        self.objects.check_kind(info, body)
        self.objects.check_namespace(info, body, ri.namespace)
        name = (body.get("metadata") or {}).get("name")
        if name != ri.name:
            raise errors.bad_request(f"the name of the object ({name}) does not match the name on the URL "
                                     f"({ri.name})")
        self.check_fields(info, body, opts, ctx, raw, ctype or rq.JSON)
        strategy = strategy or info.strategy
        hook = self.track(info, opts, ctx)

        def mutate(current: dict[str, Any] | None) -> dict[str, Any]:
            new = copy.deepcopy(body)
            if current is not None and "managedFields" not in new["metadata"]:
                mf = current["metadata"].get("managedFields")
                if mf is not None:
                    new["metadata"]["managedFields"] = mf
            return new

        obj, created = await self.objects.update(info, ri.namespace, ri.name, mutate, ctx, opts, strategy,
                                                 create_if_missing=strategy.allow_create_on_update(),
                                                 on_prepared=hook)
        return respond(obj, 201 if created else 200, ctx)

    # --- patch ----------------------------------------------------------------------------------
    async def patch(self, request: web.Request, ri: RequestInfo, info: ResourceInfo, strategy: Strategy | None = None,
                    custom: bool = False) -> web.Response:
        ctx = self.context(request, ri)
        ctype = rq.media_type(request)
        if ctype not in rq.PATCH_TYPES or (custom and ctype == rq.STRATEGIC_PATCH):
            accepted = [rq.JSON_PATCH, rq.MERGE_PATCH, rq.APPLY_PATCH] if custom else [
                rq.JSON_PATCH, rq.MERGE_PATCH, rq.STRATEGIC_PATCH, rq.APPLY_PATCH]
            raise errors.unsupported_media_type(ctype, accepted)
        opts = write_options(request, ri.subresource)
        is_apply = ctype == rq.APPLY_PATCH
        force = rq.query_bool(request, "force")
        if is_apply and not request.query.get("fieldManager"):
            raise errors.bad_request("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is "
                                     "required for apply patch")
        if force and not is_apply:
            raise errors.bad_request("PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be "
                                     "specified for non-apply patch")
        raw = await rq.read_body(request)
        doc = rq.decode_patch_body(raw, ctype)
        if is_apply and opts.field_validation != "Ignore":
            dups = fieldvalidation.duplicate_fields(raw, rq.APPLY_PATCH)
            if dups and opts.field_validation == "Strict":
                raise fieldvalidation.apply_strict_error(dups)
        strategy = strategy or info.strategy
        root = self.schema_root(info)
        unused = [doc]  # a merge patch's decoded body, moved into the first attempt's object

        def mutate(current: dict[str, Any] | None) -> dict[str, Any]:
            if is_apply:
                if not isinstance(doc, dict):
                    raise errors.bad_request("apply patch must be an object")
                applied = copy.deepcopy(doc)
                self.objects.check_kind(info, applied)
                self.objects.check_namespace(info, applied, ri.namespace)
                self.check_fields(info, applied, opts, ctx)
                if (applied.get("metadata") or {}).get("name") not in (None, ri.name):
                    raise errors.bad_request(f"the name of the object ({applied['metadata']['name']}) does not "
                                             f"match the name on the URL ({ri.name})")
                applied["metadata"]["name"] = ri.name
                new = ssa.server_side_apply(current, applied, opts.field_manager, force, self.schemas, root,
                                            info.api_version, ctx.now or _now())
                return new
            if current is None:
                raise errors.not_found(info.plural, info.group, ri.name)
            before_rv = current["metadata"].get("resourceVersion")
            type_meta = (("kind", current.get("kind")), ("apiVersion", current.get("apiVersion")))
            merge_sets = None
            if ctype == rq.JSON_PATCH:
                new = patch.apply_json_patch(current, doc)
            elif ctype == rq.MERGE_PATCH:
                own = unused.pop() if unused else rq.decode_patch_body(raw, ctype)  # a retry decodes again
                merge_sets = _merge_patch_sets(own) if isinstance(own, dict) else None
                new = patch.apply_merge_patch_owned(current, own)  # ``current`` is this attempt's copy
            else:
                new = patch.apply_strategic_merge_patch(current, doc, root, self.schemas)
            if not isinstance(new, dict) or not isinstance(new.get("metadata"), dict):
                raise errors.bad_request("the patch produced an object without metadata")
            if new["metadata"].get("resourceVersion") == before_rv:
                new["metadata"].pop("resourceVersion", None)
            for k, v in type_meta:
                new.setdefault(k, v)
            value = gofmt.go_value(doc) if ctype == rq.STRATEGIC_PATCH else None
            if opts.field_validation == "Strict" and value is None:
                value = orjson.dumps(new).decode()
            self.check_fields(info, new, opts, ctx, patch_value=value, new_part=merge_sets)
            return new

        hook = None if is_apply else self.track(info, opts, ctx)
        obj, created = await self.objects.update(info, ri.namespace, ri.name, mutate, ctx, opts, strategy,
                                                 create_if_missing=is_apply and not ri.subresource,
                                                 is_patch=True, on_prepared=hook)
        return respond(obj, 201 if created else 200, ctx)

    # --- delete ---------------------------------------------------------------------------------
    async def delete(self, request: web.Request, ri: RequestInfo, info: ResourceInfo) -> web.Response:
        ctx = self.context(request, ri)
        opts = await delete_options(request)
        obj, removed = await self.objects.delete(info, ri.namespace, ri.name, ctx, opts)
        if not removed:
            return respond(obj, 202 if not opts.dry_run else 200, ctx)
        if info.strategy.return_deleted_object:
            return respond(obj, 200, ctx)
        md = obj.get("metadata") or {}
        details: dict[str, Any] = {"name": ri.name, "kind": info.plural, "uid": md.get("uid", "")}
        if info.group:
            details = {"name": ri.name, "group": info.group, "kind": info.plural, "uid": md.get("uid", "")}
        return respond({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                        "details": details}, 200, ctx)

    async def delete_collection(self, request: web.Request, ri: RequestInfo, info: ResourceInfo) -> web.Response:
        from kybernetes.apiserver.reads import make_predicate

        ctx = self.context(request, ri)
        opts = await delete_options(request)
        pred, _ = make_predicate(info, request)
        await self.objects.cache.wait_fresh()
        entries = [e for e in self.objects.cache.list(info.namespace_prefix(ri.namespace))
                   if pred is None or pred(e.obj)]
        deleted = []
        for e in entries:
            md = e.obj.get("metadata") or {}
            try:
                obj, _ = await self.objects.delete(info, md.get("namespace", ""), md.get("name", ""), ctx, opts)
            except errors.StatusError as exc:
                if exc.code == 404:
                    continue
                raise
            deleted.append(obj)
        return respond({"kind": info.list_kind_name, "apiVersion": info.api_version,
                        "metadata": {"resourceVersion": str(self.objects.cache.revision)}, "items": deleted}, 200, ctx)


async def delete_options(request: web.Request) -> DeleteOptions:
    body: dict[str, Any] = {}
    raw = await rq.read_body(request) if request.can_read_body else b""
    if raw.strip():
        body = rq.decode_object(raw, rq.media_type(request) or rq.JSON)
    q = request.query
    grace = body.get("gracePeriodSeconds")
    if grace is None and q.get("gracePeriodSeconds"):
        grace = rq.query_int(request, "gracePeriodSeconds")
    policy = body.get("propagationPolicy") or q.get("propagationPolicy")
    if policy and policy not in ("Foreground", "Background", "Orphan"):
        raise errors.invalid_object("DeleteOptions", "meta.k8s.io", "", [errors.not_supported(
            "propagationPolicy", policy, ["Foreground", "Background", "Orphan"])])
    orphan = body.get("orphanDependents")
    if orphan is None and "orphanDependents" in q:
        orphan = rq.query_bool(request, "orphanDependents")
    if orphan is not None and policy:
        raise errors.invalid_object("DeleteOptions", "meta.k8s.io", "", [errors.invalid(
            "propagationPolicy", policy, "orphanDependents and deletionPropagation cannot be both set")])
    pre = body.get("preconditions") or {}
    dry = list(body.get("dryRun") or []) + q.getall("dryRun", [])
    return DeleteOptions(grace_period_seconds=grace, propagation_policy=policy, orphan_dependents=orphan,
                         precondition_uid=pre.get("uid"), precondition_rv=pre.get("resourceVersion"),
                         dry_run=bool(dry))


def _now() -> str:
    from kybernetes.api.printing import format_time

    return format_time()
