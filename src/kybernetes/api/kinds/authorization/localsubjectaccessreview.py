"""authorization.k8s.io/v1 LocalSubjectAccessReview: a SubjectAccessReview scoped to one namespace."""

from __future__ import annotations

from kybernetes.api import errors
from kybernetes.api.errors import FieldError
from kybernetes.api.kinds.authorization import _review
from kybernetes.api.strategy import ResourceInfo, WriteContext
from kybernetes.api.types import Object


class LocalSubjectAccessReviewStrategy(_review.ReviewStrategy):
    def validate(self, obj: Object, ctx: WriteContext) -> list[FieldError]:
        spec = obj.get("spec") or {}
        errs = _review.validate_attributes(spec)
        errs.extend(_review.validate_user(spec))
        errs.extend(_review.metadata_must_be_empty(obj, allow=("namespace",)))
        namespace = (obj.get("metadata") or {}).get("namespace") or ""
        resource = spec.get("resourceAttributes")
        if isinstance(resource, dict) and (resource.get("namespace") or "") != namespace:
            errs.append(errors.invalid("spec.resourceAttributes.namespace", resource.get("namespace") or "",
                                       "must match metadata.namespace"))
        if spec.get("nonResourceAttributes") is not None:
            errs.append(errors.invalid("spec.nonResourceAttributes", spec["nonResourceAttributes"],
                                       "disallowed on this kind of request"))
        return errs


RESOURCES: tuple[ResourceInfo, ...] = (
    ResourceInfo(
        group=_review.GROUP, version="v1", kind="LocalSubjectAccessReview", plural="localsubjectaccessreviews",
        singular="localsubjectaccessreview", namespaced=True, strategy=LocalSubjectAccessReviewStrategy(),
        verbs=_review.VERBS,
    ),
)
