"""core/v1 LimitRange: container defaults derived from max/min, the min ≤ default ≤ max rules and
the default ``Name``/``Created At`` table (Kubernetes has no printer for it).

The LimitRanger admission applies these limits to pods; this module only shapes and checks them.
"""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api import errors, podspec, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.core import _common as c
from kybernetes.api.kinds.core.resourcequota import validate_resource_name
from kybernetes.api.strategy import ResourceInfo, Strategy, WriteContext
from kybernetes.api.types import Object

TYPES = ("Pod", "Container", "PersistentVolumeClaim")
_LISTS = ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio")


def default_limit_item(item: dict[str, Any]) -> None:
    """``SetDefaults_LimitRangeItem``: for containers, default ← max, defaultRequest ← default ← min."""
    for key in _LISTS:
        validation.canonicalize_resource_list(item.get(key))
    if item.get("type") != "Container":
        return
    default = c.section(item, "default")
    request = c.section(item, "defaultRequest")
    for name, value in c.section(item, "max").items():
        default.setdefault(name, copy.deepcopy(value))
    for name, value in default.items():
        request.setdefault(name, copy.deepcopy(value))
    for name, value in c.section(item, "min").items():
        request.setdefault(name, copy.deepcopy(value))
    for key, values in (("default", default), ("defaultRequest", request)):
        if values:
            item[key] = values


def _q(value: Any) -> validation.GoValue:
    return validation.GoValue(str(validation.canonical_quantity(value)))


def validate_item(item: dict[str, Any], p: str) -> list[FieldError]:
    errs: list[FieldError] = []
    kind = str(item.get("type") or "")
    names: set[str] = set()
    values: dict[str, dict[str, Any]] = {}
    for key in _LISTS:
        if kind == "Pod" and key in ("default", "defaultRequest"):
            if item.get(key):
                errs.append(errors.forbidden(f"{p}.{key}", "may not be specified when `type` is 'Pod'"))
            continue
        values[key] = {}
        for name, value in c.section(item, key).items():
            kp = f"{p}.{key}[{name}]"
            if kind in ("Pod", "Container"):
                errs.extend(podspec.validate_container_resource_name(str(name), kp))
            else:
                errs.extend(validate_resource_name(str(name), kp, quota=False))
            errs.extend(validation.validate_quantity(value, kp))
            if key in ("max", "min", "default", "defaultRequest"):
                names.add(str(name))
            values[key][str(name)] = value
    if kind == "PersistentVolumeClaim" and "storage" not in values["min"] and "storage" not in values["max"]:
        errs.append(errors.required(f"{p}.limits", "either minimum or maximum storage value is required, but neither "
                                                   "was provided"))
    q = validation.quantity_value
    for name in sorted(names):
        lo, hi = values["min"].get(name), values["max"].get(name)
        dflt, req = values.get("default", {}).get(name), values.get("defaultRequest", {}).get(name)
        ratio = values["maxLimitRequestRatio"].get(name)

        def text(v: Any) -> str:
            return str(validation.canonical_quantity(v))

        def gt(a: Any, b: Any) -> bool:
            return a is not None and b is not None and q(a) is not None and q(b) is not None and q(a) > q(b)

        if gt(lo, hi):
            errs.append(errors.invalid(f"{p}.min[{name}]", _q(lo), f"min value {text(lo)} is greater than max value "
                                                                   f"{text(hi)}"))
        if gt(lo, req):
            errs.append(errors.invalid(f"{p}.defaultRequest[{name}]", _q(req), f"min value {text(lo)} is greater "
                                       f"than default request value {text(req)}"))
        if gt(req, hi):
            errs.append(errors.invalid(f"{p}.defaultRequest[{name}]", _q(req), f"default request value {text(req)} "
                                       f"is greater than max value {text(hi)}"))
        if gt(req, dflt):
            errs.append(errors.invalid(f"{p}.defaultRequest[{name}]", _q(req), f"default request value {text(req)} "
                                       f"is greater than default limit value {text(dflt)}"))
        if gt(lo, dflt):
            errs.append(errors.invalid(f"{p}.default[{name}]", _q(lo), f"min value {text(lo)} is greater than "
                                       f"default value {text(dflt)}"))
        if gt(dflt, hi):
            errs.append(errors.invalid(f"{p}.default[{name}]", _q(hi), f"default value {text(dflt)} is greater than "
                                       f"max value {text(hi)}"))
        if ratio is not None and q(ratio) is not None and q(ratio) < 1:
            errs.append(errors.invalid(f"{p}.maxLimitRequestRatio[{name}]", _q(ratio),
                                       f"ratio {text(ratio)} is less than 1"))
        if ratio is not None and lo is not None and hi is not None and q(lo) and q(hi) is not None and q(ratio):
            limit = float(q(hi) / q(lo))
            if float(q(ratio)) > limit:
                errs.append(errors.invalid(f"{p}.maxLimitRequestRatio[{name}]", _q(ratio),
                                           f"ratio {text(ratio)} is greater than max/min = {limit:f}"))
        if not podspec.overcommit_allowed(name) and dflt is not None and req is not None and q(dflt) != q(req):
            errs.append(errors.invalid(f"{p}.defaultRequest[{name}]", _q(req), f"default value {text(dflt)} must "
                                       f"equal to defaultRequest value {text(req)} in {name}"))
    return errs


class LimitRangeStrategy(Strategy):
    has_status = False
    tracks_generation = False
    name_validator = staticmethod(validation.is_dns1123_subdomain)

    def default(self, obj: Object) -> None:
        spec = c.ensure(obj, "spec")
        spec.setdefault("limits", None)
        for item in c.dicts(spec.get("limits")):
            default_limit_item(item)

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        errs: list[FieldError] = []
        seen: set[str] = set()
        for i, item in enumerate(c.dicts(c.section(obj, "spec").get("limits"))):
            p = f"spec.limits[{i}]"
            kind = str(item.get("type") or "")
            msgs = validation.is_qualified_name(kind)
            errs.extend(errors.invalid(f"{p}.type", kind, m) for m in msgs)
            if not msgs and "/" not in kind and kind not in TYPES:
                errs.append(errors.invalid(f"{p}.type", kind, "must be a standard limit type or fully qualified"))
            if kind in seen:
                errs.append(errors.duplicate(f"{p}.type", kind))
            seen.add(kind)
            errs.extend(validate_item(item, p))
        return errs

    def field_selectors(self, obj: Object) -> dict[str, str]:
        return c.namespaced_fields(obj)


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(group="", version="v1", kind="LimitRange", plural="limitranges", singular="limitrange",
                 namespaced=True, strategy=LimitRangeStrategy(), short_names=("limits",)),
)
