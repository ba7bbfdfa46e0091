"""ImageLocality (PreScore, Score): prefers nodes that already hold the pod's images, weighted by
image size and by how widely the image is spread (to avoid herding onto one node).
Upstream: plugins/imagelocality."""

from __future__ import annotations

from typing import Any

from kybernetes.scheduler.framework import MAX_NODE_SCORE, SKIP, ClusterEvent, CycleState, Handle, Status
from kybernetes.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "ImageLocality"
MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB


def calculate_priority(sum_scores: int, num_containers: int) -> int:
    max_threshold = MAX_CONTAINER_THRESHOLD * num_containers
    sum_scores = min(max(sum_scores, MIN_THRESHOLD), max_threshold)
    return MAX_NODE_SCORE * (sum_scores - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)


class ImageLocality:
    name = NAME

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status | None:
        snap = self.handle.snapshot()
        if not any(snap.image_num_nodes(i) for i in pod.images):
            return SKIP  # no node has any of them: all scores would be 0
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        snap = self.handle.snapshot()
        total = len(snap.list()) or 1
        s = 0
        for image in pod.images:
            size = node.image_sizes.get(image)
            if size is not None:
                s += int(size * (snap.image_num_nodes(image) / total))
        return calculate_priority(s, len(pod.images))

    def events_to_register(self) -> list[ClusterEvent]:
        return []


def new(args: dict[str, Any] | None, handle: Handle) -> ImageLocality:
    return ImageLocality(handle)
