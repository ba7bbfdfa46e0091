"""authentication.k8s.io/v1 TokenReview: is this bearer token valid, and whose is it.

The apiserver's handler runs the authenticators and fills ``status``; this strategy rejects
malformed requests with the 400s Kubernetes' handler gives.
"""

from __future__ import annotations

from kybernetes.api import errors
from kybernetes.api.errors import FieldError
from kybernetes.api.strategy import ResourceInfo, Strategy, WriteContext
from kybernetes.api.types import Object


class TokenReviewStrategy(Strategy):
    has_status = False
    tracks_generation = False

    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        namespace = (obj.get("metadata") or {}).get("namespace")
        if namespace:
            raise errors.bad_request(f"namespace is not allowed on this type: {namespace}")
        if not (obj.get("spec") or {}).get("token"):
            raise errors.bad_request("token is required for TokenReview in authentication")
        return []


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group="authentication.k8s.io", version="v1", kind="TokenReview", plural="tokenreviews",
        singular="tokenreview", namespaced=False, strategy=TokenReviewStrategy(), verbs=("create",),
    ),
)
