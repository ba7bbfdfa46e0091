"""OpenAPI schema data of the served kinds, from the ``kubernetes-validate`` package.

The Kubernetes 1.32 definitions (with descriptions and the ``x-kubernetes-*`` patch/list
extensions) drive ``kubectl explain`` (OpenAPI v3 documents), strategic merge patch, server-side
apply and ``fieldValidation``. Custom resources add their own schemas under synthetic names.
Definitions are JSON Schema with ``$ref: #/$defs/<name>``; ``resolve`` follows references.
"""

from __future__ import annotations

import functools
import importlib.resources
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from kybernetes.api.types import GroupVersionKind

SCHEMA_VERSION_DIR = "v1.32.0-local"
REF_PREFIX = "#/$defs/"

Schema = dict[str, Any]


class Schemas:
    """A set of named definitions plus an index from GroupVersionKind to definition name.

    ``Schemas.lazy(load)`` defers ``load()`` (the built-in definitions take a noticeable part of
    a second to parse) until the definitions are first needed; ``add``/``remove`` before that are
    remembered and applied on top once loaded.
    """

    def __init__(self, definitions: dict[str, Schema]) -> None:
        self._definitions: dict[str, Schema] | None = None
        self._load: Callable[[], dict[str, Schema]] | None = None
        self._pending: list[tuple[str, Schema | None, GroupVersionKind | None]] = []
        self._gvk: dict[tuple[str, str, str], str] = {}
        self._use(definitions)

    @classmethod
    def lazy(cls, load: Callable[[], dict[str, Schema]]) -> Schemas:
        schemas = cls({})
        schemas._definitions, schemas._load = None, load
        return schemas

    def _use(self, definitions: dict[str, Schema]) -> None:
        self._definitions = definitions
        for name, d in definitions.items():
            for g in d.get("x-kubernetes-group-version-kind") or ():
                self._gvk[(g.get("group", ""), g.get("version", ""), g.get("kind", ""))] = name

    @property
    def definitions(self) -> dict[str, Schema]:
        if self._definitions is None:
            self._loaded()
        assert self._definitions is not None
        return self._definitions

    def _loaded(self) -> None:
        assert self._load is not None
        load, self._load = self._load, None
        self._gvk = {}
        self._use(load())
        pending, self._pending = self._pending, []
        for name, schema, gvk in pending:
            if schema is None:
                self.remove(name)
            else:
                self.add(name, schema, gvk)

    def name_for(self, gvk: GroupVersionKind) -> str | None:
        if self._definitions is None:
            self._loaded()
        return self._gvk.get((gvk.group, gvk.version, gvk.kind))

    def for_gvk(self, gvk: GroupVersionKind) -> Schema | None:
        name = self.name_for(gvk)
        return self.definitions.get(name) if name else None

    def add(self, name: str, schema: Schema, gvk: GroupVersionKind | None = None) -> None:
        """Register a definition (custom resources); ``gvk`` indexes it for ``for_gvk``."""
        if self._definitions is None:
            self._pending.append((name, schema, gvk))
            return
        self._definitions[name] = schema
        if gvk is not None:
            self._gvk[(gvk.group, gvk.version, gvk.kind)] = name

    def remove(self, name: str) -> None:
        if self._definitions is None:
            self._pending.append((name, None, None))
            return
        self._definitions.pop(name, None)
        for k in [k for k, v in self._gvk.items() if v == name]:
            del self._gvk[k]

    def resolve(self, node: Schema | None) -> Schema | None:
        """Follow ``$ref`` (also a lone ``allOf: [{$ref}]``) until a concrete schema is reached.

        Sibling keywords of a ``$ref`` (e.g. ``description``) are dropped; use ``node`` itself
        when those matter.
        """
        seen = 0
        while node is not None and seen < 64:
            ref = node.get("$ref")
            if ref is None:
                all_of = node.get("allOf")
                if isinstance(all_of, list) and len(all_of) == 1 and "$ref" in all_of[0]:
                    ref = all_of[0]["$ref"]
            if ref is None:
                return node
            node = self.definitions.get(ref[len(REF_PREFIX):] if ref.startswith(REF_PREFIX) else ref)
            seen += 1
        return node

    def property(self, node: Schema | None, name: str) -> Schema | None:
        """The schema of field ``name`` of an object schema (through ``additionalProperties`` too)."""
        node = self.resolve(node)
        if node is None:
            return None
        props = node.get("properties")
        if isinstance(props, dict) and name in props:
            prop: Schema = props[name]
            return prop
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            return extra
        return None

    def items(self, node: Schema | None) -> Schema | None:
        """The element schema of an array schema."""
        node = self.resolve(node)
        if node is None:
            return None
        items = node.get("items")
        return items if isinstance(items, dict) else None


@functools.cache
def _builtin_definitions() -> dict[str, Schema]:
    # Find the data without importing the package (its __init__ pulls in jsonschema: ~0.15 s).
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is not None and spec.submodule_search_locations:
        root: Any = Path(next(iter(spec.submodule_search_locations)))
    else:  # pragma: no cover - a zipped or unusual install
        root = importlib.resources.files("kubernetes_validate")
    data = orjson.loads((root / "kubernetes-json-schema" / SCHEMA_VERSION_DIR / "_definitions.json").read_bytes())
    defs: dict[str, Schema] = data["$defs"]
    return defs


def builtin() -> Schemas:
    """A fresh ``Schemas`` over the built-in definitions (shared read-only dicts, own index),
    loaded when first used."""
    return Schemas.lazy(lambda: dict(_builtin_definitions()))
