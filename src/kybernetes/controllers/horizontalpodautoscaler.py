"""HorizontalPodAutoscaler controller: scale Deployments, ReplicaSets and StatefulSets (anything with a
``/scale`` subresource) to the replica count their pods' metrics ask for.

Every 15 s ``sync(hpa)`` reads the target's scale, asks ``replicacalculator`` for a proposal per metric
(resource and container-resource metrics from ``metrics.k8s.io``; custom and external metrics APIs
are not served, and say so as Kubernetes does), takes the largest, and normalizes it: min/max
bounds, stabilization windows (scale-down waits 300 s by default) and the scale-up/scale-down
policies of ``spec.behavior``, or without behavior Kubernetes' older rule (at most double, at least
+4). A change goes to ``/scale`` with a ``SuccessfulRescale`` event ("New size: 3; reason: cpu
resource utilization (percentage of request) above target"). Status carries current/desired
replicas, currentMetrics, lastScaleTime and the AbleToScale/ScalingActive/ScalingLimited conditions.
Recommendations and recent scale events live in memory, as in Kubernetes.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Mapping

from kybernetes.api import errors as api_errors
from kybernetes.api.printing import format_time
from kybernetes.api.selectors import parse_label_selector
from kybernetes.client.errors import ApiError
from kybernetes.client.events import NORMAL, WARNING
from kybernetes.client.informer import Informer
from kybernetes.client.rest import (
    DEPLOYMENTS,
    REPLICASETS,
    REPLICATIONCONTROLLERS,
    STATEFULSETS,
    Client,
    Resource,
)
from kybernetes.controllers import loop
from kybernetes.controllers import replicacalculator as rc
from kybernetes.controllers.loop import Obj

log = logging.getLogger(__name__)

HPAS = Resource("autoscaling", "v2", "horizontalpodautoscalers", kind="HorizontalPodAutoscaler")
SCALE_TARGETS: dict[tuple[str, str], Resource] = {
    ("apps/v1", "Deployment"): DEPLOYMENTS, ("apps/v1", "ReplicaSet"): REPLICASETS,
    ("apps/v1", "StatefulSet"): STATEFULSETS, ("v1", "ReplicationController"): REPLICATIONCONTROLLERS}
RESYNC_PERIOD = 15.0
DOWNSCALE_STABILIZATION = 300.0
DEFAULT_SCALE_UP = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                    "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                 {"type": "Percent", "value": 100, "periodSeconds": 15}]}
DEFAULT_SCALE_DOWN = {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}


def set_condition(hpa: Obj, type_: str, status: str, reason: str, message: str, now: float) -> None:
    """``setCondition``: add or update; the transition time moves only when the status changes."""
    conditions = hpa.setdefault("status", {}).setdefault("conditions", [])
    cond = next((c for c in conditions if c.get("type") == type_), None)
    if cond is None:
        cond = {"type": type_}
        conditions.append(cond)
    if cond.get("status") != status:
        cond["lastTransitionTime"] = format_time(now)
    cond.update(status=status, reason=reason, message=message)


def _rules(behavior: Obj | None, direction: str, downscale_window: float) -> Obj:
    defaults = DEFAULT_SCALE_UP if direction == "scaleUp" else DEFAULT_SCALE_DOWN
    rules = {**copy.deepcopy(defaults), **{k: v for k, v in ((behavior or {}).get(direction) or {}).items()
                                           if v is not None}}
    if direction == "scaleDown" and rules.get("stabilizationWindowSeconds") is None:
        rules["stabilizationWindowSeconds"] = int(downscale_window)
    return rules


class HorizontalController(loop.Controller):
    name = "horizontalpodautoscaling"

    def __init__(self, hpa_informer: Informer, pod_informer: Informer, client: Client, recorder: loop.Recorder, *,
                 kinds: Mapping[tuple[str, str], Resource] | None = None, resync_period: float = RESYNC_PERIOD,
                 downscale_stabilization: float = DOWNSCALE_STABILIZATION,
                 calculator: rc.ReplicaCalculator | None = None, metrics: rc.MetricsFetcher | None = None,
                 clock: loop.Clock = time.time) -> None:
        super().__init__([hpa_informer, pod_informer])
        self.hpa_informer = hpa_informer
        self.pod_informer = pod_informer
        self.client = client
        self.recorder = recorder
        self.kinds = {**SCALE_TARGETS, **(kinds or {})}
        self.resync_period = resync_period
        self.downscale_stabilization = downscale_stabilization
        self.calculator = calculator or rc.ReplicaCalculator()
        self.metrics: rc.MetricsFetcher = metrics or (lambda ns, sel, res, ctr: rc.fetch_pod_metrics(client, ns, sel, res, ctr))
        self.clock = clock
        self._recommendations: dict[str, list[tuple[float, int]]] = {}
        self._scale_events: dict[str, dict[str, list[tuple[float, int]]]] = {}
        hpa_informer.add_handlers(self.enqueue, self._hpa_updated, self.enqueue)

    def _hpa_updated(self, old: Obj, cur: Obj) -> None:
        if old.get("spec") != cur.get("spec"):
            self.enqueue(cur)

    # --- sync -------------------------------------------------------------------------------------
    async def sync(self, key: str) -> None:
        shared = self.hpa_informer.get(key)
        if shared is None:
            self._recommendations.pop(key, None)
            self._scale_events.pop(key, None)
            return
        self.queue.add_after(key, self.resync_period)
        hpa = copy.deepcopy(shared)
        original = copy.deepcopy(hpa.get("status") or {})
        now = self.clock()
        spec, ns = hpa.get("spec") or {}, hpa["metadata"].get("namespace", "")
        ref = spec.get("scaleTargetRef") or {}
        reference = f"{ref.get('kind')}/{ns}/{ref.get('name')}"
        try:
            resource = self._resource(ref)
            scale = await self.client.get(resource, str(ref.get("name")), ns, subresource="scale")
        except (ApiError, LookupError) as e:
            message = str(e.args[0]) if isinstance(e, LookupError) else str(e)
            self.recorder.record(hpa, WARNING, "FailedGetScale", message)
            set_condition(hpa, "AbleToScale", "False", "FailedGetScale",
                          f"the HPA controller was unable to get the target's current scale: {message}", now)
            await self._update_status(original, hpa)
            log.info("failed to query scale subresource for %s: %s", reference, message)
            return
        set_condition(hpa, "AbleToScale", "True", "SucceededGetScale",
                      "the HPA controller was able to get the target's current scale", now)
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        self._recommendations.setdefault(key, [(now, current)])
        min_replicas = 1 if spec.get("minReplicas") is None else int(spec["minReplicas"])
        max_replicas = int(spec.get("maxReplicas") or 0)
        statuses: list[Obj] | None = None
        desired, reason, rescale = 0, "", True
        if current == 0 and min_replicas != 0:
            rescale = False
            set_condition(hpa, "ScalingActive", "False", "ScalingDisabled",
                          "scaling is disabled since the replica count of the target is zero", now)
        elif current > max_replicas:
            desired, reason = max_replicas, "Current number of replicas above Spec.MaxReplicas"
        elif current < min_replicas:
            desired, reason = min_replicas, "Current number of replicas below Spec.MinReplicas"
        else:
            proposal, metric, statuses, error = await self._compute(hpa, scale, now)
            if proposal == -1:
                self._set_status(hpa, current, int(original.get("desiredReplicas") or 0), statuses, False, now)
                await self._update_status(original, hpa)
                self.recorder.record(hpa, WARNING, "FailedComputeMetricsReplicas", error)
                log.info("failed to compute desired number of replicas based on listed metrics for %s: %s",
                         reference, error)
                return
            desired = proposal
            reason = f"{metric} above target" if desired > current else \
                "All metrics below target" if desired < current else ""
            desired = self._normalize(hpa, key, current, desired, min_replicas, max_replicas, now)
            rescale = desired != current
        if rescale:
            updated = copy.deepcopy(scale)
            updated.setdefault("spec", {})["replicas"] = desired
            try:
                await self.client.replace(resource, updated, ns, subresource="scale")
            except ApiError as e:
                self.recorder.record(hpa, WARNING, "FailedRescale", f"New size: {desired}; reason: {reason}; error: {e}")
                set_condition(hpa, "AbleToScale", "False", "FailedUpdateScale",
                              f"the HPA controller was unable to update the target scale: {e}", now)
                self._set_status(hpa, current, int(original.get("desiredReplicas") or 0), statuses, False, now)
                await self._update_status(original, hpa)
                log.info("failed to rescale %s: %s", reference, e)
                return
            set_condition(hpa, "AbleToScale", "True", "SucceededRescale",
                          f"the HPA controller was able to update the target scale to {desired}", now)
            self.recorder.record(hpa, NORMAL, "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
            self._store_scale_event(hpa, key, current, desired, now)
            log.info("successful rescale of %s, old size: %d, new size: %d, reason: %s", key, current, desired, reason)
        else:
            desired = current
        self._set_status(hpa, current, desired, statuses, rescale, now)
        await self._update_status(original, hpa)

    def _resource(self, ref: Obj) -> Resource:
        api_version, kind = str(ref.get("apiVersion") or ""), str(ref.get("kind") or "")
        found = self.kinds.get((api_version, kind))
        if found is None:
            group = api_version.rpartition("/")[0]
            raise LookupError(f'no matches for kind "{kind}" in group "{group}"')
        return found

    # --- metrics ----------------------------------------------------------------------------------
    async def _compute(self, hpa: Obj, scale: Obj, now: float) -> tuple[int, str, list[Obj], str]:
        """``computeReplicasForMetrics``: (proposal or -1, metric name, metric statuses, error text)."""
        selector_text = str((scale.get("status") or {}).get("selector") or "")
        specs = list((hpa.get("spec") or {}).get("metrics") or [])
        if not selector_text:
            self.recorder.record(hpa, WARNING, "SelectorRequired", "selector is required")
            set_condition(hpa, "ScalingActive", "False", "InvalidSelector", "the HPA target's scale is missing a selector",
                          now)
            return -1, "", [], "selector is required"
        try:
            selector = parse_label_selector(selector_text)
        except api_errors.StatusError as e:
            message = f"couldn't convert selector into a corresponding internal selector object: {e}"
            self.recorder.record(hpa, WARNING, "InvalidSelector", message)
            set_condition(hpa, "ScalingActive", "False", "InvalidSelector", message, now)
            return -1, "", [], message
        ns = hpa["metadata"].get("namespace", "")
        pods = sorted((p for p in self.pod_informer.list(ns) if selector.matches((p.get("metadata") or {}).get("labels"))),
                      key=lambda p: str(p["metadata"].get("name")))
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        statuses: list[Obj] = []
        replicas, metric, failures = 0, "", []
        for spec in specs:
            try:
                proposal, name, status = await rc.metric_proposal(self.calculator, self.metrics, spec, ns,
                                                                  selector_text, current, pods, now)
            except rc.MetricFailure as f:
                self.recorder.record(hpa, WARNING, f.reason, f.detail)
                failures.append(f)
                statuses.append({"type": ""})
                continue
            statuses.append(status)
            if replicas == 0 or proposal > replicas:
                replicas, metric = proposal, name
        error = ""
        if failures:
            error = f"invalid metrics ({len(failures)} invalid out of {len(specs)}), first error is: {failures[0].error}"
        if failures and (len(failures) >= len(specs) or replicas < current):
            set_condition(hpa, "ScalingActive", "False", failures[0].reason,
                          f"the HPA was unable to compute the replica count: {failures[0].detail}", now)
            return -1, "", statuses, error
        set_condition(hpa, "ScalingActive", "True", "ValidMetricFound",
                      f"the HPA was able to successfully calculate a replica count from {metric}", now)
        return replicas, metric, statuses, error

    # --- normalization ----------------------------------------------------------------------------
    def _normalize(self, hpa: Obj, key: str, current: int, desired: int, min_r: int, max_r: int, now: float) -> int:
        behavior = (hpa.get("spec") or {}).get("behavior")
        if behavior is None:
            return self._normalize_without_behavior(hpa, key, current, desired, min_r, max_r, now)
        up, down = (_rules(behavior, d, self.downscale_stabilization) for d in ("scaleUp", "scaleDown"))
        stabilized = self._stabilize(key, current, desired, float(up["stabilizationWindowSeconds"] or 0),
                                     float(down["stabilizationWindowSeconds"] or 0), now)
        if stabilized != desired:
            if desired >= current:
                set_condition(hpa, "AbleToScale", "True", "ScaleUpStabilized", "recent recommendations were lower than "
                              "current one, applying the lowest recent recommendation", now)
            else:
                set_condition(hpa, "AbleToScale", "True", "ScaleDownStabilized", "recent recommendations were higher "
                              "than current one, applying the highest recent recommendation", now)
        else:
            set_condition(hpa, "AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size", now)
        events = self._scale_events.get(key, {})
        limited, reason, message = stabilized, "DesiredWithinRange", "the desired count is within the acceptable range"
        if stabilized > current:
            limit = max(_scale_limit(current, events, up, now, +1), current)
            if max_r > limit:
                top, reason, message = limit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"
            else:
                top, reason, message = max_r, "TooManyReplicas", "the desired replica count is more than the maximum replica count"
            limited = min(stabilized, top)
        elif stabilized < current:
            limit = min(_scale_limit(current, events, down, now, -1), current)
            if min_r < limit:
                bottom, reason, message = limit, "ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate"
            else:
                bottom, reason, message = min_r, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
            limited = max(stabilized, bottom)
        if limited == stabilized:
            reason, message = "DesiredWithinRange", "the desired count is within the acceptable range"
        set_condition(hpa, "ScalingLimited", "True" if limited != stabilized else "False", reason, message, now)
        return limited

    def _normalize_without_behavior(self, hpa: Obj, key: str, current: int, desired: int, min_r: int, max_r: int,
                                    now: float) -> int:
        cutoff = now - self.downscale_stabilization
        recs = self._recommendations.setdefault(key, [])
        stabilized = max([desired, *(r for t, r in recs if t >= cutoff)])
        recs[:] = [(t, r) for t, r in recs if t >= cutoff] + [(now, desired)]
        if stabilized != desired:
            set_condition(hpa, "AbleToScale", "True", "ScaleDownStabilized", "recent recommendations were higher than "
                          "current one, applying the highest recent recommendation", now)
        else:
            set_condition(hpa, "AbleToScale", "True", "ReadyForNewScale", "recommended size matches current size", now)
        scale_up_limit = int(max(2.0 * current, 4.0))
        if max_r > scale_up_limit:
            top, reason, message = scale_up_limit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"
        else:
            top, reason, message = max_r, "TooManyReplicas", "the desired replica count is more than the maximum replica count"
        if stabilized < min_r:
            limited, reason, message = min_r, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
        elif stabilized > top:
            limited = top
        else:
            limited, reason, message = stabilized, "DesiredWithinRange", "the desired count is within the acceptable range"
        set_condition(hpa, "ScalingLimited", "True" if limited != stabilized else "False", reason, message, now)
        return limited

    def _stabilize(self, key: str, current: int, desired: int, up_window: float, down_window: float,
                   now: float) -> int:
        """``stabilizeRecommendationWithBehaviors``: clamp between the lowest recommendation of the
        scale-up window and the highest of the scale-down window, then remember this one."""
        recs = self._recommendations.setdefault(key, [])
        up = min([desired, *(r for t, r in recs if t > now - up_window)])
        down = max([desired, *(r for t, r in recs if t > now - down_window)])
        recs[:] = [(t, r) for t, r in recs if t > now - max(up_window, down_window)] + [(now, desired)]
        return min(max(current, up), down)

    def _store_scale_event(self, hpa: Obj, key: str, old: int, new: int, now: float) -> None:
        behavior = (hpa.get("spec") or {}).get("behavior")
        if behavior is None:
            return
        direction = "scaleUp" if new > old else "scaleDown"
        rules = _rules(behavior, direction, self.downscale_stabilization)
        longest = max((int(p.get("periodSeconds") or 0) for p in rules.get("policies") or []), default=0)
        events = self._scale_events.setdefault(key, {}).setdefault(direction, [])
        events[:] = [(t, n) for t, n in events if t >= now - longest] + [(now, abs(new - old))]

    # --- status -----------------------------------------------------------------------------------
    def _set_status(self, hpa: Obj, current: int, desired: int, statuses: list[Obj] | None, rescale: bool,
                    now: float) -> None:
        old = hpa.get("status") or {}
        status: Obj = {}
        if rescale:
            status["lastScaleTime"] = format_time(now)
        elif old.get("lastScaleTime"):
            status["lastScaleTime"] = old["lastScaleTime"]
        if current:
            status["currentReplicas"] = current
        status["desiredReplicas"] = desired
        if statuses:
            status["currentMetrics"] = statuses
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        hpa["status"] = status

    async def _update_status(self, original: Obj, hpa: Obj) -> None:
        if original == (hpa.get("status") or {}):
            return
        try:
            await self.client.replace(HPAS, hpa, hpa["metadata"].get("namespace"), subresource="status")
        except ApiError as e:
            self.recorder.record(hpa, WARNING, "FailedUpdateStatus", str(e))
            raise


def _scale_limit(current: int, events: Mapping[str, list[tuple[float, int]]], rules: Obj, now: float,
                 sign: int) -> int:
    """``calculateScale{Up,Down}Limit…``: the furthest the policies allow from the period's starting size."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    proposals = []
    for policy in rules.get("policies") or []:
        period = int(policy.get("periodSeconds") or 0)
        added = sum(n for t, n in events.get("scaleUp", []) if t > now - period)
        removed = sum(n for t, n in events.get("scaleDown", []) if t > now - period)
        start = current - added + removed
        value = int(policy.get("value") or 0)
        if policy.get("type") == "Pods":
            proposals.append(start + sign * value)
        elif sign > 0:
            proposals.append(math.ceil(start * (1 + value / 100)))
        else:
            proposals.append(int(start * (1 - value / 100)))
    if not proposals:
        return current
    # "Max" picks the biggest change: the highest limit up, the lowest limit down; "Min" the smallest.
    pick_high = (select != "Min") == (sign > 0)
    return max(proposals) if pick_high else min(proposals)
