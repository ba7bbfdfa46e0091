"""apps/v1 ReplicaSet: defaults, validation, ``/status``, ``/scale``, the ``status.replicas`` field
selector and the table.

The generic write path calls this strategy; the replicaset controller (``controllers/replicaset.py``)
owns ``replicasets/status`` and the deployment controller creates and scales ReplicaSets.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import podspec, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.apps import _common as common
from kybernetes.api.kinds.apps.deployment import validate_replica_set_template
from kybernetes.api.strategy import AGE_COLUMN, NAME_COLUMN, Column, ResourceInfo, Subresource, WriteContext
from kybernetes.api.types import Object

GROUP, VERSION, KIND = "apps", "v1", "ReplicaSet"

COLUMNS = (
    NAME_COLUMN,
    Column("Desired", "integer", description="Replicas is the number of desired replicas. This is a pointer to "
           "distinguish between explicit zero and unspecified. Defaults to 1. More info: "
           "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/"
           "#what-is-a-replicationcontroller"),
    Column("Current", "integer", description="Replicas is the most recently observed number of replicas. More info: "
           "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller/"
           "#what-is-a-replicationcontroller"),
    Column("Ready", "integer", description="The number of ready replicas for this replica set."),
    AGE_COLUMN,
    common.CONTAINERS_COLUMN,
    common.IMAGES_COLUMN,
    Column("Selector", priority=1, description="Selector is a label query over pods that should match the replica "
           "count. If the selector is empty, it is defaulted to the labels present on the pod template. Label keys "
           "and values that must match in order to be controlled by this replica set. More info: "
           "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"),
)


def validate_spec(spec: dict[str, Any], path: str = "spec") -> list[FieldError]:
    errs = validation.validate_nonnegative(spec.get("replicas"), f"{path}.replicas")
    errs.extend(validation.validate_nonnegative(spec.get("minReadySeconds"), f"{path}.minReadySeconds"))
    # upstream says "deployment" here too
    errs.extend(common.validate_selector(spec, path, "deployment"))
    errs.extend(validate_replica_set_template(spec, path))
    return errs


class ReplicaSetStrategy(common.WorkloadStrategy):
    zero_status = {"replicas": 0}

    def default(self, obj: Object) -> None:
        spec = obj.get("spec")
        if isinstance(spec, dict):
            if spec.get("replicas") is None:
                spec["replicas"] = 1
            if isinstance(spec.get("template"), dict):
                podspec.default_pod_template(spec["template"])
        self.default_status(obj)

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        return validate_spec(common.spec(obj))

    def warnings_on_create(self, obj: Object) -> list[str]:
        return common.name_warnings(obj) + super().warnings_on_create(obj)

    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        obj["status"] = old.get("status", {})
        common.bump_generation(obj, old, not common.semantically_equal(obj.get("spec"), old.get("spec")))

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        new_sel = common.spec(obj).get("selector")
        return validate_spec(common.spec(obj)) + common.immutable(
            new_sel, common.spec(old).get("selector"), "spec.selector", validation.go_label_selector(new_sel))

    def field_selectors(self, obj: Object) -> dict[str, str]:
        fields = super().field_selectors(obj)
        fields["status.replicas"] = str(common.status(obj).get("replicas") or 0)
        return fields

    def columns(self) -> tuple[Column, ...]:
        return COLUMNS

    def row(self, obj: Object, now: float) -> list[Any]:
        spec, st = common.spec(obj), common.status(obj)
        names, images = printing.container_cells(common.containers(common.template_of(spec)))
        return [common.name(obj), spec.get("replicas") or 0, st.get("replicas") or 0, st.get("readyReplicas") or 0,
                printing.age(obj, now), names, images, printing.format_label_selector(spec.get("selector"))]


class ReplicaSetStatusStrategy(common.WorkloadStatusStrategy):
    def validate_status_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        st = common.status(obj)
        errs = common.nonnegative(st, ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas",
                                       "observedGeneration"), "status")
        errs.extend(common.not_above(st, ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"), "replicas",
                                     "status"))
        errs.extend(common.not_above(st, ("availableReplicas",), "readyReplicas", "status",
                                     "cannot be greater than readyReplicas"))
        return errs


STRATEGY = ReplicaSetStrategy()

RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group=GROUP, version=VERSION, kind=KIND, plural="replicasets", singular="replicaset", namespaced=True,
        strategy=STRATEGY, short_names=("rs",), categories=("all",),
        subresources=(Subresource("scale", "Scale", "autoscaling", "v1"), Subresource("status", KIND, GROUP, VERSION)),
        status_strategy=ReplicaSetStatusStrategy(STRATEGY), scale=common.REPLICAS_SCALE,
    ),
)
