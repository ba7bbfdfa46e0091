"""API errors seen from the client side: a ``Status`` response mapped back to exception classes.

Callers catch classes (``NotFoundError``, ``ConflictError``…), never match message strings.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A non-2xx answer; ``status`` is the decoded Status (or a synthetic one)."""

    def __init__(self, code: int, status: dict[str, Any]) -> None:
        super().__init__(status.get("message") or f"HTTP {code}")
        self.code = code
        self.status = status

    @property
    def reason(self) -> str:
        return str(self.status.get("reason", ""))


class NotFoundError(ApiError):
    pass


class AlreadyExistsError(ApiError):
    pass


class ConflictError(ApiError):
    pass


class InvalidError(ApiError):
    pass


class ForbiddenError(ApiError):
    pass


class GoneError(ApiError):
    """410: the resourceVersion is too old (relist)."""


class TooManyRequestsError(ApiError):
    pass


def from_status(code: int, status: dict[str, Any]) -> ApiError:
    reason = status.get("reason")
    if code == 404:
        return NotFoundError(code, status)
    if code == 409:
        return AlreadyExistsError(code, status) if reason == "AlreadyExists" else ConflictError(code, status)
    if code == 422:
        return InvalidError(code, status)
    if code == 403:
        return ForbiddenError(code, status)
    if code == 410:
        return GoneError(code, status)
    if code == 429:
        return TooManyRequestsError(code, status)
    return ApiError(code, status)


def has_status_cause(err: BaseException, cause: str) -> bool:
    """Whether an API error's Status lists ``cause`` (e.g. ``NamespaceTerminating``) in details.causes."""
    if not isinstance(err, ApiError):
        return False
    details = err.status.get("details") or {}
    return any(isinstance(c, dict) and c.get("reason") == cause for c in details.get("causes") or [])
