"""OpenAPI v3 documents (``/openapi/v3`` and ``/openapi/v3/<gv>``) built from the registry and schemas.

kubectl needs them for ``explain`` and to learn that PATCH takes ``fieldValidation`` (``apply``,
``create -f``, ``edit``). Each served group-version gets one document: its resources' paths (every
operation with ``x-kubernetes-group-version-kind``/``x-kubernetes-action``) and the component schemas
its kinds reach, rewritten from ``api.schema``'s JSON Schema form the way the apiserver publishes
them. ``OpenAPIV3`` builds lazily (call it via ``asyncio.to_thread``) and caches until things change.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from typing import Any

import orjson

from kybernetes.api.registry import Registry
from kybernetes.api.schema import REF_PREFIX, Schema, Schemas
from kybernetes.api.strategy import ResourceInfo
from kybernetes.api.types import GroupVersionKind

__all__ = ["OpenAPIV3", "build_document", "build_index", "convert_schema", "gv_path"]

COMPONENTS_PREFIX = "#/components/schemas/"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
#: A built-in kind whose apiVersion/kind/metadata descriptions custom kinds borrow.
TYPE_META_TEMPLATE = "io.k8s.api.core.v1.ConfigMap"
#: Types every real group-version document carries besides its kinds (operation bodies/responses).
META_DEFINITIONS = tuple(f"io.k8s.apimachinery.pkg.apis.meta.v1.{n}" for n in ("DeleteOptions", "Status", "Patch"))
#: How the apiserver publishes the two "either" scalars: no ``type`` (explain shows the ref name).
_REPLACED: dict[str, Schema] = {
    INT_OR_STRING: {"format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]},
    QUANTITY: {"oneOf": [{"type": "string"}, {"type": "number"}]},
}
#: Keywords whose value is a map of name → schema (names are data, never keywords).
_SCHEMA_MAPS = frozenset(("properties", "patternProperties", "definitions", "dependencies"))
#: Keywords whose value is a schema or a list of schemas (booleans are kept as they are).
_SCHEMA_VALUES = frozenset(("additionalProperties", "additionalItems", "not", "items", "allOf", "anyOf", "oneOf"))


def convert_schema(node: Any, refs: set[str] | None = None) -> Any:
    """One JSON Schema node in ``api.schema`` form → the apiserver's OpenAPI v3 form.

    ``$ref`` targets move to ``#/components/schemas``; a ref with sibling keywords becomes
    ``allOf: [{$ref}]`` plus the siblings; ``type: [t, "null"]`` becomes ``t``. Referenced
    definition names are added to ``refs``. Values of non-schema keywords (``enum``, ``default``,
    ``example``, extensions) and the *names* under ``properties`` are copied, never interpreted.
    """
    if not isinstance(node, dict):
        return node
    out: Schema = {}
    ref: str | None = None
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            name = value[len(REF_PREFIX):] if value.startswith(REF_PREFIX) else value
            if refs is not None:
                refs.add(name)
            ref = COMPONENTS_PREFIX + name
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {k: convert_schema(v, refs) if isinstance(v, dict) else v for k, v in value.items()}
        elif key in _SCHEMA_VALUES:
            out[key] = [convert_schema(v, refs) for v in value] if isinstance(value, list) else \
                convert_schema(value, refs)
        elif key == "type" and isinstance(value, list):
            if concrete := [t for t in value if t != "null"]:
                out[key] = concrete[0]
        else:
            out[key] = value
    if ref is None or not out:
        return out if ref is None else {"$ref": ref}
    all_of = out.get("allOf")
    out["allOf"] = [{"$ref": ref}, *(all_of if isinstance(all_of, list) else ())]
    return out


def convert_definition(name: str, definition: Schema, refs: set[str] | None = None) -> Schema:
    """A whole named definition: ``convert_schema`` plus the apiserver's per-type rewrites.

    IntOrString/Quantity get their published ``oneOf`` form; the ``enum`` that the schema data
    adds to ``apiVersion``/``kind`` of top-level kinds is dropped (the real documents have none).
    """
    if name in _REPLACED:
        described = isinstance(definition.get("description"), str)
        return {**_REPLACED[name], **({"description": definition["description"]} if described else {})}
    out: Schema = convert_schema(definition, refs)
    props = out.get("properties")
    if "x-kubernetes-group-version-kind" in out and isinstance(props, dict):
        for field in ("apiVersion", "kind"):
            if isinstance(props.get(field), dict) and "enum" in props[field]:
                props[field] = {k: v for k, v in props[field].items() if k != "enum"}
    return out


def reversed_group_name(group: str, version: str, kind: str) -> str:
    """The definition name of a custom kind: ``stable.example.com`` v1 CronTab → ``com.example.stable.v1.CronTab``."""
    parts = list(reversed(group.split("."))) if group else []
    return ".".join([*parts, version, kind])


def _def_name(schemas: Schemas, gvk: GroupVersionKind, explicit: str | None = None) -> str | None:
    if explicit and explicit in schemas.definitions:
        return explicit
    candidate = schemas.name_for(gvk) or reversed_group_name(gvk.group, gvk.version, gvk.kind)
    return candidate if candidate in schemas.definitions else None


# --- paths ---------------------------------------------------------------------------------------
_CONNECT = frozenset(("exec", "attach", "portforward", "proxy"))
_JSON_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
_PATCH_TYPES = ("application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json")
_SMP = "application/strategic-merge-patch+json"


def gv_path(group: str, version: str) -> str:
    """The document key of a group-version: ``api/v1`` or ``apis/<group>/<version>``."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _camel(group: str) -> str:
    """``rbac.authorization.k8s.io`` → ``RbacAuthorization``; core → ``Core`` (operationId/tag parts)."""
    words = group.removesuffix(".k8s.io").replace("-", ".").split(".") if group else ["core"]
    return "".join(w[:1].upper() + w[1:] for w in words if w)


def _param(name: str, description: str, typ: str = "string", where: str = "query") -> Schema:
    if where == "path":
        return {"name": name, "in": where, "description": description, "required": True, "schema": {"type": typ}}
    return {"name": name, "in": where, "description": description, "schema": {"type": typ, "uniqueItems": True}}


_P = {n: _param(n, d, t) for n, d, t in (
    ("pretty", "Pretty-print the output when 'true'.", "string"),
    ("dryRun", "When present, process the request fully but do not persist it. The only value is All.", "string"),
    ("fieldManager", "Name of the actor making the change, recorded in managedFields.", "string"),
    ("fieldValidation", "Unknown or duplicate body fields: Ignore drops them, Warn (the default) drops them "
     "with one Warning header each, Strict fails the request.", "string"),
    ("force", "Apply requests only: take over fields that other managers own.", "boolean"),
    ("allowWatchBookmarks", "Ask for BOOKMARK events in a watch.", "boolean"),
    ("continue", "The continue token of a previous, truncated list response.", "string"),
    ("fieldSelector", "Only objects whose fields match this selector.", "string"),
    ("labelSelector", "Only objects whose labels match this selector.", "string"),
    ("limit", "Maximum number of items in one response; metadata.continue leads to the rest.", "integer"),
    ("resourceVersion", "Constrains which resource versions the request may be served from.", "string"),
    ("resourceVersionMatch", "How resourceVersion applies to list calls (Exact or NotOlderThan).", "string"),
    ("sendInitialEvents", "Start a watch with synthetic events for the current state.", "boolean"),
    ("timeoutSeconds", "Timeout of the list or watch call.", "integer"),
    ("watch", "Watch for changes instead of listing.", "boolean"),
    ("gracePeriodSeconds", "Seconds before the object is deleted; zero means immediately.", "integer"),
    ("orphanDependents", "Deprecated: use propagationPolicy.", "boolean"),
    ("propagationPolicy", "Garbage collection of dependents: Orphan, Background or Foreground.", "string"),
)}
_LIST = [_P[n] for n in ("allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit",
                         "resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch")]
_WRITE = [_P["dryRun"], _P["fieldManager"], _P["fieldValidation"]]
_PATCH = [*_WRITE, _P["force"]]
_DELETE = [_P[n] for n in ("dryRun", "gracePeriodSeconds", "orphanDependents", "propagationPolicy")]
_NAMESPACE = _param("namespace", "object name and auth scope, such as for teams and projects", where="path")
#: verb → (HTTP method, operationId verb, description, x-kubernetes-action, query parameters, body, statuses).
#: In descriptions ``{of}`` is ``"status of "``-style for subresources and ``{kind}`` the kind.
_ITEM_OPS: dict[str, tuple[str, str, str, str, list[Schema], str, tuple[str, ...]]] = {
    "get": ("get", "read", "read {of}the specified {kind}", "get", [], "", ("200",)),
    "update": ("put", "replace", "replace {of}the specified {kind}", "put", _WRITE, "object", ("200", "201")),
    "patch": ("patch", "patch", "partially update {of}the specified {kind}", "patch", _PATCH, "patch", ("200", "201")),
    "delete": ("delete", "delete", "delete {of}a {kind}", "delete", _DELETE, "", ("200", "202")),
}
_COLLECTION_OPS: dict[str, tuple[str, str, str, str, list[Schema], str, tuple[str, ...]]] = {
    "list": ("get", "list", "list or watch objects of kind {kind}", "list", _LIST, "", ("200",)),
    "create": ("post", "create", "create {of}a {kind}", "post", _WRITE, "object", ("200", "201", "202")),
    "deletecollection": ("delete", "deleteCollection", "delete collection of {kind}", "deletecollection",
                         [*_DELETE, *_LIST], "", ("200",)),
}


def _ref(name: str | None) -> Schema:
    return {"$ref": COMPONENTS_PREFIX + name} if name else {"type": "object"}


def _operation(op_id: str, description: str, action: str, gvk: tuple[str, str, str], tag: str,
               params: list[Schema], response: str | None, body: Schema | None = None,
               status: tuple[str, ...] = ("200",)) -> Schema:
    content = {t: {"schema": _ref(response)} for t in _JSON_TYPES}
    texts = {"200": "OK", "201": "Created", "202": "Accepted"}
    responses = {**{code: {"description": texts[code], "content": content} for code in status},
                 "401": {"description": "Unauthorized"}}
    op: Schema = {"tags": [tag], "description": description, "operationId": op_id, "parameters": params,
                  "requestBody": body, "responses": responses, "x-kubernetes-action": action,
                  "x-kubernetes-group-version-kind": {"group": gvk[0], "version": gvk[1], "kind": gvk[2]}}
    return {k: v for k, v in op.items() if v is not None and v != []}


def resource_paths(info: ResourceInfo, kind_refs: dict[tuple[str, str, str], str]) -> dict[str, Schema]:
    """The path items of one resource: collection, item, all-namespaces list and subresources.

    ``kind_refs`` maps (group, version, kind) to component schema names; operationIds follow the
    apiserver's scheme (``patchAppsV1NamespacedDeployment``, ``listCoreV1PodForAllNamespaces``).
    """
    group, version, kind, plural = info.group, info.version, info.kind, info.plural
    gvk = (group, version, kind)
    prefix, cg = "/" + gv_path(group, version), _camel(group) + version[:1].upper() + version[1:]
    tag = cg[:1].lower() + cg[1:-len(version)] + "_" + version
    nsd = "Namespaced" if info.namespaced else ""
    coll = f"{prefix}/namespaces/{{namespace}}/{plural}" if info.namespaced else f"{prefix}/{plural}"
    scope = [_NAMESPACE] if info.namespaced else []
    item_params = [_param("name", f"name of the {kind}", where="path"), *scope, _P["pretty"]]
    me = kind_refs.get(gvk)
    patch_types = (*_PATCH_TYPES, _SMP) if me and me.startswith("io.k8s.") else _PATCH_TYPES

    def ops(table: dict[str, Any], verbs: Iterable[str], target: tuple[str, str, str], suffix: str = "",
            of: str = "") -> Schema:
        ref = kind_refs.get(target)
        out: Schema = {}
        for verb in verbs:
            if verb not in table:
                continue
            method, op_verb, text, action, params, body_kind, status = table[verb]
            response = {"list": kind_refs.get((group, version, info.list_kind_name)),
                        "delete": "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
                        "deletecollection": "io.k8s.apimachinery.pkg.apis.meta.v1.Status"}.get(action, ref)
            content = {"object": {"*/*": {"schema": _ref(ref)}}, "patch": {t: {"schema": _ref(
                "io.k8s.apimachinery.pkg.apis.meta.v1.Patch")} for t in patch_types}}.get(body_kind)
            body = {"content": content, "required": True} if content else None
            out[method] = _operation(f"{op_verb}{cg}{nsd}{kind}{suffix}", text.format(of=of, kind=kind), action,
                                     target, tag, params, response, body, status)
        return out

    paths: dict[str, Schema] = {}
    collection = ops(_COLLECTION_OPS, info.verbs, gvk)
    if collection:
        paths[coll] = {**collection, "parameters": [*scope, _P["pretty"]]}
    if info.namespaced and "list" in info.verbs:
        everywhere = ops(_COLLECTION_OPS, ["list"], gvk)["get"]
        everywhere["operationId"] = f"list{cg}{kind}ForAllNamespaces"
        paths[f"{prefix}/{plural}"] = {"get": everywhere, "parameters": [_P["pretty"]]}
    item = ops(_ITEM_OPS, info.verbs, gvk)
    if item:
        paths[coll + "/{name}"] = {**item, "parameters": item_params}
    for sub in info.subresources:
        target = gvk if sub.kind in ("", kind) else (sub.group, sub.version, sub.kind)
        suffix = sub.name[:1].upper() + sub.name[1:]
        if sub.name in _CONNECT:
            methods = [{"create": "post"}.get(v, v) for v in sub.verbs]
            sub_ops = {m: _operation(f"connect{cg}{m.capitalize()}{nsd}{kind}{suffix}",
                                     f"connect {m.upper()} requests to {sub.name} of {kind}", "connect", target,
                                     tag, [], None) for m in methods}
        else:
            sub_ops = {**ops(_ITEM_OPS, [v for v in sub.verbs if v != "delete"], target, suffix, f"{sub.name} of "),
                       **ops(_COLLECTION_OPS, [v for v in sub.verbs if v == "create"], target, suffix,
                             f"{sub.name} of ")}
        if sub_ops:
            paths[f"{coll}/{{name}}/{sub.name}"] = {**sub_ops, "parameters": item_params}
    return paths


class OpenAPIV3:
    """Serves ``/openapi/v3``: the index and one document per group-version, built lazily, cached.

    Thread-safe; meant to be called via ``asyncio.to_thread`` because a cold build of every
    document (needed for the index's hashes) takes tens of milliseconds.
    """

    def __init__(self, registry: Registry, schemas: Schemas, *, git_version: str = "v1.32.4") -> None:
        self.registry, self.schemas, self.git_version = registry, schemas, git_version
        self._lock = threading.RLock()
        #: definition name → (source dict, converted dict, referenced names)
        self._converted: dict[str, tuple[Schema, Schema, frozenset[str]]] = {}
        #: gv path → (fingerprint, document bytes, hash)
        self._docs: dict[str, tuple[tuple[Any, ...], bytes, str]] = {}
        self._index: tuple[tuple[tuple[str, str], ...], bytes] | None = None

    def index(self) -> bytes:
        """The ``/openapi/v3`` body: every served group-version with its hash-pinned URL."""
        with self._lock:
            groups = self._group_versions()
            entries = tuple((path, self._ensure(path, infos)[1]) for path, infos in sorted(groups.items()))
            if self._index is not None and self._index[0] == entries:
                return self._index[1]
            body = orjson.dumps({"paths": {p: {"serverRelativeURL": f"/openapi/v3/{p}?hash={h}"}
                                           for p, h in entries}})
            self._index = (entries, body)
            return body

    def document(self, path: str) -> tuple[bytes, str] | None:
        """The document of ``api/v1`` or ``apis/<group>/<version>`` and its hash; None if not served."""
        path = path.strip("/")
        with self._lock:
            infos = self._group_versions().get(path)
            return self._ensure(path, infos) if infos else None

    def paths(self) -> list[str]:
        """The served group-version paths (``api/v1``, ``apis/apps/v1``, …)."""
        return sorted(self._group_versions())

    def _group_versions(self) -> dict[str, list[ResourceInfo]]:
        groups: dict[str, list[ResourceInfo]] = {}
        for info in self.registry.all():  # one atomic copy; the loop thread may mutate the registry
            groups.setdefault(gv_path(info.group, info.version), []).append(info)
        return {path: sorted(infos, key=lambda i: i.plural) for path, infos in groups.items()}

    def _ensure(self, path: str, infos: list[ResourceInfo]) -> tuple[bytes, str]:
        """The cached document of ``path`` unless its resources or their kinds' definitions changed."""
        defs, names = self.schemas.definitions, [_def_name(self.schemas, i.gvk, i.schema_name) for i in infos]
        fingerprint = tuple((i.plural, i.kind, i.namespaced, i.verbs, i.subresources, i.list_kind, n,
                             defs.get(n) if n else None) for i, n in zip(infos, names, strict=True))
        cached = self._docs.get(path)
        if cached is not None and cached[0] == fingerprint:
            return cached[1], cached[2]
        body = orjson.dumps(self._build(infos))
        digest = hashlib.sha512(body).hexdigest().upper()
        self._docs[path] = (fingerprint, body, digest)
        return body, digest

    def _convert(self, name: str) -> tuple[Schema, frozenset[str]] | None:
        source = self.schemas.definitions.get(name)
        if source is None:
            return None
        cached = self._converted.get(name)
        if cached is not None and cached[0] is source:
            return cached[1], cached[2]
        refs: set[str] = set()
        converted = convert_definition(name, source, refs)
        if not name.startswith("io.k8s.") and "x-kubernetes-group-version-kind" in converted:
            converted = self._with_type_meta(converted)
            refs.add(OBJECT_META)
        self._converted[name] = (source, converted, frozenset(refs))
        return converted, frozenset(refs)

    def _with_type_meta(self, converted: Schema) -> Schema:
        """Custom kinds as the apiserver publishes them: standard apiVersion/kind, ObjectMeta metadata."""
        template = (self.schemas.definitions.get(TYPE_META_TEMPLATE) or {}).get("properties") or {}
        props = dict(converted.get("properties") or {})
        for field in ("apiVersion", "kind"):
            description = (template.get(field) or {}).get("description")
            props[field] = {**({"description": description} if description else {}), "type": "string",
                            **{k: v for k, v in (props.get(field) or {}).items() if k not in ("type", "enum")}}
        props["metadata"] = {"allOf": [{"$ref": COMPONENTS_PREFIX + OBJECT_META}],
                             **{k: v for k, v in (template.get("metadata") or {}).items() if k == "description"}}
        return {**converted, "type": converted.get("type", "object"), "properties": props}

    def _closure(self, roots: Iterable[str]) -> dict[str, Schema]:
        """Converted definitions reachable from ``roots`` (missing names are skipped)."""
        out: dict[str, Schema] = {}
        todo = list(roots)
        while todo:
            name = todo.pop()
            got = None if name in out else self._convert(name)
            if got is not None:
                out[name] = got[0]
                todo.extend(got[1])
        return out

    def _build(self, infos: list[ResourceInfo]) -> Schema:
        roots: list[str] = list(META_DEFINITIONS)
        kind_refs: dict[tuple[str, str, str], str] = {}
        synthetic: dict[str, Schema] = {}
        for info in infos:
            gvks = [info.gvk, GroupVersionKind(info.group, info.version, info.list_kind_name), *(
                info.gvk if s.kind == info.kind else GroupVersionKind(s.group, s.version, s.kind)
                for s in info.subresources if s.kind)]
            for gvk in gvks:
                name = _def_name(self.schemas, gvk, info.schema_name if gvk == info.gvk else None)
                if name is not None:
                    roots.append(name)
                    kind_refs[(gvk.group, gvk.version, gvk.kind)] = name
            if (info.group, info.version, info.kind) not in kind_refs:  # no schema: any object, still explainable
                name = reversed_group_name(info.group, info.version, info.kind)
                gvk_ext = [{"group": info.group, "version": info.version, "kind": info.kind}]
                synthetic[name] = self._with_type_meta({"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                                                        "x-kubernetes-group-version-kind": gvk_ext})
                kind_refs[(info.group, info.version, info.kind)] = name
                roots.append(OBJECT_META)
        components = self._closure(roots)
        components.update(synthetic)
        paths: dict[str, Any] = {}
        for info in infos:
            paths.update(resource_paths(info, kind_refs))
        return {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": self.git_version},
            "paths": dict(sorted(paths.items())),
            "components": {"schemas": dict(sorted(components.items()))},
        }


def build_index(registry: Registry, schemas: Schemas) -> dict[str, Any]:
    """The ``/openapi/v3`` index as a dict (uncached convenience; prefer ``OpenAPIV3``)."""
    return dict(orjson.loads(OpenAPIV3(registry, schemas).index()))


def build_document(registry: Registry, schemas: Schemas, group: str, version: str) -> bytes:
    """One group-version document, serialized (uncached convenience; prefer ``OpenAPIV3``)."""
    got = OpenAPIV3(registry, schemas).document(gv_path(group, version))
    if got is None:
        raise KeyError(f"group-version {gv_path(group, version)} is not served")
    return got[0]

