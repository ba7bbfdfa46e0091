"""Small helpers shared by the kind tests: messages of a validation and a fixed clock."""

from __future__ import annotations

from typing import Any

from kybernetes.api import printing
from kybernetes.api.errors import FieldError
from kybernetes.api.strategy import WriteContext

CTX = WriteContext()
CREATED = "2026-01-01T00:00:00Z"
#: one hour after CREATED
NOW = (printing.parse_time(CREATED) or 0.0) + 3600


def messages(errs: list[FieldError]) -> list[str]:
    return [e.message() for e in errs]


def meta(name: str, namespace: str | None = None, **extra: Any) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "creationTimestamp": CREATED, **extra}
    if namespace:
        md["namespace"] = namespace
    return md
