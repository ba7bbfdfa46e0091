"""What the four access reviews share: a create-only strategy and the spec/metadata checks.

The apiserver answers a review with its own handler (it asks the authorizer and fills
``status``); these strategies only say whether the request is well formed, with Kubernetes'
messages. Reviews have no stored state, so there is no status, generation or table.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors
from kybernetes.api.errors import FieldError
from kybernetes.api.strategy import Strategy

GROUP = "authorization.k8s.io"
VERBS = ("create",)


def _selector_errors(selector: Any, path: str) -> list[FieldError]:
    if not isinstance(selector, dict):
        return []
    raw, requirements = selector.get("rawSelector") or "", selector.get("requirements") or []
    if raw and requirements:
        return [errors.invalid(f"{path}.rawSelector", raw, "may not specified at the same time as requirements")]
    if not raw and not requirements:
        return [errors.required(f"{path}.requirements",
                                f"when {path} is specified, requirements or rawSelector is required")]
    return []


def validate_attributes(spec: dict[str, Any], path: str = "spec") -> list[FieldError]:
    """Exactly one of resourceAttributes / nonResourceAttributes, and well-formed selectors."""
    errs: list[FieldError] = []
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if resource is not None and non_resource is not None:
        errs.append(errors.invalid(f"{path}.nonResourceAttributes", non_resource,
                                   "cannot be specified in combination with resourceAttributes"))
    if resource is None and non_resource is None:
        errs.append(errors.invalid(f"{path}.resourceAttributes", "null",
                                   "exactly one of nonResourceAttributes or resourceAttributes must be specified"))
    if isinstance(resource, dict):
        errs.extend(_selector_errors(resource.get("fieldSelector"), f"{path}.resourceAttributes.fieldSelector"))
        errs.extend(_selector_errors(resource.get("labelSelector"), f"{path}.resourceAttributes.labelSelector"))
    return errs


def validate_user(spec: dict[str, Any], path: str = "spec") -> list[FieldError]:
    if not spec.get("user") and not spec.get("groups"):
        return [errors.invalid(f"{path}.user", spec.get("user") or "", "at least one of user or group must be specified")]
    return []


def metadata_must_be_empty(obj: dict[str, Any], allow: tuple[str, ...] = ()) -> list[FieldError]:
    """Reviews carry no metadata (``managedFields`` and, for local reviews, ``namespace`` aside)."""
    md = obj.get("metadata") or {}
    rest = {k: v for k, v in md.items() if k not in ("managedFields", *allow) and v not in (None, "", {}, [])}
    return [errors.invalid("metadata", md, "must be empty")] if rest else []


class ReviewStrategy(Strategy):
    """Create-only: nothing is defaulted, stored or printed."""

    has_status = False
    tracks_generation = False
