"""authorization.k8s.io/v1 SelfSubjectRulesReview: what may I do in a namespace (``kubectl auth can-i --list``)."""

from __future__ import annotations

from kybernetes.api import errors
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.authorization import _review
from kybernetes.api.strategy import ResourceInfo, WriteContext
from kybernetes.api.types import Object


class SelfSubjectRulesReviewStrategy(_review.ReviewStrategy):
    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        """Raises 400 ``no namespace on request`` like Kubernetes' handler; otherwise nothing to check."""
        if not (obj.get("spec") or {}).get("namespace"):
            raise errors.bad_request("no namespace on request")
        return []


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group=_review.GROUP, version="v1", kind="SelfSubjectRulesReview", plural="selfsubjectrulesreviews",
        singular="selfsubjectrulesreview", namespaced=False, strategy=SelfSubjectRulesReviewStrategy(),
        verbs=_review.VERBS,
    ),
)
