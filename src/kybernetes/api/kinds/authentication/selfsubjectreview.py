"""authentication.k8s.io/v1 SelfSubjectReview: who am I (``kubectl auth whoami``).

Nothing in the request matters; the handler answers with the caller's user info in ``status``.
"""

from __future__ import annotations

from kybernetes.api.strategy import ResourceInfo, Strategy


class SelfSubjectReviewStrategy(Strategy):
    has_status = False
    tracks_generation = False


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group="authentication.k8s.io", version="v1", kind="SelfSubjectReview", plural="selfsubjectreviews",
        singular="selfsubjectreview", namespaced=False, strategy=SelfSubjectReviewStrategy(), verbs=("create",),
    ),
)
