"""How many replicas an HPA's resource metric asks for (``replica_calculator.go`` and the resource
metrics client in Kubernetes).

``fetch_pod_metrics`` reads ``metrics.k8s.io/v1beta1`` PodMetrics for a selector and sums each pod's
container usage of one resource (milli-units). ``ReplicaCalculator`` turns those samples into a
proposal: ``ceil(ready pods * usage / target)``, unchanged within the 10 % tolerance; pods without
samples count as 100 % of their request when scaling down and 0 % when scaling up; CPU samples of
pods still starting (unready, or ready more recently than one metric window) are set aside and only
count, as 0 %, against a scale-up. ``metric_proposal`` evaluates one entry of ``spec.metrics`` for
``horizontalpodautoscaler.py``; its ``MetricFailure`` carries Kubernetes' wording for the HPA's
ScalingActive condition and events.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kybernetes.api.printing import parse_time
from kybernetes.api.quantity import new_milli_quantity, parse_quantity
from kybernetes.client.errors import ApiError, NotFoundError
from kybernetes.client.rest import Client

Obj = dict[str, Any]

METRICS_GROUP_VERSION = "metrics.k8s.io/v1beta1"
_NO_CUSTOM = "unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered"
_NO_EXTERNAL = ("unable to fetch metrics from external metrics API: no external metrics API (external.metrics.k8s.io) "
                "registered")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
#: (namespace, label selector, resource, container) → pod name → sample; ``fetch_pod_metrics`` by default.
MetricsFetcher = Callable[[str, str, str, str], Awaitable[dict[str, "PodMetric"]]]


class MetricsError(Exception):
    """A metric could not be read or used; the message is Kubernetes' wording."""


@dataclass(frozen=True, slots=True)
class PodMetric:
    value: int  # milli-units of the resource, summed over the pod's containers
    timestamp: float
    window: float


def parse_duration(text: Any) -> float:
    """A Go duration (``30s``, ``1m0s``, ``1.5s``) in seconds; 0 when absent or malformed."""
    return sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(str(text or "")))


def metrics_path(namespace: str) -> str:
    return f"/apis/{METRICS_GROUP_VERSION}/namespaces/{namespace}/pods"


async def fetch_pod_metrics(client: Client, namespace: str, selector: str, resource: str,
                            container: str = "") -> dict[str, PodMetric]:
    """PodMetrics of the pods ``selector`` matches: pod name → usage of ``resource`` (``GetResourceMetric``)."""
    try:
        listed = await client.request("GET", metrics_path(namespace), params={"labelSelector": selector or None})
    except NotFoundError as e:
        raise MetricsError("unable to fetch metrics from resource metrics API: the server could not find the "
                           "requested resource (get pods.metrics.k8s.io)") from e
    except ApiError as e:
        raise MetricsError(f"unable to fetch metrics from resource metrics API: {e}") from e
    items = listed.get("items") or []
    if not items:
        raise MetricsError("no metrics returned from resource metrics API")
    out: dict[str, PodMetric] = {}
    for item in items:
        md = item.get("metadata") or {}
        containers = [c for c in item.get("containers") or [] if not container or c.get("name") == container]
        if container and not containers:
            raise MetricsError(f"container {container} not present in metrics for pod "
                               f"{md.get('namespace', namespace)}/{md.get('name', '')}")
        total, missing = 0, not containers
        for c in containers:
            usage = (c.get("usage") or {}).get(resource)
            if usage is None:
                missing = True
                break
            total += parse_quantity(usage).milli_value()
        if not missing:
            out[str(md.get("name", ""))] = PodMetric(total, parse_time(item.get("timestamp")) or 0.0,
                                                     parse_duration(item.get("window")))
    return out


def pod_requests(pods: list[Obj], resource: str, container: str = "") -> dict[str, int]:
    """Each pod's request of ``resource`` in milli-units (``calculatePodRequests``); every container needs one."""
    out: dict[str, int] = {}
    for pod in pods:
        total = 0
        for c in (pod.get("spec") or {}).get("containers") or []:
            if container and c.get("name") != container:
                continue
            request = ((c.get("resources") or {}).get("requests") or {}).get(resource)
            if request is None:
                raise MetricsError(f"missing request for {resource} in container {c.get('name', '')} of Pod "
                                   f"{(pod.get('metadata') or {}).get('name', '')}")
            total += parse_quantity(request).milli_value()
        out[str((pod.get("metadata") or {}).get("name", ""))] = total
    return out


def _ready_condition(pod: Obj) -> dict[str, Any] | None:
    return next((c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), None)


@dataclass(frozen=True)
class ReplicaCalculator:
    tolerance: float = 0.1
    cpu_initialization_period: float = 300.0
    delay_of_initial_readiness_status: float = 30.0

    def group_pods(self, pods: list[Obj], metrics: dict[str, PodMetric], resource: str,
                   now: float) -> tuple[int, set[str], set[str], set[str]]:
        """(ready pods with samples, unready, missing, ignored) — ``groupPods``."""
        ready, unready, missing, ignored = 0, set(), set(), set()
        for pod in pods:
            name = str((pod.get("metadata") or {}).get("name", ""))
            phase = (pod.get("status") or {}).get("phase")
            if (pod.get("metadata") or {}).get("deletionTimestamp") or phase == "Failed":
                ignored.add(name)
                continue
            if phase == "Pending":
                unready.add(name)
                continue
            metric = metrics.get(name)
            if metric is None:
                missing.add(name)
                continue
            if resource == "cpu" and self._cpu_sample_unusable(pod, metric, now):
                unready.add(name)
                continue
            ready += 1
        return ready, unready, missing, ignored

    def _cpu_sample_unusable(self, pod: Obj, metric: PodMetric, now: float) -> bool:
        cond = _ready_condition(pod)
        started = parse_time((pod.get("status") or {}).get("startTime"))
        if cond is None or started is None:
            return True
        transition = parse_time(cond.get("lastTransitionTime")) or 0.0
        if started + self.cpu_initialization_period > now:
            return cond.get("status") == "False" or metric.timestamp < transition + metric.window
        return cond.get("status") == "False" and started + self.delay_of_initial_readiness_status > transition

    def _settle(self, current: int, ratio: float, ready: int, metrics: dict[str, int], unready: set[str],
                missing: set[str], fill_down: dict[str, int], recompute: Callable[[dict[str, int]], float]) -> int:
        """The shared tail of both calculations: tolerance, then missing/unready pods filled in."""
        rebalance_unready = bool(unready) and ratio > 1.0
        if not rebalance_unready and not missing:
            if abs(1.0 - ratio) <= self.tolerance:
                return current
            return math.ceil(ratio * ready)
        for name in missing:
            if ratio < 1.0:
                metrics[name] = fill_down[name]
            elif ratio > 1.0:
                metrics[name] = 0
        if rebalance_unready:
            for name in unready:
                metrics[name] = 0
        new_ratio = recompute(metrics)
        if abs(1.0 - new_ratio) <= self.tolerance or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
            return current
        proposal = math.ceil(new_ratio * len(metrics))
        if (new_ratio < 1.0 and proposal > current) or (new_ratio > 1.0 and proposal < current):
            return current
        return proposal

    def resource_replicas(self, current: int, target_utilization: int, resource: str, metrics: dict[str, PodMetric],
                          pods: list[Obj], now: float, container: str = "") -> tuple[int, int, int]:
        """(replicas, utilization %, average usage in milli-units) for an ``averageUtilization`` target."""
        if not pods:
            raise MetricsError("no pods returned by selector while calculating replica count")
        ready, unready, missing, ignored = self.group_pods(pods, metrics, resource, now)
        samples = {n: m.value for n, m in metrics.items() if n not in unready and n not in ignored}
        requests = pod_requests(pods, resource, container)
        if not samples:
            raise MetricsError("did not receive metrics for targeted pods (pods might be unready)")

        def utilization(values: dict[str, int]) -> tuple[float, int, int]:
            used = [(v, requests[n]) for n, v in values.items() if n in requests]
            total_request = sum(r for _, r in used)
            if total_request == 0:
                raise MetricsError("no metrics returned matched known pods")
            percent = sum(v for v, _ in used) * 100 // total_request
            return percent / target_utilization, percent, sum(v for v, _ in used) // len(used)

        ratio, percent, average = utilization(samples)
        replicas = self._settle(current, ratio, ready, samples, unready, missing, requests,
                                lambda values: utilization(values)[0])
        return replicas, percent, average

    def raw_resource_replicas(self, current: int, target_milli: int, resource: str, metrics: dict[str, PodMetric],
                              pods: list[Obj], now: float) -> tuple[int, int]:
        """(replicas, average usage in milli-units) for an ``averageValue`` target (``calcPlainMetricReplicas``)."""
        if not pods:
            raise MetricsError("no pods returned by selector while calculating replica count")
        ready, unready, missing, ignored = self.group_pods(pods, metrics, resource, now)
        samples = {n: m.value for n, m in metrics.items() if n not in unready and n not in ignored}
        if not samples:
            raise MetricsError("did not receive metrics for targeted pods (pods might be unready)")

        def ratio_of(values: dict[str, int]) -> float:
            return (sum(values.values()) // len(values)) / target_milli

        average = sum(samples.values()) // len(samples)
        replicas = self._settle(current, ratio_of(samples), ready, samples, unready, missing,
                                dict.fromkeys(missing, target_milli), ratio_of)
        return replicas, average


@dataclass
class MetricFailure(Exception):
    """One metric of an HPA could not be turned into a proposal."""

    reason: str  # the ScalingActive condition's reason (and the event's)
    detail: str  # what the event says; the condition says "the HPA was unable to compute the replica count: …"
    error: str  # the wrapped error that reaches FailedComputeMetricsReplicas


async def metric_proposal(calculator: ReplicaCalculator, fetch: MetricsFetcher, spec: Obj, ns: str, selector: str,
                          current: int, pods: list[Obj], now: float) -> tuple[int, str, Obj]:
    """One metric of an HPA: (proposed replicas, metric description, MetricStatus); ``MetricFailure`` when it
    cannot be computed (``computeReplicasForMetric``)."""
    kind = spec.get("type")
    if kind in ("Resource", "ContainerResource"):
        src = spec.get("resource" if kind == "Resource" else "containerResource") or {}
        name, container, target = str(src.get("name")), str(src.get("container") or ""), src.get("target") or {}
        reason = "FailedGetResourceMetric" if kind == "Resource" else "FailedGetContainerResourceMetric"
        wrap = f"failed to get {name} resource metric value" if kind == "Resource" else \
            f"failed to get {container} container metric value"
        label = "" if kind == "Resource" else " container"
        what = "usage" if target.get("averageValue") is not None else "utilization"
        try:
            if target.get("averageValue") is None and target.get("averageUtilization") is None:
                raise MetricsError("invalid resource metric source: neither an average utilization target nor "
                                   "an average value (usage) target was set")
            try:
                samples = await fetch(ns, selector, name, container)
            except MetricsError as e:
                raise MetricsError(f"unable to get metrics for resource {name}: {e}") from e
            if target.get("averageValue") is not None:
                goal = parse_quantity(target["averageValue"]).milli_value()
                replicas, usage = calculator.raw_resource_replicas(current, goal, name, samples, pods, now)
                current_value: Obj = {"averageValue": str(new_milli_quantity(usage))}
                metric = f"{name}{label} resource"
            else:
                replicas, percent, usage = calculator.resource_replicas(
                    current, int(target["averageUtilization"]), name, samples, pods, now, container)
                current_value = {"averageUtilization": percent, "averageValue": str(new_milli_quantity(usage))}
                metric = f"{name}{label} resource utilization (percentage of request)"
        except MetricsError as e:
            detail = str(e) if str(e).startswith("invalid resource") else f"failed to get {name} {what}: {e}"
            raise MetricFailure(reason, detail, f"{wrap}: {detail}") from e
        body: Obj = {"name": name, "current": current_value}
        if kind == "ContainerResource":
            body["container"] = container
        return replicas, metric, {"type": kind, "resource" if kind == "Resource" else "containerResource": body}
    if kind == "Pods":
        name = str(((spec.get("pods") or {}).get("metric") or {}).get("name"))
        detail = f"unable to get metric {name}: {_NO_CUSTOM}"
        raise MetricFailure("FailedGetPodsMetric", detail, f"failed to get pods metric value: {detail}")
    if kind == "Object":
        src = spec.get("object") or {}
        name, obj = str((src.get("metric") or {}).get("name")), src.get("describedObject") or {}
        detail = f"unable to get metric {name}: {obj.get('kind')} on {ns} {obj.get('name')}/{_NO_CUSTOM}"
        raise MetricFailure("FailedGetObjectMetric", detail, f"failed to get object metric value: {detail}")
    if kind == "External":
        name = str((((spec.get("external") or {}).get("metric")) or {}).get("name"))
        detail = f"unable to get external metric {ns}/{name}/nil: {_NO_EXTERNAL}"
        raise MetricFailure("FailedGetExternalMetric", f"failed to get external metric {name}: {detail}",
                             f"failed to get {name} external metric value: failed to get external metric {name}: "
                             f"{detail}")
    message = f'unknown metric source type "{kind}"'
    raise MetricFailure("InvalidMetricSourceType", message, message)
