"""Typed envelopes for API objects.

Objects stay plain dicts (parsed JSON); these TypedDicts only name the envelope so that signatures
say what they carry. ``GroupVersionKind``/``GroupVersionResource`` identify types and resources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NewType, TypedDict

Object = dict[str, Any]
ObjectKey = NewType("ObjectKey", str)  # "ns/name", or "name" for cluster-scoped objects


class ObjectMeta(TypedDict, total=False):
    name: str
    generateName: str
    namespace: str
    uid: str
    resourceVersion: str
    generation: int
    creationTimestamp: str
    deletionTimestamp: str
    deletionGracePeriodSeconds: int
    labels: dict[str, str]
    annotations: dict[str, str]
    ownerReferences: list[dict[str, Any]]
    finalizers: list[str]
    managedFields: list[dict[str, Any]]


class WatchEvent(TypedDict):
    type: str  # ADDED | MODIFIED | DELETED | BOOKMARK | ERROR
    object: Object


@dataclass(frozen=True, slots=True)
class GroupVersionKind:
    group: str
    version: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


@dataclass(frozen=True, slots=True)
class GroupVersionResource:
    group: str
    version: str
    resource: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


def split_api_version(api_version: str) -> tuple[str, str]:
    """``apps/v1`` → (``apps``, ``v1``); ``v1`` → (``""``, ``v1``)."""
    if "/" in api_version:
        group, _, version = api_version.partition("/")
        return group, version
    return "", api_version


def meta(obj: Object) -> dict[str, Any]:
    """The object's metadata, created if absent (for writers)."""
    m = obj.get("metadata")
    if not isinstance(m, dict):
        m = obj["metadata"] = {}
    return m


def object_key(namespace: str | None, name: str) -> ObjectKey:
    return ObjectKey(f"{namespace}/{name}" if namespace else name)
