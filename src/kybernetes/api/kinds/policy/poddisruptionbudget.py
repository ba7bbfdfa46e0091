"""policy/v1 PodDisruptionBudget: validation, ``/status`` and the table.

The generic write path calls this strategy; the disruption controller owns
``poddisruptionbudgets/status`` and the eviction subresource of pods reads it.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.apps import _common as common
from kybernetes.api.strategy import AGE_COLUMN, NAME_COLUMN, Column, ResourceInfo, Subresource, WriteContext
from kybernetes.api.types import Object

GROUP, VERSION, KIND = "policy", "v1", "PodDisruptionBudget"
EVICTION_POLICIES = ["AlwaysAllow", "IfHealthyBudget"]
_COUNTS = ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods")

COLUMNS = (
    NAME_COLUMN,
    Column("Min Available", description="The minimum number of pods that must be available."),
    Column("Max Unavailable", description="The maximum number of pods that may be unavailable."),
    Column("Allowed Disruptions", "integer", description="Calculated number of pods that may be disrupted at this "
                                                         "time."),
    AGE_COLUMN,
)


def _pointer(value: Any, kind: str, address: str) -> str:
    return f"(*{kind})(nil)" if value is None else f"(*{kind})({address})"


def _spec_value(spec: dict[str, Any]) -> validation.GoValue:
    """The whole spec as ``%#v`` prints it (its pointers' addresses vary from call to call in Go too)."""
    return validation.GoValue(
        "policy.PodDisruptionBudgetSpec{"
        f"MinAvailable:{_pointer(spec.get('minAvailable'), 'intstr.IntOrString', '0xc000010000')}, "
        f"Selector:{_pointer(spec.get('selector'), 'v1.LabelSelector', '0xc000010020')}, "
        f"MaxUnavailable:{_pointer(spec.get('maxUnavailable'), 'intstr.IntOrString', '0xc000010040')}, "
        "UnhealthyPodEvictionPolicy:"
        f"{_pointer(spec.get('unhealthyPodEvictionPolicy'), 'policy.UnhealthyPodEvictionPolicyType', '0xc000010060')}"
        "}")


def validate_spec(spec: dict[str, Any], path: str = "spec") -> list[FieldError]:
    errs: list[FieldError] = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        errs.append(errors.invalid(path, _spec_value(spec), "minAvailable and maxUnavailable cannot be both set"))
    for f in ("minAvailable", "maxUnavailable"):
        if spec.get(f) is not None:
            errs.extend(validation.validate_positive_int_or_percent(spec[f], f"{path}.{f}"))
            errs.extend(validation.validate_not_more_than_100_percent(spec[f], f"{path}.{f}"))
    errs.extend(validation.validate_label_selector(spec.get("selector"), f"{path}.selector"))
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in EVICTION_POLICIES:
        errs.append(errors.not_supported(f"{path}.unhealthyPodEvictionPolicy", policy, EVICTION_POLICIES))
    return errs


def int_or_string(value: Any) -> str:
    """``IntOrString.String()``; ``N/A`` when unset (the printer's choice)."""
    return "N/A" if value is None else str(value)


class PodDisruptionBudgetStrategy(common.WorkloadStrategy):
    zero_status = {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}
    template_keys = ()

    def default(self, obj: Object) -> None:
        self.default_status(obj)

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        return validate_spec(common.spec(obj))

    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        obj["status"] = old.get("status", {})
        common.bump_generation(obj, old, not common.semantically_equal(obj.get("spec"), old.get("spec")))

    def columns(self) -> tuple[Column, ...]:
        return COLUMNS

    def row(self, obj: Object, now: float) -> list[Any]:
        spec, st = common.spec(obj), common.status(obj)
        return [common.name(obj), int_or_string(spec.get("minAvailable")), int_or_string(spec.get("maxUnavailable")),
                st.get("disruptionsAllowed") or 0, printing.age(obj, now)]


class PodDisruptionBudgetStatusStrategy(common.WorkloadStatusStrategy):
    def validate_status_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        return common.nonnegative(common.status(obj), _COUNTS, "status")


STRATEGY = PodDisruptionBudgetStrategy()

RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group=GROUP, version=VERSION, kind=KIND, plural="poddisruptionbudgets", singular="poddisruptionbudget",
        namespaced=True, strategy=STRATEGY, short_names=("pdb",),
        subresources=(Subresource("status", KIND, GROUP, VERSION),),
        status_strategy=PodDisruptionBudgetStatusStrategy(STRATEGY),
    ),
)
