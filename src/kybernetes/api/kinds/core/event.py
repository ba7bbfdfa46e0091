"""core/v1 Event: the legacy event shape, its validation, field selectors and the table.

Components write events through ``client/events.py``; ``events.k8s.io/v1`` (``kinds/events``) shares
this storage (``/registry/core/events/``) through converters.
"""

from __future__ import annotations

import functools
from typing import Any

from kybernetes.api import errors, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.core import _common as c
from kybernetes.api.strategy import Column, ResourceInfo, Strategy, WriteContext
from kybernetes.api.types import Object

LIMIT_128, NOTE_LIMIT = 128, 1024


def default_event(obj: Object) -> None:
    """The fields Go always serialises: ``involvedObject``, ``source``, the three times and the reporting pair."""
    c.ensure(obj, "involvedObject")
    c.ensure(obj, "source")
    for key in ("firstTimestamp", "lastTimestamp", "eventTime"):
        obj.setdefault(key, None)
    for key in ("reportingComponent", "reportingInstance"):
        if obj.get(key) is None:
            obj[key] = ""


def validate_event(obj: Object) -> list[FieldError]:
    """``legacyValidateEvent`` for the v1 API (no further checks for backwards compatibility)."""
    errs: list[FieldError] = []
    ns = str(c.meta(obj).get("namespace") or "")
    involved_ns = str(c.section(obj, "involvedObject").get("namespace") or "")
    if not obj.get("eventTime"):
        if (not involved_ns and ns not in ("", "default")) or (involved_ns and ns != involved_ns):
            errs.append(errors.invalid("involvedObject.namespace", involved_ns, "does not match event.namespace"))
    else:
        if not involved_ns and ns not in ("default", "kube-system"):
            errs.append(errors.invalid("involvedObject.namespace", involved_ns, "does not match event.namespace"))
        controller = str(obj.get("reportingComponent") or "")
        if not controller:
            errs.append(errors.required("reportingComponent"))
        errs.extend(validation.validate_qualified_name(controller, "reportingComponent"))
        for key, limit in (("reportingInstance", LIMIT_128), ("action", LIMIT_128), ("reason", LIMIT_128)):
            value = str(obj.get(key) or "")
            if not value:
                errs.append(errors.required(key))
            if len(value) > limit:
                errs.append(errors.invalid(key, "", f"can have at most {limit} characters"))
        if len(str(obj.get("message") or "")) > NOTE_LIMIT:
            errs.append(errors.invalid("message", "", f"can have at most {NOTE_LIMIT} characters"))
    errs.extend(errors.invalid("namespace", ns, m) for m in validation.is_dns1123_subdomain(ns))
    return errs


def event_source(obj: Object) -> str:
    """``formatEventSource``: component (or reportingController), then host (or reportingInstance)."""
    source = c.section(obj, "source")
    component = source.get("component") or obj.get("reportingComponent") or ""
    host = source.get("host") or obj.get("reportingInstance") or ""
    return f"{component}, {host}" if host else str(component)


@functools.cache
def _columns() -> tuple[Column, ...]:
    doc = functools.partial(c.column, definition="Event")
    return (
        doc("Last Seen", field="lastTimestamp"), doc("Type", field="type"), doc("Reason", field="reason"),
        doc("Object", field="involvedObject"),
        c.column("Subobject", "ObjectReference", "fieldPath", priority=1),
        doc("Source", field="source", priority=1), doc("Message", field="message"),
        doc("First Seen", field="firstTimestamp", priority=1), doc("Count", field="count", priority=1),
        Column("Name", "string", "name", c.meta_doc("name") or "Name", 1),
    )


class EventStrategy(Strategy):
    has_status = False
    tracks_generation = False
    name_validator = staticmethod(validation.is_dns1123_subdomain)

    def default(self, obj: Object) -> None:
        default_event(obj)

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        return validate_event(obj)

    def field_selectors(self, obj: Object) -> dict[str, str]:
        ref = c.section(obj, "involvedObject")
        fields = c.namespaced_fields(obj)
        fields.update({f"involvedObject.{k}": str(ref.get(k) or "") for k in
                       ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")})
        fields.update({
            "reason": str(obj.get("reason") or ""),
            "reportingComponent": str(obj.get("reportingComponent") or ""),
            "source": str(c.section(obj, "source").get("component") or obj.get("reportingComponent") or ""),
            "type": str(obj.get("type") or ""),
        })
        return fields

    def columns(self) -> tuple[Column, ...]:
        return _columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        def since(ts: Any) -> str:
            return printing.translate_timestamp_since(ts, now)

        first = since(obj.get("firstTimestamp")) if obj.get("firstTimestamp") else since(obj.get("eventTime"))
        last = since(obj.get("lastTimestamp")) if obj.get("lastTimestamp") else first
        count = obj.get("count") or 0
        series = obj.get("series")
        if isinstance(series, dict):
            last = since(series.get("lastObservedTime"))
            count = series.get("count") or 0
        elif count == 0:
            count = 1
        ref = c.section(obj, "involvedObject")
        kind = str(ref.get("kind") or "").lower()
        target = f"{kind}/{ref['name']}" if ref.get("name") else kind
        return [last, obj.get("type") or "", obj.get("reason") or "", target, ref.get("fieldPath") or "",
                event_source(obj), str(obj.get("message") or "").strip(), first, count, c.name(obj)]


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(group="", version="v1", kind="Event", plural="events", singular="event", namespaced=True,
                 strategy=EventStrategy(), short_names=("ev",)),
)
