"""LimitRanger admission: the LimitRanges of a namespace default and bound the resources of the pods
and claims created in it.

On a pod create, every ``Container`` item's ``default``/``defaultRequest`` fill in the limits and
requests its containers and init containers leave out (recorded in the ``kubernetes.io/limit-ranger``
annotation), then ``min``/``max``/``maxLimitRequestRatio`` are checked per container and, for ``Pod``
items, over the pod's totals. A ``PersistentVolumeClaim`` item bounds ``spec.resources.requests``.
A violation refuses the create with 403 and upstream's messages (``maximum memory usage per Container
is 1Gi, but limit is 2Gi``; several are listed in brackets). Pods are only checked on create: their
containers' resources cannot change afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kybernetes.api import errors
from kybernetes.api.quantity import Quantity
from kybernetes.api.quota import pod_resources
from kybernetes.api.quota import quantities as _quantities  # skips malformed values: validation reports them
from kybernetes.api.strategy import ResourceInfo
from kybernetes.apiserver.watchcache import WatchCache

Obj = dict[str, Any]
Resources = dict[str, Quantity]

ANNOTATION = "kubernetes.io/limit-ranger"


def _items(limit_range: Obj, kind: str) -> list[Obj]:
    return [i for i in (limit_range.get("spec") or {}).get("limits") or [] if i.get("type") == kind]


# --- defaulting -----------------------------------------------------------------------------------

def _container_defaults(limit_range: Obj) -> tuple[dict[str, Any], dict[str, Any]]:
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    for item in _items(limit_range, "Container"):
        requests.update(item.get("defaultRequest") or {})
        limits.update(item.get("default") or {})
    return requests, limits


def _default_container(ctr: Obj, requests: dict[str, Any], limits: dict[str, Any], what: str) -> list[str]:
    resources = ctr.setdefault("resources", {})
    notes = []
    for key, defaults in (("requests", requests), ("limits", limits)):
        current = resources.get(key) or {}
        missing = sorted(name for name in defaults if name not in current)
        if missing:
            resources[key] = {**current, **{name: defaults[name] for name in missing}}
            notes.append(f"{', '.join(missing)} {key[:-1]} for {what} {ctr.get('name', '')}")
    return notes


def default_pod(limit_range: Obj, pod: Obj) -> None:
    """``PodMutateLimitFunc``: fill in what containers leave out; note it in the annotation."""
    requests, limits = _container_defaults(limit_range)
    if not requests and not limits:
        return
    spec = pod.get("spec") or {}
    notes = [n for ctr in spec.get("containers") or [] for n in _default_container(ctr, requests, limits, "container")]
    notes += [n for ctr in spec.get("initContainers") or []
              for n in _default_container(ctr, requests, limits, "init container")]
    if notes:
        pod.setdefault("metadata", {}).setdefault("annotations", {})[ANNOTATION] = \
            "LimitRanger plugin set: " + "; ".join(notes)


# --- constraints ----------------------------------------------------------------------------------

def _min(kind: str, name: str, bound: Quantity, requests: Resources, limits: Resources) -> str | None:
    if name not in requests:
        return f"minimum {name} usage per {kind} is {bound}.  No request is specified"
    if requests[name] < bound:
        return f"minimum {name} usage per {kind} is {bound}, but request is {requests[name]}"
    if name in limits and limits[name] < bound:
        return f"minimum {name} usage per {kind} is {bound}, but limit is {limits[name]}"
    return None


def _max(kind: str, name: str, bound: Quantity, requests: Resources, limits: Resources) -> str | None:
    if name not in limits:
        return f"maximum {name} usage per {kind} is {bound}.  No limit is specified"
    if limits[name] > bound:
        return f"maximum {name} usage per {kind} is {bound}, but limit is {limits[name]}"
    if name in requests and requests[name] > bound:
        return f"maximum {name} usage per {kind} is {bound}, but request is {requests[name]}"
    return None


def _ratio(kind: str, name: str, bound: Quantity, requests: Resources, limits: Resources) -> str | None:
    request, limit = requests.get(name), limits.get(name)
    if request is None or request.is_zero():
        return f"{name} max limit to request ratio per {kind} is {bound}, but no request is specified or request is 0"
    if limit is None or limit.is_zero():
        return f"{name} max limit to request ratio per {kind} is {bound}, but no limit is specified or limit is 0"
    ratio = limit.value / request.value
    if ratio > bound.value:
        return f"{name} max limit to request ratio per {kind} is {bound}, but provided ratio is {float(ratio):f}"
    return None


_CHECKS: tuple[tuple[str, Callable[[str, str, Quantity, Resources, Resources], str | None]], ...] = (
    ("min", _min), ("max", _max), ("maxLimitRequestRatio", _ratio))


def _check(item: Obj, kind: str, requests: Resources, limits: Resources) -> list[str]:
    found = []
    for key, check in _CHECKS:
        for name, bound in sorted(_quantities(item.get(key)).items()):
            message = check(kind, name, bound, requests, limits)
            if message is not None:
                found.append(message)
    return found


def validate_pod(limit_range: Obj, pod: Obj) -> list[str]:
    """``PodValidateLimitFunc``: per container (and init container), then over the pod."""
    spec = pod.get("spec") or {}
    found: list[str] = []
    for item in _items(limit_range, "Container"):
        for ctr in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
            resources = ctr.get("resources") or {}
            found += _check(item, "Container", _quantities(resources.get("requests")),
                            _quantities(resources.get("limits")))
    for item in _items(limit_range, "Pod"):
        found += _check(item, "Pod", pod_resources(pod, "requests"), pod_resources(pod, "limits"))
    return found


def validate_claim(limit_range: Obj, claim: Obj) -> list[str]:
    """Claims are bounded by what they request (there is no limit to default)."""
    requests = _quantities(((claim.get("spec") or {}).get("resources") or {}).get("requests"))
    found: list[str] = []
    for item in _items(limit_range, "PersistentVolumeClaim"):
        for name, bound in sorted(_quantities(item.get("min")).items()):
            message = _min("PersistentVolumeClaim", name, bound, requests, {})
            if message is not None:
                found.append(message)
        for name, bound in sorted(_quantities(item.get("max")).items()):
            if name not in requests:
                found.append(f"maximum {name} usage per PersistentVolumeClaim is {bound}.  No request is specified")
            elif requests[name] > bound:
                found.append(f"maximum {name} usage per PersistentVolumeClaim is {bound}, but request is "
                             f"{requests[name]}")
    return found


class LimitRanger:
    def __init__(self, cache: WatchCache) -> None:
        self.cache = cache

    def admit(self, info: ResourceInfo, obj: Obj) -> None:
        """Default, then check, ``obj`` against its namespace's LimitRanges (raises 403 on a violation)."""
        if info.group or info.plural not in ("pods", "persistentvolumeclaims"):
            return
        md = obj.get("metadata") or {}
        ranges = [e.obj for e in self.cache.list(f"/registry/core/limitranges/{md.get('namespace', '')}/")]
        if not ranges:
            return
        pods = info.plural == "pods"
        if pods:
            for limit_range in ranges:
                default_pod(limit_range, obj)
        for limit_range in ranges:
            found = validate_pod(limit_range, obj) if pods else validate_claim(limit_range, obj)
            if found:
                message = found[0] if len(found) == 1 else f"[{', '.join(found)}]"
                name = md.get("name") or md.get("generateName", "")
                raise errors.forbidden_message(f'{info.plural} "{name}" is forbidden: {message}', info.plural,
                                               info.group, name)
