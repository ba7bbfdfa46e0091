"""apps/v1 Deployment: defaults, validation, generation rules, ``/status``, ``/scale`` and the table.

The apiserver's generic write path calls this strategy; the deployment controller
(``controllers/deployment.py``) reads the objects and writes ``deployments/status``.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors, podspec, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.apps import _common as common
from kybernetes.api.strategy import AGE_COLUMN, NAME_COLUMN, Column, ResourceInfo, Subresource, WriteContext
from kybernetes.api.types import Object

GROUP, VERSION, KIND = "apps", "v1", "Deployment"
STRATEGY_TYPES = ["Recreate", "RollingUpdate"]
_STATUS_COUNTS = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas")
_GCE_PD_RO = "must be true for replicated pods > 1; GCE PD can only be mounted on multiple machines if it is read-only"

COLUMNS = (
    NAME_COLUMN,
    Column("Ready", description="Number of the pod with ready state"),
    Column("Up-to-date", description="Total number of non-terminated pods targeted by this deployment that have the "
                                     "desired template spec."),
    Column("Available", description="Total number of available pods (ready for at least minReadySeconds) targeted "
                                    "by this deployment."),
    AGE_COLUMN,
    common.CONTAINERS_COLUMN,
    common.IMAGES_COLUMN,
    Column("Selector", priority=1, description="Label selector for pods. Existing ReplicaSets whose pods are selected "
                                               "by this will be the ones affected by this deployment."),
)


def validate_read_only_disks(template: dict[str, Any], replicas: Any, path: str) -> list[FieldError]:
    """``ValidateReadOnlyPersistentDisks`` for templates of more than one replica."""
    if not isinstance(replicas, int) or replicas <= 1:
        return []
    errs: list[FieldError] = []
    for i, vol in enumerate((template.get("spec") or {}).get("volumes") or []):
        pd = vol.get("gcePersistentDisk") if isinstance(vol, dict) else None
        if isinstance(pd, dict) and not pd.get("readOnly"):
            errs.append(errors.invalid(f"{path}.spec.volumes[{i}].gcePersistentDisk.readOnly", False, _GCE_PD_RO))
    return errs


def validate_replica_set_template(spec: dict[str, Any], path: str) -> list[FieldError]:
    """``ValidatePodTemplateSpecForReplicaSet`` (shared by Deployments and ReplicaSets)."""
    template = common.template_of(spec)
    errs = common.validate_template_labels_match(spec, path, "invalid label selector")
    errs.extend(podspec.validate_pod_template(template, f"{path}.template"))
    errs.extend(validate_read_only_disks(template, spec.get("replicas"), f"{path}.template"))
    errs.extend(common.validate_restart_always(template, f"{path}.template", "ReplicaSet"))
    return errs


def _strategy_value(strategy: dict[str, Any]) -> validation.GoValue:
    ru = "(*apps.RollingUpdateDeployment)(nil)" if strategy.get("rollingUpdate") is None \
        else "(*apps.RollingUpdateDeployment)(0xc000010000)"
    return validation.GoValue(f"apps.DeploymentStrategy{{Type:{validation.go_quote(str(strategy.get('type') or ''))}, "
                              f"RollingUpdate:{ru}}}")


def validate_strategy(strategy: Any, path: str) -> list[FieldError]:
    strategy = strategy if isinstance(strategy, dict) else {}
    kind = strategy.get("type") or ""
    ru = strategy.get("rollingUpdate")
    if kind == "Recreate":
        if ru is not None:
            return [errors.forbidden(f"{path}.rollingUpdate",
                                     "may not be specified when strategy `type` is 'Recreate'")]
        return []
    if kind != "RollingUpdate":
        return [errors.not_supported(path, _strategy_value(strategy), STRATEGY_TYPES)]
    if not isinstance(ru, dict):
        return [errors.required(f"{path}.rollingUpdate", "this should be defaulted and never be nil")]
    p = f"{path}.rollingUpdate"
    unavailable, surge = ru.get("maxUnavailable"), ru.get("maxSurge")
    errs = validation.validate_positive_int_or_percent(unavailable, f"{p}.maxUnavailable")
    errs.extend(validation.validate_positive_int_or_percent(surge, f"{p}.maxSurge"))
    if validation.int_or_percent_value(unavailable) == 0 and validation.int_or_percent_value(surge) == 0:
        errs.append(errors.invalid(f"{p}.maxUnavailable", validation.go_int_or_string(unavailable),
                                   "may not be 0 when `maxSurge` is 0"))
    errs.extend(validation.validate_not_more_than_100_percent(unavailable, f"{p}.maxUnavailable"))
    return errs


def validate_spec(spec: dict[str, Any], path: str = "spec") -> list[FieldError]:
    errs = validation.validate_nonnegative(spec.get("replicas"), f"{path}.replicas")
    errs.extend(common.validate_selector(spec, path, "deployment"))
    errs.extend(validate_replica_set_template(spec, path))
    errs.extend(validate_strategy(spec.get("strategy"), f"{path}.strategy"))
    errs.extend(validation.validate_nonnegative(spec.get("minReadySeconds"), f"{path}.minReadySeconds"))
    errs.extend(validation.validate_nonnegative(spec.get("revisionHistoryLimit"), f"{path}.revisionHistoryLimit"))
    deadline = spec.get("progressDeadlineSeconds")
    if isinstance(deadline, int):
        errs.extend(validation.validate_nonnegative(deadline, f"{path}.progressDeadlineSeconds"))
        min_ready = spec.get("minReadySeconds") or 0
        if isinstance(min_ready, int) and deadline <= min_ready:
            errs.append(errors.invalid(f"{path}.progressDeadlineSeconds", deadline,
                                       "must be greater than minReadySeconds"))
    return errs


def set_defaults(obj: Object) -> None:
    """``SetDefaults_Deployment`` plus the pod template's defaults."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = spec.get("strategy")
    if not isinstance(strategy, dict):
        strategy = spec["strategy"] = {}
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        ru = strategy.get("rollingUpdate")
        if not isinstance(ru, dict):
            ru = strategy["rollingUpdate"] = {}
        for f in ("maxUnavailable", "maxSurge"):
            if ru.get(f) is None:
                ru[f] = "25%"
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    if isinstance(spec.get("template"), dict):
        podspec.default_pod_template(spec["template"])


class DeploymentStrategy(common.WorkloadStrategy):
    def default(self, obj: Object) -> None:
        set_defaults(obj)
        self.default_status(obj)

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        return validate_spec(common.spec(obj))

    def warnings_on_create(self, obj: Object) -> list[str]:
        return common.name_warnings(obj) + super().warnings_on_create(obj)

    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        obj["status"] = old.get("status", {})
        # Annotations are copied to the ReplicaSets, so they count as desired state too.
        changed = not common.semantically_equal(obj.get("spec"), old.get("spec")) or \
            not common.semantically_equal((obj.get("metadata") or {}).get("annotations"),
                                          (old.get("metadata") or {}).get("annotations"))
        common.bump_generation(obj, old, changed)

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        errs = validate_spec(common.spec(obj))
        new_sel = common.spec(obj).get("selector")
        errs.extend(common.immutable(new_sel, common.spec(old).get("selector"), "spec.selector",
                                     validation.go_label_selector(new_sel)))
        return errs

    def columns(self) -> tuple[Column, ...]:
        return COLUMNS

    def row(self, obj: Object, now: float) -> list[Any]:
        spec, st = common.spec(obj), common.status(obj)
        names, images = printing.container_cells(common.containers(common.template_of(spec)))
        try:
            selector = printing.selector_string(spec.get("selector"))
        except ValueError:
            selector = "<invalid>"
        return [common.name(obj), f"{st.get('readyReplicas') or 0}/{spec.get('replicas') or 0}",
                st.get("updatedReplicas") or 0, st.get("availableReplicas") or 0, printing.age(obj, now),
                names, images, selector]


class DeploymentStatusStrategy(common.WorkloadStatusStrategy):
    keep_old_labels = True

    def validate_status_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        st = common.status(obj)
        errs = common.nonnegative(st, ("observedGeneration", *_STATUS_COUNTS, "collisionCount"), "status")
        errs.extend(common.not_above(st, ("updatedReplicas", "readyReplicas", "availableReplicas"), "replicas",
                                     "status"))
        errs.extend(common.not_above(st, ("availableReplicas",), "readyReplicas", "status",
                                     "cannot be greater than readyReplicas"))
        errs.extend(common.collision_count_decremented(obj, old))
        return errs


STRATEGY = DeploymentStrategy()

RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group=GROUP, version=VERSION, kind=KIND, plural="deployments", singular="deployment", namespaced=True,
        strategy=STRATEGY, short_names=("deploy",), categories=("all",),
        subresources=(Subresource("scale", "Scale", "autoscaling", "v1"), Subresource("status", KIND, GROUP, VERSION)),
        status_strategy=DeploymentStatusStrategy(STRATEGY), scale=common.REPLICAS_SCALE,
    ),
)
