"""OpenAPI schemas compiled into the few facts server-side apply needs about each node.

structured-merge-diff sees a type as up to three facets: scalar, map (a struct with named fields
and/or a map with an element type; atomic or granular) and list (atomic, a set, or a map keyed
by some item fields). ``compile_root`` turns the JSON-Schema definitions of ``api.schema`` into
``TypeNode`` trees following kube-openapi's rules (list type, else patch strategy ``merge`` with
a merge key; ``x-kubernetes-map-type``; Quantity, IntOrString and RawExtension as untyped leaves;
free-form objects "deduced": granular maps of atomic lists). Nodes are built lazily and cached
per ``Schemas`` instance and definition, so a write walks precompiled nodes.

``TypeNode.zero`` records the struct fields Go always serializes (non-pointer structs as ``{}``,
nullable lists/maps without ``omitempty`` as ``null``). Kubernetes compares typed objects, so
these are present on both sides of every comparison; ``_walk`` overlays them to get the same
``.`` (field itself) ownership entries as a real API server.
"""

from __future__ import annotations

import weakref
from typing import Any

from kybernetes.api.schema import REF_PREFIX, Schema, Schemas

LIST_ATOMIC, LIST_SET, LIST_MAP = 0, 1, 2

_UNTYPED_LEAVES = frozenset({
    "io.k8s.apimachinery.pkg.api.resource.Quantity",
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
    "io.k8s.apimachinery.pkg.runtime.RawExtension",
})

# Defaults of list-map key fields (OpenAPI ``default``; absent from the bundled schema data).
_KEY_DEFAULTS: dict[str, dict[str, Any]] = {
    "io.k8s.api.core.v1.ContainerPort": {"protocol": "TCP"},
    "io.k8s.api.core.v1.ServicePort": {"protocol": "TCP"},
}

# Non-pointer struct fields (``{}``) and nullable containers without omitempty (``None``) that a
# typed Go object always carries. Mostly granular containers matter (atomic ones are leaves);
# ``creationTimestamp: null`` keeps a template's null timestamp from being owned.
_ZERO_FIELDS: dict[str, dict[str, Any]] = {
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {"creationTimestamp": None},
    "io.k8s.api.core.v1.PodTemplateSpec": {"metadata": {}, "spec": {}},
    "io.k8s.api.core.v1.PodSpec": {"containers": None},
    "io.k8s.api.core.v1.Container": {"resources": {}},
    "io.k8s.api.core.v1.EphemeralContainer": {"resources": {}},
    "io.k8s.api.apps.v1.DeploymentSpec": {"template": {}, "strategy": {}},
    "io.k8s.api.apps.v1.ReplicaSetSpec": {"template": {}},
    "io.k8s.api.apps.v1.StatefulSetSpec": {"template": {}, "updateStrategy": {}},
    "io.k8s.api.apps.v1.DaemonSetSpec": {"template": {}, "updateStrategy": {}},
    "io.k8s.api.batch.v1.JobSpec": {"template": {}},
    "io.k8s.api.batch.v1.CronJobSpec": {"jobTemplate": {}},
    "io.k8s.api.batch.v1.JobTemplateSpec": {"metadata": {}, "spec": {}},
    "io.k8s.api.core.v1.ServiceStatus": {"loadBalancer": {}},
    "io.k8s.api.networking.v1.IngressStatus": {"loadBalancer": {}},
    "io.k8s.api.core.v1.PersistentVolumeClaimSpec": {"resources": {}},
    "io.k8s.api.core.v1.NodeStatus": {"daemonEndpoints": {}, "nodeInfo": {}},
    "io.k8s.api.core.v1.NodeDaemonEndpoints": {"kubeletEndpoint": {}},
    "io.k8s.api.core.v1.Event": {"source": {}},
    "io.k8s.api.autoscaling.v1.HorizontalPodAutoscalerSpec": {"scaleTargetRef": {}},
    "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec": {"scaleTargetRef": {}},
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionSpec": {"names": {}},
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus":
        {"acceptedNames": {}},
}
_TOP_LEVEL_STRUCTS = ("metadata", "spec", "status")
_MAX_COMPILED = 100_000


class TypeNode:
    """One schema node. ``map_atomic``/``list_kind`` are None when the facet is absent."""

    __slots__ = ("_compiler", "_fields", "_item", "_props", "elem", "key_defaults", "keys", "leaf",
                 "list_kind", "map_atomic", "name", "zero")

    def __init__(self, compiler: _Compiler | None = None, name: str = "") -> None:
        self._compiler = compiler
        self.name = name
        self.leaf = False  # scalar-only or untyped: whatever the value, it is one leaf
        self.map_atomic: bool | None = None
        self.list_kind: int | None = None
        self.keys: tuple[str, ...] = ()
        self.key_defaults: dict[str, Any] = {}
        self.elem: TypeNode | None = None  # type of map keys that are not struct fields
        self.zero: dict[str, Any] | None = None
        self._props: dict[str, Schema] = {}
        self._fields: dict[str, TypeNode] = {}
        self._item: Schema | TypeNode | None = None

    def has_field(self, name: str) -> bool:
        return name in self._props

    def field(self, name: str) -> TypeNode:
        """Type of map entry ``name``: the struct field, else the element type, else deduced."""
        node = self._fields.get(name)
        if node is not None:
            return node
        prop = self._props.get(name)
        if prop is None or self._compiler is None:
            return self.elem if self.elem is not None else DEDUCED  # not cached: keys are unbounded
        node = self._fields[name] = self._compiler.compile(prop)
        return node

    @property
    def item(self) -> TypeNode:
        item = self._item
        if isinstance(item, TypeNode):
            return item
        node = self._compiler.compile(item) if (item is not None and self._compiler is not None) else LEAF
        self._item = node
        return node

    def variant(self, map_atomic: bool) -> TypeNode:
        """The same type with another map relationship (``x-kubernetes-map-type`` on a ref)."""
        other = TypeNode(self._compiler, self.name)
        for slot in TypeNode.__slots__:
            setattr(other, slot, getattr(self, slot))
        other.map_atomic = map_atomic
        other._fields = self._fields
        return other


def _untyped_leaf() -> TypeNode:
    node = TypeNode(None, "untyped")
    node.leaf = True
    return node


def _deduced() -> TypeNode:
    node = TypeNode(None, "deduced")
    node.map_atomic = False
    node.list_kind = LIST_ATOMIC
    node.elem = node
    node._item = LEAF
    return node


LEAF = _untyped_leaf()
DEDUCED = _deduced()


def _type_of(node: Schema) -> str | None:
    t = node.get("type")
    if isinstance(t, list):
        return next((x for x in t if x != "null"), None)
    return t if isinstance(t, str) else None


def _ref_of(node: Schema) -> str | None:
    ref = node.get("$ref")
    if ref is None:
        all_of = node.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict):
            ref = all_of[0].get("$ref")
    if not isinstance(ref, str):
        return None
    return ref[len(REF_PREFIX):] if ref.startswith(REF_PREFIX) else ref


class _Compiler:
    def __init__(self, schemas: Schemas) -> None:
        self.schemas = schemas
        # id(schema dict) -> (the dict, kept alive so the id stays unique; its node)
        self._by_id: dict[int, tuple[Schema, TypeNode]] = {}

    def compile(self, node: Schema, name: str = "") -> TypeNode:
        hit = self._by_id.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
        if len(self._by_id) > _MAX_COMPILED:  # replaced custom-resource schemas would pile up
            self._by_id.clear()
        compiled = self._build(node, name)
        self._by_id[id(node)] = (node, compiled)
        return compiled

    def _build(self, node: Schema, name: str) -> TypeNode:
        ref = _ref_of(node)
        if ref is not None:
            target = self.schemas.definitions.get(ref)
            if target is None:
                return DEDUCED
            base = self.compile(target, ref)
            map_type = node.get("x-kubernetes-map-type")
            if map_type in ("atomic", "granular") and base.map_atomic is not None:
                if base.map_atomic != (map_type == "atomic"):
                    return base.variant(map_type == "atomic")
            return base
        if name in _UNTYPED_LEAVES:
            return LEAF
        t = _type_of(node)
        if t is None:
            if "properties" in node:
                t = "object"
            elif node.get("x-kubernetes-int-or-string") or _scalar_union(node):
                return LEAF
            else:
                return DEDUCED
        if t == "object":
            return self._object(node, name)
        if t == "array":
            return self._array(node)
        return LEAF

    def _object(self, node: Schema, name: str) -> TypeNode:
        out = TypeNode(self, name)
        props = node.get("properties")
        out._props = props if isinstance(props, dict) else {}
        out.map_atomic = node.get("x-kubernetes-map-type") == "atomic"
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            out.elem = self.compile(extra)
        elif extra is True or node.get("x-kubernetes-preserve-unknown-fields") or (
                extra is None and not out._props):
            out.elem = DEDUCED
        zero = _ZERO_FIELDS.get(name)
        if zero is None and "x-kubernetes-group-version-kind" in node:
            zero = {f: {} for f in _TOP_LEVEL_STRUCTS if _builtin_struct(out._props.get(f))}
        out.zero = zero or None
        return out

    def _array(self, node: Schema) -> TypeNode:
        out = TypeNode(self, "")
        list_type = node.get("x-kubernetes-list-type")
        kind = LIST_ATOMIC
        keys: list[str] = []
        if list_type == "set":
            kind = LIST_SET
        elif list_type == "map":
            kind = LIST_MAP
            keys = list(node.get("x-kubernetes-list-map-keys") or ())
        elif list_type is None:
            strategy = node.get("x-kubernetes-patch-strategy")
            if strategy in ("merge", "merge,retainKeys"):
                merge_key = node.get("x-kubernetes-patch-merge-key")
                kind = LIST_MAP if isinstance(merge_key, str) else LIST_SET
                keys = [merge_key] if isinstance(merge_key, str) else []
        if kind == LIST_MAP and not keys:
            kind = LIST_ATOMIC
        out.list_kind = kind
        out.keys = tuple(keys)
        items = node.get("items")
        out._item = items if isinstance(items, dict) else LEAF
        if kind == LIST_MAP and isinstance(items, dict):
            out.key_defaults = self._key_defaults(items, out.keys)
        return out

    def _key_defaults(self, items: Schema, keys: tuple[str, ...]) -> dict[str, Any]:
        ref = _ref_of(items)
        item_schema = self.schemas.definitions.get(ref) if ref else items
        defaults = dict(_KEY_DEFAULTS.get(ref or "", {}))
        props = (item_schema or {}).get("properties") or {}
        for k in keys:
            prop = props.get(k)
            if isinstance(prop, dict) and "default" in prop:
                defaults[k] = prop["default"]
        return defaults


def _scalar_union(node: Schema) -> bool:
    options = node.get("oneOf") or node.get("anyOf")
    if not isinstance(options, list) or not options:
        return False
    return all(isinstance(o, dict) and _type_of(o) in ("string", "integer", "number", "boolean")
               for o in options)


def _builtin_struct(prop: Schema | None) -> bool:
    if not isinstance(prop, dict):
        return False
    ref = _ref_of(prop)
    return ref is not None and ref.startswith("io.k8s.")


_compilers: weakref.WeakKeyDictionary[Schemas, _Compiler] = weakref.WeakKeyDictionary()


def compile_root(schemas: Schemas, schema_root: Schema | None) -> TypeNode:
    """The compiled type of a kind's schema (``DEDUCED`` when there is none)."""
    if schema_root is None:
        return DEDUCED
    compiler = _compilers.get(schemas)
    if compiler is None:
        compiler = _compilers[schemas] = _Compiler(schemas)
    return compiler.compile(schema_root)
