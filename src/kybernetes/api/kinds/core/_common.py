"""What the core/v1 kind modules share: typed accessors, column docs, field-selector sets.

The kind modules next to this one build on these; nothing here knows a particular kind.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson

from kybernetes.api import printing
from kybernetes.api.strategy import Column
from kybernetes.api.types import Object

V1 = "io.k8s.api.core.v1."


def section(obj: Object, key: str) -> dict[str, Any]:
    """``obj[key]`` if it is a dict, else an empty (detached) dict."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def ensure(obj: dict[str, Any], key: str) -> dict[str, Any]:
    """``obj[key]``, created as ``{}`` when missing or not a dict (Go serialises empty structs)."""
    value = obj.get(key)
    if not isinstance(value, dict):
        value = obj[key] = {}
    return value


def dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def meta(obj: Object) -> dict[str, Any]:
    return section(obj, "metadata")


def name(obj: Object) -> str:
    return str(meta(obj).get("name") or "")


def doc(definition: str, field: str, fallback: str = "") -> str:
    """The API documentation of ``<definition>.<field>`` (``PodSpec.nodeName``), as Go's SwaggerDoc()."""
    return printing.field_doc(V1 + definition, field) or fallback


def column(title: str, definition: str, field: str, type_: str = "string", priority: int = 0,
           fallback: str = "") -> Column:
    return Column(title, type_, "", doc(definition, field, fallback) or title, priority)


@functools.cache
def meta_doc(field: str) -> str:
    return printing.field_doc("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", field)


def cluster_fields(obj: Object) -> dict[str, str]:
    """``ObjectMetaFieldsSet(meta, false)``: cluster-scoped objects select on ``metadata.name`` only."""
    return {"metadata.name": name(obj)}


def namespaced_fields(obj: Object) -> dict[str, str]:
    return {"metadata.name": name(obj), "metadata.namespace": str(meta(obj).get("namespace") or "")}


def go_bool(value: Any) -> str:
    return "true" if value else "false"


def is_terminating(obj: Object) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def decode_bytes(value: Any) -> bytes | None:
    """Go's base64 decoding of a ``[]byte`` field (newlines ignored, padding required); None if bad."""
    import base64
    import binascii

    text = str(value or "").replace("\r", "").replace("\n", "")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def check_bytes_fields(obj: Object, kind: str, field: str) -> None:
    """Reject undecodable base64 in ``obj[field]`` as the decoder does (400), strip line breaks."""
    from kybernetes.api import errors

    values = obj.get(field)
    if not isinstance(values, dict):
        return
    for key, value in values.items():
        if value is None:
            continue
        if decode_bytes(value) is None:
            text = str(value)
            bad = next((i for i, ch in enumerate(text) if not (ch.isalnum() or ch in "+/=\r\n")),
                       max(len(text) - 1, 0))
            raise errors.bad_request(f'{kind} in version "v1" cannot be handled as a {kind}: illegal base64 data '
                                     f"at input byte {bad}")
        if isinstance(value, str) and ("\n" in value or "\r" in value):
            values[key] = value.replace("\r", "").replace("\n", "")


def spec_diff(old: Any, new: Any, path: str = "") -> list[str]:
    """A short ``-old/+new`` listing of what differs (Kubernetes prints a Go struct diff here)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new)):
            out.extend(spec_diff(old.get(key), new.get(key), f"{path}.{key}" if path else key))
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            out.extend(spec_diff(a, b, f"{path}[{i}]"))
        return out
    if old == new:
        return []
    return [f"-  {path}: {orjson.dumps(old).decode()}", f"+  {path}: {orjson.dumps(new).decode()}"]


def replace_with(obj: Object, kept: Object) -> None:
    """Make ``obj`` equal to ``kept`` in place, keeping the identity of ``obj["metadata"]`` (the generic
    write path holds on to that dict to stamp the resourceVersion)."""
    md = obj.get("metadata")
    new_md = kept.get("metadata")
    for key in [k for k in obj if k != "metadata"]:
        del obj[key]
    obj.update({k: v for k, v in kept.items() if k != "metadata"})
    if isinstance(md, dict) and isinstance(new_md, dict):
        md.clear()
        md.update(new_md)
        obj["metadata"] = md
    elif new_md is not None:
        obj["metadata"] = new_md
