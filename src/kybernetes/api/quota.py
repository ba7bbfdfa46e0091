"""ResourceQuota arithmetic: what one object charges against a quota (``pkg/quota/v1/evaluator/core``)
and whether a new object still fits.

Pure functions over object dicts, shared by the quota controller and the API server's quota admission. ``resource_of`` says which collection a quota resource name
counts (``requests.cpu`` → pods, ``services.nodeports`` → services, ``count/jobs.batch`` →
jobs.batch); ``object_usage`` is an object's charge as ``{resource name: Quantity}``; scopes
(``Terminating``, ``BestEffort``, ``PriorityClass``, …) select pods only. The controller sums these into
``status.used``; admission checks a create against ``status.hard`` (``admission_check``) and adds its
charge to ``status.used`` (``charged``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from kybernetes.api.printing import parse_time
from kybernetes.api.quantity import Quantity, new_quantity, parse_quantity

Obj = dict[str, Any]
Usage = dict[str, Quantity]

#: Quota names tracked under their bare plural as well as ``count/<plural>`` (``ObjectCountQuotaResourceNameFor``).
LEGACY_COUNTED = ("pods", "services", "configmaps", "secrets", "persistentvolumeclaims", "replicationcontrollers",
                  "resourcequotas")
#: If a quota limits one of these, every container must set it (``validationSet`` of the pod evaluator).
MUST_SPECIFY = ("cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory")
_POD_COMPUTE = ("pods", "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory",
                "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage")
_STANDARD = ("cpu", "memory", "ephemeral-storage")
_STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"
_ONE = new_quantity(1)


def resource_of(name: str) -> str | None:
    """The collection (``pods``, ``services``, ``deployments.apps``…) a quota resource name counts."""
    if name.startswith("count/"):
        return name[len("count/"):] or None
    if name in ("services", "services.nodeports", "services.loadbalancers"):
        return "services"
    if name in ("persistentvolumeclaims", "requests.storage") or _STORAGE_CLASS_SUFFIX in name:
        return "persistentvolumeclaims"
    if name in LEGACY_COUNTED:
        return name
    if name in _POD_COMPUTE or name.startswith(("hugepages-", "requests.hugepages-")):
        return "pods"
    if name.startswith("requests.") and "/" in name and not name.split("/", 1)[0].endswith("kubernetes.io"):
        return "pods"  # extended resources: only requests.<domain>/<name> is allowed in quotas
    return None


def resource_for_object(obj: Obj) -> str:
    """``pods``, ``services``, ``deployments.apps``…: the collection an object belongs to (best effort by kind)."""
    group = str(obj.get("apiVersion") or "v1").rpartition("/")[0]
    lower = str(obj.get("kind") or "").lower()
    if lower == "endpoints":
        return "endpoints"
    plural = lower + ("es" if lower.endswith(("s", "x", "ch", "sh")) else "s")
    if lower.endswith("y") and not lower.endswith(("ay", "ey", "oy", "uy")):
        plural = lower[:-1] + "ies"
    return f"{plural}.{group}" if group else plural


# --- pods -------------------------------------------------------------------------------------------

def _resources(ctr: Obj, key: str) -> dict[str, Quantity]:
    out: dict[str, Quantity] = {}
    for name, value in ((ctr.get("resources") or {}).get(key) or {}).items():
        try:
            out[str(name)] = parse_quantity(value)
        except ValueError:
            continue
    return out


def _add_into(total: dict[str, Quantity], more: dict[str, Quantity]) -> None:
    for name, q in more.items():
        total[name] = total.get(name, Quantity()) + q


def _max_into(total: dict[str, Quantity], more: dict[str, Quantity]) -> None:
    for name, q in more.items():
        if name not in total or q > total[name]:
            total[name] = q


def pod_resources(pod: Obj, key: str) -> dict[str, Quantity]:
    """``PodRequests``/``PodLimits``: containers (+ sidecars) summed, each init container as a floor, + overhead."""
    spec = pod.get("spec") or {}
    total: dict[str, Quantity] = {}
    for ctr in spec.get("containers") or []:
        _add_into(total, _resources(ctr, key))
    sidecars: dict[str, Quantity] = {}
    floor: dict[str, Quantity] = {}
    for ctr in spec.get("initContainers") or []:
        own = _resources(ctr, key)
        if ctr.get("restartPolicy") == "Always":
            _add_into(sidecars, own)
            _max_into(floor, dict(sidecars))
        else:
            running = dict(sidecars)
            _add_into(running, own)
            _max_into(floor, running)
    _add_into(total, sidecars)
    _max_into(total, floor)
    overhead = {str(k): parse_quantity(v) for k, v in (spec.get("overhead") or {}).items()}
    _add_into(total, {k: v for k, v in overhead.items() if key == "requests" or k in total})
    return total


def pod_counts_against_quota(pod: Obj, now: float) -> bool:
    """``QuotaV1Pod``: not terminal, and not stuck terminating past its grace period."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    md = pod.get("metadata") or {}
    deleted = parse_time(md.get("deletionTimestamp"))
    grace = md.get("deletionGracePeriodSeconds")
    return not (deleted is not None and grace is not None and now > deleted + int(grace))


def compute_usage(requests: dict[str, Quantity], limits: dict[str, Quantity]) -> Usage:
    """``podComputeUsageHelper``: requests/limits → the quota names they charge."""
    usage: Usage = {"pods": _ONE}
    for name in _STANDARD:
        if name in requests:
            usage[name] = usage[f"requests.{name}"] = requests[name]
        if name in limits:
            usage[f"limits.{name}"] = limits[name]
    for name, q in requests.items():
        if name.startswith("hugepages-"):
            usage[name] = usage[f"requests.{name}"] = q
        elif "/" in name and not name.split("/", 1)[0].endswith("kubernetes.io"):
            usage[f"requests.{name}"] = q
    return usage


def pod_usage(pod: Obj, now: float) -> Usage:
    usage: Usage = {"count/pods": _ONE}
    if pod_counts_against_quota(pod, now):
        usage.update(compute_usage(pod_resources(pod, "requests"), pod_resources(pod, "limits")))
    return usage


def missing_container_resources(pod: Obj, limited: list[str]) -> str:
    """The pod evaluator's ``Constraints``: ``cpu for: a,b; memory for: a`` ("" when all set)."""
    required = sorted(set(limited) & set(MUST_SPECIFY))
    missing: dict[str, set[str]] = {}
    spec = pod.get("spec") or {}
    for ctr in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        have = compute_usage(_resources(ctr, "requests"), _resources(ctr, "limits"))
        for name in required:
            if name not in have:
                missing.setdefault(name, set()).add(str(ctr.get("name", "")))
    return "; ".join(f"{name} for: {','.join(sorted(missing[name]))}" for name in sorted(missing))


def _is_best_effort(pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    for ctr in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        res = ctr.get("resources") or {}
        if any(n in (res.get(k) or {}) for k in ("requests", "limits") for n in ("cpu", "memory")):
            return False
    return True


def _cross_namespace_affinity(pod: Obj) -> bool:
    affinity = (pod.get("spec") or {}).get("affinity") or {}
    for kind in ("podAffinity", "podAntiAffinity"):
        section = affinity.get(kind) or {}
        terms = list(section.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        terms += [w.get("podAffinityTerm") or {} for w in section.get("preferredDuringSchedulingIgnoredDuringExecution") or []]
        if any(t.get("namespaces") or t.get("namespaceSelector") is not None for t in terms):
            return True
    return False


def scope_selectors(quota: Obj) -> list[Obj]:
    """``spec.scopes`` (as ``Exists``) plus ``spec.scopeSelector.matchExpressions``."""
    spec = quota.get("spec") or {}
    out = [{"scopeName": s, "operator": "Exists"} for s in spec.get("scopes") or []]
    out += list((spec.get("scopeSelector") or {}).get("matchExpressions") or [])
    return out


def pod_matches_scope(pod: Obj, scope: Obj) -> bool:
    spec = pod.get("spec") or {}
    name, op = scope.get("scopeName"), scope.get("operator")
    if name in ("Terminating", "NotTerminating"):
        deadline = spec.get("activeDeadlineSeconds")
        return bool((deadline is not None and int(deadline) >= 0) == (name == "Terminating"))
    if name in ("BestEffort", "NotBestEffort"):
        return bool(_is_best_effort(pod) == (name == "BestEffort"))
    if name == "CrossNamespacePodAffinity":
        return _cross_namespace_affinity(pod)
    if name == "PriorityClass":
        cls = spec.get("priorityClassName") or ""
        values = scope.get("values") or []
        return {"Exists": bool(cls), "DoesNotExist": not cls, "In": bool(cls) and cls in values,
                "NotIn": not cls or cls not in values}.get(str(op), False)
    return False


# --- everything else ----------------------------------------------------------------------------------

def service_usage(svc: Obj) -> Usage:
    spec = svc.get("spec") or {}
    ports = spec.get("ports") or []
    usage: Usage = {"count/services": _ONE, "services": _ONE, "services.nodeports": Quantity(),
                    "services.loadbalancers": Quantity()}
    if spec.get("type") == "NodePort":
        usage["services.nodeports"] = new_quantity(len(ports))
    elif spec.get("type") == "LoadBalancer":
        allocate = spec.get("allocateLoadBalancerNodePorts") is not False
        usage["services.nodeports"] = new_quantity(len(ports) if allocate else sum(1 for p in ports if p.get("nodePort")))
        usage["services.loadbalancers"] = _ONE
    return usage


def pvc_usage(pvc: Obj) -> Usage:
    spec = pvc.get("spec") or {}
    usage: Usage = {"count/persistentvolumeclaims": _ONE, "persistentvolumeclaims": _ONE}
    cls = spec.get("storageClassName") or ((pvc.get("metadata") or {}).get("annotations") or {}).get(
        "volume.beta.kubernetes.io/storage-class") or ""
    request = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if cls:
        usage[f"{cls}{_STORAGE_CLASS_SUFFIX}persistentvolumeclaims"] = _ONE
    if request is not None:
        q = parse_quantity(request)
        usage["requests.storage"] = q
        if cls:
            usage[f"{cls}{_STORAGE_CLASS_SUFFIX}requests.storage"] = q
    return usage


def object_usage(resource: str, obj: Obj, now: float) -> Usage:
    """What ``obj`` (a member of collection ``resource``) charges against a quota."""
    if resource == "pods":
        return pod_usage(obj, now)
    if resource == "services":
        return service_usage(obj)
    if resource == "persistentvolumeclaims":
        return pvc_usage(obj)
    usage: Usage = {f"count/{resource}": _ONE}
    if resource in LEGACY_COUNTED:
        usage[resource] = _ONE
    return usage


# --- admission ----------------------------------------------------------------------------------------


def quantities(values: Mapping[str, Any] | None) -> dict[str, Quantity]:
    out: dict[str, Quantity] = {}
    for name, value in (values or {}).items():
        try:
            out[str(name)] = parse_quantity(value)
        except ValueError:
            continue
    return out


def _pretty(values: Mapping[str, Quantity], names: list[str]) -> str:
    return ",".join(f"{n}={values.get(n, Quantity())}" for n in sorted(names))


def admission_check(quota: Obj, new_object: Obj, resource: str | None = None, now: float | None = None) -> str | None:
    """Whether creating ``new_object`` fits in ``quota`` (its ``status``); Kubernetes' Forbidden message
    (``exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2``) or None when it fits or
    the quota does not apply. ``resource`` (``pods``, ``jobs.batch``…) defaults to one derived from the kind."""
    now = time.time() if now is None else now
    collection = resource or resource_for_object(new_object)
    name = (quota.get("metadata") or {}).get("name", "")
    status = quota.get("status") or {}
    hard = quantities(status.get("hard"))
    scopes = scope_selectors(quota)
    if scopes and (collection != "pods" or not all(pod_matches_scope(new_object, s) for s in scopes)):
        return None
    limited = [n for n in hard if resource_of(n) == collection]
    if not limited:
        return None
    if collection == "pods":
        missing = missing_container_resources(new_object, limited)
        if missing:
            return f"failed quota: {name}: must specify {missing}"
    used = quantities(status.get("used"))
    unknown = [n for n in limited if n not in used]
    if unknown:
        return f"status unknown for quota: {name}, resources: {','.join(sorted(unknown))}"
    requested = {n: q for n, q in object_usage(collection, new_object, now).items() if n in limited}
    exceeded = [n for n, q in requested.items() if used[n] + q > hard[n]]
    if not exceeded:
        return None
    return (f"exceeded quota: {name}, requested: {_pretty(requested, exceeded)}, used: {_pretty(used, exceeded)}, "
            f"limited: {_pretty(hard, exceeded)}")


def charged(quota: Obj, new_object: Obj, resource: str, now: float | None = None) -> dict[str, str] | None:
    """``status.used`` of ``quota`` after admitting ``new_object`` (which must fit), or None when the
    quota does not count it."""
    now = time.time() if now is None else now
    status = quota.get("status") or {}
    hard = quantities(status.get("hard"))
    scopes = scope_selectors(quota)
    if scopes and (resource != "pods" or not all(pod_matches_scope(new_object, s) for s in scopes)):
        return None
    requested = {n: q for n, q in object_usage(resource, new_object, now).items() if n in hard}
    if not requested:
        return None
    used = quantities(status.get("used"))
    for n, q in requested.items():
        used[n] = used.get(n, Quantity()) + q
    return {**(status.get("used") or {}), **{n: str(used[n]) for n in requested}}
