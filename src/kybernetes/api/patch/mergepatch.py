"""RFC 7386 JSON Merge Patch (``application/merge-patch+json``).

``apply_merge_patch(doc, patch)`` returns a new document: objects merge member by member, ``null``
removes a member, anything else (arrays included) replaces the target. ``kubectl label``,
``annotate`` and ``scale`` send these, and so does ``kubectl apply``/``edit`` for custom
resources. ``create_merge_patch(original, modified)`` is the inverse: the smallest merge patch
that turns one document into the other (for clients and tests).

Upstream's server rejects a patch that is ``null`` or a bare scalar with 400 ``Invalid JSON
Patch`` instead of replacing the whole object, and so do we; an array patch replaces the document
as the RFC says (the caller's decoding then fails on it, as upstream's does).
"""

from __future__ import annotations

from typing import Any

from kybernetes.api.patch import _errors, _json

__all__ = ["apply_merge_patch", "apply_merge_patch_owned", "create_merge_patch"]

INVALID_PATCH_MESSAGE = "Invalid JSON Patch"


def apply_merge_patch(doc: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch to ``doc`` and return the result; inputs are not modified."""
    if patch is None or not isinstance(patch, (dict, list)):
        raise _errors.bad_request(INVALID_PATCH_MESSAGE)
    return merge_value(doc, patch)


def apply_merge_patch_owned(doc: Any, patch: Any) -> Any:
    """``apply_merge_patch`` for a ``doc`` and a ``patch`` the caller owns and gives up (a private
    copy of the object, a freshly decoded request body): the patch's values move into ``doc``
    instead of being copied, and the result may be ``doc`` itself."""
    if patch is None or not isinstance(patch, (dict, list)):
        raise _errors.bad_request(INVALID_PATCH_MESSAGE)
    if not isinstance(patch, dict):
        return patch
    return _merge_moving(doc, patch)


def _merge_moving(target: Any, patch: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif type(value) is dict:
            result[key] = _merge_moving(result.get(key), value)
        else:
            result[key] = value
    return result


def merge_value(target: Any, patch: Any) -> Any:
    """The RFC's ``MergePatch(Target, Patch)`` for any values, returning a new value."""
    if not isinstance(patch, dict):
        return _json.clone(patch)
    return _merge_owned(_json.clone(target), patch)


def _merge_owned(target: Any, patch: dict[str, Any]) -> dict[str, Any]:
    """``merge_value`` for a ``target`` that is already a private copy (merged in place)."""
    result: dict[str, Any] = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            result[key] = _merge_owned(result.get(key), value)
        else:
            result[key] = _json.clone(value)
    return result


def create_merge_patch(original: Any, modified: Any) -> Any:
    """The merge patch that turns ``original`` into ``modified``.

    For two objects this is an object (``{}`` when they are equal); otherwise ``modified`` itself.
    A member whose new value is ``null`` cannot be expressed by RFC 7386 and is left out.
    """
    if not isinstance(original, dict) or not isinstance(modified, dict):
        return _json.clone(modified)
    patch: dict[str, Any] = {}
    for key in original:
        if key not in modified or modified[key] is None:
            patch[key] = None
    for key, new in modified.items():
        if new is None:
            continue
        if key not in original:
            patch[key] = _json.clone(new)
            continue
        old = original[key]
        if isinstance(old, dict) and isinstance(new, dict):
            sub = create_merge_patch(old, new)
            if sub:
                patch[key] = sub
        elif not _json.equal(old, new):
            patch[key] = _json.clone(new)
    return patch
