"""How patch failures become ``Status`` errors, with the codes a real API server uses.

Upstream's patch handler sorts failures into three buckets and the engines here follow it:

* the patch document itself is malformed (not a list of operations, a ``$retainKeys`` that is not
  a list, ...) → 400 BadRequest with the decoder's message;
* a JSON patch operation, or a strategic patch on lists of lists, cannot be applied → 422 Invalid
  with the generic "the server rejected our request due to an error in our request" (the specific
  reason is not shown to clients; it is kept here as the exception's ``__cause__``);
* any other strategic-merge failure (missing merge key, unknown ``$patch`` value, ...) is an
  untyped error upstream, which its server renders as a 500 without reason, so kubectl prints
  ``Error from server: map: map[image:x] does not contain declared merge key: name``.

These constructors belong with the others in ``kybernetes.api.errors`` once that module grows a
generic-response helper; until then the patch package keeps them private.
"""

from __future__ import annotations

from typing import Any

from kybernetes.api import errors, gofmt
from kybernetes.api.errors import StatusError
from kybernetes.api.patch import _json

REJECTED_MESSAGE = "the server rejected our request due to an error in our request"

# Messages of apimachinery's mergepatch sentinel errors.
BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
BAD_SET_ELEMENT_ORDER = "invalid patch format of setElementOrder list"
LISTS_OF_LISTS = "lists of lists are not supported"


class PatchError(ValueError):
    """The specific reason behind a generic 422, attached as ``StatusError.__cause__``."""


def bad_request(message: str) -> StatusError:
    return errors.bad_request(message)


def rejected(reason: str) -> StatusError:
    """422 Invalid as upstream's ``NewGenericServerResponse(422, …)``; ``reason`` rides as the cause."""
    err = StatusError(422, "Invalid", REJECTED_MESSAGE)
    err.__cause__ = PatchError(reason)
    return err


def unexpected(message: str) -> StatusError:
    """An error upstream returns untyped: code 500, no reason, the bare message."""
    return StatusError(500, "", message)


def no_merge_key(element: Any, merge_key: str) -> StatusError:
    return unexpected(f"map: {gofmt.go_value(element)} does not contain declared merge key: {merge_key}")


def bad_arg_type(expected: Any, actual: Any) -> StatusError:
    return unexpected(f"expected a {_json.go_type(expected)}, but received a {_json.go_type(actual)}")


def bad_patch_type(directive: Any, patch: dict[str, Any]) -> StatusError:
    return unexpected(f"unknown patch type: {gofmt.go_value(directive)} in map: {gofmt.go_value(patch)}")


def too_many_operations(count: int, limit: int) -> StatusError:
    return errors.request_entity_too_large(
        f"Request entity too large: The allowed maximum operations in a JSON patch is {limit}, got {count}")
