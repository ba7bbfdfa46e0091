"""Warnings (not errors) for a PodSpec, as the apiserver returns them in ``Warning`` headers.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import validation
from kybernetes.api.podspec._common import _dict, _dicts
from kybernetes.api.podspec.defaults import _CONTAINER_LISTS

_DEPRECATED_NODE_LABELS = {
    "beta.kubernetes.io/arch": ("v1.14", "kubernetes.io/arch"),
    "beta.kubernetes.io/os": ("v1.14", "kubernetes.io/os"),
    "failure-domain.beta.kubernetes.io/region": ("v1.17", "topology.kubernetes.io/region"),
    "failure-domain.beta.kubernetes.io/zone": ("v1.17", "topology.kubernetes.io/zone"),
    "beta.kubernetes.io/instance-type": ("v1.17", "node.kubernetes.io/instance-type"),
}


def warnings_for_pod_spec(spec: dict[str, Any], path: str = "spec") -> list[str]:
    """A subset of ``GetWarningsForPodTemplate``: deprecated node labels, negative grace periods,
    fractional memory and duplicate container ports."""
    spec = spec if isinstance(spec, dict) else {}
    out: list[str] = []
    for key in sorted((spec.get("nodeSelector") or {}) if isinstance(spec.get("nodeSelector"), dict) else {}):
        if key in _DEPRECATED_NODE_LABELS:
            since, use = _DEPRECATED_NODE_LABELS[key]
            out.append(f'{path}.nodeSelector[{key}]: deprecated since {since}; use "{use}" instead')
    grace = spec.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 0:
        out.append(f"{path}.terminationGracePeriodSeconds: must be >= 0; negative values are invalid and will be "
                   "treated as 1")
    for key in _CONTAINER_LISTS:
        for i, ctr in enumerate(_dicts(spec.get(key))):
            res = _dict(ctr.get("resources"))
            for kind in ("limits", "requests"):
                value = (res.get(kind) or {}).get("memory") if isinstance(res.get(kind), dict) else None
                amount = validation.quantity_value(value) if value is not None else None
                if amount is not None and amount.denominator != 1:
                    out.append(f'{path}.{key}[{i}].resources.{kind}[memory]: fractional byte value "{value}" is '
                               "invalid, must be an integer")
            seen: dict[tuple[Any, ...], int] = {}
            for j, port in enumerate(_dicts(ctr.get("ports"))):
                ident = (port.get("containerPort"), port.get("protocol"), port.get("hostIP"), port.get("hostPort"))
                if ident in seen:
                    out.append(f"{path}.{key}[{i}].ports[{j}]: duplicate port definition with "
                               f"{path}.{key}[{i}].ports[{seen[ident]}]")
                else:
                    seen[ident] = j
    return out
