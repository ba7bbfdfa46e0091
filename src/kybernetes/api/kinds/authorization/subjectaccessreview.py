"""authorization.k8s.io/v1 SubjectAccessReview: may *user/groups* do this (asked by webhooks, proxies)."""

from __future__ import annotations

from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.authorization import _review
from kybernetes.api.strategy import ResourceInfo, WriteContext
from kybernetes.api.types import Object


class SubjectAccessReviewStrategy(_review.ReviewStrategy):
    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs = _review.validate_attributes(spec)
        errs.extend(_review.validate_user(spec))
        return errs + _review.metadata_must_be_empty(obj)


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group=_review.GROUP, version="v1", kind="SubjectAccessReview", plural="subjectaccessreviews",
        singular="subjectaccessreview", namespaced=False, strategy=SubjectAccessReviewStrategy(),
        verbs=_review.VERBS,
    ),
)
