"""The strategy of a custom resource: one instance per served version of an established CRD.

The apiserver's CRD machinery builds ``CustomResourceStrategy(crd, version)`` and registers a
``ResourceInfo`` with it (plus ``status_strategy()`` and ``scale_accessor()`` when the version
enables those subresources). On write, ``default`` prunes unknown fields and applies the schema's
defaults; ``validate`` checks kind/apiVersion, the schema, embedded resources and the scale
paths; tables come from ``additionalPrinterColumns`` (NAME and AGE when there are none).
"""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api import errors, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.apiextensions import _jsonpath, _pruning, _values
from kybernetes.api.strategy import (
    AGE_COLUMN,
    NAME_COLUMN,
    Column,
    ScaleAccessor,
    StatusStrategy,
    Strategy,
    WriteContext,
)
from kybernetes.api.types import Object

Schema = dict[str, Any]
MAX_INT32 = 2**31 - 1


def _version_of(crd: Object, name: str) -> dict[str, Any]:
    for version in (crd.get("spec") or {}).get("versions") or []:
        if isinstance(version, dict) and version.get("name") == name:
            return version
    raise KeyError(f"version {name} not found in CustomResourceDefinition: "
                   f"{(crd.get('metadata') or {}).get('name', '')}")


def _nested(obj: Object, path: str) -> tuple[bool, Any]:
    value: Any = obj
    for key in path.lstrip(".").split("."):
        if not isinstance(value, dict) or key not in value:
            return False, None
        value = value[key]
    return True, value


def _set_nested(obj: Object, path: str, value: Any) -> None:
    keys = path.lstrip(".").split(".")
    node = obj
    for key in keys[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[keys[-1]] = value


def _go_type(value: Any) -> str:
    """Go's ``%T`` of a decoded JSON value (for accessor errors)."""
    for kind, name in ((bool, "bool"), (str, "string"), (float, "float64"), (int, "int64"),
                       (dict, "map[string]interface {}"), (list, "[]interface {}")):
        if isinstance(value, kind):
            return name
    return "<nil>"


def _go_text(value: Any) -> str:
    return _jsonpath.text(value) if not isinstance(value, (dict, list)) else str(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class CustomResourceStrategy(Strategy):
    """Custom resources of ``crd`` served at ``version`` (a name in ``spec.versions``)."""

    def __init__(self, crd: Object, version: str) -> None:
        spec = crd.get("spec") or {}
        served = _version_of(crd, version)
        self.group, self.version = str(spec.get("group", "")), version
        self.kind = str((spec.get("names") or {}).get("kind", ""))
        self.namespaced = spec.get("scope") == "Namespaced"
        self.schema: Schema | None = ((served.get("schema") or {}).get("openAPIV3Schema"))
        subresources = served.get("subresources") or {}
        self.has_status = subresources.get("status") is not None
        self.scale: dict[str, Any] | None = subresources.get("scale")
        self.printer_columns: list[dict[str, Any]] = list(served.get("additionalPrinterColumns") or [])
        self.selectable_fields = [f["jsonPath"] for f in served.get("selectableFields") or [] if f.get("jsonPath")]
        self._paths = [(c, _parse_or_none(c.get("jsonPath", ""))) for c in self.printer_columns]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    # --- write path -----------------------------------------------------------------------------
    def default(self, obj: Object) -> None:
        """Prune unknown fields and non-nullable nulls, then apply the schema's defaults."""
        if self.schema is None:
            return
        _pruning.prune(obj, self.schema)
        _pruning.prune_nulls(obj, self.schema)
        _pruning.apply_defaults(obj, self.schema)

    def prepare_for_create(self, obj: Object, ctx: WriteContext) -> None:
        if self.has_status:
            obj.pop("status", None)

    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        if self.has_status:
            if "status" in old:
                obj["status"] = old["status"]
            else:
                obj.pop("status", None)
        md = obj.setdefault("metadata", {})
        generation = int((old.get("metadata") or {}).get("generation") or 1)
        changed = {k: v for k, v in obj.items() if k != "metadata"} != {k: v for k, v in old.items() if k != "metadata"}
        md["generation"] = generation + 1 if changed else generation

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        errs = self.type_meta_errors(obj)
        if errs:
            return errs
        errs = _values.validate_value(obj, self.schema)
        errs.extend(_embedded_errors(obj, self.schema, ""))
        return errs + self.scale_errors(obj, spec=True, status=True)

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        return self.validate(obj, ctx)

    def warnings_on_create(self, obj: Object) -> list[str]:
        return _finalizer_warnings(obj, None)

    def warnings_on_update(self, obj: Object, old: Object) -> list[str]:
        return _finalizer_warnings(obj, old)

    def type_meta_errors(self, obj: Object) -> list[FieldError]:
        errs: list[FieldError] = []
        if obj.get("kind") != self.kind:
            errs.append(errors.invalid("kind", obj.get("kind"), f"must be {self.kind}"))
        if obj.get("apiVersion") != self.api_version:
            errs.append(errors.invalid("apiVersion", obj.get("apiVersion"), f"must be {self.api_version}"))
        return errs

    def scale_errors(self, obj: Object, spec: bool, status: bool) -> list[FieldError]:
        if not self.scale:
            return []
        errs: list[FieldError] = []
        checks = [("specReplicasPath", spec), ("statusReplicasPath", status)]
        for key, wanted in checks:
            path = self.scale.get(key) or ""
            if not wanted or not path:
                continue
            found, value = _nested(obj, path)
            if found and not _is_int(value):
                errs.append(errors.invalid(path, 0, f".{path.lstrip('.')} accessor error: {_go_text(value)} is of "
                                                    f"the type {_go_type(value)}, expected int64"))
            elif found and value < 0:
                errs.append(errors.invalid(path, value, "should be a non-negative integer"))
            elif found and value > MAX_INT32:
                errs.append(errors.invalid(path, value, f"should be less than or equal to {MAX_INT32}"))
        selector = self.scale.get("labelSelectorPath") or ""
        if status and selector:
            found, value = _nested(obj, selector)
            if found and not isinstance(value, str):
                errs.append(errors.invalid(selector, "", f".{selector.lstrip('.')} accessor error: "
                                                         f"{_go_text(value)} is of the type {_go_type(value)}, "
                                                         "expected string"))
        return errs

    # --- subresources ---------------------------------------------------------------------------
    def status_strategy(self) -> StatusStrategy | None:
        return CustomResourceStatusStrategy(self) if self.has_status else None

    def scale_accessor(self) -> ScaleAccessor | None:
        """How ``/scale`` maps onto this version (None when it has no scale subresource)."""
        if not self.scale:
            return None
        spec_path, status_path = self.scale.get("specReplicasPath", ""), self.scale.get("statusReplicasPath", "")
        selector_path = self.scale.get("labelSelectorPath") or ""

        def replicas(obj: Object, path: str) -> int:
            found, value = _nested(obj, path)
            return int(value) if found and _is_int(value) else 0

        def selector(obj: Object) -> str:
            found, value = _nested(obj, selector_path) if selector_path else (False, None)
            return value if found and isinstance(value, str) else ""

        return ScaleAccessor(
            get_spec_replicas=lambda obj: replicas(obj, spec_path),
            set_spec_replicas=lambda obj, n: _set_nested(obj, spec_path, n),
            get_status_replicas=lambda obj: replicas(obj, status_path),
            get_selector=selector,
        )

    # --- reads ----------------------------------------------------------------------------------
    def field_selectors(self, obj: Object) -> dict[str, str]:
        md = obj.get("metadata") or {}
        fields = {"metadata.name": md.get("name", "")}
        if self.namespaced:
            fields["metadata.namespace"] = md.get("namespace", "")
        for path in self.selectable_fields:
            found, value = _nested(obj, path)
            fields[path.lstrip(".")] = _jsonpath.text(value) if found and value is not None else ""
        return fields

    def columns(self) -> tuple[Column, ...]:
        if not self.printer_columns:
            return (NAME_COLUMN, Column(AGE_COLUMN.name, "date", "", AGE_COLUMN.description))
        cols = [NAME_COLUMN]
        for c in self.printer_columns:
            desc = c.get("description") or f"Custom resource definition column (in JSONPath format): {c.get('jsonPath')}"
            cols.append(Column(c.get("name", ""), c.get("type", "string"), c.get("format", ""), desc,
                               int(c.get("priority") or 0)))
        return tuple(cols)

    def row(self, obj: Object, now: float) -> list[Any]:
        cells: list[Any] = [(obj.get("metadata") or {}).get("name", "")]
        if not self.printer_columns:
            return [*cells, printing.age(obj, now)]
        for col, steps in self._paths:
            found = _jsonpath.find(obj, steps) if steps is not None else []
            cells.append(_cell(col.get("type", "string"), found[0], now) if found else None)
        return cells


def _parse_or_none(path: str) -> list[_jsonpath.Step] | None:
    try:
        return _jsonpath.parse(path)
    except _jsonpath.PathError:
        return None


def _cell(column_type: str, value: Any, now: float) -> Any:
    """``cellForJSONValue``: the value converted to the column's type, or null."""
    if column_type == "string":
        return _jsonpath.text(value)
    if value is None:
        return None
    if column_type == "integer" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if column_type == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if column_type == "boolean" and isinstance(value, bool):
        return value
    if column_type == "date" and isinstance(value, str):
        ts = printing.parse_time(value)
        return "<invalid>" if ts is None else printing.human_duration(now - ts)
    return None


def _embedded_errors(value: Any, schema: Schema | None, path: str) -> list[FieldError]:
    """``x-kubernetes-embedded-resource`` objects need apiVersion and kind, and valid metadata."""
    if not isinstance(schema, dict):
        return []
    errs: list[FieldError] = []
    if isinstance(value, dict):
        if schema.get("x-kubernetes-embedded-resource") and path:
            for key in ("apiVersion", "kind"):
                if not value.get(key):
                    errs.append(errors.required(f"{path}.{key}", "must not be empty"))
            if isinstance(value.get("metadata"), dict):
                md = value["metadata"]
                if md.get("name"):
                    errs.extend(errors.invalid(f"{path}.metadata.name", md["name"], m)
                                for m in validation.is_dns1123_subdomain(md["name"]))
                errs.extend(validation.validate_labels(md.get("labels"), f"{path}.metadata.labels"))
                errs.extend(validation.validate_annotations(md.get("annotations"), f"{path}.metadata.annotations"))
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            sub = props.get(key, extra if isinstance(extra, dict) else None)
            errs.extend(_embedded_errors(item, sub, f"{path}.{key}" if path else key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            errs.extend(_embedded_errors(item, schema.get("items"), f"{path}[{i}]"))
    return errs


def _finalizer_warnings(obj: Object, old: Object | None) -> list[str]:
    """Custom resources warn (not fail) on finalizers that are neither standard nor qualified."""
    added = set((obj.get("metadata") or {}).get("finalizers") or [])
    if old is not None:
        added -= set((old.get("metadata") or {}).get("finalizers") or [])
    warnings: list[str] = []
    for name in sorted(added):
        warnings.extend(f'metadata.finalizers: "{name}": {m}' for m in validation.is_qualified_name(name))
        if "/" not in name and name not in ("kubernetes", "orphan", "foregroundDeletion"):
            warnings.append(f'metadata.finalizers: "{name}": prefer a domain-qualified finalizer name to avoid '
                            "accidental conflicts with other finalizer writers")
    return warnings


class CustomResourceStatusStrategy(StatusStrategy):
    """``/status`` of a custom resource: everything but status (and managedFields) comes from the old object."""

    main: CustomResourceStrategy

    def __init__(self, main: CustomResourceStrategy) -> None:
        super().__init__(main)
        self.main = main

    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        status, has = obj.get("status"), "status" in obj
        managed = (obj.get("metadata") or {}).get("managedFields")
        obj.clear()
        obj.update(copy.deepcopy(old))
        if managed is not None:
            obj.setdefault("metadata", {})["managedFields"] = managed
        if has:
            obj["status"] = status
        else:
            obj.pop("status", None)

    def validate_status_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        errs = self.main.type_meta_errors(obj)
        if errs:
            return errs
        errs = _values.validate_value(obj, self.main.schema)
        return errs + self.main.scale_errors(obj, spec=False, status=True)
