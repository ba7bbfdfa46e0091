"""API errors as ``Status`` objects, built in one place.

Each constructor mirrors one apimachinery reason with its message shape, so that kubectl prints
exactly what users would search for (``deployments.apps "web" not found``). Handlers raise
``StatusError``; the apiserver's error middleware renders it. Nothing else builds error bodies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kybernetes.api.types import Object


@dataclass(frozen=True, slots=True)
class FieldError:
    """One field's problem, as apimachinery's ``field.Error``.

    ``type`` is the cause reason (``FieldValueRequired``, ``FieldValueInvalid``, …); ``detail``
    the human part. ``value`` is shown for Invalid/NotSupported like Kubernetes does.
    """

    path: str
    type: str
    detail: str = ""
    value: Any = None
    has_value: bool = False

    def message(self) -> str:
        label = _TYPE_LABELS.get(self.type, self.type)
        text = f"{self.path}: {label}"
        if self.has_value and self.type in ("FieldValueInvalid", "FieldValueNotSupported", "FieldValueDuplicate",
                                            "FieldValueForbidden", "FieldValueTooLong", "FieldValueTooMany",
                                            "FieldValueTypeInvalid", "FieldValueNotFound"):
            text += f": {_format_value(self.value)}"
        if self.detail:
            text += f": {self.detail}"
        return text


_TYPE_LABELS = {
    "FieldValueRequired": "Required value",
    "FieldValueInvalid": "Invalid value",
    "FieldValueNotSupported": "Unsupported value",
    "FieldValueDuplicate": "Duplicate value",
    "FieldValueForbidden": "Forbidden",
    "FieldValueTooLong": "Too long",
    "FieldValueTooMany": "Too many",
    "FieldValueNotFound": "Not found",
    "InternalError": "Internal error",
    "FieldValueTypeInvalid": "Invalid value",
}


def _format_value(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        import orjson

        return orjson.dumps(value).decode()
    return str(value)


def required(path: str, detail: str = "") -> FieldError:
    return FieldError(path, "FieldValueRequired", detail)


def invalid(path: str, value: Any, detail: str = "") -> FieldError:
    return FieldError(path, "FieldValueInvalid", detail, value, True)


def not_supported(path: str, value: Any, valid: list[str]) -> FieldError:
    detail = "supported values: " + ", ".join(f'"{v}"' for v in valid) if valid else ""
    return FieldError(path, "FieldValueNotSupported", detail, value, True)


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError(path, "FieldValueForbidden", detail)


def duplicate(path: str, value: Any) -> FieldError:
    return FieldError(path, "FieldValueDuplicate", "", value, True)


def too_long(path: str, value: Any, limit: int) -> FieldError:
    return FieldError(path, "FieldValueTooLong", f"must have at most {limit} bytes", value, False)


def not_found_field(path: str, value: Any) -> FieldError:
    return FieldError(path, "FieldValueNotFound", "", value, True)


@dataclass(slots=True)
class StatusError(Exception):
    """An API failure rendered as a ``Status`` object with ``code``."""

    code: int
    reason: str
    message: str
    details: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message

    def status(self) -> Object:
        body: Object = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:
            body["reason"] = self.reason
        if self.details:
            body["details"] = self.details
        body["code"] = self.code
        return body


def qualified(resource: str, group: str) -> str:
    """``deployments`` + ``apps`` → ``deployments.apps``; core resources stay bare."""
    return f"{resource}.{group}" if group else resource


def _details(name: str | None, group: str, kind: str, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if name is not None:
        d["name"] = name
    if group:
        d["group"] = group
    d["kind"] = kind
    d.update(extra)
    return d


def not_found(resource: str, group: str, name: str) -> StatusError:
    return StatusError(404, "NotFound", f'{qualified(resource, group)} "{name}" not found',
                       _details(name, group, resource))


def already_exists(resource: str, group: str, name: str) -> StatusError:
    return StatusError(409, "AlreadyExists", f'{qualified(resource, group)} "{name}" already exists',
                       _details(name, group, resource))


def conflict(resource: str, group: str, name: str, why: str) -> StatusError:
    return StatusError(409, "Conflict",
                       f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {why}',
                       _details(name, group, resource))


OPTIMISTIC_LOCK_MESSAGE = "the object has been modified; please apply your changes to the latest version and try again"


def stale(resource: str, group: str, name: str) -> StatusError:
    return conflict(resource, group, name, OPTIMISTIC_LOCK_MESSAGE)


def invalid_object(kind: str, group: str, name: str, errors: list[FieldError]) -> StatusError:
    """422 Invalid, ``Deployment.apps "x" is invalid: [a, b]`` (brackets only for several errors)."""
    msgs = [e.message() for e in errors]
    joined = msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]"
    causes = [{"reason": e.type, "message": e.message().split(": ", 1)[1] if ": " in e.message() else e.message(),
               "field": e.path} for e in errors]
    return StatusError(422, "Invalid", f'{qualified(kind, group)} "{name}" is invalid: {joined}',
                       _details(name, group, kind, causes=causes))


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def forbidden_error(resource: str, group: str, name: str, why: str, user: str = "") -> StatusError:
    who = f'User "{user}" cannot' if user else "cannot"
    target = f'{qualified(resource, group)} "{name}"' if name else qualified(resource, group)
    return StatusError(403, "Forbidden", f"{target} is forbidden: {why}" if not user else
                       f'{target} is forbidden: {who} {why}', _details(name or None, group, resource))


def forbidden_message(message: str, resource: str = "", group: str = "", name: str | None = None) -> StatusError:
    return StatusError(403, "Forbidden", message, _details(name, group, resource) if resource else None)


def unauthorized(message: str = "Unauthorized") -> StatusError:
    return StatusError(401, "Unauthorized", message)


def method_not_allowed(message: str = "the server does not allow this method on the requested resource") -> StatusError:
    return StatusError(405, "MethodNotAllowed", message)


def not_acceptable(message: str) -> StatusError:
    return StatusError(406, "NotAcceptable", message)


def unsupported_media_type(content_type: str, accepted: list[str] | None = None) -> StatusError:
    accepted = accepted or ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]
    return StatusError(415, "UnsupportedMediaType",
                       f"the body of the request was in an unknown format - accepted media types include: "
                       f"{', '.join(accepted)}")


def gone(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def too_old_resource_version(requested: int, oldest: int) -> StatusError:
    return gone(f"too old resource version: {requested} ({oldest})")


def request_entity_too_large(message: str = "request entity too large") -> StatusError:
    return StatusError(413, "RequestEntityTooLarge", message)


def too_many_requests(message: str = "too many requests", retry_after: int = 1) -> StatusError:
    return StatusError(429, "TooManyRequests", message, {"retryAfterSeconds": retry_after},
                       {"Retry-After": str(retry_after)})


def internal_error(message: str) -> StatusError:
    return StatusError(500, "InternalError", f"Internal error occurred: {message}",
                       {"causes": [{"message": message}]})


def service_unavailable(message: str) -> StatusError:
    return StatusError(503, "ServiceUnavailable", message)


def timeout(message: str) -> StatusError:
    return StatusError(504, "Timeout", message)


def namespace_terminating(resource: str, group: str, name: str, namespace: str) -> StatusError:
    return StatusError(
        403, "Forbidden",
        f'{qualified(resource, group)} "{name}" is forbidden: unable to create new content in namespace '
        f"{namespace} because it is being terminated",
        _details(name, group, resource, causes=[{"reason": "NamespaceTerminating",
                                                 "message": f"namespace {namespace} is being terminated",
                                                 "field": "metadata.namespace"}]))


def namespace_not_found(namespace: str) -> StatusError:
    return not_found("namespaces", "", namespace)
