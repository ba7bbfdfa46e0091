"""metrics.k8s.io/v1beta1 PodMetrics: each container's CPU and memory use (``kubectl top pod``)."""

from __future__ import annotations

from kybernetes.api.kinds.metrics._common import MetricsStrategy, total_usage
from kybernetes.api.strategy import ResourceInfo
from kybernetes.api.types import Object


class PodMetricsStrategy(MetricsStrategy):
    def usage(self, obj: Object) -> dict[str, str]:
        return total_usage([c.get("usage") or {} for c in obj.get("containers") or []])


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(group="metrics.k8s.io", version="v1beta1", kind="PodMetrics", plural="pods", singular="pod",
                 namespaced=True, strategy=PodMetricsStrategy(), verbs=("get", "list")),
)
