"""events.k8s.io/v1 Event: a second view of core/v1 Events, with converters both ways.

Objects live under ``/registry/core/events/`` in the core/v1 shape (the core module owns that
kind); ``to_storage``/``from_storage`` translate field by field like Kubernetes' conversion
(note↔message, regarding↔involvedObject, reportingController↔reportingComponent,
deprecated*↔source/count/firstTimestamp/lastTimestamp). Validation runs on the core shape, so
error paths name core fields exactly as Kubernetes reports them for this API.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from kybernetes.api import errors, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.strategy import Column, ResourceInfo, Strategy, WriteContext
from kybernetes.api.types import Object

#: fields with the same name in both versions
_SAME = ("eventTime", "series", "reportingInstance", "action", "reason", "related", "type")
#: (events.k8s.io/v1 field, core/v1 field) pairs that only change name
_RENAMED = (("note", "message"), ("regarding", "involvedObject"), ("reportingController", "reportingComponent"),
            ("deprecatedSource", "source"), ("deprecatedFirstTimestamp", "firstTimestamp"),
            ("deprecatedLastTimestamp", "lastTimestamp"), ("deprecatedCount", "count"))
_NULL_WHEN_ZERO_CORE = ("firstTimestamp", "lastTimestamp", "eventTime")
_NULL_WHEN_ZERO_V1 = ("deprecatedFirstTimestamp", "deprecatedLastTimestamp", "eventTime")
REPORTING_INSTANCE_LIMIT = ACTION_LIMIT = REASON_LIMIT = 128
NOTE_LIMIT = 1024


def _convert(obj: Object, pairs: list[tuple[str, str]], api_version: str, structs: tuple[str, ...],
             nulls: tuple[str, ...]) -> Object:
    out: Object = {"apiVersion": api_version, "kind": "Event", "metadata": copy.deepcopy(obj.get("metadata") or {})}
    for src, dst in pairs:
        value = obj.get(src)
        if value is not None and value != "" and value != 0:  # Go's omitempty
            out[dst] = copy.deepcopy(value)
    for key in structs:  # Go structs without a pointer always serialise, empty or not
        out.setdefault(key, {})
    for key in nulls:
        out.setdefault(key, None)
    return out


def to_core(event: Object) -> Object:
    """events.k8s.io/v1 Event → core/v1 Event (the stored shape)."""
    pairs = [(f, f) for f in _SAME] + list(_RENAMED)
    core = _convert(event, pairs, "v1", ("involvedObject", "source"), _NULL_WHEN_ZERO_CORE)
    for key in ("reportingComponent", "reportingInstance"):  # not omitempty in core/v1
        core.setdefault(key, "")
    return core


def from_core(event: Object) -> Object:
    """core/v1 Event → events.k8s.io/v1 Event (the served shape)."""
    pairs = [(f, f) for f in _SAME] + [(core, v1) for v1, core in _RENAMED]
    return _convert(event, pairs, "events.k8s.io/v1", ("regarding", "deprecatedSource"), _NULL_WHEN_ZERO_V1)


def _legacy_errors(ev: Object) -> list[FieldError]:
    """``legacyValidateEvent`` on the core shape: namespace agreement and, for new-style events,
    the reporting fields."""
    errs: list[FieldError] = []
    ns = (ev.get("metadata") or {}).get("namespace", "")
    involved = ev.get("involvedObject") or {}
    involved_ns = involved.get("namespace", "")
    if not ev.get("eventTime"):
        if (not involved_ns and ns not in ("", "default")) or (involved_ns and ns != involved_ns):
            errs.append(errors.invalid("involvedObject.namespace", involved_ns, "does not match event.namespace"))
    else:
        if not involved_ns and ns not in ("default", "kube-system"):
            errs.append(errors.invalid("involvedObject.namespace", involved_ns, "does not match event.namespace"))
        controller = ev.get("reportingComponent") or ""
        if not controller:
            errs.append(errors.required("reportingController"))
        errs.extend(errors.invalid("reportingController", controller, m)
                    for m in validation.is_qualified_name(controller))
        for name, limit in (("reportingInstance", REPORTING_INSTANCE_LIMIT), ("action", ACTION_LIMIT),
                            ("reason", REASON_LIMIT)):
            value = ev.get(name) or ""
            if not value:
                errs.append(errors.required(name))
            if len(value) > limit:
                errs.append(errors.invalid(name, "", f"can have at most {limit} characters"))
        if len(ev.get("message") or "") > NOTE_LIMIT:
            errs.append(errors.invalid("message", "", f"can have at most {NOTE_LIMIT} characters"))
    errs.extend(errors.invalid("namespace", ns, m) for m in validation.is_dns1123_subdomain(ns))
    return errs


def _series_errors(ev: Object) -> list[FieldError]:
    series = ev.get("series")
    if series is None:
        return []
    errs: list[FieldError] = []
    if (series.get("count") or 0) < 2:
        errs.append(errors.invalid("series.count", "", "should be at least 2"))
    if not series.get("lastObservedTime"):
        errs.append(errors.required("series.lastObservedTime"))
    return errs


def validate_create(ev: Object) -> list[FieldError]:
    """``ValidateEventCreate`` for events.k8s.io/v1 (strict) on a core-shaped event."""
    errs = _legacy_errors(ev) + _series_errors(ev)
    if not ev.get("eventTime"):
        errs.append(errors.required("eventTime"))
    if ev.get("type") not in ("Normal", "Warning"):
        errs.append(errors.invalid("type", "", f"has invalid value: {ev.get('type') or ''}"))
    for name in ("firstTimestamp", "lastTimestamp", "count"):
        if ev.get(name):
            errs.append(errors.invalid(name, "", "needs to be unset"))
    if (ev.get("source") or {}).get("component") or (ev.get("source") or {}).get("host"):
        errs.append(errors.invalid("source", "", "needs to be unset"))
    return errs


_IMMUTABLE = ("involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count",
              "type", "eventTime", "action", "related", "reportingComponent", "reportingInstance")


def validate_update(ev: Object, old: Object) -> list[FieldError]:
    errs = _legacy_errors(ev)
    if ev.get("series") != old.get("series"):
        errs.extend(_series_errors(ev))
    for name in _IMMUTABLE:
        path = "reportingController" if name == "reportingComponent" else name
        new_value, old_value = ev.get(name), old.get(name)
        if (new_value or None) != (old_value or None):
            errs.extend(validation.immutable(new_value, old_value, path))
    return errs


@functools.cache
def _columns() -> tuple[Column, ...]:
    ev = functools.partial(printing.field_doc, "io.k8s.api.core.v1.Event")
    return (
        Column("Last Seen", description=ev("lastTimestamp")),
        Column("Type", description=ev("type")),
        Column("Reason", description=ev("reason")),
        Column("Object", description=ev("involvedObject")),
        Column("Subobject", priority=1,
               description=printing.field_doc("io.k8s.api.core.v1.ObjectReference", "fieldPath")),
        Column("Source", priority=1, description=ev("source")),
        Column("Message", description=ev("message")),
        Column("First Seen", priority=1, description=ev("firstTimestamp")),
        Column("Count", priority=1, description=ev("count")),
        Column("Name", priority=1, format="name",
               description=printing.field_doc("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "name")),
    )


def core_event_row(ev: Object, now: float) -> list[Any]:
    """The cells of Kubernetes' event printer (wide) for a core-shaped event."""
    first = printing.translate_timestamp_since(ev.get("firstTimestamp"), now)
    if not ev.get("firstTimestamp"):
        first = printing.translate_timestamp_since(ev.get("eventTime"), now)
    last = printing.translate_timestamp_since(ev.get("lastTimestamp"), now) if ev.get("lastTimestamp") else first
    count = ev.get("count") or 0
    series = ev.get("series")
    if series is not None:
        last = printing.translate_timestamp_since(series.get("lastObservedTime"), now)
        count = series.get("count") or 0
    elif count == 0:
        count = 1
    involved = ev.get("involvedObject") or {}
    kind = (involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = ev.get("source") or {}
    component = source.get("component") or ev.get("reportingComponent") or ""
    host = source.get("host") or ev.get("reportingInstance") or ""
    return [last, ev.get("type", ""), ev.get("reason", ""), target, involved.get("fieldPath", ""),
            f"{component}, {host}" if host else component, (ev.get("message") or "").strip(), first, count,
            (ev.get("metadata") or {}).get("name", "")]


class EventStrategy(Strategy):
    has_status = False
    tracks_generation = False

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        return validate_create(to_core(obj))

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        return validate_update(to_core(obj), to_core(old))

    def field_selectors(self, obj: Object) -> dict[str, str]:
        """events.k8s.io's field labels; ``obj`` may be served or still in the stored (core) shape."""
        if "involvedObject" in obj and "regarding" not in obj:
            obj = from_core(obj)
        md = obj.get("metadata") or {}
        regarding = obj.get("regarding") or {}
        fields = {f"regarding.{k}": str(regarding.get(k) or "")
                  for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")}
        fields.update({
            "metadata.name": md.get("name", ""), "metadata.namespace": md.get("namespace", ""),
            "reason": obj.get("reason") or "", "type": obj.get("type") or "",
            "reportingController": obj.get("reportingController") or "",
            "source": (obj.get("deprecatedSource") or {}).get("component") or "",
        })
        return fields

    def columns(self) -> tuple[Column, ...]:
        return _columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        return core_event_row(to_core(obj), now)


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group="events.k8s.io", version="v1", kind="Event", plural="events", singular="event", namespaced=True,
        strategy=EventStrategy(), short_names=("ev",), storage_prefix="core/events",
        to_storage=to_core, from_storage=from_core,
    ),
)
