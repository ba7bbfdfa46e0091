"""core/v1 Pod: defaults, create/update validation, QoS, graceful deletion, ``/status``,
``/ephemeralcontainers``, field selectors and the table.

The generic write path calls ``PodStrategy``; the scheduler binds through ``pods/binding`` and the
kubelet owns ``pods/status``. Shared PodSpec rules live in ``api/podspec/``; the table cells in
``_pod_table.py``. Admission plugins (service account token volume, default tolerations, priority)
run outside this module.
"""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api import errors, podspec, validation
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.core import _common as c
from kybernetes.api.kinds.core import _pod_table
from kybernetes.api.strategy import Column, ResourceInfo, StatusStrategy, Strategy, Subresource, WriteContext
from kybernetes.api.types import Object

UPDATABLE_FIELDS = ("`spec.containers[*].image`", "`spec.initContainers[*].image`", "`spec.activeDeadlineSeconds`",
                    "`spec.tolerations` (only additions to existing tolerations)",
                    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)")
UPDATE_FORBIDDEN = "pod updates may not change fields other than " + ",".join(UPDATABLE_FIELDS)
SCHEDULING_GATED = {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated",
                    "message": "Scheduling is blocked due to non-empty scheduling gates"}
_QOS_RESOURCES = ("cpu", "memory")


# --- pod-only defaults and QoS ------------------------------------------------------------------------

def default_pod_fields(spec: dict[str, Any]) -> None:
    """``SetDefaults_Pod``: requests default to limits, service links on, host-network host ports."""
    for key in ("containers", "initContainers"):
        for ctr in c.dicts(spec.get(key)):
            res = ctr.get("resources")
            if isinstance(res, dict) and isinstance(res.get("limits"), dict):
                requests = c.section(res, "requests")
                for name, value in res["limits"].items():
                    requests.setdefault(name, copy.deepcopy(value))
                res["requests"] = requests
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    if spec.get("hostNetwork"):
        for key in ("containers", "initContainers"):
            for ctr in c.dicts(spec.get(key)):
                for port in c.dicts(ctr.get("ports")):
                    if not port.get("hostPort"):
                        port["hostPort"] = port.get("containerPort")


def default_pod_status(status: dict[str, Any]) -> None:
    """v1 conversion keeps ``podIP``/``podIPs`` and ``hostIP``/``hostIPs`` in step."""
    for single, plural in (("podIP", "podIPs"), ("hostIP", "hostIPs")):
        ips = c.dicts(status.get(plural))
        if not ips and status.get(single):
            status[plural] = [{"ip": status[single]}]
        elif ips:
            status[single] = ips[0].get("ip", "")


def compute_qos(spec: dict[str, Any]) -> str:
    """``ComputePodQOS``: BestEffort, Guaranteed (cpu and memory limits equal requests everywhere) or
    Burstable. Ephemeral containers do not count."""
    requests: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    guaranteed = True
    for key in ("containers", "initContainers"):
        for ctr in c.dicts(spec.get(key)):
            res = c.section(ctr, "resources")
            for name, value in c.section(res, "requests").items():
                amount = validation.quantity_value(value)
                if name in _QOS_RESOURCES and amount is not None and amount > 0:
                    requests[name] = requests.get(name, 0) + amount
            found = set()
            for name, value in c.section(res, "limits").items():
                amount = validation.quantity_value(value)
                if name in _QOS_RESOURCES and amount is not None and amount > 0:
                    found.add(name)
                    limits[name] = limits.get(name, 0) + amount
            if not found >= set(_QOS_RESOURCES):
                guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and all(name in limits and limits[name] == req for name, req in requests.items()) \
            and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"


def apply_scheduling_gated_condition(obj: Object) -> None:
    """Pods created with scheduling gates start with ``PodScheduled=False/SchedulingGated``."""
    if not c.section(obj, "spec").get("schedulingGates"):
        return
    status = c.ensure(obj, "status")
    status["conditions"] = [cond for cond in c.dicts(status.get("conditions")) if cond.get("type") != "PodScheduled"]
    status["conditions"].append(dict(SCHEDULING_GATED))


def mutate_pod_affinity(obj: Object) -> None:
    """``matchLabelKeys``/``mismatchLabelKeys`` of pod (anti-)affinity terms become selector requirements
    from the pod's own labels (MatchLabelKeysInPodAffinity, on in 1.32)."""
    labels = c.meta(obj).get("labels") or {}
    affinity = c.section(c.section(obj, "spec"), "affinity")
    for kind in ("podAffinity", "podAntiAffinity"):
        pa = c.section(affinity, kind)
        terms = c.dicts(pa.get("requiredDuringSchedulingIgnoredDuringExecution"))
        terms += [c.section(p, "podAffinityTerm") for p in c.dicts(pa.get("preferredDuringSchedulingIgnoredDuringExecution"))]
        for term in terms:
            if not isinstance(term.get("labelSelector"), dict):
                continue
            exprs = term["labelSelector"].setdefault("matchExpressions", [])
            for field, op in (("matchLabelKeys", "In"), ("mismatchLabelKeys", "NotIn")):
                for key in term.get(field) or []:
                    if key in labels:
                        exprs.append({"key": key, "operator": op, "values": [labels[key]]})
            if not exprs:
                term["labelSelector"].pop("matchExpressions")


# --- update rules ---------------------------------------------------------------------------------------

def _only_added_tolerations(new: list[dict[str, Any]], old: list[dict[str, Any]], path: str) -> list[FieldError]:
    for tol in old:
        base = {k: v for k, v in tol.items() if k != "tolerationSeconds"}
        if not any({k: v for k, v in n.items() if k != "tolerationSeconds"} == base for n in new):
            return [errors.forbidden(path, "existing toleration can not be modified except its tolerationSeconds")]
    return podspec.validate_tolerations(new, path)


def validate_pod_update(obj: Object, old: Object) -> list[FieldError]:
    """``ValidatePodUpdate``: only images, activeDeadlineSeconds, toleration additions, scheduling-gate
    removals and a negative grace period to 1 may change."""
    spec, old_spec = c.section(obj, "spec"), c.section(old, "spec")
    if len(c.dicts(spec.get("containers"))) != len(c.dicts(old_spec.get("containers"))):
        return [errors.forbidden("spec.containers", "pod updates may not add or remove containers")]
    errs: list[FieldError] = []
    ads, old_ads = spec.get("activeDeadlineSeconds"), old_spec.get("activeDeadlineSeconds")
    if ads is not None:
        if not isinstance(ads, int) or not 0 <= ads <= 2147483647:
            return [errors.invalid("spec.activeDeadlineSeconds", ads, validation.inclusive_range_error(0, 2147483647))]
        if old_ads is not None and old_ads < ads:
            return [errors.invalid("spec.activeDeadlineSeconds", ads, "must be less than or equal to previous value")]
    elif old_ads is not None:
        errs.append(errors.invalid("spec.activeDeadlineSeconds", None,
                                   "must not update from a positive integer to nil value"))
    errs.extend(_only_added_tolerations(c.dicts(spec.get("tolerations")), c.dicts(old_spec.get("tolerations")),
                                        "spec.tolerations"))
    old_gates = {g.get("name") for g in c.dicts(old_spec.get("schedulingGates"))}
    for i, gate in enumerate(c.dicts(spec.get("schedulingGates"))):
        if gate.get("name") not in old_gates:
            errs.append(errors.forbidden(f"spec.schedulingGates[{i}].name", "only deletion is allowed, but found "
                                         f"new scheduling gate '{gate.get('name')}'"))
    if spec == old_spec:
        return errs
    if compute_qos(spec) != compute_qos(old_spec):
        errs.append(errors.invalid("metadata", c.section(obj, "status").get("qosClass", ""), "Pod QoS is immutable"))
    munged = copy.deepcopy(spec)
    for key in ("containers", "initContainers"):
        olds = c.dicts(old_spec.get(key))
        for i, ctr in enumerate(c.dicts(munged.get(key))):
            if i < len(olds):
                if "image" in olds[i]:
                    ctr["image"] = olds[i]["image"]
                else:
                    ctr.pop("image", None)
    for key in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        if key in old_spec:
            munged[key] = old_spec[key]
        else:
            munged.pop(key, None)
    old_grace = old_spec.get("terminationGracePeriodSeconds")
    if isinstance(old_grace, int) and old_grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    if old_gates and munged.get("nodeSelector") != old_spec.get("nodeSelector"):
        old_sel = old_spec.get("nodeSelector") or {}
        new_sel = munged.get("nodeSelector") or {}
        for key, value in old_sel.items():
            if new_sel.get(key) != value:
                errs.append(errors.invalid("spec.nodeSelector", validation.go_string_map(new_sel),
                                           f"only additions are allowed (no mutations or deletions): {key}"))
                break
        munged["nodeSelector"] = old_spec.get("nodeSelector")
        if munged["nodeSelector"] is None:
            munged.pop("nodeSelector")
    if munged != old_spec:
        diff = "\n".join(c.spec_diff(old_spec, munged))
        errs.append(errors.forbidden("spec", f"{UPDATE_FORBIDDEN}\n{diff}"))
    return errs


def validate_status_ips(obj: Object) -> list[FieldError]:
    """``validatePodIPs`` / ``validatePodHostIPs``: valid, unique, one per family."""
    errs: list[FieldError] = []
    status = c.section(obj, "status")
    for field in ("podIPs", "hostIPs"):
        seen: set[str] = set()
        families: set[int] = set()
        ips = c.dicts(status.get(field))
        for i, entry in enumerate(ips):
            ip = str(entry.get("ip") or "")
            bad = validation.validate_ip(ip, f"status.{field}[{i}]")
            errs.extend(bad)
            if ip in seen:
                errs.append(errors.duplicate(f"status.{field}[{i}]", validation.GoValue(
                    f"core.{'PodIP' if field == 'podIPs' else 'HostIP'}{{IP:{validation.go_quote(ip)}}}")))
            seen.add(ip)
            if not bad:
                families.add(6 if ":" in ip else 4)
        if len(ips) > 1 and len(families) != len(ips) and len(seen) == len(ips):
            errs.append(errors.invalid(f"status.{field}", validation.GoValue(
                "[]string{" + ", ".join(validation.go_quote(str(e.get("ip") or "")) for e in ips) + "}"),
                "may specify no more than one IP for each IP family"))
    return errs


# --- strategies -----------------------------------------------------------------------------------------

class PodStrategy(Strategy):
    has_status = True
    tracks_generation = False
    return_deleted_object = True
    name_validator = staticmethod(validation.is_dns1123_subdomain)

    def default(self, obj: Object) -> None:
        spec = c.ensure(obj, "spec")
        default_pod_fields(spec)
        podspec.default_pod_spec(spec)
        default_pod_status(c.ensure(obj, "status"))

    def default_status(self, obj: Object) -> None:
        default_pod_status(c.ensure(obj, "status"))

    def prepare_for_create(self, obj: Object, ctx: WriteContext) -> None:
        obj["status"] = {"phase": "Pending", "qosClass": compute_qos(c.section(obj, "spec"))}
        apply_scheduling_gated_condition(obj)
        mutate_pod_affinity(obj)

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        spec = c.section(obj, "spec")
        errs = self._validate_pod(obj)
        if spec.get("ephemeralContainers"):
            errs.append(errors.forbidden("spec.ephemeralContainers", "cannot be set on create"))
        if spec.get("nodeName") and spec.get("schedulingGates"):
            errs.append(errors.forbidden("spec.nodeName", "cannot be set until all schedulingGates have been "
                                                          "cleared"))
        return errs + validate_status_ips(obj)

    def _validate_pod(self, obj: Object) -> list[FieldError]:
        spec = c.section(obj, "spec")
        annotations = c.meta(obj).get("annotations") or {}
        errs: list[FieldError] = []
        if "kubernetes.io/config.mirror" in annotations and not spec.get("nodeName"):
            errs.append(errors.invalid("metadata.annotations[kubernetes.io/config.mirror]",
                                       annotations["kubernetes.io/config.mirror"],
                                       "must set spec.nodeName if mirror pod annotation is set"))
        errs.extend(podspec.validate_pod_spec(spec, "spec"))
        errs.extend(podspec.validate_pod_spec_for_pod(spec, "spec"))
        return errs

    def warnings_on_create(self, obj: Object) -> list[str]:
        return podspec.warnings_for_pod_spec(c.section(obj, "spec"))

    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        obj["status"] = copy.deepcopy(old.get("status", {}))

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        errs = self._validate_pod(obj)
        errs.extend(_mirror_annotation_update(obj, old))
        return errs + validate_pod_update(obj, old)

    def warnings_on_update(self, obj: Object, old: Object) -> list[str]:
        return podspec.warnings_for_pod_spec(c.section(obj, "spec"))

    def check_graceful_delete(self, obj: Object, grace_period: int | None) -> int | None:
        spec, status = c.section(obj, "spec"), c.section(obj, "status")
        period = grace_period if grace_period is not None else spec.get("terminationGracePeriodSeconds") or 0
        if not spec.get("nodeName") or status.get("phase") in ("Failed", "Succeeded"):
            period = 0
        if period < 0:
            period = 1
        return period or None

    def field_selectors(self, obj: Object) -> dict[str, str]:
        spec, status = c.section(obj, "spec"), c.section(obj, "status")
        ips = c.dicts(status.get("podIPs"))
        fields = c.namespaced_fields(obj)
        fields.update({
            "spec.nodeName": str(spec.get("nodeName") or ""),
            "spec.restartPolicy": str(spec.get("restartPolicy") or ""),
            "spec.schedulerName": str(spec.get("schedulerName") or ""),
            "spec.serviceAccountName": str(spec.get("serviceAccountName") or ""),
            "spec.hostNetwork": c.go_bool(spec.get("hostNetwork")),
            "status.phase": str(status.get("phase") or ""),
            "status.podIP": str(ips[0].get("ip") or "") if ips else "",
            "status.nominatedNodeName": str(status.get("nominatedNodeName") or ""),
        })
        return fields

    def columns(self) -> tuple[Column, ...]:
        return _pod_table.columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        return _pod_table.row(obj, now)


def _mirror_annotation_update(obj: Object, old: Object) -> list[FieldError]:
    key = "kubernetes.io/config.mirror"
    new_ann, old_ann = c.meta(obj).get("annotations") or {}, c.meta(old).get("annotations") or {}
    if key in old_ann and new_ann.get(key) != old_ann[key]:
        return [errors.forbidden(f"metadata.annotations[{key}]", "may not remove or update mirror pod annotation")]
    if key in new_ann and key not in old_ann:
        return [errors.forbidden(f"metadata.annotations[{key}]", "may not add mirror pod annotation")]
    return []


class PodStatusStrategy(StatusStrategy):
    """``pods/status`` (the kubelet): the old spec and owner references win; the QoS class is backfilled."""

    shares_old = True  # spec, labels and owner references are taken over as they are, never modified

    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        super().prepare_for_update(obj, old, ctx)
        md, old_md = c.ensure(obj, "metadata"), c.meta(old)
        if "ownerReferences" in old_md:
            md["ownerReferences"] = old_md["ownerReferences"]
        else:
            md.pop("ownerReferences", None)
        status = c.ensure(obj, "status")
        if not status.get("qosClass") and c.section(old, "status").get("qosClass"):
            status["qosClass"] = c.section(old, "status")["qosClass"]
        default_pod_status(status)

    def validate_status_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        errs: list[FieldError] = []
        status, old_status = c.section(obj, "status"), c.section(old, "status")
        nominated = status.get("nominatedNodeName")
        if nominated and nominated != old_status.get("nominatedNodeName"):
            errs.extend(validation.validate_dns1123_subdomain(str(nominated), "status.nominatedNodeName"))
        policy = c.section(old, "spec").get("restartPolicy")
        if policy != "Always":
            new_states = {cs.get("name"): c.section(cs, "state") for cs in c.dicts(status.get("containerStatuses"))}
            for i, cs in enumerate(c.dicts(old_status.get("containerStatuses"))):
                term = c.section(cs, "state").get("terminated")
                if not isinstance(term, dict) or (term.get("exitCode") and policy == "OnFailure"):
                    continue
                state = new_states.get(cs.get("name"))
                if state is not None and not isinstance(state.get("terminated"), dict):
                    errs.append(errors.forbidden(f"status.containerStatuses[{i}].state",
                                                 "may not be transitioned to non-terminated state"))
        return errs + validate_status_ips(obj)


class EphemeralContainersStrategy(Strategy):
    """``pods/ephemeralcontainers``: only ``spec.ephemeralContainers`` may change, by adding containers."""

    tracks_generation = False

    def __init__(self, main: PodStrategy) -> None:
        self.main = main

    def default(self, obj: Object) -> None:
        self.main.default(obj)

    def prepare_for_update(self, obj: Object, old: Object, ctx: WriteContext) -> None:
        ephemeral = c.section(obj, "spec").get("ephemeralContainers")
        kept = copy.deepcopy(old)
        if ephemeral is None:
            c.ensure(kept, "spec").pop("ephemeralContainers", None)
        else:
            c.ensure(kept, "spec")["ephemeralContainers"] = ephemeral
        c.replace_with(obj, kept)

    def validate_update(self, obj: Object, old: Object, ctx: WriteContext) -> list[FieldError]:
        errs = self.main._validate_pod(obj)
        if "kubernetes.io/config.mirror" in (c.meta(old).get("annotations") or {}):
            return [errors.forbidden("", "static pods do not support ephemeral containers")]
        new = {ec.get("name"): ec for ec in c.dicts(c.section(obj, "spec").get("ephemeralContainers"))}
        for ec in c.dicts(c.section(old, "spec").get("ephemeralContainers")):
            name = ec.get("name")
            if name not in new:
                errs.append(errors.forbidden("spec.ephemeralContainers",
                                             f'existing ephemeral containers "{name}" may not be removed\n'))
            elif new[name] != ec:
                diff = "\n".join(c.spec_diff(ec, new[name]))
                errs.append(errors.forbidden("spec.ephemeralContainers",
                                             f'existing ephemeral containers "{name}" may not be changed\n{diff}'))
        return errs

    def columns(self) -> tuple[Column, ...]:
        return self.main.columns()

    def row(self, obj: Object, now: float) -> list[Any]:
        return self.main.row(obj, now)


STRATEGY = PodStrategy()
STATUS_STRATEGY = PodStatusStrategy(STRATEGY)
EPHEMERAL_CONTAINERS_STRATEGY = EphemeralContainersStrategy(STRATEGY)
#: ``pods/resize`` exists in 1.32 only with the (alpha, off) InPlacePodVerticalScaling gate, so it is not
#: served; this is its discovery entry for when that changes.
RESIZE_SUBRESOURCE = Subresource("resize", "Pod")

RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group="", version="v1", kind="Pod", plural="pods", singular="pod", namespaced=True, strategy=STRATEGY,
        short_names=("po",), categories=("all",), status_strategy=STATUS_STRATEGY,
        subresources=(
            Subresource("attach", "PodAttachOptions", verbs=("create", "get")),
            Subresource("binding", "Binding", verbs=("create",)),
            Subresource("ephemeralcontainers", "Pod"),
            Subresource("eviction", "Eviction", "policy", "v1", verbs=("create",)),
            Subresource("exec", "PodExecOptions", verbs=("create", "get")),
            Subresource("log", "Pod", verbs=("get",)),
            Subresource("portforward", "PodPortForwardOptions", verbs=("create", "get")),
            Subresource("proxy", "PodProxyOptions", verbs=("create", "delete", "get", "patch", "update")),
            Subresource("status", "Pod"),
        ),
        subresource_strategies={"ephemeralcontainers": EPHEMERAL_CONTAINERS_STRATEGY},
    ),
)
