"""authorization.k8s.io/v1 SelfSubjectAccessReview: may *I* do this (``kubectl auth can-i``)."""

from __future__ import annotations

from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.authorization import _review
from kybernetes.api.strategy import ResourceInfo, WriteContext
from kybernetes.api.types import Object


class SelfSubjectAccessReviewStrategy(_review.ReviewStrategy):
    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        return _review.validate_attributes(obj.get("spec") or {}) + _review.metadata_must_be_empty(obj)


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group=_review.GROUP, version="v1", kind="SelfSubjectAccessReview", plural="selfsubjectaccessreviews",
        singular="selfsubjectaccessreview", namespaced=False, strategy=SelfSubjectAccessReviewStrategy(),
        verbs=_review.VERBS,
    ),
)
