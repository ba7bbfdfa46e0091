"""HorizontalPodAutoscaler: scale decisions from fake metrics (tolerance, bounds, stabilization, policies),
the /scale round trip, and Kubernetes' conditions/events when metrics are missing."""

from __future__ import annotations

import copy
from typing import Any

from kybernetes.api.printing import format_time
from kybernetes.client.rest import DEPLOYMENTS, PODS, Resource
from kybernetes.controllers import replicacalculator as rc
from kybernetes.controllers.horizontalpodautoscaler import HPAS, HorizontalController
from tests.controllers import builders as b
from tests.controllers.fakes import T0, Clock, FakeClient, FakeRecorder, as_client, not_found

Obj = dict[str, Any]


class ScaleClient(FakeClient):
    """A FakeClient whose ``/scale`` speaks autoscaling/v1 Scale, as the API server does."""

    async def get(self, res: Resource, name: str, namespace: str | None = None, subresource: str | None = None) -> Obj:
        obj = await super().get(res, name, namespace)
        if subresource != "scale":
            return obj
        sel = ",".join(f"{k}={v}" for k, v in sorted(obj["spec"]["selector"]["matchLabels"].items()))
        return {"apiVersion": "autoscaling/v1", "kind": "Scale",
                "metadata": {"name": name, "namespace": namespace, "resourceVersion": obj["metadata"]["resourceVersion"]},
                "spec": {"replicas": obj["spec"].get("replicas", 1)},
                "status": {"replicas": obj["spec"].get("replicas", 1), "selector": sel}}

    async def replace(self, res: Resource, obj: Obj, namespace: str | None = None, subresource: str | None = None) -> Obj:
        if subresource != "scale":
            return await super().replace(res, obj, namespace, subresource)
        current = copy.deepcopy(self.objects[(res.plural, namespace or "", obj["metadata"]["name"])])
        current["spec"]["replicas"] = obj["spec"]["replicas"]
        await super().replace(res, current, namespace)
        return obj


def hpa(min_r: int = 1, max_r: int = 10, utilization: int = 50, behavior: Obj | None = None) -> Obj:
    spec: Obj = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "minReplicas": min_r, "maxReplicas": max_r,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                     "type": "Utilization", "averageUtilization": utilization}}}]}
    if behavior is not None:
        spec["behavior"] = behavior
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"}, "spec": spec, "status": {"desiredReplicas": 0}}


class Env:
    def __init__(self, replicas: int = 3, request: str | None = "100m", **hpa_args: Any) -> None:
        self.clock = Clock(T0)
        self.client, self.rec = ScaleClient(self.clock), FakeRecorder()
        self.client.add(DEPLOYMENTS, b.deployment("web", replicas=replicas, labels={"app": "web"}))
        self.client.add(HPAS, hpa(**hpa_args))
        self.usage: dict[str, int] = {}
        self.request = request
        self.pod_informer = self.client.informer(PODS)
        self.set_pods(replicas)
        self.ctrl = HorizontalController(self.client.informer(HPAS), self.pod_informer, as_client(self.client),
                                         self.rec, metrics=self.metrics, clock=self.clock)

    def set_pods(self, n: int, usage: int | None = None) -> None:
        for p in self.client.all(PODS):
            self.pod_informer.delete(p)
        self.client.objects = {k: v for k, v in self.client.objects.items() if k[0] != "pods"}
        for i in range(n):
            p = b.pod(f"web-{i}", labels={"app": "web"}, phase="Running", ready_at=T0 - 3600, node="n1")
            p["status"]["startTime"] = format_time(T0 - 3600)
            if self.request is not None:
                p["spec"]["containers"][0]["resources"] = {"requests": {"cpu": self.request}}
            self.client.add(PODS, p)
            if usage is not None:
                self.usage[f"web-{i}"] = usage

    async def metrics(self, ns: str, selector: str, resource: str, container: str) -> dict[str, rc.PodMetric]:
        assert (ns, selector, resource) == ("default", "app=web", "cpu")
        return {name: rc.PodMetric(v, self.clock() - 10, 30.0) for name, v in self.usage.items()}

    @property
    def replicas(self) -> int:
        return int(self.client.stored(DEPLOYMENTS, "web", "default")["spec"]["replicas"])  # type: ignore[index]

    @property
    def status(self) -> Obj:
        return dict(self.client.stored(HPAS, "web", "default")["status"])  # type: ignore[index]

    def condition(self, type_: str) -> tuple[str, str, str]:
        c = next(c for c in self.status["conditions"] if c["type"] == type_)
        return c["status"], c["reason"], c["message"]

    async def sync(self) -> None:
        await self.ctrl.sync("default/web")


async def test_scale_up_on_high_utilization() -> None:
    env = Env()
    env.set_pods(3, usage=100)  # 100% of the 100m request, target 50%
    await env.sync()
    assert env.replicas == 6
    assert env.rec.events == [("web", "Normal", "SuccessfulRescale",
                               "New size: 6; reason: cpu resource utilization (percentage of request) above target")]
    st = env.status
    assert (st["currentReplicas"], st["desiredReplicas"], st["lastScaleTime"]) == (3, 6, format_time(T0))
    assert st["currentMetrics"] == [{"type": "Resource", "resource": {"name": "cpu", "current": {
        "averageUtilization": 100, "averageValue": "100m"}}}]
    assert env.condition("AbleToScale") == ("True", "SucceededRescale",
                                            "the HPA controller was able to update the target scale to 6")
    assert env.condition("ScalingActive") == ("True", "ValidMetricFound", "the HPA was able to successfully calculate "
                                              "a replica count from cpu resource utilization (percentage of request)")
    assert env.condition("ScalingLimited") == ("False", "DesiredWithinRange",
                                               "the desired count is within the acceptable range")
    assert "default/web" in env.ctrl.queue._timers  # synced again in 15 s


async def test_within_tolerance_nothing_changes() -> None:
    env = Env()
    env.set_pods(3, usage=54)  # 54% against 50%: ratio 1.08
    await env.sync()
    assert env.replicas == 3 and env.rec.events == []
    assert env.status["desiredReplicas"] == 3 and "lastScaleTime" not in env.status
    assert env.condition("AbleToScale") == ("True", "ReadyForNewScale", "recommended size matches current size")
    env.set_pods(3, usage=56)  # 56%: ratio 1.12 → ceil(3.36) = 4
    await env.sync()
    assert env.replicas == 4


async def test_bounds() -> None:
    env = Env(max_r=5)
    env.set_pods(3, usage=500)
    await env.sync()
    assert env.replicas == 5
    assert env.condition("ScalingLimited") == ("True", "TooManyReplicas",
                                               "the desired replica count is more than the maximum replica count")
    fast = Env(max_r=100)
    fast.set_pods(3, usage=500)
    await fast.sync()
    assert fast.replicas == 6  # without behavior: at most double (or +4) per step
    assert fast.condition("ScalingLimited")[1] == "ScaleUpLimit"
    low = Env(replicas=1, min_r=2)
    await low.sync()
    assert low.replicas == 2
    assert low.rec.messages("SuccessfulRescale") == ["New size: 2; reason: Current number of replicas below Spec.MinReplicas"]


async def test_scale_down_waits_for_the_stabilization_window() -> None:
    env = Env(replicas=4)
    env.set_pods(4, usage=10)  # 10% against 50%: wants 1
    await env.sync()
    assert env.replicas == 4
    assert env.condition("AbleToScale") == ("True", "ScaleDownStabilized", "recent recommendations were higher than "
                                            "current one, applying the highest recent recommendation")
    env.clock.advance(200)
    await env.sync()
    assert env.replicas == 4
    env.clock.advance(101)
    await env.sync()
    assert env.replicas == 1
    assert env.rec.messages("SuccessfulRescale") == ["New size: 1; reason: All metrics below target"]


async def test_behavior_policies_and_windows() -> None:
    behavior = {"scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
                "scaleDown": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                              "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}]}}
    env = Env(replicas=2, behavior=behavior)
    env.set_pods(2, usage=200)  # wants 8
    await env.sync()
    assert env.replicas == 3
    assert env.condition("ScalingLimited") == ("True", "ScaleUpLimit", "the desired replica count is increasing "
                                               "faster than the maximum scale rate")
    env.set_pods(3, usage=200)
    await env.sync()
    assert env.replicas == 3  # one pod per minute, already used
    env.clock.advance(61)
    await env.sync()
    assert env.replicas == 4
    env.clock.advance(61)
    env.set_pods(4, usage=5)  # wants 1; down by at most 50% per minute, no stabilization window
    await env.sync()
    assert env.replicas == 2
    assert env.condition("ScalingLimited")[1] == "ScaleDownLimit"


async def test_scale_up_stabilization_window() -> None:
    behavior = {"scaleUp": {"stabilizationWindowSeconds": 120}}
    env = Env(replicas=2, behavior=behavior)
    env.set_pods(2, usage=100)  # wants 4, but the window remembers the initial 2
    await env.sync()
    assert env.replicas == 2
    assert env.condition("AbleToScale")[1] == "ScaleUpStabilized"
    env.clock.advance(121)
    await env.sync()
    assert env.replicas == 4


async def test_missing_metrics_api_sets_failed_get_resource_metric() -> None:
    env = Env()
    env.ctrl.metrics = lambda ns, sel, res, ctr: rc.fetch_pod_metrics(as_client(env.client), ns, sel, res, ctr)
    await env.sync()
    detail = ("failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from "
              "resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)")
    assert env.condition("ScalingActive") == ("False", "FailedGetResourceMetric",
                                              f"the HPA was unable to compute the replica count: {detail}")
    assert env.rec.events == [
        ("web", "Warning", "FailedGetResourceMetric", detail),
        ("web", "Warning", "FailedComputeMetricsReplicas",
         f"invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: {detail}")]
    assert env.status["currentMetrics"] == [{"type": ""}]
    assert (env.status["currentReplicas"], env.status["desiredReplicas"]) == (3, 0)
    assert env.replicas == 3


async def test_metrics_read_from_metrics_api() -> None:
    env = Env()
    env.ctrl.metrics = lambda ns, sel, res, ctr: rc.fetch_pod_metrics(as_client(env.client), ns, sel, res, ctr)
    env.client.responses[rc.metrics_path("default")] = {"kind": "PodMetricsList", "items": [
        {"metadata": {"name": f"web-{i}", "namespace": "default"}, "timestamp": format_time(T0 - 10), "window": "30s",
         "containers": [{"name": "nginx", "usage": {"cpu": "90m", "memory": "10Mi"}}]} for i in range(3)]}
    await env.sync()
    assert env.replicas == 6
    call = next(a for a in env.client.actions if a.verb == "get" and "metrics.k8s.io" in a.resource)
    assert call.resource == "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods"


async def test_missing_request_and_missing_target() -> None:
    env = Env(request=None)
    env.set_pods(3, usage=100)
    await env.sync()
    assert env.condition("ScalingActive")[2] == ("the HPA was unable to compute the replica count: failed to get cpu "
                                                 "utilization: missing request for cpu in container nginx of Pod web-0")
    gone = Env()
    gone.client.fail("get", "deployments", not_found(DEPLOYMENTS, "web"))
    await gone.sync()
    assert gone.rec.events == [("web", "Warning", "FailedGetScale", 'deployments "web" not found')]
    assert gone.condition("AbleToScale") == ("False", "FailedGetScale", "the HPA controller was unable to get the "
                                             "target's current scale: deployments \"web\" not found")


async def test_zero_replicas_disables_scaling() -> None:
    env = Env(replicas=0)
    await env.sync()
    assert env.replicas == 0
    assert env.condition("ScalingActive") == ("False", "ScalingDisabled",
                                              "scaling is disabled since the replica count of the target is zero")


def test_replica_calculator_missing_and_unready_pods() -> None:
    calc = rc.ReplicaCalculator()
    pods = [b.pod(f"p{i}", phase="Running", ready_at=T0 - 3600) for i in range(4)]
    for p in pods:
        p["status"]["startTime"] = format_time(T0 - 3600)
        p["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "100m"}}
    samples = {f"p{i}": rc.PodMetric(20, T0 - 10, 30.0) for i in range(3)}  # p3 has no sample
    # scale-down: the missing pod counts as 100% → (20+20+20+100)/400 = 40% vs 50% → ceil(0.8 * 4) = 4 → no change
    assert calc.resource_replicas(4, 50, "cpu", samples, pods, T0) == (4, 20, 20)
    high = {f"p{i}": rc.PodMetric(200, T0 - 10, 30.0) for i in range(3)}
    # scale-up: the missing pod counts as 0% → 600/400 = 150% vs 50% → ceil(3 * 4) = 12
    assert calc.resource_replicas(4, 50, "cpu", high, pods, T0)[0] == 12
    assert calc.raw_resource_replicas(4, 100, "cpu", high, pods, T0)[0] == 6
