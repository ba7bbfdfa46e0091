"""metrics.k8s.io/v1beta1 NodeMetrics: a node's CPU and memory use (``kubectl top node``)."""

from __future__ import annotations

from kybernetes.api.kinds.metrics._common import MetricsStrategy
from kybernetes.api.strategy import ResourceInfo

RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(group="metrics.k8s.io", version="v1beta1", kind="NodeMetrics", plural="nodes", singular="node",
                 namespaced=False, strategy=MetricsStrategy(), verbs=("get", "list")),
)
