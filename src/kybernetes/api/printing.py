"""Helpers for server-side Table cells, matching Kubernetes' Go printers.

``human_duration`` re-implements apimachinery's ``duration.HumanDuration`` rules; ``age`` renders a
creationTimestamp the way every printer's AGE column does.
"""

from __future__ import annotations

import calendar
import functools
import time
from typing import Any


def parse_time(ts: str | None) -> float | None:
    """RFC 3339 (``2026-11-22T02:10:17Z``, optional fraction) → epoch seconds."""
    if not ts:
        return None
    try:
        main = ts.rstrip("Z")
        frac = 0.0
        if "." in main:
            main, f = main.split(".", 1)
            frac = float("0." + "".join(c for c in f if c.isdigit()) or "0")
        if "+" in main[10:]:
            main = main[: 10 + main[10:].index("+")]
        return calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S")) + frac
    except ValueError:
        return None


def format_time(epoch: float | None = None, micro: bool = False) -> str:
    """Epoch seconds → RFC 3339 UTC (``metav1.Time``; ``micro`` for ``metav1.MicroTime``)."""
    epoch = time.time() if epoch is None else epoch
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))
    if micro:
        return f"{base}.{int((epoch % 1) * 1_000_000):06d}Z"
    return base + "Z"


def human_duration(seconds: float) -> str:
    """apimachinery ``HumanDuration``: 45s, 5m3s, 3h20m, 10d, 2y30d."""
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    s = int(seconds)
    if s < 60 * 2:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rem = s % 60
        return f"{minutes}m{rem}s" if rem else f"{minutes}m"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rem = (s % 3600) // 60
        return f"{hours}h{rem}m" if rem else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rem = hours % 24
        return f"{hours // 24}d{rem}h" if rem else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y{dy}d" if dy else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def age(obj: dict[str, Any], now: float) -> str:
    """The AGE cell: ``<unknown>`` without a creationTimestamp."""
    ts = parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
    if ts is None:
        return "<unknown>"
    return human_duration(now - ts)


def translate_timestamp_since(ts: str | None, now: float) -> str:
    t = parse_time(ts)
    return "<unknown>" if t is None else human_duration(now - t)


def label_selector_string(selector: dict[str, Any] | None) -> str:
    """``metav1.FormatLabelSelector``: ``app=web,tier in (a,b)``; ``<none>`` when empty/nil."""
    if not selector:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    s = ",".join(parts)
    return s if s else "<none>"


def map_selector_string(selector: dict[str, str] | None) -> str:
    """A plain map selector (Service, ReplicationController): ``app=web``; ``<none>`` when empty."""
    if not selector:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def field_doc(definition: str, field: str) -> str:
    """The OpenAPI description of ``field`` in ``definition`` (``io.k8s.api.storage.v1.StorageClass``).

    Printers describe their columns with the fields' API documentation (Go's ``SwaggerDoc()``);
    this reads the same text from the schema data. ``""`` when unknown.
    """
    return _field_docs(definition).get(field, "")


@functools.cache
def _field_docs(definition: str) -> dict[str, str]:
    from kybernetes.api import schema

    node = schema.builtin().definitions.get(definition) or {}
    props = node.get("properties") or {}
    return {k: str(v.get("description", "")) for k, v in props.items() if isinstance(v, dict)}


def selector_string(selector: dict[str, Any] | None) -> str:
    """``metav1.LabelSelectorAsSelector(s).String()``: requirements sorted by key, ``in`` values
    sorted; ``""`` for a nil or empty selector. Raises ``ValueError`` for an invalid selector."""
    if not selector:
        return ""
    reqs: list[tuple[str, str]] = [(k, f"{k}={v}") for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr.get("operator"), str(expr.get("key") or ""), sorted(set(expr.get("values") or []))
        if op in ("In", "NotIn"):
            if not values:
                raise ValueError(f"for '{op}' operator, values set can't be empty")
            reqs.append((key, f"{key} {op.lower()} ({','.join(values)})"))
        elif op == "Exists":
            reqs.append((key, key))
        elif op == "DoesNotExist":
            reqs.append((key, f"!{key}"))
        else:
            raise ValueError(f"{op!r} is not a valid label selector operator")
    reqs.sort(key=lambda r: r[0])
    return ",".join(text for _, text in reqs)


def format_label_selector(selector: dict[str, Any] | None) -> str:
    """``metav1.FormatLabelSelector``: the sorted selector string, ``<none>`` when empty, ``<error>``."""
    try:
        text = selector_string(selector)
    except ValueError:
        return "<error>"
    return text or "<none>"


def container_cells(containers: list[dict[str, Any]] | None) -> tuple[str, str]:
    """The CONTAINERS and IMAGES cells of workload printers (``layoutContainerCells``)."""
    containers = containers or []
    return (",".join(str(c.get("name") or "") for c in containers),
            ",".join(str(c.get("image") or "") for c in containers))


def bool_ptr(value: Any) -> str:
    """``printBoolPtr``: ``True``/``False``, ``<unset>`` for nil."""
    if value is None:
        return "<unset>"
    return "True" if value else "False"
