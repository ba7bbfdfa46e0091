"""apps/v1 StatefulSet: defaults (also of the volume claim templates), validation, the spec fields
an update may touch, ``/status``, ``/scale`` and the table.

The generic write path calls this strategy; the statefulset controller owns ``statefulsets/status``.
"""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api import errors, podspec, printing, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.apps import _common as common
from kybernetes.api.strategy import AGE_COLUMN, NAME_COLUMN, Column, ResourceInfo, Subresource, WriteContext
from kybernetes.api.types import Object

GROUP, VERSION, KIND = "apps", "v1", "StatefulSet"
_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
            "minReadySeconds")
_FORBIDDEN_UPDATE = ("updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                     "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")
_COUNTS = ("replicas", "readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas")

COLUMNS = (
    NAME_COLUMN,
    Column("Ready", description="Number of the pod with ready state"),
    AGE_COLUMN,
    common.CONTAINERS_COLUMN,
    common.IMAGES_COLUMN,
)


def _default_claim_template(pvc: dict[str, Any]) -> None:
    """What the API returns for each volume claim template (``SetDefaults_PersistentVolumeClaim*``
    plus the apiVersion/kind the v1 conversion keeps writing)."""
    pvc["apiVersion"], pvc["kind"] = "v1", "PersistentVolumeClaim"
    md = pvc.get("metadata")
    if not isinstance(md, dict):
        md = pvc["metadata"] = {}
    md.setdefault("creationTimestamp", None)
    spec = pvc.get("spec")
    if not isinstance(spec, dict):
        spec = pvc["spec"] = {}
    podspec.default_pvc_spec(spec)
    st = pvc.get("status")
    if not isinstance(st, dict):
        st = pvc["status"] = {}
    if not st.get("phase"):
        st["phase"] = "Pending"


def set_defaults(obj: Object) -> None:
    """``SetDefaults_StatefulSet`` plus template and claim-template defaults."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if not spec.get("podManagementPolicy"):
        spec["podManagementPolicy"] = "OrderedReady"
    strategy = spec.get("updateStrategy")
    if not isinstance(strategy, dict):
        strategy = spec["updateStrategy"] = {}
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        if strategy.get("rollingUpdate") is None:
            strategy["rollingUpdate"] = {}
    ru = strategy.get("rollingUpdate")
    if strategy["type"] == "RollingUpdate" and isinstance(ru, dict) and ru.get("partition") is None:
        ru["partition"] = 0
    policy = spec.get("persistentVolumeClaimRetentionPolicy")
    if not isinstance(policy, dict):
        policy = spec["persistentVolumeClaimRetentionPolicy"] = {}
    for f in ("whenDeleted", "whenScaled"):
        if not policy.get(f):
            policy[f] = "Retain"
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    spec.setdefault("serviceName", "")
    if isinstance(spec.get("template"), dict):
        podspec.default_pod_template(spec["template"])
    for pvc in spec.get("volumeClaimTemplates") or []:
        if isinstance(pvc, dict):
            _default_claim_template(pvc)


def _drop_disabled_fields(obj: Object, old: Object | None) -> None:
    """``maxUnavailable`` needs the MaxUnavailableStatefulSet gate (alpha, off in 1.32)."""
    def ru(o: Object | None) -> dict[str, Any]:
        value = (common.spec(o).get("updateStrategy") or {}).get("rollingUpdate") if o is not None else None
        return value if isinstance(value, dict) else {}
    if ru(old).get("maxUnavailable") is None:
        ru(obj).pop("maxUnavailable", None)


def _validate_update_strategy(strategy: Any, path: str) -> list[FieldError]:
    strategy = strategy if isinstance(strategy, dict) else {}
    kind, ru = strategy.get("type") or "", strategy.get("rollingUpdate")
    if kind == "":
        return [errors.required(path)]
    if kind == "OnDelete":
        if ru is not None:
            return [errors.invalid(f"{path}.rollingUpdate", _rolling_update_value(ru),
                                   "only allowed for updateStrategy 'RollingUpdate'")]
        return []
    if kind != "RollingUpdate":
        ru_text = "(nil)" if ru is None else "(0xc000010000)"
        return [errors.invalid(path, validation.GoValue(
            f"apps.StatefulSetUpdateStrategy{{Type:{validation.go_quote(kind)}, "
            f"RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy){ru_text}}}"),
            "must be 'RollingUpdate' or 'OnDelete'")]
    if not isinstance(ru, dict):
        return []
    errs = validation.validate_nonnegative(ru.get("partition"), f"{path}.rollingUpdate.partition")
    unavailable = ru.get("maxUnavailable")
    if unavailable is not None:
        p = f"{path}.rollingUpdate.maxUnavailable"
        errs.extend(validation.validate_positive_int_or_percent(unavailable, p))
        if validation.int_or_percent_value(unavailable) == 0:
            errs.append(errors.invalid(p, validation.go_int_or_string(unavailable), "cannot be 0"))
        errs.extend(validation.validate_not_more_than_100_percent(unavailable, p))
    return errs


def _rolling_update_value(ru: Any) -> validation.GoValue:
    ru = ru if isinstance(ru, dict) else {}
    mu = "(nil)" if ru.get("maxUnavailable") is None else "(0xc000010000)"
    return validation.GoValue(f"apps.RollingUpdateStatefulSetStrategy{{Partition:{ru.get('partition') or 0}, "
                              f"MaxUnavailable:(*intstr.IntOrString){mu}}}")


def validate_spec(spec: dict[str, Any], path: str = "spec") -> list[FieldError]:
    errs: list[FieldError] = []
    policy = spec.get("podManagementPolicy") or ""
    if policy == "":
        errs.append(errors.required(f"{path}.podManagementPolicy"))
    elif policy not in ("OrderedReady", "Parallel"):
        errs.append(errors.invalid(f"{path}.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'"))
    errs.extend(_validate_update_strategy(spec.get("updateStrategy"), f"{path}.updateStrategy"))
    retention = spec.get("persistentVolumeClaimRetentionPolicy")
    if isinstance(retention, dict):
        for f in ("whenDeleted", "whenScaled"):
            if retention.get(f) not in ("Retain", "Delete"):
                errs.append(errors.not_supported(f"{path}.persistentVolumeClaimRetentionPolicy.{f}",
                                                 retention.get(f) or "", ["Retain", "Delete"]))
    errs.extend(validation.validate_nonnegative(spec.get("replicas"), f"{path}.replicas"))
    errs.extend(validation.validate_nonnegative(spec.get("minReadySeconds"), f"{path}.minReadySeconds"))
    if isinstance(spec.get("ordinals"), dict):
        errs.extend(validation.validate_nonnegative(spec["ordinals"].get("start"), f"{path}.ordinals.start"))
    errs.extend(common.validate_selector(spec, path, "statefulset"))
    template = common.template_of(spec)
    errs.extend(common.validate_template_labels_match(spec, path, ""))
    # Upstream validates only the template's metadata here (note the paths), not its pod spec.
    tmd = template.get("metadata") or {}
    errs.extend(validation.validate_labels(tmd.get("labels"), f"{path}.template.labels"))
    errs.extend(validation.validate_annotations(tmd.get("annotations"), f"{path}.template.annotations"))
    errs.extend(common.validate_restart_always(template, f"{path}.template", "StatefulSet"))
    return errs


class StatefulSetStrategy(common.WorkloadStrategy):
    zero_status = {"replicas": 0, "availableReplicas": 0}

    def default(self, obj: Object) -> None:
        set_defaults(obj)
        self.default_status(obj)

    def prepare_for_create(self, obj: Object, ctx: WriteContext) -> None:
        super().prepare_for_create(obj, ctx)
        _drop_disabled_fields(obj, None)

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        return validate_spec(common.spec(obj))

    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        obj["status"] = old.get("status", {})
        _drop_disabled_fields(obj, old)
        common.bump_generation(obj, old, not common.semantically_equal(obj.get("spec"), old.get("spec")))

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        errs = validate_spec(common.spec(obj))
        clone = copy.deepcopy(common.spec(obj))
        old_spec = common.spec(old)
        for f in _MUTABLE:
            clone.pop(f, None)
            if f in old_spec:
                clone[f] = old_spec[f]
        if not common.semantically_equal(clone, old_spec):
            errs.append(errors.forbidden("spec", _FORBIDDEN_UPDATE))
        return errs

    def columns(self) -> tuple[Column, ...]:
        return COLUMNS

    def row(self, obj: Object, now: float) -> list[Any]:
        spec, st = common.spec(obj), common.status(obj)
        names, images = printing.container_cells(common.containers(common.template_of(spec)))
        return [common.name(obj), f"{st.get('readyReplicas') or 0}/{spec.get('replicas') or 0}",
                printing.age(obj, now), names, images]


class StatefulSetStatusStrategy(common.WorkloadStatusStrategy):
    def validate_status_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        st = common.status(obj)
        errs = common.nonnegative(st, (*_COUNTS, "observedGeneration", "collisionCount"), "status")
        errs.extend(common.not_above(st, _COUNTS[1:], "replicas", "status"))
        errs.extend(common.not_above(st, ("availableReplicas",), "readyReplicas", "status"))
        errs.extend(common.collision_count_decremented(obj, old))
        return errs


STRATEGY = StatefulSetStrategy()

RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group=GROUP, version=VERSION, kind=KIND, plural="statefulsets", singular="statefulset", namespaced=True,
        strategy=STRATEGY, short_names=("sts",), categories=("all",),
        subresources=(Subresource("scale", "Scale", "autoscaling", "v1"), Subresource("status", KIND, GROUP, VERSION)),
        status_strategy=StatefulSetStatusStrategy(STRATEGY), scale=common.REPLICAS_SCALE,
    ),
)
