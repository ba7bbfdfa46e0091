"""apps/v1 DaemonSet: defaults, validation, the template-generation annotation, ``/status`` and the table.

The generic write path calls this strategy; the daemonset controller owns ``daemonsets/status``.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors, podspec, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.apps import _common as common
from kybernetes.api.kinds.apps.deployment import validate_read_only_disks
from kybernetes.api.strategy import AGE_COLUMN, NAME_COLUMN, Column, ResourceInfo, Subresource, WriteContext
from kybernetes.api.types import Object

GROUP, VERSION, KIND = "apps", "v1", "DaemonSet"
#: apps/v1 keeps the internal ``spec.templateGeneration`` in this annotation
TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"
_COUNTS = ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady",
           "observedGeneration", "updatedNumberScheduled", "numberAvailable", "numberUnavailable", "collisionCount")

COLUMNS = (
    NAME_COLUMN,
    Column("Desired", "integer", description="The total number of nodes that should be running the daemon pod "
           "(including nodes correctly running the daemon pod). More info: "
           "https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"),
    Column("Current", "integer", description="The number of nodes that are running at least 1 daemon pod and are "
           "supposed to run the daemon pod. More info: "
           "https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"),
    Column("Ready", "integer", description="The number of nodes that should be running the daemon pod and have one "
           "or more of the daemon pod running and ready."),
    Column("Up-to-date", "integer", description="The total number of nodes that are running updated daemon pod"),
    Column("Available", "integer", description="The number of nodes that should be running the daemon pod and have "
           "one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)"),
    Column("Node Selector", description="NodeSelector is a selector which must be true for the pod to fit on a "
           "node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: "
           "https://kubernetes.io/docs/concepts/configuration/assign-pod-node/"),
    AGE_COLUMN,
    common.CONTAINERS_COLUMN,
    common.IMAGES_COLUMN,
    Column("Selector", priority=1, description="A label query over pods that are managed by the daemon set. Must "
           "match in order to be controlled. If empty, defaulted to labels on Pod template. More info: "
           "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"),
)


def set_defaults(obj: Object) -> None:
    """``SetDefaults_DaemonSet`` plus the pod template's defaults."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    strategy = spec.get("updateStrategy")
    if not isinstance(strategy, dict):
        strategy = spec["updateStrategy"] = {}
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        ru = strategy.get("rollingUpdate")
        if not isinstance(ru, dict):
            ru = strategy["rollingUpdate"] = {}
        if ru.get("maxUnavailable") is None:
            ru["maxUnavailable"] = 1
        if ru.get("maxSurge") is None:
            ru["maxSurge"] = 0
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if isinstance(spec.get("template"), dict):
        podspec.default_pod_template(spec["template"])


def _validate_update_strategy(strategy: Any, path: str) -> list[FieldError]:
    strategy = strategy if isinstance(strategy, dict) else {}
    kind, ru = strategy.get("type") or "", strategy.get("rollingUpdate")
    if kind == "OnDelete":
        return []
    if kind != "RollingUpdate":
        ru_text = "(nil)" if ru is None else "(0xc000010000)"
        return [errors.not_supported(path, validation.GoValue(
            f"apps.DaemonSetUpdateStrategy{{Type:{validation.go_quote(kind)}, "
            f"RollingUpdate:(*apps.RollingUpdateDaemonSet){ru_text}}}"), ["RollingUpdate", "OnDelete"])]
    if not isinstance(ru, dict):
        return [errors.required(f"{path}.rollingUpdate")]
    p = f"{path}.rollingUpdate"
    unavailable, surge = ru.get("maxUnavailable"), ru.get("maxSurge")
    errs = validation.validate_positive_int_or_percent(unavailable, f"{p}.maxUnavailable")
    errs.extend(validation.validate_positive_int_or_percent(surge, f"{p}.maxSurge"))
    errs.extend(validation.validate_not_more_than_100_percent(unavailable, f"{p}.maxUnavailable"))
    errs.extend(validation.validate_not_more_than_100_percent(surge, f"{p}.maxSurge"))
    has_unavailable = validation.int_or_percent_value(unavailable) != 0
    has_surge = validation.int_or_percent_value(surge) != 0
    if has_unavailable and has_surge:
        errs.append(errors.invalid(f"{p}.maxSurge", validation.go_int_or_string(surge),
                                   "may not be set when maxUnavailable is non-zero"))
    elif not has_unavailable and not has_surge:
        errs.append(errors.required(f"{p}.maxUnavailable", "cannot be 0 when maxSurge is 0"))
    return errs


def validate_spec(spec: dict[str, Any], path: str = "spec") -> list[FieldError]:
    sel = spec.get("selector")
    errs = validation.validate_label_selector(sel, f"{path}.selector")
    template = common.template_of(spec)
    labels = common.template_labels(template)
    if common.selector_matches(sel, labels) is False:
        errs.append(errors.invalid(f"{path}.template.metadata.labels", validation.go_string_map(labels),
                                   common.NOT_MATCHING))
    if sel is not None and common.selector_is_empty(sel):
        errs.append(errors.invalid(f"{path}.selector", validation.go_label_selector(sel),
                                   "empty selector is invalid for daemonset"))
    errs.extend(podspec.validate_pod_template(template, f"{path}.template"))
    errs.extend(validate_read_only_disks(template, 2, f"{path}.template"))
    errs.extend(common.validate_restart_always(template, f"{path}.template", "DaemonSet"))
    errs.extend(validation.validate_nonnegative(spec.get("minReadySeconds"), f"{path}.minReadySeconds"))
    errs.extend(_validate_update_strategy(spec.get("updateStrategy"), f"{path}.updateStrategy"))
    errs.extend(validation.validate_nonnegative(spec.get("revisionHistoryLimit"), f"{path}.revisionHistoryLimit"))
    return errs


def template_generation(obj: Object) -> int:
    value = ((obj.get("metadata") or {}).get("annotations") or {}).get(TEMPLATE_GENERATION)
    try:
        return int(value) if value is not None else 0
    except (TypeError, ValueError):
        return 0


def _set_template_generation(obj: Object, value: int) -> None:
    md = obj.setdefault("metadata", {})
    annotations = md.get("annotations")
    if not isinstance(annotations, dict):
        annotations = md["annotations"] = {}
    annotations[TEMPLATE_GENERATION] = str(value)


class DaemonSetStrategy(common.WorkloadStrategy):
    zero_status = {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0,
                   "numberReady": 0}

    def default(self, obj: Object) -> None:
        set_defaults(obj)
        self.default_status(obj)

    def prepare_for_create(self, obj: Object, ctx: WriteContext) -> None:
        super().prepare_for_create(obj, ctx)
        _set_template_generation(obj, max(template_generation(obj), 1))

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        return validate_spec(common.spec(obj))

    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        obj["status"] = old.get("status", {})
        generation = template_generation(old)
        if not common.semantically_equal(common.spec(obj).get("template"), common.spec(old).get("template")):
            generation += 1
        _set_template_generation(obj, generation)
        common.bump_generation(obj, old, not common.semantically_equal(obj.get("spec"), old.get("spec")))

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        new_sel = common.spec(obj).get("selector")
        return validate_spec(common.spec(obj)) + common.immutable(
            new_sel, common.spec(old).get("selector"), "spec.selector", validation.go_label_selector(new_sel))

    def columns(self) -> tuple[Column, ...]:
        return COLUMNS

    def row(self, obj: Object, now: float) -> list[Any]:
        spec, st = common.spec(obj), common.status(obj)
        template = common.template_of(spec)
        names, images = printing.container_cells(common.containers(template))
        node_selector = (template.get("spec") or {}).get("nodeSelector")
        return [common.name(obj), *(st.get(f) or 0 for f in ("desiredNumberScheduled", "currentNumberScheduled",
                                                              "numberReady", "updatedNumberScheduled",
                                                              "numberAvailable")),
                printing.map_selector_string(node_selector), printing.age(obj, now), names, images,
                printing.format_label_selector(spec.get("selector"))]


class DaemonSetStatusStrategy(common.WorkloadStatusStrategy):
    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        super().prepare_for_update(obj, old, ctx)
        _set_template_generation(obj, template_generation(old))

    def validate_status_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        return common.nonnegative(common.status(obj), _COUNTS, "status") + common.collision_count_decremented(obj, old)


STRATEGY = DaemonSetStrategy()

RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group=GROUP, version=VERSION, kind=KIND, plural="daemonsets", singular="daemonset", namespaced=True,
        strategy=STRATEGY, short_names=("ds",), categories=("all",),
        subresources=(Subresource("status", KIND, GROUP, VERSION),),
        status_strategy=DaemonSetStatusStrategy(STRATEGY),
    ),
)
